//! Tests of the account registry over a real store thread: bookkeeping reaches the store exactly
//! once, whatever jobs run while it is on its way, and another process's commit is always seen.

use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::model::Auth;
use crate::store::Store;

const NOW: Millis = 1_700_000_000_000;

struct World {
    dir: tempfile::TempDir,
    registry: Addr<AccountRegistry>,
    /// Notified when the registry loaded another process's commit.
    changed: Arc<tokio::sync::Notify>,
}

/// `openai/a`, `openai/b` and `groq/x`, and a registry over them (polling the store).
fn world() -> World {
    world_with(false)
}

/// The same, learning of other processes' commits from the store's files when `watched`.
fn world_with(watched: bool) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("balancer.sqlite")).unwrap();
    for (p, a) in [("openai", "a"), ("openai", "b"), ("groq", "x")] {
        let auth = Auth::Api {
            key: format!("sk-fake-registry-{p}-{a}"),
            metadata: None,
        };
        store.save_account(p, a, &auth, 0).unwrap();
    }
    let version = store.data_version().unwrap();
    let snapshot = store.load_snapshot(None).unwrap();
    let clock: SharedClock = Arc::new(ManualClock::new(NOW));
    let store = StoreHandle::start(store);
    let bus = EventBus::new(store.clone(), clock.clone()).start();
    let mut registry = AccountRegistry::new(store, bus, clock, snapshot, version);
    if watched {
        registry = registry.with_store_watch(&dir.path().join("balancer.sqlite"));
    }
    let changed = registry.change_signal();
    World {
        dir,
        registry: registry.start(),
        changed,
    }
}

impl World {
    fn refused(&self, provider: &str, alias: &str) -> Request<AccountRegistry, RecordOutcome> {
        self.registry.send(RecordOutcome {
            provider_id: provider.into(),
            alias: alias.into(),
            status: 503,
            headers: Default::default(),
            body: None,
        })
    }

    /// Another process adds `openai/c` to the store, once the registry runs (its watch is set
    /// up when it starts, before it answers anything).
    async fn another_process_adds_an_account(&self) {
        self.registry.send(GetStatus).await.unwrap();
        let mut other = Store::open(&self.dir.path().join("balancer.sqlite")).unwrap();
        let auth = Auth::Api {
            key: "sk-fake-registry-openai-c".into(),
            metadata: None,
        };
        other.save_account("openai", "c", &auth, 0).unwrap();
    }

    /// Waits until the registry has loaded another process's commit; then `openai/c` is listed.
    async fn sees_the_other_process(&self) {
        let seen = tokio::time::timeout(std::time::Duration::from_secs(10), self.changed.notified());
        seen.await.expect("the other process's commit is loaded");
        let views = self.registry.send(ListAccounts { provider_id: None }).await.unwrap();
        assert!(views.iter().any(|v| v.alias == "c"));
    }

    /// (in memory, in the store) failures of `provider/alias`, after everything is flushed.
    async fn failures(&self, provider: &str, alias: &str) -> (u32, u32) {
        self.registry.send(FlushNow).await.unwrap();
        let views = self.registry.send(ListAccounts { provider_id: None }).await.unwrap();
        let memory = views
            .iter()
            .find(|v| v.provider_id == provider && v.alias == alias)
            .unwrap()
            .failures;
        let store = Store::open(&self.dir.path().join("balancer.sqlite")).unwrap();
        let snap = store.load_snapshot(None).unwrap();
        let stored = snap
            .accounts
            .iter()
            .find(|a| a.provider_id == provider && a.alias == alias)
            .unwrap()
            .failures;
        (memory, stored)
    }
}

#[actix::test]
async fn a_failure_is_counted_once_however_many_jobs_run_while_it_is_on_its_way() {
    let w = world();
    let first = w.refused("openai", "a");
    let jobs = (w.registry.send(GetStatus), w.registry.send(FlushNow));
    let second = w.refused("openai", "a");
    let list = w.registry.send(ListAccounts { provider_id: None });
    first.await.unwrap();
    second.await.unwrap();
    let (status, flushed, listed) = (jobs.0.await, jobs.1.await, list.await);
    assert!(status.is_ok() && flushed.is_ok() && listed.is_ok());
    assert_eq!(w.failures("openai", "a").await, (2, 2));
}

#[actix::test]
async fn a_mutation_that_fails_still_settles_the_bookkeeping_it_carried() {
    let w = world();
    w.refused("openai", "a").await.unwrap();
    let refused = w.registry.send(Mutate::Activate {
        provider_id: "openai".into(),
        alias: "nope".into(),
    });
    assert!(refused.await.unwrap().is_err());
    assert_eq!(w.failures("openai", "a").await, (1, 1));
}

#[actix::test]
async fn reloading_another_provider_does_not_count_a_failure_again() {
    let w = world();
    w.refused("openai", "a").await.unwrap();
    let other = w.registry.send(Mutate::Activate {
        provider_id: "groq".into(),
        alias: "x".into(),
    });
    let again = w.refused("openai", "a");
    assert!(other.await.unwrap().is_ok());
    again.await.unwrap();
    let views = w.registry.send(ListAccounts { provider_id: None }).await.unwrap();
    let a = views.iter().find(|v| v.alias == "a").unwrap();
    assert_eq!(a.failures, 2, "memory right away");
    assert_eq!(w.failures("openai", "a").await, (2, 2));
}

#[actix::test]
async fn a_reset_right_after_a_refusal_stays_reset_in_memory_and_in_the_store() {
    let w = world();
    let refused = w.refused("openai", "a");
    let reset = w.registry.send(Mutate::ResetCooldown {
        provider_id: "openai".into(),
        alias: "a".into(),
    });
    let late = w.refused("openai", "b");
    refused.await.unwrap();
    assert!(reset.await.unwrap().is_ok());
    late.await.unwrap();
    assert_eq!(w.failures("openai", "a").await, (0, 0));
    let views = w.registry.send(ListAccounts { provider_id: None }).await.unwrap();
    let a = views.iter().find(|v| v.alias == "a").unwrap();
    assert_eq!(a.cooling_down_until, None);
}

#[actix::test]
async fn another_processs_commit_is_seen_from_the_store_watch_while_nothing_is_queued() {
    let w = world_with(true);
    w.another_process_adds_an_account().await;
    w.sees_the_other_process().await;
}

#[actix::test]
async fn another_processs_commit_is_seen_with_bookkeeping_queued_and_the_bookkeeping_is_written() {
    let w = world_with(true);
    // The refusal's bookkeeping is owed for up to SYNC_INTERVAL; the commit's file events come
    // meanwhile, and the owed flush is what looks.
    w.refused("openai", "a").await.unwrap();
    w.another_process_adds_an_account().await;
    w.sees_the_other_process().await;
    assert_eq!(w.failures("openai", "a").await, (1, 1));
}
