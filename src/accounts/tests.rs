//! Tests of the account registry over a real store thread: bookkeeping reaches the store exactly
//! once, whatever jobs run while it is on its way, and another process's commit is always seen.

use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::model::{AccountView, Auth};
use crate::store::Store;

const NOW: Millis = 1_700_000_000_000;

struct World {
    dir: tempfile::TempDir,
    registry: Addr<AccountRegistry>,
    store: StoreHandle,
    /// The folder a deaf registry watches instead of the store's.
    _elsewhere: Option<tempfile::TempDir>,
    /// Notified when the registry loaded another process's commit.
    changed: Arc<tokio::sync::Notify>,
}

/// `openai/a`, `openai/b` and `groq/x`, and a registry over them (polling the store).
fn world() -> World {
    world_with(false)
}

/// How a registry learns of other processes' commits besides looking in its own store jobs.
#[derive(Clone, Copy, PartialEq)]
enum Hears {
    /// Polls every `SYNC_INTERVAL`.
    Polling,
    /// From the store's files changing.
    StoreFiles,
    /// Not at all: its watch is on another folder.
    Nothing,
}

/// The same, learning of other processes' commits from the store's files when `watched`.
fn world_with(watched: bool) -> World {
    world_of(if watched { Hears::StoreFiles } else { Hears::Polling }, 0)
}

/// The same with `more` accounts `openai/m0000`… besides.
fn world_of(hears: Hears, more: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("balancer.sqlite")).unwrap();
    let extra: Vec<String> = (0..more).map(|i| format!("m{i:04}")).collect();
    let named = [("openai", "a"), ("openai", "b"), ("groq", "x")];
    for (p, a) in extra.iter().map(|a| ("openai", a.as_str())).chain(named) {
        store.save_account(p, a, &fake_key(p, a), 0).unwrap();
    }
    let version = store.data_version().unwrap();
    let snapshot = store.load_snapshot(None).unwrap();
    let clock: SharedClock = Arc::new(ManualClock::new(NOW));
    let store = StoreHandle::start(store);
    let bus = EventBus::new(store.clone(), clock.clone()).start();
    let mut registry = AccountRegistry::new(store.clone(), bus, clock, snapshot, version);
    let elsewhere = (hears == Hears::Nothing).then(|| tempfile::tempdir().unwrap());
    match (hears, &elsewhere) {
        (Hears::StoreFiles, _) => registry = registry.with_store_watch(&dir.path().join("balancer.sqlite")),
        (Hears::Nothing, Some(e)) => registry = registry.with_store_watch(&e.path().join("balancer.sqlite")),
        _ => {}
    }
    let changed = registry.change_signal();
    World {
        dir,
        registry: registry.start(),
        store,
        _elsewhere: elsewhere,
        changed,
    }
}

/// Saving `openai/alias` with a fake key, the way a user does.
fn save(alias: &str) -> SaveAccount {
    SaveAccount {
        provider_id: "openai".into(),
        alias: alias.into(),
        auth: fake_key("openai", alias),
        replace: false,
    }
}

fn fake_key(provider: &str, alias: &str) -> Auth {
    Auth::Api {
        key: format!("sk-fake-registry-{provider}-{alias}"),
        metadata: None,
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
        self.other_process_saves("openai", "c");
    }

    /// Another process saves `provider/alias` now.
    fn other_process_saves(&self, provider: &str, alias: &str) {
        let mut other = Store::open(&self.dir.path().join("balancer.sqlite")).unwrap();
        other
            .save_account(provider, alias, &fake_key(provider, alias), 0)
            .unwrap();
    }

    /// Account rows the store thread has read so far.
    async fn rows_read(&self) -> u64 {
        self.store.call(|_| crate::store::account_rows_read()).await.unwrap().1
    }

    /// Sends a user's change and waits for it to be committed.
    async fn mutate<M, T>(&self, m: M) -> T
    where
        M: Message<Result = Result<T, RegistryError>> + Send + 'static,
        T: Send + 'static,
        AccountRegistry: Handler<M>,
    {
        self.registry.send(m).await.unwrap().unwrap()
    }

    async fn listed(&self, provider: &str) -> Vec<AccountView> {
        let provider_id = Some(provider.to_string());
        self.registry.send(ListAccounts { provider_id }).await.unwrap()
    }

    /// `provider`'s active account in memory.
    async fn active(&self, provider: &str) -> Option<String> {
        let views = self.listed(provider).await;
        views.into_iter().find(|v| v.active).map(|v| v.alias)
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
    let refused = w.registry.send(ActivateAccount {
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
    let other = w.registry.send(ActivateAccount {
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
    let reset = w.registry.send(ResetCooldown {
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

/// `provider`'s pick from memory alone (no store job): its active account under `sticky`.
async fn picked(w: &World, provider: &str) -> Option<String> {
    let pick = PickAccount {
        provider_id: provider.into(),
        prefer: None,
        exclude: vec![],
        make_active: false,
    };
    w.registry.send(pick).await.unwrap().map(|p| p.alias)
}

#[actix::test]
async fn a_users_change_to_one_account_reads_back_that_account_alone_however_many_the_provider_holds() {
    let w = world_of(Hears::Polling, 300);
    let before = w.rows_read().await;
    w.mutate(save("new")).await;
    assert_eq!(w.rows_read().await - before, 1, "a save reads the saved account");
    w.mutate(RenameAccount {
        provider_id: "openai".into(),
        from: "new".into(),
        to: "renamed".into(),
    })
    .await;
    w.mutate(SetAccountDisabled {
        provider_id: "openai".into(),
        alias: "b".into(),
        disabled: true,
    })
    .await;
    w.mutate(ResetCooldown {
        provider_id: "openai".into(),
        alias: "a".into(),
    })
    .await;
    w.mutate(ActivateAccount {
        provider_id: "openai".into(),
        alias: "a".into(),
    })
    .await;
    w.mutate(RemoveAccount {
        provider_id: "openai".into(),
        alias: "renamed".into(),
    })
    .await;
    assert_eq!(
        w.rows_read().await - before,
        4,
        "one row each for the save, rename, disable and reset"
    );
}

#[actix::test]
async fn memory_after_users_changes_to_single_accounts_is_what_the_store_holds() {
    let w = world_of(Hears::Polling, 20);
    // Bookkeeping queued for another account of the provider goes out with the save, once.
    w.refused("openai", "a").await.unwrap();
    w.mutate(save("new")).await;
    assert_eq!(
        w.active("openai").await.as_deref(),
        Some("new"),
        "the saved account is active"
    );
    w.mutate(RenameAccount {
        provider_id: "openai".into(),
        from: "new".into(),
        to: "renamed".into(),
    })
    .await;
    assert_eq!(w.active("openai").await.as_deref(), Some("renamed"));
    w.mutate(RemoveAccount {
        provider_id: "openai".into(),
        alias: "renamed".into(),
    })
    .await;
    // The store made the first remaining account active; memory read that back.
    assert_eq!(w.active("openai").await.as_deref(), Some("a"));
    assert_eq!(w.failures("openai", "a").await, (1, 1));
    let store = Store::open(&w.dir.path().join("balancer.sqlite")).unwrap();
    let stored = store.load_snapshot(None).unwrap();
    let mut want: Vec<(String, String, u32)> = (stored.accounts.iter())
        .map(|a| (a.provider_id.clone(), a.alias.clone(), a.failures))
        .collect();
    want.sort();
    let views = w.registry.send(ListAccounts { provider_id: None }).await.unwrap();
    let mut have: Vec<(String, String, u32)> = (views.into_iter())
        .map(|v| (v.provider_id, v.alias, v.failures))
        .collect();
    have.sort();
    assert_eq!(have, want);
    assert_eq!(w.listed("openai").await.len(), 22);
}

#[actix::test]
async fn another_processs_commit_just_before_a_save_is_loaded_by_the_save() {
    // It learns of the commit only by looking in its own store jobs.
    let w = world_of(Hears::Nothing, 0);
    w.registry.send(GetStatus).await.unwrap();
    // Another provider: a read of the saved account alone would not show it.
    w.other_process_saves("groq", "y");
    w.mutate(save("new")).await;
    assert_eq!(
        picked(&w, "groq").await.as_deref(),
        Some("y"),
        "memory has the other commit"
    );
    assert!(
        futures::FutureExt::now_or_never(w.changed.notified()).is_some(),
        "loaded as another process's commit"
    );
}

/// How many times the store thread has reported another process's commit.
#[derive(Message)]
#[rtype(result = "u64")]
struct OthersCommittedCount;

impl Handler<OthersCommittedCount> for AccountRegistry {
    type Result = u64;
    fn handle(&mut self, _: OthersCommittedCount, _: &mut Context<Self>) -> u64 {
        self.others_committed
    }
}

#[actix::test]
async fn another_processs_commit_right_after_ours_is_seen_from_the_store_watch() {
    let w = world_with(true);
    w.registry.send(GetStatus).await.unwrap();
    w.mutate(save("ours")).await;
    w.other_process_saves("openai", "c");
    w.sees_the_other_process().await;
}

#[actix::test]
async fn the_file_events_of_our_own_commits_and_checkpoints_do_not_reach_the_registry() {
    let w = world_with(true);
    w.registry.send(GetStatus).await.unwrap();
    // Each save is a commit and a checkpoint (the old credential's bytes leave the WAL).
    for i in 0..20 {
        w.mutate(save(&format!("ours{i}"))).await;
    }
    // Events are delivered in order: once the other process's commit is seen, ours were handled.
    w.other_process_saves("openai", "c");
    w.sees_the_other_process().await;
    let reported = w.registry.send(OthersCommittedCount).await.unwrap();
    assert!(
        (1..=2).contains(&reported),
        "only the other process's commits (opening, saving) are reported: {reported}"
    );
}

/// An OAuth credential with obviously fake tokens.
fn fake_oauth(n: u32) -> Auth {
    Auth::Oauth {
        refresh: format!("rt-fake-{n}"),
        access: format!("at-fake-{n}"),
        expires: NOW + 3_600_000,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    }
}

impl World {
    /// Saves `openai/alias` with an OAuth credential, the way a user does.
    async fn saves_oauth(&self, alias: &str, auth: Auth) {
        let save = SaveAccount {
            provider_id: "openai".into(),
            alias: alias.into(),
            auth,
            replace: false,
        };
        self.mutate(save).await;
    }

    /// A token refresh of `openai/alias` as the token keeper runs it: the lease, then the commit
    /// of a new credential, each a `TokenStore` job. Answers whether it committed.
    async fn refreshes(&self, alias: &str, new: Auth) -> bool {
        let a = alias.to_string();
        let lease = self.registry.send(TokenStore::new("openai", alias, move |s| {
            let generation = s.token_row("openai", &a)?.map_or(0, |(_, g, _)| g);
            s.take_refresh_lease("openai", &a, generation, "test-owner", NOW, 60_000)?;
            Ok(generation)
        }));
        let generation = lease.await.unwrap().unwrap();
        let a = alias.to_string();
        let commit = TokenStore::new("openai", alias, move |s| {
            s.commit_refresh("openai", &a, generation, "test-owner", &new, NOW)
        });
        let committed = self.registry.send(commit).await.unwrap().unwrap();
        matches!(committed, crate::store::Committed::Saved { .. })
    }

    /// `provider/alias`'s OAuth credential in memory, as the token keeper sees it (not caught up
    /// with the store first).
    async fn credential(&self, provider: &str, alias: &str) -> Option<Auth> {
        let want = TokenTargets {
            provider_id: Some(provider.into()),
            alias: Some(alias.into()),
            fresh: false,
        };
        self.registry.send(want).await.unwrap().pop().map(|t| t.auth)
    }
}

#[actix::test]
async fn a_token_refresh_reads_back_the_refreshed_account_alone_however_many_the_provider_holds() {
    let w = world_of(Hears::Polling, 300);
    w.saves_oauth("o", fake_oauth(1)).await;
    let before = w.rows_read().await;
    assert!(w.refreshes("o", fake_oauth(2)).await, "the refresh commits");
    assert_eq!(
        w.rows_read().await - before,
        2,
        "the lease and the commit each read back the one account"
    );
    assert_eq!(
        w.credential("openai", "o").await,
        Some(fake_oauth(2)),
        "memory has the new credential"
    );
}

#[actix::test]
async fn another_processs_commit_just_before_a_token_refresh_is_loaded_by_the_refresh() {
    // It learns of the commit only by looking in its own store jobs.
    let w = world_of(Hears::Nothing, 0);
    w.saves_oauth("o", fake_oauth(1)).await;
    // Another provider: a read of the refreshed account (or its provider) alone would not show it.
    let mut other = Store::open(&w.dir.path().join("balancer.sqlite")).unwrap();
    other.save_account("groq", "y", &fake_oauth(7), 0).unwrap();
    assert!(w.refreshes("o", fake_oauth(2)).await);
    assert_eq!(w.credential("openai", "o").await, Some(fake_oauth(2)));
    assert_eq!(
        w.credential("groq", "y").await,
        Some(fake_oauth(7)),
        "another provider's account saved by another process is in memory"
    );
}

#[actix::test]
async fn the_oauth_accounts_given_to_the_token_keeper_follow_saves_made_after_it_asked() {
    let w = world();
    let all = || TokenTargets {
        provider_id: None,
        alias: None,
        fresh: false,
    };
    assert!(w.registry.send(all()).await.unwrap().is_empty(), "API keys only");
    w.saves_oauth("o", fake_oauth(1)).await;
    let listed = |targets: Vec<TokenTarget>| -> Vec<(String, String, bool)> {
        (targets.into_iter())
            .map(|t| (t.provider_id, t.alias, matches!(t.auth, Auth::Oauth { .. })))
            .collect()
    };
    let want = vec![("openai".to_string(), "o".to_string(), true)];
    assert_eq!(listed(w.registry.send(all()).await.unwrap()), want);
    w.refused("openai", "o").await.unwrap();
    assert_eq!(
        listed(w.registry.send(all()).await.unwrap()),
        want,
        "runtime bookkeeping changes nothing listed"
    );
}
