//! Property tests of the continuity rules: any text is edited without a panic into valid JSON
//! or left alone, and generated conversations of any shape and layout lose exactly their foreign
//! state. `PROPTEST_CASES` sets how hard (CI runs a longer pass in release).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{classify_state_bound_error, classify_stream_event, strip_foreign_state, Api, Edit, Scope};

const APIS: [Api; 4] = [Api::Responses, Api::Messages, Api::Gemini, Api::ChatCompletions];

fn jsonish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\[\\]{}\":,0-9a-z_ .eE+-]{0,200}",
        "\\{\"(input|messages|contents)\":\\[(\\{\"(type|role|parts|content|id)\":(\"(reasoning|assistant|thinking)\"|\\[\\]|\\{\\}|1)\\},?){0,6}\\]\\}",
        (1usize..3000).prop_map(|n| format!("{{\"input\":{}{}}}", "[".repeat(n), "]".repeat(n))),
    ]
}

fn layout(v: &Value, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(v).unwrap()
    } else {
        v.to_string()
    }
}

fn responses_item() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"role": "user", "content": [{"type": "input_text", "text": "hi"}]})),
        Just(json!({"role": "assistant", "id": "msg_fake", "content": [{"type": "output_text", "text": "ok"}]})),
        Just(json!({"type": "reasoning", "encrypted_content": "gAAAA-fake", "summary": []})),
        Just(json!({"type": "reasoning", "id": "rs_fake", "summary": [{"type": "summary_text", "text": "s"}]})),
        Just(json!({"type": "item_reference", "id": "rs_fake"})),
        Just(json!({"type": "function_call", "id": "fc_fake", "call_id": "call_1", "name": "read", "arguments": "{}"})),
        Just(json!({"type": "function_call_output", "call_id": "call_1", "output": "x"})),
    ]
}

fn block(role: &'static str) -> impl Strategy<Value = Value> {
    let assistant = prop_oneof![
        Just(json!({"type": "thinking", "thinking": "t", "signature": "fake-sig"})),
        Just(json!({"type": "thinking", "thinking": "", "signature": "fake-sig"})),
        Just(json!({"type": "redacted_thinking", "data": "fake-data"})),
        Just(json!({"type": "text", "text": "answer"})),
        Just(json!({"type": "tool_use", "id": "toolu_fake", "name": "read", "input": {}})),
    ];
    let user = prop_oneof![
        Just(json!({"type": "text", "text": "question"})),
        Just(json!({"type": "tool_result", "tool_use_id": "toolu_fake", "content": "ok"})),
    ];
    if role == "assistant" {
        assistant.boxed()
    } else {
        user.boxed()
    }
}

/// Alternating user / assistant messages; a user message's content is a string or blocks.
fn conversation() -> impl Strategy<Value = Vec<Value>> {
    let user = prop_oneof![
        Just(json!({"role": "user", "content": "plain"})),
        proptest::collection::vec(block("user"), 1..3).prop_map(|b| json!({"role": "user", "content": b})),
    ];
    let assistant =
        proptest::collection::vec(block("assistant"), 1..4).prop_map(|b| json!({"role": "assistant", "content": b}));
    proptest::collection::vec((user, assistant), 1..6)
        .prop_map(|pairs| pairs.into_iter().flat_map(|(u, a)| [u, a]).collect())
}

/// Every content block in order, a string content as one text block, thinking left out.
fn visible_blocks(messages: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for m in messages.as_array().unwrap() {
        match &m["content"] {
            Value::String(s) => out.push(json!({"type": "text", "text": s})),
            Value::Array(bs) => out.extend(
                bs.iter()
                    .filter(|b| !matches!(b["type"].as_str(), Some("thinking" | "redacted_thinking")))
                    .cloned(),
            ),
            _ => {}
        }
    }
    out
}

fn after(api: Api, body: &str, scope: Scope) -> Value {
    match strip_foreign_state(api, body.as_bytes(), scope) {
        Edit::Edited { body: out, .. } => {
            assert_eq!(strip_foreign_state(api, &out, scope), Edit::Unchanged, "idempotent");
            serde_json::from_slice(&out).expect("valid JSON")
        }
        Edit::Unchanged => serde_json::from_str(body).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_edited_into_json_or_left_alone(text in jsonish()) {
        for api in APIS {
            for scope in [Scope::SameProvider, Scope::ProviderMove] {
                if let Edit::Edited { body, .. } = strip_foreign_state(api, text.as_bytes(), scope) {
                    prop_assert!(serde_json::from_slice::<Value>(&body).is_ok());
                }
            }
        }
        let _ = classify_state_bound_error(400, &text);
        let _ = classify_stream_event(Some("error"), &text);
    }

    #[test]
    fn responses_bodies_lose_exactly_reasoning_references_ids_and_stored_links(
        items in proptest::collection::vec(responses_item(), 0..12),
        previous in any::<bool>(),
        pretty in any::<bool>(),
    ) {
        let mut body = json!({"model": "gpt-5", "input": items, "store": false, "prompt_cache_key": "ses_fake"});
        if previous {
            body["previous_response_id"] = json!("resp_fake");
        }
        let out = after(Api::Responses, &layout(&body, pretty), Scope::SameProvider);
        let mut expected = body.clone();
        expected.as_object_mut().unwrap().remove("previous_response_id");
        let kept: Vec<Value> = body["input"].as_array().unwrap().iter()
            .filter(|i| !matches!(i["type"].as_str(), Some("reasoning" | "item_reference")))
            .map(|i| { let mut i = i.clone(); i.as_object_mut().unwrap().remove("id"); i })
            .collect();
        expected["input"] = Value::Array(kept);
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn messages_bodies_lose_only_thinking_and_still_alternate(
        messages in conversation(),
        pretty in any::<bool>(),
        scope in prop_oneof![Just(Scope::SameProvider), Just(Scope::ProviderMove)],
    ) {
        let body = json!({"model": "claude", "max_tokens": 1024, "messages": messages});
        let out = after(Api::Messages, &layout(&body, pretty), scope);
        prop_assert_eq!(visible_blocks(&out["messages"]), visible_blocks(&body["messages"]));
        let roles: Vec<&str> = out["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        prop_assert!(roles.windows(2).all(|w| w[0] != w[1]), "{:?}", roles);
        prop_assert_eq!(roles.first().copied(), Some("user"));
        prop_assert_eq!(&out["max_tokens"], &body["max_tokens"]);
    }
}
