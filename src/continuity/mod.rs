//! Conversation state that belongs to another account (issue 29, docs/continuity.md): which
//! replayed state a request body carries per API and how it is removed on a failover
//! ([`strip_foreign_state`]), which refusals say the state belongs elsewhere
//! ([`classify::classify_state_bound_error`]), and which events of a 200 stream are an early
//! refusal ([`stream`]). Pure functions over bytes; the retry balancer decides when to call them.

pub mod chat;
pub mod classify;
pub mod gemini;
pub mod messages;
pub mod responses;
pub mod splice;
pub mod stream;

pub use classify::{classify_state_bound_error, StateBound, StateBoundKind};
pub use stream::{classify_stream_event, Lookahead, Step, StreamError, StreamVerdict};

use crate::failover::rules::provider_move::{wire_of, Wire};
use splice::Splice;

/// The wire API of a request, which decides where its replayed state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Responses (`/responses`, ChatGPT's codex backend, Copilot GPT models).
    Responses,
    /// Anthropic Messages (`/messages`: Anthropic, Claude logins, Copilot Claude models).
    Messages,
    /// Google Gemini (`:generateContent`, `:streamGenerateContent`).
    Gemini,
    /// OpenAI chat completions (`/chat/completions`, Copilot's `reasoning_opaque`).
    ChatCompletions,
}

/// How far the request moves from the account that produced its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Another account (seat, organisation) of the same provider and endpoint.
    SameProvider,
    /// Another provider or endpoint speaking the same API (e.g. Anthropic ↔ Copilot `/v1/messages`).
    ProviderMove,
}

impl Scope {
    /// The wire name (`stripState.scope`, `continuity.strip`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SameProvider => "same-provider",
            Scope::ProviderMove => "provider-move",
        }
    }

    /// The scope of a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Scope> {
        match name {
            "same-provider" => Some(Scope::SameProvider),
            "provider-move" => Some(Scope::ProviderMove),
            _ => None,
        }
    }

    /// The larger of two scopes (a provider move also removes what another account's does).
    pub fn wider(a: Option<Scope>, b: Option<Scope>) -> Option<Scope> {
        match (a, b) {
            (Some(Scope::ProviderMove), _) | (_, Some(Scope::ProviderMove)) => Some(Scope::ProviderMove),
            (Some(s), _) | (None, Some(s)) => Some(s),
            (None, None) => None,
        }
    }
}

/// What [`strip_foreign_state`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Nothing to remove (or not JSON of a known shape): send the original bytes untouched.
    Unchanged,
    /// The body without the foreign state, and how many pieces (items, blocks, fields,
    /// signatures, dropped messages) were taken out or replaced.
    Edited { body: Vec<u8>, removed: usize },
}

/// The request's API: from the URL's path when it names one, else from the body's shape
/// (`input` → Responses, `contents` → Gemini, `messages` → chat completions when any message
/// has a chat-only role or field, else Messages). `None` when neither says.
pub fn detect_api(url: Option<&str>, body: &[u8]) -> Option<Api> {
    if let Some(url) = url {
        let path = url.split(['?', '#']).next().unwrap_or("");
        if path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent") {
            return Some(Api::Gemini);
        }
        match wire_of(url) {
            Some(Wire::Responses) => return Some(Api::Responses),
            Some(Wire::Messages) => return Some(Api::Messages),
            Some(Wire::ChatCompletions) => return Some(Api::ChatCompletions),
            None => {}
        }
    }
    let src = std::str::from_utf8(body).ok()?;
    let s = Splice::new(src);
    let top = s.members(s.root()?)?;
    if splice::get(&top, "input").is_some() {
        return Some(Api::Responses);
    }
    if splice::get(&top, "contents").is_some() {
        return Some(Api::Gemini);
    }
    let messages = s.items(splice::get(&top, "messages")?.value)?;
    let chat = messages.iter().any(|m| {
        s.members(m.value).is_some_and(|ms| {
            let role = splice::get_str(&ms, "role");
            matches!(role.as_deref(), Some("system" | "developer" | "tool"))
                || ms
                    .iter()
                    .any(|m| matches!(m.key.as_ref(), "tool_calls" | "reasoning_opaque" | "reasoning_text"))
        })
    });
    Some(if chat { Api::ChatCompletions } else { Api::Messages })
}

/// Removes from a request body the conversation state another account (or provider) produced,
/// as docs/continuity.md lists it per API; everything else stays byte for byte. Deterministic:
/// the same body gives the same bytes every time, so the new account's prompt cache warms again.
/// Invalid JSON, or a body not of `api`'s shape, is [`Edit::Unchanged`].
pub fn strip_foreign_state(api: Api, body: &[u8], scope: Scope) -> Edit {
    let Ok(src) = std::str::from_utf8(body) else {
        return Edit::Unchanged;
    };
    let mut s = Splice::new(src);
    let Some(top) = s.root().and_then(|r| s.members(r)) else {
        return Edit::Unchanged;
    };
    match api {
        Api::Responses => responses::strip(&mut s, &top),
        Api::Messages => messages::strip(&mut s, &top, scope),
        Api::Gemini => gemini::strip(&mut s, &top),
        Api::ChatCompletions => chat::strip(&mut s, &top),
    }
    let removed = s.count;
    match s.finish() {
        Some(out) => Edit::Edited {
            body: out.into_bytes(),
            removed,
        },
        None => Edit::Unchanged,
    }
}

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_has_a_wire_name_and_the_wider_of_two_is_the_provider_move() {
        for scope in [Scope::SameProvider, Scope::ProviderMove] {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("everything"), None);
        let (same, moved) = (Some(Scope::SameProvider), Some(Scope::ProviderMove));
        assert_eq!(Scope::wider(None, None), None);
        assert_eq!(Scope::wider(None, same), same);
        assert_eq!(Scope::wider(same, None), same);
        assert_eq!(Scope::wider(same, moved), moved);
        assert_eq!(Scope::wider(moved, same), moved);
    }

    #[test]
    fn the_api_comes_from_the_url_first() {
        let b = br#"{"messages":[]}"#;
        assert_eq!(
            detect_api(Some("https://chatgpt.com/backend-api/codex/responses"), b),
            Some(Api::Responses)
        );
        assert_eq!(
            detect_api(Some("https://api.githubcopilot.com/v1/messages?beta=true"), b),
            Some(Api::Messages)
        );
        assert_eq!(
            detect_api(Some("https://api.githubcopilot.com/chat/completions"), b),
            Some(Api::ChatCompletions)
        );
        let g = "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro:streamGenerateContent?alt=sse";
        assert_eq!(detect_api(Some(g), b), Some(Api::Gemini));
    }

    #[test]
    fn without_a_known_url_the_body_shape_decides() {
        assert_eq!(
            detect_api(None, br#"{"model":"gpt-5","input":[]}"#),
            Some(Api::Responses)
        );
        assert_eq!(
            detect_api(Some("https://x.test/v1/other"), br#"{"contents":[]}"#),
            Some(Api::Gemini)
        );
        let messages = br#"{"model":"claude","system":[],"messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(detect_api(None, messages), Some(Api::Messages));
        let chat =
            br#"{"model":"gpt-4.1","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}]}"#;
        assert_eq!(detect_api(None, chat), Some(Api::ChatCompletions));
        let opaque = br#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"a","reasoning_opaque":"x"}]}"#;
        assert_eq!(detect_api(None, opaque), Some(Api::ChatCompletions));
        assert_eq!(detect_api(None, br#"{"prompt":"x"}"#), None);
        assert_eq!(detect_api(None, b"not json"), None);
    }

    #[test]
    fn invalid_or_foreign_bodies_are_left_alone_without_panicking() {
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let bad: [&[u8]; 7] = [
            b"",
            b"{",
            b"\xff\xfe",
            b"[1,2]",
            b"\"text\"",
            br#"{"input":"just a string","messages":7,"contents":{"parts":1}}"#,
            deep.as_bytes(),
        ];
        for body in bad {
            for api in [Api::Responses, Api::Messages, Api::Gemini, Api::ChatCompletions] {
                for scope in [Scope::SameProvider, Scope::ProviderMove] {
                    assert_eq!(strip_foreign_state(api, body, scope), Edit::Unchanged, "{api:?}");
                }
            }
        }
    }
}
