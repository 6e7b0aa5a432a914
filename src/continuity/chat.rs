//! OpenAI chat-completions bodies (GitHub Copilot's `/chat/completions`): another seat's state is
//! `reasoning_opaque` on assistant messages, and with it `reasoning_text` — the pair is what a
//! thinking block and its signature are on Messages, and text without its opaque half is not
//! something the other side can verify, so both go (docs/continuity.md). An assistant message
//! left with no content and no tool calls is dropped; `tool_calls` and `tool` messages stay.

use super::splice::{self, children_with_keys, Member, Splice};

const REASONING: &[&str] = &["reasoning_opaque", "reasoning_text"];

pub(super) fn strip<'a>(s: &mut Splice<'a>, top: &[Member<'a>]) {
    let Some(list) = splice::get(top, "messages").and_then(|c| s.items(c.value)) else {
        return;
    };
    let mut drop = vec![false; list.len()];
    for (i, m) in list.iter().enumerate() {
        let Some(members) = s.members(m.value) else {
            continue;
        };
        if splice::get_str(&members, "role").as_deref() != Some("assistant") {
            continue;
        }
        let (children, flags) = children_with_keys(&members, REASONING);
        if !flags.contains(&true) {
            continue;
        }
        let empty = |key: &str| splice::get(&members, key).is_none_or(|c| matches!(c.value, "null" | "\"\"" | "[]"));
        if empty("content") && empty("tool_calls") {
            drop[i] = true;
            s.count += flags.iter().filter(|f| **f).count();
        } else {
            s.remove(&children, &flags);
        }
    }
    s.remove(&list, &drop);
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{edited, fixture, json};
    use super::super::{strip_foreign_state, Api, Edit, Scope};

    #[test]
    fn reasoning_opaque_and_text_go_tool_calls_and_results_stay() {
        let body = fixture("chat-copilot.json");
        let before = json(&body);
        let after = json(&edited(Api::ChatCompletions, &body, Scope::SameProvider));
        let msgs = after["messages"].as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "assistant", "user"]);
        for m in msgs {
            assert_eq!(m.get("reasoning_opaque"), None);
            assert_eq!(m.get("reasoning_text"), None);
        }
        assert_eq!(msgs[2]["tool_calls"], before["messages"][2]["tool_calls"]);
        assert_eq!(msgs[3], before["messages"][3]);
        assert_eq!(msgs[4]["content"], before["messages"][5]["content"]);
        assert_eq!(after["tools"], before["tools"]);
    }

    #[test]
    fn plain_chat_history_is_unchanged() {
        let body = br#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello","reasoning_content":"deepseek keeps its own"}]}"#;
        assert_eq!(
            strip_foreign_state(Api::ChatCompletions, body, Scope::SameProvider),
            Edit::Unchanged
        );
    }
}
