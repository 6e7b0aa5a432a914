//! A user's changes to accounts: save (with its checks), rename, remove, activate, disable, reset.

use rusqlite::{params, OptionalExtension, Transaction};

use super::account_rows::{ensure_priority, exists, move_alias, remove_account_tx, require, set_active};
use super::{Result, Store, StoreError};
use crate::model::{Auth, Millis};

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveOutcome {
    /// A new account (false: an existing one's credential was replaced).
    pub created: bool,
}

impl Store {
    /// Saves a new account or replaces an existing one's credential; either way it becomes the
    /// provider's active account. A credential already saved under another alias is refused.
    pub fn save_account(&mut self, provider: &str, alias: &str, auth: &Auth, now: Millis) -> Result<SaveOutcome> {
        self.save_account_as(provider, alias, auth, now, true)
    }

    /// [`Store::save_account`], refusing an alias already in use (`Exists`) unless `replace`; the
    /// check and the write are one transaction.
    pub fn save_account_as(
        &mut self,
        provider: &str,
        alias: &str,
        auth: &Auth,
        now: Millis,
        replace: bool,
    ) -> Result<SaveOutcome> {
        self.write_dropping_secret(|tx| save_account_tx(tx, provider, alias, auth, now, replace))
    }

    pub fn rename_account(&mut self, provider: &str, from: &str, to: &str, now: Millis) -> Result<()> {
        self.write(|tx| {
            require(tx, provider, from)?;
            if exists(tx, provider, to)? {
                return Err(StoreError::Exists {
                    provider: provider.into(),
                    alias: to.into(),
                });
            }
            move_alias(tx, provider, from, to, now)
        })
    }

    /// Removes an account; when it was active, the provider's first remaining enabled account
    /// (by alias) becomes active. `false` when there was no such account.
    pub fn remove_account(&mut self, provider: &str, alias: &str) -> Result<bool> {
        self.write_dropping_secret(|tx| remove_account_tx(tx, provider, alias))
    }

    pub fn activate(&mut self, provider: &str, alias: &str) -> Result<()> {
        self.write(|tx| {
            require(tx, provider, alias)?;
            set_active(tx, provider, Some(alias))
        })
    }

    /// `true` when the flag changed.
    pub fn set_disabled(&mut self, provider: &str, alias: &str, disabled: bool, now: Millis) -> Result<bool> {
        self.write(|tx| {
            require(tx, provider, alias)?;
            let n = tx.execute(
                "UPDATE accounts SET disabled = ?3, updated_at = ?4 WHERE provider_id = ?1 AND alias = ?2 AND disabled != ?3",
                params![provider, alias, disabled, now],
            )?;
            Ok(n > 0)
        })
    }

    /// Clears a cooldown, the failure count and the auth-failed mark.
    pub fn reset_cooldown(&mut self, provider: &str, alias: &str) -> Result<()> {
        self.write(|tx| {
            require(tx, provider, alias)?;
            tx.execute(
                "UPDATE accounts SET rate_limited_until = NULL, cooldown_reason = NULL, failures = 0, auth_failed = 0,
                     reset_epoch = reset_epoch + 1
                 WHERE provider_id = ?1 AND alias = ?2",
                params![provider, alias],
            )?;
            Ok(())
        })
    }
}

/// Saves or updates an account inside a transaction; see [`Store::save_account`].
pub(super) fn save_account_tx(
    tx: &Transaction,
    provider: &str,
    alias: &str,
    auth: &Auth,
    now: Millis,
    replace: bool,
) -> Result<SaveOutcome> {
    if !replace && exists(tx, provider, alias)? {
        return Err(StoreError::Exists {
            provider: provider.into(),
            alias: alias.into(),
        });
    }
    super::host::refuse_owned(tx, provider, alias)?;
    let auth_json = serde_json::to_string(auth).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let identity = auth.identity();
    let twin: Option<String> = tx
        .query_row(
            "SELECT alias FROM accounts WHERE provider_id = ?1 AND identity = ?2 AND alias != ?3",
            params![provider, identity, alias],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(existing) = twin {
        return Err(StoreError::Exists {
            provider: provider.into(),
            alias: existing,
        });
    }
    let updated = tx.execute(
        "UPDATE accounts SET auth_json = ?3, auth_type = ?4, identity = ?5, updated_at = ?6, auth_failed = 0, subject = NULL,
             rate_limited_until = CASE WHEN cooldown_reason = 'auth_failed' THEN NULL ELSE rate_limited_until END,
             token_generation = token_generation + 1, login_required = 0, token_refreshed_at = ?6,
             refresh_lease_owner = NULL, refresh_lease_until = NULL
         WHERE provider_id = ?1 AND alias = ?2",
        params![provider, alias, auth_json, auth.auth_type(), identity, now],
    )?;
    if updated == 0 {
        tx.execute(
            "INSERT INTO accounts (provider_id, alias, auth_json, auth_type, identity, created_at, updated_at, failures, disabled, auth_failed,
                 token_refreshed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 0, 0, 0, ?6)",
            params![provider, alias, auth_json, auth.auth_type(), identity, now],
        )?;
    }
    set_active(tx, provider, Some(alias))?;
    ensure_priority(tx, provider)?;
    Ok(SaveOutcome { created: updated == 0 })
}
