//! How the registry serves and takes usage: the accounts the usage refresher reads (with a cheap
//! change fingerprint), and applying a snapshot — stored, put in memory (`AccountView.usage`, the
//! `quota` strategy and `softLimitPercent` read it), and an exact one moves the cooldown: under
//! 100 % used it clears a stale rate-limit/quota cooldown, at 100 % with a reset time it cools the
//! account down until then. Runtime fields go through `RegistryState::patch`, so they are flushed
//! like every other bookkeeping change.

use std::hash::{Hash, Hasher};

use actix::prelude::*;

use super::messages::{
    ApplyUsage, RegistryError, UsageAccounts, UsageApplied, UsageTarget, UsageTargets, UsageTargetsReply,
};
use super::state::RegistryState;
use super::AccountRegistry;
use crate::balancer::hint::{asked_secs_text, clamp_until, COOLDOWN_LIMITS};
use crate::model::{Account, Auth, EventKind, Millis, NewEvent, UsageSnapshot};
use crate::store::{FailureCount, RuntimePatch};

/// What a snapshot does to an account's cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    Clear,
    Set(Millis),
}

/// Cooldowns a usage reading may clear: those about quota or rate limits (not a refused
/// credential or a failing server, which usage says nothing about).
fn clearable(reason: Option<&str>) -> bool {
    matches!(reason, None | Some("rate_limit") | Some("quota"))
}

/// The cooldown change `s` calls for on `account` at `now`.
pub fn effect(account: &Account, s: &UsageSnapshot, now: Millis) -> Effect {
    if s.confidence != "exact" || s.error.is_some() {
        return Effect::None;
    }
    let Some(used) = s.used_percent else {
        return Effect::None;
    };
    if used < 100.0 {
        return if account.cooling_down(now) && clearable(account.cooldown_reason.as_deref()) {
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
/// secrets rather than whole tokens, so it costs little with thousands of accounts.
fn fingerprint(state: &RegistryState) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (p, accounts) in &state.providers {
        p.hash(&mut h);
        for a in accounts.values() {
            (&a.alias, a.disabled, a.updated_at).hash(&mut h);
            for s in a.auth.secrets() {
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
        let fingerprint = fingerprint(&self.state);
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
                    cooldown: Some((Some(until), Some("quota".into()))),
                    ..base
                });
                let event = NewEvent::new(
                    EventKind::RateLimitDetected,
                    format!("{p}/{a} has used its whole quota; cooling down until it resets"),
                )
                .account(&p, &a)
                .meta("reason", "quota")
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
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn account(until: Option<Millis>, reason: Option<&str>) -> Account {
        Account {
            auth: Auth::Api {
                key: "sk-fake-usage".into(),
                metadata: None,
            },
            cooldown_until: until,
            cooldown_reason: reason.map(str::to_string),
            failures: 2,
            ..Account::for_test("openai", "plan")
        }
    }

    fn snap(confidence: &str, used: Option<f64>, reset: Option<Millis>) -> UsageSnapshot {
        UsageSnapshot {
            provider_id: "openai".into(),
            alias: "plan".into(),
            fetched_at: NOW,
            confidence: confidence.into(),
            plan_name: None,
            used_percent: used,
            reset_at: reset,
            used_units: None,
            remaining_units: None,
            windows: None,
            message: String::new(),
            error: None,
        }
    }

    #[test]
    fn an_exact_reading_under_100_clears_a_stale_quota_or_rate_limit_cooldown() {
        let s = snap("exact", Some(42.0), None);
        assert_eq!(
            effect(&account(Some(NOW + 1), Some("rate_limit")), &s, NOW),
            Effect::Clear
        );
        assert_eq!(effect(&account(Some(NOW + 1), Some("quota")), &s, NOW), Effect::Clear);
        assert_eq!(effect(&account(Some(NOW + 1), None), &s, NOW), Effect::Clear);
        assert_eq!(
            effect(&account(Some(NOW + 1), Some("auth_failed")), &s, NOW),
            Effect::None
        );
        assert_eq!(
            effect(&account(Some(NOW + 1), Some("server_error")), &s, NOW),
            Effect::None
        );
        assert_eq!(
            effect(&account(Some(NOW), Some("quota")), &s, NOW),
            Effect::None,
            "already over"
        );
        assert_eq!(effect(&account(None, None), &s, NOW), Effect::None);
    }

    #[test]
    fn estimates_errors_and_unknown_percentages_change_nothing() {
        let cooling = account(Some(NOW + 1), Some("quota"));
        assert_eq!(
            effect(&cooling, &snap("estimated", Some(10.0), None), NOW),
            Effect::None
        );
        assert_eq!(effect(&cooling, &snap("exact", None, None), NOW), Effect::None);
        let mut stale = snap("exact", Some(10.0), None);
        stale.error = Some("timeout".into());
        assert_eq!(effect(&cooling, &stale, NOW), Effect::None);
        assert_eq!(
            effect(
                &account(None, None),
                &snap("estimated", Some(100.0), Some(NOW + 5)),
                NOW
            ),
            Effect::None
        );
    }

    #[test]
    fn a_full_reading_with_a_reset_cools_down_until_then() {
        let s = snap("exact", Some(100.0), Some(NOW + 3_600_000));
        assert_eq!(effect(&account(None, None), &s, NOW), Effect::Set(NOW + 3_600_000));
        assert_eq!(
            effect(&account(Some(NOW + 60_000), Some("rate_limit")), &s, NOW),
            Effect::Set(NOW + 3_600_000),
            "a shorter cooldown is extended"
        );
        assert_eq!(
            effect(&account(Some(NOW + 7_200_000), Some("quota")), &s, NOW),
            Effect::None,
            "a longer one is kept"
        );
        assert_eq!(
            effect(&account(None, None), &snap("exact", Some(100.0), None), NOW),
            Effect::None
        );
        assert_eq!(
            effect(&account(None, None), &snap("exact", Some(100.0), Some(NOW - 1)), NOW),
            Effect::None
        );
        let far = snap("exact", Some(100.0), Some(i64::MAX));
        assert_eq!(
            effect(&account(None, None), &far, NOW),
            Effect::Set(NOW + crate::balancer::hint::MAX_HINT_MS)
        );
    }
}
