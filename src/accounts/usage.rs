//! How the registry serves and takes usage: the accounts the usage refresher reads (with a cheap
//! change fingerprint), and applying a snapshot — stored, put in memory (`AccountView.usage`, the
//! `quota` strategy and `softLimitPercent` read it), and an exact one moves the cooldown: under
//! 100 % used it clears a stale rate-limit/quota cooldown, at 100 % with a reset time it cools the
//! account down until then. Runtime fields go through `RegistryState::patch`, so they are flushed
//! like every other bookkeeping change.

use std::hash::{Hash, Hasher};

use actix::prelude::*;

use super::messages::RegistryError;
use super::state::RegistryState;
use super::AccountRegistry;
use crate::accounts::rules::cooldown::hint::{asked_secs_text, clamp_until, COOLDOWN_LIMITS};
use crate::model::{Account, Auth, Confidence, CooldownReason, EventKind, Millis, NewEvent, UsageSnapshot};
use crate::store::{FailureCount, RuntimePatch};

/// The usage refresher's view of the accounts, sent only when they changed since `known` (a
/// fingerprint of names, credentials and disabled flags); the usage settings always.
#[derive(Message)]
#[rtype(result = "UsageTargetsReply")]
pub struct UsageTargets {
    pub known: u64,
}

#[derive(Debug, Clone)]
pub struct UsageTargetsReply {
    pub fingerprint: u64,
    pub usage_enabled: bool,
    pub interval_seconds: u64,
    /// `None`: unchanged since `known`.
    pub accounts: Option<Vec<UsageTarget>>,
}

/// One account as the usage refresher needs it.
#[derive(Debug, Clone)]
pub struct UsageTarget {
    pub provider_id: String,
    pub alias: String,
    pub auth: Auth,
    pub disabled: bool,
    pub usage: Option<UsageSnapshot>,
    /// A fingerprint of the credential (in memory only), to notice a new login.
    pub credential: u64,
}

/// Accounts with their credential and usage, optionally of one provider or one account; `fresh`
/// catches up with other processes' commits first.
#[derive(Message)]
#[rtype(result = "Vec<UsageTarget>")]
pub struct UsageAccounts {
    pub provider_id: Option<String>,
    pub alias: Option<String>,
    pub fresh: bool,
}

/// A usage snapshot read for an account: stored (with its raw payload, already redacted) and
/// applied to memory. An exact, error-free one under 100 % used clears a stale cooldown; one at
/// 100 % with a reset time cools the account down until then.
#[derive(Message)]
#[rtype(result = "Result<UsageApplied, RegistryError>")]
pub struct ApplyUsage {
    pub snapshot: UsageSnapshot,
    pub raw: Option<String>,
}

/// What applying a snapshot did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageApplied {
    /// Stored; the cooldown was left alone.
    Stored,
    CooldownCleared,
    CooldownSet(Millis),
    /// The account is gone; nothing was stored.
    Gone,
}

/// What a snapshot does to an account's cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    None,
    Clear,
    Set(Millis),
}

/// Cooldowns a usage reading may clear: those about quota or rate limits (not a refused
/// credential or a failing server, which usage says nothing about).
fn clearable(reason: Option<CooldownReason>) -> bool {
    matches!(reason, None | Some(CooldownReason::RateLimit | CooldownReason::Quota))
}

/// The cooldown change `s` calls for on `account` at `now`.
pub(super) fn effect(account: &Account, s: &UsageSnapshot, now: Millis) -> Effect {
    if !s.is(Confidence::Exact) || s.error.is_some() {
        return Effect::None;
    }
    let Some(used) = s.used_percent else {
        return Effect::None;
    };
    if used < 100.0 {
        return if account.cooling_down(now) && clearable(account.cooldown_reason) {
            Effect::Clear
        } else {
            Effect::None
        };
    }
    match s.reset_at.filter(|r| *r > now) {
        Some(reset) => {
            let until = clamp_until(now, reset, COOLDOWN_LIMITS).until;
            if account.cooldown_until.is_some_and(|u| u >= until) {
                Effect::None
            } else {
                Effect::Set(until)
            }
        }
        None => Effect::None,
    }
}

/// A fingerprint of a credential (memory only, never shown).
fn credential_hash(auth: &Auth) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    auth.auth_type().hash(&mut h);
    auth.secrets().hash(&mut h);
    if let Auth::Oauth {
        account_id,
        enterprise_url,
        metadata,
        ..
    } = auth
    {
        (account_id, enterprise_url, metadata).hash(&mut h);
    }
    h.finish()
}

/// A cheap fingerprint of every account's name, state and credential: lengths and tails of the
/// secrets rather than whole tokens, and no allocation, so it costs little with thousands of
/// accounts. Callers reuse it while `accounts_revision` stays ([`AccountRegistry::usage_fingerprint`]).
fn fingerprint(state: &RegistryState) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (p, accounts) in &state.providers {
        p.hash(&mut h);
        for a in accounts.values() {
            (&a.alias, a.disabled, a.updated_at).hash(&mut h);
            for s in a.auth.secret_parts() {
                let tail = s.len().saturating_sub(16);
                (s.len(), s.get(tail..)).hash(&mut h);
            }
        }
    }
    h.finish()
}

/// Which accounts to hand the refresher.
enum Pick<'a> {
    /// Those some provider client can read (the schedule): others would only cost memory there.
    Pollable,
    /// Optionally one provider, optionally one alias (usage.list / usage.refresh).
    Matching(Option<&'a str>, Option<&'a str>),
}

fn targets(state: &RegistryState, pick: Pick<'_>) -> Vec<UsageTarget> {
    let (provider, alias) = match pick {
        Pick::Pollable => (None, None),
        Pick::Matching(p, a) => (p, a),
    };
    let pollable_only = matches!(pick, Pick::Pollable);
    state
        .providers
        .iter()
        .filter(|(p, _)| provider.is_none_or(|want| want == p.as_str()))
        .filter(|(p, _)| !pollable_only || crate::usage::pollable(p))
        .flat_map(|(_, accounts)| accounts.values())
        .filter(|a| alias.is_none_or(|want| want == a.alias))
        .map(|a| UsageTarget {
            provider_id: a.provider_id.clone(),
            alias: a.alias.clone(),
            auth: a.auth.clone(),
            disabled: a.disabled,
            usage: a.usage.as_deref().cloned(),
            credential: credential_hash(&a.auth),
        })
        .collect()
}

impl Handler<UsageTargets> for AccountRegistry {
    type Result = MessageResult<UsageTargets>;
    fn handle(&mut self, msg: UsageTargets, _: &mut Context<Self>) -> Self::Result {
        let fingerprint = self.usage_fingerprint();
        MessageResult(UsageTargetsReply {
            fingerprint,
            usage_enabled: self.state.settings.usage_enabled,
            interval_seconds: self.state.settings.usage_interval_seconds,
            // Only accounts some provider client can read are scheduled: the rest would only cost
            // memory in the refresher (they get an `unavailable` snapshot when asked).
            accounts: (fingerprint != msg.known).then(|| targets(&self.state, Pick::Pollable)),
        })
    }
}

impl Handler<UsageAccounts> for AccountRegistry {
    type Result = ResponseActFuture<Self, Vec<UsageTarget>>;
    fn handle(&mut self, msg: UsageAccounts, _: &mut Context<Self>) -> Self::Result {
        let answer = move |this: &mut Self| {
            targets(
                &this.state,
                Pick::Matching(msg.provider_id.as_deref(), msg.alias.as_deref()),
            )
        };
        if msg.fresh {
            self.fresh(answer)
        } else {
            Box::pin(actix::fut::ready(answer(self)))
        }
    }
}

impl Handler<ApplyUsage> for AccountRegistry {
    type Result = ResponseActFuture<Self, Result<UsageApplied, RegistryError>>;
    fn handle(&mut self, msg: ApplyUsage, _: &mut Context<Self>) -> Self::Result {
        let s = &msg.snapshot;
        if self.state.account(&s.provider_id, &s.alias).is_none() {
            return Box::pin(actix::fut::ready(Ok(UsageApplied::Gone)));
        }
        let (snapshot, raw) = (msg.snapshot.clone(), msg.raw);
        self.store_job(
            move |store| store.save_usage(&snapshot, raw.as_deref()),
            move |this, result| {
                let applied = this.apply_usage(msg.snapshot);
                match result {
                    Ok((_, Ok(()))) => Ok(applied),
                    Ok((_, Err(e))) | Err(e) => Err(RegistryError::from(e)),
                }
            },
        )
    }
}

impl AccountRegistry {
    /// The accounts' [`fingerprint`], hashed again only when they changed since it was last: the
    /// refresher asks every 30 s, and hashing 10,000 accounts held the actor's thread (and the
    /// failover waiting on it) for about a millisecond.
    fn usage_fingerprint(&mut self) -> u64 {
        let state = &self.state;
        *self
            .usage_fingerprint
            .get(state.accounts_revision(), || fingerprint(state))
    }

    /// Puts `s` in memory and applies its cooldown effect.
    fn apply_usage(&mut self, s: UsageSnapshot) -> UsageApplied {
        let now = self.now();
        let (p, a) = (s.provider_id.clone(), s.alias.clone());
        let Some(account) = self.state.account_mut(&p, &a) else {
            return UsageApplied::Gone;
        };
        let effect = effect(account, &s, now);
        let clamped = s
            .reset_at
            .map(|r| clamp_until(now, r, COOLDOWN_LIMITS))
            .filter(|c| c.clamped);
        let used = s.used_percent.unwrap_or_default();
        account.usage = Some(Box::new(s));
        let base = RuntimePatch::for_account(account);
        match effect {
            Effect::None => UsageApplied::Stored,
            Effect::Clear => {
                self.state.patch(RuntimePatch {
                    cooldown: Some((None, None)),
                    failures: Some(FailureCount::RESET),
                    ..base
                });
                self.publish(
                    NewEvent::new(
                        EventKind::CooldownCleared,
                        format!("{p}/{a} cooldown cleared: its usage reads {used:.0}% used"),
                    )
                    .account(&p, &a)
                    .meta("source", "usage")
                    .meta("usedPercent", used),
                );
                UsageApplied::CooldownCleared
            }
            Effect::Set(until) => {
                self.state.patch(RuntimePatch {
                    cooldown: Some((Some(until), Some(CooldownReason::Quota))),
                    ..base
                });
                let event = NewEvent::new(
                    EventKind::RateLimitDetected,
                    format!("{p}/{a} has used its whole quota; cooling down until it resets"),
                )
                .account(&p, &a)
                .meta("reason", CooldownReason::Quota.as_str())
                .meta("source", "usage")
                .meta("until", until);
                // The reset time passes the same clamping rule as every hint, and says so.
                self.publish(match clamped {
                    Some(c) => event
                        .meta("clamped", "true")
                        .meta("hintSeconds", asked_secs_text(c.asked_secs)),
                    None => event,
                });
                UsageApplied::CooldownSet(until)
            }
        }
    }
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
