//! Text from outside never reaches the terminal raw, through the real binary: a usage endpoint's
//! plan name and a stored model id or event message holding ESC/OSC/CSI/BEL/bidi overrides are
//! printed escaped by `usage`, `events`, `priority list` (text and `--json`) and `/balancer`
//! (`command.run`); a model id with such characters is refused at `priority.setModel` and
//! `priority model`, changing nothing.

use std::path::Path;

use crate::common::*;
use opencode_balancer::usage::fake_server::{FakeReply, FakeUsageServer};
use serde_json::{json, Value};

/// Retitles the window (OSC 0 … BEL), clears the screen (CSI 2J, 7-bit and the C1 0x9b form),
/// and reverses what follows (U+202E), with an isolate and DEL.
const HOSTILE: &str = "Pro\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}2J\u{202e}txt.exe\u{2066}\u{7f}";

/// What must never be in output: ESC, BEL, DEL, C1 CSI/OSC, the bidi override and isolate.
fn assert_no_raw_controls(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for bad in ['\u{1b}', '\u{7}', '\u{7f}', '\u{9b}', '\u{9d}', '\u{202e}', '\u{2066}'] {
        assert!(!text.contains(bad), "{what}: raw {:?} in {text:?}", bad);
    }
}

fn ok(what: &str, store: &Path, args: &[&str], env: &[(String, String)]) -> String {
    let out = cli_with(store, args, None, env);
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    assert_no_raw_controls(what, &out.stdout);
    assert_no_raw_controls(what, &out.stderr);
    String::from_utf8(out.stdout).unwrap()
}

/// A temporary store with one API-key account, openai/home.
fn store_with_account(key: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, store) = temp_store();
    cli_ok(&store, &["accounts", "add", "openai", "home"], Some(key));
    (dir, store)
}

#[test]
fn a_hostile_plan_name_from_a_usage_endpoint_is_shown_escaped_by_usage_and_events() {
    let server = FakeUsageServer::start().unwrap();
    let body = json!({
        "plan_type": HOSTILE,
        "rate_limit": {"primary_window": {"used_percent": 42, "limit_window_seconds": 18000, "reset_at": 1700003600}}
    });
    server.route("/backend-api/wham/usage", FakeReply::json(body.to_string()));
    let env: Vec<(String, String)> = [
        ("OPENCODE_BALANCER_CHATGPT_URL", server.url()),
        ("OPENCODE_BALANCER_USAGE_TIMEOUT_MS", "2000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (_d, store) = temp_store();
    cli_ok_with(
        &store,
        &["accounts", "add", "openai", "plan"],
        Some(
            r#"{"type":"oauth","access":"at-FAKE-display-0001","refresh":"rt-FAKE-display-0001","expires":1,"accountId":"acct-fake-1"}"#,
        ),
        &env,
    );
    let refreshed = ok("usage --refresh", &store, &["usage", "--refresh"], &env);
    assert!(
        refreshed.contains("Pro\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}2J\\u{202e}txt.exe"),
        "{refreshed}"
    );
    let text = ok("usage", &store, &["usage"], &env);
    assert!(text.contains("\\u{202e}txt.exe\\u{2066}\\u{7f}"), "{text}");
    let json: Value = serde_json::from_str(&ok("usage --json", &store, &["usage", "--json"], &env)).unwrap();
    assert_eq!(json[0]["planName"], HOSTILE, "JSON keeps the value, escaped: {json}");
    ok("events", &store, &["events", "--limit", "100"], &env);
    ok("events --json", &store, &["events", "--json"], &env);
    ok("accounts list", &store, &["accounts", "list"], &env);
}

#[test]
fn a_stored_model_id_and_event_message_are_printed_escaped_by_priority_list_and_events() {
    let (_d, store) = store_with_account("sk-FAKE-display-0002");
    // What an older version or another writer may have left in the store.
    let db = rusqlite::Connection::open(&store).unwrap();
    db.execute("UPDATE provider_priority SET model_id = ?1", [HOSTILE])
        .unwrap();
    db.execute(
        "INSERT INTO events (type, provider_id, message, metadata_json, created_at) VALUES ('usage_error', 'openai', ?1, '{}', ?2)",
        rusqlite::params![HOSTILE, T0],
    )
    .unwrap();
    drop(db);
    let list = ok("priority list", &store, &["priority", "list"], &[]);
    assert!(list.contains("model: Pro\\u{1b}]0;pwned\\u{7}"), "{list}");
    let json: Value = serde_json::from_str(&ok(
        "priority list --json",
        &store,
        &["priority", "list", "--json"],
        &[],
    ))
    .unwrap();
    assert_eq!(json[0]["modelID"], HOSTILE);
    let mut s = Sidecar::start(&store);
    for text in ["priority", "events"] {
        let out = s.call("command.run", json!({"text": text}))["output"]
            .as_str()
            .unwrap()
            .to_string();
        assert_no_raw_controls(&format!("/balancer {text}"), out.as_bytes());
        assert!(out.contains("Pro\\u{1b}]0;pwned"), "{out}");
    }
    drop(s);
    let events = ok("events", &store, &["events"], &[]);
    assert!(events.contains("\\u{1b}[2J\\u{9b}2J\\u{202e}txt.exe"), "{events}");
    let json: Value = serde_json::from_str(&ok("events --json", &store, &["events", "--json"], &[])).unwrap();
    assert_eq!(json[0]["message"], HOSTILE);
}

#[test]
fn a_model_id_with_control_or_bidi_characters_is_refused_and_nothing_changes() {
    let (_d, store) = store_with_account("sk-FAKE-display-0003");
    cli_ok(&store, &["priority", "model", "openai", "gpt-5"], None);
    let before = cli_ok(&store, &["priority", "list", "--json"], None);
    for bad in [
        HOSTILE,
        "gpt\u{1b}[31m",
        "gpt\u{202e}5",
        "gpt\u{9b}2J",
        "gpt\u{200f}",
        "gpt\n5",
    ] {
        let out = cli(&store, &["priority", "model", "openai", bad], None);
        assert!(!out.status.success(), "{bad:?}");
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            why.contains("invalid model id") && why.contains("nothing was changed"),
            "{why}"
        );
        assert_no_raw_controls("priority model", &out.stderr);
    }
    assert_eq!(cli_ok(&store, &["priority", "list", "--json"], None), before);

    let mut s = Sidecar::start(&store);
    for bad in [HOSTILE, "a\u{2066}b", "a\u{61c}b"] {
        let e = s.call_err("priority.setModel", json!({"providerID": "openai", "modelID": bad}));
        assert_eq!(e["code"], -32602, "{e}");
        assert!(!e["message"].as_str().unwrap().contains(bad), "{e}");
    }
    assert_eq!(s.call("priority.list", json!({}))[0]["modelID"], "gpt-5");
    let kinds = s.call("events.list", json!({"limit": 100}));
    let changed = kinds
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "priority_changed")
        .count();
    assert_eq!(changed, 1, "only the good model was set: {kinds}");
}
