//! Usage refresher actor: keeps a usage snapshot of every enabled account fresh without becoming
//! the thing that gets an account rate-limited.
//!
//! Messages: `StartPolling` (the sidecar does; the CLI never polls), `Tick` (catch up with the
//! account list and settings, start due reads; the timer does this every 3 s and starts due reads
//! every second), `RefreshUsage` (on demand; answers once the reads finish), `ListUsage`,
//! `PromptSeen` (a `chat.message` nudge, honoured at most every 30 s), `PassiveHeaders`
//! (rate-limit headers from `fetch.result`), `InFlight` (for tests).
//!
//! Lifecycle: `start` runs it on its own arbiter (thread), so a slow usage endpoint never touches
//! the hot path. Reads go through one `UsageClient` (the router in production) as the schedule in
//! `usage::schedule` allows (jitter, backoff, at most four in flight); time comes from the
//! injectable clock. Each result is redacted, handed to the registry (`ApplyUsage`: stored on the
//! store thread, applied to memory, cooldown moved), then published as `usage_refreshed` or
//! `usage_unavailable` when it says something new. Accounts whose provider has no usage endpoint
//! are never polled; `usage.list`/`usage.refresh` show them with the plain reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::account_registry::{
    AccountRegistry, ApplyUsage, UsageAccounts, UsageTarget, UsageTargets, UsageTargetsReply,
};
use super::event_bus::{EventBus, Publish};
use crate::clock::SharedClock;
use crate::model::{Millis, UsageSnapshot};
use crate::usage::outcome::{self, is_passive, redact_snapshot};
use crate::usage::passive;
use crate::usage::redact::{redact_text, redacted_json_text};
use crate::usage::schedule::{Force, Jitter, Key, Schedule, SeededJitter, PROMPT_MIN_MS};
use crate::usage::{unavailable, Confidence, Endpoints, FetchError, Router, Usage, UsageClient, UsageRequest};

/// Passive header readings are applied at most this often per account.
pub const PASSIVE_MIN_MS: Millis = 10_000;
/// The account list and settings are fetched every this many ticks (the registry answers from
/// memory, but cheaply is better than often with thousands of accounts); due reads start every tick.
const SYNC_EVERY: u32 = 3;

/// Timing of the actor itself (tests use a long tick and drive it with `Tick`).
#[derive(Clone, Debug)]
pub struct Config {
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

/// Starts the refresher on a new arbiter, with the router over `Endpoints::from_env()`.
pub fn start(registry: Addr<AccountRegistry>, bus: Addr<EventBus>, clock: SharedClock) -> Addr<UsageRefresher> {
    let arbiter = Arbiter::new();
    UsageRefresher::start_in_arbiter(&arbiter.handle(), move |_| {
        let client: Arc<dyn UsageClient> = Arc::new(Router::new(Endpoints::from_env()));
        UsageRefresher::new(
            registry,
            bus,
            clock,
            client,
            Box::new(SeededJitter::from_env()),
            Config::default(),
        )
    })
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
    ticks: u32,
    waiters: HashMap<Key, Vec<oneshot::Sender<UsageSnapshot>>>,
    passive_at: HashMap<Key, Millis>,
    /// Passive readings with a reset time: (their fetch time, the reset).
    passive_resets: HashMap<Key, (Millis, Millis)>,
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
            ticks: 0,
            waiters: HashMap::new(),
            passive_at: HashMap::new(),
            passive_resets: HashMap::new(),
        }
    }

    fn now(&self) -> Millis {
        self.clock.now_ms()
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
            let client = self.client.clone();
            let polled = accounts
                .into_iter()
                .filter(|t| !t.disabled && client.check(&t.provider_id, &t.auth).is_ok())
                .map(|t| ((t.provider_id, t.alias), t.credential));
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
    /// prompt spacing, so a nudge is never swallowed by this process's own last read) ago.
    fn read_elsewhere(&self, u: &UsageSnapshot, now: Millis) -> bool {
        u.confidence == Confidence::Exact.as_str()
            && u.error.is_none()
            && !is_passive(u)
            && now - u.fetched_at < (self.schedule.interval() / 2).min(PROMPT_MIN_MS)
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
            this.schedule.finish(&key, outcome, this.now());
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

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.config.tick, |this, ctx| {
            if !this.polling {
                return;
            }
            this.ticks = this.ticks.wrapping_add(1);
            if this.ticks % SYNC_EVERY == 0 {
                let tick = this.tick();
                ctx.spawn(tick);
            } else {
                this.expire_passive(ctx);
                this.pump(ctx);
            }
        });
    }
}

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

/// One turn of the timer; answers when the due reads have started.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Tick;

impl Handler<Tick> for UsageRefresher {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: Tick, _: &mut Context<Self>) -> Self::Result {
        self.tick()
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
                if let Err(why) = this.client.check(&t.provider_id, &t.auth) {
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
                .map(|t| match (t.usage, this.client.check(&t.provider_id, &t.auth)) {
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
                u.confidence == "exact"
                    && u.error.is_none()
                    && u.used_percent.is_some()
                    && now - u.fetched_at < 2 * interval
            });
            if exact_and_fresh {
                return skip();
            }
            let secrets = target.auth.secrets();
            // Redacted before anything is read from them, like every provider answer.
            let headers: Vec<(String, String)> = msg
                .headers
                .into_iter()
                .map(|(k, v)| (k, redact_text(&v, &secrets)))
                .collect();
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
    use tokio::sync::Semaphore;

    use super::*;
    use crate::actors::account_registry::ListAccounts;
    use crate::actors::event_bus::{Notice, Subscribe};
    use crate::actors::store_worker::StoreHandle;
    use crate::clock::ManualClock;
    use crate::model::Auth;
    use crate::store::Store;
    use crate::usage::MockUsageClient;

    const NOW: Millis = 1_700_000_000_000;

    struct World {
        _dir: tempfile::TempDir,
        registry: Addr<AccountRegistry>,
        refresher: Addr<UsageRefresher>,
        clock: SharedClock,
        events: tokio::sync::mpsc::UnboundedReceiver<Notice>,
    }

    /// Forwards bus notices to a channel.
    struct Collector(UnboundedSender<Notice>);
    impl Actor for Collector {
        type Context = Context<Self>;
    }
    impl Handler<Notice> for Collector {
        type Result = ();
        fn handle(&mut self, n: Notice, _: &mut Context<Self>) {
            let _ = self.0.send(n);
        }
    }

    /// A store with `n` openai API-key accounts `a0…`, the settings given, and the actors over it.
    fn world(n: usize, client: MockUsageClient, settings: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("balancer.sqlite")).unwrap();
        for i in 0..n {
            let auth = Auth::Api {
                key: format!("sk-fake-actor-{i:04}"),
                metadata: None,
            };
            store.save_account("openai", &format!("a{i}"), &auth, 0).unwrap();
        }
        for (k, v) in settings {
            store.save_setting(k, v).unwrap();
        }
        let version = store.data_version().unwrap();
        let snapshot = store.load_snapshot(None).unwrap();
        let clock: SharedClock = Arc::new(ManualClock::new(NOW));
        let store = StoreHandle::start(store);
        let bus = EventBus::new(store.clone(), clock.clone()).start();
        let (tx, events) = unbounded_channel();
        bus.do_send(Subscribe(Collector(tx).start().recipient()));
        let registry = AccountRegistry::new(store, bus.clone(), clock.clone(), snapshot, version).start();
        let config = Config {
            tick: Duration::from_secs(3600),
            deadline: Duration::from_secs(5),
        };
        let jitter = Box::new(SeededJitter::new(3));
        let refresher =
            UsageRefresher::new(registry.clone(), bus, clock.clone(), Arc::new(client), jitter, config).start();
        World {
            _dir: dir,
            registry,
            refresher,
            clock,
            events,
        }
    }

    fn read(used: f64) -> Usage {
        Usage {
            confidence: Confidence::Exact,
            used_percent: Some(used),
            message: format!("{used}% used"),
            ..Default::default()
        }
    }

    /// A client whose reads report their start on `started` and finish one per gate permit.
    fn gated(started: UnboundedSender<String>, gate: Arc<Semaphore>) -> MockUsageClient {
        let mut m = MockUsageClient::new();
        m.expect_check().returning(|_, _| Ok(()));
        m.expect_fetch().returning(move |req| {
            let _ = started.send(req.alias.clone());
            let gate = gate.clone();
            Box::pin(async move {
                gate.acquire().await.expect("the gate stays open").forget();
                Ok(read(10.0))
            })
        });
        m
    }

    /// A client answering `answer`, counting its reads and telling each on `reads`.
    fn counting_with(
        answer: Result<Usage, FetchError>,
        reads: UnboundedSender<()>,
    ) -> (MockUsageClient, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let mut m = MockUsageClient::new();
        m.expect_check().returning(|_, _| Ok(()));
        m.expect_fetch().returning(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = reads.send(());
            let answer = answer.clone();
            Box::pin(async move { answer })
        });
        (m, calls)
    }

    fn counting(answer: Result<Usage, FetchError>) -> (MockUsageClient, Arc<AtomicUsize>) {
        counting_with(answer, unbounded_channel().0)
    }

    async fn next_event(w: &mut World, kind: &str) -> crate::model::StoredEvent {
        loop {
            if let Some(Notice::Event(e)) = w.events.recv().await {
                if e.kind == kind {
                    return e;
                }
            }
        }
    }

    #[actix::test]
    async fn at_most_four_reads_run_at_once_and_the_next_starts_when_one_ends() {
        let (tx, mut started) = unbounded_channel();
        let gate = Arc::new(Semaphore::new(0));
        let w = world(6, gated(tx, gate.clone()), &[]);
        w.refresher.send(StartPolling).await.unwrap();
        let mut names = Vec::new();
        for _ in 0..4 {
            names.push(started.recv().await.unwrap());
        }
        w.refresher.send(Tick).await.unwrap();
        assert_eq!(w.refresher.send(InFlight).await.unwrap(), 4);
        assert!(started.try_recv().is_err(), "a fifth read waits for a free slot");
        gate.add_permits(1);
        names.push(started.recv().await.unwrap());
        gate.add_permits(1);
        names.push(started.recv().await.unwrap());
        names.sort();
        assert_eq!(names, ["a0", "a1", "a2", "a3", "a4", "a5"]);
        gate.add_permits(4);
    }

    #[actix::test]
    async fn usage_disabled_stops_polling_but_an_explicit_refresh_still_reads_and_applies() {
        let (client, calls) = counting(Ok(read(42.0)));
        let mut w = world(2, client, &[("usageEnabled", "false")]);
        w.refresher.send(StartPolling).await.unwrap();
        assert_eq!(w.refresher.send(InFlight).await.unwrap(), 0);
        w.clock.advance(3_600_000);
        w.refresher.send(PromptSeen).await.unwrap();
        w.refresher.send(Tick).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no poll while usage is off");
        let got = w
            .refresher
            .send(RefreshUsage {
                provider_id: Some("openai".into()),
                alias: Some("a1".into()),
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].alias.as_str(), got[0].used_percent), ("a1", Some(42.0)));
        let accounts = w.registry.send(ListAccounts { provider_id: None }).await.unwrap();
        assert_eq!(accounts[1].usage.as_ref().and_then(|u| u.used_percent), Some(42.0));
        assert!(accounts[0].usage.is_none());
        let e = next_event(&mut w, "usage_refreshed").await;
        assert_eq!(e.alias.as_deref(), Some("a1"));
        assert_eq!(e.metadata["usedPercent"], "42");
    }

    #[actix::test]
    async fn a_refused_credential_is_reported_once_and_rests_for_the_cap() {
        let (reads_tx, mut reads) = unbounded_channel();
        let (client, calls) = counting_with(Err(FetchError::Unauthorized), reads_tx);
        let mut w = world(1, client, &[]);
        w.refresher.send(StartPolling).await.unwrap();
        reads.recv().await.unwrap();
        let e = next_event(&mut w, "usage_unavailable").await;
        assert_eq!(e.metadata["error"], "unauthorized");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        for _ in 0..5 {
            w.clock.advance(5 * 60_000);
            w.refresher.send(Tick).await.unwrap();
        }
        assert_eq!(w.refresher.send(InFlight).await.unwrap(), 0);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "25 minutes on: not asked again");
        w.clock.advance(6 * 60_000);
        w.refresher.send(Tick).await.unwrap();
        reads.recv().await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "30 minutes on: asked once more");
    }

    #[actix::test]
    async fn a_retry_after_holds_even_an_explicit_refresh() {
        let (client, calls) = counting(Err(FetchError::RateLimited {
            until: Some(NOW + 600_000),
        }));
        let w = world(1, client, &[("usageEnabled", "false")]);
        let ask = || RefreshUsage {
            provider_id: Some("openai".into()),
            alias: Some("a0".into()),
        };
        let first = w.refresher.send(ask()).await.unwrap().unwrap();
        assert!(
            first[0].error.as_deref().unwrap().starts_with("rate_limited:"),
            "{first:?}"
        );
        let second = w.refresher.send(ask()).await.unwrap().unwrap();
        assert!(
            second[0].error.as_deref().unwrap().contains("asked to wait"),
            "{second:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let missing = w
            .refresher
            .send(RefreshUsage {
                provider_id: Some("openai".into()),
                alias: Some("nope".into()),
            })
            .await
            .unwrap();
        assert!(matches!(missing, Err(RefreshError::NotFound { .. })));
    }

    #[actix::test]
    async fn passive_headers_update_the_account_and_a_poll_result_replaces_them() {
        let (client, _calls) = counting(Ok(read(42.0)));
        let mut w = world(1, client, &[("usageEnabled", "true")]);
        let headers = vec![
            ("x-ratelimit-limit-requests".to_string(), "100".to_string()),
            ("x-ratelimit-remaining-requests".to_string(), "25".to_string()),
        ];
        w.refresher
            .send(PassiveHeaders {
                provider_id: "openai".into(),
                alias: "a0".into(),
                headers: headers.clone(),
            })
            .await
            .unwrap();
        let e = next_event(&mut w, "usage_refreshed").await;
        assert_eq!(e.metadata["confidence"], "estimated");
        let usage = |w: &World| {
            let registry = w.registry.clone();
            async move {
                registry.send(ListAccounts { provider_id: None }).await.unwrap()[0]
                    .usage
                    .clone()
                    .unwrap()
            }
        };
        let u = usage(&w).await;
        assert_eq!((u.confidence.as_str(), u.used_percent), ("estimated", Some(75.0)));
        w.refresher
            .send(RefreshUsage {
                provider_id: None,
                alias: None,
            })
            .await
            .unwrap()
            .unwrap();
        let u = usage(&w).await;
        assert_eq!((u.confidence.as_str(), u.used_percent), ("exact", Some(42.0)));
        w.clock.advance(PASSIVE_MIN_MS);
        w.refresher
            .send(PassiveHeaders {
                provider_id: "openai".into(),
                alias: "a0".into(),
                headers,
            })
            .await
            .unwrap();
        w.registry
            .send(crate::actors::account_registry::FlushNow)
            .await
            .unwrap();
        let u = usage(&w).await;
        assert_eq!(u.confidence, "exact", "a fresh exact reading beats a header estimate");
    }
}
