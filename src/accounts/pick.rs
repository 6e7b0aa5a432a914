//! The hot path's questions to the registry: which account of a provider, which model for a
//! message. Answered from memory, by plain functions over the state.

use std::collections::BTreeMap;

use actix::prelude::*;

use super::state::RegistryState;
use super::AccountRegistry;
use crate::accounts::rules::select::{pick, Choice};
use crate::model::refresh_policy::{effective_expiry, ON_DEMAND_MS};
use crate::model::{Account, Auth, Millis, ModelRef, Strategy};

/// The longest an opening asked ahead (`PeekAccount`) is said to stand.
pub const AHEAD_CAP_MS: Millis = 60_000;

/// The hot path's question: which account of this provider now?
#[derive(Message)]
#[rtype(result = "Option<Picked>")]
pub struct PickAccount {
    pub provider_id: String,
    /// Keep this account when it is usable (the request's or session's account).
    pub prefer: Option<String>,
    pub exclude: Vec<String>,
    /// Make the pick the provider's active account (failover under the sticky strategy).
    pub make_active: bool,
}

#[derive(Debug, Clone)]
pub struct Picked {
    pub alias: String,
    pub auth: Auth,
    /// The credential's token generation (a forced refresh starts from it).
    pub generation: u64,
}

impl Handler<PickAccount> for AccountRegistry {
    type Result = Option<Picked>;
    fn handle(&mut self, msg: PickAccount, _: &mut Context<Self>) -> Option<Picked> {
        let now = self.now();
        let state = &mut self.state;
        let picked = pick_account(state, &msg.provider_id, msg.prefer.as_deref(), &msg.exclude, now)?;
        let strategy_sticky = state.settings.strategy == Strategy::Sticky;
        if msg.make_active && strategy_sticky && !state.is_active(&msg.provider_id, &picked.alias) {
            state.set_active_runtime(&msg.provider_id, &picked.alias);
        }
        Some(picked)
    }
}

/// An opening asked ahead: the account `PickAccount` would answer now, without changing anything
/// (no round-robin step, no active account), and until when that answer stands unless an event
/// or a notification says otherwise. `None` when the pick would change something or can change
/// without notice (a round-robin, LRU or quota pick that is not the session's own account).
#[derive(Message)]
#[rtype(result = "Option<(Picked, Millis)>")]
pub struct PeekAccount {
    pub provider_id: String,
    pub prefer: Option<String>,
}

impl Handler<PeekAccount> for AccountRegistry {
    type Result = Option<(Picked, Millis)>;
    fn handle(&mut self, msg: PeekAccount, _: &mut Context<Self>) -> Self::Result {
        peek_account(&self.state, &msg.provider_id, msg.prefer.as_deref(), self.now())
    }
}

/// `PeekAccount`'s answer over plain state (see there).
pub(super) fn peek_account(
    state: &RegistryState,
    provider: &str,
    prefer: Option<&str>,
    now: Millis,
) -> Option<(Picked, Millis)> {
    let accounts = state.providers.get(provider)?;
    let soft = state.settings.soft_limit_percent;
    // Whether the pick can change when another account comes back (a cooldown ends, a usage
    // window resets).
    let (chosen, by_others) = match kept(accounts, prefer, &[], soft, now) {
        Some(a) => (a, false),
        // Sticky picks read nothing that changes without notice but the times below.
        None if state.settings.strategy == Strategy::Sticky => {
            let mut cursor = 0;
            let a = pick(
                accounts,
                &[],
                Choice {
                    strategy: Strategy::Sticky,
                    soft_limit_percent: soft,
                    active: state.active.get(provider).map(String::as_str),
                    now,
                    cursor: &mut cursor,
                },
            )?;
            (a, true)
        }
        None => return None,
    };
    let others = by_others.then(|| accounts.values()).into_iter().flatten();
    Some((picked(chosen), stands_until(others, chosen, provider, now)))
}

/// Until when a pick stands without an event: the cap, the time the picked token must be
/// refreshed before use, and the first cooldown end or usage reset among `others` (the accounts
/// whose return can change the pick; none when the pick keeps the session's own account, which
/// stands while it is usable whatever the others do: a conversation's openings walk no
/// provider's accounts).
fn stands_until<'a>(
    others: impl Iterator<Item = &'a Account>,
    chosen: &Account,
    provider: &str,
    now: Millis,
) -> Millis {
    let mut until = now + AHEAD_CAP_MS;
    if let Some(expiry) = effective_expiry(provider, &chosen.auth) {
        until = until.min(expiry - ON_DEMAND_MS);
    }
    for a in others {
        let cooldown = a.cooldown_until.filter(|t| *t > now);
        let reset = a.usage.as_ref().and_then(|u| u.reset_at).filter(|t| *t > now);
        for t in cooldown.into_iter().chain(reset) {
            until = until.min(t);
        }
    }
    until.max(now)
}

/// `prefer`'s account when a pick keeps it: healthy, not excluded and below the soft limit.
fn kept<'a>(
    accounts: &'a BTreeMap<String, Account>,
    prefer: Option<&str>,
    exclude: &[String],
    soft_limit_percent: u32,
    now: Millis,
) -> Option<&'a Account> {
    let a = accounts.get(prefer?)?;
    let below = (a.usage.as_ref().and_then(|u| u.used_percent)).is_none_or(|p| p < soft_limit_percent as f64);
    (a.is_healthy(now) && !exclude.contains(&a.alias) && below).then_some(a)
}

/// Which model should this message use?
#[derive(Message)]
#[rtype(result = "Option<ModelRef>")]
pub struct ChooseModel {
    pub host: Option<ModelRef>,
    /// The session's current model and account, when it has sent a request before.
    pub session: Option<(ModelRef, Option<String>)>,
}

impl Handler<ChooseModel> for AccountRegistry {
    type Result = Option<ModelRef>;
    fn handle(&mut self, msg: ChooseModel, _: &mut Context<Self>) -> Option<ModelRef> {
        choose_model(&self.state, msg.host.as_ref(), msg.session.as_ref(), self.now())
    }
}

/// An account of `provider` by the configured strategy: `prefer` while it is healthy, not
/// excluded and below the soft limit, else what `rules::select` picks (advancing the
/// provider's round-robin cursor).
pub(super) fn pick_account(
    state: &mut RegistryState,
    provider: &str,
    prefer: Option<&str>,
    exclude: &[String],
    now: Millis,
) -> Option<Picked> {
    let accounts = state.providers.get(provider)?;
    if let Some(a) = kept(accounts, prefer, exclude, state.settings.soft_limit_percent, now) {
        return Some(picked(a));
    }
    let cursor = state.rr_cursors.entry(provider.to_string()).or_default();
    let chosen = pick(
        accounts,
        exclude,
        Choice {
            strategy: state.settings.strategy,
            soft_limit_percent: state.settings.soft_limit_percent,
            active: state.active.get(provider).map(String::as_str),
            now,
            cursor,
        },
    )?;
    Some(picked(chosen))
}

fn picked(a: &Account) -> Picked {
    Picked {
        alias: a.alias.clone(),
        auth: a.auth.clone(),
        generation: a.token.generation,
    }
}

/// Balancing on: the session's model while its account is healthy; else the host's model when
/// its provider has a healthy account (or is not managed here: nothing says it is unhealthy);
/// else the first enabled priority entry with a model and a healthy account. Balancing off:
/// a model only when the host sent none.
pub(super) fn choose_model(
    s: &RegistryState,
    host: Option<&ModelRef>,
    session: Option<&(ModelRef, Option<String>)>,
    now: Millis,
) -> Option<ModelRef> {
    let from_priority = || {
        s.priority.iter().filter(|e| e.enabled).find_map(|e| {
            let model = e.model_id.as_ref()?;
            s.has_healthy(&e.provider_id, now).then(|| ModelRef {
                provider_id: e.provider_id.clone(),
                model_id: model.clone(),
            })
        })
    };
    if !s.settings.balancing {
        return if host.is_none() { from_priority() } else { None };
    }
    if let Some((kept, alias)) = session {
        let healthy = match alias {
            Some(a) => s.account(&kept.provider_id, a).is_some_and(|x| x.is_healthy(now)),
            None => s.has_healthy(&kept.provider_id, now),
        };
        if healthy {
            return Some(kept.clone());
        }
    }
    if let Some(host) = host {
        if !s.providers.contains_key(&host.provider_id) || s.has_healthy(&host.provider_id, now) {
            return Some(host.clone());
        }
    }
    from_priority()
}

#[cfg(test)]
#[path = "pick_tests.rs"]
mod tests;
