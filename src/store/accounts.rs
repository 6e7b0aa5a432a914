//! Account rows and each provider's active account: user mutations and batched runtime patches.

use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::{Result, Store, StoreError};
use crate::model::{Account, Auth, CooldownReason, Millis, TokenState};

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveOutcome {
    /// A new account (false: an existing one's credential was replaced).
    pub created: bool,
}

/// High-rate bookkeeping from the hot path, written in batches. `None` leaves a field alone.
///
/// Written so that no other process's change is lost: the last use only moves forward, failures
/// are counted up (or reset) rather than set, and the cooldown, failures and auth-failed mark are
/// only written while the account's `reset_epoch` is the one they were observed at, so a user's
/// reset made meanwhile (by the CLI, say) is not undone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimePatch {
    pub provider_id: String,
    pub alias: String,
    /// The account's `reset_epoch` when this was observed.
    pub epoch: u32,
    pub last_used_at: Option<Millis>,
    pub cooldown: Option<(Option<Millis>, Option<CooldownReason>)>,
    pub failures: Option<FailureCount>,
    pub auth_failed: Option<bool>,
}

impl RuntimePatch {
    /// An empty patch for `account`, at its current epoch.
    pub fn for_account(account: &Account) -> RuntimePatch {
        RuntimePatch {
            provider_id: account.provider_id.clone(),
            alias: account.alias.clone(),
            epoch: account.reset_epoch,
            ..Default::default()
        }
    }
}

/// A change of an account's consecutive failures: back to zero first or not, then up by `add`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureCount {
    pub reset: bool,
    pub add: u32,
}

impl FailureCount {
    pub const RESET: FailureCount = FailureCount { reset: true, add: 0 };
    pub const ONE_MORE: FailureCount = FailureCount { reset: false, add: 1 };

    /// `self`, then `later`.
    pub fn then(self, later: FailureCount) -> FailureCount {
        if later.reset {
            later
        } else {
            FailureCount {
                reset: self.reset,
                add: self.add.saturating_add(later.add),
            }
        }
    }

    pub fn apply(self, failures: u32) -> u32 {
        let base = if self.reset { 0 } else { failures };
        base.saturating_add(self.add)
    }
}

/// A provider's active account changed by the hot path (failover), at the provider's
/// `active_epoch` it was chosen at: a user's activation made since wins.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivePatch {
    pub provider_id: String,
    pub alias: String,
    pub epoch: u32,
}

thread_local! {
    /// Account rows read on this thread (the store's own thread, one per store).
    static ROWS_READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Account rows read so far on the calling thread: run on the store thread, how much a job
/// read back (the registry's reload after a change is meant to stay small).
pub fn account_rows_read() -> u64 {
    ROWS_READ.with(|n| n.get())
}

fn count_rows_read(n: usize) {
    ROWS_READ.with(|c| c.set(c.get() + n as u64));
}

const ACCOUNT_COLUMNS: &str = "provider_id, alias, auth_json, created_at, updated_at, last_used_at,
     rate_limited_until, cooldown_reason, failures, disabled, auth_failed, reset_epoch,
     token_generation, login_required, token_refreshed_at, owner";

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

    /// Writes hot-path bookkeeping in one transaction. Rows removed meanwhile are skipped.
    pub fn apply_runtime(&mut self, patches: &[RuntimePatch], actives: &[ActivePatch]) -> Result<()> {
        if patches.is_empty() && actives.is_empty() {
            return Ok(());
        }
        self.write_bookkeeping(|tx| {
            for p in patches {
                if let Some(t) = p.last_used_at {
                    tx.prepare_cached(
                        "UPDATE accounts SET last_used_at = MAX(COALESCE(last_used_at, 0), ?3) WHERE provider_id = ?1 AND alias = ?2",
                    )?
                    .execute(params![p.provider_id, p.alias, t])?;
                }
                if let Some((until, reason)) = &p.cooldown {
                    tx.prepare_cached(
                        "UPDATE accounts SET rate_limited_until = ?4, cooldown_reason = ?5
                         WHERE provider_id = ?1 AND alias = ?2 AND reset_epoch = ?3",
                    )?
                    .execute(params![p.provider_id, p.alias, p.epoch, until, reason.map(CooldownReason::as_str)])?;
                }
                if let Some(f) = p.failures {
                    tx.prepare_cached(
                        "UPDATE accounts SET failures = CASE WHEN ?4 THEN 0 ELSE failures END + ?5
                         WHERE provider_id = ?1 AND alias = ?2 AND reset_epoch = ?3",
                    )?
                    .execute(params![p.provider_id, p.alias, p.epoch, f.reset, f.add])?;
                }
                if let Some(a) = p.auth_failed {
                    tx.prepare_cached(
                        "UPDATE accounts SET auth_failed = ?4 WHERE provider_id = ?1 AND alias = ?2 AND reset_epoch = ?3",
                    )?
                    .execute(params![p.provider_id, p.alias, p.epoch, a])?;
                }
            }
            for a in actives {
                if exists(tx, &a.provider_id, &a.alias)? {
                    tx.prepare_cached(
                        "INSERT INTO provider_state (provider_id, active_alias, active_epoch) VALUES (?1, ?2, ?3)
                         ON CONFLICT (provider_id) DO UPDATE SET active_alias = excluded.active_alias
                         WHERE active_epoch = excluded.active_epoch",
                    )?
                    .execute(params![a.provider_id, a.alias, a.epoch])?;
                }
            }
            Ok(())
        })
    }

    pub(super) fn load_accounts(&self, provider: Option<&str>) -> Result<Vec<Account>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE (?1 IS NULL OR provider_id = ?1) ORDER BY provider_id, alias"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([provider], read_account)?;
        let mut out = Vec::new();
        for row in rows {
            match row? {
                Ok(acc) => out.push(acc),
                Err(unparsed) => skipped(unparsed),
            }
        }
        count_rows_read(out.len());
        Ok(out)
    }

    /// One account with its newest usage snapshot; `None` when there is none (or its stored
    /// credential does not parse).
    pub(super) fn load_account(&self, provider: &str, alias: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE provider_id = ?1 AND alias = ?2");
        let row = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![provider, alias], read_account)
            .optional()?;
        count_rows_read(usize::from(row.is_some()));
        let Some(mut account) = row.and_then(|r| r.map_err(skipped).ok()) else {
            return Ok(None);
        };
        account.usage = self.load_usage_of(provider, alias)?.map(Box::new);
        Ok(Some(account))
    }

    /// (provider, active alias, active epoch) of every provider with a state row, an active
    /// account or not: the epoch counts either way.
    pub(super) fn load_active(&self, provider: Option<&str>) -> Result<Vec<(String, Option<String>, u32)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, active_alias, active_epoch FROM provider_state
             WHERE ?1 IS NULL OR provider_id = ?1",
        )?;
        let rows = stmt.query_map([provider], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

type AccountRow = std::result::Result<Account, (String, String)>;

fn skipped((provider, alias): (String, String)) {
    tracing::warn!(provider = %provider, alias = %alias, "skipping an account whose stored credential does not parse")
}

fn read_account(r: &Row) -> rusqlite::Result<AccountRow> {
    let provider_id: String = r.get(0)?;
    let alias: String = r.get(1)?;
    let auth_json: String = r.get(2)?;
    let owner: Option<String> = r.get(15)?;
    // A credential another program holds is not auth.json's shape: only its id and kind are kept.
    let parsed = match owner {
        Some(owner) => super::host::host_auth(&owner, &auth_json),
        None => serde_json::from_str::<Auth>(&auth_json).ok(),
    };
    let Some(auth) = parsed else {
        return Ok(Err((provider_id, alias)));
    };
    Ok(Ok(Account {
        provider_id,
        alias,
        auth,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        last_used_at: r.get(5)?,
        cooldown_until: r.get(6)?,
        // Text at the store edge; a name this version does not know rests without a reason.
        cooldown_reason: r.get::<_, Option<String>>(7)?.and_then(|t| t.parse().ok()),
        failures: r.get::<_, Option<u32>>(8)?.unwrap_or(0),
        disabled: r.get::<_, Option<bool>>(9)?.unwrap_or(false),
        auth_failed: r.get::<_, Option<bool>>(10)?.unwrap_or(false),
        reset_epoch: r.get(11)?,
        usage: None,
        token: TokenState {
            generation: r.get::<_, Option<i64>>(12)?.unwrap_or(0) as u64,
            login_required: r.get::<_, Option<bool>>(13)?.unwrap_or(false),
            refreshed_at: r.get(14)?,
        },
    }))
}

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

pub(super) fn exists(tx: &Transaction, provider: &str, alias: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM accounts WHERE provider_id = ?1 AND alias = ?2")?
        .exists(params![provider, alias])?)
}

fn require(tx: &Transaction, provider: &str, alias: &str) -> Result<()> {
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
