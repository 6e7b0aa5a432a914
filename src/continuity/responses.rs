//! OpenAI Responses bodies: another account's state is the `reasoning` items (encrypted content),
//! `item_reference` items, item `id`s and the top-level `previous_response_id` / `conversation`
//! (left by `store: true`). Function calls, their outputs (by `call_id`), `store`, `include`,
//! `prompt_cache_key` and everything else stay.

use super::splice::{self, children_with_keys, Member, Splice};

/// Top-level members that name state stored on the first account.
const STORED: &[&str] = &["previous_response_id", "conversation"];
/// Input item types that are another account's state as a whole.
const FOREIGN_ITEMS: &[&str] = &["reasoning", "item_reference"];

pub(super) fn strip<'a>(s: &mut Splice<'a>, top: &[Member<'a>]) {
    if let Some(input) = splice::get(top, "input").and_then(|c| s.items(c.value)) {
        let mut drop = Vec::with_capacity(input.len());
        for item in &input {
            let Some(members) = s.members(item.value) else {
                drop.push(false);
                continue;
            };
            let kind = splice::get_str(&members, "type");
            let foreign = kind.as_deref().is_some_and(|k| FOREIGN_ITEMS.contains(&k));
            if !foreign {
                let (children, ids) = children_with_keys(&members, &["id"]);
                s.remove(&children, &ids);
            }
            drop.push(foreign);
        }
        s.remove(&input, &drop);
    }
    let (children, stored) = children_with_keys(top, STORED);
    s.remove(&children, &stored);
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{edited, fixture, json};
    use super::super::{strip_foreign_state, Api, Edit, Scope};
    use serde_json::Value;

    fn types(v: &Value) -> Vec<&str> {
        v["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap_or("message"))
            .collect()
    }

    #[test]
    fn reasoning_items_go_and_function_call_pairs_store_include_and_cache_key_stay() {
        let body = fixture("responses-codex.json");
        let out = edited(Api::Responses, &body, Scope::SameProvider);
        let (before, after) = (json(&body), json(&out));
        assert_eq!(
            types(&before),
            [
                "message",
                "message",
                "reasoning",
                "function_call",
                "function_call_output",
                "reasoning",
                "message",
                "message"
            ]
        );
        assert_eq!(
            types(&after),
            [
                "message",
                "message",
                "function_call",
                "function_call_output",
                "message",
                "message"
            ]
        );
        assert!(
            !String::from_utf8_lossy(&out).contains("gAAAA-fake"),
            "no encrypted content left"
        );
        for key in [
            "store",
            "include",
            "prompt_cache_key",
            "reasoning",
            "instructions",
            "tools",
            "stream",
        ] {
            assert_eq!(after[key], before[key], "{key} kept");
        }
        assert_eq!(after["input"][2], before["input"][3], "function_call as it was");
        assert_eq!(after["input"][3], before["input"][4], "function_call_output as it was");
        assert_eq!(after["input"][2]["call_id"], after["input"][3]["call_id"]);
    }

    #[test]
    fn store_true_leftovers_go_item_ids_previous_response_and_references() {
        let body = fixture("responses-store-true.json");
        let out = edited(Api::Responses, &body, Scope::SameProvider);
        let after = json(&out);
        assert_eq!(after.get("previous_response_id"), None);
        assert_eq!(after.get("conversation"), None);
        assert_eq!(after["store"], Value::Bool(true));
        assert_eq!(
            types(&after),
            ["message", "message", "function_call", "function_call_output", "message"]
        );
        for item in after["input"].as_array().unwrap() {
            assert_eq!(item.get("id"), None, "{item}");
        }
        assert_eq!(after["input"][2]["call_id"], "call_fake_7");
        assert_eq!(after["input"][3]["call_id"], "call_fake_7");
    }

    #[test]
    fn a_body_without_foreign_state_is_unchanged() {
        let body = br#"{"model":"gpt-5","store":false,"input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"prompt_cache_key":"ses_fake"}"#;
        for scope in [Scope::SameProvider, Scope::ProviderMove] {
            assert_eq!(strip_foreign_state(Api::Responses, body, scope), Edit::Unchanged);
        }
        let string_input = br#"{"model":"gpt-5","input":"hello"}"#;
        assert_eq!(
            strip_foreign_state(Api::Responses, string_input, Scope::SameProvider),
            Edit::Unchanged
        );
    }

    #[test]
    fn only_the_foreign_bytes_change() {
        let body = br#"{"model":"gpt-5",  "input":[ {"type":"reasoning","encrypted_content":"gAAAA-fake-1","summary":[]} , {"role":"user","content":"a\u00e9"}],"temperature":1.0e0}"#;
        let out = edited(Api::Responses, body, Scope::SameProvider);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"model":"gpt-5",  "input":[ {"role":"user","content":"a\u00e9"}],"temperature":1.0e0}"#
        );
    }
}
