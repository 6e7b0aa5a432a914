//! When each account's usage is read: every interval ±20 % jitter so polls never line up, at most
//! four reads in flight, per-account backoff on failure (doubling from the interval, capped at
//! 30 min, Retry-After honoured), 401/403 rested for the cap instead of retried in a loop, a
//! per-prompt nudge at most every 30 s, and on-demand reads. Pure: time comes in as arguments.

use std::collections::BTreeMap;

use crate::accounts::rules::cooldown::hint::{clamp_until, Limits, MIN_COOLDOWN_MS};
use crate::model::Millis;

pub const MAX_IN_FLIGHT: usize = 4;
/// ±20 % of each delay.
pub const JITTER: f64 = 0.2;
pub const BACKOFF_CAP_MS: Millis = 30 * 60_000;
/// A prompt asks for fresh usage at most this often.
pub const PROMPT_MIN_MS: Millis = 30_000;
/// A Retry-After further out than this is clamped (a garbage date must not stop polling for good).
pub const MAX_RETRY_AFTER_MS: Millis = 6 * 3_600_000;
/// The usage endpoint's Retry-After hold, through the same rule as every reset hint
/// (`accounts::rules::cooldown::hint`): at least 1 s, at most [`MAX_RETRY_AFTER_MS`].
pub const HOLD_LIMITS: Limits = Limits {
    floor: MIN_COOLDOWN_MS,
    cap: MAX_RETRY_AFTER_MS,
};

/// A source of jitter: each call gives a value in [-1, 1].
#[cfg_attr(test, mockall::automock)]
pub trait Jitter: Send {
    fn next(&mut self) -> f64;
}

/// A small deterministic generator (xorshift64*), seeded for tests or from the process.
pub struct SeededJitter(u64);

impl SeededJitter {
    pub fn new(seed: u64) -> SeededJitter {
        SeededJitter(seed | 1)
    }

    /// `OPENCODE_BALANCER_USAGE_SEED` of `vars` when set, else the process id and the time.
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> SeededJitter {
        let seed = vars("OPENCODE_BALANCER_USAGE_SEED")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                nanos ^ ((std::process::id() as u64) << 32)
            });
        SeededJitter::new(seed)
    }
}

impl Jitter for SeededJitter {
    fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11; // 53 bits
        (r as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// `(providerID, alias)`.
pub type Key = (String, String);

/// How a read ended, for the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Success,
    /// Timeout, network, 5xx, a bad answer: back off.
    Failed,
    /// 429: back off, and not before Retry-After (`until`), not even on demand.
    RateLimited {
        until: Option<Millis>,
    },
    /// 401/403: reported; tried again after the cap or when the credential changes.
    Refused,
}

#[derive(Debug, Clone)]
struct Slot {
    due: Millis,
    failures: u32,
    hold_until: Option<Millis>,
    running: bool,
    forced: bool,
    last_attempt: Option<Millis>,
    credential: u64,
}

/// What an on-demand request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Force {
    /// It runs as soon as a slot is free (or is already running).
    Queued,
    /// The endpoint asked not to be called before this time.
    Held(Millis),
}

pub struct Schedule {
    slots: BTreeMap<Key, Slot>,
    jitter: Box<dyn Jitter>,
    interval_ms: Millis,
    last_nudge: Option<Millis>,
}

impl Schedule {
    pub fn new(interval_ms: Millis, jitter: Box<dyn Jitter>) -> Schedule {
        Schedule {
            slots: BTreeMap::new(),
            jitter,
            interval_ms: interval_ms.max(1_000),
            last_nudge: None,
        }
    }

    /// A new interval applies from each account's next read on.
    pub fn set_interval(&mut self, interval_ms: Millis) {
        self.interval_ms = interval_ms.max(1_000);
    }

    pub fn interval(&self) -> Millis {
        self.interval_ms
    }

    fn jittered(&mut self, base: Millis) -> Millis {
        let j = self.jitter.next().clamp(-1.0, 1.0);
        (base as f64 * (1.0 + JITTER * j)).round() as Millis
    }

    /// The delay after `failures` consecutive failures (before jitter): the interval doubled per
    /// failure, capped.
    pub fn backoff(&self, failures: u32) -> Millis {
        let doubled = self.interval_ms.saturating_mul(1i64 << failures.min(20));
        doubled.min(BACKOFF_CAP_MS)
    }

    /// Makes the schedule cover exactly `accounts` (key, credential fingerprint): new ones are due
    /// now; one whose credential changed starts over (its backoff and holds are dropped).
    pub fn sync(&mut self, accounts: impl IntoIterator<Item = (Key, u64)>, now: Millis) {
        let incoming: BTreeMap<Key, u64> = accounts.into_iter().collect();
        self.slots.retain(|k, _| incoming.contains_key(k));
        for (key, credential) in incoming {
            self.insert(key, credential, now);
        }
    }

    /// Adds one account (due now), or starts it over when its credential changed.
    pub fn insert(&mut self, key: Key, credential: u64, now: Millis) {
        let fresh = Slot {
            due: now,
            failures: 0,
            hold_until: None,
            running: false,
            forced: false,
            last_attempt: None,
            credential,
        };
        match self.slots.get_mut(&key) {
            Some(s) if s.credential == credential => {}
            Some(s) => {
                *s = Slot {
                    running: s.running,
                    forced: s.forced,
                    ..fresh
                }
            }
            None => {
                self.slots.insert(key, fresh);
            }
        }
    }

    pub fn remove(&mut self, key: &Key) {
        self.slots.remove(key);
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.slots.contains_key(key)
    }

    pub fn in_flight(&self) -> usize {
        self.slots.values().filter(|s| s.running).count()
    }

    /// The earliest time a read not running now may start (a Retry-After hold included).
    pub fn next_due(&self) -> Option<Millis> {
        self.slots
            .values()
            .filter(|s| !s.running)
            .map(|s| {
                if s.forced {
                    Millis::MIN
                } else {
                    s.due.max(s.hold_until.unwrap_or(s.due))
                }
            })
            .min()
    }

    pub fn due_at(&self, key: &Key) -> Option<Millis> {
        self.slots.get(key).map(|s| s.due)
    }

    pub fn failures(&self, key: &Key) -> u32 {
        self.slots.get(key).map_or(0, |s| s.failures)
    }

    /// Reads to start now, marked running: forced ones first, then (when `polling`) the due ones
    /// not held by a Retry-After, up to `MAX_IN_FLIGHT` in flight. `true` beside a key: forced.
    pub fn take_due(&mut self, now: Millis, polling: bool) -> Vec<(Key, bool)> {
        let mut free = MAX_IN_FLIGHT.saturating_sub(self.in_flight());
        let mut out = Vec::new();
        for pass_forced in [true, false] {
            for (key, s) in self.slots.iter_mut() {
                if free == 0 {
                    return out;
                }
                if s.running {
                    continue;
                }
                let ready = if pass_forced {
                    s.forced
                } else {
                    polling && s.due <= now && s.hold_until.is_none_or(|h| h <= now)
                };
                if ready {
                    out.push((key.clone(), s.forced));
                    s.running = true;
                    s.forced = false;
                    free -= 1;
                }
            }
        }
        out
    }

    /// Asks for a read now, whatever the schedule (not past a Retry-After hold).
    pub fn force(&mut self, key: &Key, now: Millis) -> Force {
        let Some(s) = self.slots.get_mut(key) else {
            return Force::Queued;
        };
        match s.hold_until {
            Some(h) if h > now => Force::Held(h),
            _ => {
                if !s.running {
                    s.forced = true;
                }
                Force::Queued
            }
        }
    }

    /// A prompt was sent: accounts not read for 30 s and not backing off become due now; at most
    /// once per 30 s. Returns how many became due.
    pub fn nudge(&mut self, now: Millis) -> usize {
        if self.last_nudge.is_some_and(|t| now - t < PROMPT_MIN_MS) {
            return 0;
        }
        self.last_nudge = Some(now);
        let mut n = 0;
        for s in self.slots.values_mut() {
            let stale = s.last_attempt.is_none_or(|t| now - t >= PROMPT_MIN_MS);
            if !s.running && s.failures == 0 && stale && s.due > now {
                s.due = now;
                n += 1;
            }
        }
        n
    }

    /// Records how a read ended and when the next one is due.
    pub fn finish(&mut self, key: &Key, outcome: Outcome, now: Millis) {
        let Some(mut s) = self.slots.get(key).cloned() else {
            return;
        };
        s.running = false;
        s.last_attempt = Some(now);
        match outcome {
            Outcome::Success => {
                s.failures = 0;
                s.hold_until = None;
                s.due = now + self.jittered(self.interval_ms);
            }
            Outcome::Failed => {
                s.failures = s.failures.saturating_add(1);
                s.due = now + self.jittered(self.backoff(s.failures));
            }
            Outcome::RateLimited { until } => {
                s.failures = s.failures.saturating_add(1);
                let hold = until
                    .filter(|u| *u > now)
                    .map(|u| clamp_until(now, u, HOLD_LIMITS).until);
                s.hold_until = hold;
                s.due = (now + self.jittered(self.backoff(s.failures))).max(hold.unwrap_or(now));
            }
            Outcome::Refused => {
                s.failures = s.failures.saturating_add(1);
                s.due = now + BACKOFF_CAP_MS;
            }
        }
        self.slots.insert(key.clone(), s);
    }

    /// Another process read this account at `fresh_at`: nothing was fetched; the next read is an
    /// interval after that, and never more than an interval from `now` (a reading stamped in the
    /// future, after the clock was set back, must not stop polling until then).
    pub fn defer(&mut self, key: &Key, fresh_at: Millis, now: Millis) {
        let interval = self.jittered(self.interval_ms);
        let next = fresh_at.min(now) + interval;
        if let Some(s) = self.slots.get_mut(key) {
            s.running = false;
            s.due = next.max(now + 1_000);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;
    const MIN: Millis = 60_000;

    fn key(a: &str) -> Key {
        ("p".into(), a.into())
    }

    /// Jitter that always answers `j`.
    fn fixed(j: f64) -> Box<dyn Jitter> {
        let mut m = MockJitter::new();
        m.expect_next().return_const(j);
        Box::new(m)
    }

    fn schedule(accounts: &[&str], j: f64) -> Schedule {
        let mut s = Schedule::new(MIN, fixed(j));
        s.sync(accounts.iter().map(|a| (key(a), 1)), NOW);
        s
    }

    #[test]
    fn new_accounts_are_due_at_once_and_the_next_read_is_an_interval_later_with_jitter() {
        let mut s = schedule(&["a"], -1.0);
        assert_eq!(s.take_due(NOW, true), vec![(key("a"), false)]);
        s.finish(&key("a"), Outcome::Success, NOW);
        assert_eq!(s.due_at(&key("a")), Some(NOW + 48_000), "-20 %");
        let mut s = schedule(&["a"], 1.0);
        s.take_due(NOW, true);
        s.finish(&key("a"), Outcome::Success, NOW);
        assert_eq!(s.due_at(&key("a")), Some(NOW + 72_000), "+20 %");
        assert!(s.take_due(NOW + 71_999, true).is_empty());
        assert_eq!(s.take_due(NOW + 72_000, true).len(), 1);
    }

    #[test]
    fn seeded_jitter_stays_within_bounds_spreads_and_repeats() {
        let mut j = SeededJitter::new(42);
        let values: Vec<f64> = (0..10_000).map(|_| j.next()).collect();
        assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert!(values.iter().any(|v| *v < -0.9) && values.iter().any(|v| *v > 0.9));
        let mut again = SeededJitter::new(42);
        assert_eq!(again.next(), values[0]);
        let mut s = Schedule::new(MIN, Box::new(SeededJitter::new(7)));
        s.sync((0..200).map(|i| (key(&i.to_string()), 1)), NOW);
        let mut dues = Vec::new();
        for _ in 0..50 {
            for (k, _) in s.take_due(NOW, true) {
                s.finish(&k, Outcome::Success, NOW);
                dues.push(s.due_at(&k).unwrap() - NOW);
            }
        }
        assert_eq!(dues.len(), 200);
        assert!(dues.iter().all(|d| (48_000..=72_000).contains(d)), "{dues:?}");
        dues.sort();
        dues.dedup();
        assert!(dues.len() > 150, "polls do not line up: {} distinct", dues.len());
    }

    #[test]
    fn at_most_four_in_flight() {
        let mut s = schedule(&["a", "b", "c", "d", "e", "f"], 0.0);
        let first = s.take_due(NOW, true);
        assert_eq!(first.len(), 4);
        assert_eq!(s.in_flight(), 4);
        assert!(s.take_due(NOW, true).is_empty());
        s.finish(&first[0].0, Outcome::Success, NOW);
        assert_eq!(s.take_due(NOW, true).len(), 1);
        assert_eq!(s.force(&key("f"), NOW), Force::Queued);
        assert!(s.take_due(NOW, true).is_empty(), "forced reads wait for a slot too");
        s.finish(&first[1].0, Outcome::Success, NOW);
        assert_eq!(s.take_due(NOW, false), vec![(key("f"), true)]);
    }

    #[test]
    fn backoff_doubles_from_the_interval_caps_and_resets_on_success() {
        let mut s = schedule(&["a"], 0.0);
        let mut delays = Vec::new();
        let mut t = NOW;
        for _ in 0..7 {
            s.take_due(t, true);
            s.finish(&key("a"), Outcome::Failed, t);
            let due = s.due_at(&key("a")).unwrap();
            delays.push((due - t) / 1000);
            t = due;
        }
        assert_eq!(delays, [120, 240, 480, 960, 1800, 1800, 1800]);
        assert_eq!(s.failures(&key("a")), 7);
        s.take_due(t, true);
        s.finish(&key("a"), Outcome::Success, t);
        assert_eq!(s.failures(&key("a")), 0);
        assert_eq!(s.due_at(&key("a")), Some(t + MIN));
    }

    #[test]
    fn retry_after_is_honoured_even_on_demand_and_past_the_backoff() {
        let mut s = schedule(&["a"], 0.0);
        s.take_due(NOW, true);
        s.finish(
            &key("a"),
            Outcome::RateLimited {
                until: Some(NOW + 3_600_000),
            },
            NOW,
        );
        assert_eq!(s.due_at(&key("a")), Some(NOW + 3_600_000));
        assert_eq!(s.force(&key("a"), NOW + 10), Force::Held(NOW + 3_600_000));
        assert!(s.take_due(NOW + 3_599_999, true).is_empty());
        assert_eq!(s.force(&key("a"), NOW + 3_600_000), Force::Queued);
        // Without Retry-After a 429 backs off like any failure; a garbage date is clamped.
        let mut s = schedule(&["a"], 0.0);
        s.take_due(NOW, true);
        s.finish(&key("a"), Outcome::RateLimited { until: None }, NOW);
        assert_eq!(s.due_at(&key("a")), Some(NOW + 2 * MIN));
        s.take_due(NOW + 2 * MIN, true);
        s.finish(&key("a"), Outcome::RateLimited { until: Some(i64::MAX) }, NOW + 2 * MIN);
        assert_eq!(s.due_at(&key("a")), Some(NOW + 2 * MIN + MAX_RETRY_AFTER_MS));
    }

    #[test]
    fn a_refused_credential_rests_for_the_cap_until_it_changes() {
        let mut s = schedule(&["a"], 0.0);
        s.take_due(NOW, true);
        s.finish(&key("a"), Outcome::Refused, NOW);
        assert_eq!(s.due_at(&key("a")), Some(NOW + BACKOFF_CAP_MS));
        assert!(s.take_due(NOW + BACKOFF_CAP_MS - 1, true).is_empty());
        assert_eq!(s.nudge(NOW + MIN), 0, "a prompt does not wake a refused account");
        s.sync([(key("a"), 2)], NOW + MIN);
        assert_eq!(s.failures(&key("a")), 0, "a new credential starts over");
        assert_eq!(s.take_due(NOW + MIN, true).len(), 1);
    }

    #[test]
    fn a_prompt_nudges_stale_accounts_at_most_every_30_s() {
        let mut s = schedule(&["a", "b"], 0.0);
        for (k, _) in s.take_due(NOW, true) {
            s.finish(&k, Outcome::Success, NOW);
        }
        assert_eq!(s.nudge(NOW + 10_000), 0, "read 10 s ago: fresh enough");
        assert_eq!(s.nudge(NOW + 31_000), 0, "the last nudge was 21 s ago");
        assert_eq!(s.nudge(NOW + 40_000), 2);
        assert_eq!(s.take_due(NOW + 40_000, true).len(), 2);
    }

    #[test]
    fn polling_off_runs_only_forced_reads_and_removed_accounts_leave() {
        let mut s = schedule(&["a", "b"], 0.0);
        assert!(s.take_due(NOW, false).is_empty());
        s.force(&key("b"), NOW);
        assert_eq!(s.take_due(NOW, false), vec![(key("b"), true)]);
        s.sync([(key("b"), 1)], NOW);
        assert!(!s.contains(&key("a")));
        assert_eq!(s.in_flight(), 1, "b keeps running");
    }

    #[test]
    fn the_next_due_read_skips_running_ones_and_waits_out_a_hold() {
        let mut s = schedule(&["a", "b"], 0.0);
        assert_eq!(s.next_due(), Some(NOW));
        s.take_due(NOW, true);
        assert_eq!(s.next_due(), None, "both running");
        s.finish(&key("a"), Outcome::Success, NOW);
        s.finish(
            &key("b"),
            Outcome::RateLimited {
                until: Some(NOW + 5 * MIN),
            },
            NOW,
        );
        assert_eq!(s.next_due(), Some(NOW + MIN));
        s.remove(&key("a"));
        assert_eq!(s.next_due(), Some(NOW + 5 * MIN), "not before the Retry-After");
    }

    #[test]
    fn a_reading_stamped_in_the_future_defers_one_interval_at_most() {
        let mut s = schedule(&["a"], 0.0);
        s.take_due(NOW, true);
        s.defer(&key("a"), NOW + 86_400_000, NOW);
        assert_eq!(s.due_at(&key("a")), Some(NOW + MIN));
    }

    #[test]
    fn a_fresh_read_elsewhere_defers_the_next_one() {
        let mut s = schedule(&["a"], 0.0);
        s.take_due(NOW, true);
        s.defer(&key("a"), NOW - 5_000, NOW);
        assert_eq!(s.in_flight(), 0);
        assert_eq!(s.due_at(&key("a")), Some(NOW - 5_000 + MIN));
    }
}
