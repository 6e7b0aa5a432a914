//! The registry's in-memory state: accounts by provider, active accounts, priority, settings,
//! and the runtime bookkeeping not yet written to the store.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Account, AccountView, Millis, PriorityEntry, Settings};
use crate::store::{ActivePatch, RuntimePatch, Snapshot};

#[derive(Default)]
pub struct RegistryState {
    pub providers: BTreeMap<String, BTreeMap<String, Account>>,
    pub active: HashMap<String, String>,
    pub priority: Vec<PriorityEntry>,
    pub settings: Settings,
    pub pending: usize,
    /// Runtime changes made since the last flush, by (provider, alias).
    pub dirty: HashMap<(String, String), RuntimePatch>,
    pub dirty_active: Vec<ActivePatch>,
}

impl RegistryState {
    /// Replaces the state with a snapshot (whole, or one provider's part), then re-applies the
    /// runtime changes not yet flushed so they are not lost.
    pub fn apply_snapshot(&mut self, snap: Snapshot, provider: Option<&str>) {
        match provider {
            Some(p) => {
                self.providers.remove(p);
                self.active.remove(p);
            }
            None => {
                self.providers.clear();
                self.active.clear();
            }
        }
        for a in snap.accounts {
            self.providers
                .entry(a.provider_id.clone())
                .or_default()
                .insert(a.alias.clone(), a);
        }
        self.active.extend(snap.active);
        self.priority = snap.priority;
        self.settings = snap.settings;
        self.pending = snap.pending;
        let dirty: Vec<RuntimePatch> = self.dirty.values().cloned().collect();
        for patch in &dirty {
            self.overlay(patch);
        }
        for a in self.dirty_active.clone() {
            if self.account(&a.provider_id, &a.alias).is_some() {
                self.active.insert(a.provider_id, a.alias);
            }
        }
    }

    fn overlay(&mut self, p: &RuntimePatch) {
        if let Some(a) = self.account_mut(&p.provider_id, &p.alias) {
            if let Some(t) = p.last_used_at {
                a.last_used_at = Some(a.last_used_at.map_or(t, |x| x.max(t)));
            }
            if let Some((until, reason)) = &p.cooldown {
                a.cooldown_until = *until;
                a.cooldown_reason = reason.clone();
            }
            if let Some(f) = p.failures {
                a.failures = f;
            }
            if let Some(f) = p.auth_failed {
                a.auth_failed = f;
            }
        }
    }

    /// Applies a runtime change in memory now and queues it for the store.
    pub fn patch(&mut self, patch: RuntimePatch) {
        self.overlay(&patch);
        let key = (patch.provider_id.clone(), patch.alias.clone());
        let slot = self.dirty.entry(key).or_insert_with(|| RuntimePatch {
            provider_id: patch.provider_id.clone(),
            alias: patch.alias.clone(),
            ..Default::default()
        });
        if patch.last_used_at.is_some() {
            slot.last_used_at = patch.last_used_at;
        }
        if patch.cooldown.is_some() {
            slot.cooldown = patch.cooldown;
        }
        if patch.failures.is_some() {
            slot.failures = patch.failures;
        }
        if patch.auth_failed.is_some() {
            slot.auth_failed = patch.auth_failed;
        }
    }

    pub fn set_active_runtime(&mut self, provider: &str, alias: &str) {
        self.active.insert(provider.to_string(), alias.to_string());
        self.dirty_active.retain(|a| a.provider_id != provider);
        self.dirty_active.push(ActivePatch {
            provider_id: provider.into(),
            alias: alias.into(),
        });
    }

    /// Takes the queued runtime changes for a flush.
    pub fn take_dirty(&mut self) -> (Vec<RuntimePatch>, Vec<ActivePatch>) {
        (
            self.dirty.drain().map(|(_, v)| v).collect(),
            std::mem::take(&mut self.dirty_active),
        )
    }

    /// Puts back changes whose flush failed, under any newer ones.
    pub fn restore_dirty(&mut self, patches: Vec<RuntimePatch>, actives: Vec<ActivePatch>) {
        for p in patches {
            self.dirty.entry((p.provider_id.clone(), p.alias.clone())).or_insert(p);
        }
        for a in actives {
            if !self.dirty_active.iter().any(|x| x.provider_id == a.provider_id) {
                self.dirty_active.push(a);
            }
        }
    }

    pub fn account(&self, provider: &str, alias: &str) -> Option<&Account> {
        self.providers.get(provider)?.get(alias)
    }

    pub fn account_mut(&mut self, provider: &str, alias: &str) -> Option<&mut Account> {
        self.providers.get_mut(provider)?.get_mut(alias)
    }

    pub fn is_active(&self, provider: &str, alias: &str) -> bool {
        self.active.get(provider).is_some_and(|a| a == alias)
    }

    pub fn view(&self, provider: &str, alias: &str, now: Millis) -> Option<AccountView> {
        self.account(provider, alias)
            .map(|a| a.view(self.is_active(provider, alias), now))
    }

    pub fn views(&self, provider: Option<&str>, now: Millis) -> Vec<AccountView> {
        self.providers
            .iter()
            .filter(|(p, _)| provider.is_none_or(|want| want == p.as_str()))
            .flat_map(|(p, accounts)| accounts.values().map(move |a| a.view(self.is_active(p, &a.alias), now)))
            .collect()
    }

    pub fn account_count(&self) -> usize {
        self.providers.values().map(BTreeMap::len).sum()
    }

    /// Whether the provider has an account usable at `now`.
    pub fn has_healthy(&self, provider: &str, now: Millis) -> bool {
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
