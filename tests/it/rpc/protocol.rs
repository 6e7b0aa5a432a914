//! The sidecar protocol through the real binary over pipes: lifecycle, every error code,
//! batches, line limits, shutdown timing, stdout purity, and management methods.

use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};

fn code(err: &Value) -> i64 {
    err["code"].as_i64().unwrap()
}

#[test]
fn initialize_answers_name_version_and_protocol_version() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    let r = s.call("initialize", json!({"client": {"name": "test", "version": "1"}}));
    assert_eq!(r["server"]["name"], "opencode-balancer");
    assert_eq!(r["protocolVersion"], 1);
    let status = s.call("status", json!({}));
    assert_eq!(status["accounts"], 0);
    assert_eq!(status["storePath"], store.display().to_string());
}

#[test]
fn every_protocol_error_code_is_returned_and_the_sidecar_keeps_serving() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);

    s.send_raw(b"{not json\n");
    let r = s.next_reply();
    assert_eq!((code(&r["error"]), &r["id"]), (-32700, &Value::Null));

    s.send_raw(b"{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"status\"}\n");
    let r = s.next_reply();
    assert_eq!((code(&r["error"]), &r["id"]), (-32600, &json!(7)));

    assert_eq!(code(&s.call_err("no.such.method", json!({}))), -32601);
    let e = s.call_err("accounts.save", json!({"providerID": "p", "alias": "a"}));
    assert_eq!(code(&e), -32602);
    assert!(e["message"].as_str().unwrap().contains("auth"), "names the field: {e}");

    let e = s.call_err("accounts.activate", json!({"providerID": "p", "alias": "ghost"}));
    assert_eq!(code(&e), -32001);
    assert_eq!(e["data"], json!({"providerID": "p", "alias": "ghost"}));

    s.save_api("p", "a", "sk-test-one-FAKE");
    let e = s.call_err(
        "accounts.save",
        json!({"providerID": "p", "alias": "b", "auth": {"type": "api", "key": "sk-test-one-FAKE"}}),
    );
    assert_eq!((code(&e), &e["data"]["alias"]), (-32002, &json!("a")));

    assert_eq!(
        code(&s.call_err(
            "accounts.save",
            json!({"providerID": "p", "alias": "!!!", "auth": {"type": "api", "key": "k"}})
        )),
        -32003
    );
    assert_eq!(
        code(&s.call_err(
            "accounts.save",
            json!({"providerID": "bad id", "alias": "x", "auth": {"type": "api", "key": "k"}})
        )),
        -32003
    );
    assert_eq!(
        code(&s.call_err("pending.save", json!({"id": "nope", "alias": "x"}))),
        -32004
    );
    assert_eq!(
        code(&s.call_err(
            "fetch.begin",
            json!({"requestID": "nope", "url": "http://x", "method": "POST", "headerNames": []})
        )),
        -32006
    );

    // Still serving, and nothing was changed by the failures.
    let list = s.call("accounts.list", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[test]
fn an_unusable_store_answers_minus_32005_while_hooks_pass_through() {
    let (dir, store) = temp_store();
    std::fs::write(&store, b"garbage, not sqlite".repeat(300)).unwrap();
    let mut s = Sidecar::start(&store);
    let e = s.call_err("accounts.list", json!({}));
    assert_eq!(code(&e), -32005);
    assert!(
        e["message"].as_str().unwrap().contains(&store.display().to_string()),
        "{e}"
    );
    assert_eq!(
        s.call(
            "chat.headers",
            json!({"sessionID": "s", "providerID": "p", "modelID": "m"})
        ),
        json!({})
    );
    assert_eq!(
        std::fs::read(&store).unwrap(),
        b"garbage, not sqlite".repeat(300),
        "left untouched"
    );
    drop(dir);
}

#[test]
fn a_batch_is_answered_as_one_array_without_notifications() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.send_raw(
        concat!(
            r#"[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}},"#,
            r#"{"jsonrpc":"2.0","method":"status"},"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"nope"},"#,
            r#"42]"#,
            "\n"
        )
        .as_bytes(),
    );
    let r = s.next_reply();
    let arr = r.as_array().expect("a batch answer is an array");
    assert_eq!(arr.len(), 3, "{r}");
    assert_eq!(arr[0]["id"], 1);
    assert_eq!(code(&arr[1]["error"]), -32601);
    assert_eq!(code(&arr[2]["error"]), -32600);
    s.send_raw(b"[]\n");
    assert_eq!(code(&s.next_reply()["error"]), -32600);
}

#[test]
fn a_line_over_one_mebibyte_is_refused_and_the_next_line_is_served() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    let mut big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"status","params":{{"pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024)
    );
    big.push('\n');
    s.send_raw(big.as_bytes());
    let r = s.next_reply();
    assert_eq!((code(&r["error"]), &r["id"]), (-32600, &Value::Null));
    assert_eq!(s.call("status", json!({}))["accounts"], 0);
}

#[test]
fn requests_are_answered_concurrently_and_by_id() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    let mut lines = String::new();
    for i in 0..50 {
        lines.push_str(&format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"status"}}"#));
        lines.push('\n');
    }
    s.send_raw(lines.as_bytes());
    let mut ids: Vec<i64> = (0..50).map(|_| s.next_reply()["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..50).collect::<Vec<_>>());
}

#[test]
fn eof_exits_zero_within_a_second_with_only_protocol_on_stdout() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "a", "sk-test-eof-FAKE");
    s.send_raw(b"garbage\n");
    let (code, took, stdout, _) = s.finish();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    for line in stdout {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not protocol: {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
    }
}

#[test]
fn shutdown_answers_then_exits_and_what_was_acknowledged_is_stored() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "a", "sk-test-shutdown-FAKE");
    let id = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "p", "modelID": "m"}),
    )["requestID"]
        .clone();
    s.call("fetch.begin", json!({"requestID": id, "headerNames": []}));
    // Batched bookkeeping (last use) must be written by the shutdown itself.
    s.send_raw(
        format!(
            "{}\n{}\n",
            json!({"jsonrpc": "2.0", "id": 90, "method": "fetch.result", "params": {"requestID": id, "attempt": 1, "status": 200}}),
            json!({"jsonrpc": "2.0", "id": 91, "method": "shutdown"})
        )
        .as_bytes(),
    );
    let mut ids = vec![s.next_reply()["id"].clone(), s.next_reply()["id"].clone()];
    ids.sort_by_key(|v| v.as_i64());
    assert_eq!(ids, [json!(90), json!(91)]);
    let start = std::time::Instant::now();
    let status = s.child.wait().unwrap();
    assert!(status.success());
    assert!(start.elapsed() < Duration::from_secs(1));
    let out: Value = serde_json::from_str(&cli_ok(&store, &["accounts", "list", "--json"], None)).unwrap();
    assert_eq!(out[0]["lastUsedAt"], T0, "the last use was flushed before exit: {out}");
    let events = cli_ok(&store, &["events", "--json"], None);
    assert!(events.contains("account_saved"), "events flushed before exit: {events}");
}

#[test]
fn management_methods_round_trip() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "Work Account", "sk-test-w-FAKE");
    s.save_api("openai", "home", "sk-test-h-FAKE");
    s.save_api("anthropic", "max", "sk-test-m-FAKE");
    let list = s.call("accounts.list", json!({"providerID": "openai"}));
    let aliases: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alias"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(aliases, ["home", "work-account"]);
    assert_eq!(list[0]["active"], true, "the last saved is active");

    let v = s.call(
        "accounts.rename",
        json!({"providerID": "openai", "from": "work-account", "to": "job"}),
    );
    assert_eq!(v["alias"], "job");
    let v = s.call("accounts.activate", json!({"providerID": "openai", "alias": "job"}));
    assert_eq!(v["active"], true);
    let v = s.call(
        "accounts.setDisabled",
        json!({"providerID": "openai", "alias": "home", "disabled": true}),
    );
    assert_eq!(v["disabled"], true);
    assert_eq!(
        s.call("accounts.remove", json!({"providerID": "openai", "alias": "home"})),
        json!({"removed": true})
    );
    assert_eq!(
        s.call("accounts.remove", json!({"providerID": "openai", "alias": "home"})),
        json!({"removed": false})
    );

    let p = s.call("priority.list", json!({}));
    assert_eq!(p.as_array().unwrap().len(), 2);
    let p = s.call(
        "priority.setModel",
        json!({"providerID": "anthropic", "modelID": "claude-sonnet"}),
    );
    assert_eq!(p[1]["modelID"], "claude-sonnet");
    let p = s.call("priority.move", json!({"providerID": "anthropic", "direction": -1}));
    assert_eq!(p[0]["providerID"], "anthropic");
    let p = s.call("priority.setEnabled", json!({"providerID": "openai", "enabled": false}));
    assert_eq!(p[1]["enabled"], false);
    assert_eq!(
        code(&s.call_err("priority.move", json!({"providerID": "openai", "direction": 3}))),
        -32602
    );

    assert_eq!(s.call("balancing.get", json!({})), json!({"enabled": false}));
    assert_eq!(
        s.call("balancing.set", json!({"enabled": true})),
        json!({"enabled": true})
    );
    let st = s.call("settings.set", json!({"key": "maxAttempts", "value": 5}));
    assert_eq!(
        (st["maxAttempts"].clone(), st["balancing"].clone()),
        (json!(5), json!(true))
    );
    let e = s.call_err("settings.set", json!({"key": "maxAttempts", "value": 0}));
    assert_eq!(code(&e), -32602);
    assert!(e["message"].as_str().unwrap().contains("maxAttempts"));
    assert_eq!(
        code(&s.call_err("settings.set", json!({"key": "colour", "value": 1}))),
        -32602
    );
    assert_eq!(s.call("settings.get", json!({}))["maxAttempts"], 5);

    let events = s.call("events.list", json!({"limit": 100}));
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for k in [
        "account_saved",
        "account_renamed",
        "account_activated",
        "account_disabled",
        "account_removed",
        "priority_changed",
        "balancing_changed",
        "settings_changed",
    ] {
        assert!(kinds.contains(&k), "missing {k} in {kinds:?}");
    }
    let only = s.call("events.list", json!({"type": "account_saved"}));
    assert_eq!(only.as_array().unwrap().len(), 3);
    let text = s.call("command.run", json!({"text": "list"}))["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("job") && text.contains("max"), "{text}");
    let help = s.call("command.run", json!({"text": "frobnicate"}))["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(help.contains("unknown command"), "{help}");
}

#[test]
fn events_are_pushed_to_the_host_as_notifications_after_they_are_stored() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "a", "sk-test-n-FAKE");
    let n = s.wait_notification(|v| v["method"] == "event" && v["params"]["type"] == "account_saved");
    assert_eq!(n["params"]["alias"], "a");
    assert!(n["params"]["id"].as_i64().is_some());
}

#[test]
fn the_event_log_is_pruned_to_the_configured_size() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start_with(
        &store,
        Options {
            log: "warn",
            ..Options::default()
        },
    );
    assert_eq!(
        code(&s.call_err("settings.set", json!({"key": "eventsMaxRows", "value": 5}))),
        -32602
    );
    s.call("settings.set", json!({"key": "eventsMaxRows", "value": 100}));
    let mut lines = String::new();
    for i in 0..700 {
        let msg = json!({"jsonrpc": "2.0", "id": 10 + i, "method": "settings.set", "params": {"key": "maxAttempts", "value": 1 + i % 9}});
        lines.push_str(&format!("{msg}\n"));
    }
    s.send_raw(lines.as_bytes());
    for _ in 0..700 {
        assert!(s.next_reply().get("result").is_some());
    }
    let kept = s.call("events.list", json!({"limit": 10000})).as_array().unwrap().len();
    // 701 events were published (events.list waits for them to be stored); the newest 100 are kept.
    assert_eq!(kept, 100);
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
}

#[test]
fn a_key_pasted_as_an_alias_or_provider_is_refused_without_being_repeated() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    let key = format!("sk-test-{}-FAKE", "x".repeat(90));
    for params in [
        json!({"providerID": "openai", "alias": key, "auth": {"type": "api", "key": "k"}}),
        json!({"providerID": key.replace('-', " "), "alias": "a", "auth": {"type": "api", "key": "k"}}),
    ] {
        let e = s.call_err("accounts.save", params);
        assert_eq!(code(&e), -32003);
        assert!(!e.to_string().contains("xxxxxxxx"), "{e}");
    }
}

/// Ids a `Value` round trip would change: big integers, -0, exponents, 1.0, escapes, unicode.
const EXACT_IDS: [&str; 8] = [
    "123456789012345678901234567890",
    "-0",
    "1e400",
    "1.0",
    "-12.50E+3",
    r#""a\"b\\c\/\u00e9\ud83d\ude00""#,
    "\"é😀 tab\\t\"",
    "null",
];

#[test]
fn ids_are_echoed_byte_for_byte_in_single_requests_and_in_batches() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    for id in EXACT_IDS {
        s.send_raw(format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"initialize\"}}\n").as_bytes());
        let line = s.next_line().unwrap();
        assert!(
            line.starts_with(&format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":")),
            "{id}: {line}"
        );
        // Errors echo it too.
        s.send_raw(format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"nope\"}}\n").as_bytes());
        let line = s.next_line().unwrap();
        assert!(
            line.starts_with(&format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":")),
            "{id}: {line}"
        );
    }
    let batch: Vec<String> = EXACT_IDS
        .iter()
        .map(|id| format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"initialize\"}}"))
        .collect();
    s.send_raw(format!("[{}]\n", batch.join(",")).as_bytes());
    let line = s.next_line().unwrap();
    for id in EXACT_IDS {
        assert!(
            line.contains(&format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":")),
            "{id}: {line}"
        );
    }
    // (1e400 is beyond what a test-side Value can hold, so the answers are counted as text.)
    assert_eq!(line.matches("\"result\":").count(), EXACT_IDS.len(), "{line}");
}

#[test]
fn an_object_array_or_boolean_id_is_an_invalid_request_answered_with_a_null_id() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    for id in ["{}", "[1]", "true"] {
        s.send_raw(format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"status\"}}\n").as_bytes());
        let r = s.next_reply();
        assert_eq!((code(&r["error"]), &r["id"]), (-32600, &Value::Null), "{id}");
    }
    s.send_raw(b"[{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"status\"},{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"status\"}]\n");
    let r = s.next_reply();
    assert_eq!((code(&r[0]["error"]), &r[0]["id"]), (-32600, &Value::Null));
    assert_eq!(r[1]["id"], 3);
}

#[test]
fn a_batch_of_the_largest_size_is_answered_whole_and_in_order() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start_with(
        &store,
        Options {
            log: "warn",
            ..Options::default()
        },
    );
    let n = opencode_balancer::rpc::wire::MAX_BATCH;
    let batch: Vec<String> = (0..n)
        .map(|i| match i % 3 {
            0 => format!("{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"status\"}}"),
            1 => format!("{{\"jsonrpc\":\"2.0\",\"id\":\"s{i}\",\"method\":\"nope\"}}"),
            _ => "{\"jsonrpc\":\"2.0\",\"method\":\"status\"}".to_string(),
        })
        .collect();
    s.send_raw(format!("[{}]\n", batch.join(",")).as_bytes());
    let r = s.next_reply();
    let answers = r.as_array().expect("one array");
    let expected: Vec<usize> = (0..n).filter(|i| i % 3 != 2).collect();
    assert_eq!(answers.len(), expected.len());
    for (a, i) in answers.iter().zip(expected) {
        if i % 3 == 0 {
            assert_eq!((&a["id"], a["result"]["accounts"].as_i64()), (&json!(i), Some(0)));
        } else {
            assert_eq!((&a["id"], code(&a["error"])), (&json!(format!("s{i}")), -32601));
        }
    }
}

#[test]
fn a_batch_over_the_limit_is_refused_whole_and_runs_nothing() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    let n = opencode_balancer::rpc::wire::MAX_BATCH;
    let line = format!(
        "[{}{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"balancing.set\",\"params\":{{\"enabled\":true}}}}]\n",
        "1,".repeat(n)
    );
    s.send_raw(line.as_bytes());
    let r = s.next_reply();
    assert_eq!((code(&r["error"]), &r["id"]), (-32600, &Value::Null));
    assert!(r["error"]["message"].as_str().unwrap().contains("10000"), "{r}");
    assert_eq!(s.call("balancing.get", json!({})), json!({"enabled": false}));
}

/// `chat.headers` for provider `p` with the request the host expects (`fetch`); the whole result.
fn headers_expecting(s: &mut Sidecar, session: &str, fetch: Value) -> Value {
    s.call(
        "chat.headers",
        json!({"sessionID": session, "providerID": "p", "modelID": "m1", "fetch": fetch}),
    )
}

#[test]
fn chat_headers_told_the_expected_request_answers_what_fetch_begin_would_for_it() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "a", "sk-test-expect-FAKE");
    let shape = json!({"headerNames": ["x-api-key", "content-type"]});
    let h = headers_expecting(&mut s, "s1", shape.clone());
    let id = h["requestID"].as_str().unwrap().to_string();
    let begin = &h["begin"];
    assert_eq!(begin["account"], json!({"providerID": "p", "alias": "a"}));
    assert_eq!(begin["setHeaders"], json!({"x-api-key": "sk-test-expect-FAKE"}));
    assert!(begin.get("removeHeaders").is_none(), "nothing to remove: {begin}");
    let watch: Vec<&str> = begin["watch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in ["authorization", "x-api-key", "api-key", "chatgpt-account-id"] {
        assert!(watch.contains(&name), "{name} decides the headers: {watch:?}");
    }
    assert!(!watch.contains(&"content-type"), "{watch:?}");
    // The same as fetch.begin answers for a request of that shape.
    let mut params = shape;
    params["requestID"] = json!(id);
    params["url"] = json!("http://127.0.0.1:9/v1/chat/completions");
    let b = s.call("fetch.begin", params);
    assert_eq!(
        (&b["account"], &b["setHeaders"]),
        (&begin["account"], &begin["setHeaders"])
    );
    // A host that does not say what it expects gets the answer it always got.
    let old = s.call(
        "chat.headers",
        json!({"sessionID": "s2", "providerID": "p", "modelID": "m1"}),
    );
    assert!(old.get("begin").is_none(), "{old}");
    assert!(old["requestID"].is_string());
}

#[test]
fn a_2xx_fetch_result_sent_as_a_notification_records_success_last_use_and_passive_usage_without_an_answer() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "a", "sk-test-notify-FAKE");
    // A refusal first: the account has a failure and a 1 s rest.
    let h = headers_expecting(
        &mut s,
        "s1",
        json!({"headerNames": ["authorization"], "authorization": "bearer"}),
    );
    let id = h["requestID"].as_str().unwrap();
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "1"}, "body": "{}"}),
    );
    assert_eq!(s.account("p", "a")["failures"], 1);
    let later = s.call("test.advanceClock", json!({"ms": 2_000}))["now"].clone();

    let h = headers_expecting(
        &mut s,
        "s1",
        json!({"headerNames": ["authorization"], "authorization": "bearer"}),
    );
    let id = h["requestID"].as_str().unwrap().to_string();
    assert_eq!(h["begin"]["account"]["alias"], "a");
    let done = json!({"jsonrpc": "2.0", "method": "fetch.result", "params": {"requestID": id, "attempt": 1, "status": 200,
        "headers": {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": "40", "x-ratelimit-reset-requests": "30s"}}});
    s.send_raw(format!("{done}\n").as_bytes());
    // The passive usage reading comes after the outcome was recorded (both from that handler).
    let ev = s.wait_notification(|n| {
        n["method"] == "event" && n["params"]["type"] == "usage_refreshed" && n["params"]["alias"] == "a"
    });
    assert_eq!(ev["params"]["providerID"], "p");
    let a = s.account("p", "a");
    assert_eq!(a["lastUsedAt"], later);
    assert_eq!((&a["failures"], &a["coolingDownUntil"]), (&json!(0), &Value::Null));
    assert_eq!(a["usage"]["confidence"], "estimated");
    assert_eq!(a["usage"]["usedPercent"], 60.0);
    // Nothing was written for the notification: the next line answers the next request.
    let status = s.request("status", json!({}));
    assert!(status.get("result").is_some(), "{status}");
    // The request is done: a late awaited result for it is an unknown request.
    let e = s.call_err(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 200, "headers": {}}),
    );
    assert_eq!(code(&e), -32006);
}

#[test]
fn a_refused_request_sent_without_fetch_begin_is_retried_with_the_headers_it_was_sent_with() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "b", "sk-test-sent-b-FAKE");
    s.save_api("p", "a", "sk-test-sent-a-FAKE");
    // Expected a bearer; it went out with an x-api-key header instead (and its URL).
    let h = headers_expecting(
        &mut s,
        "s1",
        json!({"headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!(
        h["begin"]["setHeaders"],
        json!({"authorization": "Bearer sk-test-sent-a-FAKE"})
    );
    let id = h["requestID"].as_str().unwrap();
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "120"}, "body": "{}",
               "sent": {"url": "http://127.0.0.1:9/v1/messages", "headerNames": ["x-api-key", "content-type"]}}),
    );
    assert_eq!(r["action"], "retry");
    assert_eq!(r["account"]["alias"], "b");
    assert_eq!(r["setHeaders"], json!({"x-api-key": "sk-test-sent-b-FAKE"}));
}

/// A request of session `session` on provider `p` with a bearer, its id and what `begin` said.
fn bearer_request(s: &mut Sidecar, session: &str) -> (String, Value) {
    let h = headers_expecting(
        s,
        session,
        json!({"headerNames": ["authorization"], "authorization": "bearer"}),
    );
    (h["requestID"].as_str().unwrap().to_string(), h["begin"].clone())
}

#[test]
fn a_failover_after_a_2xx_of_the_session_says_strip_state_and_later_requests_keep_saying_it() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "b", "sk-test-strip-b-FAKE");
    s.save_api("p", "a", "sk-test-strip-a-FAKE");
    // Turn 1 on a: a's 2xx makes a the owner of the session's state; nothing to strip on a.
    let (id, begin) = bearer_request(&mut s, "s1");
    assert_eq!(begin["account"]["alias"], "a");
    assert!(begin.get("stripState").is_none(), "{begin}");
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 200, "headers": {}}),
    );
    // Turn 2 on a again: byte for byte.
    let (id, begin) = bearer_request(&mut s, "s1");
    assert!(begin.get("stripState").is_none(), "{begin}");
    // a refuses: the retry on b removes a's state.
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "120"}, "body": "{}"}),
    );
    assert_eq!((&r["action"], &r["account"]["alias"]), (&json!("retry"), &json!("b")));
    assert_eq!(r["stripState"], json!({"scope": "same-provider"}));
    s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 2, "status": 200, "headers": {}}),
    );
    // Turn 3 on b (the owner now): the moved conversation is edited the same way every time.
    let (_, begin) = bearer_request(&mut s, "s1");
    assert_eq!(begin["account"]["alias"], "b");
    assert_eq!(begin["stripState"], json!({"scope": "same-provider"}));
    // Another session, whose answer is no refusal (a 500 is returned as it is): nothing to strip.
    let (id, begin) = bearer_request(&mut s, "s2");
    assert!(begin.get("stripState").is_none(), "{begin}");
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 500, "headers": {}, "body": "{}"}),
    );
    assert!(r.get("stripState").is_none(), "{r}");
}

#[test]
fn a_state_bound_refusal_is_mended_once_on_the_same_account_before_the_login_classifier() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "b", "sk-test-mend-b-FAKE");
    s.save_api("p", "a", "sk-test-mend-a-FAKE");
    // Copilot's 401 about item ids is not a refused login.
    let copilot = r#"{"error":{"message":"input item ID does not belong to this connection","code":null}}"#;
    let (id, _) = bearer_request(&mut s, "s1");
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 401, "headers": {}, "body": copilot}),
    );
    assert_eq!(r["action"], "retry");
    assert_eq!(
        r["account"],
        json!({"providerID": "p", "alias": "a"}),
        "the same account"
    );
    assert_eq!(r["setHeaders"], json!({}));
    assert_eq!(r["stripState"], json!({"scope": "same-provider"}));
    // A second state-bound refusal of the request goes back as it is.
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 2, "status": 401, "headers": {}, "body": copilot}),
    );
    assert_eq!(r["action"], "return");
    let a = s.account("p", "a");
    assert_eq!(
        (&a["failures"], &a["coolingDownUntil"], &a["authFailed"]),
        (&json!(0), &Value::Null, &json!(false))
    );
    s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "state_mended");
}

#[test]
fn continuity_strip_answers_the_edited_body_or_none_and_refuses_an_unknown_scope() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    let body = r#"{"model":"gpt-5","input":[{"role":"user","content":"hi"},{"type":"reasoning","encrypted_content":"gAAAA","summary":[]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}],"store":false}"#;
    let r = s.call(
        "continuity.strip",
        json!({"url": "https://chatgpt.com/backend-api/codex/responses", "body": body, "scope": "same-provider"}),
    );
    assert_eq!(r["removed"], 1);
    assert_eq!(
        r["body"],
        r#"{"model":"gpt-5","input":[{"role":"user","content":"hi"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}],"store":false}"#
    );
    let r = s.call("continuity.strip", json!({"body": r["body"], "scope": "provider-move"}));
    assert_eq!(
        r,
        json!({"removed": 0}),
        "nothing left to remove: send the original bytes"
    );
    let e = s.call_err("continuity.strip", json!({"body": body, "scope": "everything"}));
    assert_eq!(code(&e), -32602);
}

#[test]
fn fetch_stream_holds_neutral_events_forwards_content_and_fails_over_an_early_refusal() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start(&store);
    s.save_api("p", "b", "sk-test-stream-b-FAKE");
    s.save_api("p", "a", "sk-test-stream-a-FAKE");
    let (id, _) = bearer_request(&mut s, "s1");
    let start = json!({"event": "message_start", "data": r#"{"type":"message_start","message":{}}"#});
    let r = s.call(
        "fetch.stream",
        json!({"requestID": id, "attempt": 1, "events": [start]}),
    );
    assert_eq!(r, json!({"action": "hold"}));
    let text = json!({"event": "content_block_delta", "data": r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"hi"}}"#});
    let r = s.call(
        "fetch.stream",
        json!({"requestID": id, "attempt": 1, "events": [start, text]}),
    );
    assert_eq!(r, json!({"action": "forward"}));
    let error = json!({"event": "error", "data": r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#});
    let r = s.call(
        "fetch.stream",
        json!({"requestID": id, "attempt": 1, "events": [start, error]}),
    );
    assert_eq!((&r["action"], &r["account"]["alias"]), (&json!("retry"), &json!("b")));
    let a = s.account("p", "a");
    assert!(a["coolingDownUntil"].is_number(), "a cools down as for a 429: {a}");
    s.wait_notification(|n| n["method"] == "event" && n["params"]["type"] == "stream_refused");
    let e = s.call_err("fetch.stream", json!({"requestID": "nope", "events": []}));
    assert_eq!(code(&e), -32006);
}

/// A sidecar on `store` beside an opencode 2 database holding `rows`, once it mirrored them all.
fn beside_opencode2(store: &std::path::Path, rows: &[opencode_balancer::opencode2::fixture::Row]) -> Sidecar {
    let db = data_home(store).join("opencode").join("opencode.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    opencode_balancer::opencode2::fixture::write_credentials(&db, rows).unwrap();
    let mut s = Sidecar::start(store);
    eventually("opencode 2's credentials mirrored", || {
        s.call("accounts.list", json!({})).as_array().map(Vec::len) >= Some(rows.len())
    });
    s
}

const V2_KEY_A: &str = r#"{"type":"key","key":"sk-test-v2-a-FAKE"}"#;
const V2_KEY_B: &str = r#"{"type":"key","key":"sk-test-v2-b-FAKE"}"#;

#[test]
fn an_opencode_2_account_is_answered_as_its_credential_with_no_secret_header_at_begin_and_on_retry() {
    let (_d, store) = temp_store();
    let mut s = beside_opencode2(
        &store,
        &[
            ("cred_a", "p", "alpha", V2_KEY_A, true),
            ("cred_b", "p", "bravo", V2_KEY_B, false),
        ],
    );
    // One rule: even with a secret lent, the account travels as its credential.
    s.call(
        "credentials.lend",
        json!({"provider": "p", "credentialID": "cred_a", "secret": {"type": "key", "key": "sk-test-v2-lent-FAKE"}}),
    );
    let (id, begin) = bearer_request(&mut s, "s1");
    assert_eq!(begin["account"], json!({"providerID": "p", "alias": "alpha"}));
    assert_eq!(begin["credential"], json!({"id": "cred_a", "provider": "p"}));
    assert_eq!(begin["setHeaders"], json!({}), "no secret header: {begin}");
    let b = s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/v1/chat/completions", "headerNames": ["authorization"], "authorization": "bearer"}),
    );
    assert_eq!((&b["credential"], &b["setHeaders"]), (&begin["credential"], &json!({})));
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "120"}, "body": "{}"}),
    );
    assert_eq!(
        (&r["action"], &r["account"]["alias"]),
        (&json!("retry"), &json!("bravo"))
    );
    assert_eq!(r["credential"], json!({"id": "cred_b", "provider": "p"}));
    assert_eq!(r["setHeaders"], json!({}));
    assert!(r.get("syncAuth").is_none(), "{r}");
    for line in &s.seen {
        assert!(!line.contains("sk-test-v2-"), "a secret on the wire: {line}");
    }
    let bad = s.call_err(
        "credentials.lend",
        json!({"provider": "p", "credentialID": "cred_a", "secret": {"type": "refresh", "token": "sk-test-v2-bad-FAKE"}}),
    );
    assert_eq!(bad["code"], -32602);
    assert!(!bad.to_string().contains("sk-test-v2-bad"), "{bad}");
}

#[test]
fn a_switch_to_a_provider_whose_account_is_an_opencode_2_credential_carries_the_credential() {
    let (_d, store) = temp_store();
    let mut s = beside_opencode2(&store, &[("cred_b", "pb", "bravo", V2_KEY_B, true)]);
    s.save_api("pa", "alpha", "sk-test-v2-pa-alpha-FAKE");
    s.call(
        "providers.describe",
        json!({"providers": [
            {"providerID": "pa", "npm": "@ai-sdk/openai-compatible", "baseURL": "http://127.0.0.1:9/a/v1"},
            {"providerID": "pb", "npm": "@ai-sdk/openai-compatible", "baseURL": "http://127.0.0.1:9/b/v1"},
        ]}),
    );
    s.call("priority.move", json!({"providerID": "pa", "direction": -1}));
    s.call("priority.setModel", json!({"providerID": "pa", "modelID": "ma"}));
    s.call("priority.setModel", json!({"providerID": "pb", "modelID": "mb"}));
    s.call("balancing.set", json!({"enabled": true}));
    let h = s.call(
        "chat.headers",
        json!({"sessionID": "s1", "providerID": "pa", "modelID": "ma"}),
    );
    let id = h["requestID"].as_str().unwrap().to_string();
    s.call(
        "fetch.begin",
        json!({"requestID": id, "url": "http://127.0.0.1:9/a/v1/chat/completions", "method": "POST",
               "headerNames": ["authorization", "content-type"], "authorization": "bearer"}),
    );
    let r = s.call(
        "fetch.result",
        json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "120"}, "body": "{}"}),
    );
    assert_eq!(r["action"], "switch", "{r}");
    assert_eq!(r["account"], json!({"providerID": "pb", "alias": "bravo"}));
    assert_eq!(r["credential"], json!({"id": "cred_b", "provider": "pb"}));
    assert!(r["setHeaders"].get("authorization").is_none(), "{r}");
    assert!(!r.to_string().contains("sk-test-v2-"), "{r}");
}
