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

/// Which part of the state a read covers. Every part includes the priority, settings and
/// pending count.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    /// One provider's accounts and active account.
    Provider(&'a str),
    /// These accounts of one provider (one absent from the read no longer exists) and its
    /// active account: what a user's change to an account touched, without the provider's others.
    Accounts(&'a str, &'a [String]),
    /// None of the accounts.
    Meta,
}

impl Store {
    /// The whole state, or with `provider` only that provider's accounts and active alias (the
    /// priority, settings and pending count are always whole).
    pub fn load_snapshot(&self, provider: Option<&str>) -> Result<Snapshot> {
        self.load_scope(provider.map_or(Scope::All, Scope::Provider))
    }

    /// The part of the state `scope` names, as of one commit.
    pub fn load_scope(&self, scope: Scope<'_>) -> Result<Snapshot> {
        // One read transaction: every table as of the same commit.
        let tx = self.conn.unchecked_transaction()?;
        let snap = match scope {
            Scope::All => self.read_snapshot(None)?,
            Scope::Provider(p) => self.read_snapshot(Some(p))?,
            Scope::Accounts(p, aliases) => {
                let mut accounts = Vec::with_capacity(aliases.len());
                for a in aliases {
                    accounts.extend(self.load_account(p, a)?);
                }
                self.with_meta(accounts, self.load_active(Some(p))?)?
            }
            Scope::Meta => self.with_meta(Vec::new(), Vec::new())?,
        };
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
        self.with_meta(accounts, self.load_active(provider)?)
    }

    /// `accounts` and `active` (provider, active alias, epoch) with the priority, settings and
    /// pending count.
    fn with_meta(&self, accounts: Vec<Account>, active: Vec<(String, Option<String>, u32)>) -> Result<Snapshot> {
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
