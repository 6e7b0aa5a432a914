//! The auth watcher through the real binary and a real auth.json: every way opencode writes the
//! file, bad versions, identities, autoSave off, bursts.

use std::fs;
use std::path::Path;

use crate::common::*;
use serde_json::{json, Value};

fn write_atomic(path: &Path, content: &Value) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, content.to_string()).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn saved(s: &mut Sidecar) -> Value {
    s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "account_saved")
}

fn aliases(s: &mut Sidecar) -> Vec<String> {
    s.call("accounts.list", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["providerID"].as_str().unwrap(), a["alias"].as_str().unwrap()))
        .collect()
}

fn api(key: &str) -> Value {
    json!({"type": "api", "key": key})
}

fn start(store: &Path) -> Sidecar {
    Sidecar::start(store)
}

#[test]
fn a_login_written_by_replace_is_saved_made_active_and_toasted() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    s.call("status", json!({}));
    write_atomic(&auth_file(&store), &json!({"openai": api("sk-test-w1-FAKE")}));
    let e = saved(&mut s);
    assert_eq!(
        (e["params"]["providerID"].clone(), e["params"]["alias"].clone()),
        (json!("openai"), json!("openai-1"))
    );
    s.wait_notification(|n| n["method"] == "toast" && n["params"]["message"].as_str().unwrap().contains("openai-1"));
    let list = s.call("accounts.list", json!({}));
    assert_eq!(list[0]["active"], true);
}

#[test]
fn with_file_notifications_unavailable_logins_are_still_captured_by_polling() {
    let (_d, store) = temp_store();
    let opts = Options {
        env: vec![("OPENCODE_BALANCER_WATCH".into(), "poll".into())],
        ..Options::default()
    };
    let mut s = Sidecar::start_with(&store, opts);
    s.call("status", json!({}));
    write_atomic(&auth_file(&store), &json!({"openai": api("sk-test-poll1-FAKE")}));
    assert_eq!(saved(&mut s)["params"]["alias"], "openai-1");
    let file = auth_file(&store);
    fs::write(
        &file,
        json!({"openai": api("sk-test-poll1-FAKE"), "groq": api("sk-test-poll2-FAKE")}).to_string(),
    )
    .unwrap();
    assert_eq!(saved(&mut s)["params"]["alias"], "groq-1");
    let (_, _, _, log) = s.finish();
    assert!(log.contains("polling auth.json"), "the fallback says so:\n{log}");
}

#[test]
fn truncate_and_write_and_delete_then_recreate_are_all_seen() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    let file = auth_file(&store);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, json!({"p": api("sk-test-t1-FAKE")}).to_string()).unwrap();
    saved(&mut s);
    fs::write(
        &file,
        json!({"p": api("sk-test-t1-FAKE"), "q": api("sk-test-t2-FAKE")}).to_string(),
    )
    .unwrap();
    saved(&mut s);
    fs::remove_file(&file).unwrap();
    fs::write(&file, json!({"r": api("sk-test-t3-FAKE")}).to_string()).unwrap();
    saved(&mut s);
    assert_eq!(aliases(&mut s), ["p/p-1", "q/q-1", "r/r-1"]);
}

#[test]
fn a_file_and_folder_missing_at_start_are_picked_up_when_they_appear() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    assert_eq!(s.call("status", json!({}))["accounts"], 0);
    write_atomic(&auth_file(&store), &json!({"anthropic": api("sk-test-late-FAKE")}));
    assert_eq!(saved(&mut s)["params"]["alias"], "anthropic-1");
}

#[test]
fn a_login_in_a_folder_removed_or_moved_away_and_made_again_while_serving_is_captured() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    let file = auth_file(&store);
    let folder = file.parent().unwrap();
    write_atomic(&file, &json!({"groq": api("sk-test-gone1-FAKE")}));
    saved(&mut s);
    fs::remove_dir_all(folder).unwrap();
    write_atomic(&file, &json!({"mistral": api("sk-test-gone2-FAKE")}));
    assert_eq!(saved(&mut s)["params"]["alias"], "mistral-1");
    fs::rename(folder, folder.with_file_name("opencode-old")).unwrap();
    write_atomic(&file, &json!({"cohere": api("sk-test-gone3-FAKE")}));
    assert_eq!(saved(&mut s)["params"]["alias"], "cohere-1");
}

#[test]
fn logins_already_in_auth_json_at_start_are_captured() {
    let (_d, store) = temp_store();
    write_atomic(&auth_file(&store), &json!({"openai": api("sk-test-pre-FAKE")}));
    let mut s = start(&store);
    assert_eq!(saved(&mut s)["params"]["alias"], "openai-1");
}

#[test]
fn a_bad_version_changes_nothing_warns_once_and_the_next_good_one_counts() {
    let (_d, store) = temp_store();
    let file = auth_file(&store);
    write_atomic(&file, &json!({"p": api("sk-test-g1-FAKE")}));
    let mut s = Sidecar::start_with(
        &store,
        Options {
            log: "warn",
            ..Options::default()
        },
    );
    saved(&mut s);
    fs::write(&file, "{\"p\": {\"type\": \"api\", \"key\": ").unwrap();
    fs::write(&file, r#"{"p": {"type": "weird", "key": "sk-test-LEAKED-FAKE"}}"#).unwrap();
    write_atomic(
        &file,
        &json!({"p": api("sk-test-g1-FAKE"), "q": api("sk-test-g2-FAKE")}),
    );
    let e = saved(&mut s);
    assert_eq!(e["params"]["alias"], "q-1");
    assert_eq!(aliases(&mut s), ["p/p-1", "q/q-1"]);
    let (_, _, _, stderr) = s.finish();
    assert!(!stderr.contains("LEAKED"), "{stderr}");
    assert!(stderr.matches("keeping the last good version").count() <= 2, "{stderr}");
}

#[test]
fn a_refreshed_token_updates_its_account_instead_of_adding_one() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    let tok = |access: &str, refresh: &str| json!({"type": "oauth", "access": access, "refresh": refresh, "expires": 1, "accountId": "acct-77"});
    write_atomic(
        &auth_file(&store),
        &json!({"openai": tok("at-test-1-FAKE", "rt-test-1-FAKE")}),
    );
    assert_eq!(saved(&mut s)["params"]["alias"], "acct-77");
    write_atomic(
        &auth_file(&store),
        &json!({"openai": tok("at-test-2-FAKE", "rt-test-2-FAKE")}),
    );
    s.wait_notification(|n| n["params"]["type"] == "account_updated");
    assert_eq!(aliases(&mut s), ["openai/acct-77"]);
}

#[test]
fn a_credential_the_balancer_synced_itself_is_not_captured_as_new() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    s.save_api("openai", "mine", "sk-test-own-FAKE");
    s.save_api("openai", "other", "sk-test-other-FAKE");
    // What opencode writes after the plugin applies an auth.sync of "mine".
    write_atomic(&auth_file(&store), &json!({"openai": api("sk-test-own-FAKE")}));
    write_atomic(
        &auth_file(&store),
        &json!({"openai": api("sk-test-other-FAKE"), "mark": api("sk-test-mark-FAKE")}),
    );
    s.wait_notification(|n| n["params"]["type"] == "account_saved" && n["params"]["providerID"] == "mark");
    assert_eq!(aliases(&mut s), ["mark/mark-1", "openai/mine", "openai/other"]);
}

#[test]
fn with_auto_save_off_a_login_waits_as_one_pending_connection() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    s.call("settings.set", json!({"key": "autoSave", "value": false}));
    write_atomic(&auth_file(&store), &json!({"anthropic": api("sk-test-pend-FAKE")}));
    let e = s.wait_notification(|n| n["params"]["type"] == "pending_connection_captured");
    let id = e["params"]["metadata"]["id"].as_str().unwrap().to_string();
    write_atomic(
        &auth_file(&store),
        &json!({"anthropic": api("sk-test-pend-FAKE"), "x": api("sk-test-x-FAKE")}),
    );
    s.wait_notification(|n| n["params"]["type"] == "pending_connection_captured" && n["params"]["providerID"] == "x");
    let pending = s.call("pending.list", json!({}));
    assert_eq!(
        pending.as_array().unwrap().len(),
        2,
        "deduplicated by provider and identity: {pending}"
    );
    assert!(!pending.to_string().contains("sk-test"), "{pending}");
    let out = cli_ok(&store, &["pending", "save", &id, "Claude Max"], None);
    assert!(out.contains("anthropic/claude-max"), "{out}");
    assert_eq!(
        s.call("pending.dismiss", json!({"id": "x-2"})),
        json!({"dismissed": true})
    );
    assert!(s.call("pending.list", json!({})).as_array().unwrap().is_empty());
}

#[test]
fn a_burst_of_fifty_rewrites_ends_in_the_final_state() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    s.call("status", json!({}));
    let file = auth_file(&store);
    for i in 0..50 {
        let mut content = serde_json::Map::new();
        content.insert("p".into(), api(&format!("sk-test-burst-{i}-FAKE")));
        write_atomic(&file, &Value::Object(content));
    }
    write_atomic(
        &file,
        &json!({"p": api("sk-test-burst-49-FAKE"), "done": api("sk-test-done-FAKE")}),
    );
    s.wait_notification(|n| n["params"]["type"] == "account_saved" && n["params"]["providerID"] == "done");
    let list = s.call("accounts.list", json!({"providerID": "p"}));
    let active: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["active"] == true)
        .collect();
    assert_eq!(active.len(), 1);
    let id = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "p", "modelID": "m"}),
    )["requestID"]
        .clone();
    let r = s.call("fetch.begin", json!({"requestID": id, "headerNames": []}));
    assert_eq!(
        r["setHeaders"]["authorization"], "Bearer sk-test-burst-49-FAKE",
        "the final login is the active account"
    );
}

#[test]
fn opencode_auth_content_is_read_instead_of_the_file() {
    let (_d, store) = temp_store();
    write_atomic(&auth_file(&store), &json!({"from-file": api("sk-test-file-FAKE")}));
    let env = vec![(
        "OPENCODE_AUTH_CONTENT".to_string(),
        json!({"inline": api("sk-test-inline-FAKE")}).to_string(),
    )];
    let mut s = Sidecar::start_with(
        &store,
        Options {
            env,
            ..Options::default()
        },
    );
    assert_eq!(saved(&mut s)["params"]["providerID"], "inline");
    assert_eq!(aliases(&mut s), ["inline/inline-1"], "the file is not read");
}

fn jwt(claims: Value) -> String {
    use base64::Engine;
    let enc = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.sig-FAKE", enc(&json!({"alg": "none"})), enc(&claims))
}

#[test]
fn oauth_identity_by_jwt_claim_and_by_refresh_token_keeps_one_account_each() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    let claims = |n: u32| json!({"https://api.openai.com/auth": {"chatgpt_account_id": "cgpt-acct-9"}, "email": "dev@example.test", "n": n});
    let by_claim = |n: u32| json!({"type": "oauth", "access": jwt(claims(n)), "refresh": format!("rt-test-c{n}-FAKE"), "expires": n});
    let by_refresh = |n: u32| json!({"type": "oauth", "access": format!("opaque-at-{n}-FAKE"), "refresh": "rt-test-stable-FAKE", "expires": n});
    write_atomic(
        &auth_file(&store),
        &json!({"openai": by_claim(1), "github-copilot": by_refresh(1)}),
    );
    let mut named = vec![saved(&mut s)["params"]["alias"].as_str().unwrap().to_string()];
    named.push(saved(&mut s)["params"]["alias"].as_str().unwrap().to_string());
    named.sort();
    assert_eq!(
        named,
        ["dev-example.test", "github-copilot-1"],
        "named from the email claim, else provider-n"
    );
    write_atomic(
        &auth_file(&store),
        &json!({"openai": by_claim(2), "github-copilot": by_refresh(2)}),
    );
    s.wait_notification(|n| n["params"]["type"] == "account_updated" && n["params"]["providerID"] == "openai");
    s.wait_notification(|n| n["params"]["type"] == "account_updated" && n["params"]["providerID"] == "github-copilot");
    assert_eq!(
        aliases(&mut s),
        ["github-copilot/github-copilot-1", "openai/dev-example.test"]
    );
}

#[test]
fn an_auth_sync_applied_by_the_host_is_not_captured_by_either_of_two_processes() {
    let (_d, store) = temp_store();
    let mut a = start(&store);
    let mut b = start(&store);
    let oauth = |n: u32| json!({"type": "oauth", "access": format!("at-test-{n}-FAKE"), "refresh": format!("rt-test-{n}-FAKE"), "expires": 1, "accountId": format!("acct-{n}")});
    a.call(
        "accounts.save",
        json!({"providerID": "openai", "alias": "one", "auth": oauth(1)}),
    );
    a.call(
        "accounts.save",
        json!({"providerID": "openai", "alias": "two", "auth": oauth(2)}),
    );
    // The plugin applied `syncAuth` for "one": opencode wrote it as its own credential.
    write_atomic(&auth_file(&store), &json!({"openai": oauth(1)}));
    write_atomic(
        &auth_file(&store),
        &json!({"openai": oauth(1), "marker": api("sk-test-marker-FAKE")}),
    );
    // Both processes handle the same writes; whichever saves the marker first, the other sees it
    // as known. Once both have handled the marker, they have handled the synced credential too.
    eventually("both processes have the marker, once", || {
        [&mut a, &mut b]
            .into_iter()
            .all(|s| aliases(s).contains(&"marker/marker-1".to_string()))
    });
    for s in [&mut a, &mut b] {
        assert_eq!(
            aliases(s),
            ["marker/marker-1", "openai/one", "openai/two"],
            "no account from the synced credential"
        );
    }
}

#[test]
fn no_credential_reaches_an_event_a_notification_or_a_trace_log() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    let file = auth_file(&store);
    write_atomic(&file, &json!({"openai": api("sk-test-SCANME-0123456789")}));
    saved(&mut s);
    write_atomic(
        &file,
        &json!({"openai": {"type": "oauth", "access": "at-test-SCANME-abcdef", "refresh": "rt-test-SCANME-zyxwvu", "expires": 1, "accountId": "z"}}),
    );
    saved(&mut s);
    std::fs::write(&file, r#"{"openai": {"type": "api", "key": "sk-test-SCANME-broken"#).unwrap();
    let events = s.call("events.list", json!({"limit": 100})).to_string();
    let (_, _, stdout, stderr) = s.finish();
    for text in [events, stdout.join("\n"), stderr] {
        assert!(!text.contains("SCANME"), "a credential leaked: {text}");
    }
}

#[test]
fn thousands_of_new_logins_in_one_write_are_captured_in_one_go_with_one_summary_toast() {
    let (_d, store) = temp_store();
    let mut s = start(&store);
    s.call("status", json!({}));
    let entries: serde_json::Map<String, Value> = (0..2000)
        .map(|i| (format!("bulk{i}"), api(&format!("sk-test-bulk-{i:04}-FAKE"))))
        .collect();
    write_atomic(&auth_file(&store), &Value::Object(entries));
    s.wait_notification(|n| {
        n["method"] == "toast"
            && (n["params"]["message"].as_str().unwrap()).contains("captured 1997 more logins from auth.json")
    });
    let status = s.call("status", json!({}));
    assert_eq!(status["accounts"], 2000);
    assert_eq!(status["providers"].as_array().unwrap().len(), 2000);
    let priority = s.call("priority.list", json!({}));
    let positions: Vec<u64> = (priority.as_array().unwrap().iter())
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (0..2000).collect::<Vec<u64>>());
}
