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
#[path = "schedule_tests.rs"]
mod tests;
