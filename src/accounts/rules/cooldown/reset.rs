//! When may an account be tried again: `Retry-After`, provider reset headers and body hints.

use std::collections::HashMap;

use chrono::DateTime;

use super::hint::{clamp_wait, COOLDOWN_LIMITS};
use crate::model::Millis;

/// Where a cooldown's end came from (shown in events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetSource {
    RetryAfter,
    ResetHeader,
    BodyHint,
    Backoff,
}

impl ResetSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ResetSource::RetryAfter => "retry-after",
            ResetSource::ResetHeader => "reset-header",
            ResetSource::BodyHint => "body",
            ResetSource::Backoff => "backoff",
        }
    }
}

/// First base backoff step and its cap.
pub const BACKOFF_BASE_MS: Millis = 30_000;
pub const BACKOFF_CAP_MS: Millis = 30 * 60_000;
pub use super::hint::{MAX_HINT_MS, MIN_COOLDOWN_MS};

/// Exponential backoff for the `n`th consecutive failure (n ≥ 1): 30 s doubling, capped at 30 min.
pub fn backoff_ms(n: u32) -> Millis {
    let shift = n.saturating_sub(1).min(16);
    (BACKOFF_BASE_MS << shift).min(BACKOFF_CAP_MS)
}

/// A refused response's cooldown: when it ends, where that came from, and — when the hint was
/// outside [`COOLDOWN_LIMITS`] — the seconds it asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cooldown {
    pub until: Millis,
    pub source: ResetSource,
    pub clamped_from_secs: Option<f64>,
}

/// The cooldown for a refused response: `retry-after-ms`, else `Retry-After`, else a provider
/// reset header, else a body hint, else backoff for failure number `failures`. A hint that does
/// not parse counts as absent; every hint passes through [`clamp_wait`]. `headers` keys are
/// lowercase.
pub fn cooldown_until(headers: &HashMap<String, String>, body: Option<&str>, now: Millis, failures: u32) -> Cooldown {
    let hinted = [
        (
            headers.get("retry-after-ms").and_then(|v| parse_delay(v, 1.0)),
            ResetSource::RetryAfter,
        ),
        (
            headers.get("retry-after").and_then(|v| parse_retry_after(v, now)),
            ResetSource::RetryAfter,
        ),
        (reset_headers(headers, now), ResetSource::ResetHeader),
        (body.and_then(|b| body_hint(b, now)), ResetSource::BodyHint),
    ];
    for (wait, source) in hinted {
        if let Some(c) = wait.and_then(|w| clamp_wait(now, w, COOLDOWN_LIMITS)) {
            return Cooldown {
                until: c.until,
                source,
                clamped_from_secs: c.clamped.then_some(c.asked_secs),
            };
        }
    }
    Cooldown {
        until: now + backoff_ms(failures.max(1)),
        source: ResetSource::Backoff,
        clamped_from_secs: None,
    }
}

/// A delay in `unit` ms (fractions allowed); a negative or NaN one is garbage. Too many digits
/// parse as infinity, which the clamp caps.
fn parse_delay(value: &str, unit_ms: f64) -> Option<f64> {
    let n: f64 = value.trim().parse().ok()?;
    (n >= 0.0).then_some(n * unit_ms)
}

/// `Retry-After`: delay seconds (fractions allowed) or an HTTP-date; the wait in ms from `now`.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<f64> {
    let v = value.trim();
    if v.parse::<f64>().is_ok() {
        return parse_delay(v, 1_000.0);
    }
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| d.timestamp_millis() as f64 - now as f64)
}

/// The latest of the provider reset headers present, as a wait in ms from `now`.
fn reset_headers(headers: &HashMap<String, String>, now: Millis) -> Option<f64> {
    let mut latest: Option<f64> = None;
    for (name, value) in headers {
        let wait = if name == "x-ratelimit-reset-requests" || name == "x-ratelimit-reset-tokens" {
            parse_reset_value(value, now)
        } else if name.starts_with("anthropic-ratelimit-") && name.ends_with("-reset") {
            parse_time_ms(value).map(|t| t - now as f64)
        } else {
            None
        };
        if let Some(w) = wait.filter(|w| !w.is_nan()) {
            latest = Some(latest.map_or(w, |l| l.max(w)));
        }
    }
    latest
}

/// An `x-ratelimit-reset-*` value: a Go duration (`6m0s`), a bare number of seconds, or — a
/// number past 10^9 — a Unix time in seconds or milliseconds.
fn parse_reset_value(value: &str, now: Millis) -> Option<f64> {
    if let Ok(n) = value.trim().parse::<f64>() {
        return if n > 1e9 {
            parse_time_ms(value).map(|t| t - now as f64)
        } else {
            parse_delay(value, 1_000.0)
        };
    }
    parse_go_duration(value)
}

/// A Go-style duration as OpenAI sends it: `6m0s`, `1s`, `20ms`, `1h2m3.5s`; in ms (linear in
/// the length), infinite when too large for a float.
pub fn parse_go_duration(value: &str) -> Option<f64> {
    let s = value.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// An absolute time in ms since the epoch: RFC 3339, or Unix seconds / milliseconds (a number
/// past 10^12 is milliseconds). Zero, negative and NaN are garbage.
fn parse_time_ms(value: &str) -> Option<f64> {
    let v = value.trim().trim_matches('"');
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.timestamp_millis() as f64);
    }
    let n: f64 = v.parse().ok().filter(|n: &f64| *n > 0.0)?;
    Some(if n > 1e12 { n } else { n * 1000.0 })
}

/// [`parse_time_ms`] as whole milliseconds (casts saturate, so an absurd time is far, not wrong).
pub fn parse_timestamp(value: &str) -> Option<Millis> {
    parse_time_ms(value).map(|t| t as Millis)
}

/// A reset named in an error body, as a wait in ms from `now`: `resets_in_seconds` (delay),
/// `resets_at` (time), `retryDelay` (`"30s"`, Google's style). Scanned as text so a truncated
/// body still counts.
pub fn body_hint(body: &str, now: Millis) -> Option<f64> {
    if let Some(w) = json_field(body, "resets_in_seconds").and_then(|v| parse_delay(&v, 1_000.0)) {
        return Some(w);
    }
    if let Some(t) = json_field(body, "resets_at").and_then(|v| parse_time_ms(&v)) {
        return Some(t - now as f64);
    }
    json_field(body, "retryDelay").and_then(|v| parse_go_duration(&v))
}

/// The raw value after `"key":` — a number or the content of a string.
fn json_field(body: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\"");
    let at = body.find(&pattern)? + pattern.len();
    let rest = body[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return s.find('"').map(|end| s[..end].to_string());
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}

#[cfg(test)]
#[path = "reset_tests.rs"]
mod tests;
