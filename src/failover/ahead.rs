//! Openings asked ahead (docs/protocol.md "An opening ahead"): the host asks `chat.headers` for a
//! session's next request before opencode needs it, and uses the answer at the request's hook
//! without a round trip. Such an opening records nothing until it is used — the session's account
//! (`session.get`), its continuity guess and edit, the synced credential, the round-robin cursor
//! — so one never used leaves no trace; its records are made by its first `fetch.begin`,
//! `fetch.result` or `fetch.stream`. Unused ones are bounded: the host names those it dropped
//! (`unused`), at most `MAX_AHEAD` are kept (the oldest unused forgotten first), and they expire
//! with every request after `REQUEST_TTL_MS`.

use actix::prelude::*;

use super::{ChatHeaders, HeadersAnswer, RequestShape};
use super::{OpenRequest, RetryBalancer, Session};
use crate::accounts::{PeekAccount, Picked};
use crate::continuity::Scope;
use crate::model::refresh_policy::{effective_expiry, refresh_before_use};
use crate::model::{Millis, ModelRef};

/// Unused openings kept at most; far above what the plugin holds (one per session, 256).
pub const MAX_AHEAD: usize = 1024;
/// Openings a `chat.headers` call may name as dropped.
const MAX_UNUSED: usize = 256;

/// What an opening asked ahead records when it is used.
pub(super) struct Deferred {
    /// The edit its `begin` answered (the session is edited so from then on).
    strip: Option<Scope>,
}

impl RetryBalancer {
    /// `chat.headers` with `ahead`: the opening the request would get now, recording nothing.
    /// No opening (an empty answer) when the pick would change something (a round-robin step, a
    /// token refresh, a credential synced to the host) or no request shape was said.
    pub(super) fn open_ahead(&mut self, msg: ChatHeaders) -> ResponseActFuture<Self, HeadersAnswer> {
        let prefer = self
            .sessions
            .get(&msg.session_id)
            .filter(|s| s.model.provider_id == msg.provider_id)
            .and_then(|s| s.alias.clone());
        let ask = self.registry.send(PeekAccount {
            provider_id: msg.provider_id.clone(),
            prefer,
        });
        Box::pin(ask.into_actor(self).map(move |peeked, this, _| {
            let now = this.clock.now_ms();
            let Some((picked, until)) = peeked.ok().flatten() else {
                return HeadersAnswer::default();
            };
            let stale = refresh_before_use(effective_expiry(&msg.provider_id, &picked.auth), now);
            match msg.fetch.clone() {
                Some(shape) if !stale && until > now && !this.sync_due(&msg.provider_id, &picked) => {
                    this.opened_ahead(msg, &picked, shape, until - now)
                }
                _ => HeadersAnswer::default(),
            }
        }))
    }

    fn opened_ahead(
        &mut self,
        msg: ChatHeaders,
        picked: &Picked,
        shape: RequestShape,
        valid_ms: Millis,
    ) -> HeadersAnswer {
        let now = self.clock.now_ms();
        self.next_id += 1;
        let request_id = format!("{}{}", self.id_prefix, self.next_id);
        let strip = self
            .conversations
            .would_strip(&msg.session_id, &msg.provider_id, &picked.alias);
        let mut req = OpenRequest::opened(msg.session_id, msg.provider_id, msg.model_id, now);
        req.take_shape(shape);
        let (account, headers) = req.go_out_as(picked);
        req.ahead = Some(Deferred { strip });
        self.requests.insert(request_id.clone(), req);
        self.ahead_order.push_back(request_id.clone());
        while self.ahead_order.len() > MAX_AHEAD {
            let oldest = self.ahead_order.pop_front().expect("longer than the bound");
            self.forget_unused(&oldest);
        }
        HeadersAnswer {
            request_id: Some(request_id),
            sync_auth: None,
            begin: Some((account, headers, strip)),
            valid_ms: Some(valid_ms),
        }
    }

    /// The first use of a request: an opening asked ahead makes the records it put off.
    pub(super) fn settle_ahead(&mut self, request_id: &str) {
        let Some(req) = self.requests.get_mut(request_id) else {
            return;
        };
        let Some(deferred) = req.ahead.take() else { return };
        let now = self.clock.now_ms();
        req.created_at = now;
        let (session, provider, model, alias) = (
            req.session_id.clone(),
            req.provider_id.clone(),
            req.model_id.clone(),
            req.alias.clone(),
        );
        self.bind_session(&session, &provider, &model, Some(alias.clone()), now);
        self.conversations.sent(&session, &provider, &alias, now);
        self.conversations.edited(&session, deferred.strip, now);
        self.persist_conversations();
    }

    /// `chat.headers`' `unused`: openings the host dropped without using them.
    pub(super) fn drop_unused(&mut self, ids: &[String]) {
        for id in ids.iter().take(MAX_UNUSED) {
            self.forget_unused(id);
        }
    }

    fn forget_unused(&mut self, request_id: &str) {
        if self.requests.get(request_id).is_some_and(|r| r.ahead.is_some()) {
            self.requests.remove(request_id);
        }
    }

    /// The session's request goes out on `provider`/`model` as `alias` (`None`: no account).
    pub(super) fn bind_session(
        &mut self,
        session_id: &str,
        provider: &str,
        model: &str,
        alias: Option<String>,
        now: Millis,
    ) {
        let model = ModelRef {
            provider_id: provider.to_string(),
            model_id: model.to_string(),
        };
        let session = self.sessions.entry(session_id.to_string()).or_insert_with(|| Session {
            model: model.clone(),
            alias: None,
            seen_at: now,
            switched_to: None,
        });
        session.model = model;
        session.alias = alias;
        session.seen_at = now;
    }
}
