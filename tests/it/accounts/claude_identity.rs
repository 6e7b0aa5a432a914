//! A Claude login keeps one account across token rotations, through the real binary, a real
//! auth.json and a loopback stand-in for Claude's profile endpoint: linked by the profile's stable
//! account id, or (profile unreadable) by the expiring credential it replaced, saying so; another
//! person's login is never merged into it, not even when the account's refresh token is refused
//! while that login waits in auth.json (a loopback fake token server refuses it).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use opencode_balancer::store::Store;
use opencode_balancer::tokens::providers::fake_server::FakeTokenServer;
use opencode_balancer::usage::fake_server::{claude_profile_reply, FakeReply, FakeUsageServer};
use opencode_balancer::usage::providers::anthropic_profile::PROFILE_PATH;
use serde_json::{json, Value};

const HOUR: i64 = 3_600_000;

fn write_atomic(path: &Path, content: &Value) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, content.to_string()).unwrap();
    fs::rename(&tmp, path).unwrap();
}

/// As opencode's Claude plugin writes an entry: opaque tokens, no account id.
fn claude(n: &str, expires: i64) -> Value {
    json!({"anthropic": {"type": "oauth", "refresh": format!("sk-ant-ort01-FAKE-{n}"), "access": format!("sk-ant-oat01-FAKE-{n}"), "expires": expires}})
}

fn start(store: &Path, server: &FakeUsageServer) -> Sidecar {
    start_refreshing(store, server, None)
}

/// With the Claude token endpoint at `tokens` (`None`: never contacted, as in test mode).
fn start_refreshing(store: &Path, server: &FakeUsageServer, tokens: Option<&FakeTokenServer>) -> Sidecar {
    let mut env = vec![
        ("OPENCODE_BALANCER_ANTHROPIC_URL", server.url()),
        ("OPENCODE_BALANCER_USAGE_TIMEOUT_MS", "3000".into()),
    ];
    env.extend(tokens.map(|t| ("OPENCODE_BALANCER_CLAUDE_TOKEN_URL", t.claude_url())));
    let mut s = Sidecar::start_with(
        store,
        Options {
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ..Options::default()
        },
    );
    s.call("settings.set", json!({"key": "usageEnabled", "value": false}));
    s
}

fn event(s: &mut Sidecar, kind: &str) -> Value {
    s.wait_notification(|n| {
        n["method"] == "event" && n["params"]["type"] == kind && n["params"]["providerID"] == "anthropic"
    })["params"]
        .clone()
}

fn aliases(store: &Path) -> Vec<String> {
    let list: Value = serde_json::from_str(&cli_ok(store, &["accounts", "list", "--json"], None)).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["alias"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_rotated_claude_login_updates_its_account_linked_by_its_profile() {
    let server = FakeUsageServer::start().unwrap();
    server.route(
        PROFILE_PATH,
        claude_profile_reply("u-FAKE-1", "o-FAKE-1", "max@example.com"),
    );
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    write_atomic(&auth_file(&store), &claude("1", T0 + 8 * HOUR));
    assert_eq!(event(&mut s, "account_saved")["alias"], "max-example.com");
    // Refreshed long before it expired (by another tool): the profile alone links it.
    write_atomic(&auth_file(&store), &claude("2", T0 + 9 * HOUR));
    let e = event(&mut s, "account_updated");
    assert_eq!(e["alias"], "max-example.com");
    assert_eq!(e["metadata"]["linkedBy"], "profile");
    assert_eq!(aliases(&store), ["max-example.com"]);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "one profile read per new entry");
    assert_eq!(seen[1].headers["authorization"], "Bearer sk-ant-oat01-FAKE-2");
    assert_eq!(seen[1].headers["anthropic-beta"], "oauth-2025-04-20");
    // The account holds the new credential: a request goes out with the new access token.
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "anthropic", "modelID": "m"}),
    );
    let b = s.call(
        "fetch.begin",
        json!({"requestID": h["requestID"], "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(b["setHeaders"]["authorization"], "Bearer sk-ant-oat01-FAKE-2");
}

#[test]
fn without_a_profile_the_refresh_of_the_expired_entry_updates_its_account_and_says_so() {
    let server = FakeUsageServer::start().unwrap();
    server.route(PROFILE_PATH, FakeReply::status(503, "{}"));
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    write_atomic(&auth_file(&store), &claude("old", T0 - 1));
    assert_eq!(event(&mut s, "account_saved")["alias"], "anthropic-1");
    write_atomic(&auth_file(&store), &claude("new", T0 + 8 * HOUR));
    let e = event(&mut s, "account_updated");
    assert_eq!(e["alias"], "anthropic-1");
    assert_eq!(e["metadata"]["linkedBy"], "previous-entry");
    let toast =
        s.wait_notification(|n| n["method"] == "toast" && n["params"]["message"].as_str().unwrap().contains("linked"));
    let message = toast["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("could not be read") && message.contains("/connect anthropic"),
        "{message}"
    );
    assert_eq!(aliases(&store), ["anthropic-1"]);
    // A login replacing a token with hours left is a new login, not a refresh: never merged.
    write_atomic(&auth_file(&store), &claude("other", T0 + 8 * HOUR));
    assert_eq!(event(&mut s, "account_saved")["alias"], "anthropic-2");
    assert_eq!(aliases(&store), ["anthropic-1", "anthropic-2"]);
}

#[test]
fn another_persons_login_replacing_an_expired_one_is_a_new_account() {
    let server = FakeUsageServer::start().unwrap();
    server.route(
        PROFILE_PATH,
        claude_profile_reply("u-FAKE-a", "o-FAKE-a", "alice@example.com"),
    );
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    write_atomic(&auth_file(&store), &claude("alice", T0 - 1));
    assert_eq!(event(&mut s, "account_saved")["alias"], "alice-example.com");
    server.route(
        PROFILE_PATH,
        claude_profile_reply("u-FAKE-b", "o-FAKE-b", "bob@example.com"),
    );
    write_atomic(&auth_file(&store), &claude("bob", T0 + 8 * HOUR));
    assert_eq!(event(&mut s, "account_saved")["alias"], "bob-example.com");
    assert_eq!(aliases(&store), ["alice-example.com", "bob-example.com"]);
}

#[test]
fn a_slow_profile_never_holds_up_the_hot_path() {
    let server = FakeUsageServer::start().unwrap();
    let slow = claude_profile_reply("u-FAKE-s", "o-FAKE-s", "slow@example.com").delayed(Duration::from_secs(2));
    server.route(PROFILE_PATH, slow);
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    s.save_api("p", "a", "sk-FAKE-hot");
    write_atomic(&auth_file(&store), &claude("slow", T0 + 8 * HOUR));
    eventually("the profile read starts", || server.count(PROFILE_PATH) == 1);
    let t = Instant::now();
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "p", "modelID": "m"}),
    );
    s.call("fetch.begin", json!({"requestID": h["requestID"], "headerNames": []}));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "answered while the profile was read: {:?}",
        t.elapsed()
    );
    assert_eq!(event(&mut s, "account_saved")["alias"], "slow-example.com");
}

#[test]
fn a_refused_claude_login_needs_a_new_login_and_never_takes_the_other_persons_pending_one() {
    let profiles = FakeUsageServer::start().unwrap();
    profiles.route(
        PROFILE_PATH,
        claude_profile_reply("u-FAKE-me", "o-FAKE-me", "me@example.com"),
    );
    // The token endpoint knows none of these refresh tokens: it refuses mine (invalid_grant).
    let tokens = FakeTokenServer::start().unwrap();
    let (_d, store) = temp_store();
    let mut s = start_refreshing(&store, &profiles, Some(&tokens));
    write_atomic(&auth_file(&store), &claude("me", T0 + 8 * HOUR));
    assert_eq!(event(&mut s, "account_saved")["alias"], "me-example.com");
    // Someone else logs in on this machine; with autoSave off their login waits as pending.
    s.call("settings.set", json!({"key": "autoSave", "value": false}));
    profiles.route(
        PROFILE_PATH,
        claude_profile_reply("u-FAKE-them", "o-FAKE-them", "them@example.com"),
    );
    write_atomic(&auth_file(&store), &claude("them", T0 + 8 * HOUR));
    event(&mut s, "pending_connection_captured");
    // My token comes due; its refresh is refused.
    s.call("test.advanceClock", json!({"ms": 8 * HOUR - 5 * 60_000}));
    let e = event(&mut s, "login_required");
    assert_eq!(e["alias"], "me-example.com");
    let toast = s.wait_notification(|n| {
        n["method"] == "toast" && n["params"]["message"].as_str().unwrap().contains("needs a new login")
    });
    let message = toast["params"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("anthropic/me-example.com needs a new login") && message.contains("/connect anthropic"),
        "{message}"
    );
    assert_eq!(tokens.requests(), 1);
    assert_eq!(s.account("anthropic", "me-example.com")["loginRequired"], true);
    assert_eq!(
        s.call("pending.list", json!({})).as_array().unwrap().len(),
        1,
        "theirs still waits"
    );
    let snap = Store::open(&store).unwrap().load_snapshot(None).unwrap();
    assert_eq!(snap.accounts.len(), 1);
    assert_eq!(
        snap.accounts[0].auth.request_token("anthropic"),
        "sk-ant-oat01-FAKE-me",
        "my account still holds my login"
    );
}
