//! Capturing a credential seen in opencode's auth.json: update the account it belongs to, save a
//! new one, or keep it as a pending connection.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Transaction};

use super::account_rows::exists;
use super::accounts::save_account_tx;
use super::capture_link::link;
pub use super::capture_link::{CaptureHint, LinkedBy};
use super::{Result, Store, StoreError};
use crate::model::{normalize_alias, Auth, Millis};

/// What a capture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    /// Same identity as a saved account whose credential is identical: nothing to do.
    Unchanged { alias: String },
    /// Same identity as a saved account: its credential was replaced (e.g. a token refresh).
    Updated { alias: String },
    /// A new identity that is a saved account's refreshed login: its credential was replaced.
    Linked { alias: String, by: LinkedBy },
    /// A new account was saved and made active (autoSave on).
    Saved { alias: String },
    /// A new pending connection (autoSave off).
    Pending { id: String },
    /// Already pending with this identity.
    AlreadyPending { id: String },
}

impl Store {
    /// Handles one provider entry of auth.json.
    pub fn capture(
        &mut self,
        provider: &str,
        auth: &Auth,
        auto_save: bool,
        source: &str,
        now: Millis,
    ) -> Result<Captured> {
        self.write_dropping_secret(|tx| capture_tx(tx, provider, auth, None, auto_save, source, now))
    }

    /// Handles every changed entry of one read of auth.json in one transaction: thousands of
    /// entries cost one commit, not one each (and reads queued behind them wait for one job).
    /// `hints` (by provider id) say more about some entries (see [`CaptureHint`]).
    pub fn capture_all(
        &mut self,
        entries: &[(String, Auth)],
        hints: &BTreeMap<String, CaptureHint>,
        auto_save: bool,
        source: &str,
        now: Millis,
    ) -> Result<Vec<(String, Captured)>> {
        self.write_dropping_secret(|tx| {
            entries
                .iter()
                .map(|(p, auth)| {
                    let hint = hints.get(p);
                    Ok((p.clone(), capture_tx(tx, p, auth, hint, auto_save, source, now)?))
                })
                .collect()
        })
    }
}

/// One entry, inside the caller's transaction.
fn capture_tx(
    tx: &Transaction,
    provider: &str,
    auth: &Auth,
    hint: Option<&CaptureHint>,
    auto_save: bool,
    source: &str,
    now: Millis,
) -> Result<Captured> {
    let auth_json = serde_json::to_string(auth).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let identity = auth.identity();
    let subject = hint.and_then(|h| h.subject.as_deref());
    if let Some(subject) = subject {
        // A login already known by its credential learns its subject (accounts saved before
        // subjects were kept, or while the profile could not be read).
        tx.execute(
            "UPDATE accounts SET subject = ?3 WHERE provider_id = ?1 AND identity = ?2 AND subject IS NULL",
            params![provider, identity, subject],
        )?;
    }
    let known: Option<(String, String)> = tx
        .query_row(
            "SELECT alias, auth_json FROM accounts WHERE provider_id = ?1 AND identity = ?2",
            params![provider, identity],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((alias, stored)) = known {
        if stored == auth_json {
            return Ok(Captured::Unchanged { alias });
        }
        if super::tokens::is_older(auth, &stored) {
            // auth.json still holds a token this account has since refreshed past.
            return Ok(Captured::Unchanged { alias });
        }
        tx.execute(
            "UPDATE accounts SET auth_json = ?3, auth_type = ?4, updated_at = ?5, auth_failed = 0,
                 rate_limited_until = CASE WHEN cooldown_reason = 'auth_failed' THEN NULL ELSE rate_limited_until END,
                 token_generation = token_generation + 1, login_required = 0, token_refreshed_at = ?5,
                 refresh_lease_owner = NULL, refresh_lease_until = NULL
             WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias, auth_json, auth.auth_type(), now],
        )?;
        return Ok(Captured::Updated { alias });
    }
    let replaced: Option<String> = tx
        .query_row(
            "SELECT alias FROM accounts WHERE provider_id = ?1 AND previous_identity = ?2",
            params![provider, identity],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(alias) = replaced {
        // The credential a refresh replaced (its refresh token is spent): not a new login.
        return Ok(Captured::Unchanged { alias });
    }
    if let Some((alias, by)) = hint.map(|h| link(tx, provider, h, now)).transpose()?.flatten() {
        tx.execute(
            "UPDATE accounts SET auth_json = ?3, auth_type = ?4, identity = ?5, updated_at = ?6, auth_failed = 0,
                 subject = COALESCE(subject, ?7),
                 rate_limited_until = CASE WHEN cooldown_reason = 'auth_failed' THEN NULL ELSE rate_limited_until END,
                 token_generation = token_generation + 1, login_required = 0, token_refreshed_at = ?6,
                 refresh_lease_owner = NULL, refresh_lease_until = NULL
             WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias, auth_json, auth.auth_type(), identity, now, subject],
        )?;
        return Ok(Captured::Linked { alias, by });
    }
    if auto_save {
        let email = hint.and_then(|h| h.email.as_deref());
        let alias = free_alias(tx, provider, auth, email)?;
        save_account_tx(tx, provider, &alias, auth, now, false)?;
        tx.execute(
            "UPDATE accounts SET subject = ?3 WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias, subject],
        )?;
        return Ok(Captured::Saved { alias });
    }
    let pending: Option<String> = tx
        .query_row(
            "SELECT id FROM pending_connections WHERE provider_id = ?1 AND identity = ?2 AND status = 'pending'",
            params![provider, identity],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = pending {
        tx.execute(
            "UPDATE pending_connections SET auth_json = ?2 WHERE id = ?1",
            params![id, auth_json],
        )?;
        return Ok(Captured::AlreadyPending { id });
    }
    let n: i64 = tx.query_row("SELECT COALESCE(MAX(rowid), 0) + 1 FROM pending_connections", [], |r| {
        r.get(0)
    })?;
    let id = format!("{provider}-{n}");
    tx.execute(
        "INSERT INTO pending_connections (id, provider_id, auth_json, auth_type, source, identity, captured_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')",
        params![id, provider, auth_json, auth.auth_type(), source, identity, now],
    )?;
    Ok(Captured::Pending { id })
}

/// A readable alias not yet used for this provider: from the token's email or account id (or
/// the profile's email), else `<provider>-<n>`.
fn free_alias(tx: &Transaction, provider: &str, auth: &Auth, email: Option<&str>) -> Result<String> {
    let taken = |alias: &str| exists(tx, provider, alias);
    let name = auth.display_name().or_else(|| email.map(str::to_string));
    let base = name
        .as_deref()
        .and_then(normalize_alias)
        .or_else(|| normalize_alias(provider))
        .unwrap_or_else(|| "account".into());
    let named = name.is_some();
    if named && !taken(&base)? {
        return Ok(base);
    }
    for n in 1.. {
        let candidate = format!("{base}-{n}");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("some number is free")
}

#[cfg(test)]
#[path = "capture_tests.rs"]
mod tests;
