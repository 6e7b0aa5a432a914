//! Store tests: migrations from empty and from the predecessor's schema, corrupt files, modes,
//! account and priority operations.

use std::os::unix::fs::PermissionsExt;

use rusqlite::Connection;

use super::*;
use crate::model::{Account, Auth, CooldownReason, PriorityDirection};

fn api(key: &str) -> Auth {
    Auth::test_api(key)
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
fn a_renamed_account_keeps_its_usage_reading_under_the_new_alias() {
    let mut s = Store::open_in_memory().unwrap();
    s.save_account("openai", "old", &api("k1"), 1).unwrap();
    let reading: crate::model::UsageSnapshot = serde_json::from_value(serde_json::json!({
        "providerID": "openai", "alias": "old", "fetchedAt": 5, "confidence": "exact",
        "usedPercent": 42.0, "message": "42% used"
    }))
    .unwrap();
    s.save_usage(&reading, None).unwrap();
    s.rename_account("openai", "old", "new", 6).unwrap();
    let usage = s.load_usage(None).unwrap();
    assert_eq!((usage.len(), usage[0].alias.as_str()), (1, "new"));
    let snap = s.load_snapshot(None).unwrap();
    assert_eq!(snap.accounts[0].usage.as_ref().unwrap().used_percent, Some(42.0));
}

#[test]
fn runtime_patches_touch_only_the_fields_they_name() {
    let mut s = Store::open_in_memory().unwrap();
    s.save_account("p", "a", &api("k"), 1).unwrap();
    s.apply_runtime(
        &[RuntimePatch {
            provider_id: "p".into(),
            alias: "a".into(),
            cooldown: Some((Some(99), Some(CooldownReason::Quota))),
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
        (a.cooldown_until, a.cooldown_reason, a.last_used_at),
        (Some(99), Some(CooldownReason::Quota), Some(7))
    );
}

/// Two stores on one file, as two processes have.
fn two_processes() -> (tempfile::TempDir, Store, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    let mut a = Store::open(&path).unwrap();
    a.save_account("p", "x", &api("k-x"), 1).unwrap();
    a.save_account("p", "y", &api("k-y"), 1).unwrap();
    let b = Store::open(&path).unwrap();
    (dir, a, b)
}

fn account(s: &Store, alias: &str) -> Account {
    s.load_snapshot(None)
        .unwrap()
        .accounts
        .into_iter()
        .find(|a| a.alias == alias)
        .unwrap()
}

fn failed_once(s: &Store, alias: &str) -> RuntimePatch {
    RuntimePatch {
        cooldown: Some((Some(500), Some(CooldownReason::RateLimit))),
        failures: Some(FailureCount::ONE_MORE),
        ..RuntimePatch::for_account(&account(s, alias))
    }
}

#[test]
fn failures_seen_by_two_processes_add_up_instead_of_overwriting_each_other() {
    let (_dir, mut a, mut b) = two_processes();
    let (from_a, from_b) = (failed_once(&a, "x"), failed_once(&b, "x"));
    a.apply_runtime(&[from_a], &[]).unwrap();
    b.apply_runtime(&[from_b], &[]).unwrap();
    assert_eq!(account(&a, "x").failures, 2);
    let success = RuntimePatch {
        failures: Some(FailureCount::RESET),
        ..RuntimePatch::for_account(&account(&a, "x"))
    };
    a.apply_runtime(&[success], &[]).unwrap();
    assert_eq!(account(&b, "x").failures, 0);
}

#[test]
fn a_cooldown_observed_before_a_users_reset_is_not_written_over_it() {
    let (_dir, mut a, mut b) = two_processes();
    let observed = failed_once(&a, "x");
    b.reset_cooldown("p", "x").unwrap();
    a.apply_runtime(std::slice::from_ref(&observed), &[]).unwrap();
    let x = account(&a, "x");
    assert_eq!((x.cooldown_until, x.failures), (None, 0), "the reset stands");
    assert_eq!(x.reset_epoch, observed.epoch + 1);
    let last_use = RuntimePatch {
        last_used_at: Some(9),
        ..observed
    };
    a.apply_runtime(&[last_use], &[]).unwrap();
    assert_eq!(account(&a, "x").last_used_at, Some(9), "the last use is never refused");
    a.apply_runtime(&[failed_once(&a, "x")], &[]).unwrap();
    assert_eq!(
        account(&b, "x").cooldown_until,
        Some(500),
        "observed after the reset: written"
    );
}

#[test]
fn a_failover_chosen_before_a_users_activation_does_not_undo_it() {
    let (_dir, mut a, mut b) = two_processes();
    let epoch = a.load_snapshot(None).unwrap().active_epochs["p"];
    let failover = ActivePatch {
        provider_id: "p".into(),
        alias: "x".into(),
        epoch,
    };
    b.activate("p", "y").unwrap();
    a.apply_runtime(&[], std::slice::from_ref(&failover)).unwrap();
    assert_eq!(
        a.load_snapshot(None).unwrap().active["p"],
        "y",
        "the user's choice stands"
    );
    let now = a.load_snapshot(None).unwrap().active_epochs["p"];
    a.apply_runtime(&[], &[ActivePatch { epoch: now, ..failover }]).unwrap();
    assert_eq!(
        b.load_snapshot(None).unwrap().active["p"],
        "x",
        "chosen after it: written"
    );
}

#[test]
fn priority_moves_and_refuses_unknown_providers() {
    let mut s = Store::open_in_memory().unwrap();
    for p in ["a", "b", "c"] {
        s.save_account(p, "x", &api(&format!("k-{p}")), 1).unwrap();
    }
    assert!(s.move_priority("c", PriorityDirection::Up).unwrap());
    assert!(!s.move_priority("a", PriorityDirection::Up).unwrap());
    let order: Vec<_> = s.list_priority().unwrap().into_iter().map(|e| e.provider_id).collect();
    assert_eq!(order, ["a", "c", "b"]);
    assert!(matches!(
        s.set_priority_enabled("zzz", false),
        Err(StoreError::Invalid(_))
    ));
}

/// Every cell of the rows `sql` selects, as one text.
fn cells(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut out = String::new();
    while let Some(row) = rows.next().unwrap() {
        for i in 0..n {
            out.push_str(&format!("{:?}\n", row.get::<_, rusqlite::types::Value>(i).unwrap()));
        }
    }
    out
}

fn opaque_oauth(refresh: &str, access: &str) -> Auth {
    Auth::Oauth {
        refresh: refresh.into(),
        access: access.into(),
        expires: 1,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    }
}

/// Rows as the version before identity digests wrote them: the raw credential as identity, and
/// saved or dismissed pending connections that kept theirs.
fn write_raw_rows(
    conn: &Connection,
    accounts: &[(&str, &str, &Auth, &str)],
    pending: &[(&str, &str, &Auth, &str, &str)],
) {
    for (provider, alias, auth, identity) in accounts {
        conn.execute(
            "INSERT INTO accounts (provider_id, alias, auth_json, auth_type, identity, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, 1)",
            rusqlite::params![
                provider,
                alias,
                serde_json::to_string(auth).unwrap(),
                auth.auth_type(),
                identity
            ],
        )
        .unwrap();
    }
    for (id, provider, auth, identity, status) in pending {
        conn.execute(
            "INSERT INTO pending_connections (id, provider_id, auth_json, auth_type, source, identity, captured_at, status)
             VALUES (?1, ?2, ?3, ?4, 'auth.json', ?5, 1, ?6)",
            rusqlite::params![id, provider, serde_json::to_string(auth).unwrap(), auth.auth_type(), identity, status],
        )
        .unwrap();
    }
}

#[test]
fn a_store_with_raw_identities_is_migrated_to_digests_and_still_recognises_its_logins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    drop(Store::open(&path).unwrap());
    let (key, refresh) = ("sk-raw-identity-account-key", "rt-raw-identity-refresh");
    let (waiting, dismissed, saved) = (
        "sk-raw-identity-waiting",
        "sk-raw-identity-dismissed",
        "sk-raw-identity-saved",
    );
    {
        let conn = Connection::open(&path).unwrap();
        write_raw_rows(
            &conn,
            &[
                ("openai", "work", &api(key), &format!("api:{key}")),
                (
                    "anthropic",
                    "max",
                    &opaque_oauth(refresh, "at-1"),
                    &format!("oauth-refresh:{refresh}"),
                ),
                ("xai", "kept", &api(saved), &format!("api:{saved}")),
            ],
            &[
                ("groq-1", "groq", &api(waiting), &format!("api:{waiting}"), "pending"),
                (
                    "mistral-2",
                    "mistral",
                    &api(dismissed),
                    &format!("api:{dismissed}"),
                    "dismissed",
                ),
                ("xai-3", "xai", &api(saved), &format!("api:{saved}"), "saved"),
            ],
        );
        // As the binary before v4 (secret-free identities) left it.
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    // The migration alone (Store::open checks again after it).
    let mut conn = Connection::open(&path).unwrap();
    migrations::migrate(&mut conn).unwrap();
    let identities = cells(
        &conn,
        "SELECT identity FROM accounts UNION ALL SELECT identity FROM pending_connections",
    );
    let resolved = cells(&conn, "SELECT * FROM pending_connections WHERE status != 'pending'");
    drop(conn);

    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::LATEST);
    for secret in [key, refresh, waiting, dismissed, saved] {
        assert!(!identities.contains(secret), "{identities}");
        assert!(!resolved.contains(secret), "{resolved}");
    }
    assert_eq!(identities.matches(":sha256:").count(), 6, "{identities}");
    let kept: i64 = s
        .conn
        .query_row("SELECT count(*) FROM pending_connections", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 3, "every row is kept");
    // Each saved login is recognised: nothing new is saved, no duplicate is accepted.
    assert_eq!(
        s.capture("openai", &api(key), true, "auth.json", 2).unwrap(),
        Captured::Unchanged { alias: "work".into() }
    );
    assert_eq!(
        s.capture("anthropic", &opaque_oauth(refresh, "at-2"), true, "auth.json", 3)
            .unwrap(),
        Captured::Updated { alias: "max".into() }
    );
    assert!(
        matches!(s.save_account("openai", "again", &api(key), 4), Err(StoreError::Exists { alias, .. }) if alias == "work")
    );
    assert_eq!(
        s.capture("groq", &api(waiting), false, "auth.json", 5).unwrap(),
        Captured::AlreadyPending { id: "groq-1".into() }
    );
    assert_eq!(s.load_snapshot(None).unwrap().accounts.len(), 3);
    // The pending one still holds its credential, and can be saved.
    s.save_pending("groq-1", "main", 6).unwrap();
    assert_eq!(
        s.capture("groq", &api(waiting), false, "auth.json", 7).unwrap(),
        Captured::Unchanged { alias: "main".into() }
    );
}

#[test]
fn rows_an_older_binary_writes_after_the_migration_are_brought_up_to_date_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    drop(Store::open(&path).unwrap());
    let (late, dismissed) = ("sk-late-raw-identity", "sk-late-raw-dismissed");
    {
        let conn = Connection::open(&path).unwrap();
        write_raw_rows(
            &conn,
            &[("openai", "late", &api(late), &format!("api:{late}"))],
            &[(
                "groq-1",
                "groq",
                &api(dismissed),
                &format!("api:{dismissed}"),
                "dismissed",
            )],
        );
    }
    let mut s = Store::open(&path).unwrap();
    let rows = cells(&s.conn, "SELECT identity FROM accounts") + &cells(&s.conn, "SELECT * FROM pending_connections");
    assert!(!rows.contains(late) && !rows.contains(dismissed), "{rows}");
    assert_eq!(
        s.capture("openai", &api(late), true, "auth.json", 2).unwrap(),
        Captured::Unchanged { alias: "late".into() }
    );
}

#[test]
fn a_predecessor_pending_login_is_recognised_after_its_identity_is_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    predecessor_fixture(&path);
    let mut s = Store::open(&path).unwrap();
    let identities = cells(
        &s.conn,
        "SELECT identity FROM accounts UNION ALL SELECT identity FROM pending_connections",
    );
    assert!(!identities.contains("FAKE"), "{identities}");
    assert!(identities.contains("oauth-account:acct-fixture"), "{identities}");
    assert_eq!(
        s.capture("anthropic", &api("sk-ant-fixture-FAKE"), false, "auth.json", 2)
            .unwrap(),
        Captured::AlreadyPending { id: "p1".into() }
    );
    assert_eq!(
        s.capture("openai", &api("sk-fixture-work-FAKE"), true, "auth.json", 3)
            .unwrap(),
        Captured::Unchanged { alias: "work".into() }
    );
}

#[test]
fn a_saved_or_dismissed_pending_login_keeps_no_credential() {
    let mut s = Store::open_in_memory().unwrap();
    let (dismissed, saved) = ("sk-pending-to-dismiss", "sk-pending-to-save");
    let Captured::Pending { id: d } = s.capture("groq", &api(dismissed), false, "auth.json", 1).unwrap() else {
        panic!("pending")
    };
    let Captured::Pending { id: k } = s.capture("xai", &api(saved), false, "auth.json", 2).unwrap() else {
        panic!("pending")
    };
    let row = |s: &Store, id: &str| cells(&s.conn, &format!("SELECT * FROM pending_connections WHERE id = '{id}'"));
    assert!(row(&s, &d).contains(dismissed), "the scan sees a credential");
    assert!(s.dismiss_pending(&d).unwrap());
    s.save_pending(&k, "main", 3).unwrap();
    for (id, secret, status) in [(&d, dismissed, "dismissed"), (&k, saved, "saved")] {
        let text = row(&s, id);
        assert!(text.contains(status), "the row is kept: {text}");
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains(":sha256:"), "with its identity: {text}");
    }
    assert_eq!(s.load_snapshot(None).unwrap().accounts[0].auth, api(saved));
    assert!(!s.dismiss_pending(&d).unwrap());
    assert!(matches!(
        s.save_pending(&d, "late", 4),
        Err(StoreError::PendingNotFound(_))
    ));
}

#[test]
fn a_dismissed_login_captured_again_is_offered_again() {
    let mut s = Store::open_in_memory().unwrap();
    let key = "sk-dismissed-then-seen-again";
    let Captured::Pending { id: first } = s.capture("groq", &api(key), false, "auth.json", 1).unwrap() else {
        panic!("pending")
    };
    assert!(s.dismiss_pending(&first).unwrap());
    assert!(s.list_pending().unwrap().is_empty());
    let Captured::Pending { id: second } = s.capture("groq", &api(key), false, "auth.json", 2).unwrap() else {
        panic!("a dismissed login is offered again")
    };
    assert_ne!(first, second);
    let ids: Vec<_> = s.list_pending().unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(ids, std::slice::from_ref(&second));
    s.save_pending(&second, "groq-main", 3).unwrap();
    assert_eq!(s.load_snapshot(None).unwrap().accounts[0].auth, api(key));
}

#[test]
fn saving_onto_an_alias_in_use_without_replace_is_refused_in_the_transaction_and_changes_nothing() {
    let mut s = Store::open_in_memory().unwrap();
    s.save_account("openai", "work", &api("sk-test-old"), 1).unwrap();
    s.save_account("openai", "other", &api("sk-test-other"), 2).unwrap();
    assert!(matches!(
        s.save_account_as("openai", "work", &api("sk-test-new"), 3, false),
        Err(StoreError::Exists { provider, alias }) if provider == "openai" && alias == "work"
    ));
    let Captured::Pending { id } = s
        .capture("openai", &api("sk-test-pending"), false, "auth.json", 4)
        .unwrap()
    else {
        panic!("pending")
    };
    assert!(matches!(
        s.save_pending_as(&id, "work", 5, false),
        Err(StoreError::Exists { alias, .. }) if alias == "work"
    ));
    let snap = s.load_snapshot(None).unwrap();
    let work = snap.accounts.iter().find(|a| a.alias == "work").unwrap();
    assert_eq!(work.auth, api("sk-test-old"));
    assert_eq!(snap.active["openai"], "other", "a refused save does not activate");
    assert_eq!(snap.pending, 1, "the login stays pending");
    assert!(!s.save_pending_as(&id, "work", 6, true).unwrap().1.created);
    let snap = s.load_snapshot(None).unwrap();
    let work = snap.accounts.iter().find(|a| a.alias == "work").unwrap();
    assert_eq!(work.auth, api("sk-test-pending"));
    assert!(
        !s.save_account_as("openai", "work", &api("sk-test-new"), 7, true)
            .unwrap()
            .created
    );
}

#[test]
fn a_cooldown_reason_is_stored_as_its_text_and_an_unknown_text_reads_as_no_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    let mut s = Store::open(&path).unwrap();
    s.save_account("p", "a", &api("k"), 1).unwrap();
    s.save_account("p", "b", &api("k2"), 1).unwrap();
    let cool = |alias: &str, reason| RuntimePatch {
        provider_id: "p".into(),
        alias: alias.into(),
        cooldown: Some((Some(99), Some(reason))),
        ..Default::default()
    };
    let patches = [
        cool("a", CooldownReason::ServerError),
        cool("b", CooldownReason::AuthFailed),
    ];
    s.apply_runtime(&patches, &[]).unwrap();
    let conn = Connection::open(&path).unwrap();
    let text: String = conn
        .query_row("SELECT cooldown_reason FROM accounts WHERE alias = 'a'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(text, "server_error");
    conn.execute("UPDATE accounts SET cooldown_reason = 'sunspots' WHERE alias = 'a'", [])
        .unwrap();
    let snap = s.load_snapshot(None).unwrap();
    let reasons: Vec<_> = snap
        .accounts
        .iter()
        .map(|a| (a.cooldown_until, a.cooldown_reason))
        .collect();
    assert_eq!(
        reasons,
        [(Some(99), None), (Some(99), Some(CooldownReason::AuthFailed))]
    );
}
