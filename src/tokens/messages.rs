//! Messages the token keeper answers, each with its handler.

use actix::prelude::*;
use tokio::sync::oneshot;

use super::refresh::release;
use super::{Failure, Outcome, TokenKeeper};
use crate::accounts::TokenTargets;
use crate::events::{Notice, Notify, ToastVariant};
use crate::model::refresh_policy as policy;
use crate::model::{EventKind, NewEvent};

/// Starts background refreshes (the sidecar does; the CLI never refreshes in the background).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartKeeping;

impl Handler<StartKeeping> for TokenKeeper {
    type Result = ();
    fn handle(&mut self, _: StartKeeping, ctx: &mut Context<Self>) {
        self.keeping = true;
        let tick = self.tick();
        ctx.spawn(tick);
    }
}

/// Catches up with the accounts and starts every due refresh; sent when an account event is
/// published here, when the test clock moves, after each refresh, and by one timer armed for the
/// earliest refresh due or the 30 s catch-up.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Tick;

impl Handler<Tick> for TokenKeeper {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: Tick, _: &mut Context<Self>) -> Self::Result {
        self.tick()
    }
}

/// Refreshes one account now, joining a refresh in flight for it. With `seen`, a refresh forced
/// by a refused token: done unless the credential already moved past generation `seen` (then the
/// newer one is the answer). Without, only when the token expires within a minute
/// (`policy::refresh_before_use`); a token good for longer is the answer as it is.
/// Either way, while the account's pacing holds it back (refreshed under a minute ago, or backing
/// off after a failure or a `Retry-After`) the answer is `Failure::Waiting` at once, no request.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Outcome")]
pub struct RefreshNow {
    pub provider_id: String,
    pub alias: String,
    pub seen: Option<u64>,
}

impl Handler<RefreshNow> for TokenKeeper {
    type Result = ResponseActFuture<Self, Outcome>;
    fn handle(&mut self, msg: RefreshNow, _: &mut Context<Self>) -> Self::Result {
        let ask = self.env.registry.send(TokenTargets {
            provider_id: Some(msg.provider_id.clone()),
            alias: Some(msg.alias.clone()),
            fresh: true,
        });
        Box::pin(ask.into_actor(self).then(move |targets, this, ctx| {
            let target = targets.ok().and_then(|t| t.into_iter().next());
            let (tx, rx) = oneshot::channel();
            let now = this.env.clock.now_ms();
            let ready = |o: Outcome| Box::pin(actix::fut::ready(o)) as ResponseActFuture<Self, Outcome>;
            let Some(t) = target else {
                return ready(Outcome::Failed(Failure::Gone("no such OAuth account".into())));
            };
            let generation = t.generation;
            if !this.env.client.refreshable(&t.provider_id, &t.auth) {
                return ready(Outcome::Failed(Failure::Unsupported {
                    generation,
                    reason: format!("no token refresh for {}", t.provider_id),
                }));
            }
            if t.login_required {
                return ready(Outcome::Failed(Failure::LoginRequired {
                    generation,
                    reason: policy::login_hint(&t.provider_id),
                }));
            }
            let moved = msg.seen.is_some_and(|s| s != generation);
            let fresh_enough = msg.seen.is_none()
                && !policy::refresh_before_use(policy::effective_expiry(&t.provider_id, &t.auth), now);
            if moved || fresh_enough {
                return ready(Outcome::Fresh {
                    auth: t.auth,
                    generation,
                    by_us: false,
                });
            }
            // The same pacing as the background: while it holds the account back, no request is
            // made (a refresh in flight is joined, though: its answer is the newest there is).
            let key = (t.provider_id.clone(), t.alias.clone());
            if let Some(until) = this.paces.held_back(&key, generation, now) {
                if !this.inflight.contains_key(&key) {
                    return ready(Outcome::Failed(Failure::Waiting { generation, until }));
                }
            }
            this.begin(t, Some(tx), false, ctx);
            Box::pin(
                async move {
                    rx.await
                        .unwrap_or(Outcome::Failed(Failure::Gone("the refresh was dropped".into())))
                }
                .into_actor(this),
            )
        }))
    }
}

/// How many refreshes are in flight (tests).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct InFlight;

impl Handler<InFlight> for TokenKeeper {
    type Result = usize;
    fn handle(&mut self, _: InFlight, _: &mut Context<Self>) -> usize {
        self.inflight.len()
    }
}

/// A request on a credential nothing refreshes (Copilot's GitHub token is its bearer) was refused
/// 401/403: the token is revoked or expired, so the account needs a new login. Marked only while
/// the account still holds that credential (`generation`), then announced like a refused refresh.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LoginRefused {
    pub provider_id: String,
    pub alias: String,
    pub generation: u64,
    pub status: u16,
}

impl Handler<LoginRefused> for TokenKeeper {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, msg: LoginRefused, _: &mut Context<Self>) -> Self::Result {
        let env = self.env.clone();
        let (p, a, g) = (msg.provider_id.clone(), msg.alias.clone(), msg.generation);
        let marked = async move { release(&env, &p, &a, g, true).await };
        Box::pin(marked.into_actor(self).map(move |_, this, _| {
            let (p, a) = (&msg.provider_id, &msg.alias);
            tracing::info!(provider = %p, alias = %a, status = msg.status, "the login's token was refused; a new login is needed");
            this.bus.do_send(crate::events::Publish(
                NewEvent::new(EventKind::LoginRequired, login_required_message(p, a))
                    .account(p, a)
                    .meta("generation", msg.generation)
                    .meta("reason", format!("the provider refused the token ({})", msg.status)),
            ));
            this.bus.do_send(Notify(Notice::Toast {
                message: login_required_message(p, a),
                variant: ToastVariant::Warning,
            }));
        }))
    }
}

/// What the event and the toast say when a provider refused an account's login.
pub(super) fn login_required_message(p: &str, a: &str) -> String {
    format!(
        "{p}/{a} needs a new login: the provider refused its saved login, so it is not used until you {}",
        policy::login_hint(p)
    )
}
