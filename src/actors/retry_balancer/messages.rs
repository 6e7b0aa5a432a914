//! Messages the retry balancer answers, each with its handler, and the events a refused answer
//! publishes.

use std::collections::HashMap;

use actix::prelude::*;

use super::switch::{DryOutcome, FailAnswer, SwitchAnswer};
use super::tokens::Want;
use super::{RetryBalancer, Session};
use crate::actors::account_registry::dry::PlanDry;
use crate::actors::account_registry::{ChooseModel, ModelRef, RecordOutcome};
use crate::actors::event_bus::{Notice, Notify, Publish, ToastVariant};
use crate::balancer::classify::Verdict;
use crate::balancer::headers::{credential_headers, AuthorizationHint, HeaderPlan};
use crate::balancer::switch::ProviderApi;
use crate::model::{AccountRef, Auth, EventKind, NewEvent};

/// `syncAuth`: the credential the host should write as its own.
#[derive(Debug, Clone)]
pub struct SyncAuth {
    pub provider_id: String,
    pub auth: Auth,
}

#[derive(Message)]
#[rtype(result = "Option<ModelRef>")]
pub struct ChatMessage {
    pub session_id: String,
    pub model: Option<ModelRef>,
}

impl Handler<ChatMessage> for RetryBalancer {
    type Result = ResponseActFuture<Self, Option<ModelRef>>;
    fn handle(&mut self, msg: ChatMessage, _: &mut Context<Self>) -> Self::Result {
        self.nudge_usage();
        let session = self
            .sessions
            .get(&msg.session_id)
            .map(|s| (s.model.clone(), s.alias.clone()));
        let host = msg.model.clone();
        let ask = self.registry.send(ChooseModel {
            host: msg.model,
            session,
        });
        Box::pin(ask.into_actor(self).map(move |chosen, this, _| {
            let chosen = chosen.ok().flatten();
            let now = this.clock.now_ms();
            if let Some(m) = chosen.clone().or(host.clone()) {
                let entry = this.sessions.entry(msg.session_id).or_insert(Session {
                    model: m.clone(),
                    alias: None,
                    seen_at: now,
                    switched_to: None,
                });
                if entry.model.provider_id != m.provider_id {
                    entry.alias = None;
                }
                entry.model = m;
                entry.seen_at = now;
            }
            chosen.filter(|c| Some(c) != host.as_ref())
        }))
    }
}

#[derive(Message)]
#[rtype(result = "HeadersAnswer")]
pub struct ChatHeaders {
    pub session_id: String,
    pub provider_id: String,
    pub model_id: String,
    /// What the host knows of the provider's API (its SDK package, base URL), for moves.
    pub api: Option<ProviderApi>,
}

#[derive(Debug, Default)]
pub struct HeadersAnswer {
    pub request_id: Option<String>,
    pub sync_auth: Option<SyncAuth>,
}

impl Handler<ChatHeaders> for RetryBalancer {
    type Result = ResponseActFuture<Self, HeadersAnswer>;
    fn handle(&mut self, msg: ChatHeaders, _: &mut Context<Self>) -> Self::Result {
        if let Some(api) = msg.api.clone() {
            self.learn_api(&msg.provider_id, api);
        }
        let prefer = self
            .sessions
            .get(&msg.session_id)
            .filter(|s| s.model.provider_id == msg.provider_id)
            .and_then(|s| s.alias.clone());
        let ask = self.pick_ready(Want {
            provider_id: msg.provider_id.clone(),
            prefer,
            exclude: vec![],
            make_active: false,
        });
        let registry = self.registry.clone();
        Box::pin(ask.into_actor(self).then(move |picked, this, _| {
            if let Some(picked) = picked {
                let answer = this.open_request(msg, Some(picked));
                return Box::pin(actix::fut::ready(answer)) as ResponseActFuture<Self, HeadersAnswer>;
            }
            // No healthy account: a provider whose accounts all rest still gets a request id,
            // so `fetch.begin` can move the request or answer at once (`switch`).
            let plan = registry.send(PlanDry {
                provider_id: msg.provider_id.clone(),
                exclude: vec![],
                want_next: false,
            });
            Box::pin(plan.into_actor(this).map(move |plan, this, _| match plan {
                Ok(p) if p.managed && p.first_back.is_some() => this.open_request(msg, None),
                _ => HeadersAnswer::default(),
            }))
        }))
    }
}

#[derive(Message)]
#[rtype(result = "Result<BeginAnswer, UnknownRequest>")]
pub struct FetchBegin {
    pub request_id: String,
    /// The URL the request goes to (empty when the host did not say).
    pub url: String,
    pub header_names: Vec<String>,
    pub authorization: Option<AuthorizationHint>,
}

#[derive(Debug)]
pub enum BeginAnswer {
    Passthrough,
    /// Send it to another provider instead (its own provider is dry).
    Switch(Box<SwitchAnswer>),
    /// Answer the host at once with this final error.
    Fail(FailAnswer),
    Use {
        account: AccountRef,
        headers: HeaderPlan,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("unknown request id")]
pub struct UnknownRequest;

impl Handler<FetchBegin> for RetryBalancer {
    type Result = ResponseActFuture<Self, Result<BeginAnswer, UnknownRequest>>;
    fn handle(&mut self, msg: FetchBegin, _: &mut Context<Self>) -> Self::Result {
        let Some(req) = self.requests.get_mut(&msg.request_id) else {
            return Box::pin(actix::fut::ready(Err(UnknownRequest)));
        };
        req.header_names = msg.header_names;
        req.authorization = msg.authorization;
        if !msg.url.is_empty() {
            req.url = msg.url;
        }
        let want = Want {
            provider_id: req.provider_id.clone(),
            prefer: Some(req.alias.clone()),
            exclude: vec![],
            make_active: false,
        };
        let ask = self.pick_ready(want);
        let request_id = msg.request_id;
        Box::pin(ask.into_actor(self).then(move |picked, this, _| {
            let Some(req) = this.requests.get_mut(&request_id) else {
                return Box::pin(actix::fut::ready(Err(UnknownRequest))) as BeginFuture;
            };
            let Some(picked) = picked else {
                req.passthrough = true;
                let id = request_id.clone();
                return Box::pin(this.when_dry(request_id).map(move |outcome, this, _| {
                    Ok(match outcome {
                        DryOutcome::Leave => BeginAnswer::Passthrough,
                        DryOutcome::Switch(s) => {
                            if let Some(r) = this.requests.get_mut(&id) {
                                r.passthrough = false;
                            }
                            BeginAnswer::Switch(s)
                        }
                        DryOutcome::Fail(f) => BeginAnswer::Fail(f),
                    })
                })) as BeginFuture;
            };
            req.passthrough = false;
            req.alias = picked.alias.clone();
            req.generation = picked.generation;
            req.oauth = matches!(picked.auth, Auth::Oauth { .. });
            let headers = credential_headers(&req.provider_id, &picked.auth, &req.header_names, req.authorization);
            Box::pin(actix::fut::ready(Ok(BeginAnswer::Use {
                account: AccountRef {
                    provider_id: req.provider_id.clone(),
                    alias: picked.alias,
                },
                headers,
            })))
        }))
    }
}

#[derive(Message, Clone)]
#[rtype(result = "Result<ResultAnswer, UnknownRequest>")]
pub struct FetchResult {
    pub request_id: String,
    pub attempt: u32,
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Option<String>,
}

#[derive(Debug)]
pub enum ResultAnswer {
    Return,
    Retry {
        account: AccountRef,
        headers: HeaderPlan,
        sync_auth: Option<Box<SyncAuth>>,
    },
    /// Send it again to another provider (this one is dry).
    Switch(Box<SwitchAnswer>),
    /// Give the host this final error instead of the refused answer.
    Fail(FailAnswer),
}

type BeginFuture = ResponseActFuture<RetryBalancer, Result<BeginAnswer, UnknownRequest>>;

pub(super) type Answer = ResponseActFuture<RetryBalancer, Result<ResultAnswer, UnknownRequest>>;

impl Handler<FetchResult> for RetryBalancer {
    type Result = ResponseActFuture<Self, Result<ResultAnswer, UnknownRequest>>;
    fn handle(&mut self, msg: FetchResult, _: &mut Context<Self>) -> Self::Result {
        let Some(req) = self.requests.get_mut(&msg.request_id) else {
            return Box::pin(actix::fut::ready(Err(UnknownRequest)));
        };
        let attempt = msg.attempt.max(1);
        if req.passthrough || attempt <= req.recorded {
            return Box::pin(actix::fut::ready(Ok(ResultAnswer::Return)));
        }
        req.recorded = attempt;
        let req = &self.requests[&msg.request_id];
        self.forward_usage_headers(&req.provider_id, &req.alias, &msg.headers);
        if (200..300).contains(&msg.status) {
            // Done: nothing will be sent again under this id.
            let req = self.requests.remove(&msg.request_id).expect("present");
            self.registry.do_send(RecordOutcome {
                provider_id: req.provider_id,
                alias: req.alias,
                status: msg.status,
                headers: msg.headers,
                body: None,
            });
            return Box::pin(actix::fut::ready(Ok(ResultAnswer::Return)));
        }
        if let Some(retry) = self.refresh_after_refusal(&msg, attempt) {
            return retry;
        }
        let req = &self.requests[&msg.request_id];
        let (provider, alias) = (req.provider_id.clone(), req.alias.clone());
        let registry = self.registry.clone();
        let record = registry.send(RecordOutcome {
            provider_id: provider.clone(),
            alias: alias.clone(),
            status: msg.status,
            headers: msg.headers,
            body: msg.body,
        });
        let request_id = msg.request_id;
        Box::pin(record.into_actor(self).then(move |info, this, _| {
            let Some(info) = info.ok().flatten() else {
                return Box::pin(actix::fut::ready(Ok(ResultAnswer::Return))) as Answer;
            };
            let (failover, max_attempts) = (info.failover, info.max_attempts);
            let refused = matches!(info.verdict, Verdict::Cooldown(_) | Verdict::AuthFailed);
            let can_retry = refused && failover && attempt < max_attempts;
            this.report(&provider, &alias, &info, msg.status);
            if !can_retry {
                if !refused {
                    return Box::pin(actix::fut::ready(Ok(ResultAnswer::Return))) as Answer;
                }
                let why =
                    (failover && attempt >= max_attempts).then(|| format!("{attempt} of {max_attempts} attempts used"));
                return this.after_refusal(request_id, provider, alias, why);
            }
            let mut exclude = this
                .requests
                .get(&request_id)
                .map(|r| r.tried.clone())
                .unwrap_or_default();
            exclude.push(alias.clone());
            let ask = this.pick_ready(Want {
                provider_id: provider.clone(),
                prefer: None,
                exclude,
                make_active: true,
            });
            Box::pin(ask.into_actor(this).then(move |picked, this, _| {
                let Some(picked) = picked else {
                    let why = Some("no other healthy account".to_string());
                    return this.after_refusal(request_id, provider, alias, why);
                };
                let Some(req) = this.requests.get_mut(&request_id) else {
                    return Box::pin(actix::fut::ready(Err(UnknownRequest))) as Answer;
                };
                req.tried.push(alias.clone());
                req.alias = picked.alias.clone();
                req.generation = picked.generation;
                req.oauth = matches!(picked.auth, Auth::Oauth { .. });
                let headers = credential_headers(&provider, &picked.auth, &req.header_names, req.authorization);
                let session_id = req.session_id.clone();
                if let Some(s) = this.sessions.get_mut(&session_id) {
                    s.alias = Some(picked.alias.clone());
                }
                this.bus.do_send(Publish(
                    NewEvent::new(
                        EventKind::FailoverPerformed,
                        format!("{provider}: {alias} → {} (attempt {})", picked.alias, attempt + 1),
                    )
                    .account(&provider, &picked.alias)
                    .meta("from", &alias)
                    .meta("to", &picked.alias)
                    .meta("attempt", attempt + 1)
                    .meta("status", msg.status),
                ));
                this.bus.do_send(Notify(Notice::Toast {
                    message: format!("{provider}: {alias} is limited, continuing on {}", picked.alias),
                    variant: ToastVariant::Warning,
                }));
                let sync_auth = this.sync_auth(&provider, &picked);
                Box::pin(actix::fut::ready(Ok(ResultAnswer::Retry {
                    account: AccountRef {
                        provider_id: provider,
                        alias: picked.alias,
                    },
                    headers,
                    sync_auth: sync_auth.map(Box::new),
                }))) as Answer
            }))
        }))
    }
}

impl RetryBalancer {
    /// Publishes what a refused answer did to the account.
    fn report(&self, provider: &str, alias: &str, info: &crate::actors::account_registry::OutcomeInfo, status: u16) {
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
            .meta("reason", "auth_failed"),
            _ => return,
        };
        // A hint the clamping rule changed says so, with what it asked for (balancer::hint).
        let event = match info.clamped_from_secs {
            Some(asked) => event
                .meta("clamped", "true")
                .meta("hintSeconds", crate::balancer::hint::asked_secs_text(asked)),
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
