//! Messages the usage refresher answers, each with its handler.

use actix::prelude::*;
use tokio::sync::oneshot;

use super::{UsageRefresher, PASSIVE_MIN_MS};
use crate::accounts::{ApplyUsage, UsageAccounts};
use crate::model::{Confidence, UsageSnapshot};
use crate::usage::outcome::redact_snapshot;
use crate::usage::passive;
use crate::usage::redact::{redacted_json_text, Redactor};
use crate::usage::schedule::Force;
use crate::usage::unavailable;

/// Starts background polling (the sidecar; never the CLI).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartPolling;

impl Handler<StartPolling> for UsageRefresher {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: StartPolling, _: &mut Context<Self>) -> Self::Result {
        self.polling = true;
        self.tick()
    }
}

/// Catches up with the account list and settings and starts due reads; sent when an account or
/// setting event is published here, and by the timer. Answers when the due reads have started.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Tick;

impl Handler<Tick> for UsageRefresher {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: Tick, _: &mut Context<Self>) -> Self::Result {
        self.tick()
    }
}

/// The test clock moved (`test.advanceClock`): do what is due at the new time, as the timer would.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ClockMoved;

impl Handler<ClockMoved> for UsageRefresher {
    type Result = ();
    fn handle(&mut self, _: ClockMoved, ctx: &mut Context<Self>) {
        self.wake_up(ctx);
    }
}

/// Why `usage.refresh` was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("account {provider}/{alias} not found")]
    NotFound { provider: String, alias: String },
    #[error("{0}")]
    InvalidParams(String),
}

/// `usage.refresh`: reads the accounts now (all, one provider's, or one) and answers with their
/// snapshots once every read has finished.
#[derive(Message)]
#[rtype(result = "Result<Vec<UsageSnapshot>, RefreshError>")]
pub struct RefreshUsage {
    pub provider_id: Option<String>,
    pub alias: Option<String>,
}

impl Handler<RefreshUsage> for UsageRefresher {
    type Result = ResponseActFuture<Self, Result<Vec<UsageSnapshot>, RefreshError>>;
    fn handle(&mut self, msg: RefreshUsage, _: &mut Context<Self>) -> Self::Result {
        if msg.alias.is_some() && msg.provider_id.is_none() {
            return Box::pin(actix::fut::ready(Err(RefreshError::InvalidParams(
                "invalid params: alias needs providerID".into(),
            ))));
        }
        let ask = self.registry.send(UsageAccounts {
            provider_id: msg.provider_id.clone(),
            alias: msg.alias.clone(),
            fresh: true,
        });
        Box::pin(ask.into_actor(self).then(move |targets, this, ctx| {
            let targets = targets.unwrap_or_default();
            if let (Some(provider), Some(alias), true) = (&msg.provider_id, &msg.alias, targets.is_empty()) {
                let err = RefreshError::NotFound {
                    provider: provider.clone(),
                    alias: alias.clone(),
                };
                return Box::pin(actix::fut::ready(Err(err))) as ResponseActFuture<Self, _>;
            }
            let now = this.now();
            let mut ready = Vec::new();
            let mut pending = Vec::new();
            for t in targets {
                if t.disabled && msg.alias.is_none() {
                    ready.extend(t.usage.clone());
                    continue;
                }
                if let Err(why) = this.check(&t, now) {
                    ready.push(unavailable(&t.provider_id, &t.alias, now, why, "unsupported"));
                    continue;
                }
                let key = (t.provider_id.clone(), t.alias.clone());
                this.schedule.insert(key.clone(), t.credential, now);
                match this.schedule.force(&key, now) {
                    Force::Queued => {
                        let (tx, rx) = oneshot::channel();
                        this.waiters.entry(key).or_default().push(tx);
                        pending.push(rx);
                    }
                    Force::Held(until) => {
                        let when = chrono::DateTime::from_timestamp_millis(until)
                            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                            .unwrap_or_else(|| until.to_string());
                        let why = format!("rate_limited: the usage endpoint asked to wait until {when}");
                        let mut s = t.usage.clone().unwrap_or_else(|| {
                            unavailable(
                                &t.provider_id,
                                &t.alias,
                                now,
                                "usage unavailable: rate-limited".into(),
                                "",
                            )
                        });
                        s.error = Some(why);
                        ready.push(s);
                    }
                }
            }
            this.pump(ctx);
            Box::pin(
                async move {
                    for rx in pending {
                        if let Ok(s) = rx.await {
                            ready.push(s);
                        }
                    }
                    ready.sort_by(|x, y| (&x.provider_id, &x.alias).cmp(&(&y.provider_id, &y.alias)));
                    Ok(ready)
                }
                .into_actor(this),
            )
        }))
    }
}

/// `usage.list`: every account's latest snapshot; accounts without one get an `unavailable` one
/// saying why (no usage endpoint, disabled, not read yet).
#[derive(Message)]
#[rtype(result = "Vec<UsageSnapshot>")]
pub struct ListUsage;

impl Handler<ListUsage> for UsageRefresher {
    type Result = ResponseActFuture<Self, Vec<UsageSnapshot>>;
    fn handle(&mut self, _: ListUsage, _: &mut Context<Self>) -> Self::Result {
        let ask = self.registry.send(UsageAccounts {
            provider_id: None,
            alias: None,
            fresh: true,
        });
        Box::pin(ask.into_actor(self).map(|targets, this, _| {
            let now = this.now();
            targets
                .unwrap_or_default()
                .into_iter()
                .map(|t| match (t.usage.clone(), this.check(&t, now)) {
                    (Some(u), _) => u,
                    (None, Err(why)) => unavailable(&t.provider_id, &t.alias, now, why, "unsupported"),
                    (None, Ok(())) if t.disabled => unavailable(
                        &t.provider_id,
                        &t.alias,
                        now,
                        "the account is disabled".into(),
                        "disabled",
                    ),
                    (None, Ok(())) => unavailable(&t.provider_id, &t.alias, now, "not read yet".into(), "pending"),
                })
                .collect()
        }))
    }
}

/// A prompt went out (`chat.message`): stale accounts are read now, at most every 30 s.
#[derive(Message)]
#[rtype(result = "()")]
pub struct PromptSeen;

impl Handler<PromptSeen> for UsageRefresher {
    type Result = ResponseActFuture<Self, ()>;
    /// Catches up with the settings first, so a prompt right after `usageEnabled=false` reads nothing.
    fn handle(&mut self, _: PromptSeen, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.tick().map(|_, this, ctx| {
            if this.polling && this.enabled && this.schedule.nudge(this.now()) > 0 {
                this.pump(ctx);
            }
        }))
    }
}

/// Rate-limit headers of a response on an account (`fetch.result`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PassiveHeaders {
    pub provider_id: String,
    pub alias: String,
    pub headers: Vec<(String, String)>,
}

impl Handler<PassiveHeaders> for UsageRefresher {
    type Result = ();
    fn handle(&mut self, msg: PassiveHeaders, ctx: &mut Context<Self>) {
        if !self.enabled {
            return;
        }
        let now = self.now();
        let key = (msg.provider_id, msg.alias);
        if self.passive_at.get(&key).is_some_and(|t| now - t < PASSIVE_MIN_MS) {
            return;
        }
        if !msg.headers.iter().any(|(k, _)| passive::is_usage_header(k)) {
            return;
        }
        self.passive_at.insert(key.clone(), now);
        let interval = self.schedule.interval();
        let ask = self.registry.send(UsageAccounts {
            provider_id: Some(key.0.clone()),
            alias: Some(key.1.clone()),
            fresh: false,
        });
        ctx.spawn(ask.into_actor(self).then(move |targets, this, _| {
            let skip = || Box::pin(actix::fut::ready(())) as ResponseActFuture<Self, ()>;
            let Some(target) = targets.ok().and_then(|t| t.into_iter().next()) else {
                return skip();
            };
            let exact_and_fresh = target.usage.as_ref().is_some_and(|u| {
                u.is(Confidence::Exact)
                    && u.error.is_none()
                    && u.used_percent.is_some()
                    && now - u.fetched_at < 2 * interval
            });
            if exact_and_fresh {
                return skip();
            }
            let secrets = target.auth.secrets();
            let redactor = Redactor::new(&secrets);
            // Redacted before anything is read from them, like every provider answer.
            let headers: Vec<(String, String)> = msg.headers.into_iter().map(|(k, v)| (k, redactor.text(&v))).collect();
            let Some(usage) = passive::parse(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), now) else {
                return skip();
            };
            let (s, raw) = usage.into_snapshot(&key.0, &key.1, now);
            let s = redact_snapshot(s, &secrets);
            if let Some(reset) = s.reset_at {
                this.passive_resets.insert(key.clone(), (now, reset));
            }
            let apply = this.registry.send(ApplyUsage {
                snapshot: s.clone(),
                raw: raw.map(|r| redacted_json_text(r, &secrets)),
            });
            let previous = target.usage;
            Box::pin(
                apply
                    .into_actor(this)
                    .map(move |_, this, _| this.announce(previous.as_ref(), &s, false)),
            )
        }));
    }
}

/// Reads in flight (tests).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct InFlight;

impl Handler<InFlight> for UsageRefresher {
    type Result = usize;
    fn handle(&mut self, _: InFlight, _: &mut Context<Self>) -> usize {
        self.schedule.in_flight()
    }
}
