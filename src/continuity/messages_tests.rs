//! Tests of the Messages rule over recorded-shape bodies.

use serde_json::{json, Value};

use super::super::fixture::{edited, fixture, json};
use super::super::{strip_foreign_state, Api, Edit, Scope};

fn block_types(v: &Value) -> Vec<(String, Vec<String>)> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let blocks = match &m["content"] {
                Value::Array(bs) => bs.iter().map(|b| b["type"].as_str().unwrap().to_string()).collect(),
                Value::String(_) => vec!["string".to_string()],
                _ => vec![],
            };
            (m["role"].as_str().unwrap().to_string(), blocks)
        })
        .collect()
}

fn shape(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter()
        .map(|(r, bs)| (r.to_string(), bs.iter().map(|b| b.to_string()).collect()))
        .collect()
}

#[test]
fn thinking_goes_an_emptied_message_goes_and_turns_still_alternate() {
    let body = fixture("messages-claude.json");
    let before = json(&body);
    let after = json(&edited(Api::Messages, &body, Scope::SameProvider));
    assert_eq!(
        block_types(&after),
        shape(&[
            ("user", &["text"]),
            ("assistant", &["tool_use"]),
            ("user", &["tool_result", "text"]),
            ("assistant", &["text"]),
            ("user", &["text"]),
        ])
    );
    assert_eq!(
        after["messages"][1]["content"][0], before["messages"][1]["content"][1],
        "tool_use as it was"
    );
    assert_eq!(
        after["messages"][2]["content"][0], before["messages"][2]["content"][0],
        "tool_result as it was"
    );
    assert_eq!(
        after["messages"][2]["content"][1], before["messages"][4]["content"][0],
        "cache_control kept"
    );
    for key in [
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "context_management",
        "max_tokens",
    ] {
        assert_eq!(after[key], before[key], "{key} stays within one provider");
    }
}

#[test]
fn a_provider_move_also_drops_thinking_settings_effort_and_clear_thinking_edits() {
    let body = fixture("messages-claude.json");
    let after = json(&edited(Api::Messages, &body, Scope::ProviderMove));
    for key in ["thinking", "output_config", "context_management"] {
        assert_eq!(after.get(key), None, "{key}");
    }
    assert_eq!(after["stream"], true);
    assert_eq!(after["messages"].as_array().unwrap().len(), 5);

    let mixed = json!({
        "model": "claude-opus-4-5",
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "output_config": {"effort": "low", "format": {"type": "json_schema"}},
        "context_management": {"edits": [
            {"type": "clear_thinking_20251015"},
            {"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 30000}}
        ]}
    })
    .to_string();
    let after = json(&edited(Api::Messages, mixed.as_bytes(), Scope::ProviderMove));
    assert_eq!(after["output_config"], json!({"format": {"type": "json_schema"}}));
    assert_eq!(
        after["context_management"],
        json!({"edits": [{"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 30000}}]})
    );
    assert_eq!(after.get("thinking"), None);
}

#[test]
fn string_user_content_is_merged_as_a_text_block() {
    let body = json!({"messages": [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "fake-sig"}]},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "fake-data"}]},
        {"role": "user", "content": [{"type": "text", "text": "third"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "fake-sig"}]}
    ]})
    .to_string();
    let after = json(&edited(Api::Messages, body.as_bytes(), Scope::SameProvider));
    assert_eq!(
        after["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "first"},
            {"type": "text", "text": "second"},
            {"type": "text", "text": "third"}
        ]}])
    );
}

#[test]
fn without_thinking_blocks_the_body_goes_out_untouched() {
    let body = br#"{"model":"claude","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"hello"},{"type":"tool_use","id":"toolu_fake","name":"x","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_fake","content":"ok"}]}],"thinking":{"type":"enabled","budget_tokens":1024}}"#;
    assert_eq!(
        strip_foreign_state(Api::Messages, body, Scope::SameProvider),
        Edit::Unchanged
    );
    let user_thinking = br#"{"messages":[{"role":"user","content":[{"type":"text","text":"thinking"}]}]}"#;
    assert_eq!(
        strip_foreign_state(Api::Messages, user_thinking, Scope::ProviderMove),
        Edit::Unchanged
    );
}

#[test]
fn an_open_tool_loop_that_lost_its_thinking_also_loses_the_thinking_setting() {
    let body = |thinking: Value, last: Value| {
        json!({
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "user", "content": "run the tests"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "run them", "signature": "fake-sig"},
                    {"type": "tool_use", "id": "toolu_fake", "name": "bash", "input": {"command": "cargo test"}}
                ]},
                last
            ],
            "thinking": thinking,
            "output_config": {"effort": "high"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015"}]}
        })
        .to_string()
    };
    let enabled = json!({"type": "enabled", "budget_tokens": 4096});
    let tool_result =
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake", "content": "ok"}]});
    let after = json(&edited(
        Api::Messages,
        body(enabled.clone(), tool_result.clone()).as_bytes(),
        Scope::SameProvider,
    ));
    assert_eq!(
        after.get("thinking"),
        None,
        "Anthropic refuses thinking on without the final thinking block"
    );
    assert_eq!(
        after.get("context_management"),
        None,
        "clear_thinking needs thinking on"
    );
    assert_eq!(
        after["output_config"],
        json!({"effort": "high"}),
        "effort does not need thinking"
    );

    let new_turn = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake", "content": "ok"}, {"type": "text", "text": "and now?"}]});
    let after = json(&edited(
        Api::Messages,
        body(enabled.clone(), new_turn).as_bytes(),
        Scope::SameProvider,
    ));
    assert_eq!(after["thinking"], enabled, "a closed loop keeps thinking on");

    let off = json!({"type": "disabled"});
    let after = json(&edited(
        Api::Messages,
        body(off.clone(), tool_result).as_bytes(),
        Scope::SameProvider,
    ));
    assert_eq!(after["thinking"], off);
    assert_eq!(
        after["context_management"],
        json!({"edits": [{"type": "clear_thinking_20251015"}]})
    );
}
