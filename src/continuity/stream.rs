//! Errors inside an HTTP 200 event stream: which server-sent events are content (the user sees
//! them, or the model committed to an answer), which are neutral (nothing to see, safe to
//! discard), and which are an error, with the status it stands for so it is handled like that
//! status (cooldown from the hints in its data, failover, quota). [`Lookahead`] holds a stream's
//! first events until content arrives, within a bound; an error before content is a refusal,
//! anything after content goes to opencode untouched.
//!
//! Thinking deltas count as content: opencode shows them. Anything not known to be neutral is
//! content too, so an unknown event never delays a stream.

use serde_json::Value;

use super::classify::{state_bound_text, StateBoundKind};
use crate::accounts::rules::cooldown::classify::{classify, Verdict};

/// Events looked at before the stream is forwarded without a verdict.
pub const LOOKAHEAD_MAX_EVENTS: usize = 64;
/// Bytes of event data held before the stream is forwarded without a verdict. ChatGPT's
/// `response.created` echoes the instructions and tools (tens of KiB for opencode).
pub const LOOKAHEAD_MAX_BYTES: usize = 256 * 1024;

/// An error event, as the response status it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The equivalent HTTP status: 429 rate limit, 529 overloaded, 402 quota, 500 server, 400…
    pub status: u16,
    /// What the balancer's classifier makes of that status with the event's data as the body
    /// (so `insufficient_quota` in the data is a quota refusal, as in a body).
    pub verdict: Verdict,
    /// Set when the error says the request's conversation state belongs to another account.
    pub state_bound: Option<StateBoundKind>,
}

impl StreamError {
    /// Whether the balancer acts on it (cooldown, failover, auth, one mend); else it is the
    /// request's own problem and goes to opencode untouched.
    pub fn is_refusal(&self) -> bool {
        self.state_bound.is_some() || !matches!(self.verdict, Verdict::Return | Verdict::Success)
    }
}

/// What one event of a stream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamVerdict {
    /// Nothing the user sees and nothing the model committed to: safe to discard.
    Neutral,
    /// Text, thinking, a tool call, or an event not known to be neutral.
    Content,
    /// An error event.
    Error(StreamError),
}

/// Error names (Anthropic `error.type`, OpenAI `error.code`, Google `error.status`) and the
/// status each stands for.
const STATUS_OF: &[(&str, u16)] = &[
    ("overloaded_error", 529),
    ("server_is_overloaded", 529),
    ("rate_limit_error", 429),
    ("rate_limit_exceeded", 429),
    ("insufficient_quota", 429),
    ("usage_limit_reached", 429),
    ("resource_exhausted", 429),
    ("usage_not_included", 402),
    ("billing_error", 402),
    ("api_error", 500),
    ("server_error", 500),
    ("internal_error", 500),
    ("internal", 500),
    ("unavailable", 503),
    ("authentication_error", 401),
    ("permission_error", 403),
];

/// Classifies one event: its `event:` name (if any) and its `data:` text.
pub fn classify_stream_event(event: Option<&str>, data: &str) -> StreamVerdict {
    if data.trim() == "[DONE]" {
        return StreamVerdict::Neutral;
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return StreamVerdict::Content;
    };
    let kind = v["type"].as_str().or(event).unwrap_or("");
    let is = |field: &Value, t: &str| field["type"].as_str() == Some(t);
    match kind {
        "error" => StreamVerdict::Error(error_of(v.get("error").unwrap_or(&v), data)),
        "response.failed" => StreamVerdict::Error(error_of(&v["response"]["error"], data)),
        "message_start"
        | "ping"
        | "content_block_stop"
        | "response.created"
        | "response.in_progress"
        | "response.queued"
        | "response.reasoning_summary_part.added" => StreamVerdict::Neutral,
        "content_block_start" => {
            let block = &v["content_block"];
            let empty_thinking = is(block, "thinking") && block["thinking"].as_str().is_none_or(str::is_empty);
            neutral_if(empty_thinking || is(block, "redacted_thinking"))
        }
        "response.output_item.added" | "response.output_item.done" => neutral_if(is(&v["item"], "reasoning")),
        "" if v.get("error").is_some() => StreamVerdict::Error(error_of(&v["error"], data)),
        "" if v.get("choices").is_some() => neutral_if(!chat_chunk_has_content(&v)),
        _ => StreamVerdict::Content,
    }
}

fn neutral_if(neutral: bool) -> StreamVerdict {
    if neutral {
        StreamVerdict::Neutral
    } else {
        StreamVerdict::Content
    }
}

/// Whether a chat-completions chunk carries anything beyond a role or empty strings.
fn chat_chunk_has_content(v: &Value) -> bool {
    let Some(choices) = v["choices"].as_array() else {
        return true;
    };
    choices.iter().any(|c| {
        c["delta"].as_object().is_some_and(|d| {
            d.iter().any(|(k, val)| {
                k != "role"
                    && match val {
                        Value::Null => false,
                        Value::String(s) => !s.is_empty(),
                        Value::Array(a) => !a.is_empty(),
                        _ => true,
                    }
            })
        })
    })
}

/// The status an error object stands for: its name from the table, a numeric HTTP code, a
/// state-bound message (400); otherwise 400 (the request's own problem, untouched).
fn error_of(err: &Value, data: &str) -> StreamError {
    let names = ["code", "type", "status"].map(|k| err[k].as_str().map(str::to_ascii_lowercase));
    let named = names
        .iter()
        .flatten()
        .find_map(|n| STATUS_OF.iter().find(|(k, _)| k == n).map(|(_, s)| *s));
    let numeric = err["code"]
        .as_u64()
        .filter(|c| (400..600).contains(c))
        .map(|c| c as u16);
    let state_bound = if names[0].as_deref() == Some("invalid_encrypted_content") {
        Some(StateBoundKind::EncryptedContent)
    } else {
        err["message"].as_str().and_then(state_bound_text)
    };
    let status = match state_bound {
        Some(_) => 400,
        None => named.or(numeric).unwrap_or(400),
    };
    StreamError {
        status,
        verdict: classify(status, Some(data)),
        state_bound,
    }
}

/// What to do with a stream after one more event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Keep holding: nothing seen yet says what the stream is.
    Hold,
    /// Forward everything held and the rest as it comes; stop looking.
    Forward,
    /// The stream is a refusal: discard what was held and handle it like `status`.
    Refused(StreamError),
}

/// The look-ahead over a stream's first events (plugin-side state, sidecar rule).
#[derive(Debug, Default)]
pub struct Lookahead {
    events: usize,
    bytes: usize,
}

impl Lookahead {
    /// Feeds one event; `Forward` and `Refused` are final.
    pub fn feed(&mut self, event: Option<&str>, data: &str) -> Step {
        self.events += 1;
        self.bytes += data.len() + event.map_or(0, str::len);
        match classify_stream_event(event, data) {
            StreamVerdict::Content => Step::Forward,
            StreamVerdict::Error(e) if e.is_refusal() => Step::Refused(e),
            StreamVerdict::Error(_) => Step::Forward,
            StreamVerdict::Neutral if self.events >= LOOKAHEAD_MAX_EVENTS || self.bytes >= LOOKAHEAD_MAX_BYTES => {
                Step::Forward
            }
            StreamVerdict::Neutral => Step::Hold,
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
