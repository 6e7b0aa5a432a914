//! opencode 2's own credentials as accounts (issue 32): `serve` mirrors the credential table of
//! `opencode.db` (read-only, no secret) as accounts owned by opencode 2, follows additions,
//! removals and renames as they are written, and the CLI shows them with no `serve` running.

use std::path::{Path, PathBuf};

use crate::common::*;
use opencode_balancer::opencode2::fixture::{write_credentials, Row};
use serde_json::{json, Value};

const SECRET_A: &str = "sk-FAKE-opencode2-alpha-0001";
const SECRET_B: &str = "sk-FAKE-opencode2-bravo-0002";

fn key(secret: &str) -> String {
    format!(r#"{{"type":"key","key":"{secret}"}}"#)
}

fn db(store: &Path) -> PathBuf {
    let dir = data_home(store).join("opencode");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("opencode.db")
}

fn two(store: &Path) {
    let (a, b) = (key(SECRET_A), key(SECRET_B));
    let rows: [Row; 2] = [
        ("cred_a", "mock", "alpha", &a, true),
        ("cred_b", "mock", "bravo", &b, false),
    ];
    write_credentials(&db(store), &rows).unwrap();
}

fn summary(list: &Value) -> Vec<(String, String, String, bool)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["alias"].as_str().unwrap().to_string(),
                a["owner"].as_str().unwrap_or("-").to_string(),
                a["credentialID"].as_str().unwrap_or("-").to_string(),
                a["active"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn row(alias: &str, owner: &str, id: &str, active: bool) -> (String, String, String, bool) {
    (alias.into(), owner.into(), id.into(), active)
}

#[test]
fn accounts_list_shows_opencode_2s_credentials_with_their_owner_without_serve() {
    let (_d, store) = temp_store();
    two(&store);
    let text = cli_ok(&store, &["accounts", "list"], None);
    assert!(
        text.contains("alpha") && text.contains("owned by opencode2 (cred_a)"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&cli_ok(&store, &["accounts", "list", "--json"], None)).unwrap();
    assert_eq!(
        summary(&json),
        [
            row("alpha", "opencode2", "cred_a", true),
            row("bravo", "opencode2", "cred_b", false)
        ]
    );
    for out in [&text, &json.to_string()] {
        assert!(!out.contains(SECRET_A) && !out.contains(SECRET_B), "{out}");
    }
    // Removed in opencode 2: gone at the next command.
    let a = key(SECRET_A);
    write_credentials(&db(&store), &[("cred_a", "mock", "alpha", &a, true)]).unwrap();
    let json: Value = serde_json::from_str(&cli_ok(&store, &["accounts", "list", "--json"], None)).unwrap();
    assert_eq!(summary(&json), [row("alpha", "opencode2", "cred_a", true)]);
}

#[test]
fn a_database_of_another_shape_is_named_by_accounts_list_and_changes_nothing() {
    let (_d, store) = temp_store();
    two(&store);
    cli_ok(&store, &["accounts", "list"], None);
    let path = db(&store);
    std::fs::remove_file(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE session_v2 (id TEXT); CREATE TABLE credential (id TEXT, label TEXT)")
        .unwrap();
    let out = cli(&store, &["accounts", "list", "--json"], None);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not of the shape this version reads") && stderr.contains("no column `integration_id`"),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary(&json).len(), 2, "the last good mirror stays");
}

#[test]
fn use_remove_and_rename_of_an_opencode_2_account_say_where_to_do_it_and_change_nothing() {
    let (_d, store) = temp_store();
    two(&store);
    for (args, says) in [
        (["accounts", "use", "mock", "bravo"], "opencode auth switch mock cred_b"),
        (
            ["accounts", "remove", "mock", "bravo"],
            "opencode auth logout mock cred_b",
        ),
        (["accounts", "rename", "mock", "bravo"], "rename it in opencode 2"),
    ] {
        let mut args = args.to_vec();
        if args[1] == "rename" {
            args.push("other");
        }
        let out = cli(&store, &args, None);
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(says) && stderr.contains("nothing was changed"),
            "{args:?}: {stderr}"
        );
    }
    let json: Value = serde_json::from_str(&cli_ok(&store, &["accounts", "list", "--json"], None)).unwrap();
    assert_eq!(
        summary(&json),
        [
            row("alpha", "opencode2", "cred_a", true),
            row("bravo", "opencode2", "cred_b", false)
        ]
    );
}

#[test]
fn serve_follows_credentials_added_removed_and_renamed_in_opencode_2() {
    let (_d, store) = temp_store();
    two(&store);
    let mut s = Sidecar::start(&store);
    eventually("both mirrored", || {
        s.call("accounts.list", json!({})).as_array().unwrap().len() == 2
    });
    let (a, b, c) = (key(SECRET_A), key(SECRET_B), key("sk-FAKE-opencode2-charlie"));
    // Added.
    let rows: [Row; 3] = [
        ("cred_a", "mock", "alpha", &a, true),
        ("cred_b", "mock", "bravo", &b, false),
        ("cred_c", "mock", "charlie", &c, false),
    ];
    write_credentials(&db(&store), &rows).unwrap();
    s.wait_notification(|n| n["params"]["type"] == "account_saved" && n["params"]["alias"] == "charlie");
    // A cooldown on bravo, then bravo renamed and alpha removed.
    s.call(
        "accounts.setDisabled",
        json!({"providerID": "mock", "alias": "bravo", "disabled": true}),
    );
    let rows: [Row; 2] = [
        ("cred_b", "mock", "Bravo Renamed", &b, false),
        ("cred_c", "mock", "charlie", &c, false),
    ];
    write_credentials(&db(&store), &rows).unwrap();
    s.wait_notification(|n| n["params"]["type"] == "account_removed" && n["params"]["alias"] == "alpha");
    s.wait_notification(|n| n["params"]["type"] == "account_renamed" && n["params"]["alias"] == "bravo-renamed");
    let list = s.call("accounts.list", json!({}));
    let renamed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["credentialID"] == "cred_b")
        .unwrap();
    assert_eq!(
        (renamed["alias"].as_str(), renamed["disabled"].as_bool()),
        (Some("bravo-renamed"), Some(true))
    );
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let events = s.call("events.list", json!({"limit": 100}));
    for text in [list.to_string(), events.to_string()] {
        assert!(!text.contains("sk-FAKE-opencode2"), "{text}");
    }
}

#[test]
fn the_token_keeper_never_refreshes_an_expired_opencode_2_oauth_credential_even_after_a_401() {
    use opencode_balancer::tokens::providers::fake_server::{FakeTokenServer, Family};
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    // Ours, as the control: a Claude login due for a refresh at T0 + 8 h - 5 min.
    server.set_now(T0);
    let ours = server.mint("max", Family::claude());
    let due = T0 + 8 * 3_600_000 - 5 * 60_000;
    server.set_now(due);
    // opencode 2's: a ChatGPT login long expired.
    let v2 = r#"{"type":"oauth","methodID":"chatgpt","access":"at-FAKE-v2","refresh":"rt-FAKE-v2","expires":1}"#;
    write_credentials(&db(&store), &[("cred_o", "openai", "v2 login", v2, true)]).unwrap();
    let env = vec![
        ("OPENCODE_BALANCER_CLAUDE_TOKEN_URL".to_string(), server.claude_url()),
        ("OPENCODE_BALANCER_CHATGPT_ISSUER_URL".to_string(), server.url()),
        ("OPENCODE_BALANCER_TOKEN_TIMEOUT_MS".to_string(), "5000".to_string()),
    ];
    let mut s = Sidecar::start_with(
        &store,
        Options {
            env,
            ..Options::default()
        },
    );
    eventually("opencode 2's login mirrored", || {
        s.call("accounts.list", json!({"providerID": "openai"}))
            .as_array()
            .map(Vec::len)
            == Some(1)
    });
    s.call(
        "accounts.save",
        json!({"providerID": "anthropic", "alias": "max", "auth": ours}),
    );
    s.call("test.advanceClock", json!({"ms": due - T0}));
    eventually("ours was refreshed: the keeper ran", || server.refreshes("max") >= 1);
    // A 401 on opencode 2's login asks no token endpoint either.
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s1", "providerID": "openai", "modelID": "m1"}),
    );
    let id = h["requestID"].as_str().expect("a managed provider").to_string();
    let b = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/v1/responses", "method": "POST",
               "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(b["credential"], json!({"id": "cred_o", "provider": "openai"}), "{b}");
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 401, "headers": {}}),
    );
    assert_ne!(r["action"], "retry", "{r}");
    s.call("test.advanceClock", json!({"ms": 24 * 3_600_000}));
    // The keeper ran after the advance (ours is due again), so a refresh it wrongly made of
    // opencode 2's login would be in by now.
    eventually("ours refreshed again: the keeper ran after the advance", || {
        server.refreshes("max") >= 2
    });
    assert_eq!(
        server.requests(),
        server.family_requests("max"),
        "only our own login reached the token endpoint"
    );
}

#[test]
fn usage_is_read_with_a_lent_secret_which_never_reaches_events_logs_the_list_or_the_store() {
    use opencode_balancer::usage::fake_server::{FakeReply, FakeUsageServer};
    const LENT: &str = "sk-FAKE-lent-by-the-plugin-7777777777";
    const ORG_USAGE: &str = "/v1/organization/usage/completions";
    let server = FakeUsageServer::start().unwrap();
    // The endpoint echoes the credential it was sent.
    server.route(
        ORG_USAGE,
        FakeReply::json(r#"{"object":"page","data":[],"echo":"{{authorization}}"}"#),
    );
    let (_d, store) = temp_store();
    let value = r#"{"type":"key","key":"sk-FAKE-in-opencode2-db"}"#;
    write_credentials(&db(&store), &[("cred_k", "openai", "work", value, true)]).unwrap();
    let env = vec![
        ("OPENCODE_BALANCER_OPENAI_URL".to_string(), server.url()),
        ("OPENCODE_BALANCER_USAGE_TIMEOUT_MS".to_string(), "2000".to_string()),
    ];
    let mut s = Sidecar::start_with(
        &store,
        Options {
            env,
            ..Options::default()
        },
    );
    s.call("settings.set", json!({"key": "usageEnabled", "value": false}));
    eventually("mirrored", || {
        s.call("accounts.list", json!({})).as_array().map(Vec::len) == Some(1)
    });
    let before = s.call("usage.refresh", json!({"providerID": "openai", "alias": "work"}));
    assert!(
        before.to_string().contains("lends it"),
        "not readable before a lend: {before}"
    );
    assert_eq!(server.count(ORG_USAGE), 0);
    let lend = json!({"jsonrpc": "2.0", "method": "credentials.lend",
        "params": {"provider": "openai", "credentialID": "cred_k", "secret": {"type": "key", "key": LENT}}});
    s.send_raw(format!("{lend}\n").as_bytes());
    eventually("usage read with the lent secret", || {
        s.call("usage.refresh", json!({"providerID": "openai", "alias": "work"}));
        server.count(ORG_USAGE) > 0
    });
    let sent = server.seen().into_iter().find(|r| r.path == ORG_USAGE).unwrap();
    assert_eq!(
        sent.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {LENT}").as_str())
    );
    let mut outputs = vec![
        s.call("accounts.list", json!({})).to_string(),
        s.call("events.list", json!({"limit": 1000})).to_string(),
        s.call("usage.list", json!({})).to_string(),
    ];
    outputs.extend(s.seen.iter().cloned());
    s.call("shutdown", json!({}));
    outputs.push(std::fs::read_to_string(&s.stderr_path).unwrap());
    outputs.push(cli_ok(&store, &["accounts", "list", "--json"], None));
    outputs.push(String::from_utf8_lossy(&std::fs::read(&store).unwrap()).into_owned());
    for out in &outputs {
        assert!(!out.contains(LENT), "the lent secret escaped: {out}");
        assert!(
            !out.contains("sk-FAKE-in-opencode2-db"),
            "opencode 2's secret was read: {out}"
        );
    }
}

#[test]
fn doctor_reports_opencode_2s_credential_source_absent_found_and_of_another_shape() {
    let home = tempfile::tempdir().unwrap();
    let doctor = || {
        let out = std::process::Command::new(BIN)
            .arg("doctor")
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env_remove("OPENCODE_CONFIG_DIR")
            .env_remove("OPENCODE_BALANCER_STORE")
            .env_remove("OPENCODE_AUTH_CONTENT")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        doctor().contains("ok    no opencode 2 credential database"),
        "{}",
        doctor()
    );
    let path = home.path().join("data/opencode/opencode.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (a, b) = (key(SECRET_A), key(SECRET_B));
    write_credentials(
        &path,
        &[
            ("cred_a", "mock", "alpha", &a, true),
            ("cred_b", "mock", "bravo", &b, false),
        ],
    )
    .unwrap();
    let text = doctor();
    assert!(text.contains("are readable: 2 credentials of 1 providers"), "{text}");
    assert!(!text.contains(SECRET_A), "{text}");
    std::fs::remove_file(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE session_v2 (id TEXT)")
        .unwrap();
    let text = doctor();
    assert!(
        text.contains("FAIL  opencode 2's database") && text.contains("has no table `credential`"),
        "{text}"
    );
}
