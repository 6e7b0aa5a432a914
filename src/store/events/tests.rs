//! Event pruning: the row and age bounds hold after every commit, for single and batched
//! inserts, bounds changed between commits, and two connections writing one store.

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::model::EventKind;

const DAY: Millis = 86_400_000;

fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("s.sqlite")).unwrap()
}

fn events(n: usize, at: Millis) -> Vec<(NewEvent, Millis)> {
    (0..n)
        .map(|i| (NewEvent::new(EventKind::SettingsChanged, format!("event {i}")), at))
        .collect()
}

/// (row count, lowest id, highest id).
fn shape(s: &Store) -> (i64, i64, i64) {
    s.conn
        .query_row(
            "SELECT COUNT(*), IFNULL(MIN(id), 0), IFNULL(MAX(id), 0) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

/// Inserts `total` events in batches of `batch`, checking after each commit that exactly the
/// newest `min(inserted, max_rows)` rows are kept.
fn assert_bound_after_every_commit(max_rows: i64, total: usize, batch: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(&dir);
    s.save_setting("eventsMaxRows", &max_rows.to_string()).unwrap();
    let now = 1_800_000_000_000;
    let mut inserted = 0i64;
    while (inserted as usize) < total {
        let n = batch.min(total - inserted as usize);
        let stored = s.append_events(&events(n, now), now).unwrap();
        assert_eq!(stored.len(), n, "every event of the batch is stored and announced");
        inserted += n as i64;
        let (count, min, max) = shape(&s);
        assert_eq!(count, inserted.min(max_rows), "after {inserted} inserts");
        assert_eq!(max, inserted);
        assert_eq!(min, max - count + 1, "the newest rows are the ones kept");
    }
}

#[test]
fn the_row_bound_holds_after_every_single_insert_with_a_small_bound() {
    assert_bound_after_every_commit(100, 370, 1);
}

#[test]
fn the_row_bound_holds_after_every_commit_with_a_large_bound() {
    assert_bound_after_every_commit(10_000, 10_400, 13);
}

#[test]
fn a_batch_bigger_than_the_bound_keeps_only_its_newest_rows() {
    assert_bound_after_every_commit(100, 750, 250);
}

#[test]
fn lowering_the_row_bound_applies_at_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(&dir);
    let now = 1_800_000_000_000;
    s.append_events(&events(600, now), now).unwrap();
    assert_eq!(shape(&s).0, 600, "the default bound is 10,000");
    s.save_setting("eventsMaxRows", "100").unwrap();
    s.append_events(&events(1, now), now).unwrap();
    assert_eq!(shape(&s), (100, 502, 601));
}

#[test]
fn events_older_than_the_age_bound_go_at_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(&dir);
    s.save_setting("eventsMaxAgeDays", "2").unwrap();
    let clock = ManualClock::new(1_800_000_000_000);
    s.append_events(&events(3, clock.now_ms()), clock.now_ms()).unwrap();
    clock.advance(DAY);
    s.append_events(&events(2, clock.now_ms()), clock.now_ms()).unwrap();
    clock.advance(DAY);
    // Exactly two days old: still within the bound.
    s.append_events(&events(1, clock.now_ms()), clock.now_ms()).unwrap();
    assert_eq!(shape(&s), (6, 1, 6));
    clock.advance(1);
    s.append_events(&events(1, clock.now_ms()), clock.now_ms()).unwrap();
    assert_eq!(shape(&s), (4, 4, 7), "the first day's events are gone");
    // Lowering the age bound applies at the next commit as well.
    s.save_setting("eventsMaxAgeDays", "1").unwrap();
    s.append_events(&events(1, clock.now_ms()), clock.now_ms()).unwrap();
    assert_eq!(shape(&s), (3, 6, 8));
}

#[test]
fn two_connections_writing_one_store_keep_the_bound_set_by_either() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = store(&dir);
    let mut b = store(&dir);
    a.save_setting("eventsMaxRows", "150").unwrap();
    let now = 1_800_000_000_000;
    for round in 0..120 {
        let (w, n) = if round % 2 == 0 { (&mut a, 1) } else { (&mut b, 3) };
        w.append_events(&events(n, now), now).unwrap();
        assert!(shape(w).0 <= 150, "round {round}: {:?}", shape(w));
    }
    assert_eq!(shape(&a).0, 150);
    // A bound lowered through one connection holds at the other's next commit.
    b.save_setting("eventsMaxRows", "100").unwrap();
    a.append_events(&events(1, now), now).unwrap();
    assert_eq!(shape(&a).0, 100);
    assert_eq!(shape(&b).0, 100);
}
