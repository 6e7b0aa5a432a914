//! Secrets at rest beyond the credential columns: login identities kept as digests, and saved or
//! dismissed pending connections emptied of their credential, in stores older versions wrote too.
//!
//! Migration 4 brings a store up to date once; every open checks again (reading only) for rows an
//! older binary still running against the same store, or the predecessor, wrote since.

use rusqlite::{params, Connection};

use super::{Result, Store};
use crate::model::Auth;

/// What a saved or dismissed pending connection keeps in its credential column (NOT NULL).
pub(super) const NO_CREDENTIAL: &str = "{}";

/// Rows whose identity is not in the current form (`Auth::identity`): unset (the predecessor's
/// accounts) or the raw credential older versions stored (`api:<key>`, `oauth-refresh:<token>`, …).
const STALE_IDENTITY: &str =
    "identity IS NULL OR (identity NOT GLOB 'oauth-account:*' AND identity NOT GLOB '*:sha256:*')";

const IDENTITY_TABLES: [&str; 2] = ["accounts", "pending_connections"];

const RESOLVED_WITH_CREDENTIAL: &str = "status != 'pending' AND auth_json != '{}'";

/// Each row whose identity is not the one its credential gives now: `(table, rowid, identity)`.
/// An unreadable (or forgotten) credential gives none: its stale identity becomes NULL.
fn stale_identities(conn: &Connection) -> rusqlite::Result<Vec<(&'static str, i64, Option<String>)>> {
    let mut out = vec![];
    for table in IDENTITY_TABLES {
        let mut stmt = conn.prepare(&format!(
            "SELECT rowid, identity, auth_json FROM {table} WHERE {STALE_IDENTITY}"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        for row in rows {
            let (rowid, stored, json) = row?;
            let current = json
                .and_then(|j| serde_json::from_str::<Auth>(&j).ok())
                .map(|auth| auth.identity());
            if current != stored {
                out.push((table, rowid, current));
            }
        }
    }
    Ok(out)
}

fn any_resolved_with_credential(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM pending_connections WHERE {RESOLVED_WITH_CREDENTIAL})"),
        [],
        |r| r.get(0),
    )
}

/// Rewrites every stale identity from its row's credential, then empties the credential of every
/// saved or dismissed pending connection (which keeps its row, status and identity digest).
/// Run inside a write transaction.
pub(super) fn bring_up_to_date(conn: &Connection) -> rusqlite::Result<()> {
    for (table, rowid, identity) in stale_identities(conn)? {
        conn.execute(
            &format!("UPDATE {table} SET identity = ?2 WHERE rowid = ?1"),
            params![rowid, identity],
        )?;
    }
    conn.execute(
        &format!("UPDATE pending_connections SET auth_json = ?1 WHERE {RESOLVED_WITH_CREDENTIAL}"),
        [NO_CREDENTIAL],
    )?;
    Ok(())
}

impl Store {
    /// Brings identities and resolved pending connections written by an older binary up to date,
    /// so a login seen again in auth.json is recognised. Takes the write lock only when there is
    /// something to change (a store on a read-only disk still opens).
    pub(super) fn tidy_secrets_at_rest(&mut self) -> Result<()> {
        if stale_identities(&self.conn)?.is_empty() && !any_resolved_with_credential(&self.conn)? {
            return Ok(());
        }
        self.write(|tx| Ok(bring_up_to_date(tx)?))
    }
}
