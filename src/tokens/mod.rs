//! Token keeper actor: owns OAuth credential lifetimes. It refreshes every saved OAuth account
//! ahead of its expiry (the lead window of `model::refresh_policy`) and every few days to keep an idle
//! refresh chain alive, and on demand when the balancer is about to hand out a token about to
//! expire or a provider refused one (401). Exactly one process sharing the store spends each
//! refresh token (`refresh`: a lease and a generation in the store).
//!
//! Lifecycle: `start` runs it on its own arbiter; store work goes through the registry to the
//! store thread, so nothing here waits on disk or blocks the hot path. At most a few background
//! refreshes run at once. One pacing state per account (`pace`) is shared by the background
//! schedule and the hot path's on-demand refreshes: never more than one token request per account
//! a minute, a capped backoff after a failure (or a `Retry-After`), two callers share one refresh,
//! and a caller finding the account held back is answered at once without a request. A refreshed credential of
//! a provider's active account is handed to opencode (`auth.sync`, only the fields opencode keeps,
//! never an expired one), so opencode never has to spend the refresh token itself. Each result is
//! an event: `token_refreshed`, `token_refresh_failed`, `login_required` (no secrets).

mod messages;
mod pace;
pub mod providers;
mod refresh;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use self::messages::login_required_message;
pub use self::messages::*;
use self::pace::Paces;
pub use self::pace::{BACKOFF_MAX_MS, BACKOFF_MIN_MS};
use self::refresh::{refresh, Env};
pub use self::refresh::{Failure, Outcome};
use crate::accounts::AccountRegistry;
use crate::accounts::{TokenTarget, TokenTargets};
use crate::clock::SharedClock;
use crate::events::{EventBus, Notice, Notify, Publish, ToastVariant};
use crate::logins::ProfileReader;
use crate::model::refresh_policy as policy;
use crate::model::{EventKind, Millis, NewEvent};
use crate::tokens::providers::TokenClient;

type Key = (String, String);

/// Timing of the keeper (tests use a long tick and drive it with `Tick`).
#[derive(Clone, Debug)]
pub struct Config {
    pub tick: Duration,
    /// Background refreshes at once (on-demand ones are never queued behind them).
    pub max_in_flight: usize,
    /// The longest one refresh request may take; under the lease's lifetime.
    pub timeout: Duration,
    pub lease_ttl: Millis,
    pub poll: Duration,
    /// opencode's auth.json (read after an error that may hide a rotation).
    pub auth_path: Option<std::path::PathBuf>,
    /// Who a Claude login found there is (its profile), the only proof that it is the same person.
    pub profiles: Option<Arc<ProfileReader>>,
}

impl Default for Config {
    fn default() -> Self {
        Config::from_vars(|name| std::env::var(name).ok())
    }
}

impl Config {
    /// The defaults, with opencode's auth.json and Claude's profile endpoint found through `vars`.
    pub fn from_vars(vars: impl Fn(&str) -> Option<String>) -> Config {
        Config {
            tick: Duration::from_secs(1),
            max_in_flight: 3,
            timeout: Duration::from_secs(20),
            lease_ttl: crate::store::LEASE_TTL_MS,
            poll: Duration::from_millis(200),
            auth_path: Some(crate::logins::auth_path_from(&vars)),
            profiles: Some(Arc::new(ProfileReader::at(crate::usage::Endpoints::from_vars(&vars)))),
        }
    }
}

/// The account list is caught up with at least this often (accounts saved here, and test-clock
/// moves, at once).
pub const SYNC_MS: Millis = 30_000;

/// Starts the keeper on a new arbiter, its token endpoints and [`Config`] read from `vars`.
pub fn start(
    registry: Addr<AccountRegistry>,
    bus: Addr<EventBus>,
    clock: SharedClock,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Addr<TokenKeeper> {
    let arbiter = Arbiter::new();
    let events = bus.clone();
    let client: Arc<dyn TokenClient> = Arc::new(providers::Router::new(providers::Endpoints::from_vars(vars)));
    let config = Config::from_vars(vars);
    let addr = TokenKeeper::start_in_arbiter(&arbiter.handle(), move |_| {
        TokenKeeper::new(registry, bus, clock, client, config)
    });
    events.do_send(crate::events::SubscribeTo(addr.clone().recipient(), wants));
    addr
}

pub struct TokenKeeper {
    env: Env,
    bus: Addr<EventBus>,
    config: Config,
    keeping: bool,
    syncing: bool,
    /// When the account list was last caught up with, the earliest refresh due then, and the one
    /// pending timer wake-up.
    synced_at: Millis,
    next_due: Option<Millis>,
    wake: Option<SpawnHandle>,
    inflight: HashMap<Key, Vec<oneshot::Sender<Outcome>>>,
    background: usize,
    /// When each account may be refreshed again (background and on demand alike).
    paces: Paces,
    /// Not refreshed again until a new credential (login required, nothing to refresh).
    parked: HashMap<Key, u64>,
}

impl TokenKeeper {
    pub fn new(
        registry: Addr<AccountRegistry>,
        bus: Addr<EventBus>,
        clock: SharedClock,
        client: Arc<dyn TokenClient>,
        config: Config,
    ) -> TokenKeeper {
        let env = Env {
            registry,
            client,
            clock,
            owner: lease_owner(),
            lease_ttl: config.lease_ttl,
            timeout: config.timeout,
            poll: config.poll,
            auth_path: config.auth_path.clone(),
            profiles: config.profiles.clone(),
        };
        TokenKeeper {
            env,
            bus,
            config,
            keeping: false,
            syncing: false,
            synced_at: 0,
            next_due: None,
            wake: None,
            inflight: HashMap::new(),
            background: 0,
            paces: Paces::default(),
            parked: HashMap::new(),
        }
    }

    fn now(&self) -> Millis {
        self.env.clock.now_ms()
    }

    /// Whether `t` is due for a background refresh at `now`.
    fn due(&self, t: &TokenTarget, now: Millis) -> bool {
        let key = (t.provider_id.clone(), t.alias.clone());
        if t.login_required
            || self.inflight.contains_key(&key)
            || self.parked.get(&key) == Some(&t.generation)
            || !self.env.client.refreshable(&t.provider_id, &t.auth)
        {
            return false;
        }
        if self.paces.held_back(&key, t.generation, now).is_some() {
            return false;
        }
        let Some(expiry) = policy::effective_expiry(&t.provider_id, &t.auth) else {
            return false;
        };
        policy::next_refresh_at(expiry, policy::jwt_lifetime(&t.auth), t.refreshed_at) <= now
    }

    /// Catches up with the accounts, then starts what is due.
    fn tick(&mut self) -> ResponseActFuture<Self, ()> {
        if self.syncing || !self.keeping {
            return Box::pin(actix::fut::ready(()));
        }
        self.syncing = true;
        let ask = self.env.registry.send(TokenTargets {
            provider_id: None,
            alias: None,
            fresh: false,
        });
        Box::pin(ask.into_actor(self).map(|targets, this, ctx| {
            this.syncing = false;
            let now = this.now();
            this.synced_at = now;
            let targets = targets.unwrap_or_default();
            this.next_due = targets.iter().filter_map(|t| this.due_at(t)).min();
            let mut due: Vec<TokenTarget> = targets.into_iter().filter(|t| this.due(t, now)).collect();
            due.sort_by_key(|t| policy::effective_expiry(&t.provider_id, &t.auth));
            for t in due {
                if this.background >= this.config.max_in_flight {
                    break;
                }
                this.begin(t, None, true, ctx);
            }
            this.arm(ctx);
        }))
    }

    /// Sets the one timer wake-up: the earliest refresh due, or the catch-up with the account
    /// list every `SYNC_MS`, at most once a `tick`; none before keeping starts.
    fn arm(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.wake.take() {
            ctx.cancel_future(h);
        }
        if !self.keeping {
            return;
        }
        let now = self.now();
        let next = self
            .next_due
            .map_or(self.synced_at + SYNC_MS, |d| d.min(self.synced_at + SYNC_MS));
        let floor = self.config.tick.as_millis() as Millis;
        let delay = next.saturating_sub(now).clamp(floor, SYNC_MS.max(floor));
        self.wake = Some(ctx.run_later(Duration::from_millis(delay as u64), |this, ctx| {
            this.wake = None;
            let tick = this.tick();
            ctx.spawn(tick);
        }));
    }

    /// When `t`'s next background refresh is due, if it has one.
    fn due_at(&self, t: &TokenTarget) -> Option<Millis> {
        let key = (t.provider_id.clone(), t.alias.clone());
        if t.login_required
            || self.parked.get(&key) == Some(&t.generation)
            || !self.env.client.refreshable(&t.provider_id, &t.auth)
        {
            return None;
        }
        let expiry = policy::effective_expiry(&t.provider_id, &t.auth)?;
        let at = policy::next_refresh_at(expiry, policy::jwt_lifetime(&t.auth), t.refreshed_at);
        let paced = self.paces.not_before(&key, t.generation);
        Some(paced.map_or(at, |r| r.max(at)))
    }

    /// Starts the refresh of `t`, or joins the one in flight for the same account.
    fn begin(
        &mut self,
        t: TokenTarget,
        waiter: Option<oneshot::Sender<Outcome>>,
        background: bool,
        ctx: &mut Context<Self>,
    ) {
        let key = (t.provider_id.clone(), t.alias.clone());
        if let Some(waiters) = self.inflight.get_mut(&key) {
            waiters.extend(waiter);
            return;
        }
        self.inflight.insert(key.clone(), waiter.into_iter().collect());
        if background {
            self.background += 1;
        }
        let fut = refresh(self.env.clone(), t.provider_id.clone(), t.alias.clone(), t.generation);
        ctx.spawn(fut.into_actor(self).map(move |outcome, this, ctx| {
            if background {
                this.background -= 1;
            }
            this.finish(&t, &outcome);
            for w in this.inflight.remove(&key).unwrap_or_default() {
                let _ = w.send(outcome.clone());
            }
            let tick = this.tick();
            ctx.spawn(tick);
        }));
    }

    /// Announces an outcome, syncs the active account, schedules the retry.
    fn finish(&mut self, t: &TokenTarget, outcome: &Outcome) {
        let key = (t.provider_id.clone(), t.alias.clone());
        let (p, a) = (&t.provider_id, &t.alias);
        let now = self.now();
        match outcome {
            Outcome::Fresh {
                auth,
                generation,
                by_us,
            } => {
                self.parked.remove(&key);
                let expires = policy::effective_expiry(p, auth);
                if *by_us {
                    let due_again = expires.map_or(Millis::MAX, |e| {
                        policy::next_refresh_at(e, policy::jwt_lifetime(auth), now)
                    });
                    let dead = expires.is_some_and(|e| e <= now);
                    let streak = self.paces.refreshed(&key, *generation, due_again, dead, now);
                    tracing::info!(provider = %p, alias = %a, generation, streak, "token refreshed");
                    let message = match streak {
                        0 => format!("{p}/{a} token refreshed"),
                        _ => format!(
                            "{p}/{a} token refreshed, but the new token is already due again (it lives \
                             very briefly, or this machine's clock is ahead): refreshing it at most \
                             every {} s until that changes",
                            self.paces
                                .not_before(&key, *generation)
                                .unwrap_or(now)
                                .saturating_sub(now)
                                / 1000
                        ),
                    };
                    // One event says so; the next refreshes of the same run are logged, not announced.
                    if streak <= 1 {
                        self.publish(
                            NewEvent::new(EventKind::TokenRefreshed, message)
                                .account(p, a)
                                .meta("generation", generation)
                                .meta("expiresAt", expires.map_or("null".into(), |e| e.to_string())),
                        );
                    }
                }
                if *by_us && t.active && expires.is_none_or(|e| e > now) {
                    self.bus.do_send(Notify(Notice::AuthSync {
                        provider_id: p.clone(),
                        auth: auth.as_opencode_keeps(),
                    }));
                }
            }
            Outcome::Failed(f) => {
                let reason = f.reason();
                tracing::info!(provider = %p, alias = %a, reason = %reason, "token refresh failed");
                match f {
                    Failure::LoginRequired { generation, .. } => {
                        self.parked.insert(key, *generation);
                        self.publish(
                            NewEvent::new(EventKind::LoginRequired, login_required_message(p, a))
                                .account(p, a)
                                .meta("generation", generation)
                                .meta("reason", &reason),
                        );
                        self.bus.do_send(Notify(Notice::Toast {
                            message: login_required_message(p, a),
                            variant: ToastVariant::Warning,
                        }));
                    }
                    Failure::Unsupported { generation, .. } => {
                        self.parked.insert(key, *generation);
                    }
                    Failure::Transient { generation, .. } | Failure::RateLimited { generation, .. } => {
                        let hinted = match f {
                            Failure::RateLimited { until, .. } => *until,
                            _ => None,
                        };
                        let at = self.paces.failed(&key, *generation, hinted, now);
                        self.publish(
                            NewEvent::new(
                                EventKind::TokenRefreshFailed,
                                format!("{p}/{a} token refresh failed: {reason}"),
                            )
                            .account(p, a)
                            .meta("generation", generation)
                            .meta("reason", &reason)
                            .meta("retryAt", at),
                        );
                    }
                    Failure::Gone(_) | Failure::Waiting { .. } => {}
                }
            }
        }
    }

    fn publish(&self, e: NewEvent) {
        self.bus.do_send(Publish(e));
    }
}

/// A random id for this process's leases (not a secret; unique per process and start).
fn lease_owner() -> String {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", std::process::id())
}

impl Actor for TokenKeeper {
    type Context = Context<Self>;
}

/// The notices that can change which tokens the keeper looks after: account events (the bus sends
/// it no other, so a failover's events do not wake its thread).
pub(crate) fn wants(n: &Notice) -> bool {
    matches!(n, Notice::Event(e) if e.kind.starts_with("account_"))
}

/// Account changes published here (a save, a capture) are caught up with at once.
impl Handler<Notice> for TokenKeeper {
    type Result = ();
    fn handle(&mut self, n: Notice, ctx: &mut Context<Self>) {
        if self.keeping && wants(&n) {
            let tick = self.tick();
            ctx.spawn(tick);
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_identity;
#[cfg(test)]
mod tests_pacing;
