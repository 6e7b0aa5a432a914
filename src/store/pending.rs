//! Pending connections: logins captured while autoSave is off, waiting to be saved or dismissed.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::accounts::{save_account_tx, SaveOutcome};
use super::identity::NO_CREDENTIAL;
use super::{Result, Store, StoreError};
use crate::model::{Auth, Millis};

/// A pending connection as clients see it (no credential).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    pub id: String,
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub auth_type: String,
    pub source: String,
    pub captured_at: Millis,
    pub status: String,
}

impl Store {
    pub fn list_pending(&self) -> Result<Vec<PendingView>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, provider_id, auth_type, source, captured_at, status FROM pending_connections
             WHERE status = 'pending' ORDER BY captured_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingView {
                id: r.get(0)?,
                provider_id: r.get(1)?,
                auth_type: r.get(2)?,
                source: r.get(3)?,
                captured_at: r.get(4)?,
                status: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Saves a pending connection as an account under `alias` and marks it saved. The pending row
    /// keeps no credential afterwards (the account holds it); its identity digest stays.
    pub fn save_pending(&mut self, id: &str, alias: &str, now: Millis) -> Result<(String, SaveOutcome)> {
        self.save_pending_as(id, alias, now, true)
    }

    /// [`Store::save_pending`], refusing an alias already in use (`Exists`, nothing changes, the
    /// login stays pending) unless `replace`.
    pub fn save_pending_as(
        &mut self,
        id: &str,
        alias: &str,
        now: Millis,
        replace: bool,
    ) -> Result<(String, SaveOutcome)> {
        self.write_dropping_secret(|tx| {
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT provider_id, auth_json FROM pending_connections WHERE id = ?1 AND status = 'pending'",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (provider, auth_json) = row.ok_or_else(|| StoreError::PendingNotFound(id.to_string()))?;
            let auth: Auth = serde_json::from_str(&auth_json)
                .map_err(|_| StoreError::Invalid(format!("pending connection {id} holds an unreadable credential")))?;
            let outcome = save_account_tx(tx, &provider, alias, &auth, now, replace)?;
            tx.execute(
                "UPDATE pending_connections SET status = 'saved', auth_json = ?2 WHERE id = ?1",
                params![id, NO_CREDENTIAL],
            )?;
            Ok((provider, outcome))
        })
    }

    /// `true` when a pending connection was dismissed. Its row stays (status `dismissed`, identity
    /// digest) without the credential. Nothing reads a resolved row again: a dismissed login
    /// captured again (auth.json read at the next start, say) is offered again as a new pending one.
    pub fn dismiss_pending(&mut self, id: &str) -> Result<bool> {
        self.write_dropping_secret(|tx| {
            let n = tx.execute(
                "UPDATE pending_connections SET status = 'dismissed', auth_json = ?2 WHERE id = ?1 AND status = 'pending'",
                params![id, NO_CREDENTIAL],
            )?;
            Ok(n > 0)
        })
    }
}
