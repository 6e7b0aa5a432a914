//! Hostile token claims through the real binary: a ChatGPT login whose tokens carry an account
//! id and a compute residency with quotes and CR/LF. Neither becomes a header value
//! (`setHeaders`), the account's identity or stored credential, or the `accountId` synced to
//! opencode (`auth.sync`) after a refresh; the log names the claim, never its value.

use crate::common::*;
use opencode_balancer::model::Auth;
use opencode_balancer::tokens::providers::fake_server::{FakeTokenServer, Family};
use serde_json::json;

/// What a hostile claim carries; found in no output, store or log.
const MARK: &str = "x-injected";
const HOSTILE_ID: &str = "acct-FAKE\"}\r\nx-injected: 1";
const HOSTILE_RESIDENCY: &str = "eu\r\nx-injected: 1";
const HOUR: i64 = 3_600_000;

/// The store file and its write-ahead log, as bytes, lossily as text.
fn store_text(store: &std::path::Path) -> String {
    let mut text = String::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", store.display());
        if let Ok(bytes) = std::fs::read(path) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

#[test]
fn hostile_account_and_residency_claims_are_never_sent_stored_or_synced() {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    server.set_now(T0);
    let mut family = Family::chatgpt(HOSTILE_ID);
    family.residency = Some(HOSTILE_RESIDENCY.into());
    let Auth::Oauth {
        refresh,
        access,
        expires,
        ..
    } = server.mint("hostile", family)
    else {
        unreachable!("a ChatGPT family mints OAuth logins")
    };
    let mut s = Sidecar::start_with(
        &store,
        Options {
            env: vec![
                ("OPENCODE_BALANCER_CHATGPT_ISSUER_URL".into(), server.url()),
                ("OPENCODE_BALANCER_TOKEN_TIMEOUT_MS".into(), "5000".into()),
            ],
            ..Options::default()
        },
    );
    // As opencode would have it before a refresh: the claims only in the tokens.
    s.call(
        "accounts.save",
        json!({"providerID": "openai", "alias": "codex",
               "auth": {"type": "oauth", "refresh": refresh, "access": access, "expires": expires}}),
    );
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s1", "providerID": "openai", "modelID": "gpt-5"}),
    );
    let id = h["requestID"].as_str().expect("managed").to_string();
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/backend-api/codex/responses", "method": "POST",
               "headerNames": ["authorization", "chatgpt-account-id", "x-openai-internal-codex-residency"],
               "authorization": "bearer"}),
    );
    assert_eq!(
        begin["setHeaders"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["authorization"],
        "{begin}"
    );
    assert_eq!(
        begin["removeHeaders"],
        json!(["chatgpt-account-id", "x-openai-internal-codex-residency"])
    );
    // A refresh whose id token names the hostile account: nothing of it is kept or synced.
    server.set_now(T0 + HOUR - 60_000);
    s.call("test.advanceClock", json!({"ms": HOUR - 60_000}));
    let sync = s.wait_notification(|n| n["method"] == "auth.sync");
    assert_ne!(sync["params"]["auth"]["access"], json!(access), "a refreshed login");
    assert!(sync["params"]["auth"].get("accountId").is_none(), "{sync}");
    let list = s.call("accounts.list", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let seen = s.seen.join("\n");
    assert!(!seen.contains(MARK), "a hostile claim reached the protocol: {seen}");
    let (_, _, _, stderr) = s.finish();
    assert!(!stderr.contains(MARK), "a hostile claim reached the log: {stderr}");
    assert!(
        stderr.contains("a token claim of the wrong shape is ignored"),
        "the ignored claim is logged: {stderr}"
    );
    assert!(!store_text(&store).contains(MARK), "a hostile claim reached the store");
}

#[test]
fn a_saved_account_id_of_the_wrong_shape_is_never_a_header_or_synced_to_opencode() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.call(
        "accounts.save",
        json!({"providerID": "openai", "alias": "codex",
               "auth": {"type": "oauth", "refresh": "rt-FAKE-codex", "access": "at-FAKE-codex",
                        "expires": T0 + HOUR, "accountId": HOSTILE_ID}}),
    );
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s1", "providerID": "openai", "modelID": "gpt-5"}),
    );
    assert_eq!(h["syncAuth"]["auth"]["access"], "at-FAKE-codex", "{h}");
    assert!(h["syncAuth"]["auth"].get("accountId").is_none(), "{h}");
    let id = h["requestID"].as_str().expect("managed").to_string();
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/backend-api/codex/responses", "method": "POST",
               "headerNames": ["authorization", "chatgpt-account-id"], "authorization": "bearer"}),
    );
    assert_eq!(begin["removeHeaders"], json!(["chatgpt-account-id"]), "{begin}");
    let seen = s.seen.join("\n");
    assert!(!seen.contains(MARK), "{seen}");
}
