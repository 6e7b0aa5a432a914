//! Tests of reset-hint parsing: every source, every absurd value, through the one clamping rule.

use super::*;
use proptest::prelude::*;

const NOW: Millis = 1_700_000_000_000;
const CAP: Millis = NOW + MAX_HINT_MS;
const FLOOR: Millis = NOW + MIN_COOLDOWN_MS;

fn h(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn until(headers: &[(&str, &str)], body: Option<&str>) -> (Millis, ResetSource, bool) {
    let c = cooldown_until(&h(headers), body, NOW, 1);
    (c.until, c.source, c.clamped_from_secs.is_some())
}

fn date_at(t: Millis) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(t).unwrap()
}

fn http_date(t: Millis) -> String {
    date_at(t).to_rfc2822().replace("+0000", "GMT")
}

#[test]
fn retry_after_seconds_and_http_date() {
    assert_eq!(parse_retry_after("120", NOW), Some(120_000.0));
    assert_eq!(parse_retry_after("1.5", NOW), Some(1_500.0));
    assert_eq!(parse_retry_after(&http_date(NOW + 90_000), NOW), Some(90_000.0));
    assert_eq!(parse_retry_after("soon", NOW), None);
    assert_eq!(parse_retry_after("-5", NOW), None);
}

#[test]
fn retry_after_is_at_least_one_second_and_wins_over_everything() {
    let r = until(&[("retry-after", "0"), ("x-ratelimit-reset-requests", "6m0s")], None);
    assert_eq!(r, (FLOOR, ResetSource::RetryAfter, true));
}

#[test]
fn retry_after_ms_comes_first() {
    let r = until(&[("retry-after-ms", "2500"), ("retry-after", "60")], None);
    assert_eq!(r, (NOW + 2_500, ResetSource::RetryAfter, false));
    let r = until(&[("retry-after-ms", "garbage"), ("retry-after", "60")], None);
    assert_eq!(
        r,
        (NOW + 60_000, ResetSource::RetryAfter, false),
        "garbage counts as absent"
    );
}

#[test]
fn go_durations_parse() {
    assert_eq!(parse_go_duration("6m0s"), Some(360_000.0));
    assert_eq!(parse_go_duration("1s"), Some(1_000.0));
    assert_eq!(parse_go_duration("20ms"), Some(20.0));
    assert_eq!(parse_go_duration("1h2m3.5s"), Some(3_723_500.0));
    assert_eq!(parse_go_duration("abc"), None);
    assert_eq!(parse_go_duration("5x"), None);
    assert_eq!(parse_go_duration(""), None);
}

#[test]
fn reset_headers_take_the_latest_in_every_form() {
    let r = until(
        &[
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ],
        None,
    );
    assert_eq!(r, (NOW + 360_000, ResetSource::ResetHeader, false));
    assert_eq!(until(&[("x-ratelimit-reset-requests", "45")], None).0, NOW + 45_000);
    let epoch_s = ((NOW + 30_000) / 1000).to_string();
    assert_eq!(until(&[("x-ratelimit-reset-tokens", &epoch_s)], None).0, NOW + 30_000);
    let epoch_ms = (NOW + 31_000).to_string();
    assert_eq!(until(&[("x-ratelimit-reset-tokens", &epoch_ms)], None).0, NOW + 31_000);
    let at = date_at(NOW + 42_000).to_rfc3339();
    assert_eq!(
        until(&[("anthropic-ratelimit-requests-reset", &at)], None).0,
        NOW + 42_000
    );
    let unix = ((NOW + 60_000) / 1000).to_string();
    assert_eq!(
        until(&[("anthropic-ratelimit-unified-reset", &unix)], None).0,
        NOW + 60_000
    );
}

#[test]
fn body_hints_in_every_form() {
    let b = r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":300}}"#;
    assert_eq!(until(&[], Some(b)), (NOW + 300_000, ResetSource::BodyHint, false));
    let b = format!(r#"{{"error":{{"resets_at":{}}}}}"#, (NOW + 7_000) / 1000);
    assert_eq!(body_hint(&b, NOW), Some(7_000.0));
    let b = r#"{"error":{"details":[{"@type":"RetryInfo","retryDelay":"37s"}]}}"#;
    assert_eq!(body_hint(b, NOW), Some(37_000.0));
    assert_eq!(body_hint(r#"{"resets_in_seconds": 12, "trunc"#, NOW), Some(12_000.0));
    assert_eq!(body_hint("not json at all", NOW), None);
}

#[test]
fn backoff_doubles_from_thirty_seconds_and_caps_at_thirty_minutes() {
    assert_eq!(backoff_ms(1), 30_000);
    assert_eq!(backoff_ms(2), 60_000);
    assert_eq!(backoff_ms(3), 120_000);
    assert_eq!(backoff_ms(7), 1_800_000);
    assert_eq!(backoff_ms(60), 1_800_000);
    let c = cooldown_until(&h(&[]), None, NOW, 2);
    assert_eq!(
        (c.until, c.source, c.clamped_from_secs),
        (NOW + 60_000, ResetSource::Backoff, None)
    );
}

/// What an absurd value should become.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Floor,
    Cap,
    Ignored,
    Kept(Millis),
}

/// Each source: how to send a hint in it, and the source it reports.
type Send = fn(&str) -> (Vec<(String, String)>, Option<String>);

fn sources() -> Vec<(&'static str, Send, ResetSource, bool)> {
    // (name, how to send, source, takes an absolute time)
    vec![
        (
            "retry-after seconds",
            |v| (vec![("retry-after".into(), v.into())], None),
            ResetSource::RetryAfter,
            false,
        ),
        (
            "retry-after-ms",
            |v| (vec![("retry-after-ms".into(), v.into())], None),
            ResetSource::RetryAfter,
            false,
        ),
        (
            "x-ratelimit-reset",
            |v| (vec![("x-ratelimit-reset-requests".into(), v.into())], None),
            ResetSource::ResetHeader,
            false,
        ),
        (
            "resets_in_seconds",
            |v| (vec![], Some(format!(r#"{{"resets_in_seconds":{v}}}"#))),
            ResetSource::BodyHint,
            false,
        ),
        (
            "retryDelay",
            |v| (vec![], Some(format!(r#"{{"retryDelay":"{v}s"}}"#))),
            ResetSource::BodyHint,
            false,
        ),
        (
            "retry-after date",
            |v| (vec![("retry-after".into(), v.into())], None),
            ResetSource::RetryAfter,
            true,
        ),
        (
            "anthropic reset",
            |v| (vec![("anthropic-ratelimit-tokens-reset".into(), v.into())], None),
            ResetSource::ResetHeader,
            true,
        ),
        (
            "resets_at",
            |v| (vec![], Some(format!(r#"{{"resets_at":"{v}"}}"#))),
            ResetSource::BodyHint,
            true,
        ),
    ]
}

fn check(name: &str, send: Send, source: ResetSource, value: &str, expect: Expect) {
    let (headers, body) = send(value);
    let map: HashMap<String, String> = headers.into_iter().collect();
    let c = cooldown_until(&map, body.as_deref(), NOW, 1);
    let got = match (c.source == source, c.until, c.clamped_from_secs.is_some()) {
        (false, t, _) if c.source == ResetSource::Backoff && t == NOW + 30_000 => Expect::Ignored,
        (true, t, true) if t == FLOOR => Expect::Floor,
        (true, t, true) if t == CAP => Expect::Cap,
        (true, t, false) => Expect::Kept(t - NOW),
        _ => panic!("{name} {value:?}: unexpected {c:?}"),
    };
    assert_eq!(got, expect, "{name} {value:?}");
}

#[test]
fn every_delay_source_treats_absurd_values_alike() {
    for (name, send, source, _) in sources().into_iter().filter(|s| !s.3) {
        let ms = name == "retry-after-ms";
        check(name, send, source, "-5", Expect::Ignored);
        check(name, send, source, "garbage", Expect::Ignored);
        check(name, send, source, "0", Expect::Floor);
        check(name, send, source, "0.2", Expect::Floor);
        check(
            name,
            send,
            source,
            "90",
            if ms { Expect::Floor } else { Expect::Kept(90_000) },
        );
        check(
            name,
            send,
            source,
            "1500",
            Expect::Kept(if ms { 1_500 } else { 1_500_000 }),
        );
        check(name, send, source, "99999999999", Expect::Cap);
        check(name, send, source, &"9".repeat(400), Expect::Cap);
        if name != "retryDelay" {
            check(name, send, source, "NaN", Expect::Ignored);
            check(
                name,
                send,
                source,
                "2.5",
                if ms { Expect::Floor } else { Expect::Kept(2_500) },
            );
        }
    }
}

#[test]
fn every_date_source_treats_past_and_far_dates_alike() {
    for (name, send, source, _) in sources().into_iter().filter(|s| s.3) {
        let fmt = |t: Millis| {
            if name == "retry-after date" {
                http_date(t)
            } else {
                date_at(t).to_rfc3339()
            }
        };
        check(name, send, source, &fmt(NOW - 3_600_000), Expect::Floor);
        check(name, send, source, &fmt(NOW), Expect::Floor);
        check(name, send, source, &fmt(NOW + 120_000), Expect::Kept(120_000));
        check(name, send, source, &fmt(NOW + MAX_HINT_MS), Expect::Kept(MAX_HINT_MS));
        check(name, send, source, &fmt(NOW + 400 * 86_400_000), Expect::Cap);
        check(name, send, source, "Not a date", Expect::Ignored);
        if name != "retry-after date" {
            check(name, send, source, "99999999999999999999", Expect::Cap);
            check(name, send, source, "-1", Expect::Ignored);
        }
    }
}

#[test]
fn a_clamped_hint_keeps_the_seconds_it_asked_for() {
    let c = cooldown_until(&h(&[("retry-after", "99999999999")]), None, NOW, 1);
    assert_eq!((c.until, c.clamped_from_secs), (CAP, Some(99_999_999_999.0)));
}

proptest! {
    #[test]
    fn any_header_or_body_value_never_panics_and_stays_within_the_limits(
        v in prop_oneof![any::<String>(), "-?[0-9]{0,30}(\\.[0-9]{0,5})?(e[0-9]{1,3})?", "[0-9]{1,20}(h|m|s|ms|us|ns)"],
        now in 0i64..4_000_000_000_000,
        pick in 0usize..8,
    ) {
        let (name, send, _, _) = sources()[pick];
        let (headers, body) = send(&v);
        let map: HashMap<String, String> = headers.into_iter().collect();
        let c = cooldown_until(&map, body.as_deref(), now, 1);
        if c.source == ResetSource::Backoff {
            prop_assert_eq!(c.until, now + BACKOFF_BASE_MS, "{}", name);
        } else {
            prop_assert!(c.until >= now + MIN_COOLDOWN_MS && c.until <= now + MAX_HINT_MS, "{}", name);
        }
    }
}
