//! Continuity across sidecars (docs/continuity.md, issue 29): which account owns a session's
//! replayed state, and that a moved conversation is edited, are known to every `serve` on the
//! store — a new one (the next `opencode run`) and one running beside it.

use crate::common::*;
use serde_json::{json, Value};

/// Opens a request of `session` on provider `p` expecting a bearer: its id and `begin`'s answer.
fn request(s: &mut Sidecar, session: &str) -> (String, Value) {
    let h = s.call(
        "chat.headers",
        json!({"sessionID": session, "providerID": "p", "modelID": "m1",
               "fetch": {"headerNames": ["authorization"], "authorization": "bearer"}}),
    );
    (h["requestID"].as_str().unwrap().to_string(), h["begin"].clone())
}

fn answered(s: &mut Sidecar, id: &str, attempt: u32, status: u16) -> Value {
    let body = if status == 429 { "{}" } else { "" };
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": attempt, "status": status, "headers": {"retry-after": "600"}, "body": body}),
    )
}

fn sidecar_with_two_accounts(store: &std::path::Path) -> Sidecar {
    let mut s = Sidecar::start(store);
    s.save_api("p", "b", "sk-test-owners-b-FAKE");
    s.save_api("p", "a", "sk-test-owners-a-FAKE");
    s
}

/// Turn 1 of `session` answered by a; turn 2 refused by a, retried on b without a's state,
/// answered by b.
fn move_from_a_to_b(s: &mut Sidecar, session: &str) {
    let (id, begin) = request(s, session);
    assert_eq!(begin["account"]["alias"], "a");
    answered(s, &id, 1, 200);
    let (id, begin) = request(s, session);
    assert!(begin.get("stripState").is_none(), "{begin}");
    let r = answered(s, &id, 1, 429);
    assert_eq!(
        (&r["account"]["alias"], &r["stripState"]),
        (&json!("b"), &json!({"scope": "same-provider"}))
    );
    answered(s, &id, 2, 200);
}

#[test]
fn a_conversation_moved_by_one_sidecar_is_edited_by_the_next_without_a_refusal() {
    let (_d, store) = temp_store();
    let mut one = sidecar_with_two_accounts(&store);
    move_from_a_to_b(&mut one, "s1");
    let (code, ..) = one.finish();
    assert_eq!(code, Some(0));
    // The next `opencode run`: a new sidecar, its first request of the session goes out on b
    // (a still rests) already edited — no 400 needed to learn it.
    let mut two = Sidecar::start(&store);
    let (_, begin) = request(&mut two, "s1");
    assert_eq!(begin["account"]["alias"], "b");
    assert_eq!(begin["stripState"], json!({"scope": "same-provider"}));
}

#[test]
fn a_resumed_session_owned_by_a_is_stripped_when_the_next_sidecar_fails_it_over_to_b() {
    let (_d, store) = temp_store();
    let mut one = sidecar_with_two_accounts(&store);
    let (id, _) = request(&mut one, "s1");
    answered(&mut one, &id, 1, 200);
    one.finish();
    let mut two = Sidecar::start(&store);
    let (id, begin) = request(&mut two, "s1");
    assert_eq!(begin["account"]["alias"], "a");
    assert!(
        begin.get("stripState").is_none(),
        "on its owner it goes byte for byte: {begin}"
    );
    let r = answered(&mut two, &id, 1, 429);
    assert_eq!((&r["action"], &r["account"]["alias"]), (&json!("retry"), &json!("b")));
    assert_eq!(r["stripState"], json!({"scope": "same-provider"}));
}

#[test]
fn a_session_this_sidecar_never_saw_answered_fails_over_without_the_first_accounts_state() {
    let (_d, store) = temp_store();
    let mut s = sidecar_with_two_accounts(&store);
    // No record: the account its first request here went to (a) stands for the owner.
    let (id, begin) = request(&mut s, "resumed");
    assert!(begin.get("stripState").is_none(), "{begin}");
    let r = answered(&mut s, &id, 1, 429);
    assert_eq!(
        (&r["account"]["alias"], &r["stripState"]),
        (&json!("b"), &json!({"scope": "same-provider"}))
    );
}

#[test]
fn a_sidecar_running_beside_learns_of_a_move_the_other_made() {
    let (_d, store) = temp_store();
    let mut one = sidecar_with_two_accounts(&store);
    let mut two = Sidecar::start(&store);
    move_from_a_to_b(&mut one, "s1");
    // `one` flushes within 100 ms; `two` reads what another process committed when it sees it.
    eventually("the second sidecar edits the moved conversation", || {
        let (_, begin) = request(&mut two, "s1");
        begin["account"]["alias"] == "b" && begin["stripState"] == json!({"scope": "same-provider"})
    });
}
