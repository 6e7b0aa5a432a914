//! Anthropic Messages bodies: another account's (or endpoint's) state is the `thinking` and
//! `redacted_thinking` blocks in assistant messages. They are dropped; an assistant message left
//! empty is dropped too, and the user messages it separated are merged into one so turns still
//! alternate; `tool_use` / `tool_result` blocks are never touched. On a provider move the request
//! also loses the top-level `thinking`, `output_config.effort` and the `clear_thinking_*` edits
//! of `context_management` (an object left empty by that goes as a whole).
//!
//! One more case on the same provider: with `thinking` on, Anthropic refuses a request whose
//! final assistant message in an open tool loop (the last message carries only `tool_result`s)
//! does not start with a thinking block ("Expected `thinking` or `redacted_thinking`, but found
//! `tool_use`"). When the edit took that message's thinking, the request also loses `thinking`
//! and the `clear_thinking_*` edits (which need it); `output_config.effort` stays.

use std::borrow::Cow;

use super::splice::{self, Child, Member, Splice};
use super::Scope;

const THINKING: &[&str] = &["thinking", "redacted_thinking"];

struct Message<'a> {
    role: Option<Cow<'a, str>>,
    content: Option<Child<'a>>,
}

pub(super) fn strip<'a>(s: &mut Splice<'a>, top: &[Member<'a>], scope: Scope) {
    let open_loop_lost_thinking = splice::get(top, "messages")
        .and_then(|c| s.items(c.value))
        .is_some_and(|list| strip_messages(s, &list));
    if scope == Scope::ProviderMove {
        strip_provider_settings(s, top, true);
    } else if open_loop_lost_thinking && thinking_on(top) {
        strip_provider_settings(s, top, false);
    }
}

/// Whether the request asks for thinking (`thinking.type` other than `disabled`).
fn thinking_on(top: &[Member]) -> bool {
    splice::get(top, "thinking")
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t.value).ok())
        .is_some_and(|t| t["type"].as_str() != Some("disabled"))
}

/// Drops the thinking blocks; returns whether the final assistant message of an open tool loop
/// lost one.
fn strip_messages<'a>(s: &mut Splice<'a>, list: &[Child<'a>]) -> bool {
    let msgs: Vec<Message<'a>> = list
        .iter()
        .map(|m| {
            let members = s.members(m.value).unwrap_or_default();
            Message {
                role: splice::get_str(&members, "role"),
                content: splice::get(&members, "content").copied(),
            }
        })
        .collect();
    let mut drop = vec![false; msgs.len()];
    let mut lost = vec![false; msgs.len()];
    for (i, m) in msgs.iter().enumerate() {
        if m.role.as_deref() != Some("assistant") {
            continue;
        }
        let Some(blocks) = m.content.and_then(|c| s.items(c.value)) else {
            continue;
        };
        let thinking: Vec<bool> = blocks
            .iter()
            .map(|b| block_type(s, b).is_some_and(|t| THINKING.contains(&t.as_ref())))
            .collect();
        lost[i] = thinking.contains(&true);
        if !blocks.is_empty() && thinking.iter().all(|t| *t) {
            drop[i] = true;
            s.count += blocks.len();
        } else {
            s.remove(&blocks, &thinking);
        }
    }
    let open_loop = msgs.last().is_some_and(|m| {
        m.role.as_deref() == Some("user")
            && m.content.and_then(|c| s.items(c.value)).is_some_and(|bs| {
                !bs.is_empty() && bs.iter().all(|b| block_type(s, b).as_deref() == Some("tool_result"))
            })
    });
    let final_assistant = msgs.iter().rposition(|m| m.role.as_deref() == Some("assistant"));
    let open_loop_lost = open_loop && final_assistant.is_some_and(|a| lost[a]);
    merge_separated_users(s, &msgs, &mut drop);
    s.remove(list, &drop);
    open_loop_lost
}

fn block_type<'a>(s: &Splice<'a>, block: &Child<'a>) -> Option<Cow<'a, str>> {
    s.members(block.value).and_then(|m| splice::get_str(&m, "type"))
}

/// For each dropped assistant message between two user messages, merges the later user message
/// into the earlier one (content blocks in order) and drops it.
fn merge_separated_users<'a>(s: &mut Splice<'a>, msgs: &[Message<'a>], drop: &mut [bool]) {
    let is_user = |m: &Message| m.role.as_deref() == Some("user");
    let mut merged: Vec<(usize, Vec<usize>)> = Vec::new();
    for i in 0..msgs.len() {
        if !drop[i] || msgs[i].role.as_deref() != Some("assistant") {
            continue;
        }
        let prev = (0..i).rev().find(|&p| !drop[p]);
        let next = (i + 1..msgs.len()).find(|&q| !drop[q]);
        let (Some(p), Some(q)) = (prev, next) else {
            continue;
        };
        if !(is_user(&msgs[p]) && is_user(&msgs[q]) && msgs[p].content.is_some() && msgs[q].content.is_some()) {
            continue;
        }
        drop[q] = true;
        match merged.last_mut() {
            Some((head, tail)) if *head == p => tail.push(q),
            _ => merged.push((p, vec![q])),
        }
    }
    for (head, tail) in merged {
        let parts: Vec<String> = std::iter::once(head)
            .chain(tail)
            .filter_map(|i| msgs[i].content.map(|c| blocks_text(s, c.value)))
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(content) = msgs[head].content {
            s.replace(content.value, format!("[{}]", parts.join(",")));
        }
    }
}

/// A user message's content as comma-separated blocks: an array's items as they are, a string
/// as one text block.
fn blocks_text(s: &Splice, content: &str) -> String {
    if splice::string(content).is_some() {
        return format!(r#"{{"type":"text","text":{content}}}"#);
    }
    s.items(content)
        .map(|items| items.iter().map(|b| b.value).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// Top-level `thinking`, `context_management.edits[clear_thinking_*]` and, if `effort`,
/// `output_config.effort`.
fn strip_provider_settings<'a>(s: &mut Splice<'a>, top: &[Member<'a>], effort: bool) {
    let mut drop = vec![false; top.len()];
    for (i, m) in top.iter().enumerate() {
        match m.key.as_ref() {
            "thinking" => drop[i] = true,
            "output_config" if effort => drop[i] = remove_inner(s, m.child.value, |k| k == "effort"),
            "context_management" => {
                let Some(members) = s.members(m.child.value) else {
                    continue;
                };
                let Some(edits) = splice::get(&members, "edits").and_then(|e| s.items(e.value)) else {
                    continue;
                };
                let flags: Vec<bool> = edits
                    .iter()
                    .map(|e| block_type(s, e).is_some_and(|t| t.starts_with("clear_thinking_")))
                    .collect();
                if !edits.is_empty() && flags.iter().all(|f| *f) && members.len() == 1 {
                    drop[i] = true;
                    s.count += edits.len() - 1;
                } else {
                    s.remove(&edits, &flags);
                }
            }
            _ => {}
        }
    }
    let children: Vec<Child> = top.iter().map(|m| m.child).collect();
    s.remove(&children, &drop);
}

/// Removes the members of object `obj` that `which` names; returns true instead (removing
/// nothing) when that would leave the object empty, so the caller drops it whole.
fn remove_inner<'a>(s: &mut Splice<'a>, obj: &'a str, which: impl Fn(&str) -> bool) -> bool {
    let Some(members) = s.members(obj) else {
        return false;
    };
    let flags: Vec<bool> = members.iter().map(|m| which(&m.key)).collect();
    if !members.is_empty() && flags.iter().all(|f| *f) {
        s.count += members.len() - 1;
        return true;
    }
    let children: Vec<Child> = members.iter().map(|m| m.child).collect();
    s.remove(&children, &flags);
    false
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
