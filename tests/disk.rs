//! A store on a full or read-only disk (a small tmpfs mounted for the test; needs root, as CI
//! runs): mutations get a clear -32005, the hot path keeps answering from memory, nothing is
//! corrupted, and writing works again once the disk does.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::json;

struct Mount(PathBuf);

impl Mount {
    /// A 2 MiB tmpfs, or `None` when this process may not mount (not root).
    fn tmpfs() -> Option<(tempfile::TempDir, Mount)> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?
            .success();
        ok.then(|| {
            let m = Mount(dir.path().to_path_buf());
            (dir, m)
        })
    }

    fn remount(&self, mode: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn mounted() -> Option<(tempfile::TempDir, Mount)> {
    let m = Mount::tmpfs();
    if m.is_none() {
        assert!(!is_root(), "root must be able to mount a tmpfs for this test");
        eprintln!("skipped: mounting a tmpfs needs root");
    }
    m
}

fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    use std::io::Write;
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    filler
}

fn hot_path_still_answers(s: &mut Sidecar) {
    let id = s.call(
        "chat.headers",
        json!({"sessionID": "s", "providerID": "p", "modelID": "m"}),
    )["requestID"]
        .clone();
    assert!(id.is_string());
    let r = s.call("fetch.begin", json!({"requestID": id, "headerNames": []}));
    assert!(r["setHeaders"]["authorization"].is_string());
    assert_eq!(
        s.call(
            "fetch.result",
            json!({"requestID": id, "attempt": 1, "status": 429, "headers": {}})
        )["action"],
        "retry"
    );
}

#[test]
fn a_full_disk_refuses_mutations_clearly_and_the_hot_path_keeps_answering() {
    let Some((_dir, mount)) = mounted() else { return };
    let store = mount.0.join("balancer.sqlite");
    let mut s = Sidecar::start_with(
        &store,
        Options {
            log: "warn",
            ..Options::default()
        },
    );
    s.save_api("p", "a", "sk-test-a-FAKE");
    s.save_api("p", "b", "sk-test-b-FAKE");
    let filler = fill(&mount.0);
    let mut refused = None;
    for i in 0..200 {
        let r = s.request("accounts.save", json!({"providerID": "p", "alias": format!("x{i}"), "auth": {"type": "api", "key": format!("sk-test-{i}-{}-FAKE", "z".repeat(4000))}}));
        if let Some(e) = r.get("error") {
            refused = Some(e.clone());
            break;
        }
    }
    let e = refused.expect("a full disk refuses a write");
    assert_eq!(e["code"], -32005, "{e}");
    assert!(e["message"].as_str().unwrap().contains("full"), "{e}");
    hot_path_still_answers(&mut s);
    std::fs::remove_file(filler).unwrap();
    s.save_api("p", "after", "sk-test-after-FAKE");
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
    let conn = rusqlite::Connection::open(&store).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    assert!(cli_ok(&store, &["accounts", "list"], None).contains("after"));
}

#[test]
fn a_store_on_a_read_only_disk_serves_from_memory_and_refuses_changes_clearly() {
    let Some((_dir, mount)) = mounted() else { return };
    let store = mount.0.join("balancer.sqlite");
    let mut s = Sidecar::start_with(
        &store,
        Options {
            log: "warn",
            ..Options::default()
        },
    );
    s.save_api("p", "a", "sk-test-a-FAKE");
    s.save_api("p", "b", "sk-test-b-FAKE");
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
    let before = std::fs::read(&store).unwrap();
    mount.remount("ro");
    let mut s = Sidecar::start_with(
        &store,
        Options {
            log: "warn",
            ..Options::default()
        },
    );
    assert_eq!(
        s.call("accounts.list", json!({})).as_array().unwrap().len(),
        2,
        "read from the store"
    );
    let e = s.call_err("accounts.rename", json!({"providerID": "p", "from": "a", "to": "c"}));
    assert_eq!(e["code"], -32005, "{e}");
    assert!(e["message"].as_str().unwrap().contains("readonly"), "{e}");
    hot_path_still_answers(&mut s);
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
    mount.remount("rw");
    assert_eq!(std::fs::read(&store).unwrap(), before, "nothing was written");
    let conn = rusqlite::Connection::open(&store).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}
