//! Whether a SQLite database is a balancer store that may be adopted: it carries the store's
//! `application_id`, or it has exactly the tables and columns one of the versions before that
//! stamp had (the predecessor's included). Table names alone prove nothing (`settings`,
//! `accounts` are what many programs call theirs), so anything else is refused.

use rusqlite::Connection;

use super::schema::{schema, MigrationError, Schema, APPLICATION_ID};

/// A database that may be adopted.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// No table and no stamp: a store being created. What our own creation looks like between
    /// the switch to WAL and the migrations' commit, so another process opening the store at
    /// that moment goes on; it holds no row, so nothing can be lost.
    Blank,
    /// A store of ours (or the predecessor's) at this schema version.
    Store(i64),
}

/// What the store's versions look like, from the migrations (`migrations::judge` passes them).
pub(super) struct Versions<'a> {
    /// The schema version this binary writes.
    pub latest: i64,
    /// The tables and columns of each version before the `application_id` stamp.
    pub unstamped: &'a [(i64, Schema)],
}

/// Judges the database `conn` shows, reading only, from one snapshot (a store another process
/// creates at this moment is seen before its commit or after it, never half).
pub(super) fn judge(conn: &Connection, versions: &Versions) -> Result<Verdict, MigrationError> {
    if !conn.is_autocommit() {
        return judge_snapshot(conn, versions);
    }
    conn.execute_batch("BEGIN")?;
    let verdict = judge_snapshot(conn, versions);
    conn.execute_batch("ROLLBACK")?;
    verdict
}

fn judge_snapshot(conn: &Connection, versions: &Versions) -> Result<Verdict, MigrationError> {
    let stamp: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if stamp == APPLICATION_ID {
        if version > versions.latest {
            return Err(MigrationError::TooNew {
                found: version,
                supported: versions.latest,
            });
        }
        return Ok(Verdict::Store(version));
    }
    if stamp != 0 {
        return Err(not_a_store(format!(
            "it is another application's database (application_id {stamp:#x})"
        )));
    }
    let found = schema(conn)?;
    if found.is_empty() {
        return match version {
            0 => Ok(Verdict::Blank),
            v => Err(not_a_store(format!(
                "it has no table but user_version {v}, which no balancer store has"
            ))),
        };
    }
    match versions.unstamped.iter().find(|(v, _)| *v == version) {
        Some((_, expected)) if *expected == found => Ok(Verdict::Store(version)),
        Some((_, expected)) => Err(not_a_store(difference(expected, &found, version))),
        None => Err(not_a_store(format!(
            "it has user_version {version} without the store's application_id"
        ))),
    }
}

fn not_a_store(reason: String) -> MigrationError {
    MigrationError::Foreign(format!("it is not a balancer store: {reason}"))
}

/// What tells `found` apart from the store's schema at `version`, for the refusal.
fn difference(expected: &Schema, found: &Schema, version: i64) -> String {
    let store = format!("a balancer store of schema version {version}");
    if let Some(extra) = found.keys().find(|t| !expected.contains_key(*t)) {
        return format!("it has a table `{extra}`, which {store} has not");
    }
    if let Some(missing) = expected.keys().find(|t| !found.contains_key(*t)) {
        return format!("it has no table `{missing}`, which {store} has");
    }
    match found.iter().find(|(t, cols)| expected.get(*t) != Some(cols)) {
        Some((table, cols)) => format!(
            "its table `{table}` has the columns ({}), not those of {store}",
            cols.join(", ")
        ),
        None => format!("its tables are not those of {store}"),
    }
}
