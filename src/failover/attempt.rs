//! Failover, the hot path: a request opened on an account (`chat.headers`, which also answers
//! what `fetch.begin` would for the request the host expects), the credential headers of each
//! attempt (`fetch.begin`), and each answer recorded, then retried on another account or
//! returned (`fetch.result`; a 2xx may come as a notification: its answer is always `return`).

use actix::prelude::*;

use super::{
    Answer, BeginAnswer, BeginFuture, ChatHeaders, ExhaustedOutcome, FetchBegin, FetchResult, HeadersAnswer,
    OpenRequest, RequestShape, ResultAnswer, RetryBalancer, Session, UnknownRequest, Want, MAX_REQUESTS,
};
use crate::accounts::rules::cooldown::classify::Verdict;
use crate::accounts::{OutcomeInfo, Picked, PlanExhausted, RecordOutcome};
use crate::events::{Notice, Notify, Publish, ToastVariant};
use crate::failover::rules::headers::{credential_headers, HeaderPlan};
use crate::model::ModelRef;
use crate::model::{AccountRef, Auth, EventKind, NewEvent};

impl OpenRequest {
    /// The request goes out (or is expected to) with this shape.
    fn take_shape(&mut self, shape: RequestShape) {
        self.header_names = shape.header_names;
        self.authorization = shape.authorization;
        if !shape.url.is_empty() {
            self.url = shape.url;
        }
    }

    /// The request is now on `picked` (of its provider).
    pub(super) fn put_on(&mut self, picked: &Picked) {
        self.passthrough = false;
        self.alias = picked.alias.clone();
        self.generation = picked.generation;
        self.oauth = matches!(picked.auth, Auth::Oauth { .. });
    }

    /// The request is now on `picked`: the account it goes out as and the credential headers
    /// that make it so. The one place a pick is assigned to a request (open, begin, retry,
    /// refresh, provider move).
    pub(super) fn go_out_as(&mut self, picked: &Picked) -> (AccountRef, HeaderPlan) {
        self.put_on(picked);
        let account = AccountRef {
            provider_id: self.provider_id.clone(),
            alias: picked.alias.clone(),
        };
        let headers = credential_headers(&self.provider_id, &picked.auth, &self.header_names, self.authorization);
        (account, headers)
    }
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
            let plan = registry.send(PlanExhausted {
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

impl Handler<FetchBegin> for RetryBalancer {
    type Result = ResponseActFuture<Self, Result<BeginAnswer, UnknownRequest>>;
    fn handle(&mut self, msg: FetchBegin, _: &mut Context<Self>) -> Self::Result {
        let Some(req) = self.requests.get_mut(&msg.request_id) else {
            return Box::pin(actix::fut::ready(Err(UnknownRequest)));
        };
        req.take_shape(msg.shape);
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
                return Box::pin(this.when_exhausted(request_id).map(move |outcome, this, _| {
                    Ok(match outcome {
                        ExhaustedOutcome::Leave => BeginAnswer::Passthrough,
                        ExhaustedOutcome::Switch(s) => {
                            if let Some(r) = this.requests.get_mut(&id) {
                                r.passthrough = false;
                            }
                            BeginAnswer::Switch(s)
                        }
                        ExhaustedOutcome::Fail(f) => BeginAnswer::Fail(f),
                    })
                })) as BeginFuture;
            };
            let (account, headers) = req.go_out_as(&picked);
            let (session_id, moved) = (req.session_id.clone(), !req.providers_tried.is_empty());
            let strip = this.strip_for(&session_id, &account.provider_id, &account.alias, moved);
            Box::pin(actix::fut::ready(Ok(BeginAnswer::Use {
                account,
                headers,
                strip,
            })))
        }))
    }
}

impl Handler<FetchResult> for RetryBalancer {
    type Result = ResponseActFuture<Self, Result<ResultAnswer, UnknownRequest>>;
    fn handle(&mut self, msg: FetchResult, _: &mut Context<Self>) -> Self::Result {
        let Some(req) = self.requests.get_mut(&msg.request_id) else {
            return Box::pin(actix::fut::ready(Err(UnknownRequest)));
        };
        if let Some(sent) = msg.sent.clone() {
            req.take_shape(sent);
        }
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
            self.owned_by(&req.session_id, &req.provider_id, &req.alias);
            self.registry.do_send(RecordOutcome {
                provider_id: req.provider_id,
                alias: req.alias,
                status: msg.status,
                headers: msg.headers,
                body: None,
            });
            return Box::pin(actix::fut::ready(Ok(ResultAnswer::Return)));
        }
        // Foreign state first: a Copilot 401 about item ids is not a refused login.
        if let Some(mended) = self.mend(&msg, attempt) {
            return mended;
        }
        if let Some(retry) = self.refresh_after_refusal(&msg, attempt) {
            return retry;
        }
        let req = &self.requests[&msg.request_id];
        let mends = req.mends;
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
            this.report(&provider, &alias, &info, msg.status);
            match next_step(&info, attempt.saturating_sub(mends)) {
                Next::Return => return Box::pin(actix::fut::ready(Ok(ResultAnswer::Return))) as Answer,
                Next::GiveUp { why } => return this.after_refusal(request_id, provider, alias, why),
                Next::Retry => {}
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
                let (account, headers) = req.go_out_as(&picked);
                let session_id = req.session_id.clone();
                let moved = !req.providers_tried.is_empty();
                if let Some(s) = this.sessions.get_mut(&session_id) {
                    s.alias = Some(picked.alias.clone());
                }
                let strip = this.strip_for(&session_id, &provider, &picked.alias, moved);
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
                    account,
                    headers,
                    sync_auth: sync_auth.map(Box::new),
                    strip,
                }))) as Answer
            }))
        }))
    }
}

impl RetryBalancer {
    /// Opens a request of the session on `picked` (`None`: no account is usable now).
    fn open_request(&mut self, msg: ChatHeaders, picked: Option<Picked>) -> HeadersAnswer {
        let now = self.clock.now_ms();
        self.next_id += 1;
        let request_id = format!("{}{}", self.id_prefix, self.next_id);
        let session = self.sessions.entry(msg.session_id.clone()).or_insert_with(|| Session {
            model: ModelRef {
                provider_id: msg.provider_id.clone(),
                model_id: msg.model_id.clone(),
            },
            alias: None,
            seen_at: now,
            switched_to: None,
        });
        session.model = ModelRef {
            provider_id: msg.provider_id.clone(),
            model_id: msg.model_id.clone(),
        };
        session.alias = picked.as_ref().map(|p| p.alias.clone());
        session.seen_at = now;
        if let Some(p) = &picked {
            self.conversations
                .sent(&msg.session_id, &msg.provider_id, &p.alias, now);
        }
        let sync_auth = picked.as_ref().and_then(|p| self.sync_auth(&msg.provider_id, p));
        let mut req = OpenRequest {
            session_id: msg.session_id,
            provider_id: msg.provider_id,
            alias: String::new(),
            generation: 0,
            oauth: false,
            refreshed: vec![],
            passthrough: false,
            recorded: 0,
            tried: vec![],
            header_names: vec![],
            authorization: None,
            created_at: now,
            model_id: msg.model_id,
            url: String::new(),
            providers_tried: vec![],
            mends: 0,
        };
        let mut begin = None;
        match (&picked, msg.fetch) {
            // Told the request it expects, the host gets `fetch.begin`'s answer for it now.
            (Some(picked), Some(shape)) => {
                req.take_shape(shape);
                let (account, headers) = req.go_out_as(picked);
                let strip = self.strip_for(&req.session_id, &req.provider_id, &picked.alias, false);
                begin = Some((account, headers, strip));
            }
            (Some(picked), None) => req.put_on(picked),
            (None, _) => {}
        }
        self.requests.insert(request_id.clone(), req);
        if self.requests.len() > MAX_REQUESTS {
            self.sweep();
        }
        HeadersAnswer {
            request_id: Some(request_id),
            sync_auth,
            begin,
        }
    }
}

/// What follows a recorded answer on attempt `attempt`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Not a refusal: the answer goes back to the host as it is.
    Return,
    /// Refused, and failover may try another account of the provider.
    Retry,
    /// Refused with no retry here: move on, end, or hand it back; `why` (when given) is told as
    /// `failover_exhausted`.
    GiveUp { why: Option<String> },
}

/// Refusals (a cooldown, a refused credential) are retried on another account while failover is
/// on and attempts are left.
pub(super) fn next_step(info: &OutcomeInfo, attempt: u32) -> Next {
    let (failover, max_attempts) = (info.failover, info.max_attempts);
    if !matches!(info.verdict, Verdict::Cooldown(_) | Verdict::AuthFailed) {
        return Next::Return;
    }
    if failover && attempt < max_attempts {
        return Next::Retry;
    }
    let why = failover.then(|| format!("{attempt} of {max_attempts} attempts used"));
    Next::GiveUp { why }
}

#[cfg(test)]
#[path = "attempt_tests.rs"]
mod tests;
