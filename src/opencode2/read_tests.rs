//! Reading opencode 2's credential table: metadata only, never a file created, shapes refused.

use super::*;
use crate::opencode2::fixture::{write_credentials, CREDENTIAL_TABLE, SESSION_V2_TABLE};

const SECRET: &str = "sk-FAKE-never-read-0123456789";

fn db(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("opencode.db")
}

#[test]
fn the_metadata_of_each_credential_is_read_and_its_secret_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let key = format!(r#"{{"type":"key","key":"{SECRET}"}}"#);
    let oauth =
        format!(r#"{{"type":"oauth","methodID":"chatgpt","access":"{SECRET}","refresh":"{SECRET}","expires":1}}"#);
    write_credentials(
        &path,
        &[
            ("cred_a", "mock", "alpha", &key, true),
            ("cred_b", "mock", "bravo", &key, false),
            ("cred_c", "openai", "Work Account", &oauth, true),
        ],
    )
    .unwrap();
    let HostRead::Found { credentials, skipped } = read_credentials(&path).unwrap() else {
        panic!("the database is there")
    };
    assert_eq!(skipped, 0);
    let summary: Vec<_> = credentials
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.provider_id.as_str(),
                c.label.as_str(),
                c.kind.as_str(),
                c.active,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("cred_a", "mock", "alpha", "key", true),
            ("cred_b", "mock", "bravo", "key", false),
            ("cred_c", "openai", "Work Account", "oauth", true),
        ]
    );
    assert!(!format!("{credentials:?}").contains(SECRET));
}

#[test]
fn reading_creates_no_file_beside_the_database_and_changes_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    write_credentials(
        &path,
        &[("cred_a", "mock", "alpha", r#"{"type":"key","key":"k"}"#, true)],
    )
    .unwrap();
    let names = || {
        let mut n: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        n.sort();
        n
    };
    let before = (names(), std::fs::read(&path).unwrap());
    assert_eq!(before.0, ["opencode.db"], "the writer closed: no -wal left");
    for _ in 0..3 {
        assert!(matches!(read_credentials(&path).unwrap(), HostRead::Found { .. }));
    }
    assert_eq!((names(), std::fs::read(&path).unwrap()), before);
}

#[test]
fn a_database_held_open_by_its_writer_is_read_with_its_latest_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    write_credentials(&path, &[]).unwrap();
    // opencode 2 running: its connection open, the commit still in the -wal.
    let writer = Connection::open(&path).unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .execute(
            "INSERT INTO credential (id, integration_id, label, value, active, time_created, time_updated)
             VALUES ('cred_n', 'mock', 'new', '{\"type\":\"key\",\"key\":\"k\"}', 0, 5, 5)",
            [],
        )
        .unwrap();
    let HostRead::Found { credentials, .. } = read_credentials(&path).unwrap() else {
        panic!()
    };
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0].label, "new");
}

#[test]
fn no_database_is_absent_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_credentials(&db(&dir)).unwrap(), HostRead::Absent);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created"
    );
}

#[test]
fn a_table_of_another_shape_is_refused_by_name_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for (create, says) in [
        ("CREATE TABLE session_v2 (id text); CREATE TABLE other (id text)", "has no table `credential`"),
        (
            "CREATE TABLE session_v2 (id text); CREATE TABLE credential (id text, integration_id text, label text, value text, active integer, time_created integer)",
            "has no column `method_id`",
        ),
    ] {
        let path = dir.path().join(format!("{}.db", create.len()));
        Connection::open(&path).unwrap().execute_batch(create).unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = read_credentials(&path).unwrap_err();
        assert!(matches!(err, HostReadError::Shape { .. }), "{err}");
        assert!(err.to_string().contains(says), "{err}");
        assert!(err.to_string().contains("no account was changed"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a database at all, just text").unwrap();
    assert!(matches!(read_credentials(&junk), Err(HostReadError::Unreadable { .. })));
}

#[test]
fn rows_without_an_id_or_a_usable_provider_or_with_bad_json_are_skipped_or_kept_without_a_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(CREDENTIAL_TABLE).unwrap();
    conn.execute_batch(SESSION_V2_TABLE).unwrap();
    conn.execute_batch(ROWS).unwrap();
    drop(conn);
    let HostRead::Found { credentials, skipped } = read_credentials(&path).unwrap() else {
        panic!()
    };
    assert_eq!(skipped, 2);
    assert_eq!(credentials.len(), 1);
    assert_eq!(credentials[0].kind, "unknown", "its value is not JSON");
}

const ROWS: &str = concat!(
    "INSERT INTO credential VALUES ('cred_1', 'bad id!', 'x', '{}', NULL, NULL, 0, 1, 1);",
    "INSERT INTO credential VALUES ('cred_2', NULL, 'x', '{}', NULL, NULL, 0, 1, 1);",
    "INSERT INTO credential VALUES ('cred_3', 'mock', 'x', 'not json', NULL, NULL, 0, 1, 1);",
);

#[test]
fn opencode_1s_database_at_the_same_path_is_not_read_as_opencode_2s() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(&format!("CREATE TABLE part (id text); {}", CREDENTIAL_TABLE))
        .unwrap();
    conn.execute(
        "INSERT INTO credential (id, integration_id, label, value, active, time_created, time_updated)
         VALUES ('cred_v1', 'mock', 'one', '{\"type\":\"key\",\"key\":\"fake-v1-key\"}', 1, 1, 1)",
        [],
    )
    .unwrap();
    drop(conn);
    assert_eq!(read_credentials(&path).unwrap(), HostRead::Absent);
    let bare = dir.path().join("bare.db");
    Connection::open(&bare)
        .unwrap()
        .execute_batch("CREATE TABLE session (id TEXT)")
        .unwrap();
    assert_eq!(
        read_credentials(&bare).unwrap(),
        HostRead::Absent,
        "no shape error for a database that is not opencode 2's"
    );
}
