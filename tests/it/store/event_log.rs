//! The event log's row bound with the real binary: two `serve` processes and the CLI writing
//! events into one store never leave more than `eventsMaxRows` rows committed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crate::common::*;
use serde_json::json;

fn quiet(store: &Path) -> Sidecar {
    Sidecar::start_with(
        store,
        Options {
            log: "warn",
            ..Options::default()
        },
    )
}

fn count(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap()
}

/// Sends `n` setting changes (each writes one event) in one write and reads every answer.
fn churn(sidecars: &mut [&mut Sidecar], n: usize) {
    for s in sidecars.iter_mut() {
        let lines: String = (0..n)
            .map(|i| {
                let msg = json!({"jsonrpc": "2.0", "id": 1000 + i, "method": "settings.set",
                    "params": {"key": "maxAttempts", "value": 1 + i % 9}});
                format!("{msg}\n")
            })
            .collect();
        s.send_raw(lines.as_bytes());
    }
    for s in sidecars.iter_mut() {
        for _ in 0..n {
            assert!(s.next_reply().get("result").is_some());
        }
    }
}

#[test]
fn two_serve_processes_and_the_cli_never_commit_more_events_than_the_bound() {
    let (_d, store) = temp_store();
    let mut a = quiet(&store);
    let mut b = quiet(&store);
    a.call("settings.set", json!({"key": "eventsMaxRows", "value": 200}));
    b.call("status", json!({}));

    // Every committed state another reader can see, sampled as fast as it can read.
    let watcher = rusqlite::Connection::open_with_flags(&store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let sampler = thread::spawn(move || {
        let (mut most, mut samples) = (0, 0u64);
        while !stop2.load(Ordering::SeqCst) {
            most = most.max(count(&watcher));
            samples += 1;
        }
        (most, samples, watcher)
    });

    churn(&mut [&mut a, &mut b], 400);
    // Lowered by a third process, the CLI: both sidecars' next writes keep the new bound.
    cli_ok(&store, &["config", "set", "eventsMaxRows", "100"], None);
    let lowered = rusqlite::Connection::open(&store).unwrap();
    assert!(count(&lowered) <= 100, "the CLI's own event write pruned at once");
    stop.store(true, Ordering::SeqCst);
    let (most, samples, watcher) = sampler.join().unwrap();
    assert!(samples > 10, "the sampler ran ({samples} samples)");
    assert!(most <= 200, "{most} events committed with eventsMaxRows 200");

    let stop2 = Arc::new(AtomicBool::new(false));
    let stop3 = stop2.clone();
    let sampler = thread::spawn(move || {
        let mut most = 0;
        while !stop3.load(Ordering::SeqCst) {
            most = most.max(count(&watcher));
        }
        most
    });
    churn(&mut [&mut a, &mut b], 300);
    for s in [a, b] {
        let (code, _, _, _) = s.finish();
        assert_eq!(code, Some(0));
    }
    stop2.store(true, Ordering::SeqCst);
    let most = sampler.join().unwrap();
    assert!(
        most <= 100,
        "{most} events committed after eventsMaxRows was lowered to 100"
    );
    assert_eq!(
        count(&lowered),
        100,
        "1,400 events were written; the newest 100 are kept"
    );
}
