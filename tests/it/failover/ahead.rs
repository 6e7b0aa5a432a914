//! Openings asked ahead (`chat.headers` with `ahead`, docs/protocol.md "An opening ahead") through
//! the real binary over pipes: nothing is recorded until the opening is used, `validMs` comes from
//! the clock, and unused openings are bounded.

use crate::common::*;
use serde_json::{json, Value};

const BEARER: &str = r#"{"headerNames": ["authorization"], "authorization": "bearer"}"#;

fn shape() -> Value {
    serde_json::from_str(BEARER).unwrap()
}

fn ahead(s: &mut Sidecar, session: &str) -> Value {
    s.call(
        "chat.headers",
        json!({"sessionID": session, "providerID": "p", "modelID": "m1", "fetch": shape(), "ahead": true}),
    )
}

fn opened(s: &mut Sidecar, session: &str) -> Value {
    s.call(
        "chat.headers",
        json!({"sessionID": session, "providerID": "p", "modelID": "m1", "fetch": shape()}),
    )
}

fn id(answer: &Value) -> String {
    answer["requestID"].as_str().expect("a request id").to_string()
}

fn result(s: &mut Sidecar, id: &str, status: u16, sent: bool) -> Value {
    let mut params = json!({"requestID": id, "attempt": 1, "status": status,
                             "headers": {"retry-after": "30"}, "body": if status == 429 { "{}" } else { "" }});
    if sent {
        params["sent"] = shape();
    }
    s.call("fetch.result", params)
}

fn two_accounts() -> (tempfile::TempDir, Sidecar) {
    let (d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    // The last saved is the active one: a.
    s.save_api("p", "b", "sk-test-ahead-b-FAKE");
    s.save_api("p", "a", "sk-test-ahead-a-FAKE");
    (d, s)
}

#[test]
fn an_opening_asked_ahead_is_answered_with_begin_and_valid_ms_and_records_no_session_account() {
    let (_d, mut s) = two_accounts();
    let a = ahead(&mut s, "s1");
    assert_eq!(a["begin"]["account"]["alias"], "a", "{a}");
    assert_eq!(a["begin"]["setHeaders"]["authorization"], "Bearer sk-test-ahead-a-FAKE");
    assert_eq!(a["validMs"], 60_000, "no cooldown nor token: the cap");
    let before = s.call("session.get", json!({"sessionID": "s1"}));
    assert!(before.get("alias").is_none_or(Value::is_null), "not sent yet: {before}");
    // Used: its 2xx (sent with the held answer) makes the records.
    assert_eq!(result(&mut s, &id(&a), 200, true)["action"], "return");
    assert_eq!(s.call("session.get", json!({"sessionID": "s1"}))["alias"], "a");
}

#[test]
fn an_unused_opening_leaves_the_continuity_owner_as_it_would_be_without_it() {
    let (_d, mut s) = two_accounts();
    // Asked ahead on a, never used; then the user activates b and the session's real first
    // request goes to b: b is its owner, so nothing is stripped.
    let unused = ahead(&mut s, "s1");
    assert_eq!(unused["begin"]["account"]["alias"], "a");
    s.call("accounts.activate", json!({"providerID": "p", "alias": "b"}));
    let real = opened(&mut s, "s1");
    assert_eq!(real["begin"]["account"]["alias"], "b");
    assert!(real["begin"].get("stripState").is_none(), "{real}");
}

#[test]
fn a_used_opening_is_the_sessions_owner_guess_like_a_request_opened_at_its_hook() {
    let (_d, mut s) = two_accounts();
    let used = ahead(&mut s, "s1");
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id(&used), "url": "http://127.0.0.1:9/v1", "method": "POST",
                                              "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(begin["account"]["alias"], "a");
    assert_eq!(s.call("session.get", json!({"sessionID": "s1"}))["alias"], "a");
    // A later request on b (a activated away) strips: a is the owner the used opening recorded.
    s.call("accounts.activate", json!({"providerID": "p", "alias": "b"}));
    let r = result(&mut s, &id(&used), 429, false);
    assert_eq!(r["account"]["alias"], "b", "{r}");
    assert_eq!(r["stripState"], json!({"scope": "same-provider"}));
}

#[test]
fn valid_ms_ends_at_the_first_cooldown_end_of_the_provider_by_the_clock() {
    let (_d, mut s) = two_accounts();
    let first = opened(&mut s, "s1");
    // a is refused for 30 s: the request fails over to b.
    let r = result(&mut s, &id(&first), 429, true);
    assert_eq!(r["account"]["alias"], "b");
    let a = ahead(&mut s, "s2");
    assert_eq!(a["begin"]["account"]["alias"], "b");
    assert_eq!(
        a["validMs"], 30_000,
        "a's cooldown ends in 30 s and a comes first by alias: {a}"
    );
    s.call("test.advanceClock", json!({"ms": 10_000}));
    assert_eq!(ahead(&mut s, "s3")["validMs"], 20_000);
}

#[test]
fn openings_named_unused_and_past_the_bound_are_forgotten_and_a_used_one_is_kept() {
    let (_d, mut s) = two_accounts();
    let begin = |s: &mut Sidecar, id: &str| {
        s.request(
            "fetch.begin",
            json!({"requestID": id, "url": "http://127.0.0.1:9/v1", "method": "POST", "headerNames": ["authorization"]}),
        )
    };
    let named = id(&ahead(&mut s, "named"));
    let used = id(&ahead(&mut s, "used"));
    assert_eq!(
        begin(&mut s, &used)["result"]["account"]["alias"],
        "a",
        "used: its request is under way"
    );
    let oldest = id(&ahead(&mut s, "oldest"));
    let newer = id(&ahead(&mut s, "newer"));
    s.call(
        "chat.headers",
        json!({"sessionID": "other", "providerID": "p", "modelID": "m1", "unused": [named, used]}),
    );
    assert!(begin(&mut s, &named).get("error").is_some(), "named unused: forgotten");
    assert_eq!(
        result(&mut s, &used, 200, true)["action"],
        "return",
        "named unused once used: kept, its answer is still taken"
    );
    // 1,023 more unused openings take the bound (1,024) past by one: the oldest unused is
    // forgotten, the next one is not.
    for i in 0..1023 {
        ahead(&mut s, &format!("bulk{i}"));
    }
    assert!(
        begin(&mut s, &oldest).get("error").is_some(),
        "past the bound: the oldest forgotten"
    );
    assert_eq!(
        begin(&mut s, &newer)["result"]["account"]["alias"],
        "a",
        "the next one kept"
    );
}

#[test]
fn no_opening_ahead_when_the_pick_would_step_round_robin() {
    let (_d, mut s) = two_accounts();
    s.call("settings.set", json!({"key": "strategy", "value": "round-robin"}));
    let a = ahead(&mut s, "new");
    assert!(a.get("requestID").is_none(), "{a}");
    // The round-robin cursor did not move: the next real pick is the one it would have been.
    assert_eq!(opened(&mut s, "x")["begin"]["account"]["alias"], "a");
    assert_eq!(opened(&mut s, "y")["begin"]["account"]["alias"], "b");
}
