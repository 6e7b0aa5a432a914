//! When may an account be tried again: `Retry-After`, provider reset headers and body hints.

use std::collections::HashMap;

use chrono::DateTime;

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
/// The shortest cooldown any hint can set.
pub const MIN_COOLDOWN_MS: Millis = 1_000;
/// A hint further out than this is clamped (a garbage value must not bench an account for years).
pub const MAX_HINT_MS: Millis = 7 * 24 * 3_600_000;

/// Exponential backoff for the `n`th consecutive failure (n ≥ 1): 30 s doubling, capped at 30 min.
pub fn backoff_ms(n: u32) -> Millis {
    let shift = n.saturating_sub(1).min(16);
    (BACKOFF_BASE_MS << shift).min(BACKOFF_CAP_MS)
}

/// The cooldown end for a refused response: `Retry-After`, else a provider reset header, else a
/// body hint, else backoff for failure number `failures`. `headers` keys are lowercase.
pub fn cooldown_until(
    headers: &HashMap<String, String>,
    body: Option<&str>,
    now: Millis,
    failures: u32,
) -> (Millis, ResetSource) {
    let clamp = |t: Millis| t.clamp(now + MIN_COOLDOWN_MS, now + MAX_HINT_MS);
    if let Some(t) = headers.get("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return (clamp(t), ResetSource::RetryAfter);
    }
    if let Some(t) = reset_headers(headers, now) {
        return (clamp(t), ResetSource::ResetHeader);
    }
    if let Some(t) = body.and_then(|b| body_hint(b, now)) {
        return (clamp(t), ResetSource::BodyHint);
    }
    (now + backoff_ms(failures.max(1)), ResetSource::Backoff)
}

/// `Retry-After`: delay seconds (fractions allowed) or an HTTP-date.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<Millis> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| now + secs_to_ms(secs));
    }
    DateTime::parse_from_rfc2822(v).ok().map(|d| d.timestamp_millis())
}

/// The latest of the provider reset headers present.
fn reset_headers(headers: &HashMap<String, String>, now: Millis) -> Option<Millis> {
    let mut latest: Option<Millis> = None;
    for (name, value) in headers {
        let t = if name == "x-ratelimit-reset-requests" || name == "x-ratelimit-reset-tokens" {
            parse_go_duration(value).map(|ms| now + ms)
        } else if name.starts_with("anthropic-ratelimit-") && name.ends_with("-reset") {
            parse_timestamp(value)
        } else {
            None
        };
        if let Some(t) = t {
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
    }
    latest
}

/// A Go-style duration as OpenAI sends it: `6m0s`, `1s`, `20ms`, `1h2m3.5s`.
pub fn parse_go_duration(value: &str) -> Option<Millis> {
    let s = value.trim();
    if s.is_empty() || s.len() > 64 {
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
    total.is_finite().then_some(total.round() as Millis)
}

/// An absolute time: RFC 3339, or Unix seconds / milliseconds.
pub fn parse_timestamp(value: &str) -> Option<Millis> {
    let v = value.trim().trim_matches('"');
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.timestamp_millis());
    }
    let n: f64 = v.parse().ok().filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    // Float-to-int casts saturate; absurd values are clamped by the caller.
    Some(if n > 1e12 { n as Millis } else { (n * 1000.0) as Millis })
}

/// A reset time named in an error body: `resets_at` (time), `resets_in_seconds` (delay),
/// `retryDelay` (`"30s"`, Google's style). Scanned as text so a truncated body still counts.
pub fn body_hint(body: &str, now: Millis) -> Option<Millis> {
    if let Some(v) = json_field(body, "resets_in_seconds") {
        if let Ok(secs) = v.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some(now + secs_to_ms(secs));
            }
        }
    }
    if let Some(v) = json_field(body, "resets_at") {
        if let Some(t) = parse_timestamp(&v) {
            return Some(t);
        }
    }
    if let Some(v) = json_field(body, "retryDelay") {
        if let Some(ms) = parse_go_duration(&v) {
            return Some(now + ms);
        }
    }
    None
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

fn secs_to_ms(secs: f64) -> Millis {
    (secs * 1000.0).min(MAX_HINT_MS as f64 * 10.0).round() as Millis
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn h(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(parse_retry_after("120", NOW), Some(NOW + 120_000));
        assert_eq!(parse_retry_after("1.5", NOW), Some(NOW + 1_500));
        let date = DateTime::from_timestamp_millis(NOW + 90_000).unwrap().to_rfc2822();
        let http_date = date.replace("+0000", "GMT");
        assert_eq!(parse_retry_after(&http_date, NOW), Some(NOW + 90_000));
        assert_eq!(parse_retry_after("soon", NOW), None);
        assert_eq!(parse_retry_after("-5", NOW), None);
    }

    #[test]
    fn retry_after_is_at_least_one_second_and_wins_over_everything() {
        let (t, src) = cooldown_until(
            &h(&[("retry-after", "0"), ("x-ratelimit-reset-requests", "6m0s")]),
            None,
            NOW,
            1,
        );
        assert_eq!((t, src), (NOW + 1_000, ResetSource::RetryAfter));
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("6m0s"), Some(360_000));
        assert_eq!(parse_go_duration("1s"), Some(1_000));
        assert_eq!(parse_go_duration("20ms"), Some(20));
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(3_723_500));
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn reset_headers_take_the_latest() {
        let (t, src) = cooldown_until(
            &h(&[
                ("x-ratelimit-reset-requests", "1s"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ]),
            None,
            NOW,
            1,
        );
        assert_eq!((t, src), (NOW + 360_000, ResetSource::ResetHeader));
        let at = DateTime::from_timestamp_millis(NOW + 42_000).unwrap().to_rfc3339();
        let (t, _) = cooldown_until(&h(&[("anthropic-ratelimit-requests-reset", &at)]), None, NOW, 1);
        assert_eq!(t, NOW + 42_000);
        let unix = ((NOW + 60_000) / 1000).to_string();
        let (t, _) = cooldown_until(&h(&[("anthropic-ratelimit-unified-reset", &unix)]), None, NOW, 1);
        assert_eq!(t, NOW + 60_000);
    }

    #[test]
    fn body_hints_in_every_form() {
        let b = r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":300}}"#;
        assert_eq!(
            cooldown_until(&h(&[]), Some(b), NOW, 1),
            (NOW + 300_000, ResetSource::BodyHint)
        );
        let b = format!(r#"{{"error":{{"resets_at":{}}}}}"#, (NOW + 7_000) / 1000);
        assert_eq!(body_hint(&b, NOW), Some(NOW + 7_000));
        let b = r#"{"error":{"details":[{"@type":"RetryInfo","retryDelay":"37s"}]}}"#;
        assert_eq!(body_hint(b, NOW), Some(NOW + 37_000));
        assert_eq!(
            body_hint(r#"{"resets_in_seconds": 12, "trunc"#, NOW),
            Some(NOW + 12_000)
        );
        assert_eq!(body_hint("not json at all", NOW), None);
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_and_caps_at_thirty_minutes() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(3), 120_000);
        assert_eq!(backoff_ms(7), 1_800_000);
        assert_eq!(backoff_ms(60), 1_800_000);
        assert_eq!(
            cooldown_until(&h(&[]), None, NOW, 2),
            (NOW + 60_000, ResetSource::Backoff)
        );
    }

    #[test]
    fn absurd_hints_are_clamped() {
        let (t, _) = cooldown_until(&h(&[("retry-after", "99999999999")]), None, NOW, 1);
        assert_eq!(t, NOW + MAX_HINT_MS);
    }
}
