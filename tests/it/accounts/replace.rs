//! Saving onto an alias in use is refused unless replacing is asked for (CLI `--replace`,
//! protocol `replace: true`), and an oversize credential on stdin is refused, never cut.

use crate::common::*;
use serde_json::{json, Value};

const OLD: &str = "sk-test-old-work-FAKE";
const NEW: &str = "sk-test-new-work-FAKE";
const MIB: usize = 1024 * 1024;

/// The bearer header the account `alias` of openai would send (it is made active first).
fn bearer(store: &std::path::Path, alias: &str) -> String {
    let mut s = Sidecar::start(store);
    s.call("accounts.activate", json!({"providerID": "openai", "alias": alias}));
    let id = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "openai", "modelID": "m"}),
    )["requestID"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/v1/chat/completions", "method": "POST",
               "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(r["account"]["alias"], alias, "{r}");
    r["setHeaders"]["authorization"].as_str().unwrap().to_string()
}

fn aliases(store: &std::path::Path) -> Vec<String> {
    let list: Value = serde_json::from_str(&cli_ok(store, &["accounts", "list", "--json"], None)).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["alias"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn accounts_add_onto_an_alias_in_use_is_refused_and_keeps_the_old_credential() {
    let (_d, store) = temp_store();
    cli_ok(&store, &["accounts", "add", "openai", "work"], Some(OLD));
    let out = cli(&store, &["accounts", "add", "openai", "Work "], Some(NEW));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("account openai/work already exists"), "{err}");
    assert!(err.contains("--replace"), "the message says how to replace: {err}");
    assert!(!err.contains(NEW) && !err.contains("Work "), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("saved"));
    assert_eq!(aliases(&store), ["work"]);
    assert_eq!(bearer(&store, "work"), format!("Bearer {OLD}"));
}

#[test]
fn accounts_add_with_replace_replaces_the_credential() {
    let (_d, store) = temp_store();
    cli_ok(&store, &["accounts", "add", "openai", "work"], Some(OLD));
    cli_ok(&store, &["accounts", "add", "openai", "Work ", "--replace"], Some(NEW));
    assert_eq!(aliases(&store), ["work"]);
    assert_eq!(bearer(&store, "work"), format!("Bearer {NEW}"));
}

#[test]
fn protocol_accounts_save_refuses_an_alias_in_use_with_32002_unless_replace() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "work", OLD);
    let save = |replace: Option<bool>| {
        let mut p = json!({"providerID": "openai", "alias": " WORK", "auth": {"type": "api", "key": NEW}});
        if let Some(r) = replace {
            p["replace"] = json!(r);
        }
        p
    };
    for params in [save(None), save(Some(false))] {
        let e = s.call_err("accounts.save", params);
        assert_eq!(e["code"], -32002, "{e}");
        assert_eq!(e["message"], "account openai/work already exists");
        assert_eq!(e["data"], json!({"providerID": "openai", "alias": "work"}));
    }
    drop(s);
    assert_eq!(bearer(&store, "work"), format!("Bearer {OLD}"));
    let mut s = Sidecar::start(&store);
    let v = s.call("accounts.save", save(Some(true)));
    assert_eq!(v["alias"], "work");
    drop(s);
    assert_eq!(bearer(&store, "work"), format!("Bearer {NEW}"));
}

#[test]
fn pending_save_onto_an_alias_in_use_is_refused_and_the_login_stays_pending() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "work", OLD);
    s.call("settings.set", json!({"key": "autoSave", "value": false}));
    let file = auth_file(&store);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        file.with_extension("tmp"),
        json!({"openai": {"type": "api", "key": NEW}}).to_string(),
    )
    .unwrap();
    std::fs::rename(file.with_extension("tmp"), &file).unwrap();
    let n = s.wait_notification(|n| n["params"]["type"] == "pending_connection_captured");
    let id = n["params"]["metadata"]["id"].as_str().unwrap().to_string();

    let e = s.call_err("pending.save", json!({"id": id, "alias": "Work"}));
    assert_eq!(e["code"], -32002, "{e}");
    assert_eq!(e["data"], json!({"providerID": "openai", "alias": "work"}));
    assert_eq!(s.call("pending.list", json!({})).as_array().unwrap().len(), 1);
    drop(s);
    assert_eq!(bearer(&store, "work"), format!("Bearer {OLD}"));

    let out = cli(&store, &["pending", "save", &id, "work"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    cli_ok(&store, &["pending", "save", &id, "work", "--replace"], None);
    assert_eq!(bearer(&store, "work"), format!("Bearer {NEW}"));
    assert_eq!(cli_ok(&store, &["pending", "list", "--json"], None).trim(), "[]");
}

#[test]
fn a_credential_over_1_mib_on_stdin_is_refused_and_nothing_is_saved() {
    let (_d, store) = temp_store();
    let key = format!("sk-test-{}", "x".repeat(MIB + 1 - "sk-test-".len()));
    assert_eq!(key.len(), MIB + 1);
    let out = cli(&store, &["accounts", "add", "openai", "big"], Some(&key));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than 1 MiB"), "{err}");
    assert!(!err.contains("xxxxxxxx"), "no part of the input comes back");
    assert!(aliases(&store).is_empty());
}

#[test]
fn a_credential_of_exactly_1_mib_is_accepted_whole() {
    let (_d, store) = temp_store();
    let key = format!("sk-test-{}", "x".repeat(MIB - "sk-test-".len()));
    assert_eq!(key.len(), MIB);
    cli_ok(&store, &["accounts", "add", "openai", "big"], Some(&key));
    assert_eq!(bearer(&store, "big"), format!("Bearer {key}"));
}
