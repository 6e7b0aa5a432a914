//! Keeping a turn going through the real binary over pipes: a dry provider's request moves to the
//! next provider of the priority list (`switch`), ends at once when every account rests long
//! (`fail`), and is left to opencode when the rest is short.

use crate::common::*;
use serde_json::{json, Value};

const A_URL: &str = "http://127.0.0.1:9/a/v1";
const B_URL: &str = "http://127.0.0.1:9/b/v1";

fn describe(s: &mut Sidecar, b_npm: &str) {
    s.call(
        "providers.describe",
        json!({"providers": [
            {"providerID": "pa", "npm": "@ai-sdk/openai-compatible", "baseURL": A_URL},
            {"providerID": "pb", "npm": b_npm, "baseURL": B_URL},
        ]}),
    );
}

/// Two providers, one key each, `pa` first in the priority list with model `ma`, `pb` with `mb`.
fn setup(balancing: bool) -> (tempfile::TempDir, Sidecar) {
    let (d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("pa", "alpha", "sk-test-pa-alpha-FAKE");
    s.save_api("pb", "bravo", "sk-test-pb-bravo-FAKE");
    s.call("priority.setModel", json!({"providerID": "pa", "modelID": "ma"}));
    s.call("priority.setModel", json!({"providerID": "pb", "modelID": "mb"}));
    s.call("balancing.set", json!({"enabled": balancing}));
    (d, s)
}

fn open(s: &mut Sidecar, session: &str, provider: &str) -> Value {
    s.call(
        "chat.headers",
        json!({"sessionID": session, "providerID": provider, "modelID": "ma"}),
    )
}

fn begin(s: &mut Sidecar, id: &str) -> Value {
    s.call(
        "fetch.begin",
        json!({"requestID": id, "url": format!("{A_URL}/chat/completions"), "method": "POST",
               "headerNames": ["authorization", "content-type"], "authorization": "bearer"}),
    )
}

fn result(s: &mut Sidecar, id: &str, attempt: u32, status: u16, headers: Value, body: &str) -> Value {
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": attempt, "status": status, "headers": headers, "body": body}),
    )
}

fn first_request(s: &mut Sidecar) -> String {
    let id = open(s, "s1", "pa")["requestID"].as_str().unwrap().to_string();
    assert_eq!(begin(s, &id)["account"]["alias"], "alpha");
    id
}

#[test]
fn a_dry_provider_with_balancing_on_moves_the_request_to_the_next_provider_with_its_key_url_and_model() {
    let (_d, mut s) = setup(true);
    describe(&mut s, "@ai-sdk/openai-compatible");
    let id = first_request(&mut s);
    let r = result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), "{}");
    assert_eq!(r["action"], "switch", "{r}");
    assert_eq!(r["account"], json!({"providerID": "pb", "alias": "bravo"}));
    assert_eq!(r["modelID"], "mb");
    assert_eq!(r["url"], format!("{B_URL}/chat/completions"));
    assert_eq!(
        r["setHeaders"],
        json!({"authorization": "Bearer sk-test-pb-bravo-FAKE"})
    );
    assert_eq!(r["body"]["set"], json!({"model": "mb"}));
    // Reasoning items and thinking blocks of the first provider never reach the next one.
    assert_eq!(r["stripState"], json!({"scope": "provider-move"}));
    assert!(r["body"]["remove"]
        .as_array()
        .unwrap()
        .contains(&json!("reasoning_effort")));
    assert_eq!(
        r["removeHeaders"],
        json!(["chatgpt-account-id", "x-openai-internal-codex-residency"]),
        "only the names an earlier answer may have added: content-type stays, authorization is set"
    );
    // The answer of the moved attempt is recorded on the new account.
    assert_eq!(result(&mut s, &id, 2, 200, json!({}), "")["action"], "return");
    assert!(s.account("pb", "bravo")["lastUsedAt"].is_number());
    let toast = s.wait_notification(|n| n["method"] == "toast" && n["params"]["variant"] == "warning");
    assert!(
        toast["params"]["message"].as_str().unwrap().contains("pb/mb"),
        "{toast}"
    );
    assert!(
        toast["params"]["message"]
            .as_str()
            .unwrap()
            .contains("turn moved to pb/bravo"),
        "names where the turn went: {toast}"
    );
    let ev = s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "provider_switched");
    assert_eq!(ev["params"]["metadata"]["from"], "pa");
    assert_eq!(ev["params"]["metadata"]["to"], "pb");
    assert_eq!(ev["params"]["metadata"]["mode"], "resend");
    // The next message starts on the new provider.
    let m = s.call(
        "chat.message",
        json!({"sessionID": "s1", "model": {"providerID": "pa", "modelID": "ma"}}),
    );
    assert_eq!(m["model"], json!({"providerID": "pb", "modelID": "mb"}));
}

#[test]
fn a_request_opened_on_a_dry_provider_moves_before_it_is_sent() {
    let (_d, mut s) = setup(true);
    describe(&mut s, "@ai-sdk/openai-compatible");
    let id = first_request(&mut s);
    result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), "{}");
    // A later request of the same turn still names pa (opencode keeps the message's model).
    let id = open(&mut s, "s1", "pa")["requestID"]
        .as_str()
        .expect("a dry provider's request still gets an id")
        .to_string();
    let b = begin(&mut s, &id);
    assert_eq!(b["action"], "switch", "{b}");
    assert_eq!(
        b["passthrough"], true,
        "a plugin that does not know `switch` passes it through"
    );
    assert_eq!(b["url"], format!("{B_URL}/chat/completions"));
}

#[test]
fn when_the_next_provider_speaks_another_api_the_wait_ends_and_the_next_message_goes_there() {
    let (_d, mut s) = setup(true);
    describe(&mut s, "@ai-sdk/anthropic");
    let id = first_request(&mut s);
    let r = result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), "{}");
    assert_eq!(r["action"], "fail", "{r}");
    assert_eq!(r["status"], 400);
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("your next message will use pb/mb"), "{message}");
    assert!(message.contains("alpha until"), "{message}");
    assert_eq!(
        r["resubmit"],
        json!({"sessionID": "s1", "providerID": "pb", "modelID": "mb",
               "message": r["resubmit"]["message"].clone()})
    );
    let ev = s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "provider_switched");
    assert_eq!(ev["params"]["metadata"]["mode"], "next-message");
    let m = s.call(
        "chat.message",
        json!({"sessionID": "s1", "model": {"providerID": "pa", "modelID": "ma"}}),
    );
    assert_eq!(m["model"], json!({"providerID": "pb", "modelID": "mb"}));
}

#[test]
fn balancing_off_a_long_rest_is_answered_at_once_naming_when_the_account_is_back() {
    let (_d, mut s) = setup(false);
    describe(&mut s, "@ai-sdk/openai-compatible");
    let id = first_request(&mut s);
    let r = result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), "{}");
    assert_eq!(r["action"], "fail", "{r}");
    assert!(r.get("resubmit").is_none(), "no switch the user did not ask for");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("every account of pa is resting"), "{message}");
    assert!(
        message.contains("alpha until") && message.contains("(in 2 min)"),
        "{message}"
    );
    assert!(message.contains("/balancer balancing on"), "{message}");
    for word in ["429", "rate limit", "try again", "exhausted", "unavailable"] {
        assert!(!message.to_lowercase().contains(word), "{word} in {message}");
    }
    // The next request on the same provider ends at once too, before anything is sent.
    let id = open(&mut s, "s1", "pa")["requestID"].as_str().unwrap().to_string();
    let b = begin(&mut s, &id);
    assert_eq!(b["action"], "fail", "{b}");
    let m = s.call(
        "chat.message",
        json!({"sessionID": "s1", "model": {"providerID": "pa", "modelID": "ma"}}),
    );
    assert!(m.get("model").is_none(), "balancing off never picks another model: {m}");
}

#[test]
fn an_insufficient_quota_body_counts_as_dry() {
    let (_d, mut s) = setup(false);
    let id = first_request(&mut s);
    let body = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
    // No reset hint (a 30 s backoff), but an account out of credit is not back by waiting.
    let r = result(&mut s, &id, 1, 429, json!({}), body);
    assert_eq!(r["action"], "fail", "{r}");
    assert!(r["message"].as_str().unwrap().contains("alpha out of quota"), "{r}");
    assert_eq!(s.account("pa", "alpha")["cooldownReason"], "quota");
}

#[test]
fn short_rests_stay_with_opencode_and_the_threshold_is_a_validated_setting() {
    let (_d, mut s) = setup(false);
    let id = first_request(&mut s);
    let r = result(&mut s, &id, 1, 429, json!({"retry-after": "5"}), "{}");
    assert_eq!(r["action"], "return");
    assert_eq!(s.call("settings.get", json!({}))["maxWaitSeconds"], 60);
    let e = s.call_err("settings.set", json!({"key": "maxWaitSeconds", "value": -1}));
    assert_eq!(e["code"], -32602);
    assert!(e["message"].as_str().unwrap().contains("maxWaitSeconds"), "{e}");
    assert_eq!(
        s.call("settings.get", json!({}))["maxWaitSeconds"],
        60,
        "a refused value changes nothing"
    );
}

#[test]
fn when_the_next_provider_refuses_too_the_request_ends_cleanly_without_a_loop() {
    let (_d, mut s) = setup(true);
    describe(&mut s, "@ai-sdk/openai-compatible");
    let id = first_request(&mut s);
    assert_eq!(
        result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), "{}")["action"],
        "switch"
    );
    let r = result(&mut s, &id, 2, 429, json!({"retry-after": "300"}), "{}");
    assert_eq!(r["action"], "fail", "pa was left already: never back to it ({r})");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("every account of pb is resting"), "{message}");
    assert!(message.contains("/balancer priority"), "{message}");
}

#[test]
fn a_provider_whose_accounts_are_all_disabled_is_left_alone() {
    let (_d, mut s) = setup(false);
    s.call(
        "accounts.setDisabled",
        json!({"providerID": "pa", "alias": "alpha", "disabled": true}),
    );
    assert!(open(&mut s, "s1", "pa").get("requestID").is_none());
}

/// Names of a request through gateways and proxies: each may carry the first provider's
/// credential (or name its account), and none may reach the next provider.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "x-portkey-api-key",
    "x-portkey-virtual-key",
    "helicone-auth",
    "cf-aig-authorization",
    "cookie",
    "openai-organization",
    "openai-project",
    "chatgpt-account-id",
    "x-stainless-api-key",
    "x-custom-token",
    "x-title",
];

/// Names that describe the request and carry no credential: they go along.
const NEUTRAL: &[&str] = &["content-type", "accept", "user-agent", "x-stainless-lang"];

fn switch_with(s: &mut Sidecar, url: &str, names: &[&str]) -> Value {
    let id = open(s, "s1", "pa")["requestID"].as_str().unwrap().to_string();
    let b = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": url, "method": "POST", "headerNames": names, "authorization": "bearer"}),
    );
    assert_eq!(b["account"]["alias"], "alpha", "{b}");
    result(s, &id, 1, 429, json!({"retry-after": "120"}), "{}")
}

#[test]
fn a_switch_removes_every_header_that_could_carry_the_first_providers_credential_and_keeps_neutral_ones() {
    let (_d, mut s) = setup(true);
    describe(&mut s, "@ai-sdk/openai-compatible");
    let names: Vec<&str> = CREDENTIAL_HEADERS.iter().chain(NEUTRAL).copied().collect();
    let r = switch_with(&mut s, &format!("{A_URL}/chat/completions"), &names);
    assert_eq!(r["action"], "switch", "{r}");
    assert_eq!(
        r["setHeaders"],
        json!({"authorization": "Bearer sk-test-pb-bravo-FAKE", "x-stainless-api-key": "sk-test-pb-bravo-FAKE"}),
        "only the next provider's credential is set, in the key headers the SDK uses"
    );
    let removed: Vec<&str> = r["removeHeaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in CREDENTIAL_HEADERS.iter().filter(|n| r["setHeaders"].get(**n).is_none()) {
        assert!(removed.contains(name), "{name} reaches the next provider: {r}");
    }
    for name in NEUTRAL {
        assert!(!removed.contains(name), "{name} is removed: {r}");
    }
    let text = r.to_string();
    assert!(!text.contains("sk-test-pa-alpha-FAKE"), "{text}");
}

#[test]
fn an_api_key_header_carries_the_next_providers_key_and_a_bearer_set_before_is_removed() {
    let (_d, mut s) = setup(true);
    describe(&mut s, "@ai-sdk/openai-compatible");
    let id = open(&mut s, "s1", "pa")["requestID"].as_str().unwrap().to_string();
    let b = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": format!("{A_URL}/chat/completions"), "method": "POST",
               "headerNames": ["api-key", "content-type"]}),
    );
    assert_eq!(b["setHeaders"], json!({"api-key": "sk-test-pa-alpha-FAKE"}));
    let r = result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), "{}");
    assert_eq!(r["action"], "switch", "{r}");
    assert_eq!(r["setHeaders"], json!({"api-key": "sk-test-pb-bravo-FAKE"}));
    assert!(
        r["removeHeaders"].as_array().unwrap().contains(&json!("authorization")),
        "{r}"
    );
}

#[test]
fn no_query_parameter_of_the_first_providers_url_survives_a_switch() {
    for query in [
        "?api-key=sk-FAKE-a",
        "?key=sk-FAKE-a",
        "?token=tk-FAKE-a",
        "?v=1&key=sk-FAKE-a",
    ] {
        let (_d, mut s) = setup(true);
        describe(&mut s, "@ai-sdk/openai-compatible");
        let r = switch_with(&mut s, &format!("{A_URL}/chat/completions{query}"), &["authorization"]);
        assert_eq!(r["action"], "switch", "{r}");
        assert_eq!(r["url"], format!("{B_URL}/chat/completions"), "{query}");
    }
}

#[test]
fn a_request_moved_before_it_is_sent_loses_the_first_providers_query_and_credential_headers() {
    let (_d, mut s) = setup(true);
    describe(&mut s, "@ai-sdk/openai-compatible");
    let id = first_request(&mut s);
    result(&mut s, &id, 1, 429, json!({"retry-after": "120"}), "{}");
    let id = open(&mut s, "s1", "pa")["requestID"].as_str().unwrap().to_string();
    let b = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": format!("{A_URL}/chat/completions?key=sk-FAKE-a"), "method": "POST",
               "headerNames": ["authorization", "helicone-auth", "cookie", "content-type"], "authorization": "bearer"}),
    );
    assert_eq!(b["action"], "switch", "{b}");
    assert_eq!(b["url"], format!("{B_URL}/chat/completions"));
    let removed = b["removeHeaders"].as_array().unwrap();
    assert!(
        removed.contains(&json!("helicone-auth")) && removed.contains(&json!("cookie")),
        "{b}"
    );
    assert!(!removed.contains(&json!("content-type")), "{b}");
}

#[test]
fn a_switch_sets_the_next_providers_configured_headers_and_not_the_first_ones() {
    let (_d, mut s) = setup(true);
    s.call(
        "providers.describe",
        json!({"providers": [
            {"providerID": "pa", "npm": "@ai-sdk/openai-compatible", "baseURL": A_URL,
             "headers": {"helicone-auth": "Bearer hk-FAKE-pa", "X-Title": "first"}},
            {"providerID": "pb", "npm": "@ai-sdk/openai-compatible", "baseURL": B_URL,
             "headers": {"Helicone-Auth": "Bearer hk-FAKE-pb", "HTTP-Referer": "https://b.example/",
                         "x-bad": "v\r\nx-injected: 1"}},
        ]}),
    );
    let r = switch_with(
        &mut s,
        &format!("{A_URL}/chat/completions"),
        &["authorization", "helicone-auth", "x-title", "content-type"],
    );
    assert_eq!(r["action"], "switch", "{r}");
    assert_eq!(
        r["setHeaders"],
        json!({"authorization": "Bearer sk-test-pb-bravo-FAKE", "helicone-auth": "Bearer hk-FAKE-pb",
               "http-referer": "https://b.example/"})
    );
    let removed = r["removeHeaders"].as_array().unwrap();
    assert!(removed.contains(&json!("x-title")), "{r}");
    assert!(
        !removed.contains(&json!("helicone-auth")),
        "set again, not removed: {r}"
    );
    assert!(!r.to_string().contains("hk-FAKE-pa"), "{r}");
    let (_, _, _, stderr) = s.finish();
    assert!(
        !stderr.contains("hk-FAKE"),
        "a configured header's value reached the log"
    );
}
