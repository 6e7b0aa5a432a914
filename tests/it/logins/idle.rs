//! Idle means idle: a `serve` whose opencode has an auth.json never reads it while nothing
//! changes (issue 28: it used to wake on its own reads and read it ~190 times a second), reads by
//! others do not wake it, and a login written after a while of idleness is still captured.

use std::fs;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use crate::common::*;
use notify::event::{AccessKind, EventKind};
use notify::{RecursiveMode, Watcher};
use serde_json::{json, Value};

fn api(key: &str) -> Value {
    json!({"type": "api", "key": key})
}

fn write_atomic(path: &Path, content: &Value) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, content.to_string()).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn saved(s: &mut Sidecar, provider: &str) {
    s.wait_notification(|n| n["params"]["type"] == "account_saved" && n["params"]["providerID"] == provider);
}

/// A sidecar started on an auth.json of two logins, once it has captured both.
fn settled(store: &Path) -> Sidecar {
    let file = auth_file(store);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    write_atomic(
        &file,
        &json!({"groq": api("sk-test-idle1-FAKE"), "mistral": api("sk-test-idle2-FAKE")}),
    );
    let mut s = Sidecar::start_with(
        store,
        Options {
            log: "warn",
            ..Options::default()
        },
    );
    saved(&mut s, "groq");
    saved(&mut s, "mistral");
    s
}

/// Opens of `file` (by any process) from now on, seen through inotify. Opens not yet taken are
/// coalesced into one by the kernel, so a count is a lower bound: enough to tell none from some.
struct Opens {
    _watcher: notify::RecommendedWatcher,
    events: Receiver<notify::Event>,
}

impl Opens {
    fn of(file: &Path) -> Opens {
        let (tx, events) = channel();
        let name = file.file_name().unwrap().to_os_string();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(e) = res {
                let opened = matches!(e.kind, EventKind::Access(AccessKind::Open(_)));
                if opened && e.paths.iter().any(|p| p.file_name() == Some(&name)) {
                    let _ = tx.send(e);
                }
            }
        })
        .unwrap();
        watcher
            .watch(file.parent().unwrap(), RecursiveMode::NonRecursive)
            .unwrap();
        Opens {
            _watcher: watcher,
            events,
        }
    }

    /// Takes the next open, `None` if none comes within `wait`.
    fn next(&self, wait: Duration) -> Option<notify::Event> {
        self.events.recv_timeout(wait).ok()
    }

    /// How many opens arrive within `window` (a lower bound, see [`Opens`]).
    fn count_for(&self, window: Duration) -> usize {
        let end = Instant::now() + window;
        let mut n = 0;
        while self
            .events
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .is_ok()
        {
            n += 1;
        }
        n
    }
}

#[test]
fn serve_idling_beside_an_auth_json_never_opens_it() {
    let (_d, store) = temp_store();
    let _s = settled(&store);
    let opens = Opens::of(&auth_file(&store));
    let n = opens.count_for(Duration::from_secs(1));
    assert_eq!(n, 0, "auth.json was opened (at least) {n} times in 1 s of idleness");
}

#[test]
fn reads_of_auth_json_by_another_process_do_not_wake_serve() {
    let (_d, store) = temp_store();
    let _s = settled(&store);
    let file = auth_file(&store);
    let opens = Opens::of(&file);
    for i in 0..10 {
        fs::read(&file).unwrap();
        // Taken one by one, so that an open by serve is never folded into one of ours.
        assert!(opens.next(WAIT).is_some(), "read {i} of this test is seen");
    }
    // Many times the watcher's settle time: a read it made in answer to ours would be in here.
    let n = opens.count_for(Duration::from_millis(500));
    assert_eq!(
        n, 0,
        "serve opened auth.json (at least) {n} times after reads by another process"
    );
}

#[test]
fn logins_written_after_idling_are_captured_by_rename_by_rewrite_and_by_recreate() {
    let (_d, store) = temp_store();
    let mut s = settled(&store);
    let file = auth_file(&store);
    let opens = Opens::of(&file);
    assert_eq!(opens.count_for(Duration::from_secs(1)), 0, "idle first");
    let mut content = json!({"groq": api("sk-test-idle1-FAKE"), "mistral": api("sk-test-idle2-FAKE")});
    content["renamed"] = api("sk-test-idle3-FAKE");
    write_atomic(&file, &content);
    saved(&mut s, "renamed");
    content["rewritten"] = api("sk-test-idle4-FAKE");
    fs::write(&file, content.to_string()).unwrap();
    saved(&mut s, "rewritten");
    fs::remove_file(&file).unwrap();
    content["recreated"] = api("sk-test-idle5-FAKE");
    fs::write(&file, content.to_string()).unwrap();
    saved(&mut s, "recreated");
    let list = s.call("accounts.list", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 5, "{list}");
}

#[test]
fn serve_idling_beside_opencode_2s_database_never_opens_it_and_reads_by_others_do_not_wake_it() {
    let (_d, store) = temp_store();
    let db = data_home(&store).join("opencode").join("opencode.db");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    let value = r#"{"type":"key","key":"sk-test-idle-v2-FAKE"}"#;
    opencode_balancer::opencode2::fixture::write_credentials(&db, &[("cred_a", "mock", "alpha", value, true)]).unwrap();
    let mut s = settled(&store);
    eventually("opencode 2's credential mirrored", || {
        s.call("accounts.list", json!({"providerID": "mock"}))
            .as_array()
            .is_some_and(|l| l.len() == 1)
    });
    let opens = Opens::of(&db);
    let n = opens.count_for(Duration::from_secs(1));
    assert_eq!(n, 0, "opencode.db was opened (at least) {n} times in 1 s of idleness");
    for i in 0..10 {
        fs::read(&db).unwrap();
        assert!(opens.next(WAIT).is_some(), "read {i} of this test is seen");
    }
    let n = opens.count_for(Duration::from_millis(500));
    assert_eq!(
        n, 0,
        "serve opened opencode.db (at least) {n} times after reads by another process"
    );
}
