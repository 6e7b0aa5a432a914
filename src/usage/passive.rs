//! Passive usage: the rate-limit headers ordinary responses carry (`fetch.result`), read as an
//! estimated snapshot between polls. OpenAI style `x-ratelimit-{limit,remaining,reset}-{kind}`,
//! Anthropic API `anthropic-ratelimit-{kind}-{limit,remaining,reset}`, and Anthropic plans'
//! `anthropic-ratelimit-unified-{window}-{utilization,reset}` (utilization as a fraction).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{round1, Confidence, Usage};
use crate::accounts::rules::cooldown::reset::{parse_go_duration, parse_timestamp};
use crate::model::{Millis, UsageWindow};

/// How every passive reading's message starts (it tells them from polled ones).
pub const MESSAGE_PREFIX: &str = "from response headers:";

/// Is this (lowercase) header one passive usage reads?
pub fn is_usage_header(name: &str) -> bool {
    name.starts_with("x-ratelimit-") || name.starts_with("anthropic-ratelimit-")
}

#[derive(Default)]
struct Counter {
    limit: Option<f64>,
    remaining: Option<f64>,
    reset: Option<Millis>,
}

fn number(v: &str) -> Option<f64> {
    v.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
}

/// Reads the rate-limit headers (names lowercase) of a response seen at `now`; `None` when they
/// hold no figure.
pub fn parse<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>, now: Millis) -> Option<Usage> {
    let mut counters: BTreeMap<String, Counter> = BTreeMap::new();
    let mut unified: BTreeMap<String, (Option<f64>, Option<Millis>)> = BTreeMap::new();
    let mut raw = Map::new();
    let mut status = None;
    for (name, value) in headers {
        if !is_usage_header(name) {
            continue;
        }
        raw.insert(name.to_string(), Value::String(value.chars().take(200).collect()));
        if let Some(rest) = name.strip_prefix("x-ratelimit-") {
            let Some((field, kind)) = rest.split_once('-') else {
                continue;
            };
            let c = counters.entry(kind.to_string()).or_default();
            match field {
                "limit" => c.limit = number(value),
                "remaining" => c.remaining = number(value),
                "reset" => c.reset = parse_go_duration(value).map(|ms| now.saturating_add(ms as Millis)),
                _ => {}
            }
        } else if let Some(rest) = name.strip_prefix("anthropic-ratelimit-unified-") {
            if rest == "status" {
                status = Some(value.trim().chars().take(32).collect::<String>());
            } else if let Some(window) = rest.strip_suffix("-utilization").filter(|w| !w.contains("overage")) {
                let fraction = number(value).filter(|f| *f <= 100.0);
                unified.entry(window.to_string()).or_default().0 = fraction;
            } else if let Some(window) = rest.strip_suffix("-reset") {
                unified.entry(window.to_string()).or_default().1 = parse_timestamp(value);
            }
        } else if let Some(rest) = name.strip_prefix("anthropic-ratelimit-") {
            let Some((kind, field)) = rest.rsplit_once('-') else {
                continue;
            };
            let c = counters.entry(kind.to_string()).or_default();
            match field {
                "limit" => c.limit = number(value),
                "remaining" => c.remaining = number(value),
                "reset" => c.reset = parse_timestamp(value),
                _ => {}
            }
        }
    }
    let mut usage = Usage {
        confidence: Confidence::Estimated,
        ..Default::default()
    };
    for (window, (fraction, reset)) in unified {
        let Some(f) = fraction else { continue };
        // Fractions (0.42) as Anthropic sends them; a value over 1 is taken as a percent already.
        let used = if f <= 1.0 { f * 100.0 } else { f };
        usage.windows.push(UsageWindow {
            name: window.chars().take(32).collect(),
            used_percent: round1(used),
            reset_at: reset,
        });
    }
    for (kind, c) in counters {
        let (Some(limit), Some(remaining)) = (c.limit, c.remaining) else {
            continue;
        };
        if limit <= 0.0 {
            continue;
        }
        usage.windows.push(UsageWindow {
            name: kind.chars().take(32).collect(),
            used_percent: round1(((limit - remaining) / limit * 100.0).clamp(0.0, 100.0)),
            reset_at: c.reset,
        });
    }
    if usage.windows.is_empty() {
        return None;
    }
    usage.set_overall(|_| true);
    usage.message = format!(
        "{MESSAGE_PREFIX} {}{}",
        usage.windows_text(),
        status.map(|s| format!(" ({s})")).unwrap_or_default()
    );
    usage.raw = Some(serde_json::json!({ "headers": Value::Object(raw) }));
    Some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn read(pairs: &[(&str, &str)]) -> Option<Usage> {
        parse(pairs.iter().copied(), NOW)
    }

    #[test]
    fn openai_request_and_token_counters() {
        let u = read(&[
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-requests", "499"),
            ("x-ratelimit-reset-requests", "120ms"),
            ("x-ratelimit-limit-tokens", "30000"),
            ("x-ratelimit-remaining-tokens", "6000"),
            ("x-ratelimit-reset-tokens", "6m0s"),
            ("content-type", "application/json"),
        ])
        .unwrap();
        assert_eq!(u.confidence, Confidence::Estimated);
        assert_eq!(u.windows.len(), 2);
        assert_eq!(u.used_percent, Some(80.0));
        assert_eq!(u.reset_at, Some(NOW + 360_000));
        assert_eq!(u.message, "from response headers: requests 0.2% used, tokens 80% used");
        let raw = u.raw.unwrap();
        assert!(raw["headers"].get("content-type").is_none());
    }

    #[test]
    fn anthropic_api_counters_with_rfc3339_resets() {
        let u = read(&[
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2023-11-14T22:14:20Z"),
            ("anthropic-ratelimit-input-tokens-limit", "40000"),
            ("anthropic-ratelimit-input-tokens-remaining", "30000"),
        ])
        .unwrap();
        let names: Vec<&str> = u.windows.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["input-tokens", "requests"]);
        assert_eq!(u.used_percent, Some(100.0));
        assert_eq!(u.reset_at, Some(NOW + 60_000));
    }

    #[test]
    fn anthropic_unified_windows_are_fractions() {
        let u = read(&[
            ("anthropic-ratelimit-unified-status", "allowed"),
            ("anthropic-ratelimit-unified-5h-utilization", "0.42"),
            ("anthropic-ratelimit-unified-5h-reset", "1700003600"),
            ("anthropic-ratelimit-unified-7d-utilization", "0.3"),
            ("anthropic-ratelimit-unified-7d-reset", "1700300000"),
            ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
        ])
        .unwrap();
        assert_eq!(u.used_percent, Some(42.0));
        assert_eq!(u.reset_at, Some(1_700_003_600_000));
        assert_eq!(u.message, "from response headers: 5h 42% used, 7d 30% used (allowed)");
    }

    #[test]
    fn nothing_to_read_or_nonsense_gives_none() {
        assert!(read(&[]).is_none());
        assert!(read(&[("retry-after", "10")]).is_none());
        assert!(
            read(&[("x-ratelimit-reset-requests", "6m0s")]).is_none(),
            "a reset alone is no figure"
        );
        assert!(read(&[
            ("x-ratelimit-limit-requests", "zero"),
            ("x-ratelimit-remaining-requests", "-4"),
            ("anthropic-ratelimit-unified-5h-utilization", "NaN"),
            ("x-ratelimit-limit-tokens", "0"),
            ("x-ratelimit-remaining-tokens", "0"),
        ])
        .is_none());
    }
}
