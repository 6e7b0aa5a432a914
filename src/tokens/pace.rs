//! How often one account's refresh token may be spent: one pacing state per account, shared by
//! the background schedule and the hot path's on-demand refreshes. After a refresh that worked,
//! not again for the floor (`policy::REFRESH_FLOOR_MS`), doubling while every new token comes back
//! already expired (a clock ahead of the token's expiry: refreshing again cannot help); after a
//! failure, a capped backoff that a token endpoint's `Retry-After` can only lengthen.
//! Pure: time comes in as arguments.

use std::collections::HashMap;

use crate::model::refresh_policy::REFRESH_FLOOR_MS;
use crate::model::Millis;

/// The first retry after a failure, doubled each time up to `BACKOFF_MAX_MS`.
pub const BACKOFF_MIN_MS: Millis = 30_000;
/// The longest wait between two refreshes of one account, after failures or a run of tokens that
/// came back already due (unless the token endpoint asked for longer).
pub const BACKOFF_MAX_MS: Millis = 30 * 60_000;

type Key = (String, String);

/// One account's pacing, valid while it holds the credential of `generation`.
#[derive(Debug, Clone, PartialEq)]
struct Pace {
    generation: u64,
    /// No token request for this account before this time.
    not_before: Millis,
    /// Failed refreshes in a row at `generation`.
    failures: u32,
    /// Refreshes in a row whose new token was due again within the floor.
    streak: u32,
}

/// `base` doubled `n - 1` times, at most `BACKOFF_MAX_MS`.
fn doubled(base: Millis, n: u32) -> Millis {
    (base << n.saturating_sub(1).min(10)).min(BACKOFF_MAX_MS)
}

/// Every account's pacing in this process.
#[derive(Default)]
pub(super) struct Paces(HashMap<Key, Pace>);

impl Paces {
    /// Until when a refresh of `key` holding `generation` must wait, if it must at `now`.
    pub fn held_back(&self, key: &Key, generation: u64, now: Millis) -> Option<Millis> {
        self.not_before(key, generation).filter(|&t| t > now)
    }

    /// The earliest time `key` holding `generation` may be refreshed again, if it is paced.
    pub fn not_before(&self, key: &Key, generation: u64) -> Option<Millis> {
        self.0
            .get(key)
            .filter(|p| p.generation == generation)
            .map(|p| p.not_before)
    }

    /// A refresh of `key` at `now` gave `generation`, whose own refresh is due at `due_again`
    /// (`dead`: it had expired on arrival). Answers how many refreshes in a row have given a token
    /// due again within the floor (0: a healthy token); the wait doubles with them while the
    /// tokens arrive dead.
    pub fn refreshed(&mut self, key: &Key, generation: u64, due_again: Millis, dead: bool, now: Millis) -> u32 {
        let streak = if dead || due_again < now.saturating_add(REFRESH_FLOOR_MS) {
            self.0.get(key).map_or(0, |p| p.streak).saturating_add(1)
        } else {
            0
        };
        let wait = if dead {
            doubled(REFRESH_FLOOR_MS, streak)
        } else {
            REFRESH_FLOOR_MS
        };
        self.0.insert(
            key.clone(),
            Pace {
                generation,
                not_before: now.saturating_add(wait),
                failures: 0,
                streak,
            },
        );
        streak
    }

    /// A refresh of `key` at `generation` failed at `now`; the endpoint may have said not before
    /// `hinted`. Answers when the next attempt may be made.
    pub fn failed(&mut self, key: &Key, generation: u64, hinted: Option<Millis>, now: Millis) -> Millis {
        let failures = self
            .0
            .get(key)
            .filter(|p| p.generation == generation)
            .map_or(1, |p| p.failures.saturating_add(1));
        let at = now
            .saturating_add(doubled(BACKOFF_MIN_MS, failures))
            .max(hinted.unwrap_or(0));
        let streak = self.0.get(key).map_or(0, |p| p.streak);
        self.0.insert(
            key.clone(),
            Pace {
                generation,
                not_before: at,
                failures,
                streak,
            },
        );
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn key() -> Key {
        ("anthropic".into(), "me".into())
    }

    #[test]
    fn a_healthy_refresh_holds_the_next_one_back_for_the_floor_only() {
        let mut p = Paces::default();
        assert_eq!(p.refreshed(&key(), 2, NOW + 3_000_000, false, NOW), 0);
        assert_eq!(p.held_back(&key(), 2, NOW + 1), Some(NOW + REFRESH_FLOOR_MS));
        assert_eq!(p.held_back(&key(), 2, NOW + REFRESH_FLOOR_MS), None);
        assert_eq!(p.held_back(&key(), 3, NOW + 1), None, "a newer credential is not paced");
    }

    #[test]
    fn a_token_shorter_lived_than_the_floor_is_refreshed_once_a_floor() {
        let mut p = Paces::default();
        assert_eq!(p.refreshed(&key(), 2, NOW + 27_000, false, NOW), 1);
        assert_eq!(p.refreshed(&key(), 3, NOW + 60_000 + 27_000, false, NOW + 60_000), 2);
        assert_eq!(p.not_before(&key(), 3), Some(NOW + 2 * REFRESH_FLOOR_MS));
    }

    #[test]
    fn tokens_that_come_back_already_expired_double_the_wait_up_to_the_cap() {
        let mut p = Paces::default();
        let mut now = NOW;
        let mut waits = vec![];
        for generation in 2..12 {
            let streak = p.refreshed(&key(), generation, now - 1, true, now);
            assert_eq!(streak, generation as u32 - 1);
            let next = p.not_before(&key(), generation).unwrap();
            waits.push((next - now) / 1000);
            now = next;
        }
        assert_eq!(waits, [60, 120, 240, 480, 960, 1800, 1800, 1800, 1800, 1800]);
        assert_eq!(
            p.refreshed(&key(), 20, now + 3_000_000, false, now),
            0,
            "a healthy token resets it"
        );
    }

    #[test]
    fn failures_back_off_and_a_retry_after_only_lengthens_the_wait() {
        let mut p = Paces::default();
        assert_eq!(p.failed(&key(), 1, None, NOW), NOW + BACKOFF_MIN_MS);
        assert_eq!(p.failed(&key(), 1, None, NOW), NOW + 2 * BACKOFF_MIN_MS);
        assert_eq!(p.failed(&key(), 1, Some(NOW + 3_600_000), NOW), NOW + 3_600_000);
        assert_eq!(p.failed(&key(), 1, Some(NOW + 1), NOW), NOW + 8 * BACKOFF_MIN_MS);
        assert_eq!(
            p.failed(&key(), 2, None, NOW),
            NOW + BACKOFF_MIN_MS,
            "counted per credential"
        );
    }
}
