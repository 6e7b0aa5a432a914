//! The registry's in-memory state: accounts by provider, active accounts, priority, settings,
//! and the runtime bookkeeping not yet written to the store.
//!
//! Two rules keep memory and the store in step while store jobs complete in any order:
//! - every snapshot carries the store generation it was read at; a provider (or the priority and
//!   settings) is only replaced by a snapshot newer than the one it last came from;
//! - runtime changes not yet written (queued, or in flight with a store job: see
//!   `outbox`) are laid over every snapshot that replaces their provider, so a snapshot
//!   read before they were written cannot erase them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::outbox::{Flush, Outbox};
use crate::model::{Account, AccountView, Millis, PriorityEntry, Settings};
use crate::store::{ActivePatch, RuntimePatch, Snapshot};

/// Which part of the state a snapshot covers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scope<'a> {
    All,
    Provider(&'a str),
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
    /// Each provider's round-robin position (`balancer::select`).
    pub(super) rr_cursors: HashMap<String, usize>,
    /// Runtime changes on their way to the store.
    outbox: Outbox,
    /// Store generation each provider's accounts were last read at.
    provider_generation: HashMap<String, u64>,
    /// Store generation of the last whole read, and of the priority/settings/pending part.
    all_generation: u64,
    meta_generation: u64,
}

impl RegistryState {
    /// Applies a snapshot read at `generation`, keeping whatever memory holds from a later read.
    pub(super) fn apply_snapshot(&mut self, snap: Snapshot, scope: Scope<'_>, generation: u64) {
        let mut grouped: BTreeMap<String, Vec<(String, Account)>> = BTreeMap::new();
        for a in snap.accounts {
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
        let providers: BTreeSet<String> = match scope {
            Scope::Provider(p) => [p.to_string()].into(),
            Scope::All => self.providers.keys().chain(incoming.keys()).cloned().collect(),
        };
        let mut replaced = BTreeSet::new();
        for p in providers {
            let newest = self
                .provider_generation
                .get(&p)
                .copied()
                .unwrap_or(0)
                .max(self.all_generation);
            if generation < newest {
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
            match snap.active.get(&p) {
                Some(a) => self.active.insert(p.clone(), a.clone()),
                None => self.active.remove(&p),
            };
            match snap.active_epochs.get(&p) {
                Some(e) => self.active_epochs.insert(p.clone(), *e),
                None => self.active_epochs.remove(&p),
            };
            self.provider_generation.insert(p.clone(), generation);
            replaced.insert(p);
        }
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
            .filter(|p| replaced.contains(&p.provider_id))
            .cloned()
            .collect();
        for patch in &unwritten {
            self.overlay(patch);
        }
        let actives: Vec<ActivePatch> = (self.outbox.unwritten_actives())
            .filter(|a| replaced.contains(&a.provider_id))
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

    fn overlay(&mut self, p: &RuntimePatch) {
        if let Some(a) = self.account_mut(&p.provider_id, &p.alias) {
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

    pub(super) fn account_mut(&mut self, provider: &str, alias: &str) -> Option<&mut Account> {
        self.providers.get_mut(provider)?.get_mut(alias)
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
mod tests {
    use super::*;
    use crate::model::CooldownReason;
    use crate::store::FailureCount;

    fn acc(p: &str, a: &str) -> Account {
        Account::for_test(p, a)
    }

    fn snap(accounts: Vec<Account>) -> Snapshot {
        Snapshot {
            accounts,
            ..Default::default()
        }
    }

    #[test]
    fn an_older_snapshot_never_replaces_a_newer_one_of_the_same_provider() {
        let mut s = RegistryState::default();
        s.apply_snapshot(snap(vec![acc("p", "a"), acc("p", "b")]), Scope::Provider("p"), 5);
        s.apply_snapshot(snap(vec![acc("q", "x")]), Scope::Provider("q"), 6);
        s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::Provider("p"), 4);
        assert_eq!(s.account_count(), 3, "p's gen-4 read is older than its gen-5 read");
        s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 3);
        assert_eq!(
            s.account_count(),
            3,
            "a whole read older than each provider's changes nothing"
        );
        s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 7);
        assert_eq!(s.account_count(), 1);
    }

    #[test]
    fn queued_changes_survive_a_snapshot_read_before_they_were_written() {
        let mut s = RegistryState::default();
        s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 1);
        s.patch(RuntimePatch {
            provider_id: "p".into(),
            alias: "a".into(),
            cooldown: Some((Some(99), None)),
            ..Default::default()
        });
        let flush = s.take_flush();
        s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::Provider("p"), 2);
        assert_eq!(s.account("p", "a").unwrap().cooldown_until, Some(99));
        s.settle_flush(flush.id, true);
        assert!(!s.has_pending_flush());
    }

    #[test]
    fn a_users_reset_read_from_the_store_drops_bookkeeping_queued_before_it_but_not_the_last_use() {
        let mut s = RegistryState::default();
        s.apply_snapshot(snap(vec![acc("p", "a")]), Scope::All, 1);
        s.patch(RuntimePatch {
            cooldown: Some((Some(99), Some(CooldownReason::RateLimit))),
            failures: Some(FailureCount::ONE_MORE),
            last_used_at: Some(5),
            ..RuntimePatch::for_account(&acc("p", "a"))
        });
        let reset = Account {
            reset_epoch: 1,
            ..acc("p", "a")
        };
        s.apply_snapshot(snap(vec![reset.clone()]), Scope::Provider("p"), 2);
        let a = s.account("p", "a").unwrap();
        assert_eq!((a.cooldown_until, a.failures, a.last_used_at), (None, 0, Some(5)));
        s.patch(RuntimePatch {
            failures: Some(FailureCount::ONE_MORE),
            ..RuntimePatch::for_account(&reset)
        });
        let queued = &s.take_flush().patches[0];
        assert_eq!((queued.epoch, queued.cooldown), (1, None), "the stale cooldown is gone");
        assert_eq!(queued.failures, Some(FailureCount::ONE_MORE));
        assert_eq!(queued.last_used_at, Some(5));
    }

    #[test]
    fn a_users_activation_read_from_the_store_wins_over_a_failover_queued_before_it() {
        let mut s = RegistryState::default();
        let both = || snap(vec![acc("p", "a"), acc("p", "b")]);
        s.apply_snapshot(both(), Scope::All, 1);
        s.set_active_runtime("p", "b");
        let activated = Snapshot {
            active: [("p".to_string(), "a".to_string())].into(),
            active_epochs: [("p".to_string(), 1)].into(),
            ..both()
        };
        s.apply_snapshot(activated, Scope::Provider("p"), 2);
        assert_eq!(s.active["p"], "a");
        assert_eq!(s.take_flush().actives[0].epoch, 0, "the store refuses it too");
    }
}
