//! What a balancer store's file is known by, shared by the checks before opening (`guard.rs`),
//! the adoption rules (`adopt.rs`) and the migrations: its `application_id` stamp, its tables
//! and columns as read back, and the error of judging or migrating one.

use std::collections::BTreeMap;

use rusqlite::Connection;

/// `PRAGMA application_id` of a store ("ocbl"), set by migration v5.
pub const APPLICATION_ID: i32 = 0x6f63_626c;

/// Each table (SQLite's own left out) and its column names, sorted.
pub(super) type Schema = BTreeMap<String, Vec<String>>;

/// Every table's columns.
pub(super) fn schema(conn: &Connection) -> rusqlite::Result<Schema> {
    let mut tables =
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")?;
    let mut columns = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let mut out = Schema::new();
    let names = tables.query_map([], |r| r.get::<_, String>(0))?;
    for name in names {
        let name = name?;
        let mut cols = columns
            .query_map([&name], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        cols.sort();
        out.insert(name, cols);
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("the store has schema version {found}, newer than this binary supports ({supported}); upgrade opencode-balancer")]
    TooNew { found: i64, supported: i64 },
    /// Not (known to be) a balancer store; the text says what gives it away.
    #[error("{0}")]
    Foreign(String),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}
