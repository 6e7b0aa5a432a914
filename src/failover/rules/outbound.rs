//! What of a request's headers follows it to another provider on a switch: an allow-list of
//! headers that describe the request and carry no credential; every other header is removed.
//!
//! The rule (docs/protocol.md, "Keeping a turn going"): a header is kept when its name is one of
//! [`NEUTRAL_HEADERS`] (the body's format, what the client accepts, the client software, the
//! version and feature flags of the API both providers speak — a switch happens only between
//! providers of one API), or starts with one of [`NEUTRAL_PREFIXES`] and holds none of
//! [`CREDENTIAL_WORDS`]. Everything else — `authorization`, any API-key header, cookies, gateway
//! headers (`x-portkey-*`, `helicone-*`), account headers (`chatgpt-account-id`,
//! `openai-organization`, `openai-project`), the first provider's configured headers, and any
//! header the balancer does not know — is removed; the target's own credential headers are then
//! set. An unknown header may be harmless, but only a known one is known to be.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::headers::{CHATGPT_ACCOUNT_HEADER, CHATGPT_RESIDENCY_HEADER};

/// Headers that carry no credential and say nothing of who sends the request.
pub const NEUTRAL_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "content-type",
    "user-agent",
    "anthropic-version",
    "anthropic-beta",
    "openai-beta",
];

/// Prefixes of SDK metadata headers (the Stainless SDKs' `x-stainless-lang`, `-os`,
/// `-retry-count`, …), kept unless the name holds a credential word (`x-stainless-api-key`).
pub const NEUTRAL_PREFIXES: &[&str] = &["x-stainless-"];

/// Words that mark a header as one that may carry a credential or name an account.
pub const CREDENTIAL_WORDS: &[&str] = &[
    "key",
    "token",
    "auth",
    "secret",
    "cookie",
    "session",
    "password",
    "credential",
    "signature",
    "account",
    "org",
    "project",
    "user",
];

/// Whether a header of the first provider's request may go to another provider (names are
/// compared without regard to case).
pub fn keeps_on_switch(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if NEUTRAL_HEADERS.contains(&name.as_str()) {
        return true;
    }
    NEUTRAL_PREFIXES.iter().any(|p| name.starts_with(p)) && !CREDENTIAL_WORDS.iter().any(|w| name.contains(w))
}

/// Headers an earlier answer may have set on the request without it carrying them before
/// (`headers::credential_headers` adds a bearer, or the residency beside an account id): removed
/// on a switch whether or not they were among the request's names.
pub const MAYBE_ADDED: &[&str] = &["authorization", CHATGPT_ACCOUNT_HEADER, CHATGPT_RESIDENCY_HEADER];

/// The request's headers to remove on a switch: every name (of the request, or one of
/// [`MAYBE_ADDED`]) not kept and not `set` again for the target (lowercased, each once).
pub fn removed_on_switch(header_names: &[String], set: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let names = header_names.iter().map(|n| n.to_ascii_lowercase());
    for name in names.chain(MAYBE_ADDED.iter().map(|n| n.to_string())) {
        if !keeps_on_switch(&name) && !set(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The most configured headers kept for one provider, and the longest name and value.
pub const MAX_CONFIGURED: usize = 64;
const MAX_NAME: usize = 128;
const MAX_VALUE: usize = 8192;
/// The plugin's own request marker, never a configured header.
const MARKER: &str = "x-opencode-balancer-request";

/// A provider's own configured headers (opencode's `provider.<id>.options.headers`), set on a
/// request that moves to that provider. They may hold a secret (a gateway key): kept in memory
/// only, sent only in `setHeaders`, and `Debug` shows their names, never their values.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ConfiguredHeaders(BTreeMap<String, String>);

impl ConfiguredHeaders {
    /// The headers a request can carry: names of token characters (lowercased), values of
    /// visible ASCII, space and tab, each bounded, the plugin's marker left out, at most
    /// [`MAX_CONFIGURED`]. Anything else is dropped and logged by count, never by value.
    pub fn from_config(map: BTreeMap<String, String>) -> ConfiguredHeaders {
        let given = map.len();
        let kept: BTreeMap<String, String> = map
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .filter(|(name, value)| header_name(name) && header_value(value) && name != MARKER)
            .take(MAX_CONFIGURED)
            .collect();
        if kept.len() < given {
            tracing::warn!(
                given,
                kept = kept.len(),
                "configured headers that no request can carry are ignored"
            );
        }
        ConfiguredHeaders(kept)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for ConfiguredHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(d).map(ConfiguredHeaders::from_config)
    }
}

impl fmt::Debug for ConfiguredHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

fn header_name(name: &str) -> bool {
    const TCHAR: &[u8] = b"!#$%&'*+-.^_`|~";
    !name.is_empty() && name.len() <= MAX_NAME && name.bytes().all(|b| b.is_ascii_alphanumeric() || TCHAR.contains(&b))
}

fn header_value(value: &str) -> bool {
    value.len() <= MAX_VALUE && value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_that_describe_the_request_are_kept() {
        for name in [
            "content-type",
            "Accept",
            "accept-encoding",
            "user-agent",
            "anthropic-version",
            "anthropic-beta",
            "x-stainless-lang",
            "x-stainless-retry-count",
        ] {
            assert!(keeps_on_switch(name), "{name}");
        }
    }

    #[test]
    fn every_header_that_could_carry_the_first_providers_credential_is_removed() {
        for name in [
            "authorization",
            "Authorization",
            "x-api-key",
            "api-key",
            "x-goog-api-key",
            "x-stainless-api-key",
            "x-stainless-auth",
            "anthropic-api-key",
            "cookie",
            "x-portkey-api-key",
            "x-portkey-virtual-key",
            "x-portkey-config",
            "helicone-auth",
            "helicone-target-url",
            "cf-aig-authorization",
            "proxy-authorization",
            "chatgpt-account-id",
            "x-openai-internal-codex-residency",
            "openai-organization",
            "openai-project",
            "x-custom-token",
            "http-referer",
            "x-title",
            "session_id",
            "x-made-up-header",
        ] {
            assert!(!keeps_on_switch(name), "{name}");
        }
    }

    #[test]
    fn the_removed_list_spares_kept_and_reset_headers_and_names_each_once() {
        let names: Vec<String> = [
            "content-type",
            "authorization",
            "x-api-key",
            "helicone-auth",
            "Cookie",
            "cookie",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let removed = removed_on_switch(&names, |n| n == "x-api-key");
        assert_eq!(
            removed,
            [
                "authorization",
                "helicone-auth",
                "cookie",
                "chatgpt-account-id",
                "x-openai-internal-codex-residency"
            ]
        );
        // A bearer set again for the target is not named.
        let removed = removed_on_switch(&names, |n| n == "authorization");
        assert!(!removed.contains(&"authorization".to_string()), "{removed:?}");
    }

    #[test]
    fn configured_headers_keep_what_a_request_can_carry_and_never_show_a_value() {
        let given: BTreeMap<String, String> = [
            ("HTTP-Referer", "https://opencode.ai/"),
            ("helicone-auth", "Bearer sk-FAKE-helicone"),
            ("bad name", "v"),
            ("x-injected", "v\r\nx-other: 1"),
            ("x-opencode-balancer-request", "r1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let h = ConfiguredHeaders::from_config(given);
        let kept: Vec<(&String, &String)> = h.iter().collect();
        assert_eq!(kept.len(), 2, "{h:?}");
        assert_eq!(kept[0].0, "helicone-auth");
        assert_eq!(
            kept[1],
            (&"http-referer".to_string(), &"https://opencode.ai/".to_string())
        );
        let shown = format!("{h:?}");
        assert!(
            !shown.contains("sk-FAKE-helicone") && shown.contains("helicone-auth"),
            "{shown}"
        );
        let many: BTreeMap<String, String> = (0..100).map(|i| (format!("x-h{i}"), "v".to_string())).collect();
        assert_eq!(ConfiguredHeaders::from_config(many).iter().count(), MAX_CONFIGURED);
    }
}
