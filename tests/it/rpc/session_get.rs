//! `session.get` through the real binary over pipes: which provider, model and account a
//! session is on (the TUI's sidebar line), and that activating an account does not move a
//! running session (what the TUI's toast says).

use crate::common::*;
use serde_json::{json, Value};

fn open(s: &mut Sidecar, session: &str) -> String {
    let h = s.call(
        "chat.headers",
        json!({"sessionID": session, "providerID": "mock", "modelID": "m1"}),
    );
    h["requestID"]
        .as_str()
        .expect("a managed provider gets a request id")
        .to_string()
}

fn begin(s: &mut Sidecar, id: &str) -> String {
    let r = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/v1/chat/completions", "method": "POST",
               "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    r["account"]["alias"].as_str().unwrap().to_string()
}

fn result(s: &mut Sidecar, id: &str, attempt: u32, status: u16) -> Value {
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": attempt, "status": status, "headers": {}, "body": null}),
    )
}

fn session(s: &mut Sidecar, id: &str) -> Value {
    s.call("session.get", json!({"sessionID": id}))
}

fn setup() -> (tempfile::TempDir, Sidecar) {
    let (d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("mock", "alpha", "sk-test-alpha-FAKE");
    s.save_api("mock", "bravo", "sk-test-bravo-FAKE");
    s.call("accounts.activate", json!({"providerID": "mock", "alias": "alpha"}));
    (d, s)
}

#[test]
fn a_session_the_sidecar_has_not_seen_is_an_empty_answer() {
    let (_d, mut s) = setup();
    assert_eq!(session(&mut s, "ses_unknown"), json!({}));
}

#[test]
fn session_get_without_a_session_id_is_invalid_params() {
    let (_d, mut s) = setup();
    assert_eq!(s.call_err("session.get", json!({}))["code"], -32602);
}

#[test]
fn session_get_names_the_account_of_the_sessions_last_request_not_the_providers_active_one() {
    let (_d, mut s) = setup();
    let id = open(&mut s, "ses_a");
    assert_eq!(begin(&mut s, &id), "alpha");
    assert_eq!(result(&mut s, &id, 1, 200)["action"], "return");
    assert_eq!(
        session(&mut s, "ses_a"),
        json!({"providerID": "mock", "modelID": "m1", "alias": "alpha"})
    );
    // The user activates bravo (the dashboard, the CLI): the provider's active account changes,
    // the running session keeps its account, and says so.
    s.call("accounts.activate", json!({"providerID": "mock", "alias": "bravo"}));
    assert_eq!(session(&mut s, "ses_a")["alias"], "alpha");
    let next = open(&mut s, "ses_a");
    assert_eq!(
        begin(&mut s, &next),
        "alpha",
        "a running session is not moved by an activation"
    );
    result(&mut s, &next, 1, 200);
    // A new session starts on the active account.
    let fresh = open(&mut s, "ses_b");
    assert_eq!(begin(&mut s, &fresh), "bravo");
    assert_eq!(session(&mut s, "ses_b")["alias"], "bravo");
}

#[test]
fn after_a_failover_session_get_names_the_account_that_answered() {
    let (_d, mut s) = setup();
    let id = open(&mut s, "ses_f");
    assert_eq!(begin(&mut s, &id), "alpha");
    let r = result(&mut s, &id, 1, 429);
    assert_eq!(r["action"], "retry", "{r}");
    assert_eq!(r["account"]["alias"], "bravo");
    assert_eq!(session(&mut s, "ses_f")["alias"], "bravo");
}
