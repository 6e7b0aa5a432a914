//! The store thread: one `SyncArbiter` actor owning the SQLite connection. Other actors send it
//! closures (`Exec`) and await the result; it runs them in order, so their effects are ordered.
//! It also answers the store watcher (`looker`): whether another process committed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use actix::prelude::*;

use crate::store::{Store, StoreError};

pub struct StoreWorker {
    store: Store,
    generation: u64,
    /// `PRAGMA data_version` at the last [`Look`]; `None` before the first.
    seen: Option<i64>,
}

impl Actor for StoreWorker {
    type Context = SyncContext<Self>;
}

type Job<R> = Box<dyn FnOnce(&mut Store) -> R + Send>;

/// Run a closure against the store; answers `(generation, result)` where generation grows with
/// every job, so callers can tell which of two answers reflects the later store.
pub struct Exec<R: Send + 'static>(pub Job<R>);

impl<R: Send + 'static> Message for Exec<R> {
    type Result = (u64, R);
}

impl<R: Send + 'static> Handler<Exec<R>> for StoreWorker {
    type Result = MessageResult<Exec<R>>;

    fn handle(&mut self, msg: Exec<R>, _: &mut Self::Context) -> Self::Result {
        self.generation += 1;
        MessageResult((self.generation, (msg.0)(&mut self.store)))
    }
}

/// Another process committed to the store: found by the store thread looking after the store's
/// files changed (see [`StoreHandle::looker`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct OthersCommitted;

/// Looks whether another process committed since the last look, and tells `then` if so.
struct Look {
    then: Recipient<OthersCommitted>,
    /// Set while this look waits its turn; cleared as it starts.
    queued: Arc<AtomicBool>,
}

impl Message for Look {
    type Result = ();
}

impl Handler<Look> for StoreWorker {
    type Result = ();

    fn handle(&mut self, msg: Look, _: &mut Self::Context) {
        // Cleared first: a change after this point queues the next look.
        msg.queued.store(false, Ordering::SeqCst);
        // `data_version` moves with other connections' commits only, never with our own.
        let version = self.store.data_version().ok();
        if version.is_none() || version != self.seen {
            self.seen = version;
            msg.then.do_send(OthersCommitted);
        }
    }
}

/// A cloneable handle to the store thread.
#[derive(Clone)]
pub struct StoreHandle {
    addr: Addr<StoreWorker>,
    path: std::path::PathBuf,
}

impl StoreHandle {
    /// Starts the store thread on an opened store.
    pub fn start(store: Store) -> StoreHandle {
        let path = store.path().to_path_buf();
        let slot = Mutex::new(Some(store));
        let addr = SyncArbiter::start(1, move || StoreWorker {
            store: slot.lock().expect("store slot").take().expect("one store thread"),
            generation: 0,
            seen: None,
        });
        StoreHandle { addr, path }
    }

    /// For the store watcher: each call has the store thread look for other processes' commits
    /// (`PRAGMA data_version`, which our own commits do not move) and tell `then` of one. Calls
    /// while a look waits are that look: the many file events of a commit, and those of our own
    /// commits and checkpoints, cost one cheap query on the store thread and wake nothing else.
    pub fn looker(&self, then: Recipient<OthersCommitted>) -> impl Fn() + Send + 'static {
        let addr = self.addr.clone();
        let queued = Arc::new(AtomicBool::new(false));
        move || {
            if !queued.swap(true, Ordering::SeqCst) {
                addr.do_send(Look {
                    then: then.clone(),
                    queued: queued.clone(),
                });
            }
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Runs `f` on the store thread.
    pub async fn call<R, F>(&self, f: F) -> Result<(u64, R), StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> R + Send + 'static,
    {
        self.addr
            .send(Exec(Box::new(f)))
            .await
            .map_err(|_| StoreError::Invalid("the store thread has stopped".into()))
    }

    /// Runs a fallible `f` on the store thread, flattening the errors.
    pub async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        self.call(f).await?.1
    }
}
