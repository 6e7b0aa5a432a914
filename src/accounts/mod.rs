//! Account registry actor: owns accounts, active accounts, priority and settings in memory and is
//! their only writer.
//!
//! Reads (`ListAccounts`, `GetStatus`, …) first catch up with commits made by other processes
//! (`PRAGMA data_version`), then answer from memory. User mutations (one message each, `mutations/`) are committed to
//! the store before they are acknowledged. The hot path (`PickAccount`, `ChooseModel`,
//! `RecordOutcome`) is answered from memory only; its bookkeeping goes out with the next store
//! job (within 50 ms of being queued), each change with exactly one job (`bookkeeping`).
//! Other processes' commits are looked for when the store's files change (`store::watch`): the
//! store thread checks `PRAGMA data_version` and tells the registry only of another process's
//! commit, so the file events of our own commits and checkpoints wake nothing else. Where file
//! notifications are unavailable, the registry looks every 50 ms; nothing runs while nothing
//! happens.

mod bookkeeping;
mod conversations;
mod exhausted;
mod messages;
mod mutations;
mod outcome;
mod pick;
pub mod rules;
mod state;
mod token_updates;
mod usage;

use std::time::Duration;

use actix::prelude::*;

use self::state::{RegistryState, Scope};
use crate::clock::SharedClock;
use crate::events::{EventBus, Notice, Notify, Publish};
use crate::model::{Millis, NewEvent};
use crate::store::worker::{OthersCommitted, StoreHandle};
use crate::store::{ConversationsRead, Snapshot, Store, StoreError};

pub use self::conversations::{ConversationsChanged, FollowConversations, RecordConversations};
pub use self::exhausted::{ExhaustedPlan, PlanExhausted};
pub use self::messages::*;
pub use self::mutations::*;
pub use self::outcome::{OutcomeInfo, RecordOutcome};
pub use self::pick::{ChooseModel, PeekAccount, PickAccount, Picked, AHEAD_CAP_MS};
pub use self::token_updates::{TokenStore, TokenTarget, TokenTargets};
pub use self::usage::{ApplyUsage, UsageAccounts, UsageApplied, UsageTarget, UsageTargets, UsageTargetsReply};

/// Runtime bookkeeping is flushed at most this long after it was queued; where file
/// notifications are unavailable, other processes' commits are looked for this often.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(50);

/// A store job's answer, waiting its turn to be applied.
type Applier = Box<dyn FnOnce(&mut AccountRegistry)>;

pub struct AccountRegistry {
    state: RegistryState,
    store: StoreHandle,
    bus: Addr<EventBus>,
    clock: SharedClock,
    data_version: i64,
    syncing: bool,
    /// Store jobs: the next id to hand out, the next to apply, and answers waiting their turn.
    next_job: u64,
    next_apply: u64,
    ready: std::collections::BTreeMap<u64, Applier>,
    /// Bookkeeping writes failing in a row (a read-only or full disk), logged sparingly.
    flush_failures: crate::runtime::repeated::Repeated,
    /// The store file whose changes are watched (`with_store_watch`); without it, polled.
    store_path: Option<std::path::PathBuf>,
    _store_watch: Option<Box<dyn notify::Watcher + Send>>,
    /// The store changed while a sync was running: look again once it ends.
    resync: bool,
    /// Notified whenever memory was reloaded from another process's commit (the dashboard).
    changed: std::sync::Arc<tokio::sync::Notify>,
    /// Times the store thread reported another process's commit (tests read it).
    others_committed: u64,
    /// Continuity records going to the store, and those read back for the retry balancer.
    conversations: conversations::ConversationOutbox,
    /// The usage fingerprint (`usage`) and the OAuth accounts (`tokens`), as of their revision.
    usage_fingerprint: state::ByRevision<u64>,
    oauth_accounts: state::ByRevision<Vec<(String, String)>>,
}

impl AccountRegistry {
    pub fn new(
        store: StoreHandle,
        bus: Addr<EventBus>,
        clock: SharedClock,
        snapshot: Snapshot,
        data_version: i64,
    ) -> Self {
        let mut state = RegistryState::default();
        state.apply_snapshot(snapshot, Scope::All, 0);
        let conversations = conversations::ConversationOutbox::new(state.flush_signal());
        AccountRegistry {
            state,
            store,
            bus,
            clock,
            data_version,
            syncing: false,
            next_job: 0,
            next_apply: 0,
            ready: Default::default(),
            flush_failures: Default::default(),
            store_path: None,
            _store_watch: None,
            resync: false,
            changed: Default::default(),
            others_committed: 0,
            conversations,
            usage_fingerprint: Default::default(),
            oauth_accounts: Default::default(),
        }
    }

    /// Notified (one permit kept) each time another process's commit was loaded.
    pub fn change_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.changed.clone()
    }

    /// Learns of other processes' commits from `store`'s files changing instead of polling.
    pub fn with_store_watch(mut self, store: &std::path::Path) -> Self {
        self.store_path = Some(store.to_path_buf());
        self
    }

    fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    fn publish(&self, event: NewEvent) {
        self.bus.do_send(Publish(event));
    }

    /// Runs `job` on the store thread, then `apply` on its result in this actor. Results are
    /// applied in the order the jobs ran (the store thread runs this actor's jobs in the order
    /// they were sent), whatever order their answers arrive in, so memory never moves back.
    fn store_job<T, R>(
        &mut self,
        job: impl FnOnce(&mut Store) -> T + Send + 'static,
        apply: impl FnOnce(&mut Self, Result<(u64, T), StoreError>) -> R + 'static,
    ) -> ResponseActFuture<Self, R>
    where
        T: Send + 'static,
        R: 'static,
    {
        let id = self.next_job;
        self.next_job += 1;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let store = self.store.clone();
        let ran = async move { store.call(job).await };
        Box::pin(ran.into_actor(self).then(move |result, this, _| {
            this.ready.insert(
                id,
                Box::new(move |this: &mut Self| {
                    let _ = tx.send(apply(this, result));
                }),
            );
            while let Some(next) = this.ready.remove(&this.next_apply) {
                this.next_apply += 1;
                next(this);
            }
            async move { rx.await.expect("every job is applied in turn") }.into_actor(this)
        }))
    }

    /// The sync job: writes the queued runtime bookkeeping and continuity records, then reloads
    /// everything if another process committed since the last look, and reads the continuity
    /// records written since the last read (when the retry balancer follows them).
    fn sync_job(&mut self) -> (SyncIds, impl FnOnce(&mut Store) -> Flushed<Synced> + Send + 'static) {
        let flush = self.state.take_flush();
        let (conversations_id, records) = self.conversations.take();
        let (known, read_after, now) = (self.data_version, self.conversations.read_after(), self.now());
        let job = move |s: &mut Store| {
            let written = s.apply_runtime(&flush.patches, &flush.actives);
            let records_written = s.write_conversations(&records, now);
            let then = look(s, known).and_then(|looked| {
                let read = read_after.map(|seq| s.conversations_since(seq)).transpose()?;
                Ok((looked, records_written, read))
            });
            Flushed { written, then }
        };
        (SyncIds(flush.id, conversations_id), job)
    }

    /// Settles the flush a job carried: written, or back in the queue for the next job (also
    /// when the job never ran). Returns the job's own result.
    fn settle<T>(&mut self, id: u64, result: Result<(u64, Flushed<T>), StoreError>) -> Result<(u64, T), StoreError> {
        let (generation, flushed) = match result {
            Ok(r) => r,
            Err(e) => {
                self.state.settle_flush(id, false);
                return Err(e);
            }
        };
        match flushed.written {
            Ok(()) => {
                // An empty flush writes nothing, so it says nothing about the disk.
                if self.state.settle_flush(id, true) {
                    self.flush_failures.recovered("writing runtime bookkeeping");
                }
            }
            Err(e) => {
                self.state.settle_flush(id, false);
                let now = self.now();
                self.flush_failures
                    .warn(now, "could not write runtime bookkeeping; will retry", &e);
            }
        }
        Ok((generation, flushed.then?))
    }

    fn after_sync(
        &mut self,
        SyncIds(id, conversations_id): SyncIds,
        result: Result<(u64, Flushed<Synced>), StoreError>,
    ) {
        match self.settle(id, result) {
            Ok((generation, (looked, records_written, read))) => {
                if let Err(e) = &records_written {
                    let now = self.now();
                    self.flush_failures
                        .warn(now, "could not write continuity records; will retry", e);
                }
                self.conversations.settle(conversations_id, records_written.is_ok());
                if let Some(read) = read {
                    self.conversations.deliver(read.records, read.seq);
                }
                self.caught_up(looked, generation)
            }
            Err(e) => {
                self.conversations.settle(conversations_id, false);
                tracing::debug!(error = %e, "could not look for other processes' changes");
            }
        }
    }

    /// Takes in what a job saw of other processes' commits (read at store `generation`).
    /// Applies a [`read_back`] of `scope` read at `generation`.
    fn read_back_applied(&mut self, (looked, mine): ReadBack, scope: Scope<'_>, generation: u64) {
        self.caught_up(looked, generation);
        if let Some(snap) = mine {
            self.state.apply_snapshot(snap, scope, generation);
        }
    }

    fn caught_up(&mut self, (version, snapshot): Looked, generation: u64) {
        self.data_version = version;
        if let Some(snap) = snapshot {
            tracing::debug!("another process changed the store; reloaded");
            self.state.apply_snapshot(snap, Scope::All, generation);
            self.changed.notify_one();
            self.bus.do_send(Notify(Notice::StoreChanged));
        }
    }

    /// Starts a background sync unless one is running.
    fn start_sync(&mut self, ctx: &mut Context<Self>) {
        if self.syncing {
            self.resync = true;
            return;
        }
        self.syncing = true;
        let (id, job) = self.sync_job();
        let fut = self.store_job(job, move |this, result| {
            this.syncing = false;
            this.after_sync(id, result);
        });
        ctx.spawn(fut.map(|_, this, ctx| {
            if std::mem::take(&mut this.resync) {
                this.start_sync(ctx);
            }
        }));
    }

    /// A future that catches up with the store, then runs `answer` on the fresh memory.
    fn fresh<R: 'static>(&mut self, answer: impl FnOnce(&mut Self) -> R + 'static) -> ResponseActFuture<Self, R> {
        let (id, job) = self.sync_job();
        self.store_job(job, move |this, result| {
            this.after_sync(id, result);
            answer(this)
        })
    }
}

/// What a sync job saw: the store's data version, and everything when another process changed it.
type Looked = (i64, Option<Snapshot>);

/// A sync job's result: what it saw, whether its continuity records were written, and the
/// records written since the last read (when followed).
type Synced = (Looked, Result<(), StoreError>, Option<ConversationsRead>);

/// The bookkeeping flush and the continuity records flush a sync job carried.
#[derive(Clone, Copy)]
struct SyncIds(u64, u64);

/// Looks for other processes' commits since data version `known` (our own commits do not move
/// it): everything is read when there was one.
fn look(s: &Store, known: i64) -> Result<Looked, StoreError> {
    let version = s.data_version()?;
    let snapshot = if version != known {
        Some(s.load_snapshot(None)?)
    } else {
        None
    };
    Ok((version, snapshot))
}

/// What a change reads back: a look for other processes' commits, and unless there was one (then
/// the look read everything), `scope` alone.
type ReadBack = (Looked, Option<Snapshot>);

/// Reads back what a change of ours touched (`scope`), or everything when another process
/// committed since data version `known`. Run on the store thread after the change.
fn read_back(s: &Store, known: i64, scope: Scope<'_>) -> Result<ReadBack, StoreError> {
    let looked = look(s, known)?;
    let mine = match looked.1 {
        Some(_) => None,
        None => Some(s.load_scope(scope)?),
    };
    Ok((looked, mine))
}

/// What a store job that carried a flush reports: whether the flush was written, and the job's
/// own result (which may fail on its own).
struct Flushed<T> {
    written: Result<(), StoreError>,
    then: Result<T, StoreError>,
}

impl Actor for AccountRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let look = self.store.looker(ctx.address().recipient());
        let watch = self
            .store_path
            .as_deref()
            .and_then(|p| crate::store::watch::watch(p, look));
        match watch {
            Some(w) => self._store_watch = Some(w),
            None => {
                ctx.run_interval(SYNC_INTERVAL, |this, ctx| this.start_sync(ctx));
            }
        }
        // Bookkeeping goes out within SYNC_INTERVAL of being queued, and nothing runs when none is.
        let owed = futures::stream::unfold(self.state.flush_signal(), |signal| async move {
            signal.notified().await;
            tokio::time::sleep(SYNC_INTERVAL).await;
            Some(((), signal))
        });
        ctx.add_stream(owed);
    }
}

impl StreamHandler<()> for AccountRegistry {
    fn handle(&mut self, _: (), ctx: &mut Context<Self>) {
        self.start_sync(ctx);
    }
}

/// Another process committed (the store thread looked after the store's files changed).
impl Handler<OthersCommitted> for AccountRegistry {
    type Result = ();
    fn handle(&mut self, _: OthersCommitted, ctx: &mut Context<Self>) {
        self.others_committed += 1;
        // With bookkeeping queued, the flush owed within SYNC_INTERVAL looks too. Syncing now
        // would write it early: under load every flush would follow the last, never batched.
        if !self.state.flush_owed() {
            self.start_sync(ctx);
        }
    }
}

#[cfg(test)]
mod tests;
