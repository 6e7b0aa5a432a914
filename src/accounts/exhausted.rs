//! The registry's answer when a provider may have run dry: how its accounts rest, the settings
//! that decide what happens, and the next provider of the priority list that could take over.

use actix::prelude::*;

use super::pick::{pick_account, Picked};
use super::state::RegistryState;
use super::AccountRegistry;
use crate::failover::rules::provider_move::Resting;
use crate::model::{CooldownReason, Millis, ModelRef};

/// Is `provider_id` dry (no healthy account), and who would take over? `exclude` lists the
/// providers the request has already been on (never picked again: no loop).
#[derive(Message)]
#[rtype(result = "ExhaustedPlan")]
pub struct PlanExhausted {
    pub provider_id: String,
    pub exclude: Vec<String>,
    /// Look for the next provider (false: only how this one rests).
    pub want_next: bool,
}

pub struct ExhaustedPlan {
    /// The provider has saved accounts here.
    pub managed: bool,
    /// At least one account of the provider is healthy: not dry.
    pub healthy_left: bool,
    /// Every account, with until when it rests (`None`: disabled).
    pub resting: Vec<Resting>,
    /// When the first resting account is back (`None`: all disabled).
    pub first_back: Option<Millis>,
    /// Some account is back within `maxWaitSeconds` (a quota refusal never counts as short: an
    /// account out of credit is not back by waiting).
    pub short_wait: bool,
    pub balancing: bool,
    pub max_wait_ms: Millis,
    /// With balancing on: the next enabled provider in priority order, not excluded, with a
    /// model and a healthy account — and that account.
    pub next: Option<(ModelRef, Picked)>,
}

impl Handler<PlanExhausted> for AccountRegistry {
    type Result = MessageResult<PlanExhausted>;
    fn handle(&mut self, msg: PlanExhausted, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        MessageResult(plan_exhausted(&mut self.state, &msg, now))
    }
}

/// How `msg.provider_id` rests at `now`, and (when asked, with balancing on and the provider dry)
/// who takes over.
pub(super) fn plan_exhausted(state: &mut RegistryState, msg: &PlanExhausted, now: Millis) -> ExhaustedPlan {
    let accounts = state.providers.get(&msg.provider_id);
    let managed = accounts.is_some_and(|a| !a.is_empty());
    let healthy_left = state.has_healthy(&msg.provider_id, now);
    let resting: Vec<Resting> = accounts
        .map(|m| {
            m.values()
                .filter(|a| !a.is_healthy(now))
                .map(|a| Resting {
                    alias: a.alias.clone(),
                    until: if a.disabled { None } else { a.cooldown_until },
                    quota: a.cooldown_reason == Some(CooldownReason::Quota),
                    login: a.auth_failed || a.token.login_required,
                })
                .collect()
        })
        .unwrap_or_default();
    let first_back = resting.iter().filter_map(|r| r.until).min();
    let balancing = state.settings.balancing;
    let max_wait_ms = state.settings.max_wait_seconds as Millis * 1000;
    let short_wait = accounts.is_some_and(|m| {
        m.values().any(|a| {
            !a.disabled
                && a.cooldown_reason != Some(CooldownReason::Quota)
                && a.cooldown_until.is_some_and(|u| u - now <= max_wait_ms)
        })
    });
    let mut next = None;
    if msg.want_next && balancing && !healthy_left {
        let candidates: Vec<(String, String)> = state
            .priority
            .iter()
            .filter(|e| e.enabled && e.provider_id != msg.provider_id && !msg.exclude.contains(&e.provider_id))
            .filter_map(|e| Some((e.provider_id.clone(), e.model_id.clone()?)))
            .collect();
        for (provider_id, model_id) in candidates {
            if let Some(picked) = pick_account(state, &provider_id, None, &[], now) {
                next = Some((ModelRef { provider_id, model_id }, picked));
                break;
            }
        }
    }
    ExhaustedPlan {
        managed,
        healthy_left,
        resting,
        first_back,
        short_wait,
        balancing,
        max_wait_ms,
        next,
    }
}
