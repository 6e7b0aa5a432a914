//! Reads opencode 2's `credential` table: opened read-only (never creating a file beside it),
//! its shape checked first, then the metadata columns and `json_extract(value, '$.type')` only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::HostCredential;
use crate::model::validate_provider;

/// How long a read waits for opencode 2's write lock before giving up (it retries on the next change).
const BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// The columns read, each of which the table must have.
const COLUMNS: &[&str] = &[
    "id",
    "integration_id",
    "label",
    "value",
    "method_id",
    "active",
    "time_created",
];

/// The table only opencode 2 makes in `opencode.db`. opencode 1 (1.18) keeps a database at the
/// same path with a `credential` table of the same columns, which it does not use for logins: a
/// database without this table is not opencode 2's, and is read as [`HostRead::Absent`].
pub const OPENCODE2_TABLE: &str = "session_v2";

/// What the database holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRead {
    /// No database file: opencode 2 has not run here (or keeps its data elsewhere).
    Absent,
    /// The credentials, oldest first; `skipped` counts rows without an id or a usable provider id.
    Found {
        credentials: Vec<HostCredential>,
        skipped: usize,
    },
}

/// Why the table could not be read. Never holds a value from it.
#[derive(Debug, thiserror::Error)]
pub enum HostReadError {
    #[error("opencode 2's database {path} is not of the shape this version reads: {what}; no account was changed")]
    Shape { path: PathBuf, what: String },
    #[error("cannot read opencode 2's database {path}: {detail}; no account was changed")]
    Unreadable { path: PathBuf, detail: String },
}

/// Reads the credentials' metadata from opencode 2's database at `path`.
pub fn read_credentials(path: &Path) -> Result<HostRead, HostReadError> {
    if !path.is_file() {
        return Ok(HostRead::Absent);
    }
    let unreadable = |e: rusqlite::Error| HostReadError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let conn = open(path).map_err(unreadable)?;
    if !has_table(&conn, OPENCODE2_TABLE).map_err(unreadable)? {
        return Ok(HostRead::Absent);
    }
    check_shape(&conn, path)?;
    read_rows(&conn).map_err(unreadable)
}

/// The table names of the SQLite file at `path`, opened as `read_credentials` opens it (nothing
/// created beside it); none when it is absent or not a database.
pub fn table_names(path: &Path) -> Vec<String> {
    if !path.is_file() {
        return Vec::new();
    }
    let Ok(conn) = open(path) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'") else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get::<_, String>(0))
        .map(|rows| rows.flatten().collect())
        .unwrap_or_default()
}

/// Opens read-only. A database in WAL mode whose `-wal` file is absent is opened `immutable`:
/// a read-only connection would otherwise create the `-wal` and `-shm` files beside it. Without
/// a `-wal` file no writer has it open, and a writer that starts writes to a new `-wal`, which
/// wakes the watcher for another read.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let immutable = !Path::new(&wal).exists();
    let uri = format!(
        "file:{}?mode=ro{}",
        escape(&path.to_string_lossy()),
        if immutable { "&immutable=1" } else { "" }
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(uri, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// A path as a URI's path: the characters a URI gives meaning to, percent-encoded.
fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
        .exists([name])
}

fn check_shape(conn: &Connection, path: &Path) -> Result<(), HostReadError> {
    let shape = |what: String| HostReadError::Shape {
        path: path.to_path_buf(),
        what,
    };
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('credential')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| HostReadError::Unreadable {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    if columns.is_empty() {
        return Err(shape("it has no table `credential`".into()));
    }
    match COLUMNS.iter().find(|c| !columns.iter().any(|have| have == *c)) {
        Some(missing) => Err(shape(format!("its table `credential` has no column `{missing}`"))),
        None => Ok(()),
    }
}

fn read_rows(conn: &Connection) -> rusqlite::Result<HostRead> {
    // `value` is read only through `json_extract(…, '$.type')`: the secret stays in the database.
    let mut stmt = conn.prepare(
        "SELECT id, integration_id, label,
                CASE WHEN json_valid(value) THEN json_extract(value, '$.type') END,
                method_id, active, time_created
         FROM credential ORDER BY time_created, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            text(r, 0)?,
            text(r, 1)?,
            text(r, 2)?,
            text(r, 3)?,
            text(r, 4)?,
            r.get::<_, Option<i64>>(5)?,
            r.get::<_, Option<i64>>(6)?,
        ))
    })?;
    let mut credentials = Vec::new();
    let mut skipped = 0;
    for row in rows {
        let (id, provider, label, kind, method, active, created) = row?;
        let (Some(id), Some(provider)) = (id.filter(|i| !i.is_empty()), provider) else {
            skipped += 1;
            continue;
        };
        if validate_provider(&provider).is_none() {
            skipped += 1;
            continue;
        }
        credentials.push(HostCredential {
            label: label.unwrap_or_else(|| id.clone()),
            id,
            provider_id: provider,
            kind: kind.unwrap_or_else(|| "unknown".into()),
            method,
            active: active.unwrap_or(0) != 0,
            created_at: created.unwrap_or(0),
        });
    }
    Ok(HostRead::Found { credentials, skipped })
}

/// A column as text when it is text; any other type reads as none (a row of a newer writer).
fn text(r: &rusqlite::Row, i: usize) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => None,
    })
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
