//! The token keeper through the real binary: several `serve` processes on one store against the
//! loopback fake token server (single-use rotating refresh tokens), a lease holder killed
//! mid-refresh, a failover onto an expired token, a Claude rotation staying one account, and
//! requests on an expiring token never asking a failing (500, 429 + Retry-After) token endpoint
//! again while the keeper backs off.

use std::time::Duration;

use crate::common::*;
use opencode_balancer::model::Auth;
use opencode_balancer::tokens::providers::fake_server::{FakeTokenServer, Family, Step};
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;
/// Claude access tokens of the fake server live 8 h.
const CLAUDE_LIFE: i64 = 8 * HOUR;

fn endpoints(server: &FakeTokenServer) -> Vec<(String, String)> {
    vec![
        ("OPENCODE_BALANCER_CLAUDE_TOKEN_URL".into(), server.claude_url()),
        ("OPENCODE_BALANCER_CHATGPT_ISSUER_URL".into(), server.url()),
        ("OPENCODE_BALANCER_TOKEN_TIMEOUT_MS".into(), "5000".into()),
    ]
}

fn sidecar(store: &std::path::Path, server: &FakeTokenServer) -> Sidecar {
    Sidecar::start_with(
        store,
        Options {
            env: endpoints(server),
            ..Options::default()
        },
    )
}

fn save(s: &mut Sidecar, provider: &str, alias: &str, auth: &Auth) {
    s.call(
        "accounts.save",
        json!({"providerID": provider, "alias": alias, "auth": auth}),
    );
}

fn advance(s: &mut Sidecar, ms: i64) {
    s.call("test.advanceClock", json!({"ms": ms}));
}

fn access(auth: &Auth) -> String {
    // Not Copilot: the access token is the bearer.
    auth.request_token("openai").to_string()
}

fn expires(auth: &Auth) -> i64 {
    match auth {
        Auth::Oauth { expires, .. } => *expires,
        _ => panic!("not oauth"),
    }
}

/// A Claude login minted at T0 (expires T0 + 8 h); refreshes mint from `refresh_at` on.
fn claude(server: &FakeTokenServer, family: &str, refresh_at: i64) -> Auth {
    server.set_now(T0);
    let auth = server.mint(family, Family::claude());
    server.set_now(refresh_at);
    auth
}

/// A model request of session `s1` on `provider`, begun with a bearer `authorization` and
/// `headers` (lowercased names): its request id and the `fetch.begin` answer.
fn begin_request(s: &mut Sidecar, provider: &str, url: &str, headers: &[&str]) -> (String, Value) {
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s1", "providerID": provider, "modelID": "m1"}),
    );
    let id = h["requestID"].as_str().expect("a managed provider").to_string();
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": url, "method": "POST", "headerNames": headers, "authorization": "bearer"}),
    );
    (id, begin)
}

fn events(s: &mut Sidecar, kind: &str) -> Vec<Value> {
    let all = s.call("events.list", json!({"limit": 1000}));
    all.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .cloned()
        .collect()
}

#[test]
fn several_serve_processes_send_one_refresh_per_generation_and_all_end_with_the_same_tokens() {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let due = T0 + CLAUDE_LIFE - 5 * 60_000;
    let first = claude(&server, "max", due);
    server.set_delay(Duration::from_millis(300));
    let mut sidecars: Vec<Sidecar> = (0..3).map(|_| sidecar(&store, &server)).collect();
    save(&mut sidecars[0], "anthropic", "max", &first);
    for s in &mut sidecars {
        advance(s, due - T0);
    }
    eventually("the account was refreshed", || server.refreshes("max") >= 1);
    let fresh = server.current("max").unwrap();
    for s in &mut sidecars {
        let want = expires(&fresh);
        let deadline = std::time::Instant::now() + WAIT;
        while s.account("anthropic", "max")["tokenExpiresAt"] != json!(want) {
            assert!(
                std::time::Instant::now() < deadline,
                "a sidecar never saw the new token"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(server.refreshes("max"), 1, "exactly one refresh for the generation");
    assert_eq!(server.family_requests("max"), 1, "the spent token was never sent again");
    assert!(!server.revoked("max"));
    let list = sidecars[1].call("accounts.list", json!({}));
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "the rotated login is still one account: {list}"
    );
    assert_eq!(list[0]["loginRequired"], false);
    let refreshed = events(&mut sidecars[2], "token_refreshed");
    assert_eq!(refreshed.len(), 1, "{refreshed:?}");
    assert_eq!(
        refreshed[0]["metadata"]["expiresAt"],
        json!(expires(&fresh).to_string())
    );
}

#[test]
fn the_lease_of_a_process_killed_mid_refresh_is_taken_over_once_it_expired() {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let due = T0 + CLAUDE_LIFE - 5 * 60_000;
    let first = claude(&server, "max", due);
    let mut holder = sidecar(&store, &server);
    let mut survivor = sidecar(&store, &server);
    save(&mut holder, "anthropic", "max", &first);
    server.then(Step::Delay(Duration::from_secs(60)));
    advance(&mut holder, due - T0);
    eventually("the holder's refresh reached the server", || server.requests() == 1);
    holder.child.kill().unwrap();
    let _ = holder.child.wait();
    advance(&mut survivor, due - T0 + 1_000);
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(server.requests(), 1, "a live lease is waited for, not broken");
    advance(&mut survivor, 30_000);
    eventually("the survivor refreshed", || server.refreshes("max") == 1);
    // The new token lives 8 h from the survivor's clock (the request's time).
    let want = json!(due - T0 + 31_000 + T0 + CLAUDE_LIFE);
    let deadline = std::time::Instant::now() + WAIT;
    while survivor.account("anthropic", "max")["tokenExpiresAt"] != want {
        assert!(
            std::time::Instant::now() < deadline,
            "the survivor never committed: {} vs {}; log {}",
            survivor.account("anthropic", "max"),
            want,
            survivor.stderr_path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(survivor.account("anthropic", "max")["loginRequired"], false);
}

#[test]
fn a_failover_onto_an_expired_token_goes_out_with_a_fresh_one_in_the_same_request() {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let expired_at = T0 + CLAUDE_LIFE;
    let idle = claude(&server, "idle", expired_at + HOUR);
    let mut s = sidecar(&store, &server);
    save(&mut s, "anthropic", "idle", &idle);
    s.save_api("anthropic", "busy", "sk-ant-api-FAKE-busy");
    advance(&mut s, expired_at + HOUR - T0);
    let (id, begin) = begin_request(
        &mut s,
        "anthropic",
        "http://127.0.0.1:9/v1/messages",
        &["authorization", "content-type"],
    );
    assert_eq!(begin["account"]["alias"], "busy");
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "600"}}),
    );
    assert_eq!(r["action"], "retry", "{r}");
    assert_eq!(r["account"]["alias"], "idle");
    let fresh = server.current("idle").unwrap();
    assert_ne!(access(&fresh), access(&idle), "the expired token was refreshed");
    assert_eq!(
        r["setHeaders"]["authorization"],
        json!(format!("Bearer {}", access(&fresh))),
        "the retry carries the fresh token"
    );
    if let Some(sync) = r.get("syncAuth") {
        assert_eq!(sync["auth"]["access"], json!(access(&fresh)), "never the expired one");
        assert!(sync["auth"].get("metadata").is_none());
    }
    assert_eq!(server.family_requests("idle"), 1);
}

#[test]
fn a_401_on_an_oauth_account_refreshes_once_and_retries_on_it() {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let login = claude(&server, "max", T0 + 60_000);
    let mut s = sidecar(&store, &server);
    save(&mut s, "anthropic", "max", &login);
    let (id, _) = begin_request(
        &mut s,
        "anthropic",
        "http://127.0.0.1:9/v1/messages",
        &["authorization"],
    );
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 401, "headers": {}}),
    );
    assert_eq!(r["action"], "retry", "{r}");
    assert_eq!(r["account"]["alias"], "max");
    let fresh = server.current("max").unwrap();
    assert_eq!(
        r["setHeaders"]["authorization"],
        json!(format!("Bearer {}", access(&fresh)))
    );
    let again = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 2, "status": 401, "headers": {}}),
    );
    // No second refresh: the refusal counts, and with the only account resting 30 min the
    // request ends at once (issue 19) instead of being sent again.
    assert_eq!(again["action"], "fail", "one refresh per account and request: {again}");
    let message = again["message"].as_str().unwrap();
    assert!(
        message.contains("max needs a new login"),
        "says why, not only when: {message}"
    );
    assert_eq!(server.family_requests("max"), 1);
    assert_eq!(s.account("anthropic", "max")["authFailed"], true);
}

#[test]
fn a_claude_rotation_synced_to_opencode_and_seen_in_auth_json_stays_the_one_account() {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let due = T0 + CLAUDE_LIFE - 5 * 60_000;
    let first = claude(&server, "max", due);
    let mut s = sidecar(&store, &server);
    save(&mut s, "anthropic", "max", &first);
    advance(&mut s, due - T0);
    let sync = s.wait_notification(|n| n["method"] == "auth.sync");
    let fresh = server.current("max").unwrap();
    assert_eq!(sync["params"]["providerID"], "anthropic");
    assert_eq!(sync["params"]["auth"]["access"], json!(access(&fresh)));
    // What the plugin does with it: opencode writes it to auth.json, the watcher sees it.
    let auth_json = auth_file(&store);
    std::fs::create_dir_all(auth_json.parent().unwrap()).unwrap();
    std::fs::write(&auth_json, json!({"anthropic": sync["params"]["auth"]}).to_string()).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let list = s.call("accounts.list", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["alias"], "max");
    assert_eq!(list[0]["tokenExpiresAt"], json!(expires(&fresh)));
    assert_eq!(s.call("pending.list", json!({})).as_array().unwrap().len(), 0);
    assert!(events(&mut s, "account_saved").len() <= 1);
}

#[test]
fn a_refused_refresh_token_needs_a_new_login_says_how_and_doctor_lists_it() {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let due = T0 + CLAUDE_LIFE - 5 * 60_000;
    let first = claude(&server, "max", due);
    let mut s = sidecar(&store, &server);
    save(&mut s, "anthropic", "max", &first);
    server.then(Step::EchoToken);
    advance(&mut s, due - T0);
    let deadline = std::time::Instant::now() + WAIT;
    while s.account("anthropic", "max")["loginRequired"] != true {
        assert!(std::time::Instant::now() < deadline, "never marked login-required");
        std::thread::sleep(Duration::from_millis(50));
    }
    let view = s.account("anthropic", "max");
    assert_eq!(view["loginHint"], "run /connect anthropic in opencode");
    let marked = events(&mut s, "login_required");
    assert_eq!(marked.len(), 1);
    let Auth::Oauth { refresh, .. } = &first else {
        unreachable!()
    };
    let everything = format!("{}{}", s.call("events.list", json!({"limit": 1000})), s.seen.join("\n"));
    assert!(!everything.contains(refresh.as_str()), "the echoed token leaked");
    let (_, _, _, stderr) = s.finish();
    assert!(!stderr.contains(refresh.as_str()), "the echoed token reached the log");
    let doctor = cli(&store, &["doctor"], None);
    let out = String::from_utf8_lossy(&doctor.stdout);
    assert!(out.contains("anthropic/max needs a new login"), "{out}");
}

/// Copilot's bearer is its GitHub token, which nothing refreshes: a 401 or a 403 on it means the
/// login is revoked or expired. The account needs a new login (skipped, says how, an event, a
/// toast), and the request fails over to the other seat at once.
fn a_refused_copilot_token_needs_a_new_login(status: u16) {
    let (_d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let mut s = sidecar(&store, &server);
    for (alias, token) in [
        ("one", "gho_FAKE_copilot_one_0001"),
        ("two", "gho_FAKE_copilot_two_0002"),
    ] {
        let auth = json!({"type": "oauth", "refresh": token, "access": token, "expires": 0});
        s.call(
            "accounts.save",
            json!({"providerID": "github-copilot", "alias": alias, "auth": auth}),
        );
    }
    s.call(
        "accounts.activate",
        json!({"providerID": "github-copilot", "alias": "one"}),
    );
    let (id, begin) = begin_request(
        &mut s,
        "github-copilot",
        "http://127.0.0.1:9/chat/completions",
        &["authorization"],
    );
    assert_eq!(begin["setHeaders"]["authorization"], "Bearer gho_FAKE_copilot_one_0001");
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": status, "headers": {}}),
    );
    assert_eq!(r["action"], "retry", "{r}");
    assert_eq!(r["account"]["alias"], "two");
    assert_eq!(r["setHeaders"]["authorization"], "Bearer gho_FAKE_copilot_two_0002");
    let needs = s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "login_required");
    assert_eq!(needs["params"]["alias"], "one");
    let one = s.account("github-copilot", "one");
    assert_eq!(one["loginRequired"], true, "{one}");
    assert!(
        one["loginHint"].as_str().unwrap().contains("/connect github-copilot"),
        "{one}"
    );
    assert_eq!(server.requests(), 0, "nothing to refresh");
    // A new login for it clears the mark.
    let again = json!({"type": "oauth", "refresh": "gho_FAKE_copilot_one_0003", "access": "gho_FAKE_copilot_one_0003", "expires": 0});
    s.call(
        "accounts.save",
        json!({"providerID": "github-copilot", "alias": "one", "auth": again, "replace": true}),
    );
    assert_eq!(s.account("github-copilot", "one")["loginRequired"], false);
}

#[test]
fn a_copilot_401_needs_a_new_login_and_fails_over() {
    a_refused_copilot_token_needs_a_new_login(401);
}

#[test]
fn a_copilot_403_needs_a_new_login_and_fails_over() {
    a_refused_copilot_token_needs_a_new_login(403);
}

/// An account whose token expires within the minute, a token endpoint answering `step` to every
/// refresh: the first refresh fails, then 33 requests go out on the account (its token has not
/// expired yet) without one more token request while the keeper backs off. Answers the sidecar.
fn thirty_three_requests_while_backed_off(step: Step) -> (tempfile::TempDir, FakeTokenServer, Sidecar) {
    let (d, store) = temp_store();
    let server = FakeTokenServer::start().unwrap();
    let expiring = T0 + CLAUDE_LIFE - 30_000;
    let login = claude(&server, "max", expiring);
    let mut s = sidecar(&store, &server);
    save(&mut s, "anthropic", "max", &login);
    for _ in 0..100 {
        server.then(step.clone());
    }
    advance(&mut s, expiring - T0);
    s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "token_refresh_failed");
    assert_eq!(server.family_requests("max"), 1);
    for _ in 0..33 {
        let (_, begin) = begin_request(
            &mut s,
            "anthropic",
            "http://127.0.0.1:9/v1/messages",
            &["authorization"],
        );
        assert_eq!(begin["account"]["alias"], "max", "{begin}");
        assert_eq!(
            begin["setHeaders"]["authorization"],
            json!(format!("Bearer {}", access(&login))),
            "sent on its token, still valid for half a minute"
        );
    }
    assert_eq!(
        server.family_requests("max"),
        1,
        "33 requests, no token request while backed off"
    );
    (d, server, s)
}

#[test]
fn a_token_endpoint_answering_500_is_not_asked_again_by_each_request_while_backing_off() {
    let (_d, server, mut s) = thirty_three_requests_while_backed_off(Step::Status(500));
    // The backoff (30 s) over: the next refresh is one request.
    advance(&mut s, 31_000);
    s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "token_refresh_failed");
    assert_eq!(
        server.family_requests("max"),
        2,
        "one more token request, one more event"
    );
}

#[test]
fn a_retry_after_of_an_hour_from_the_token_endpoint_holds_every_request_for_the_hour() {
    let (_d, server, mut s) = thirty_three_requests_while_backed_off(Step::RateLimited(Some("3600".into())));
    advance(&mut s, 59 * 60_000);
    for _ in 0..5 {
        // Expired by now: passed over (no other account, so not managed), never refreshed.
        let h = s.call(
            "chat.headers",
            json!({"sessionID": "s1", "providerID": "anthropic", "modelID": "m1"}),
        );
        if let Some(id) = h["requestID"].as_str() {
            s.call(
                "fetch.begin",
                json!({"requestID": id, "url": "http://127.0.0.1:9/v1/messages", "method": "POST", "headerNames": ["authorization"], "authorization": "bearer"}),
            );
        }
    }
    assert_eq!(server.family_requests("max"), 1, "not before the hour is over");
    advance(&mut s, 61_000);
    eventually("asked again after the hour", || server.family_requests("max") == 2);
}
