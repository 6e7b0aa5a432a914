//! What a usage read becomes: the redacted snapshot (a failure keeps the last figures and says
//! why), how the schedule should treat it, whether it is news, and the event that announces it.

use super::passive::MESSAGE_PREFIX;
use super::redact::{redact_json, redact_text, redacted_json_text};
use super::schedule::Outcome;
use super::{round1, unavailable, Confidence, FetchError, Usage};
use crate::model::{EventKind, Millis, NewEvent, UsageSnapshot};

/// A usage change smaller than this (in points) is not news.
pub const EVENT_STEP: f64 = 5.0;

/// A read's result, ready to store: snapshot and raw payload redacted with `secrets`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub snapshot: UsageSnapshot,
    pub raw: Option<String>,
    pub outcome: Outcome,
}

/// Turns a read of `provider/alias` at `now` into what is stored. A failure keeps the figures of
/// `previous` (a polled reading) with `error` set to `"<code>: <reason>"`; without any, the
/// snapshot is `unavailable`.
pub fn reading(
    provider: &str,
    alias: &str,
    previous: Option<&UsageSnapshot>,
    result: Result<Usage, FetchError>,
    secrets: &[&str],
    now: Millis,
) -> Reading {
    let (snapshot, raw, outcome) = match result {
        Ok(usage) => {
            let (s, raw) = usage.into_snapshot(provider, alias, now);
            (s, raw, Outcome::Success)
        }
        Err(e) => {
            let reason = redact_text(&e.to_string(), secrets);
            let outcome = match &e {
                FetchError::Unauthorized | FetchError::Forbidden(_) | FetchError::Unsupported(_) => Outcome::Refused,
                FetchError::RateLimited { until } => Outcome::RateLimited { until: *until },
                _ => Outcome::Failed,
            };
            let error = format!("{}: {reason}", e.code());
            let kept = previous.filter(|s| !s.is(Confidence::Unavailable) && !is_passive(s));
            let s = match kept {
                Some(kept) => UsageSnapshot {
                    error: Some(error),
                    ..kept.clone()
                },
                None => UsageSnapshot {
                    error: Some(error),
                    ..unavailable(provider, alias, now, format!("usage unavailable: {reason}"), e.code())
                },
            };
            (s, None, outcome)
        }
    };
    Reading {
        snapshot: redact_snapshot(snapshot, secrets),
        raw: raw.map(|r| redacted_json_text(r, secrets)),
        outcome,
    }
}

/// The snapshot with every secret removed from its text.
pub fn redact_snapshot(s: UsageSnapshot, secrets: &[&str]) -> UsageSnapshot {
    let Ok(mut v) = serde_json::to_value(&s) else { return s };
    redact_json(&mut v, secrets);
    serde_json::from_value::<UsageSnapshot>(v).unwrap_or(s)
}

/// A reading from response headers rather than a poll.
pub fn is_passive(s: &UsageSnapshot) -> bool {
    s.message.starts_with(MESSAGE_PREFIX)
}

/// `rate_limited: the usage endpoint …` → `rate_limited`.
pub fn code_of(error: &str) -> &str {
    error.split_once(':').map_or(error, |x| x.0)
}

/// Does `s` say something `previous` did not: first reading, another confidence, plan or error,
/// a usage move of `EVENT_STEP` points or across 100 %?
pub fn is_news(previous: Option<&UsageSnapshot>, s: &UsageSnapshot) -> bool {
    let Some(p) = previous else { return true };
    p.confidence != s.confidence
        || p.error.as_deref().map(code_of) != s.error.as_deref().map(code_of)
        || p.plan_name != s.plan_name
        || (s.is(Confidence::Unavailable) && p.message != s.message)
        || match (p.used_percent, s.used_percent) {
            (Some(x), Some(y)) => (x - y).abs() >= EVENT_STEP || (x < 100.0) != (y < 100.0),
            (x, y) => x.is_some() != y.is_some(),
        }
}

/// `usage_refreshed` (metadata `confidence`, `usedPercent`, `resetAt`) or `usage_unavailable`
/// (metadata `error`).
pub fn event(s: &UsageSnapshot) -> NewEvent {
    let (p, a) = (&s.provider_id, &s.alias);
    let event = match &s.error {
        Some(error) => NewEvent::new(
            EventKind::UsageUnavailable,
            format!(
                "{p}/{a} usage unavailable: {}",
                error.split_once(": ").map_or(error.as_str(), |x| x.1)
            ),
        )
        .meta("error", code_of(error)),
        None if s.is(Confidence::Unavailable) => NewEvent::new(
            EventKind::UsageUnavailable,
            format!("{p}/{a} usage unavailable: {}", s.message),
        )
        .meta("error", "no_figures"),
        None => {
            let mut e = NewEvent::new(EventKind::UsageRefreshed, format!("{p}/{a} usage: {}", s.message))
                .meta("confidence", s.confidence.as_str());
            if let Some(u) = s.used_percent {
                e = e.meta("usedPercent", round1(u));
            }
            if let Some(r) = s.reset_at {
                e = e.meta("resetAt", r);
            }
            e
        }
    };
    event.account(p, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const NOW: Millis = 1_700_000_000_000;
    const SECRET: &str = "at-fake-outcome-0123456789";

    fn raw_json(r: &Reading) -> Option<Value> {
        r.raw.as_deref().and_then(|t| serde_json::from_str(t).ok())
    }

    fn polled(used: f64) -> UsageSnapshot {
        let (s, _) = Usage {
            confidence: Confidence::Exact,
            used_percent: Some(used),
            message: format!("{used}% used"),
            ..Default::default()
        }
        .into_snapshot("openai", "plan", NOW - 60_000);
        s
    }

    #[test]
    fn a_success_is_stored_redacted() {
        let usage = Usage {
            plan_name: Some(format!("plus {SECRET}")),
            used_percent: Some(10.0),
            raw: Some(json!({"echo": SECRET, "refresh_token": "x"})),
            ..Default::default()
        };
        let r = reading("openai", "plan", None, Ok(usage), &[SECRET], NOW);
        assert_eq!(r.outcome, Outcome::Success);
        assert_eq!(r.snapshot.plan_name.as_deref(), Some("plus [redacted]"));
        assert_eq!(r.snapshot.fetched_at, NOW);
        assert_eq!(raw_json(&r), Some(json!({"echo": "[redacted]", "refresh_token": ""})));
    }

    #[test]
    fn a_failure_keeps_polled_figures_and_names_the_error() {
        let before = polled(42.0);
        let r = reading(
            "openai",
            "plan",
            Some(&before),
            Err(FetchError::Server(503)),
            &[SECRET],
            NOW,
        );
        assert_eq!(r.outcome, Outcome::Failed);
        assert_eq!(r.snapshot.used_percent, Some(42.0));
        assert_eq!(r.snapshot.fetched_at, NOW - 60_000, "the figures keep their age");
        assert_eq!(
            r.snapshot.error.as_deref(),
            Some("server_error: the usage endpoint failed (HTTP 503)")
        );
        assert_eq!(r.raw, None);
    }

    #[test]
    fn a_failure_without_figures_is_unavailable_and_errors_map_to_outcomes() {
        let r = reading("openai", "plan", None, Err(FetchError::Unauthorized), &[], NOW);
        assert_eq!(r.outcome, Outcome::Refused);
        assert_eq!(r.snapshot.confidence, Confidence::Unavailable);
        assert_eq!(
            r.snapshot.message,
            "usage unavailable: the usage endpoint refused the credential (401)"
        );
        let limited = FetchError::RateLimited { until: Some(NOW + 5) };
        let r = reading("openai", "plan", None, Err(limited), &[], NOW);
        assert_eq!(r.outcome, Outcome::RateLimited { until: Some(NOW + 5) });
        let r = reading("openai", "plan", None, Err(FetchError::Timeout(10_000)), &[], NOW);
        assert_eq!(r.outcome, Outcome::Failed);
        let mut header_estimate = polled(80.0);
        header_estimate.message = format!("{MESSAGE_PREFIX} requests 80% used");
        let r = reading(
            "openai",
            "plan",
            Some(&header_estimate),
            Err(FetchError::Server(500)),
            &[],
            NOW,
        );
        assert_eq!(
            r.snapshot.used_percent, None,
            "a header estimate is not kept as a poll's figures"
        );
    }

    #[test]
    fn news_is_a_first_reading_a_change_of_kind_or_a_real_move() {
        let before = polled(42.0);
        assert!(is_news(None, &before));
        assert!(!is_news(Some(&before), &polled(44.0)));
        assert!(is_news(Some(&before), &polled(47.0)));
        assert!(is_news(Some(&polled(98.0)), &polled(100.0)), "crossing 100 %");
        let mut failed = before.clone();
        failed.error = Some("timeout: slow".into());
        assert!(is_news(Some(&before), &failed));
        let mut failed_again = failed.clone();
        failed_again.error = Some("timeout: slower".into());
        assert!(
            !is_news(Some(&failed), &failed_again),
            "the same error twice is not news"
        );
    }

    #[test]
    fn events_carry_figures_or_the_error_code() {
        let e = event(&polled(42.0));
        assert_eq!(e.kind, EventKind::UsageRefreshed);
        assert_eq!(e.metadata["usedPercent"], "42");
        assert_eq!(e.metadata["confidence"], "exact");
        let mut failed = polled(42.0);
        failed.error = Some("rate_limited: the usage endpoint is rate-limiting requests (429)".into());
        let e = event(&failed);
        assert_eq!(e.kind, EventKind::UsageUnavailable);
        assert_eq!(e.metadata["error"], "rate_limited");
        assert_eq!(
            e.message,
            "openai/plan usage unavailable: the usage endpoint is rate-limiting requests (429)"
        );
    }
}
