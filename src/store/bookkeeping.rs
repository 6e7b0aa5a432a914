//! High-rate bookkeeping from the hot path (last use, cooldowns, failure counts, the auth-failed
//! mark, a failover's active account), written in batches without undoing another process's change.

use rusqlite::params;

use super::account_rows::exists;
use super::{Result, Store};
use crate::model::{Account, CooldownReason, Millis};

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

impl Store {
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
}
