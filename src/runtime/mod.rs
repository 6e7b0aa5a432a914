//! The runtime's wiring: `Runtime::start` starts every domain's actor and connects them; beside
//! it, the helpers the actors share (file-event filtering, sparing logs of repeated failures).

pub(crate) mod file_events;
pub(crate) mod repeated;

use std::path::Path;

use actix::prelude::*;

use crate::accounts::{self, AccountRegistry};
use crate::clock::SharedClock;
use crate::events::{self, EventBus};
use crate::failover::RetryBalancer;
use crate::logins;
use crate::store::worker::StoreHandle;
use crate::store::{Store, StoreError};
use crate::tokens::{self, TokenKeeper};
use crate::usage::refresher::{self, UsageRefresher};

/// Where a runtime's outbound clients find their settings (endpoints, timeouts, the usage
/// jitter's seed, the folder of opencode's auth.json): the process environment in the binary;
/// variables of their own where many runtimes share one process (the integration tests).
pub type Vars = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment as [`Vars`].
pub fn process_vars() -> Vars {
    std::sync::Arc::new(|name| std::env::var(name).ok())
}

/// Addresses of a running runtime. Start it inside an actix `System`.
#[derive(Clone)]
pub struct Runtime {
    pub store: StoreHandle,
    pub registry: Addr<AccountRegistry>,
    pub balancer: Addr<RetryBalancer>,
    pub bus: Addr<EventBus>,
    /// Usage reads, on their own thread; it polls only after `poll_usage`.
    pub usage: Addr<UsageRefresher>,
    /// OAuth refreshes, on their own thread; in the background only after `keep_tokens`.
    pub tokens: Addr<TokenKeeper>,
    pub clock: SharedClock,
    /// Notified each time another process's commit was loaded into memory.
    pub changed: std::sync::Arc<tokio::sync::Notify>,
}

impl Runtime {
    /// Opens the store, loads it into memory and starts the actors, configured from the process
    /// environment.
    pub fn start(store_path: &Path, clock: SharedClock) -> Result<Runtime, StoreError> {
        Runtime::start_with(store_path, clock, process_vars())
    }

    /// [`Runtime::start`] with the outbound clients configured from `vars` alone.
    pub fn start_with(store_path: &Path, clock: SharedClock, vars: Vars) -> Result<Runtime, StoreError> {
        let store = Store::open(store_path)?;
        // The version first: a commit landing between the two is then seen as a change.
        let version = store.data_version()?;
        let snapshot = store.load_snapshot(None)?;
        // Beside the registry's memory, the sessions' continuity records (the retry balancer's).
        let conversations = store.load_conversations(clock.now_ms())?;
        let store = StoreHandle::start(store);
        let bus = EventBus::new(store.clone(), clock.clone()).start();
        let registry = AccountRegistry::new(store.clone(), bus.clone(), clock.clone(), snapshot, version)
            .with_store_watch(store_path);
        let changed = registry.change_signal();
        let registry = registry.start();
        let usage = refresher::start(registry.clone(), bus.clone(), clock.clone(), &*vars);
        let tokens = tokens::start(registry.clone(), bus.clone(), clock.clone(), &*vars);
        let balancer = RetryBalancer::new(registry.clone(), bus.clone(), clock.clone())
            .with_usage(usage.clone())
            .with_tokens(tokens.clone())
            .with_conversations(conversations.records)
            .start();
        registry.do_send(accounts::FollowConversations {
            to: balancer.clone().recipient(),
            seq: conversations.seq,
        });
        Ok(Runtime {
            store,
            registry,
            balancer,
            bus,
            usage,
            tokens,
            clock,
            changed,
        })
    }

    /// Starts the auth watcher on its own thread (the sidecar does; the CLI does not).
    pub fn watch_logins(&self) {
        let path = logins::default_auth_path();
        let inline = std::env::var("OPENCODE_AUTH_CONTENT")
            .ok()
            .filter(|c| !c.trim().is_empty());
        let registry = self.registry.clone();
        let arbiter = Arbiter::new();
        logins::AuthWatcher::start_in_arbiter(&arbiter.handle(), move |_| {
            logins::AuthWatcher::new(path, registry, inline, logins::ProfileReader::from_env())
        });
    }

    /// Reads opencode 2's credentials once (`opencode.db` beside auth.json) and mirrors them as
    /// accounts owned by it: the CLI, which watches nothing, sees what opencode 2 holds now. The
    /// problem, when the database is there but cannot be read (nothing is changed then).
    pub async fn mirror_host_once(&self) -> Option<String> {
        let path = crate::opencode2::default_db_path();
        match crate::opencode2::read_credentials(&path) {
            Ok(crate::opencode2::HostRead::Found { credentials, .. }) => {
                match self.registry.send(accounts::MirrorHost(credentials)).await {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(format!("opencode 2's credentials were not mirrored: {e}")),
                    Err(e) => Some(format!("opencode 2's credentials were not mirrored: {e}")),
                }
            }
            Ok(crate::opencode2::HostRead::Absent) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// Starts background usage polling (the sidecar does; the CLI does not).
    pub fn poll_usage(&self) {
        self.usage.do_send(refresher::StartPolling);
    }

    /// Starts background token refreshes (the sidecar does; the CLI does not).
    pub fn keep_tokens(&self) {
        self.tokens.do_send(tokens::StartKeeping);
    }

    /// Writes everything owed to the store: runtime bookkeeping, then queued events.
    pub async fn flush(&self) {
        let _ = self.registry.send(accounts::FlushNow).await;
        let _ = self.bus.send(events::Flush).await;
    }
}
