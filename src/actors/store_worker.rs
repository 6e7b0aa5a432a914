//! The store thread: one `SyncArbiter` actor owning the SQLite connection. Other actors send it
//! closures (`Exec`) and await the result; it runs them in order, so their effects are ordered.

use std::sync::Mutex;

use actix::prelude::*;

use crate::store::{Store, StoreError};

pub struct StoreWorker {
    store: Store,
    generation: u64,
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
        });
        StoreHandle { addr, path }
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
