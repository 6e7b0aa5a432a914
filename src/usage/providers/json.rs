//! Lenient readers for provider payloads: a field of the wrong type reads as missing, numbers may
//! come as strings, times as Unix seconds, milliseconds, RFC 3339 or a bare date.

use chrono::{DateTime, NaiveDate};
use serde_json::Value;

use crate::model::Millis;

/// The value at `path` (object keys), if every step exists.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

/// A finite number, or a string holding one.
pub fn num(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

pub fn num_at(v: &Value, path: &[&str]) -> Option<f64> {
    at(v, path).and_then(num)
}

/// A percentage in 0–100 (a negative or absurd value reads as missing; over 100 is kept: overage).
pub fn percent(v: &Value) -> Option<f64> {
    num(v).filter(|p| (0.0..=10_000.0).contains(p))
}

/// A non-empty string, trimmed, at most 64 characters (names shown to people).
pub fn text(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim();
    (!s.is_empty()).then(|| s.chars().take(64).collect())
}

pub fn text_at(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path).and_then(text)
}

/// A point in time: Unix seconds or milliseconds (number or numeric string), RFC 3339, or a
/// `YYYY-MM-DD` date (midnight UTC).
pub fn time(v: &Value) -> Option<Millis> {
    if let Some(n) = num(v) {
        if n <= 0.0 {
            return None;
        }
        // Float-to-int casts saturate; absurd values are clamped by whoever uses the time.
        return Some(if n > 1e12 { n as Millis } else { (n * 1000.0) as Millis });
    }
    let s = v.as_str()?.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

pub fn time_at(v: &Value, path: &[&str]) -> Option<Millis> {
    at(v, path).and_then(time)
}

/// Midnight UTC of the first day of `now`'s month, in Unix seconds.
pub fn month_start_secs(now: Millis) -> i64 {
    use chrono::Datelike;
    let Some(d) = DateTime::from_timestamp_millis(now) else {
        return 0;
    };
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
        .unwrap_or(0)
}

/// A window's name from its length: `18000` → `5h`, `604800` → `7d`.
pub fn window_name(secs: f64) -> Option<String> {
    if !(secs.is_finite() && secs >= 60.0) {
        return None;
    }
    let s = secs as i64;
    Some(if s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s % 3_600 == 0 {
        format!("{}h", s / 3_600)
    } else {
        format!("{}m", s / 60)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_accept_strings_and_refuse_other_types() {
        assert_eq!(num(&json!(42)), Some(42.0));
        assert_eq!(num(&json!(" 4.5 ")), Some(4.5));
        assert_eq!(num(&json!("forty")), None);
        assert_eq!(num(&json!(true)), None);
        assert_eq!(num(&json!(null)), None);
        assert_eq!(percent(&json!(-3)), None);
        assert_eq!(percent(&json!(104)), Some(104.0));
    }

    #[test]
    fn times_in_every_shape() {
        assert_eq!(time(&json!(1_700_000_000)), Some(1_700_000_000_000));
        assert_eq!(time(&json!(1_700_000_000_123i64)), Some(1_700_000_000_123));
        assert_eq!(time(&json!("1700000000")), Some(1_700_000_000_000));
        assert_eq!(time(&json!("2023-11-14T22:13:20Z")), Some(1_700_000_000_000));
        assert_eq!(time(&json!("2023-11-14T22:13:20.5+00:00")), Some(1_700_000_000_500));
        assert_eq!(time(&json!("2023-11-15")), Some(1_700_006_400_000));
        assert_eq!(time(&json!("soon")), None);
        assert_eq!(time(&json!(0)), None);
        assert_eq!(time(&json!({"at": 1})), None);
    }

    #[test]
    fn month_start_and_window_names() {
        // 2023-11-14T22:13:20Z → 2023-11-01T00:00:00Z
        assert_eq!(month_start_secs(1_700_000_000_000), 1_698_796_800);
        assert_eq!(window_name(18_000.0).as_deref(), Some("5h"));
        assert_eq!(window_name(604_800.0).as_deref(), Some("7d"));
        assert_eq!(window_name(90.0).as_deref(), Some("1m"));
        assert_eq!(window_name(-1.0), None);
    }
}
