//! Store tests: migrations from empty and from the predecessor's schema, corrupt files, modes,
//! account and priority operations.

use std::os::unix::fs::PermissionsExt;

use rusqlite::Connection;

use super::*;
use crate::model::Auth;

fn api(key: &str) -> Auth {
    Auth::Api {
        key: key.into(),
        metadata: None,
    }
}

#[test]
fn migrates_an_empty_database_to_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let snap = store.load_snapshot(None).unwrap();
    assert!(snap.accounts.is_empty());
    assert_eq!(snap.settings, crate::model::Settings::default());
}

/// A store as opencode-balancer 0.2.x left it: its tables, user_version 0, rows in each.
fn predecessor_fixture(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(include_str!("../../fixtures/predecessor-schema.sql"))
        .unwrap();
}

#[test]
fn migrates_a_predecessor_store_without_losing_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    predecessor_fixture(&path);
    let tables = [
        "accounts",
        "provider_state",
        "pending_connections",
        "usage_snapshots",
        "events",
        "provider_priority",
        "settings",
    ];
    let before: Vec<i64> = {
        let c = Connection::open(&path).unwrap();
        tables
            .iter()
            .map(|t| {
                c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                    .unwrap()
            })
            .collect()
    };
    assert!(
        before.iter().all(|n| *n > 0),
        "the fixture has rows in every table: {before:?}"
    );

    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), migrations::LATEST);
    let after: Vec<i64> = tables
        .iter()
        .map(|t| {
            store
                .conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        })
        .collect();
    assert_eq!(before, after);

    let snap = store.load_snapshot(None).unwrap();
    let aliases: Vec<_> = snap
        .accounts
        .iter()
        .map(|a| format!("{}/{}", a.provider_id, a.alias))
        .collect();
    assert_eq!(aliases, ["openai/personal", "openai/work"]);
    let work = &snap.accounts[1];
    assert_eq!(work.cooldown_until, Some(1_900_000_000_000));
    assert_eq!(work.failures, 2);
    assert_eq!(snap.active.get("openai").map(String::as_str), Some("work"));
    assert!(
        snap.settings.balancing,
        "the predecessor's balancing switch carries over"
    );
    assert_eq!(snap.priority[0].model_id.as_deref(), Some("gpt-5"));
    assert_eq!(store.list_events(10, None).unwrap().len(), 1);
    // Opening again changes nothing.
    drop(store);
    let again = Store::open(&path).unwrap();
    assert_eq!(again.load_snapshot(None).unwrap().accounts.len(), 2);
}

#[test]
fn a_corrupt_file_is_reported_with_its_path_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    let garbage = b"this is not a database, just some bytes that a crash left behind".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path).err().expect("a corrupt store must not open");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    assert!(!dir.path().join("balancer.sqlite-wal").exists());
}

#[test]
fn a_directory_in_place_of_the_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path()).err().unwrap().to_string();
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn the_file_is_private_and_a_new_folder_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/balancer.sqlite");
    let _store = Store::open(&path).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("new/balancer.sqlite-wal")), 0o600);
}

#[test]
fn save_rename_remove_keep_one_active_account() {
    let mut s = Store::open_in_memory().unwrap();
    assert!(s.save_account("openai", "a", &api("k1"), 1).unwrap().created);
    assert!(s.save_account("openai", "b", &api("k2"), 2).unwrap().created);
    assert!(!s.save_account("openai", "b", &api("k2b"), 3).unwrap().created);
    assert!(
        matches!(s.save_account("openai", "c", &api("k1"), 4), Err(StoreError::Exists { alias, .. }) if alias == "a")
    );
    s.rename_account("openai", "b", "main", 5).unwrap();
    assert!(matches!(
        s.rename_account("openai", "main", "a", 6),
        Err(StoreError::Exists { .. })
    ));
    assert!(matches!(
        s.rename_account("openai", "zzz", "q", 6),
        Err(StoreError::NotFound { .. })
    ));
    let snap = s.load_snapshot(None).unwrap();
    assert_eq!(snap.active["openai"], "main");
    assert!(s.remove_account("openai", "main").unwrap());
    assert!(!s.remove_account("openai", "main").unwrap());
    assert_eq!(s.load_snapshot(None).unwrap().active["openai"], "a");
}

#[test]
fn runtime_patches_touch_only_the_fields_they_name() {
    let mut s = Store::open_in_memory().unwrap();
    s.save_account("p", "a", &api("k"), 1).unwrap();
    s.apply_runtime(
        &[RuntimePatch {
            provider_id: "p".into(),
            alias: "a".into(),
            cooldown: Some((Some(99), Some("quota".into()))),
            ..Default::default()
        }],
        &[],
    )
    .unwrap();
    s.apply_runtime(
        &[RuntimePatch {
            provider_id: "p".into(),
            alias: "a".into(),
            last_used_at: Some(7),
            ..Default::default()
        }],
        &[],
    )
    .unwrap();
    let a = &s.load_snapshot(None).unwrap().accounts[0];
    assert_eq!(
        (a.cooldown_until, a.cooldown_reason.as_deref(), a.last_used_at),
        (Some(99), Some("quota"), Some(7))
    );
}

#[test]
fn priority_moves_and_refuses_unknown_providers() {
    let mut s = Store::open_in_memory().unwrap();
    for p in ["a", "b", "c"] {
        s.save_account(p, "x", &api(&format!("k-{p}")), 1).unwrap();
    }
    assert!(s.move_priority("c", -1).unwrap());
    assert!(!s.move_priority("a", -1).unwrap());
    let order: Vec<_> = s.list_priority().unwrap().into_iter().map(|e| e.provider_id).collect();
    assert_eq!(order, ["a", "c", "b"]);
    assert!(matches!(
        s.set_priority_enabled("zzz", false),
        Err(StoreError::Invalid(_))
    ));
}
