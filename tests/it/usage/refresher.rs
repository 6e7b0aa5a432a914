//! The usage refresher through the real binary, its endpoints pointed at a loopback stand-in:
//! cooldowns cleared and set by what usage says, background polling and the per-prompt nudge,
//! passive headers, unsupported accounts, the CLI, and no credential in anything it lets out.

use std::path::Path;

use crate::common::*;
use opencode_balancer::usage::fake_server::{FakeReply, FakeUsageServer};
use serde_json::{json, Value};

const WHAM: &str = "/backend-api/wham/usage";
const CLAUDE: &str = "/api/oauth/usage";
const COPILOT: &str = "/copilot_internal/user";
const ORG_USAGE: &str = "/v1/organization/usage/completions";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/usage/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every usage endpoint at `server`, short timeouts, a fixed jitter seed.
fn usage_env(server: &FakeUsageServer) -> Vec<(String, String)> {
    let url = server.url();
    [
        ("OPENCODE_BALANCER_CHATGPT_URL", url.as_str()),
        ("OPENCODE_BALANCER_OPENAI_URL", url.as_str()),
        ("OPENCODE_BALANCER_GITHUB_URL", url.as_str()),
        ("OPENCODE_BALANCER_ANTHROPIC_URL", url.as_str()),
        ("OPENCODE_BALANCER_USAGE_TIMEOUT_MS", "2000"),
        ("OPENCODE_BALANCER_USAGE_SEED", "7"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn start(store: &Path, server: &FakeUsageServer) -> Sidecar {
    Sidecar::start_with(
        store,
        Options {
            env: usage_env(server),
            ..Options::default()
        },
    )
}

/// Turns background polling off so only explicit refreshes read usage.
fn quiet(s: &mut Sidecar) {
    s.call("settings.set", json!({"key": "usageEnabled", "value": false}));
}

fn save_oauth(s: &mut Sidecar, provider: &str, alias: &str, auth: Value) {
    s.call(
        "accounts.save",
        json!({"providerID": provider, "alias": alias, "auth": auth}),
    );
}

fn event(s: &mut Sidecar, kind: &str, provider: &str) -> Value {
    s.wait_notification(|n| {
        n["method"] == "event" && n["params"]["type"] == kind && n["params"]["providerID"] == provider
    })["params"]
        .clone()
}

/// A model request on `provider` answered with `status` and `headers`.
fn request(s: &mut Sidecar, provider: &str, status: u16, headers: Value) {
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s1", "providerID": provider, "modelID": "m1"}),
    );
    let id = h["requestID"].as_str().expect("a managed provider").to_string();
    s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/v1/x", "method": "POST", "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": status, "headers": headers, "body": "{}"}),
    );
}

#[test]
fn an_exact_reading_under_100_percent_clears_a_stale_cooldown() {
    let server = FakeUsageServer::start().unwrap();
    server.route(WHAM, FakeReply::json(fixture("chatgpt/full.json")));
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    quiet(&mut s);
    save_oauth(
        &mut s,
        "openai",
        "plan",
        json!({"type": "oauth", "access": "at-FAKE-plan-0001", "refresh": "rt-FAKE-plan-0001", "expires": 1, "accountId": "acct-fake-1"}),
    );
    request(&mut s, "openai", 429, json!({"retry-after": "3600"}));
    assert_eq!(s.account("openai", "plan")["coolingDownUntil"], T0 + 3_600_000);

    let got = s.call("usage.refresh", json!({"providerID": "openai"}));
    assert_eq!(got.as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got[0]["confidence"], "exact");
    assert_eq!(got[0]["usedPercent"], 42.0);
    assert_eq!(got[0]["planName"], "plus");
    assert_eq!(got[0]["fetchedAt"], T0);
    assert_eq!(
        got[0]["windows"][1],
        json!({"name": "7d", "usedPercent": 18.5, "resetAt": 1_700_300_000_000i64})
    );

    let cleared = event(&mut s, "cooldown_cleared", "openai");
    assert_eq!(cleared["metadata"]["source"], "usage");
    let a = s.account("openai", "plan");
    assert_eq!(a["coolingDownUntil"], Value::Null);
    assert_eq!(a["failures"], 0);
    assert_eq!(a["usage"]["usedPercent"], 42.0);
    let refreshed = event(&mut s, "usage_refreshed", "openai");
    assert_eq!(refreshed["metadata"]["usedPercent"], "42");

    let seen = server.seen();
    assert_eq!(seen.len(), 1, "usage off: only the explicit refresh read");
    assert_eq!(seen[0].headers["authorization"], "Bearer at-FAKE-plan-0001");
    assert_eq!(seen[0].headers["chatgpt-account-id"], "acct-fake-1");
}

#[test]
fn a_full_reading_with_a_reset_time_cools_the_account_down_until_then() {
    let server = FakeUsageServer::start().unwrap();
    server.route(
        CLAUDE,
        FakeReply::json(
            json!({"five_hour": {"utilization": 100.0, "resets_at": "2023-11-15T00:13:20Z"},
                   "seven_day": {"utilization": 40.0, "resets_at": null}})
            .to_string(),
        ),
    );
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    quiet(&mut s);
    save_oauth(
        &mut s,
        "anthropic",
        "max",
        json!({"type": "oauth", "access": "at-FAKE-claude-0001", "refresh": "rt-FAKE-claude-0001", "expires": 1}),
    );
    let got = s.call("usage.refresh", json!({"providerID": "anthropic", "alias": "Max"}));
    assert_eq!(got[0]["usedPercent"], 100.0);
    assert_eq!(got[0]["resetAt"], T0 + 7_200_000);
    let limited = event(&mut s, "rate_limit_detected", "anthropic");
    assert_eq!(limited["metadata"]["source"], "usage");
    assert_eq!(limited["metadata"]["until"], (T0 + 7_200_000).to_string());
    assert_eq!(
        limited["metadata"]["clamped"],
        Value::Null,
        "a reset within the cap is kept"
    );
    let a = s.account("anthropic", "max");
    assert_eq!(a["coolingDownUntil"], T0 + 7_200_000);
    assert_eq!(a["cooldownReason"], "quota");
    // No healthy account left: the request is answered at once with a final message, nothing is
    // sent (tests/turn.rs); a host that does not know `fail` passes it through.
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "anthropic", "modelID": "m"}),
    );
    let b = s.call(
        "fetch.begin",
        json!({"requestID": h["requestID"], "url": "https://api.anthropic.com/v1/messages", "headerNames": []}),
    );
    assert_eq!(
        (b["action"].as_str(), b["passthrough"].as_bool()),
        (Some("fail"), Some(true)),
        "{b}"
    );
    assert!(b["message"].as_str().unwrap().contains("max out of quota"), "{b}");
    assert_eq!(server.seen()[0].headers["anthropic-beta"], "oauth-2025-04-20");
}

#[test]
fn the_sidecar_polls_in_the_background_and_a_prompt_nudges_it() {
    let server = FakeUsageServer::start().unwrap();
    server.route(COPILOT, FakeReply::json(fixture("copilot/user.json")));
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    save_oauth(
        &mut s,
        "github-copilot",
        "work",
        json!({"type": "oauth", "access": "tid=FAKE;exp=1", "refresh": "gho_FAKE_poll_0001", "expires": 0}),
    );
    let e = event(&mut s, "usage_refreshed", "github-copilot");
    assert_eq!(e["metadata"]["usedPercent"], "60");
    assert_eq!(server.count(COPILOT), 1);
    assert_eq!(server.seen()[0].headers["authorization"], "token gho_FAKE_poll_0001");
    let a = s.account("github-copilot", "work");
    assert_eq!(a["usage"]["remainingUnits"], 120.0);

    // A prompt 31 s later asks for fresh usage (the interval is 60 s).
    s.call("test.advanceClock", json!({"ms": 31_000}));
    s.call(
        "chat.message",
        json!({"sessionID": "s", "model": {"providerID": "github-copilot", "modelID": "m"}}),
    );
    eventually("the prompt's read", || server.count(COPILOT) == 2);
}

#[test]
fn passive_rate_limit_headers_update_the_snapshot_between_polls() {
    let server = FakeUsageServer::start().unwrap();
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    s.save_api("mock", "a", "sk-FAKE-mock-0001");
    request(
        &mut s,
        "mock",
        200,
        json!({"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "10", "x-ratelimit-reset-requests": "30s"}),
    );
    let e = event(&mut s, "usage_refreshed", "mock");
    assert_eq!(e["metadata"]["confidence"], "estimated");
    let a = s.account("mock", "a");
    assert_eq!(a["usage"]["usedPercent"], 90.0);
    assert_eq!(a["usage"]["resetAt"], T0 + 30_000);
    assert_eq!(a["usage"]["confidence"], "estimated");
    assert!(server.seen().is_empty(), "mock has no usage endpoint: never polled");
}

#[test]
fn accounts_without_an_endpoint_get_a_plain_reason_and_bad_params_are_refused() {
    let server = FakeUsageServer::start().unwrap();
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    quiet(&mut s);
    s.save_api("mock", "a", "sk-FAKE-mock-0002");
    s.save_api("anthropic", "key", "sk-FAKE-anthropic-0002");
    let list = s.call("usage.list", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[0]["providerID"], "anthropic");
    assert!(
        list[0]["message"].as_str().unwrap().contains("rate-limit headers"),
        "{list}"
    );
    assert_eq!(list[1]["confidence"], "unavailable");
    assert_eq!(
        list[1]["message"],
        "no usage endpoint is known for mock API-key accounts"
    );
    assert_eq!(list[1]["error"], "unsupported");
    let refreshed = s.call("usage.refresh", json!({}));
    assert_eq!(refreshed[1]["message"], list[1]["message"]);
    assert_eq!(s.call_err("usage.refresh", json!({"alias": "a"}))["code"], -32602);
    let missing = s.call_err("usage.refresh", json!({"providerID": "mock", "alias": "nope"}));
    assert_eq!(missing["code"], -32001);
    assert_eq!(missing["data"], json!({"providerID": "mock", "alias": "nope"}));
    assert_eq!(s.call_err("usage.refresh", json!({"providerID": 5}))["code"], -32602);
    assert!(server.seen().is_empty());
}

fn cli_text(store: &Path, server: &FakeUsageServer, args: &[&str], stdin: Option<&str>) -> String {
    cli_ok_with(store, args, stdin, &usage_env(server))
}

#[test]
fn the_cli_shows_usage_and_reads_it_only_when_asked() {
    let server = FakeUsageServer::start().unwrap();
    server.route(CLAUDE, FakeReply::json(fixture("anthropic/full.json")));
    let (_d, store) = temp_store();
    cli_text(
        &store,
        &server,
        &["accounts", "add", "anthropic", "max"],
        Some(r#"{"type":"oauth","access":"at-FAKE-cli-0001","refresh":"rt-FAKE-cli-0001","expires":1}"#),
    );
    let before = cli_text(&store, &server, &["usage"], None);
    assert!(
        before.contains("anthropic/max") && before.contains("not read yet"),
        "{before}"
    );
    assert!(server.seen().is_empty(), "the CLI never polls");
    let json: Value =
        serde_json::from_str(&cli_text(&store, &server, &["usage", "--refresh", "--json"], None)).unwrap();
    assert_eq!(json[0]["usedPercent"], 61.0);
    assert_eq!(server.count(CLAUDE), 1);
    let text = cli_text(&store, &server, &["usage"], None);
    assert!(text.starts_with("anthropic/max") && text.contains("61% used"), "{text}");
    assert!(text.contains("resets in 1h 0m"), "{text}");
    assert_eq!(server.count(CLAUDE), 1);
}

#[test]
fn no_credential_reaches_a_stored_payload_an_error_an_event_or_a_log() {
    const SECRETS: [&str; 6] = [
        "at-FAKE-SECRET-chatgpt-1111111111",
        "rt-FAKE-SECRET-chatgpt-2222222222",
        "sk-FAKE-SECRET-openai-3333333333",
        "gho_FAKE_SECRET_github_4444444444",
        "at-FAKE-SECRET-claude-5555555555",
        "rt-FAKE-SECRET-claude-6666666666",
    ];
    let server = FakeUsageServer::start().unwrap();
    // Every endpoint echoes the credential it was sent: in figures, credential-named keys, an
    // HTML error page, a rate-limit answer.
    server.route(
        WHAM,
        FakeReply::json(r#"{"plan_type":"plus {{authorization}}","echo":"{{authorization}}","access_token":"{{authorization}}","rate_limit":{"primary_window":{"used_percent":5,"limit_window_seconds":18000,"reset_at":1700003600}}}"#),
    );
    server.route(
        ORG_USAGE,
        FakeReply::status(500, "<html><body>{{authorization}} failed</body></html>")
            .header("content-type", "text/html"),
    );
    server.route(
        COPILOT,
        FakeReply::json(r#"{"login":"octo","copilot_plan":"{{authorization}}","token":"{{authorization}}","quota_snapshots":{"premium_interactions":{"entitlement":300,"remaining":100,"percent_remaining":33.3}}}"#),
    );
    server.route(
        CLAUDE,
        FakeReply::status(429, r#"{"error":"{{authorization}}"}"#).header("retry-after", "60"),
    );
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    quiet(&mut s);
    save_oauth(
        &mut s,
        "openai",
        "plan",
        json!({"type": "oauth", "access": SECRETS[0], "refresh": SECRETS[1], "expires": 1}),
    );
    s.save_api("openai", "key", SECRETS[2]);
    save_oauth(
        &mut s,
        "github-copilot",
        "work",
        json!({"type": "oauth", "access": "tid=x", "refresh": SECRETS[3], "expires": 0}),
    );
    save_oauth(
        &mut s,
        "anthropic",
        "max",
        json!({"type": "oauth", "access": SECRETS[4], "refresh": SECRETS[5], "expires": 1}),
    );
    let got = s.call("usage.refresh", json!({}));
    assert_eq!(got.as_array().unwrap().len(), 4, "{got}");
    assert_eq!(server.seen().len(), 4, "every endpoint was asked (and echoed)");
    let plan = got.as_array().unwrap().iter().find(|u| u["alias"] == "plan").unwrap();
    assert_eq!(plan["planName"], "plus Bearer [redacted]");
    let key = got.as_array().unwrap().iter().find(|u| u["alias"] == "key").unwrap();
    assert_eq!(key["error"], "server_error: the usage endpoint failed (HTTP 500)");
    let max = got.as_array().unwrap().iter().find(|u| u["alias"] == "max").unwrap();
    assert!(max["error"].as_str().unwrap().starts_with("rate_limited"), "{max}");

    let mut visible = vec![
        got.to_string(),
        s.call("usage.list", json!({})).to_string(),
        s.call("accounts.list", json!({})).to_string(),
        s.call("events.list", json!({"limit": 1000})).to_string(),
        s.call("command.run", json!({"text": "usage"})).to_string(),
    ];
    let (_, _, lines, stderr) = s.finish();
    assert!(stderr.contains("usage read"), "trace logging was on: {stderr}");
    visible.push(stderr);
    visible.extend(lines);
    let db = rusqlite::Connection::open(&store).unwrap();
    let mut stmt = db
        .prepare("SELECT coalesce(payload_json, '') || coalesce(snapshot_json, '') FROM usage_snapshots")
        .unwrap();
    let stored: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(stored.len(), 4);
    let chatgpt_raw: String = db
        .query_row(
            "SELECT payload_json FROM usage_snapshots WHERE alias = 'plan'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let raw: Value = serde_json::from_str(&chatgpt_raw).unwrap();
    assert_eq!(raw["wham/usage"]["echo"], "Bearer [redacted]");
    assert_eq!(
        raw["wham/usage"]["access_token"], "",
        "a credential-named key is blanked"
    );
    visible.extend(stored);
    let mut stmt = db
        .prepare("SELECT message || coalesce(metadata_json, '') FROM events")
        .unwrap();
    visible.extend(
        stmt.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap),
    );
    visible.push(cli_text(&store, &server, &["usage"], None));
    visible.push(cli_text(
        &store,
        &server,
        &["events", "--json", "--limit", "1000"],
        None,
    ));
    for text in &visible {
        for secret in SECRETS {
            assert!(!text.contains(&secret[..20]), "a credential leaked into: {text}");
        }
    }
}

#[test]
fn a_full_reading_with_a_reset_years_away_cools_down_for_the_cap_and_says_clamped() {
    let server = FakeUsageServer::start().unwrap();
    server.route(
        CLAUDE,
        FakeReply::json(json!({"five_hour": {"utilization": 100.0, "resets_at": "2099-01-01T00:00:00Z"}}).to_string()),
    );
    let (_d, store) = temp_store();
    let mut s = start(&store, &server);
    quiet(&mut s);
    save_oauth(
        &mut s,
        "anthropic",
        "max",
        json!({"type": "oauth", "access": "at-FAKE-claude-0002", "refresh": "rt-FAKE-claude-0002", "expires": 1}),
    );
    s.call("usage.refresh", json!({"providerID": "anthropic", "alias": "Max"}));
    let cap = 7 * 24 * 3_600_000;
    let limited = event(&mut s, "rate_limit_detected", "anthropic");
    assert_eq!(limited["metadata"]["until"], (T0 + cap).to_string());
    assert_eq!(limited["metadata"]["clamped"], "true");
    assert_eq!(s.account("anthropic", "max")["coolingDownUntil"], T0 + cap);
}

/// Three intervals of the test clock (75 s each: longer than the 60 s interval plus its 20 %
/// jitter), each of which must bring one more background read, taken at that time. Waits for the
/// reading itself (its time in `usage.list`), not the request reaching the server: the clock must
/// not move on while the sidecar is still between the two. Returns the clock.
fn three_background_reads_follow(s: &mut Sidecar, server: &FakeUsageServer) -> i64 {
    let before = server.count(COPILOT);
    let mut now = 0;
    for round in 1..=3 {
        now = s.call("test.advanceClock", json!({"ms": 75_000}))["now"]
            .as_i64()
            .unwrap();
        eventually("the next background read", || {
            let list = s.call("usage.list", json!({}));
            list.as_array().unwrap().iter().any(|u| u["fetchedAt"] == now)
        });
        assert_eq!(server.count(COPILOT), before + round, "one read per interval");
    }
    now
}

#[test]
fn an_account_read_on_demand_before_the_first_round_is_still_polled_every_interval() {
    let server = FakeUsageServer::start().unwrap();
    server.route(COPILOT, FakeReply::json(fixture("copilot/user.json")));
    let (_d, store) = temp_store();
    let auth = r#"{"type":"oauth","access":"tid=FAKE;exp=1","refresh":"gho_FAKE_poll_0002","expires":0}"#;
    cli_ok(&store, &["accounts", "add", "github-copilot", "work"], Some(auth));
    let mut s = start(&store, &server);
    s.call(
        "usage.refresh",
        json!({"providerID": "github-copilot", "alias": "work"}),
    );
    let now = three_background_reads_follow(&mut s, &server);
    // Another process (the CLI, on the same clock) reading it on demand does not take it off this
    // one's schedule.
    let mut env = usage_env(&server);
    env.push(("OPENCODE_BALANCER_TEST_CLOCK".into(), now.to_string()));
    cli_ok_with(&store, &["usage", "--refresh"], None, &env);
    three_background_reads_follow(&mut s, &server);
}
