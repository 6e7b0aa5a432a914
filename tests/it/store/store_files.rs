//! The store's files with the real binary: what is refused before anything is touched, who may
//! read the files, and that a removed or replaced credential leaves the disk.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::json;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Bytes, mode, owner and mtime of a file, and whether a -wal or -shm exists beside it.
fn state(path: &Path) -> (Vec<u8>, u32, u32, i64, i64, bool) {
    let m = fs::metadata(path).unwrap();
    let side = companions(path).iter().any(|p| p.exists());
    (
        fs::read(path).unwrap(),
        m.mode(),
        m.uid(),
        m.mtime(),
        m.mtime_nsec(),
        side,
    )
}

fn companions(path: &Path) -> [PathBuf; 2] {
    let with = |s: &str| PathBuf::from(format!("{}{s}", path.display()));
    [with("-wal"), with("-shm")]
}

/// Runs the CLI and the sidecar on `store`, both of which must refuse it naming `why`, and
/// checks that the file behind `target` did not change at all.
fn refused_untouched(store: &Path, target: &Path, why: &str) {
    let before = state(target);
    let out = cli(store, &["accounts", "list"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(why), "{err}");
    let mut s = Sidecar::start(store);
    let e = s.call_err("accounts.list", json!({}));
    assert!(e.to_string().contains(why), "{e}");
    drop(s);
    assert!(before == state(target), "the refused file changed");
}

fn sqlite_file(path: &Path, setup: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(setup).unwrap();
    drop(conn);
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_without_a_change_even_through_a_symlink() {
    let (_d, store) = temp_store();
    fs::write(&store, "notes, not a database\n".repeat(20)).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o644)).unwrap();
    refused_untouched(&store, &store, "not a SQLite database");
    let link = store.with_file_name("link.sqlite");
    std::os::unix::fs::symlink(&store, &link).unwrap();
    refused_untouched(&link, &store, "not a SQLite database");
}

#[test]
fn another_applications_sqlite_file_is_refused_without_a_change() {
    let (_d, store) = temp_store();
    sqlite_file(&store, "CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT);");
    refused_untouched(&store, &store, "not a balancer store");
    let other = store.with_file_name("other.sqlite");
    sqlite_file(&other, "PRAGMA application_id = 1234; CREATE TABLE accounts (x);");
    refused_untouched(&other, &other, "another application's database");
}

#[test]
fn a_store_with_a_newer_schema_is_refused_before_wal_or_chmod() {
    let (_d, store) = temp_store();
    drop(cli_ok(&store, &["accounts", "list"], None));
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    fs::set_permissions(&store, fs::Permissions::from_mode(0o640)).unwrap();
    refused_untouched(&store, &store, "newer than this binary supports");
}

#[test]
fn a_store_another_user_owns_is_refused_without_a_change() {
    if !is_root() {
        eprintln!("skipped: needs root to create a file as another user");
        return;
    }
    let (_d, store) = temp_store();
    drop(cli_ok(&store, &["accounts", "list"], None));
    std::os::unix::fs::chown(&store, Some(65534), Some(65534)).unwrap();
    refused_untouched(&store, &store, "owned by another user");
}

#[test]
fn existing_readable_wal_and_shm_files_are_made_private_and_doctor_checks_all_three() {
    let (_d, store) = temp_store();
    drop(cli_ok(&store, &["accounts", "list"], None));
    for file in companions(&store) {
        fs::write(&file, b"").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "work", "sk-test-private-wal-FAKE");
    for file in std::iter::once(store.clone()).chain(companions(&store)) {
        let mode = fs::metadata(&file).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    let [wal, _] = companions(&store);
    fs::set_permissions(&wal, fs::Permissions::from_mode(0o644)).unwrap();
    let out = cli(&store, &["doctor"], None);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains(&format!("{} has mode 644", wal.display())), "{text}");
    drop(s);
}

/// No 12-character piece of `key` is in the store's files.
fn assert_gone(store: &Path, key: &str) {
    let mut files = vec![store.to_path_buf()];
    files.extend(companions(store));
    for file in files.iter().filter(|f| f.exists()) {
        let bytes = fs::read(file).unwrap();
        for piece in key.as_bytes().windows(12) {
            assert!(
                !bytes.windows(12).any(|w| w == piece),
                "{} still holds a piece of the removed key",
                file.display()
            );
        }
    }
}

#[test]
fn a_removed_or_replaced_key_is_not_on_the_disk_after_the_process_exits() {
    let (_d, store) = temp_store();
    let (removed, rotated) = ("sk-test-removed-key-FAKE-0001", "sk-test-rotated-key-FAKE-0002");
    let mut s = Sidecar::start(&store);
    s.save_api("openai", "gone", removed);
    s.save_api("openai", "work", rotated);
    s.call("accounts.remove", json!({"providerID": "openai", "alias": "gone"}));
    s.call(
        "accounts.save",
        json!({"providerID": "openai", "alias": "work", "replace": true,
               "auth": {"type": "api", "key": "sk-test-replacement-FAKE-0003"}}),
    );
    s.finish();
    assert_gone(&store, removed);
    assert_gone(&store, rotated);
}

#[test]
fn a_dismissed_pending_login_is_not_on_the_disk_after_the_process_exits() {
    let (_d, store) = temp_store();
    let key = "sk-test-dismissed-login-FAKE-0004";
    let mut s = Sidecar::start(&store);
    s.call("settings.set", json!({"key": "autoSave", "value": false}));
    let auth = auth_file(&store);
    fs::create_dir_all(auth.parent().unwrap()).unwrap();
    let tmp = auth.with_extension("tmp");
    fs::write(&tmp, json!({"anthropic": {"type": "api", "key": key}}).to_string()).unwrap();
    fs::rename(&tmp, &auth).unwrap();
    let e = s.wait_notification(|n| n["params"]["type"] == "pending_connection_captured");
    let id = e["params"]["metadata"]["id"].as_str().unwrap().to_string();
    assert_eq!(s.call("pending.dismiss", json!({"id": id})), json!({"dismissed": true}));
    fs::remove_file(&auth).unwrap();
    s.finish();
    assert_gone(&store, key);
}

/// `status` on `store` exits non-zero naming the path and `why`, and the file keeps its bytes,
/// mode and mtime, with no -wal or -shm appearing beside it.
fn status_refuses_untouched(store: &Path, why: &str) {
    let before = state(store);
    let out = cli(store, &["status"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&store.display().to_string()) && err.contains(why), "{err}");
    assert!(before == state(store), "the refused file changed");
}

#[test]
fn a_file_whose_tables_are_only_named_like_a_stores_is_refused_unchanged() {
    let (dir, _) = temp_store();
    let cases = [
        (
            "settings.db",
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);",
        ),
        (
            "both.db",
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE settings (key, value);",
        ),
        (
            "accounts.db",
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);",
        ),
        ("empty-versioned.db", "PRAGMA user_version = 2;"),
        (
            "versioned.db",
            "PRAGMA user_version = 99; CREATE TABLE settings (key, value);",
        ),
    ];
    for (name, sql) in cases {
        let path = dir.path().join(name);
        sqlite_file(&path, sql);
        status_refuses_untouched(&path, "not a balancer store");
    }
}

#[test]
fn another_programs_tables_still_only_in_its_wal_are_seen_and_refused() {
    let (_d, store) = temp_store();
    let writer = rusqlite::Connection::open(&store).unwrap();
    writer.pragma_update(None, "journal_mode", "WAL").unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .execute_batch("CREATE TABLE settings (key, value); INSERT INTO settings VALUES ('a', 1);")
        .unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o644)).unwrap();
    let (bytes, mode) = (fs::read(&store).unwrap(), fs::metadata(&store).unwrap().mode());
    let out = cli(&store, &["status"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no table `accounts`"), "{err}");
    assert_eq!(
        (bytes, mode),
        (fs::read(&store).unwrap(), fs::metadata(&store).unwrap().mode())
    );
    // The same files without the -shm: reading the -wal would create one, so it is refused.
    let copy = store.with_file_name("copy.sqlite");
    fs::copy(&store, &copy).unwrap();
    fs::copy(&companions(&store)[0], &companions(&copy)[0]).unwrap();
    let out = cli(&copy, &["status"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cannot be read without creating"),
        "{err}"
    );
    assert!(!companions(&copy)[1].exists(), "a -shm was created");
    let mode: String = writer.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    assert!(
        writer
            .query_row("PRAGMA application_id", [], |r| r.get::<_, i32>(0))
            .unwrap()
            == 0
    );
}

/// Builds the store an earlier version of this project left (in WAL mode, as it ran them; the
/// predecessor's, version 0, in its own rollback mode), with one API account in it.
fn older_store(path: &Path, version: i64) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    if version > 0 {
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    }
    opencode_balancer::store::migrations::migrate_to(&mut conn, version).unwrap();
    conn.execute(
        "INSERT INTO accounts (provider_id, alias, auth_json, auth_type, created_at, updated_at)
         VALUES ('openai', 'kept', '{\"type\":\"api\",\"key\":\"sk-test-older-store-FAKE\"}', 'api', 1, 1)",
        [],
    )
    .unwrap();
    drop(conn);
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

fn header(path: &Path) -> (i64, i32) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    (
        version,
        conn.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap(),
    )
}

/// `status` on `store` succeeds and leaves it stamped at the latest schema version.
fn status_adopts(store: &Path) {
    drop(cli_ok(store, &["status"], None));
    let latest = opencode_balancer::store::migrations::LATEST;
    let stamp = opencode_balancer::store::guard::APPLICATION_ID;
    assert_eq!(header(store), (latest, stamp), "{}", store.display());
}

#[test]
fn a_store_of_every_earlier_version_is_adopted_and_migrated_with_its_rows() {
    let (dir, _) = temp_store();
    let latest = opencode_balancer::store::migrations::LATEST;
    for version in 0..latest {
        let path = dir.path().join(format!("v{version}.sqlite"));
        older_store(&path, version);
        status_adopts(&path);
        let list = cli_ok(&path, &["accounts", "list"], None);
        assert!(list.contains("kept"), "from version {version}: {list}");
    }
}

#[test]
fn the_predecessors_store_is_adopted_in_place() {
    let (_d, store) = temp_store();
    sqlite_file(&store, include_str!("../../../fixtures/predecessor-schema.sql"));
    let list = cli_ok(&store, &["accounts", "list"], None);
    assert!(list.contains("work") && list.contains("personal"), "{list}");
    assert_eq!(header(&store).0, opencode_balancer::store::migrations::LATEST);
    assert_eq!(fs::metadata(&store).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn a_file_stamped_with_the_stores_application_id_is_adopted() {
    let (_d, store) = temp_store();
    let stamp = opencode_balancer::store::guard::APPLICATION_ID;
    sqlite_file(&store, &format!("PRAGMA application_id = {stamp};"));
    status_adopts(&store);
}

/// A SQLite file with no table, no `user_version` and no stamp is what the store's own creation
/// leaves between its switch to WAL and its one commit (a second process opening it then, or a
/// start after a crash there, must go on); it holds no row, so nothing is lost by adopting it.
#[test]
fn a_sqlite_file_with_no_table_and_no_stamp_becomes_a_new_store() {
    let (_d, store) = temp_store();
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    drop(conn);
    assert!(fs::metadata(&store).unwrap().len() > 0);
    status_adopts(&store);
}

/// Version 6 cannot create its index where a view has the name; versions 2–5 used to be
/// committed one by one before that, leaving the store half-migrated at version 5.
#[test]
fn a_migration_failing_part_way_leaves_the_store_file_as_it_was() {
    let (_d, store) = temp_store();
    older_store(&store, 1);
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.execute_batch("CREATE VIEW provider_priority_position AS SELECT 1")
        .unwrap();
    drop(conn);
    let before = state(&store);
    let out = cli(&store, &["status"], None);
    assert!(!out.status.success());
    assert!(before == state(&store), "the store changed");
    assert_eq!(header(&store), (1, 0));
}
