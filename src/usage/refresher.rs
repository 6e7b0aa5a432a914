//! Usage refresher actor: keeps a usage snapshot of every enabled account fresh without becoming
//! the thing that gets an account rate-limited.
//!
//! Lifecycle: `start` runs it on its own arbiter (thread), so a slow usage endpoint never touches
//! the hot path. Reads go through one `UsageClient` (the router in production) as the schedule in
//! `usage::schedule` allows (jitter, backoff, at most four in flight); time comes from the
//! injectable clock. Each result is redacted, handed to the registry (`ApplyUsage`: stored on the
//! store thread, applied to memory, cooldown moved), then published as `usage_refreshed` or
//! `usage_unavailable` when it says something new. Accounts whose provider has no usage endpoint
//! are never polled; `usage.list`/`usage.refresh` show them with the plain reason.
//!
//! Timers run only when something is due: one wake-up at the earliest of the next read, the next
//! passive reading's reset and the 30 s catch-up (at most one a second), none before polling.

mod lend;
mod messages;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::accounts::{AccountRegistry, ApplyUsage, UsageAccounts, UsageTarget, UsageTargets, UsageTargetsReply};
use crate::clock::SharedClock;
use crate::events::{EventBus, Notice, Publish, SubscribeTo};
use crate::model::{Millis, UsageSnapshot};
use crate::usage::outcome::{self, is_passive};
use crate::usage::passive;
use crate::usage::schedule::{Jitter, Key, Schedule, SeededJitter, PROMPT_MIN_MS};
use crate::usage::{Confidence, Endpoints, FetchError, Router, Usage, UsageClient, UsageRequest};

pub use self::lend::LendCredential;
pub use self::messages::*;

/// Passive header readings are applied at most this often per account.
pub const PASSIVE_MIN_MS: Millis = 10_000;
/// The account list and settings are caught up with at least this often (accounts saved by
/// another process are seen by then; those saved here, and settings changed here, at once).
pub const SYNC_MS: Millis = 30_000;

/// Timing of the actor itself (tests use a long tick and drive it with `Tick`).
#[derive(Clone, Debug)]
pub struct Config {
    /// The shortest time between two timer wake-ups.
    pub tick: Duration,
    /// The longest one account's read may take, fallbacks included.
    pub deadline: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tick: Duration::from_secs(1),
            deadline: Duration::from_secs(30),
        }
    }
}

/// Starts the refresher on a new arbiter, with the router over the endpoints and the jitter
/// seeded as `vars` say (`Endpoints::from_vars`, `SeededJitter::from_vars`).
pub fn start(
    registry: Addr<AccountRegistry>,
    bus: Addr<EventBus>,
    clock: SharedClock,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Addr<UsageRefresher> {
    let arbiter = Arbiter::new();
    let events = bus.clone();
    let (endpoints, jitter) = (Endpoints::from_vars(vars), SeededJitter::from_vars(vars));
    let addr = UsageRefresher::start_in_arbiter(&arbiter.handle(), move |_| {
        let client: Arc<dyn UsageClient> = Arc::new(Router::new(endpoints));
        UsageRefresher::new(registry, bus, clock, client, Box::new(jitter), Config::default())
    });
    events.do_send(SubscribeTo(addr.clone().recipient(), wants));
    addr
}

pub struct UsageRefresher {
    registry: Addr<AccountRegistry>,
    bus: Addr<EventBus>,
    clock: SharedClock,
    client: Arc<dyn UsageClient>,
    schedule: Schedule,
    config: Config,
    polling: bool,
    enabled: bool,
    fingerprint: u64,
    syncing: bool,
    /// When the account list was last caught up with, and the one pending timer wake-up.
    synced_at: Millis,
    wake: Option<SpawnHandle>,
    waiters: HashMap<Key, Vec<oneshot::Sender<UsageSnapshot>>>,
    passive_at: HashMap<Key, Millis>,
    /// Passive readings with a reset time: (their fetch time, the reset).
    passive_resets: HashMap<Key, (Millis, Millis)>,
    /// Secrets the plugin lent for opencode 2's credentials (memory only, `usage::lent`).
    lent: crate::usage::lent::Lent,
}

impl UsageRefresher {
    pub fn new(
        registry: Addr<AccountRegistry>,
        bus: Addr<EventBus>,
        clock: SharedClock,
        client: Arc<dyn UsageClient>,
        jitter: Box<dyn Jitter>,
        config: Config,
    ) -> UsageRefresher {
        UsageRefresher {
            registry,
            bus,
            clock,
            client,
            schedule: Schedule::new(60_000, jitter),
            config,
            polling: false,
            enabled: true,
            fingerprint: 0,
            syncing: false,
            synced_at: 0,
            wake: None,
            waiters: HashMap::new(),
            passive_at: HashMap::new(),
            passive_resets: HashMap::new(),
            lent: Default::default(),
        }
    }

    fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Whether `t`'s usage can be read (an opencode 2 credential: with a secret the plugin lent).
    fn check(&self, t: &UsageTarget, now: Millis) -> Result<(), String> {
        self.client
            .check(&t.provider_id, self.lent.usable(&t.provider_id, &t.auth, now))
    }

    /// Catches up with the accounts and settings, then starts what is due.
    fn tick(&mut self) -> ResponseActFuture<Self, ()> {
        if self.syncing {
            return Box::pin(actix::fut::ready(()));
        }
        self.syncing = true;
        let ask = self.registry.send(UsageTargets {
            known: self.fingerprint,
        });
        Box::pin(ask.into_actor(self).map(|reply, this, ctx| {
            this.syncing = false;
            this.synced_at = this.now();
            if let Ok(reply) = reply {
                this.absorb(reply);
            }
            this.expire_passive(ctx);
            this.pump(ctx);
        }))
    }

    fn absorb(&mut self, reply: UsageTargetsReply) {
        self.enabled = reply.usage_enabled;
        self.schedule
            .set_interval((reply.interval_seconds.max(1) as Millis).saturating_mul(1000));
        self.fingerprint = reply.fingerprint;
        if let Some(accounts) = reply.accounts {
            let now = self.now();
            let alive = accounts.iter().filter_map(|t| t.auth.host_credential()).collect();
            self.lent.forget(&alive, now);
            let polled: Vec<_> = accounts
                .into_iter()
                .filter(|t| !t.disabled && self.check(t, now).is_ok())
                .collect();
            let polled = polled.into_iter().map(|t| ((t.provider_id, t.alias), t.credential));
            self.schedule.sync(polled, now);
        }
    }

    /// Starts every read the schedule allows now.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        for (key, forced) in self.schedule.take_due(now, self.polling && self.enabled) {
            let ask = self.registry.send(UsageAccounts {
                provider_id: Some(key.0.clone()),
                alias: Some(key.1.clone()),
                fresh: false,
            });
            ctx.spawn(ask.into_actor(self).map(move |targets, this, ctx| {
                let target = targets.ok().and_then(|t| t.into_iter().next());
                this.begin(key, forced, target, ctx);
            }));
        }
        self.arm(ctx);
    }

    /// Sets the one timer wake-up for the earliest thing due (nothing before polling starts).
    fn arm(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.wake.take() {
            ctx.cancel_future(h);
        }
        if !self.polling {
            return;
        }
        let now = self.now();
        let mut next = self.synced_at.saturating_add(SYNC_MS);
        if self.enabled {
            next = self.schedule.next_due().map_or(next, |d| d.min(next));
        }
        if let Some(reset) = self.passive_resets.values().map(|(_, r)| *r).min() {
            next = next.min(reset);
        }
        let floor = self.config.tick.as_millis() as Millis;
        let delay = next.saturating_sub(now).clamp(floor, SYNC_MS.max(floor));
        self.wake = Some(ctx.run_later(Duration::from_millis(delay as u64), |this, ctx| {
            this.wake = None;
            this.wake_up(ctx);
        }));
    }

    /// Does what is due now: the catch-up with the account list when it is time, else the due
    /// reads and expired passive readings.
    fn wake_up(&mut self, ctx: &mut Context<Self>) {
        if !self.polling {
            return;
        }
        if self.now() - self.synced_at >= SYNC_MS {
            let tick = self.tick();
            ctx.spawn(tick);
        } else {
            self.expire_passive(ctx);
            self.pump(ctx);
        }
    }

    /// Reads one account, unless it is gone or another process read it moments ago.
    fn begin(&mut self, key: Key, forced: bool, target: Option<UsageTarget>, ctx: &mut Context<Self>) {
        let now = self.now();
        let Some(target) = target else {
            self.schedule.remove(&key);
            self.waiters.remove(&key);
            return self.pump(ctx);
        };
        let wanted = forced || self.waiters.contains_key(&key);
        if !wanted {
            if let Some(fresh) = target.usage.as_ref().filter(|u| self.read_elsewhere(u, now)) {
                let at = fresh.fetched_at;
                tracing::debug!(provider = %key.0, alias = %key.1, "usage read moments ago by another process");
                self.schedule.defer(&key, at, now);
                return self.pump(ctx);
            }
        }
        // An opencode 2 credential is read with the secret the plugin lent (and redacted by it).
        let mut target = target;
        target.auth = self.lent.usable(&target.provider_id, &target.auth, now).clone();
        let req = UsageRequest {
            provider_id: target.provider_id.clone(),
            alias: target.alias.clone(),
            auth: target.auth.clone(),
            now,
        };
        let read = self.client.fetch(req);
        let deadline = self.config.deadline;
        let bounded = async move {
            tokio::time::timeout(deadline, read)
                .await
                .unwrap_or(Err(FetchError::Timeout(deadline.as_millis() as u64)))
        };
        ctx.spawn(
            bounded
                .into_actor(self)
                .map(move |result, this, ctx| this.finish(key, target, result, forced, ctx)),
        );
    }

    /// A fresh, exact, error-free snapshot from less than half an interval (and less than the
    /// prompt spacing, so a nudge is never swallowed by this process's own last read) ago; one
    /// stamped in the future (the clock was set back) is not fresh.
    fn read_elsewhere(&self, u: &UsageSnapshot, now: Millis) -> bool {
        let age = now - u.fetched_at;
        u.is(Confidence::Exact)
            && u.error.is_none()
            && !is_passive(u)
            && (0..(self.schedule.interval() / 2).min(PROMPT_MIN_MS)).contains(&age)
    }

    fn finish(
        &mut self,
        key: Key,
        target: UsageTarget,
        result: Result<Usage, FetchError>,
        forced: bool,
        ctx: &mut Context<Self>,
    ) {
        let now = self.now();
        let secrets = target.auth.secrets();
        let (p, a) = (&target.provider_id, &target.alias);
        let previous = target.usage.clone();
        let r = outcome::reading(p, a, previous.as_ref(), result, &secrets, now);
        match &r.snapshot.error {
            None => tracing::debug!(provider = %p, alias = %a, confidence = %r.snapshot.confidence, "usage read"),
            Some(e) => tracing::info!(provider = %p, alias = %a, error = %e, "usage read failed"),
        }
        let (snapshot, outcome) = (r.snapshot, r.outcome);
        let apply = self.registry.send(ApplyUsage {
            snapshot: snapshot.clone(),
            raw: r.raw,
        });
        ctx.spawn(apply.into_actor(self).map(move |applied, this, ctx| {
            match applied {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not store a usage snapshot"),
                Err(_) => tracing::warn!("the registry is gone; usage not applied"),
            }
            this.announce(previous.as_ref(), &snapshot, forced);
            // From when the read ended (the snapshot's time), not from when the store took it.
            this.schedule.finish(&key, outcome, now);
            if let Some(waiters) = this.waiters.remove(&key) {
                for w in waiters {
                    let _ = w.send(snapshot.clone());
                }
            }
            this.pump(ctx);
        }));
    }

    /// Publishes a snapshot that says something new (or was asked for).
    fn announce(&self, previous: Option<&UsageSnapshot>, s: &UsageSnapshot, forced: bool) {
        if forced || outcome::is_news(previous, s) {
            self.bus.do_send(Publish(outcome::event(s)));
        }
    }

    /// Passive readings whose window has reset read 0 % used from then on (unless replaced).
    fn expire_passive(&mut self, ctx: &mut Context<Self>) {
        let now = self.now();
        let expired: Vec<(Key, Millis)> = self
            .passive_resets
            .iter()
            .filter(|(_, (_, reset))| *reset <= now)
            .map(|(k, (fetched, _))| (k.clone(), *fetched))
            .collect();
        for (key, fetched) in expired {
            self.passive_resets.remove(&key);
            let ask = self.registry.send(UsageAccounts {
                provider_id: Some(key.0.clone()),
                alias: Some(key.1.clone()),
                fresh: false,
            });
            ctx.spawn(ask.into_actor(self).map(move |targets, this, _| {
                let current = targets.ok().and_then(|t| t.into_iter().next()).and_then(|t| t.usage);
                let Some(mut s) = current.filter(|u| u.fetched_at == fetched && is_passive(u)) else {
                    return;
                };
                s.fetched_at = this.now();
                s.used_percent = Some(0.0);
                s.reset_at = None;
                s.windows = None;
                s.message = format!("{} the rate-limit window has reset", passive::MESSAGE_PREFIX);
                this.registry.do_send(ApplyUsage { snapshot: s, raw: None });
            }));
        }
    }
}

impl Actor for UsageRefresher {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {}
}

/// The notices that can change what the refresher polls: accounts, settings, another process's
/// commit (the bus sends it no other, so a failover's events do not wake its thread).
pub(crate) fn wants(n: &Notice) -> bool {
    match n {
        Notice::Event(e) => e.kind.starts_with("account_") || e.kind == "settings_changed",
        // Another process's commit was loaded: its accounts or settings may have changed.
        Notice::StoreChanged => true,
        _ => false,
    }
}

/// Account and setting changes published here, and other processes' commits, are caught up
/// with at once.
impl Handler<Notice> for UsageRefresher {
    type Result = ();
    fn handle(&mut self, n: Notice, ctx: &mut Context<Self>) {
        if self.polling && wants(&n) {
            let tick = self.tick();
            ctx.spawn(tick);
        }
    }
}

#[cfg(test)]
mod tests;
