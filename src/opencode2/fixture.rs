//! A database shaped like opencode 2's (2.1.2), for tests: its `credential` table built with the
//! CREATE TABLE text opencode 2 itself uses, in WAL mode as opencode 2 keeps it.

use std::path::Path;

use rusqlite::{params, Connection};

/// opencode 2.1.2's `credential` table, as `sqlite_master` shows it after `opencode auth import`.
pub const CREDENTIAL_TABLE: &str = "CREATE TABLE `credential` (
          `id` text PRIMARY KEY,
          `integration_id` text,
          `label` text NOT NULL,
          `value` text NOT NULL,
          `connector_id` text,
          `method_id` text,
          `active` integer,
          `time_created` integer NOT NULL,
          `time_updated` integer NOT NULL
        )";

/// A stand-in for opencode 2's `session_v2` table, the mark of its database
/// ([`super::read::OPENCODE2_TABLE`]).
pub const SESSION_V2_TABLE: &str = "CREATE TABLE `session_v2` (`id` text PRIMARY KEY)";

/// One row to write: `(id, integration id, label, value JSON, active)`.
pub type Row<'a> = (&'a str, &'a str, &'a str, &'a str, bool);

/// Makes (or opens) the database at `path` with opencode 2's table and replaces its rows with
/// `rows`, in one transaction, as opencode 2 would (WAL mode; the connection closes after).
pub fn write_credentials(path: &Path, rows: &[Row]) -> rusqlite::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    let tx = conn.transaction()?;
    let exists: bool = tx
        .prepare("SELECT 1 FROM sqlite_master WHERE name = 'credential'")?
        .exists([])?;
    if !exists {
        tx.execute_batch(CREDENTIAL_TABLE)?;
        tx.execute_batch(SESSION_V2_TABLE)?;
    }
    tx.execute("DELETE FROM credential", [])?;
    for (i, (id, provider, label, value, active)) in rows.iter().enumerate() {
        tx.execute(
            "INSERT INTO credential (id, integration_id, label, value, active, time_created, time_updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![id, provider, label, value, active, 1_000 + i as i64],
        )?;
    }
    tx.commit()
}
