//! Loading the whole state (or one provider's part) for the registry's memory.

use std::collections::HashMap;

use super::{Result, Store};
use crate::model::{Account, PriorityEntry, Settings};

/// Everything the registry holds in memory, as read from the store.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub accounts: Vec<Account>,
    pub active: HashMap<String, String>,
    /// Each provider's `active_epoch`, bumped by every user activation.
    pub active_epochs: HashMap<String, u32>,
    pub priority: Vec<PriorityEntry>,
    pub settings: Settings,
    pub pending: usize,
}

impl Store {
    /// The whole state, or with `provider` only that provider's accounts and active alias (the
    /// priority, settings and pending count are always whole).
    pub fn load_snapshot(&self, provider: Option<&str>) -> Result<Snapshot> {
        // One read transaction: every table as of the same commit.
        let tx = self.conn.unchecked_transaction()?;
        let snap = self.read_snapshot(provider)?;
        tx.commit()?;
        Ok(snap)
    }

    fn read_snapshot(&self, provider: Option<&str>) -> Result<Snapshot> {
        let mut accounts = self.load_accounts(provider)?;
        let usage: HashMap<(String, String), _> = self
            .load_usage(provider)?
            .into_iter()
            .map(|u| ((u.provider_id.clone(), u.alias.clone()), u))
            .collect();
        if !usage.is_empty() {
            for a in &mut accounts {
                a.usage = usage
                    .get(&(a.provider_id.clone(), a.alias.clone()))
                    .cloned()
                    .map(Box::new);
            }
        }
        let active = self.load_active(provider)?;
        Ok(Snapshot {
            accounts,
            active_epochs: active.iter().map(|(p, _, e)| (p.clone(), *e)).collect(),
            active: active.into_iter().filter_map(|(p, a, _)| Some((p, a?))).collect(),
            priority: self.list_priority()?,
            settings: self.load_settings()?,
            pending: self.pending_count()?,
        })
    }
}
