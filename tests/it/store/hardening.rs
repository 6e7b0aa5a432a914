//! Trying hard to break it: many processes on one store at full speed, and `kill -9` in the
//! middle of writes. Nothing acknowledged may be lost, nothing may be corrupted.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};

fn integrity(store: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

fn stored_aliases(store: &std::path::Path) -> BTreeSet<String> {
    let list: Value = serde_json::from_str(&cli_ok(store, &["accounts", "list", "--json"], None)).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["providerID"].as_str().unwrap(), a["alias"].as_str().unwrap()))
        .collect()
}

/// One process's share of the load: saves, renames, cooldowns, priority moves and settings, as
/// fast as it is answered, for `budget`. Returns the accounts it ends with.
fn hammer(s: &mut Sidecar, me: usize, budget: Duration) -> BTreeSet<String> {
    let start = Instant::now();
    let mut mine = BTreeSet::new();
    let mut i = 0;
    while start.elapsed() < budget {
        let alias = format!("s{me}-{i}");
        let provider = format!("p{}", i % 3);
        let v = s.request("accounts.save", json!({"providerID": provider, "alias": alias, "auth": {"type": "api", "key": format!("sk-test-{me}-{i}-FAKE")}}));
        assert!(v.get("result").is_some(), "save failed: {v}");
        mine.insert(format!("{provider}/{alias}"));
        if i % 3 == 1 {
            let to = format!("r{me}-{i}");
            let v = s.request(
                "accounts.rename",
                json!({"providerID": provider, "from": alias, "to": to}),
            );
            assert!(v.get("result").is_some(), "rename failed: {v}");
            mine.remove(&format!("{provider}/{alias}"));
            mine.insert(format!("{provider}/{to}"));
        }
        let h = s.call(
            "chat.headers",
            json!({"sessionID": format!("x{me}"), "providerID": provider, "modelID": "m"}),
        );
        if let Some(id) = h["requestID"].as_str() {
            s.call("fetch.begin", json!({"requestID": id, "headerNames": []}));
            let status = if i % 2 == 0 { 429 } else { 200 };
            s.call(
                "fetch.result",
                json!({"requestID": id, "attempt": 1, "status": status, "headers": {"retry-after": "1"}}),
            );
        }
        let v = s.request(
            "priority.move",
            json!({"providerID": provider, "direction": if i % 2 == 0 { 1 } else { -1 }}),
        );
        assert!(v.get("result").is_some(), "priority move failed: {v}");
        let v = s.request("settings.set", json!({"key": "maxAttempts", "value": 1 + (i % 5)}));
        assert!(v.get("result").is_some(), "setting failed: {v}");
        i += 1;
    }
    mine
}

#[test]
fn four_sidecars_and_the_cli_on_one_store_lose_nothing_and_converge() {
    let (_d, store) = temp_store();
    let budget = Duration::from_secs(3);
    let mut handles = vec![];
    for me in 0..4 {
        let store = store.clone();
        handles.push(std::thread::spawn(move || {
            let mut s = Sidecar::start_with(
                &store,
                Options {
                    log: "warn",
                    ..Options::default()
                },
            );
            let mine = hammer(&mut s, me, budget);
            (s, mine)
        }));
    }
    let cli_store = store.clone();
    let cli_thread = std::thread::spawn(move || {
        let start = Instant::now();
        let mut mine = BTreeSet::new();
        let mut i = 0;
        while start.elapsed() < budget {
            let out = cli(
                &cli_store,
                &["accounts", "add", "cli", &format!("c{i}"), "--force"],
                Some(&format!("sk-test-cli-{i}-FAKE")),
            );
            assert!(out.status.success(), "cli: {}", String::from_utf8_lossy(&out.stderr));
            mine.insert(format!("cli/c{i}"));
            i += 1;
        }
        mine
    });
    let mut expected = cli_thread.join().unwrap();
    let mut sidecars = vec![];
    for h in handles {
        let (s, mine) = h.join().unwrap();
        expected.extend(mine);
        sidecars.push(s);
    }
    assert_eq!(stored_aliases(&store), expected, "no lost update");
    // Every process answers from a view that has caught up with the store (reads sync first).
    let deadline = Instant::now() + Duration::from_secs(1);
    for s in &mut sidecars {
        loop {
            let st = s.call("status", json!({}));
            if st["accounts"] == expected.len() {
                break;
            }
            assert!(Instant::now() < deadline, "a sidecar did not converge: {st}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(integrity(&store), "ok");
    for s in sidecars {
        let (code, _, _, stderr) = s.finish();
        assert_eq!(code, Some(0));
        assert!(!stderr.contains("database is locked"), "{stderr}");
    }
}

#[test]
fn kill_nine_during_writes_fifty_times_keeps_every_acknowledged_save() {
    let (_d, store) = temp_store();
    let mut acknowledged = BTreeSet::new();
    for round in 0..50 {
        let mut s = Sidecar::start_with(
            &store,
            Options {
                log: "warn",
                ..Options::default()
            },
        );
        let mut lines = String::new();
        for i in 0..40 {
            let msg = json!({"jsonrpc": "2.0", "id": i, "method": "accounts.save",
                "params": {"providerID": "k", "alias": format!("r{round}-{i}"), "auth": {"type": "api", "key": format!("sk-test-{round}-{i}-FAKE")}}});
            lines.push_str(&format!("{msg}\n"));
        }
        s.send_raw(lines.as_bytes());
        // Read a varying number of acknowledgements, then kill without warning mid-stream.
        for _ in 0..(round % 7) * 5 {
            let r = s.next_reply();
            if r.get("result").is_some() {
                acknowledged.insert(format!("k/{}", r["result"]["alias"].as_str().unwrap()));
            }
        }
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        assert_eq!(integrity(&store), "ok", "round {round}");
    }
    let stored = stored_aliases(&store);
    let missing: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
}
