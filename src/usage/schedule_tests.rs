//! Schedule tests: jitter, in-flight cap, backoff, Retry-After, nudges, forced and deferred reads.

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
