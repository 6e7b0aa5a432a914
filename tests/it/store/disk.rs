//! A store on a full or read-only disk (a small tmpfs, or an ext4 image that turns read-only
//! under the running sidecar, mounted for the test; needs root, as CI runs): mutations get a
//! clear -32005, the hot path keeps answering from memory, nothing acknowledged is lost or
//! corrupted, and writing works again once the disk does.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
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

/// `serve` on `store`, logging warnings and errors only (a failing disk is expected here).
fn serve(store: &Path) -> Sidecar {
    Sidecar::start_with(
        store,
        Options {
            log: "warn",
            ..Options::default()
        },
    )
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
    let mut s = serve(&store);
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
    let mut s = serve(&store);
    s.save_api("p", "a", "sk-test-a-FAKE");
    s.save_api("p", "b", "sk-test-b-FAKE");
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
    let before = std::fs::read(&store).unwrap();
    mount.remount("ro");
    let mut s = serve(&store);
    assert_eq!(
        s.call("accounts.list", json!({})).as_array().unwrap().len(),
        2,
        "read from the store"
    );
    let e = s.call_err("accounts.rename", json!({"providerID": "p", "from": "a", "to": "c"}));
    assert_eq!(e["code"], -32005, "{e}");
    assert!(e["message"].as_str().unwrap().contains("read-only"), "{e}");
    hot_path_still_answers(&mut s);
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
    mount.remount("rw");
    assert_eq!(std::fs::read(&store).unwrap(), before, "nothing was written");
    let conn = rusqlite::Connection::open(&store).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn a_store_closed_cleanly_then_found_on_a_read_only_disk_is_still_served_from_memory() {
    let Some((_dir, mount)) = mounted() else { return };
    let store = mount.0.join("balancer.sqlite");
    let mut s = Sidecar::start(&store);
    s.save_api("p", "a", "sk-test-a-FAKE");
    s.save_api("p", "b", "sk-test-b-FAKE");
    assert_eq!(s.finish().0, Some(0));
    // Closed cleanly (as the sqlite3 shell or a backup tool leaves it): the last connection
    // removes the -wal and -shm files, and on a read-only disk SQLite cannot make the -shm file
    // it needs to read a WAL store.
    let conn = rusqlite::Connection::open(&store).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    drop(conn);
    let wal_files = |suffix: &str| mount.0.join(format!("balancer.sqlite{suffix}")).exists();
    assert!(!wal_files("-shm") && !wal_files("-wal"), "closed cleanly");
    mount.remount("ro");
    let mut s = serve(&store);
    assert_eq!(s.call("accounts.list", json!({})).as_array().unwrap().len(), 2);
    let e = s.call_err("accounts.rename", json!({"providerID": "p", "from": "a", "to": "c"}));
    assert_eq!(e["code"], -32005, "{e}");
    assert!(e["message"].as_str().unwrap().contains("read-only"), "{e}");
    hot_path_still_answers(&mut s);
    let (code, _, _, log) = s.finish();
    assert_eq!(code, Some(0));
    assert!(log.contains("read-only disk"), "it says so: {log}");
}

/// An ext4 filesystem in an image file, loop-mounted with `errors=remount-ro` (needs root, as
/// CI runs). The kernel can be told that it hit an error on it (`trigger_fs_error`), and then
/// turns it read-only under every open file, as it does when the disk underneath fails; a plain
/// `mount -o remount,ro` is refused (busy) while SQLite holds its files open for writing.
struct Ext4 {
    image: PathBuf,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Ext4 {
    /// A fresh 32 MiB ext4, mounted on a new folder; `None` when this process may not mount.
    fn mounted() -> Option<Ext4> {
        if !is_root() {
            eprintln!("skipped: mounting a loop device needs root");
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let image = tmp.path().join("disk.img");
        let dir = tmp.path().join("mnt");
        std::fs::create_dir(&dir).unwrap();
        std::fs::File::create(&image).unwrap().set_len(32 << 20).unwrap();
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image));
        let fs = Ext4 { image, dir, _tmp: tmp };
        fs.mount();
        Some(fs)
    }

    fn mount(&self) {
        // `loop` frees the loop device again at the unmount.
        run(Command::new("mount")
            .args(["-o", "loop,errors=remount-ro"])
            .arg(&self.image)
            .arg(&self.dir));
    }

    /// The kernel meets an error on the filesystem and remounts it read-only, writers open or not.
    fn fail(&self) {
        let out = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let source = String::from_utf8(out.stdout).unwrap();
        let device = Path::new(source.trim()).file_name().expect("a loop device").to_owned();
        let trigger = Path::new("/sys/fs/ext4").join(device).join("trigger_fs_error");
        std::fs::write(&trigger, "1").unwrap_or_else(|e| panic!("{}: {e}", trigger.display()));
        let e = std::fs::File::create(self.dir.join("probe")).expect_err("the filesystem is read-only now");
        assert_eq!(e.kind(), std::io::ErrorKind::ReadOnlyFilesystem, "{e}");
    }

    /// What an administrator does next (ext4 refuses `remount,rw` after an error): unmount, repair,
    /// mount again.
    fn repair(&self) {
        run(Command::new("umount").arg(&self.dir));
        let out = Command::new("e2fsck").arg("-fy").arg(&self.image).output().unwrap();
        // 0: clean; 1: errors corrected (at least the one the kernel recorded).
        assert!(matches!(out.status.code(), Some(0 | 1)), "e2fsck: {out:?}");
        self.mount();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

/// The aliases the acknowledged changes of `serve_until_the_disk_fails` leave, in list order.
const ACKNOWLEDGED: [&str; 5] = ["a", "b", "d", "e", "off"];

/// `serve` on a store on `fs`, some acknowledged changes, then the disk turns read-only under it.
fn serve_until_the_disk_fails(fs: &Ext4) -> (Sidecar, PathBuf) {
    let store = fs.dir.join("balancer.sqlite");
    let mut s = serve(&store);
    for alias in ["a", "b", "c", "d", "off"] {
        s.save_api("p", alias, &format!("sk-test-{alias}-FAKE"));
    }
    s.call("accounts.rename", json!({"providerID": "p", "from": "c", "to": "e"}));
    s.call(
        "accounts.setDisabled",
        json!({"providerID": "p", "alias": "off", "disabled": true}),
    );
    fs.fail();
    (s, store)
}

fn aliases(list: &serde_json::Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["alias"].as_str().unwrap())
        .collect()
}

#[test]
fn a_disk_turning_read_only_under_serve_gets_changes_refused_clearly_and_the_hot_path_answering() {
    let Some(fs) = Ext4::mounted() else { return };
    let (mut s, _store) = serve_until_the_disk_fails(&fs);
    let e = s.call_err("accounts.rename", json!({"providerID": "p", "from": "a", "to": "z"}));
    assert_eq!(e["code"], -32005, "{e}");
    hot_path_still_answers(&mut s);
    assert_eq!(
        aliases(&s.call("accounts.list", json!({}))),
        ACKNOWLEDGED,
        "answered from memory, the refused rename not in it"
    );
    // Several bookkeeping flushes fail meanwhile; nothing of that reaches the host.
    std::thread::sleep(std::time::Duration::from_millis(300));
    hot_path_still_answers(&mut s);
    let again = s.call_err(
        "accounts.save",
        json!({"providerID": "p", "alias": "x", "auth": {"type": "api", "key": "sk-test-x-FAKE"}}),
    );
    assert_eq!(again["code"], -32005, "{again}");
    let (code, _, _, log) = s.finish();
    assert_eq!(code, Some(0));
    let warned = log.matches("could not write runtime bookkeeping").count();
    assert_eq!(
        warned, 1,
        "a failing flush every 50 ms is logged once, not {warned} times:\n{log}"
    );
    // Checked last, so that everything above holds whatever the wording.
    for e in [e, again] {
        let message = e["message"].as_str().unwrap().to_lowercase();
        assert!(
            message.contains("read-only") || message.contains("readonly"),
            "the refusal names the read-only disk: {e}"
        );
    }
}

#[test]
fn a_disk_turning_read_only_under_serve_loses_no_acknowledged_change() {
    let Some(fs) = Ext4::mounted() else { return };
    let (mut s, store) = serve_until_the_disk_fails(&fs);
    hot_path_still_answers(&mut s);
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
    fs.repair();
    let conn = rusqlite::Connection::open(&store).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    drop(conn);
    let mut s = serve(&store);
    let list = s.call("accounts.list", json!({}));
    assert_eq!(
        aliases(&list),
        ACKNOWLEDGED,
        "every acknowledged change is on disk: {list}"
    );
    assert_eq!(list[4]["disabled"], true, "{list}");
    s.save_api("p", "after", "sk-test-after-FAKE");
    let (code, _, _, _) = s.finish();
    assert_eq!(code, Some(0));
    assert!(cli_ok(&store, &["accounts", "list"], None).contains("after"));
}
