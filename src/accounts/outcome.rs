//! How the registry records an upstream answer: success resets, refusals cool the account down.

use std::collections::HashMap;

use actix::prelude::*;

use super::state::RegistryState;
use super::AccountRegistry;
use crate::accounts::rules::cooldown::classify::{classify, Verdict};
use crate::accounts::rules::cooldown::hint::{asked_secs_text, MAX_HINT_MS};
use crate::accounts::rules::cooldown::reset::{cooldown_until, ResetSource};
use crate::model::{CooldownReason, Millis};
use crate::store::{FailureCount, RuntimePatch};

/// How long a refused credential rests before it is tried again.
pub(super) const AUTH_FAILED_COOLDOWN_MS: Millis = 30 * 60_000;

/// An upstream answer on an account.
#[derive(Message)]
#[rtype(result = "Option<OutcomeInfo>")]
pub struct RecordOutcome {
    pub provider_id: String,
    pub alias: String,
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OutcomeInfo {
    pub verdict: Verdict,
    pub until: Option<Millis>,
    pub source: Option<ResetSource>,
    /// The seconds a reset hint asked for when the clamping rule changed it (`rules::cooldown::hint`).
    pub clamped_from_secs: Option<f64>,
    pub failures: u32,
    /// The settings that decide what happens next (read with the outcome, so they are current).
    pub failover: bool,
    pub max_attempts: u32,
}

impl Handler<RecordOutcome> for AccountRegistry {
    type Result = Option<OutcomeInfo>;
    /// A cooldown is written at once (not at the next tick) so that other processes sharing the
    /// store stop using the account as soon as possible.
    fn handle(&mut self, msg: RecordOutcome, ctx: &mut Context<Self>) -> Option<OutcomeInfo> {
        let now = self.now();
        let info = record(&mut self.state, &msg, now)?;
        if !matches!(info.verdict, Verdict::Success | Verdict::Return) {
            self.start_sync(ctx);
        }
        Some(info)
    }
}

/// Records `msg` on its account at `now` (queued for the store with the next job) and says what it
/// meant; `None` when the account is not known.
pub(super) fn record(state: &mut RegistryState, msg: &RecordOutcome, now: Millis) -> Option<OutcomeInfo> {
    let account = state.account(&msg.provider_id, &msg.alias)?;
    let failures = account.failures;
    let (failover, max_attempts) = (state.settings.failover, state.settings.max_attempts);
    let verdict = classify(msg.status, msg.body.as_deref());
    let base = RuntimePatch::for_account(account);
    let info = match verdict {
        Verdict::Success => {
            let had_trouble = failures > 0 || account.auth_failed || account.cooldown_until.is_some();
            let patch = RuntimePatch {
                last_used_at: Some(now),
                ..if had_trouble {
                    RuntimePatch {
                        cooldown: Some((None, None)),
                        failures: Some(FailureCount::RESET),
                        auth_failed: Some(false),
                        ..base
                    }
                } else {
                    base
                }
            };
            state.patch(patch);
            OutcomeInfo {
                verdict,
                until: None,
                source: None,
                clamped_from_secs: None,
                failures: 0,
                failover,
                max_attempts,
            }
        }
        Verdict::Return => {
            state.patch(RuntimePatch {
                last_used_at: Some(now),
                ..base
            });
            OutcomeInfo {
                verdict,
                until: None,
                source: None,
                clamped_from_secs: None,
                failures,
                failover,
                max_attempts,
            }
        }
        Verdict::Cooldown(reason) => {
            let n = failures.saturating_add(1);
            let cooldown = cooldown_until(&msg.headers, msg.body.as_deref(), now, n);
            let until = cooldown.until;
            if let Some(asked) = cooldown.clamped_from_secs.filter(|s| *s * 1000.0 > MAX_HINT_MS as f64) {
                tracing::warn!(
                    provider = %msg.provider_id,
                    alias = %msg.alias,
                    source = cooldown.source.as_str(),
                    asked_secs = %asked_secs_text(asked),
                    cap_secs = MAX_HINT_MS / 1000,
                    "a reset hint past the cap was clamped to it"
                );
            }
            state.patch(RuntimePatch {
                last_used_at: Some(now),
                cooldown: Some((Some(until), Some(reason.into()))),
                failures: Some(FailureCount::ONE_MORE),
                ..base
            });
            OutcomeInfo {
                verdict,
                until: Some(until),
                source: Some(cooldown.source),
                clamped_from_secs: cooldown.clamped_from_secs,
                failures: n,
                failover,
                max_attempts,
            }
        }
        Verdict::AuthFailed => {
            let n = failures.saturating_add(1);
            let until = now + AUTH_FAILED_COOLDOWN_MS;
            state.patch(RuntimePatch {
                last_used_at: Some(now),
                cooldown: Some((Some(until), Some(CooldownReason::AuthFailed))),
                failures: Some(FailureCount::ONE_MORE),
                auth_failed: Some(true),
                ..base
            });
            OutcomeInfo {
                verdict,
                until: Some(until),
                source: None,
                clamped_from_secs: None,
                failures: n,
                failover,
                max_attempts,
            }
        }
    };
    Some(info)
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
