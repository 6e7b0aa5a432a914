//! Migration tests: every earlier version, built by the migrations themselves, reaches the schema
//! a new store has; a failure anywhere leaves the database as it was; what is adopted.

use rusqlite::Connection;

use super::*;

/// Tables with their columns, and index names: what a migration can add.
fn shape(conn: &Connection) -> (Schema, Vec<String>) {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
        .unwrap();
    let indexes = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    (schema(conn).unwrap(), indexes)
}

fn header(conn: &Connection) -> (i64, i32) {
    (
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap(),
        conn.query_row("PRAGMA application_id", [], |r| r.get(0)).unwrap(),
    )
}

#[test]
fn every_earlier_version_migrates_to_the_schema_a_new_store_has() {
    let mut fresh = Connection::open_in_memory().unwrap();
    migrate(&mut fresh).unwrap();
    assert_eq!(header(&fresh), (LATEST, APPLICATION_ID));
    for version in 0..LATEST {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, version).unwrap();
        assert_eq!(header(&conn).0, version);
        migrate(&mut conn).unwrap();
        assert_eq!(header(&conn), header(&fresh), "from version {version}");
        assert_eq!(shape(&conn), shape(&fresh), "from version {version}");
    }
}

#[test]
fn the_versions_before_the_stamp_are_adopted_by_their_exact_schema() {
    let versions: Vec<i64> = unstamped_schemas().iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, [0, 1, 2, 3, 4]);
    for version in 0..=4 {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, version).unwrap();
        assert_eq!(judge(&conn).unwrap(), adopt::Verdict::Store(version));
    }
}

#[test]
fn a_failing_migration_leaves_the_database_exactly_as_it_was() {
    fn fails(tx: &Transaction) -> rusqlite::Result<()> {
        tx.execute_batch("CREATE TABLE half (x); SELECT no_such_function()")
    }
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("s.sqlite")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    assert!(apply(&mut conn, &[v1_predecessor_schema, v2_balancer_columns, fails]).is_err());
    assert_eq!(header(&conn), (0, 0));
    assert!(shape(&conn).0.is_empty(), "no migration of the failed run was kept");
}

/// A store of version 1 (no stamp yet) with a view named like the index version 6 creates:
/// versions 2–5 succeed, 6 fails. Before, 2–5 were each committed and the store was left at 5.
#[test]
fn a_real_migration_failing_late_leaves_an_older_store_at_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("s.sqlite")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    migrate_to(&mut conn, 1).unwrap();
    conn.execute_batch("CREATE VIEW provider_priority_position AS SELECT 1")
        .unwrap();
    let before = shape(&conn);
    let err = migrate(&mut conn).unwrap_err();
    assert!(err.to_string().contains("provider_priority_position"), "{err}");
    assert_eq!(header(&conn), (1, 0));
    assert_eq!(shape(&conn), before);
}

#[test]
fn a_look_alike_of_other_tables_is_refused_with_what_gives_it_away() {
    let cases = [
        ("CREATE TABLE settings (k, v)", "no table `accounts`"),
        (
            "CREATE TABLE accounts (id, name); CREATE TABLE settings (k, v)",
            "no table `events`",
        ),
        ("CREATE TABLE accounts (id, name)", "no table `events`"),
        ("CREATE TABLE photos (id)", "a table `photos`"),
        ("PRAGMA user_version = 3", "no table but user_version 3"),
        (
            "PRAGMA user_version = 7; CREATE TABLE accounts (id)",
            "user_version 7 without",
        ),
        (
            "PRAGMA application_id = 42; CREATE TABLE accounts (id)",
            "application_id 0x2a",
        ),
    ];
    for (sql, why) in cases {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(sql).unwrap();
        let before = (header(&conn), shape(&conn));
        let err = migrate(&mut conn).unwrap_err().to_string();
        assert!(
            err.contains("not a balancer store") && err.contains(why),
            "{sql}: {err}"
        );
        assert_eq!((header(&conn), shape(&conn)), before, "{sql}");
    }
    let mut conn = Connection::open_in_memory().unwrap();
    migrate_to(&mut conn, 2).unwrap();
    conn.execute_batch("ALTER TABLE accounts ADD COLUMN extra").unwrap();
    let err = migrate(&mut conn).unwrap_err().to_string();
    assert!(err.contains("its table `accounts` has the columns ("), "{err}");
}
