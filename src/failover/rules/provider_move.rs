//! Moving a refused request to another provider: whether two providers speak the same API (and
//! how the request's URL and body change for the other one), and the plain words of a final
//! answer when no provider can take the request.
//!
//! The rule (docs/protocol.md, "Keeping a turn going"): a request can be re-sent as it is to
//! another provider when
//! 1. its URL names an API the balancer knows: the path ends in `/chat/completions` (OpenAI chat
//!    completions), `/responses` (OpenAI responses) or `/messages` (Anthropic messages);
//! 2. both providers' SDK packages (opencode's `npm` for the provider) are known and of the same
//!    family: the same package, or two packages that build OpenAI chat-completions requests from
//!    a `baseURL` (`CHAT_FAMILY`), in which case the request must be a chat completion;
//! 3. the other provider's base URL is known (its config's `options.baseURL`, or the URL opencode
//!    reported for its model).
//!
//! The new URL is the other base URL's path followed by what followed the first provider's base
//! URL in the request's path (else by the API's own path, `/chat/completions`, …), then the other
//! base URL's own query, if any. Nothing of the first URL's query or fragment survives: a key in
//! it (`?key=`, `?api-key=`, `?token=`) is the first provider's. The headers that go along are
//! `rules::outbound`'s rule. The body
//! gets the other model in `model`, and loses what belongs to the first model or provider:
//! `reasoning_effort`, `reasoning`, `thinking` (a variant's settings) and
//! `previous_response_id` (a stored response of the first provider).

use std::collections::BTreeMap;

use serde_json::Value;

use super::outbound::ConfiguredHeaders;
use crate::model::Millis;

/// What the balancer knows of a provider's API (from the plugin: opencode's config and hooks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderApi {
    pub npm: Option<String>,
    pub base_url: Option<String>,
    /// Its configured headers, set on a request moved to it.
    pub headers: ConfiguredHeaders,
}

/// The wire API a request speaks, read from its URL path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    ChatCompletions,
    Responses,
    Messages,
}

impl Wire {
    fn path(self) -> &'static str {
        match self {
            Wire::ChatCompletions => "/chat/completions",
            Wire::Responses => "/responses",
            Wire::Messages => "/messages",
        }
    }
}

/// SDK packages that send OpenAI chat-completions requests to `baseURL + /chat/completions`.
pub const CHAT_FAMILY: &[&str] = &[
    "@ai-sdk/openai-compatible",
    "@openrouter/ai-sdk-provider",
    "@ai-sdk/groq",
    "@ai-sdk/deepseek",
    "@ai-sdk/xai",
    "@ai-sdk/togetherai",
    "@ai-sdk/cerebras",
    "@ai-sdk/deepinfra",
    "@ai-sdk/fireworks",
];

/// Body fields that belong to the first model or provider and are dropped on a move.
pub const MODEL_BOUND_FIELDS: &[&str] = &["reasoning_effort", "reasoning", "thinking", "previous_response_id"];

/// The request's API, from the path of its URL (query and fragment ignored).
pub fn wire_of(url: &str) -> Option<Wire> {
    let path = url.split(['?', '#']).next().unwrap_or("").trim_end_matches('/');
    [Wire::ChatCompletions, Wire::Responses, Wire::Messages]
        .into_iter()
        .find(|w| path.ends_with(w.path()))
}

/// How the request changes for the other provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Resend {
    pub url: String,
    /// Top-level body fields to set.
    pub body_set: BTreeMap<String, Value>,
    /// Top-level body fields to remove.
    pub body_remove: Vec<String>,
}

/// Why a request cannot be re-sent to the other provider as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotSame {
    #[error("the request's API is not one the balancer can move")]
    UnknownWire,
    #[error("the balancer does not know which API {0} speaks")]
    UnknownApi(String),
    #[error("{0} speaks another API")]
    OtherApi(String),
    #[error("the balancer does not know the address of {0}")]
    NoBaseUrl(String),
}

fn family(npm: &str) -> &str {
    if CHAT_FAMILY.contains(&npm) {
        "openai-chat"
    } else {
        npm
    }
}

/// A URL cut before its query: (the part before `?`, the query with its `?`, or ""); a fragment
/// is dropped.
fn split_query(url: &str) -> (&str, &str) {
    let url = url.split('#').next().unwrap_or("");
    match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    }
}

/// The request re-sent to provider `to` (`to_id` for messages) with `model_id`, or why not.
pub fn resend(url: &str, from: &ProviderApi, to: &ProviderApi, to_id: &str, model_id: &str) -> Result<Resend, NotSame> {
    let wire = wire_of(url).ok_or(NotSame::UnknownWire)?;
    let (Some(from_npm), Some(to_npm)) = (from.npm.as_deref(), to.npm.as_deref()) else {
        return Err(NotSame::UnknownApi(to_id.to_string()));
    };
    let same = family(from_npm) == family(to_npm) && (family(to_npm) != "openai-chat" || wire == Wire::ChatCompletions);
    if !same {
        return Err(NotSame::OtherApi(to_id.to_string()));
    }
    let (to_base, to_query) = to
        .base_url
        .as_deref()
        .filter(|b| b.starts_with("http://") || b.starts_with("https://"))
        .map(split_query)
        .ok_or_else(|| NotSame::NoBaseUrl(to_id.to_string()))?;
    let path = split_query(url).0;
    let rest = from
        .base_url
        .as_deref()
        .map(|b| split_query(b).0.trim_end_matches('/'))
        .filter(|b| !b.is_empty())
        .and_then(|b| path.strip_prefix(b))
        .filter(|r| r.starts_with('/'))
        .unwrap_or(wire.path());
    let mut body_set = BTreeMap::new();
    body_set.insert("model".to_string(), Value::String(model_id.to_string()));
    Ok(Resend {
        url: format!("{}{rest}{to_query}", to_base.trim_end_matches('/')),
        body_set,
        body_remove: MODEL_BOUND_FIELDS.iter().map(|s| s.to_string()).collect(),
    })
}

/// Words, and numbers anywhere in the text, that make opencode 1.18 retry an error (its own
/// list, `Rd` in its bundle, plus `exhausted`/`unavailable`, which it calls "overloaded").
const RETRY_WORDS: &[&str] = &[
    "429",
    "500",
    "502",
    "503",
    "504",
    "524",
    "rate increased too quickly",
    "rate limit",
    "rate-limit",
    "rate_limit",
    "too many requests",
    "too_many_requests",
    "overloaded",
    "unavailable",
    "internal error",
    "internal_error",
    "server error",
    "server_error",
    "server-error",
    "provider returned error",
    "terminated",
    "fetch failed",
    "failed to fetch",
    "network",
    "connection",
    "socket",
    "timeout",
    "timed out",
    "time out",
    "try your request again",
    "retry your request",
    "exhausted",
    "try again",
    "at capacity",
];

/// Whether opencode would take `text` for a passing trouble and retry it.
pub fn retry_safe(text: &str) -> bool {
    let lower = text.to_lowercase();
    !RETRY_WORDS.iter().any(|w| lower.contains(w))
}

/// An account of a resting provider, for the message: its alias and until when it rests (`None`:
/// disabled).
pub struct Resting {
    pub alias: String,
    pub until: Option<Millis>,
    /// Refused for lack of quota or credit: waiting alone does not bring it back.
    pub quota: bool,
    /// Its credential was refused (auth failed, or the login must be made again).
    pub login: bool,
}

/// "14:05 UTC (in 3 min)": two-digit groups only, so no number opencode retries on appears.
pub fn when(until: Millis, now: Millis) -> String {
    let secs = ((until - now).max(0) + 999) / 1000;
    let day_secs = (until.div_euclid(1000)).rem_euclid(86_400);
    let clock = format!("{:02}:{:02} UTC", day_secs / 3600, day_secs % 3600 / 60);
    let left = if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", (secs + 59) / 60)
    } else if secs < 86_400 {
        format!("{} h {} min", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600)
    };
    format!("{clock} (in {left})")
}

/// "alpha until 14:05 UTC (in 3 min), bravo disabled" — or, when a name would read as a passing
/// trouble to opencode, "2 accounts until …".
pub fn resting_list(resting: &[Resting], now: Millis) -> String {
    let named: Vec<String> = resting
        .iter()
        .map(|r| match r.until {
            _ if r.login => format!("{} needs a new login (/connect)", r.alias),
            Some(u) if r.quota => format!("{} out of quota (tried again after {})", r.alias, when(u, now)),
            Some(u) => format!("{} until {}", r.alias, when(u, now)),
            None => format!("{} disabled", r.alias),
        })
        .collect();
    let text = named.join(", ");
    if retry_safe(&text) {
        return text;
    }
    match resting.iter().filter_map(|r| r.until).min() {
        Some(u) => format!("the first of {} accounts back at {}", resting.len(), when(u, now)),
        None => format!("{} accounts, all disabled", resting.len()),
    }
}

/// The final answer when a provider is dry and no other provider takes the request.
pub fn exhausted_message(provider: &str, resting: &[Resting], now: Millis, balancing: bool) -> String {
    let what_to_do = if balancing {
        "No other provider of the priority list has a model and a healthy account. Pick another model, \
         add an account (/connect), or see /balancer list and /balancer priority."
    } else {
        "Pick another model, or turn balancing on (/balancer balancing on) so the next provider of \
         the priority list takes over; /balancer list shows the accounts."
    };
    guard(format!(
        "opencode-balancer: every account of {provider} is resting ({}), so this request was not sent again. {what_to_do}",
        resting_list(resting, now)
    ))
}

/// The final answer when the next provider speaks another API: the next message goes there.
pub fn moved_message(provider: &str, resting: &[Resting], now: Millis, next: &str, why: &NotSame) -> String {
    guard(format!(
        "opencode-balancer: every account of {provider} is resting ({}). This request could not move \
         ({why}); your next message will use {next}.",
        resting_list(resting, now)
    ))
}

/// The same, when the plugin sends the message again on the next provider itself.
pub fn resubmit_message(provider: &str, next: &str) -> String {
    guard(format!(
        "opencode-balancer: every account of {provider} is resting; your message is being sent again on {next}."
    ))
}

/// A message opencode would retry on is cut down to what cannot be.
fn guard(text: String) -> String {
    if retry_safe(&text) {
        text
    } else {
        "opencode-balancer: every account of this provider is resting and no other provider can take \
         the request. See /balancer list."
            .to_string()
    }
}

#[cfg(test)]
#[path = "provider_move_tests.rs"]
mod tests;
