//! The events and toasts the retry balancer publishes when an account refuses an answer or a
//! provider has no account left to retry on.

use super::RetryBalancer;
use crate::accounts::rules::cooldown::classify::Verdict;
use crate::accounts::OutcomeInfo;
use crate::events::{Notice, Notify, Publish, ToastVariant};
use crate::model::{CooldownReason, EventKind, NewEvent};

impl RetryBalancer {
    /// Publishes what a refused answer did to the account.
    pub(super) fn report(&self, provider: &str, alias: &str, info: &OutcomeInfo, status: u16) {
        let until = info.until.unwrap_or_default();
        let event = match info.verdict {
            Verdict::Cooldown(reason) => NewEvent::new(
                EventKind::RateLimitDetected,
                format!(
                    "{provider}/{alias} answered {status} ({}); cooling down",
                    reason.as_str()
                ),
            )
            .meta("reason", reason.as_str())
            .meta("source", info.source.map(|s| s.as_str()).unwrap_or("backoff")),
            Verdict::AuthFailed => NewEvent::new(
                EventKind::AuthFailed,
                format!("{provider}/{alias} credential refused (401)"),
            )
            .meta("reason", CooldownReason::AuthFailed.as_str()),
            _ => return,
        };
        // A hint the clamping rule changed says so, with what it asked for (`accounts::rules::cooldown::hint`).
        let event = match info.clamped_from_secs {
            Some(asked) => event.meta("clamped", "true").meta(
                "hintSeconds",
                crate::accounts::rules::cooldown::hint::asked_secs_text(asked),
            ),
            None => event,
        };
        self.bus.do_send(Publish(
            event
                .account(provider, alias)
                .meta("until", until)
                .meta("status", status)
                .meta("failures", info.failures),
        ));
    }

    pub(super) fn exhausted(&self, provider: &str, alias: &str, why: &str) {
        self.exhausted_event(provider, alias, why);
        self.bus.do_send(Notify(Notice::Toast {
            message: format!("{provider}: every account is limited; the next message moves on when balancing is on"),
            variant: ToastVariant::Error,
        }));
    }

    pub(super) fn exhausted_event(&self, provider: &str, alias: &str, why: &str) {
        self.bus.do_send(Publish(
            NewEvent::new(
                EventKind::FailoverExhausted,
                format!("{provider}: no account left to retry on ({why})"),
            )
            .account(provider, alias)
            .meta("reason", why),
        ));
    }
}
