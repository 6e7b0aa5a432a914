//! The retry balancer through the real binary over pipes: selection, strategies, cooldowns,
//! failover, exhaustion and cross-process steering.

use crate::common::*;
use serde_json::{json, Value};

/// Opens a request for `session` on `provider` and returns its id.
fn open(s: &mut Sidecar, session: &str, provider: &str) -> String {
    let h = s.call(
        "chat.headers",
        json!({"sessionID": session, "providerID": provider, "modelID": "m1"}),
    );
    h["requestID"]
        .as_str()
        .expect("a managed provider gets a request id")
        .to_string()
}

/// `fetch.begin` with a bearer header; returns (alias, setHeaders).
fn begin(s: &mut Sidecar, id: &str) -> (String, Value) {
    let r = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/v1/chat/completions", "method": "POST",
               "headerNames": ["authorization", "content-type"], "authorization": "bearer"}),
    );
    (
        r["account"]["alias"].as_str().unwrap().to_string(),
        r["setHeaders"].clone(),
    )
}

fn result(s: &mut Sidecar, id: &str, attempt: u32, status: u16, headers: Value, body: Option<&str>) -> Value {
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": attempt, "status": status, "headers": headers, "body": body}),
    )
}

/// Which account a full request lands on (and succeeds).
fn request_once(s: &mut Sidecar, session: &str, provider: &str) -> String {
    let id = open(s, session, provider);
    let (alias, _) = begin(s, &id);
    assert_eq!(result(s, &id, 1, 200, json!({}), None)["action"], "return");
    alias
}

fn setup(accounts: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf, Sidecar) {
    let (d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    for (p, a) in accounts {
        s.save_api(p, a, &format!("sk-test-{p}-{a}-FAKE"));
    }
    (d, store, s)
}

fn advance(s: &mut Sidecar, ms: i64) {
    s.call("test.advanceClock", json!({"ms": ms}));
}

#[test]
fn a_429_fails_over_to_the_next_healthy_account_with_its_bearer() {
    let (_d, _st, mut s) = setup(&[("p", "b"), ("p", "a")]);
    let id = open(&mut s, "s1", "p");
    let (alias, headers) = begin(&mut s, &id);
    assert_eq!(alias, "a", "the active account goes first");
    assert_eq!(headers, json!({"authorization": "Bearer sk-test-p-a-FAKE"}));
    let r = result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), Some("{}"));
    assert_eq!(r["action"], "retry");
    assert_eq!(r["account"], json!({"providerID": "p", "alias": "b"}));
    assert_eq!(r["setHeaders"], json!({"authorization": "Bearer sk-test-p-b-FAKE"}));
    assert_eq!(result(&mut s, &id, 2, 200, json!({}), None)["action"], "return");
    let a = s.account("p", "a");
    assert_eq!(a["coolingDownUntil"], T0 + 120_000);
    assert_eq!(a["failures"], 1);
    let toast = s.wait_notification(|n| n["method"] == "toast");
    assert_eq!(toast["params"]["variant"], "warning");
    let ev = s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "failover_performed");
    assert_eq!(ev["params"]["metadata"]["from"], "a");
    let rl = s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "rate_limit_detected");
    assert_eq!(rl["params"]["metadata"]["until"], (T0 + 120_000).to_string());
    assert_eq!(rl["params"]["metadata"]["source"], "retry-after");
}

#[test]
fn x_api_key_is_rewritten_in_place_instead_of_adding_a_bearer() {
    let (_d, _st, mut s) = setup(&[("anthropic", "one")]);
    let id = open(&mut s, "s", "anthropic");
    let r = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/v1/messages", "method": "POST", "headerNames": ["X-Api-Key", "anthropic-version"]}),
    );
    assert_eq!(r["setHeaders"], json!({"x-api-key": "sk-test-anthropic-one-FAKE"}));
}

#[test]
fn an_unmanaged_provider_is_left_alone() {
    let (_d, _st, mut s) = setup(&[("p", "a")]);
    assert_eq!(
        s.call(
            "chat.headers",
            json!({"sessionID": "s", "providerID": "other", "modelID": "m"})
        ),
        json!({})
    );
    assert_eq!(
        s.call(
            "chat.message",
            json!({"sessionID": "s", "model": {"providerID": "other", "modelID": "m"}})
        ),
        json!({})
    );
}

#[test]
fn sticky_keeps_the_account_until_its_cooldown_ends_by_itself() {
    let (_d, _st, mut s) = setup(&[("p", "b"), ("p", "a")]);
    assert_eq!(request_once(&mut s, "s1", "p"), "a");
    assert_eq!(request_once(&mut s, "s2", "p"), "a");
    let id = open(&mut s, "s1", "p");
    begin(&mut s, &id);
    assert_eq!(
        result(&mut s, &id, 1, 429, json!({"retry-after": "60"}), None)["action"],
        "retry"
    );
    result(&mut s, &id, 2, 200, json!({}), None);
    assert_eq!(
        request_once(&mut s, "s1", "p"),
        "b",
        "the session stays on the account that works"
    );
    assert_eq!(
        request_once(&mut s, "s3", "p"),
        "b",
        "sticky: failover made b the active account"
    );
    advance(&mut s, 61_000);
    assert!(
        s.account("p", "a")["coolingDownUntil"].is_null(),
        "the cooldown ended by itself"
    );
    s.call("accounts.activate", json!({"providerID": "p", "alias": "a"}));
    assert_eq!(request_once(&mut s, "s4", "p"), "a");
}

#[test]
fn round_robin_rotates_across_sessions() {
    let (_d, _st, mut s) = setup(&[("p", "a"), ("p", "b"), ("p", "c")]);
    s.call("settings.set", json!({"key": "strategy", "value": "round-robin"}));
    let picks: Vec<String> = (0..6).map(|i| request_once(&mut s, &format!("s{i}"), "p")).collect();
    assert_eq!(picks, ["a", "b", "c", "a", "b", "c"]);
    assert_eq!(request_once(&mut s, "s0", "p"), "a", "a session keeps its account");
}

#[test]
fn lru_picks_the_account_used_longest_ago() {
    let (_d, _st, mut s) = setup(&[("p", "a"), ("p", "b"), ("p", "c")]);
    s.call("settings.set", json!({"key": "strategy", "value": "lru"}));
    let at = |s: &mut Sidecar, session: &str| {
        advance(s, 1_000);
        request_once(s, session, "p")
    };
    assert_eq!(at(&mut s, "s1"), "a", "never used ranks first, then by alias");
    assert_eq!(at(&mut s, "s2"), "b");
    assert_eq!(at(&mut s, "s1"), "a", "s1 keeps a and uses it again");
    assert_eq!(at(&mut s, "s3"), "c");
    assert_eq!(at(&mut s, "s4"), "b", "b was used longest ago; round-robin would say a");
}

/// Writes a usage snapshot the way the usage refresher (or another process) would.
fn put_usage(store: &std::path::Path, provider: &str, alias: &str, used: f64) {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let snap = json!({"providerID": provider, "alias": alias, "fetchedAt": T0, "confidence": "exact", "usedPercent": used, "message": "test"});
    conn.execute(
        "INSERT INTO usage_snapshots (provider_id, alias, fetched_at, snapshot_json) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![provider, alias, T0, snap.to_string()],
    )
    .unwrap();
}

fn wait_usage(s: &mut Sidecar, provider: &str, alias: &str) {
    eventually("usage visible", || !s.account(provider, alias)["usage"].is_null());
}

#[test]
fn quota_prefers_the_most_headroom_and_ranks_unknown_last() {
    let (_d, store, mut s) = setup(&[("p", "a"), ("p", "b"), ("p", "c")]);
    s.call("settings.set", json!({"key": "strategy", "value": "quota"}));
    put_usage(&store, "p", "a", 70.0);
    put_usage(&store, "p", "b", 20.0);
    wait_usage(&mut s, "p", "b");
    assert_eq!(request_once(&mut s, "s1", "p"), "b");
    put_usage(&store, "p", "b", 85.0);
    eventually("b's new usage", || s.account("p", "b")["usage"]["usedPercent"] == 85.0);
    assert_eq!(
        request_once(&mut s, "s2", "p"),
        "a",
        "unknown (c) ranks after every known value"
    );
}

#[test]
fn soft_limit_moves_off_an_account_unless_every_account_is_above_it() {
    let (_d, store, mut s) = setup(&[("p", "b"), ("p", "a")]);
    put_usage(&store, "p", "a", 95.0);
    wait_usage(&mut s, "p", "a");
    assert_eq!(request_once(&mut s, "s1", "p"), "b", "a is over the 90% soft limit");
    put_usage(&store, "p", "b", 97.0);
    eventually("b over too", || s.account("p", "b")["usage"]["usedPercent"] == 97.0);
    s.call("accounts.activate", json!({"providerID": "p", "alias": "a"}));
    assert_eq!(
        request_once(&mut s, "s2", "p"),
        "a",
        "all above: the active one still serves"
    );
}

fn cooldown_after(status: u16, headers: Value, body: Option<&str>) -> (i64, Value) {
    let (_d, _st, mut s) = setup(&[("p", "a")]);
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    let r = result(&mut s, &id, 1, status, headers, body);
    // No other account to fail over to: the answer goes back, or a long rest is answered at once
    // (tests/turn.rs).
    assert!(r["action"] == "return" || r["action"] == "fail", "{r}");
    let a = s.account("p", "a");
    (a["coolingDownUntil"].as_i64().map(|t| t - T0).unwrap_or(-1), a)
}

#[test]
fn retry_after_in_seconds_and_as_an_http_date() {
    assert_eq!(cooldown_after(429, json!({"retry-after": "42"}), None).0, 42_000);
    // T0 + 90 s as an HTTP-date.
    assert_eq!(
        cooldown_after(429, json!({"Retry-After": "Tue, 14 Nov 2023 22:14:50 GMT"}), None).0,
        90_000
    );
}

#[test]
fn provider_reset_headers_set_the_cooldown() {
    assert_eq!(
        cooldown_after(429, json!({"x-ratelimit-reset-requests": "6m0s"}), None).0,
        360_000
    );
    assert_eq!(
        cooldown_after(
            529,
            json!({"anthropic-ratelimit-requests-reset": "2023-11-14T22:15:00Z"}),
            None
        )
        .0,
        100_000
    );
}

#[test]
fn body_hints_set_the_cooldown_and_quota_phrases_count_on_any_status() {
    let (ms, a) = cooldown_after(
        400,
        json!({}),
        Some(r#"{"error":{"code":"insufficient_quota","resets_in_seconds":600}}"#),
    );
    assert_eq!((ms, a["cooldownReason"].clone()), (600_000, json!("quota")));
    assert_eq!(
        cooldown_after(429, json!({}), Some(r#"{"error":{"details":[{"retryDelay":"37s"}]}}"#)).0,
        37_000
    );
}

fn now(s: &mut Sidecar) -> i64 {
    s.call("test.advanceClock", json!({"ms": 0}))["now"].as_i64().unwrap()
}

/// One request on `p/a` answered 503; returns the cooldown it set, from now.
fn fail_once(s: &mut Sidecar) -> i64 {
    let id = open(s, "s", "p");
    begin(s, &id);
    result(s, &id, 1, 503, json!({}), None);
    s.account("p", "a")["coolingDownUntil"].as_i64().unwrap() - now(s)
}

#[test]
fn backoff_doubles_per_failure_and_resets_after_a_success() {
    let (_d, _st, mut s) = setup(&[("p", "a")]);
    let mut cooldowns = vec![];
    for _ in 0..3 {
        let c = fail_once(&mut s);
        cooldowns.push(c);
        advance(&mut s, c);
    }
    assert_eq!(cooldowns, [30_000, 60_000, 120_000]);
    assert_eq!(request_once(&mut s, "s", "p"), "a");
    assert_eq!(s.account("p", "a")["failures"], 0, "a success resets the count");
    assert_eq!(fail_once(&mut s), 30_000, "backoff starts over");
}

#[test]
fn a_401_marks_the_account_auth_failed_for_thirty_minutes_and_fails_over() {
    let (_d, _st, mut s) = setup(&[("p", "b"), ("p", "a")]);
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    let r = result(&mut s, &id, 1, 401, json!({}), Some(r#"{"error":"invalid api key"}"#));
    assert_eq!(
        (r["action"].clone(), r["account"]["alias"].clone()),
        (json!("retry"), json!("b"))
    );
    let a = s.account("p", "a");
    assert_eq!(
        (a["authFailed"].clone(), a["coolingDownUntil"].as_i64().unwrap() - T0),
        (json!(true), 1_800_000)
    );
    s.wait_notification(|n| n["params"]["type"] == "auth_failed");
}

#[test]
fn other_4xx_are_returned_without_a_cooldown() {
    for status in [400, 404, 422] {
        let (ms, a) = cooldown_after(status, json!({}), Some(r#"{"error":"bad request"}"#));
        assert_eq!((ms, a["failures"].clone()), (-1, json!(0)), "status {status}");
    }
}

#[test]
fn with_failover_off_the_answer_goes_back_but_the_account_still_cools_down() {
    let (_d, _st, mut s) = setup(&[("p", "b"), ("p", "a")]);
    s.call("settings.set", json!({"key": "failover", "value": false}));
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    assert_eq!(result(&mut s, &id, 1, 429, json!({}), None)["action"], "return");
    assert!(s.account("p", "a")["coolingDownUntil"].is_i64());
}

#[test]
fn max_attempts_bounds_the_retries() {
    let (_d, _st, mut s) = setup(&[("p", "a"), ("p", "b"), ("p", "c")]);
    s.call("settings.set", json!({"key": "maxAttempts", "value": 2}));
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    assert_eq!(result(&mut s, &id, 1, 429, json!({}), None)["action"], "retry");
    assert_eq!(result(&mut s, &id, 2, 429, json!({}), None)["action"], "return");
    s.wait_notification(|n| n["params"]["type"] == "failover_exhausted");
}

#[test]
fn exhaustion_then_the_next_message_moves_to_the_next_provider() {
    let (_d, _st, mut s) = setup(&[("p1", "a1"), ("p1", "a2"), ("p2", "b1")]);
    s.call("balancing.set", json!({"enabled": true}));
    s.call("priority.setModel", json!({"providerID": "p2", "modelID": "m2"}));
    let host = json!({"providerID": "p1", "modelID": "m1"});
    assert_eq!(
        s.call("chat.message", json!({"sessionID": "s", "model": host})),
        json!({}),
        "host's choice is healthy"
    );
    let id = open(&mut s, "s", "p1");
    begin(&mut s, &id);
    assert_eq!(result(&mut s, &id, 1, 429, json!({}), None)["action"], "retry");
    // p1 is dry; p2 takes over, but nothing is known of its API, so this request ends at once
    // and names where the next message goes (tests/turn.rs covers the resend).
    let r = result(&mut s, &id, 2, 429, json!({}), None);
    assert_eq!(r["action"], "fail", "{r}");
    assert_eq!(r["resubmit"]["providerID"], "p2");
    s.wait_notification(|n| n["params"]["type"] == "failover_exhausted");
    let r = s.call("chat.message", json!({"sessionID": "s", "model": host}));
    assert_eq!(r["model"], json!({"providerID": "p2", "modelID": "m2"}));
    let r = s.call("chat.message", json!({"sessionID": "s", "model": host}));
    assert_eq!(
        r["model"],
        json!({"providerID": "p2", "modelID": "m2"}),
        "the session stays on p2"
    );
    s.call("balancing.set", json!({"enabled": false}));
    assert_eq!(
        s.call("chat.message", json!({"sessionID": "s2", "model": host})),
        json!({}),
        "balancing off: opencode's choice stands"
    );
}

#[test]
fn a_cooldown_set_by_another_process_steers_this_one() {
    let (_d, store, mut first) = setup(&[("p", "b"), ("p", "a")]);
    let mut second = Sidecar::start(&store);
    // Failover off in the second process: only the cooldown (not a new active account) travels.
    second.call("settings.set", json!({"key": "failover", "value": false}));
    let id = open(&mut second, "x", "p");
    begin(&mut second, &id);
    assert_eq!(
        result(&mut second, &id, 1, 429, json!({"retry-after": "300"}), None)["action"],
        "return"
    );
    // Only hot-path calls here: the first process must catch up by itself.
    eventually("the first sidecar's hot path avoids the cooled account", || {
        // No answer is reported: a success on "a" would rightly prove it healthy again.
        let id = open(&mut first, "y", "p");
        begin(&mut first, &id).0 == "b"
    });
}

#[test]
fn concurrent_mutations_and_a_cooldown_in_one_write_are_all_kept() {
    let (_d, _st, mut s) = setup(&[("p", "b"), ("p", "a")]);
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    s.call("settings.set", json!({"key": "failover", "value": false}));
    let mut lines = String::new();
    for i in 0..30 {
        for j in 0..10 {
            let msg = json!({"jsonrpc": "2.0", "id": 1000 + i * 10 + j, "method": "accounts.save",
                "params": {"providerID": format!("q{i}"), "alias": format!("a{j}"), "auth": {"type": "api", "key": format!("sk-test-{i}-{j}-FAKE")}}});
            lines.push_str(&format!("{msg}\n"));
        }
    }
    lines.push_str(&format!(
        "{}\n",
        json!({"jsonrpc": "2.0", "id": 1, "method": "priority.setModel", "params": {"providerID": "p", "modelID": "m"}})
    ));
    lines.push_str(&format!(
        "{}\n",
        json!({"jsonrpc": "2.0", "id": 2, "method": "fetch.result", "params": {"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "300"}}})
    ));
    s.send_raw(lines.as_bytes());
    for _ in 0..302 {
        let r = s.next_reply();
        assert!(r.get("result").is_some(), "every call succeeds: {r}");
    }
    assert_eq!(
        s.call("status", json!({}))["accounts"],
        302,
        "memory holds every committed account"
    );
    let id = open(&mut s, "t", "p");
    assert_eq!(
        begin(&mut s, &id).0,
        "b",
        "the cooldown written beside a reload is kept"
    );
}

#[test]
fn with_every_account_cooling_requests_pass_through_and_the_account_returns_when_its_time_is_up() {
    let (_d, _st, mut s) = setup(&[("p", "a")]);
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    assert_eq!(
        result(&mut s, &id, 1, 429, json!({"retry-after": "60"}), None)["action"],
        "return"
    );
    // The SDK sends the same request again itself: it goes out untouched.
    let r = s.call("fetch.begin", json!({"requestID": id, "headerNames": []}));
    assert_eq!(r, json!({"passthrough": true}));
    // Its answer (on opencode's own credential) is not charged to, nor clears, the account.
    assert_eq!(result(&mut s, &id, 1, 200, json!({}), None)["action"], "return");
    let a = s.account("p", "a");
    assert_eq!(
        (a["coolingDownUntil"].as_i64(), a["failures"].clone()),
        (Some(T0 + 60_000), json!(1))
    );
    advance(&mut s, 60_001);
    let id = open(&mut s, "s", "p");
    assert_eq!(begin(&mut s, &id).0, "a", "the hot path uses it again by itself");
}

#[test]
fn reset_cooldown_clears_it_at_once() {
    let (_d, store, mut s) = setup(&[("p", "a")]);
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    result(&mut s, &id, 1, 429, json!({"retry-after": "999"}), None);
    let out = cli_ok(&store, &["accounts", "reset", "p", "a"], None);
    assert!(out.contains("cooldown cleared"), "{out}");
    eventually("reset visible", || s.account("p", "a")["coolingDownUntil"].is_null());
    assert_eq!(s.account("p", "a")["failures"], 0);
}

#[test]
fn the_demo_exits_zero_after_a_real_failover() {
    let out = std::process::Command::new(BIN).arg("demo").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("alpha → bravo"), "{text}");
    assert!(text.contains("failover_performed"), "{text}");
}

#[test]
fn failures_recorded_by_four_processes_at_once_add_up_in_the_store() {
    let (_d, store, first) = setup(&[("p", "a")]);
    let mut sidecars = vec![first];
    sidecars.extend((0..3).map(|_| Sidecar::start(&store)));
    // Every process sends its request before any of them hears back, as concurrent windows do.
    let ids: Vec<String> = sidecars
        .iter_mut()
        .map(|s| {
            let id = open(s, "s", "p");
            begin(s, &id);
            id
        })
        .collect();
    for (s, id) in sidecars.iter_mut().zip(&ids) {
        // The backoff doubles with the failures other processes recorded: past maxWaitSeconds
        // the answer is a final one at once (tests/turn.rs); never a retry, one account only.
        let action = result(s, id, 1, 503, json!({}), None)["action"].clone();
        assert!(action == "return" || action == "fail", "{action}");
    }
    for s in sidecars {
        assert_eq!(s.finish().0, Some(0));
    }
    let list: Value = serde_json::from_str(&cli_ok(&store, &["accounts", "list", "--json"], None)).unwrap();
    assert_eq!(list[0]["failures"], 4, "each process's failure counts: {list}");
}

#[test]
fn a_replayed_fetch_result_for_the_same_attempt_records_nothing_more() {
    let (_d, _st, mut s) = setup(&[("p", "c"), ("p", "b"), ("p", "a")]);
    let id = open(&mut s, "s1", "p");
    let (alias, _) = begin(&mut s, &id);
    assert_eq!(alias, "a");
    let first = result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), Some("{}"));
    assert_eq!(first["action"], "retry");
    assert_eq!(first["account"]["alias"], "b");
    for _ in 0..3 {
        let replay = result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), Some("{}"));
        assert_eq!(
            replay["action"], "return",
            "a replay is answered without a new failover"
        );
    }
    assert_eq!(s.account("p", "a")["failures"], 1, "one count for the attempt");
    for healthy in ["b", "c"] {
        let acc = s.account("p", healthy);
        assert_eq!(acc["failures"], 0, "{healthy} is not benched by a replay");
        assert!(acc["coolingDownUntil"].is_null(), "{healthy}: {acc}");
    }
    assert_eq!(result(&mut s, &id, 2, 200, json!({}), None)["action"], "return");
}

#[test]
fn an_absurd_retry_after_cools_the_account_for_the_seven_day_cap_and_the_event_says_clamped() {
    let (_d, _st, mut s) = setup(&[("p", "a")]);
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    let r = result(&mut s, &id, 1, 429, json!({"retry-after": "99999999999"}), None);
    assert_eq!(r["action"], "fail", "a week's rest is answered at once");
    let cap = 7 * 24 * 3_600_000;
    assert_eq!(s.account("p", "a")["coolingDownUntil"], T0 + cap);
    let rl = s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "rate_limit_detected");
    let meta = &rl["params"]["metadata"];
    assert_eq!(meta["until"], (T0 + cap).to_string());
    assert_eq!(
        (meta["clamped"].clone(), meta["hintSeconds"].clone()),
        (json!("true"), json!("99999999999"))
    );
}

#[test]
fn a_hint_within_the_limits_is_not_marked_clamped() {
    let (_d, _st, mut s) = setup(&[("p", "a")]);
    let id = open(&mut s, "s", "p");
    begin(&mut s, &id);
    result(&mut s, &id, 1, 429, json!({"retry-after-ms": "1500"}), None);
    assert_eq!(s.account("p", "a")["coolingDownUntil"], T0 + 1_500);
    let rl = s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "rate_limit_detected");
    assert_eq!(rl["params"]["metadata"]["clamped"], Value::Null);
}
