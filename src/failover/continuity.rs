//! Continuity on the hot path (issue 29, docs/continuity.md): which account owns a session's
//! replayed state, when a request must go out without it (`stripState`), the one resend that
//! mends a refusal of foreign state, and refusals that arrive as an event of a 200 stream.

use actix::prelude::*;

use super::{Answer, FetchResult, FetchStream, ResultAnswer, RetryBalancer, StreamAnswer, UnknownRequest};
use crate::accounts::{ConversationsChanged, RecordConversations};
use crate::continuity::{classify_state_bound_error, Lookahead, Scope, Step};
use crate::events::Publish;
use crate::failover::rules::headers::HeaderPlan;
use crate::model::{AccountRef, EventKind, NewEvent};

impl RetryBalancer {
    /// The edit a request of `session_id` needs to go out on `provider`/`alias`: none on the
    /// account that produced its state (byte for byte), `SameProvider` on another account of the
    /// provider, `ProviderMove` when `moved` to another provider — and never less than what the
    /// session was already edited with (in any process: the records are in the store). With no
    /// owner known, the account the session's first request here went to stands for it; the
    /// mend below covers a wrong guess.
    pub(super) fn strip_for(&mut self, session_id: &str, provider: &str, alias: &str, moved: bool) -> Option<Scope> {
        let now = self.clock.now_ms();
        let scope = self.conversations.strip_for(session_id, provider, alias, moved, now);
        self.persist_conversations();
        scope
    }

    /// A 2xx on `provider`/`alias`: that account produced the state the session replays next.
    pub(super) fn owned_by(&mut self, session_id: &str, provider: &str, alias: &str) {
        let now = self.clock.now_ms();
        self.conversations.owned_by(session_id, provider, alias, now);
        self.persist_conversations();
    }

    /// Hands changed continuity records to the registry, which writes them with its next flush
    /// (never awaited: the hot path does not wait on the store).
    fn persist_conversations(&mut self) {
        let changed = self.conversations.take_changed();
        if !changed.is_empty() {
            self.registry.do_send(RecordConversations(changed));
        }
    }

    /// The safety net: a 400/401 saying the replayed state belongs elsewhere is answered with
    /// one resend on the same account without it — no cooldown, no auth failure, no failure
    /// counted. A second such refusal of the request goes back as it is. `None`: not such a
    /// refusal, the normal classifier decides.
    pub(super) fn mend(&mut self, msg: &FetchResult, attempt: u32) -> Option<Answer> {
        if !matches!(msg.status, 400 | 401) {
            return None;
        }
        let bound = classify_state_bound_error(msg.status, msg.body.as_deref()?)?;
        let req = self.requests.get_mut(&msg.request_id)?;
        if req.mends > 0 {
            return Some(Box::pin(actix::fut::ready(Ok(ResultAnswer::Return))));
        }
        req.mends += 1;
        let here = if req.providers_tried.is_empty() {
            Scope::SameProvider
        } else {
            Scope::ProviderMove
        };
        let (provider, alias, session_id) = (req.provider_id.clone(), req.alias.clone(), req.session_id.clone());
        let scope = self.conversations.mended(&session_id, here, self.clock.now_ms());
        self.persist_conversations();
        self.bus.do_send(Publish(
            NewEvent::new(
                EventKind::StateMended,
                format!(
                    "{provider}/{alias} refused state another account produced ({}); sent once more without it",
                    bound.kind.as_str()
                ),
            )
            .account(&provider, &alias)
            .meta("kind", bound.kind.as_str())
            .meta("status", msg.status)
            .meta("attempt", attempt)
            .meta("scope", scope.as_str()),
        ));
        Some(Box::pin(actix::fut::ready(Ok(ResultAnswer::Retry {
            account: AccountRef {
                provider_id: provider,
                alias,
            },
            headers: HeaderPlan::default(),
            sync_auth: None,
            strip: Some(scope),
        }))))
    }
}

/// Records written to the store by any process since the last read: merged into memory.
impl Handler<ConversationsChanged> for RetryBalancer {
    type Result = ();
    fn handle(&mut self, msg: ConversationsChanged, _: &mut Context<Self>) {
        self.conversations.merge_in(msg.0);
    }
}

impl Handler<FetchStream> for RetryBalancer {
    type Result = ResponseActFuture<Self, Result<StreamAnswer, UnknownRequest>>;
    fn handle(&mut self, msg: FetchStream, ctx: &mut Context<Self>) -> Self::Result {
        let Some(req) = self.requests.get(&msg.request_id) else {
            return Box::pin(actix::fut::ready(Err(UnknownRequest)));
        };
        if req.passthrough {
            return Box::pin(actix::fut::ready(Ok(StreamAnswer::Forward)));
        }
        let mut look = Lookahead::default();
        let mut step = Step::Hold;
        let mut refused_data = None;
        for (event, data) in &msg.events {
            step = look.feed(event.as_deref(), data);
            if matches!(step, Step::Refused(_)) {
                refused_data = Some(data.clone());
            }
            if !matches!(step, Step::Hold) {
                break;
            }
        }
        let error = match step {
            Step::Hold => return Box::pin(actix::fut::ready(Ok(StreamAnswer::Hold))),
            Step::Forward => return Box::pin(actix::fut::ready(Ok(StreamAnswer::Forward))),
            Step::Refused(e) => e,
        };
        self.bus.do_send(Publish(
            NewEvent::new(
                EventKind::StreamRefused,
                format!(
                    "{}/{} refused inside a 200 stream, before any content (as {})",
                    req.provider_id, req.alias, error.status
                ),
            )
            .account(&req.provider_id, &req.alias)
            .meta("status", error.status)
            .meta("attempt", msg.attempt.max(1)),
        ));
        let result = FetchResult {
            request_id: msg.request_id,
            attempt: msg.attempt,
            status: error.status,
            headers: msg.headers,
            body: refused_data,
            sent: msg.sent,
        };
        Box::pin(<Self as Handler<FetchResult>>::handle(self, result, ctx).map(|r, _, _| r.map(StreamAnswer::Refused)))
    }
}
