//! Backpressure through the real binary: a host that writes far more than it reads keeps `serve`
//! within its memory budget (the pipe pushes back), and everything is answered once it reads.

use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

/// The budget docs/performance.md states for a `serve` whose host does not read.
const BUDGET_KIB: u64 = 32 * 1024;
/// Enough to hold about 300 MiB in a `serve` that would not push back; few enough for the debug
/// binary to answer in time beside every other test of this binary (`bench` writes 500,000).
const REQUESTS: usize = 100_000;

/// (VmRSS, VmHWM) of a process in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Waits until `written` stops moving (the writer is blocked on a full pipe), up to 30 s.
fn wait_until_stalled(written: &AtomicUsize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = (written.load(Ordering::SeqCst), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = written.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(500) {
            return now;
        }
        assert!(Instant::now() < deadline, "the writer never stalled ({now} written)");
    }
}

#[test]
fn a_host_that_does_not_read_is_pushed_back_and_serve_stays_within_its_memory_budget() {
    let (_d, store) = temp_store();
    let mut s = Sidecar::start_with(
        &store,
        Options {
            log: "warn",
            read_stdout: false,
            ..Options::default()
        },
    );
    let pid = s.child.id();
    let mut stdin = s.take_stdin();
    let stdout = s.take_stdout();
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let writer = std::thread::spawn(move || {
        let mut chunk = String::new();
        for start in (0..REQUESTS).step_by(1000) {
            chunk.clear();
            for id in start..start + 1000 {
                chunk.push_str(&format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"status\"}}\n"));
            }
            stdin.write_all(chunk.as_bytes()).unwrap();
            counter.fetch_add(1000, Ordering::SeqCst);
        }
        stdin // kept open until every answer is read
    });

    let stalled_at = wait_until_stalled(&written);
    assert!(
        stalled_at < REQUESTS / 10,
        "the pipe did not push back: {stalled_at} written"
    );
    let (rss, hwm) = memory_kib(pid);
    eprintln!("blocked after {stalled_at} requests: VmRSS {rss} KiB, VmHWM {hwm} KiB");
    assert!(hwm < BUDGET_KIB, "VmHWM {hwm} KiB over the budget");

    let mut seen = vec![false; REQUESTS];
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(240);
    for _ in 0..REQUESTS {
        assert!(Instant::now() < deadline, "answers too slow");
        let line = lines.next().expect("an answer").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(v.get("result").is_some(), "{line}");
        let id = v["id"].as_u64().unwrap() as usize;
        assert!(!seen[id], "id {id} answered twice");
        seen[id] = true;
    }
    assert!(seen.iter().all(|s| *s), "every id answered");
    let stdin = writer.join().unwrap();
    let (rss, hwm) = memory_kib(pid);
    eprintln!("after reading all: VmRSS {rss} KiB, VmHWM {hwm} KiB");
    assert!(rss < BUDGET_KIB && hwm < BUDGET_KIB, "VmRSS {rss} KiB, VmHWM {hwm} KiB");
    drop(stdin);
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
}
