//! Steps on account rows inside a transaction, shared by the user's changes (`accounts.rs`),
//! saving from a capture or a pending connection, and opencode 2's mirror (`host.rs`).

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Result, StoreError};
use crate::model::Millis;

/// An account's alias changed in every table that names it by alias (its usage, its provider's
/// active account); the events keep the name they were written with.
pub(super) fn move_alias(tx: &Transaction, provider: &str, from: &str, to: &str, now: Millis) -> Result<()> {
    tx.execute(
        "UPDATE accounts SET alias = ?3, updated_at = ?4 WHERE provider_id = ?1 AND alias = ?2",
        params![provider, from, to, now],
    )?;
    tx.execute(
        "UPDATE usage_snapshots SET alias = ?3 WHERE provider_id = ?1 AND alias = ?2",
        params![provider, from, to],
    )?;
    tx.execute(
        "UPDATE provider_state SET active_alias = ?3 WHERE provider_id = ?1 AND active_alias = ?2",
        params![provider, from, to],
    )?;
    Ok(())
}

/// Removes an account inside a transaction; see [`Store::remove_account`].
pub(super) fn remove_account_tx(tx: &Transaction, provider: &str, alias: &str) -> Result<bool> {
    let n = tx.execute(
        "DELETE FROM accounts WHERE provider_id = ?1 AND alias = ?2",
        params![provider, alias],
    )?;
    tx.execute(
        "DELETE FROM usage_snapshots WHERE provider_id = ?1 AND alias = ?2",
        params![provider, alias],
    )?;
    let active: Option<Option<String>> = tx
        .query_row(
            "SELECT active_alias FROM provider_state WHERE provider_id = ?1",
            [provider],
            |r| r.get(0),
        )
        .optional()?;
    if active.flatten().as_deref() == Some(alias) {
        let next: Option<String> = tx
            .query_row(
                "SELECT alias FROM accounts WHERE provider_id = ?1 ORDER BY disabled, alias LIMIT 1",
                [provider],
                |r| r.get(0),
            )
            .optional()?;
        set_active(tx, provider, next.as_deref())?;
    }
    Ok(n > 0)
}

pub(super) fn exists(tx: &Transaction, provider: &str, alias: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM accounts WHERE provider_id = ?1 AND alias = ?2")?
        .exists(params![provider, alias])?)
}

pub(super) fn require(tx: &Transaction, provider: &str, alias: &str) -> Result<()> {
    if exists(tx, provider, alias)? {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            provider: provider.into(),
            alias: alias.into(),
        })
    }
}

/// A user's choice of active account: bumps the epoch, so a failover chosen before it (in any
/// process) is not written over it.
pub(super) fn set_active(tx: &Transaction, provider: &str, alias: Option<&str>) -> Result<()> {
    tx.execute(
        "INSERT INTO provider_state (provider_id, active_alias, active_epoch) VALUES (?1, ?2, 1)
         ON CONFLICT (provider_id) DO UPDATE
         SET active_alias = excluded.active_alias, active_epoch = active_epoch + 1",
        params![provider, alias],
    )?;
    Ok(())
}

pub(super) fn ensure_priority(tx: &Transaction, provider: &str) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO provider_priority (provider_id, position, model_id, enabled)
         SELECT ?1, COALESCE(MAX(position) + 1, 0), NULL, 1 FROM provider_priority",
        [provider],
    )?;
    Ok(())
}
