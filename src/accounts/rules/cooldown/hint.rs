//! The one clamping rule every reset hint passes through (Retry-After, reset headers, body hints,
//! the usage endpoint's Retry-After): garbage is ignored, a wait is kept within [floor, cap], and
//! a clamped hint says so.
//!
//! The rule, as docs/protocol.md states it:
//! - a hint that does not parse, or is NaN, or is a negative *delay*, is ignored as if absent;
//! - a *date* in the past, zero and sub-second waits become the floor (1 s for cooldowns);
//! - anything past the cap (7 days for cooldowns, a weekly quota window being the longest real
//!   reset; numbers too large for any clock included) becomes the cap;
//! - whenever the floor or cap changed the hint, `clamped` is set and the asked-for wait kept.

use crate::model::Millis;

/// The shortest cooldown any hint can set.
pub const MIN_COOLDOWN_MS: Millis = 1_000;
/// The longest cooldown any hint can set: 7 days, so a subscription plan's weekly limit is
/// honoured in full while a garbage value cannot bench an account for years.
pub const MAX_HINT_MS: Millis = 7 * 24 * 3_600_000;

/// The bounds a hinted wait is kept within, in ms from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub floor: Millis,
    pub cap: Millis,
}

/// The bounds for an account's cooldown.
pub const COOLDOWN_LIMITS: Limits = Limits {
    floor: MIN_COOLDOWN_MS,
    cap: MAX_HINT_MS,
};

/// A hint after the rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clamped {
    /// When the wait ends (`now + wait`, wait within the limits).
    pub until: Millis,
    /// The wait the hint asked for, in seconds (negative for a past date; infinite if huge).
    pub asked_secs: f64,
    /// Whether the floor or the cap changed it.
    pub clamped: bool,
}

/// Applies the rule to a hinted wait of `wait_ms` from `now`; `None` (ignore the hint) for NaN.
pub fn clamp_wait(now: Millis, wait_ms: f64, limits: Limits) -> Option<Clamped> {
    if wait_ms.is_nan() {
        return None;
    }
    let (floor, cap) = (limits.floor as f64, limits.cap as f64);
    let kept = wait_ms.clamp(floor, cap);
    // Within [floor, cap], so the cast is exact enough and the sum cannot overflow a real clock.
    let wait = (kept.round() as Millis).clamp(limits.floor, limits.cap);
    Some(Clamped {
        until: now.saturating_add(wait),
        asked_secs: wait_ms / 1000.0,
        clamped: wait_ms < floor || wait_ms > cap,
    })
}

/// Applies the rule to an absolute time `until`.
pub fn clamp_until(now: Millis, until: Millis, limits: Limits) -> Clamped {
    let wait = until as f64 - now as f64;
    clamp_wait(now, wait, limits).expect("a difference of integers is never NaN")
}

/// The asked-for seconds as event metadata: finite, whole milliseconds, never an exponent.
pub fn asked_secs_text(secs: f64) -> String {
    if !secs.is_finite() || secs.abs() >= 1e15 {
        return if secs < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let s = format!("{secs:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: Millis = 1_700_000_000_000;

    #[test]
    fn waits_within_the_limits_are_kept_as_asked() {
        let c = clamp_wait(NOW, 120_000.0, COOLDOWN_LIMITS).unwrap();
        assert_eq!((c.until, c.clamped, c.asked_secs), (NOW + 120_000, false, 120.0));
        let week = clamp_wait(NOW, MAX_HINT_MS as f64, COOLDOWN_LIMITS).unwrap();
        assert_eq!(
            (week.until, week.clamped),
            (NOW + MAX_HINT_MS, false),
            "a weekly reset is real"
        );
    }

    #[test]
    fn short_zero_and_past_waits_become_the_floor_and_say_so() {
        for w in [0.0, 200.0, -5_000.0, -1e300, f64::NEG_INFINITY] {
            let c = clamp_wait(NOW, w, COOLDOWN_LIMITS).unwrap();
            assert_eq!((c.until, c.clamped), (NOW + MIN_COOLDOWN_MS, true), "{w}");
        }
    }

    #[test]
    fn huge_waits_become_the_cap_and_say_so() {
        for w in [MAX_HINT_MS as f64 + 1.0, 1e20, f64::MAX, f64::INFINITY] {
            let c = clamp_wait(NOW, w, COOLDOWN_LIMITS).unwrap();
            assert_eq!((c.until, c.clamped), (NOW + MAX_HINT_MS, true), "{w}");
        }
        let c = clamp_until(NOW, Millis::MAX, COOLDOWN_LIMITS);
        assert_eq!((c.until, c.clamped), (NOW + MAX_HINT_MS, true));
    }

    #[test]
    fn nan_is_ignored() {
        assert_eq!(clamp_wait(NOW, f64::NAN, COOLDOWN_LIMITS), None);
    }

    #[test]
    fn asked_seconds_are_plain_text() {
        assert_eq!(asked_secs_text(99_999_999_999.0), "99999999999");
        assert_eq!(asked_secs_text(1.5), "1.5");
        assert_eq!(asked_secs_text(-3.0), "-3");
        assert_eq!(asked_secs_text(f64::INFINITY), "inf");
        assert_eq!(asked_secs_text(1e300), "inf");
    }

    proptest! {
        #[test]
        fn any_wait_ends_within_floor_and_cap(w in any::<f64>(), now in 0i64..4_000_000_000_000) {
            if let Some(c) = clamp_wait(now, w, COOLDOWN_LIMITS) {
                prop_assert!(c.until >= now + MIN_COOLDOWN_MS && c.until <= now + MAX_HINT_MS);
                prop_assert_eq!(c.clamped, !(MIN_COOLDOWN_MS as f64..=MAX_HINT_MS as f64).contains(&w));
            } else {
                prop_assert!(w.is_nan());
            }
        }

        #[test]
        fn any_absolute_time_ends_within_floor_and_cap(u in any::<i64>(), now in 0i64..4_000_000_000_000) {
            let c = clamp_until(now, u, COOLDOWN_LIMITS);
            prop_assert!(c.until >= now + MIN_COOLDOWN_MS && c.until <= now + MAX_HINT_MS);
        }
    }
}
