//! `serve --no-background`, the TUI plugin's own sidecar: it answers every method, watches no
//! logins, and pushes `store.changed` when another process (the CLI, another sidecar) commits.

use std::fs;

use crate::common::*;
use serde_json::{json, Value};

fn client_only(store: &std::path::Path) -> Sidecar {
    Sidecar::start_with(
        store,
        Options {
            log: "warn",
            serve_args: vec!["--no-background"],
            ..Options::default()
        },
    )
}

#[test]
fn a_client_only_sidecar_is_told_when_the_cli_changes_the_store_and_then_answers_the_change() {
    let (_d, store) = temp_store();
    let mut s = client_only(&store);
    s.save_api("p", "a", "sk-a-FAKE");
    s.save_api("p", "b", "sk-b-FAKE");
    assert_eq!(s.account("p", "b")["active"], true);

    cli_ok(&store, &["accounts", "use", "p", "a"], None);
    let note = s.wait_notification(|n| n["method"] == "store.changed");
    assert_eq!(note["params"], json!({}));
    assert_eq!(s.account("p", "a")["active"], true, "the CLI's activation is seen");

    cli_ok(&store, &["balancing", "on"], None);
    s.wait_notification(|n| n["method"] == "store.changed");
    assert_eq!(s.call("balancing.get", json!({}))["enabled"], true);
}

#[test]
fn a_client_only_sidecar_does_not_capture_the_login_in_auth_json() {
    let (_d, store) = temp_store();
    let auth = auth_file(&store);
    fs::create_dir_all(auth.parent().unwrap()).unwrap();
    fs::write(&auth, json!({"p": {"type": "api", "key": "sk-login-FAKE"}}).to_string()).unwrap();
    let mut s = client_only(&store);
    s.call("status", json!({}));
    // Long enough for a watcher to have read the file: another process's commit seen since.
    cli_ok(&store, &["config", "set", "failover", "false"], None);
    s.wait_notification(|n| n["method"] == "store.changed");
    let accounts: Value = s.call("accounts.list", json!({}));
    assert_eq!(accounts, json!([]), "no login captured");
    assert_eq!(s.call("pending.list", json!({})), json!([]));
}

#[test]
fn a_client_only_sidecar_lists_the_credentials_opencode_2_holds_when_it_starts() {
    let (_d, store) = temp_store();
    let dir = data_home(&store).join("opencode");
    fs::create_dir_all(&dir).unwrap();
    let value = r#"{"type":"key","key":"sk-tui-FAKE"}"#;
    opencode_balancer::opencode2::fixture::write_credentials(
        &dir.join("opencode.db"),
        &[
            ("cred_a", "mock", "alpha", value, true),
            ("cred_b", "mock", "bravo", value, false),
        ],
    )
    .unwrap();
    let mut s = client_only(&store);
    let accounts: Value = s.call("accounts.list", json!({}));
    let names: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["owner"] == "opencode2")
        .map(|a| a["alias"].as_str().or(a["name"].as_str()).unwrap_or(""))
        .collect();
    assert_eq!(names.len(), 2, "{accounts}");
    assert!(!accounts.to_string().contains("sk-tui-FAKE"));
}
