//! Several processes on one store, and secrets: what one process commits the other sees without
//! a restart; no credential ever reaches a listing, an event, a notification or a log.

use crate::common::*;
use serde_json::{json, Value};

const SECRET_API: &str = "sk-test-SECRETVALUE-api-0123456789";
const SECRET_ACCESS: &str = "at-test-SECRETVALUE-access-987654321";
const SECRET_REFRESH: &str = "rt-test-SECRETVALUE-refresh-55555555";

#[test]
fn the_cli_sees_an_account_saved_through_a_running_sidecar() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "from-sidecar", "sk-test-x-FAKE");
    let out = cli_ok(&store, &["accounts", "list", "--json"], None);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["alias"], "from-sidecar");
}

#[test]
fn the_sidecar_sees_an_account_added_by_the_cli_without_a_restart() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    assert_eq!(s.call("status", json!({}))["accounts"], 0);
    cli_ok(
        &store,
        &["accounts", "add", "anthropic", "From CLI"],
        Some("sk-test-cli-FAKE\n"),
    );
    // The hot path catches up by itself (within its 50 ms sync), before any management call.
    eventually("the hot path manages the new provider", || {
        s.call(
            "chat.headers",
            json!({"sessionID": "s", "providerID": "anthropic", "modelID": "m"}),
        )["requestID"]
            .is_string()
    });
    let list = s.call("accounts.list", json!({}));
    assert_eq!(list[0]["alias"], "from-cli");
    cli_ok(&store, &["config", "set", "strategy", "lru"], None);
    assert_eq!(s.call("settings.get", json!({}))["strategy"], "lru");
}

#[test]
fn cli_errors_go_to_stderr_with_a_non_zero_exit_and_change_nothing() {
    let (_d, store) = temp_store();
    cli_ok(
        &store,
        &["accounts", "add", "p", "a", "--force"],
        Some(r#"{"type":"api","key":"sk-test-a-FAKE"}"#),
    );
    for (args, stdin) in [
        (vec!["accounts", "add", "p", "b"], Some("")),
        (
            vec!["accounts", "add", "p", "b"],
            Some(r#"{"type":"nope","key":"sk-test-LEAK-FAKE"}"#),
        ),
        (vec!["accounts", "rename", "p", "ghost", "x"], None),
        (vec!["accounts", "add", "p", "!!!"], Some("sk-test-c-FAKE")),
        (vec!["config", "set", "maxAttempts", "99"], None),
        (vec!["priority", "move", "nope", "up"], None),
    ] {
        let out = cli(&store, &args, stdin);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("LEAK"), "{err}");
    }
    let list: Value = serde_json::from_str(&cli_ok(&store, &["accounts", "list", "--json"], None)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(cli_ok(&store, &["config", "get", "maxAttempts"], None).trim(), "3");
}

#[test]
fn the_cli_covers_accounts_priority_balancing_and_events() {
    let (_d, store) = temp_store();
    cli_ok(&store, &["accounts", "add", "openai", "one"], Some("sk-test-1-FAKE"));
    cli_ok(&store, &["accounts", "add", "openai", "two"], Some("sk-test-2-FAKE"));
    cli_ok(&store, &["accounts", "add", "anthropic", "max"], Some("sk-test-3-FAKE"));
    assert!(cli_ok(&store, &["accounts", "use", "openai", "one"], None).contains("active"));
    cli_ok(&store, &["accounts", "disable", "openai", "two"], None);
    cli_ok(&store, &["accounts", "rename", "openai", "two", "spare"], None);
    let text = cli_ok(&store, &["accounts", "list"], None);
    assert!(
        text.contains("* one") && text.contains("spare") && text.contains("disabled"),
        "{text}"
    );
    cli_ok(&store, &["accounts", "enable", "openai", "spare"], None);
    cli_ok(&store, &["accounts", "remove", "openai", "spare"], None);
    cli_ok(&store, &["priority", "model", "anthropic", "claude-sonnet-4"], None);
    cli_ok(&store, &["priority", "move", "anthropic", "up"], None);
    cli_ok(&store, &["priority", "disable", "openai"], None);
    let p: Value = serde_json::from_str(&cli_ok(&store, &["priority", "list", "--json"], None)).unwrap();
    assert_eq!(p[0]["providerID"], "anthropic");
    assert_eq!(p[1]["enabled"], false);
    assert_eq!(cli_ok(&store, &["balancing", "on"], None).trim(), "balancing on");
    assert_eq!(cli_ok(&store, &["balancing", "status"], None).trim(), "balancing on");
    let st: Value = serde_json::from_str(&cli_ok(&store, &["status", "--json"], None)).unwrap();
    assert_eq!(
        (st["accounts"].clone(), st["balancing"].clone()),
        (json!(2), json!(true))
    );
    let ev: Value = serde_json::from_str(&cli_ok(&store, &["events", "--limit", "3", "--json"], None)).unwrap();
    assert_eq!(ev.as_array().unwrap().len(), 3);
    assert_eq!(ev[0]["type"], "balancing_changed", "newest first");
    let text = cli_ok(&store, &["events", "--type", "account_removed"], None);
    assert!(text.contains("spare removed"), "{text}");
}

#[test]
fn no_credential_appears_in_listings_events_notifications_or_trace_logs() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "key", SECRET_API);
    s.call(
        "accounts.save",
        json!({"providerID": "openai", "alias": "plan", "auth": {"type": "oauth", "access": SECRET_ACCESS, "refresh": SECRET_REFRESH, "expires": 1}}),
    );
    // Exercise the hot path, a failover and errors that could echo input.
    let id = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "openai", "modelID": "m"}),
    )["requestID"]
        .as_str()
        .unwrap()
        .to_string();
    s.call(
        "fetch.begin",
        json!({"requestID": id, "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {}, "body": "{}"}),
    );
    s.call_err(
        "accounts.save",
        json!({"providerID": "openai", "alias": "x", "auth": {"type": "api", "key": SECRET_API}}),
    );
    s.call_err(
        "accounts.save",
        json!({"providerID": "openai", "alias": "y", "auth": {"type": "api", "key": 5, "junk": SECRET_API}}),
    );
    s.call_err(
        "accounts.save",
        json!({"providerID": "openai", "alias": "y", "auth": SECRET_API}),
    );
    let mut visible = vec![
        s.call("accounts.list", json!({})).to_string(),
        s.call("events.list", json!({"limit": 1000})).to_string(),
        s.call("status", json!({})).to_string(),
        s.call("command.run", json!({"text": "list"})).to_string(),
        s.call("command.run", json!({"text": "events"})).to_string(),
    ];
    let stdout_lines = {
        let (_, _, lines, stderr) = s.finish();
        visible.push(stderr);
        lines
    };
    // What the hot path hands the host on purpose (setHeaders, syncAuth) is the only place a
    // credential may travel; every other line must be clean.
    for line in &stdout_lines {
        let v: Value = serde_json::from_str(line).unwrap();
        let carries_credential = v["result"].get("setHeaders").is_some() || v["result"].get("syncAuth").is_some();
        if !carries_credential {
            visible.push(line.clone());
        }
    }
    visible.push(cli_ok(&store, &["accounts", "list", "--json"], None));
    visible.push(cli_ok(&store, &["events", "--json", "--limit", "1000"], None));
    for text in &visible {
        for secret in [SECRET_API, SECRET_ACCESS, SECRET_REFRESH] {
            assert!(!text.contains(&secret[..16]), "a credential leaked into: {text}");
        }
    }
}

#[test]
fn sidecars_creating_a_new_store_at_the_same_moment_all_open_it() {
    for _ in 0..10 {
        let (_d, store) = temp_store();
        let mut all: Vec<Sidecar> = (0..4).map(|_| Sidecar::start(&store)).collect();
        for s in &mut all {
            let listed = s.request("accounts.list", json!({}));
            assert_eq!(listed["result"], json!([]), "{listed}");
        }
    }
}

#[test]
fn logs_written_to_a_file_or_pipe_carry_no_colour_codes() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "work", "sk-test-fake-colour");
    let (_, _, _, stderr) = s.finish();
    assert!(stderr.contains("sidecar ready"), "trace logs were written: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no escape byte in logs: {stderr:?}");
}

/// One CLI commit, then no traffic at all for 200 ms (four times the 50 ms bound, for a loaded
/// machine), then one hot-path call that answers from memory only: it must already see the new
/// provider, so the sidecar picked the commit up by itself.
fn a_commit_by_another_process_steers_the_hot_path_with_no_traffic_in_between(env: Vec<(String, String)>) {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start_with(
        &store,
        Options {
            env,
            ..Options::default()
        },
    );
    assert_eq!(s.call("status", json!({}))["accounts"], 0);
    cli_ok(
        &store,
        &["accounts", "add", "anthropic", "quiet"],
        Some("sk-test-quiet-FAKE\n"),
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "anthropic", "modelID": "m"}),
    );
    assert!(h["requestID"].is_string(), "not picked up: {h}");
}

#[test]
fn a_commit_by_another_process_is_picked_up_from_the_store_files_changing() {
    a_commit_by_another_process_steers_the_hot_path_with_no_traffic_in_between(vec![]);
}

#[test]
fn a_commit_by_another_process_is_picked_up_by_polling_where_notifications_are_off() {
    let poll = vec![("OPENCODE_BALANCER_WATCH".to_string(), "poll".to_string())];
    a_commit_by_another_process_steers_the_hot_path_with_no_traffic_in_between(poll);
}
