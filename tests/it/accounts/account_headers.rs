//! Headers that belong to an account follow it across a switch, through the real binary over
//! pipes: ChatGPT's account id and compute residency are the chosen account's or removed, and a
//! Copilot request carries the GitHub token (`refresh`), never a stale `access`.

use crate::common::*;
use base64::Engine;
use serde_json::{json, Value};

fn jwt(claims: Value) -> String {
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("eyJhbGciOiJub25lIn0.{body}.FAKE-signature")
}

fn save_oauth(s: &mut Sidecar, provider: &str, alias: &str, auth: Value) {
    s.call(
        "accounts.save",
        json!({"providerID": provider, "alias": alias, "auth": auth}),
    );
}

fn open(s: &mut Sidecar, provider: &str) -> String {
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s1", "providerID": provider, "modelID": "m"}),
    );
    h["requestID"].as_str().expect("managed").to_string()
}

#[test]
fn a_chatgpt_failover_carries_the_new_accounts_residency_or_removes_it() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    let eu = jwt(
        json!({"chatgpt_compute_residency": "eu", "https://api.openai.com/auth": {"chatgpt_account_id": "acct-FAKE-eu"}}),
    );
    let plain = jwt(json!({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-FAKE-plain"}}));
    save_oauth(
        &mut s,
        "openai",
        "plain",
        json!({"type": "oauth", "refresh": "rt-FAKE-plain", "access": plain, "expires": T0 + 3_600_000}),
    );
    save_oauth(
        &mut s,
        "openai",
        "eu",
        json!({"type": "oauth", "refresh": "rt-FAKE-eu", "access": eu, "expires": T0 + 3_600_000, "accountId": "acct-FAKE-eu"}),
    );
    let id = open(&mut s, "openai");
    let names = json!([
        "authorization",
        "chatgpt-account-id",
        "x-openai-internal-codex-residency",
        "originator"
    ]);
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/backend-api/codex/responses", "method": "POST", "headerNames": names, "authorization": "bearer"}),
    );
    assert_eq!(begin["account"]["alias"], "eu");
    assert_eq!(begin["setHeaders"]["chatgpt-account-id"], "acct-FAKE-eu");
    assert_eq!(begin["setHeaders"]["x-openai-internal-codex-residency"], "eu");
    assert!(begin.get("removeHeaders").is_none(), "{begin}");
    let retry = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "60"}}),
    );
    assert_eq!(retry["action"], "retry");
    assert_eq!(retry["account"]["alias"], "plain");
    assert_eq!(retry["setHeaders"]["authorization"], format!("Bearer {plain}"));
    assert_eq!(retry["setHeaders"]["chatgpt-account-id"], "acct-FAKE-plain");
    assert!(retry["setHeaders"].get("x-openai-internal-codex-residency").is_none());
    assert_eq!(retry["removeHeaders"], json!(["x-openai-internal-codex-residency"]));
}

#[test]
fn an_answer_without_account_headers_to_remove_has_no_remove_headers() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "a", "sk-FAKE-a");
    let id = open(&mut s, "p");
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id, "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(
        begin,
        json!({"account": {"providerID": "p", "alias": "a"}, "setHeaders": {"authorization": "Bearer sk-FAKE-a"}})
    );
}

#[test]
fn a_copilot_request_carries_the_github_token_from_refresh_and_never_a_stale_access() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    // As an older opencode wrote it: a short-lived Copilot token in `access`, expired.
    save_oauth(
        &mut s,
        "github-copilot",
        "old",
        json!({"type": "oauth", "refresh": "gho_FAKE_old_login", "access": "tid=FAKE;exp=1", "expires": 1}),
    );
    let id = open(&mut s, "github-copilot");
    let begin = s.call(
        "fetch.begin",
        json!({"requestID": id, "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(
        begin["setHeaders"],
        json!({"authorization": "Bearer gho_FAKE_old_login"})
    );
}

#[test]
fn accounts_list_and_the_balancer_command_show_when_each_oauth_token_expires() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    save_oauth(
        &mut s,
        "anthropic",
        "max",
        json!({"type": "oauth", "refresh": "sk-ant-ort01-FAKE", "access": "sk-ant-oat01-FAKE", "expires": T0 + 42 * 60_000}),
    );
    save_oauth(
        &mut s,
        "github-copilot",
        "seat",
        json!({"type": "oauth", "refresh": "gho_FAKE_seat", "access": "tid=FAKE", "expires": T0 - 1}),
    );
    s.save_api("anthropic", "key", "sk-ant-api-FAKE");
    let list = s.call("accounts.list", json!({}));
    let view = |alias: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["alias"] == alias)
            .unwrap()
            .clone()
    };
    assert_eq!(view("max")["tokenExpiresAt"], T0 + 42 * 60_000);
    assert_eq!(view("max")["loginRequired"], false);
    assert_eq!(
        view("seat")["tokenExpiresAt"],
        Value::Null,
        "Copilot's GitHub token does not expire"
    );
    assert_eq!(view("key")["tokenExpiresAt"], Value::Null);
    let text = s.call("command.run", json!({"text": "list"}))["output"]
        .as_str()
        .unwrap()
        .to_string();
    let line = |alias: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {alias} ")))
            .unwrap()
            .to_string()
    };
    assert!(line("max").ends_with("token expires in 42m"), "{text}");
    assert!(!line("seat").contains("token"), "{text}");
    assert!(!line("key").contains("token"), "{text}");
    let json: Value = serde_json::from_str(&cli_ok(&store, &["accounts", "list", "--json"], None)).unwrap();
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a.get("tokenExpiresAt").is_some() && a.get("loginRequired").is_some()));
    let cli_text = cli_ok(&store, &["accounts", "list"], None);
    assert!(
        cli_text
            .lines()
            .any(|l| l.contains(" max ") && l.contains(", token expire")),
        "{cli_text}"
    );
}
