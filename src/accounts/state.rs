//! The registry's in-memory state: accounts by provider, active accounts, priority, settings,
//! and the runtime bookkeeping not yet written to the store.
//!
//! Two rules keep memory and the store in step while store jobs complete in any order:
//! - every snapshot carries the store generation it was read at; a provider (or the priority and
//!   settings) is only replaced by a snapshot newer than the one it last came from;
//! - runtime changes not yet written (queued, or in flight with a store job: see
//!   `bookkeeping`) are laid over every snapshot that replaces their provider, so a snapshot
//!   read before they were written cannot erase them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::bookkeeping::{Flush, Outbox};
use crate::model::{Account, AccountView, Millis, PriorityEntry, Settings};
pub(super) use crate::store::Scope;
use crate::store::{ActivePatch, RuntimePatch, Snapshot};

/// What a snapshot replaced in memory: the bookkeeping not yet written is laid over exactly that.
enum Replaced {
    Providers(BTreeSet<String>),
    Accounts(String, Vec<String>),
}

impl Replaced {
    fn provider(&self, provider: &str) -> bool {
        match self {
            Replaced::Providers(ps) => ps.contains(provider),
            Replaced::Accounts(p, _) => p == provider,
        }
    }

    fn account(&self, provider: &str, alias: &str) -> bool {
        match self {
            Replaced::Providers(ps) => ps.contains(provider),
            Replaced::Accounts(p, aliases) => p == provider && aliases.iter().any(|a| a == alias),
        }
    }
}

/// A value computed from the accounts, kept while [`RegistryState::accounts_revision`] stays:
/// what a periodic question about every account (the usage fingerprint, the OAuth accounts)
/// reuses instead of walking thousands of accounts on the registry's thread each time.
pub(super) struct ByRevision<T>(Option<(u64, T)>);

impl<T> Default for ByRevision<T> {
    fn default() -> Self {
        ByRevision(None)
    }
}

impl<T> ByRevision<T> {
    /// The value at `revision`, computed by `compute` when it was kept at another one (or none).
    pub(super) fn get(&mut self, revision: u64, compute: impl FnOnce() -> T) -> &T {
        if self.0.as_ref().is_none_or(|(at, _)| *at != revision) {
            self.0 = Some((revision, compute()));
        }
        &self.0.as_ref().expect("just set").1
    }
}

#[derive(Default)]
pub(super) struct RegistryState {
    pub(super) providers: BTreeMap<String, BTreeMap<String, Account>>,
    pub(super) active: HashMap<String, String>,
    /// The store's `active_epoch` of each provider, as last read.
    active_epochs: HashMap<String, u32>,
    pub(super) priority: Vec<PriorityEntry>,
    pub(super) settings: Settings,
    pub(super) pending: usize,
    /// Each provider's round-robin position (`rules::select`).
    pub(super) rr_cursors: HashMap<String, usize>,
    /// Runtime changes on their way to the store.
    outbox: Outbox,
    /// Store generation each provider's accounts were last read at.
    provider_generation: HashMap<String, u64>,
    /// Store generation of the last whole read, and of the priority/settings/pending part.
    all_generation: u64,
    meta_generation: u64,
    /// Bumped whenever accounts may have changed other than by runtime bookkeeping (a snapshot
    /// applied, an account handed out for change): what the usage fingerprint is cached against.
    accounts_revision: u64,
}

impl RegistryState {
    /// Applies a snapshot read at `generation`, keeping whatever memory holds from a later read.
    pub(super) fn apply_snapshot(&mut self, mut snap: Snapshot, scope: Scope<'_>, generation: u64) {
        let accounts = std::mem::take(&mut snap.accounts);
        self.accounts_revision += 1;
        let replaced = match scope {
            Scope::All => self.replace_providers(accounts, &snap, None, generation),
            Scope::Provider(p) => self.replace_providers(accounts, &snap, Some(p), generation),
            Scope::Accounts(p, aliases) => self.replace_accounts(accounts, &snap, p, aliases, generation),
            Scope::Meta => Replaced::Providers(BTreeSet::new()),
        };
        if matches!(scope, Scope::All) {
            self.all_generation = self.all_generation.max(generation);
        }
        if generation >= self.meta_generation {
            self.meta_generation = generation;
            self.priority = snap.priority;
            self.settings = snap.settings;
            self.pending = snap.pending;
        }
        // Only over what this snapshot replaced: the rest of memory has these changes already.
        let unwritten: Vec<RuntimePatch> = (self.outbox.unwritten())
            .filter(|p| replaced.account(&p.provider_id, &p.alias))
            .cloned()
            .collect();
        for patch in &unwritten {
            self.overlay(patch);
        }
        let actives: Vec<ActivePatch> = (self.outbox.unwritten_actives())
            .filter(|a| replaced.provider(&a.provider_id))
            .cloned()
            .collect();
        for a in actives {
            // A user's activation since (a newer epoch) wins, here as in the store.
            let current = self.active_epochs.get(&a.provider_id).copied().unwrap_or(0);
            if current == a.epoch && self.account(&a.provider_id, &a.alias).is_some() {
                self.active.insert(a.provider_id, a.alias);
            }
        }
    }

    /// Store generation memory last read `provider` at (its own read, or a whole one).
    fn newest(&self, provider: &str) -> u64 {
        (self.provider_generation.get(provider).copied().unwrap_or(0)).max(self.all_generation)
    }

    /// Replaces every provider (`only`: that one) not read later than `generation`.
    fn replace_providers(
        &mut self,
        accounts: Vec<Account>,
        snap: &Snapshot,
        only: Option<&str>,
        generation: u64,
    ) -> Replaced {
        let mut grouped: BTreeMap<String, Vec<(String, Account)>> = BTreeMap::new();
        for a in accounts {
            grouped
                .entry(a.provider_id.clone())
                .or_default()
                .push((a.alias.clone(), a));
        }
        // Built in bulk, not insert by insert: a map filled in key order one insert at a time
        // leaves every node about half empty, which at 10,000 accounts is megabytes.
        let mut incoming: BTreeMap<String, BTreeMap<String, Account>> = grouped
            .into_iter()
            .map(|(p, accounts)| (p, accounts.into_iter().collect()))
            .collect();
        let providers: BTreeSet<String> = match only {
            Some(p) => [p.to_string()].into(),
            None => self.providers.keys().chain(incoming.keys()).cloned().collect(),
        };
        let mut replaced = BTreeSet::new();
        for p in providers {
            if generation < self.newest(&p) {
                continue;
            }
            match incoming.remove(&p) {
                Some(accounts) => {
                    self.providers.insert(p.clone(), accounts);
                }
                None => {
                    self.providers.remove(&p);
                }
            }
            self.replace_active(&p, snap);
            self.provider_generation.insert(p.clone(), generation);
            replaced.insert(p);
        }
        Replaced::Providers(replaced)
    }

    /// Replaces the accounts `aliases` of `provider` (removing those `accounts` lacks) and its
    /// active account, unless memory read the provider later than `generation`. The provider's
    /// generation stays: its other accounts were not read. (No older read of it can follow:
    /// store answers are applied in the order their jobs ran.)
    fn replace_accounts(
        &mut self,
        accounts: Vec<Account>,
        snap: &Snapshot,
        provider: &str,
        aliases: &[String],
        generation: u64,
    ) -> Replaced {
        if generation < self.newest(provider) {
            return Replaced::Providers(BTreeSet::new());
        }
        let map = self.providers.entry(provider.to_string()).or_default();
        for alias in aliases {
            map.remove(alias);
        }
        for a in accounts
            .into_iter()
            .filter(|a| a.provider_id == provider && aliases.contains(&a.alias))
        {
            map.insert(a.alias.clone(), a);
        }
        if map.is_empty() {
            self.providers.remove(provider);
        }
        self.replace_active(provider, snap);
        Replaced::Accounts(provider.to_string(), aliases.to_vec())
    }

    fn replace_active(&mut self, p: &str, snap: &Snapshot) {
        match snap.active.get(p) {
            Some(a) => self.active.insert(p.to_string(), a.clone()),
            None => self.active.remove(p),
        };
        match snap.active_epochs.get(p) {
            Some(e) => self.active_epochs.insert(p.to_string(), *e),
            None => self.active_epochs.remove(p),
        };
    }

    /// Changes runtime bookkeeping only (no name, credential or flag: `accounts_revision` stays).
    fn overlay(&mut self, p: &RuntimePatch) {
        let account = self.providers.get_mut(&p.provider_id).and_then(|m| m.get_mut(&p.alias));
        if let Some(a) = account {
            if let Some(t) = p.last_used_at {
                a.last_used_at = Some(a.last_used_at.map_or(t, |x| x.max(t)));
            }
            // Observed before a reset the store has since made: the store will not take it either.
            if a.reset_epoch != p.epoch {
                return;
            }
            if let Some((until, reason)) = &p.cooldown {
                a.cooldown_until = *until;
                a.cooldown_reason = *reason;
            }
            if let Some(f) = p.failures {
                a.failures = f.apply(a.failures);
            }
            if let Some(f) = p.auth_failed {
                a.auth_failed = f;
            }
        }
    }

    /// Applies a runtime change in memory now and queues it for the store.
    pub(super) fn patch(&mut self, patch: RuntimePatch) {
        self.overlay(&patch);
        self.outbox.queue(patch);
    }

    pub(super) fn set_active_runtime(&mut self, provider: &str, alias: &str) {
        self.active.insert(provider.to_string(), alias.to_string());
        self.outbox.queue_active(ActivePatch {
            provider_id: provider.to_string(),
            alias: alias.to_string(),
            epoch: self.active_epochs.get(provider).copied().unwrap_or(0),
        });
    }

    /// The queued runtime changes, for one store job; settle them with [`Self::settle_flush`].
    pub(super) fn take_flush(&mut self) -> Flush {
        self.outbox.take()
    }

    /// The job that took flush `id` wrote it (`written`), or it goes with the next job. Call it
    /// before applying the snapshot that job read, since that snapshot has what it wrote.
    /// `false` when the flush was empty.
    pub(super) fn settle_flush(&mut self, id: u64, written: bool) -> bool {
        self.outbox.settle(id, written)
    }

    /// Notified whenever bookkeeping is queued.
    pub(super) fn flush_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox.signal()
    }

    /// Bookkeeping is queued and a flush is scheduled for it.
    pub(super) fn flush_owed(&self) -> bool {
        self.outbox.is_owed()
    }

    #[cfg(test)]
    pub(super) fn has_pending_flush(&self) -> bool {
        !self.outbox.is_empty()
    }

    pub(super) fn account(&self, provider: &str, alias: &str) -> Option<&Account> {
        self.providers.get(provider)?.get(alias)
    }

    /// The account, to change (counted as a change of accounts: see `accounts_revision`).
    pub(super) fn account_mut(&mut self, provider: &str, alias: &str) -> Option<&mut Account> {
        self.accounts_revision += 1;
        self.providers.get_mut(provider)?.get_mut(alias)
    }

    /// Changes with every change of accounts other than runtime bookkeeping.
    pub(super) fn accounts_revision(&self) -> u64 {
        self.accounts_revision
    }

    pub(super) fn is_active(&self, provider: &str, alias: &str) -> bool {
        self.active.get(provider).is_some_and(|a| a == alias)
    }

    pub(super) fn view(&self, provider: &str, alias: &str, now: Millis) -> Option<AccountView> {
        self.account(provider, alias)
            .map(|a| a.view(self.is_active(provider, alias), now))
    }

    pub(super) fn views(&self, provider: Option<&str>, now: Millis) -> Vec<AccountView> {
        self.providers
            .iter()
            .filter(|(p, _)| provider.is_none_or(|want| want == p.as_str()))
            .flat_map(|(p, accounts)| accounts.values().map(move |a| a.view(self.is_active(p, &a.alias), now)))
            .collect()
    }

    pub(super) fn account_count(&self) -> usize {
        self.providers.values().map(BTreeMap::len).sum()
    }

    /// Whether the provider has an account usable at `now` (the active one is checked first).
    pub(super) fn has_healthy(&self, provider: &str, now: Millis) -> bool {
        self.providers.get(provider).is_some_and(|m| {
            let active_ok = self
                .active
                .get(provider)
                .and_then(|a| m.get(a))
                .is_some_and(|a| a.is_healthy(now));
            active_ok || m.values().any(|a| a.is_healthy(now))
        })
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
