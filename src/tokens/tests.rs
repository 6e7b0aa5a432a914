//! Tests of the token keeper: the actor over a real registry and store file, with an in-crate fake
//! token client (single-use refresh tokens, a gate to hold refreshes in flight).

use crate::events::Collector;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::sync::Semaphore;

use super::*;
use crate::accounts::ListAccounts;
use crate::clock::ManualClock;
use crate::events::Subscribe;
use crate::model::Auth;
use crate::store::worker::StoreHandle;
use crate::store::Store;
use crate::tokens::providers::{BoxFuture, RefreshError, RefreshRequest, Refreshed};

pub(super) const NOW: Millis = 1_700_000_000_000;
pub(super) const HOUR: Millis = 3_600_000;

/// Single-use refresh tokens: `rt-FAKE-n` becomes `rt-FAKE-(n+1)`; a spent one is refused.
struct FakeTokens {
    calls: AtomicUsize,
    spent: Mutex<HashSet<String>>,
    gate: Arc<Semaphore>,
    fail: Option<RefreshError>,
}

impl FakeTokens {
    fn new(permits: usize, fail: Option<RefreshError>) -> Arc<FakeTokens> {
        Arc::new(FakeTokens {
            calls: AtomicUsize::new(0),
            spent: Mutex::new(HashSet::new()),
            gate: Arc::new(Semaphore::new(permits)),
            fail,
        })
    }
}

impl TokenClient for FakeTokens {
    fn refreshable(&self, provider: &str, auth: &Auth) -> bool {
        matches!(auth, Auth::Oauth { .. }) && !crate::model::is_copilot(provider)
    }

    fn refresh(&self, req: RefreshRequest) -> BoxFuture<Result<Refreshed, RefreshError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let Auth::Oauth { refresh, .. } = &req.auth else {
            unreachable!()
        };
        let fresh = self.spent.lock().unwrap().insert(refresh.clone());
        let n: u32 = refresh.trim_start_matches("rt-FAKE-").parse().unwrap_or(0) + 1;
        let (gate, fail) = (self.gate.clone(), self.fail.clone());
        Box::pin(async move {
            let _permit = gate.acquire().await.unwrap();
            if let Some(e) = fail {
                return Err(e);
            }
            if !fresh {
                return Err(RefreshError::LoginRequired("refresh_token_reused".into()));
            }
            Ok(Refreshed {
                auth: oauth(n, req.now + HOUR),
                lifetime_ms: Some(HOUR),
            })
        })
    }
}

pub(super) fn oauth(n: u32, expires: Millis) -> Auth {
    Auth::Oauth {
        refresh: format!("rt-FAKE-{n}"),
        access: format!("at-FAKE-{n}"),
        expires,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    }
}

/// One process: a registry and a keeper over the store at `path`.
pub(super) struct Process {
    pub registry: Addr<AccountRegistry>,
    pub keeper: Addr<TokenKeeper>,
    pub notices: UnboundedReceiver<Notice>,
    pub clock: SharedClock,
}

fn process(path: &std::path::Path, client: Arc<FakeTokens>, auth_path: Option<std::path::PathBuf>) -> Process {
    process_with(
        path,
        client,
        Config {
            auth_path,
            ..test_config()
        },
    )
}

/// The keeper's timing in tests: no timer of its own (a test drives it with `Tick`), no auth.json,
/// no profile reads unless a test sets them.
pub(super) fn test_config() -> Config {
    Config {
        tick: Duration::from_secs(3600),
        poll: Duration::from_millis(10),
        auth_path: None,
        profiles: None,
        ..Config::default()
    }
}

/// A process over `path` whose keeper uses `client` and `config`, on a manual clock at `NOW`.
pub(super) fn process_with(path: &std::path::Path, client: Arc<dyn TokenClient>, config: Config) -> Process {
    let store = Store::open(path).unwrap();
    let version = store.data_version().unwrap();
    let snapshot = store.load_snapshot(None).unwrap();
    let clock: SharedClock = Arc::new(ManualClock::new(NOW));
    let store = StoreHandle::start(store);
    let bus = EventBus::new(store.clone(), clock.clone()).start();
    let (tx, notices) = unbounded_channel();
    bus.do_send(Subscribe(Collector(tx).start().recipient()));
    let registry = AccountRegistry::new(store, bus.clone(), clock.clone(), snapshot, version).start();
    let keeper = TokenKeeper::new(registry.clone(), bus, clock.clone(), client, config).start();
    keeper.do_send(StartKeeping);
    Process {
        registry,
        keeper,
        notices,
        clock,
    }
}

fn store_with(dir: &tempfile::TempDir, expires: Millis) -> std::path::PathBuf {
    let path = dir.path().join("balancer.sqlite");
    let mut s = Store::open(&path).unwrap();
    s.save_account("anthropic", "max", &oauth(1, expires), NOW - HOUR)
        .unwrap();
    path
}

pub(super) async fn settle(p: &Process) {
    for _ in 0..500 {
        if p.keeper.send(InFlight).await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("refreshes never finished");
}

pub(super) async fn account(p: &Process) -> crate::model::AccountView {
    p.registry
        .send(ListAccounts { provider_id: None })
        .await
        .unwrap()
        .remove(0)
}

pub(super) fn kinds(notices: &mut UnboundedReceiver<Notice>) -> Vec<String> {
    let mut out = vec![];
    while let Ok(n) = notices.try_recv() {
        out.push(match n {
            Notice::Event(e) => e.kind,
            Notice::AuthSync { auth, .. } => format!("auth.sync {}", auth.request_token("openai")),
            Notice::Toast { .. } => "toast".into(),
            Notice::StoreChanged => "store.changed".into(),
        });
    }
    out
}

#[actix::test]
async fn a_token_inside_its_lead_window_is_refreshed_saved_and_synced_to_opencode() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with(&dir, NOW + 5 * 60_000);
    let client = FakeTokens::new(10, None);
    let mut p = process(&path, client.clone(), None);
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    assert_eq!(client.calls.load(Ordering::SeqCst), 1);
    let view = account(&p).await;
    assert_eq!(view.token_expires_at, Some(NOW + HOUR));
    let snap = Store::open(&path).unwrap().load_snapshot(None).unwrap();
    assert_eq!(snap.accounts.len(), 1, "a rotated refresh token stays one account");
    assert_eq!(snap.accounts[0].auth, oauth(2, NOW + HOUR));
    p.registry.send(crate::accounts::FlushNow).await.unwrap();
    let seen = kinds(&mut p.notices);
    assert!(seen.contains(&"auth.sync at-FAKE-2".to_string()), "{seen:?}");
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    assert_eq!(
        client.calls.load(Ordering::SeqCst),
        1,
        "not due again for most of an hour"
    );
}

#[actix::test]
async fn a_token_far_from_expiry_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with(&dir, NOW + 8 * HOUR);
    let client = FakeTokens::new(10, None);
    let p = process(&path, client.clone(), None);
    p.keeper.send(Tick).await.unwrap();
    let answer = p
        .keeper
        .send(RefreshNow {
            provider_id: "anthropic".into(),
            alias: "max".into(),
            seen: None,
        })
        .await
        .unwrap();
    assert!(matches!(answer, Outcome::Fresh { by_us: false, .. }));
    assert_eq!(client.calls.load(Ordering::SeqCst), 0);
}

#[actix::test]
async fn two_processes_due_at_once_spend_the_refresh_token_once_and_both_end_with_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with(&dir, NOW + 30_000);
    let client = FakeTokens::new(0, None);
    let a = process(&path, client.clone(), None);
    let b = process(&path, client.clone(), None);
    a.keeper.send(Tick).await.unwrap();
    b.keeper.send(Tick).await.unwrap();
    for _ in 0..200 {
        if client.calls.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(client.calls.load(Ordering::SeqCst), 1, "the second waits on the lease");
    client.gate.add_permits(10);
    settle(&a).await;
    settle(&b).await;
    assert_eq!(client.calls.load(Ordering::SeqCst), 1);
    for p in [&a, &b] {
        p.registry.send(crate::accounts::FlushNow).await.unwrap();
        assert_eq!(account(p).await.token_expires_at, Some(NOW + HOUR));
    }
}

#[actix::test]
async fn a_refused_refresh_token_marks_the_account_login_required_and_it_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with(&dir, NOW + 30_000);
    let client = FakeTokens::new(10, Some(RefreshError::LoginRequired("invalid_grant".into())));
    let mut p = process(&path, client.clone(), None);
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    let view = account(&p).await;
    assert!(view.login_required);
    assert_eq!(view.login_hint.as_deref(), Some("run /connect anthropic in opencode"));
    p.registry.send(crate::accounts::FlushNow).await.unwrap();
    assert!(kinds(&mut p.notices).contains(&"login_required".to_string()));
    let picked = p
        .registry
        .send(crate::accounts::PickAccount {
            provider_id: "anthropic".into(),
            prefer: None,
            exclude: vec![],
            make_active: false,
        })
        .await
        .unwrap();
    assert!(picked.is_none(), "skipped like a disabled account");
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    assert_eq!(
        client.calls.load(Ordering::SeqCst),
        1,
        "never tried again until a new login"
    );
}

#[actix::test]
async fn a_transient_failure_is_an_event_and_is_retried_after_a_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with(&dir, NOW + 30_000);
    let client = FakeTokens::new(10, Some(RefreshError::Transient("timed out".into())));
    let mut p = process(&path, client.clone(), None);
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    assert_eq!(client.calls.load(Ordering::SeqCst), 1, "backing off");
    p.registry.send(crate::accounts::FlushNow).await.unwrap();
    assert!(kinds(&mut p.notices).contains(&"token_refresh_failed".to_string()));
    assert!(!account(&p).await.login_required);
}

#[actix::test]
async fn an_error_echoing_the_token_never_reaches_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with(&dir, NOW + 30_000);
    let echo = RefreshError::Transient("500: {\"refresh_token\":\"rt-FAKE-1\",\"access\":\"at-FAKE-1\"}".into());
    let client = FakeTokens::new(10, Some(echo));
    let mut p = process(&path, client, None);
    p.keeper.send(Tick).await.unwrap();
    settle(&p).await;
    p.registry.send(crate::accounts::FlushNow).await.unwrap();
    let mut seen = 0;
    while let Ok(n) = p.notices.try_recv() {
        let Notice::Event(e) = n else { continue };
        seen += 1;
        let text = format!("{} {:?}", e.message, e.metadata);
        assert!(!text.contains("rt-FAKE-1") && !text.contains("at-FAKE-1"), "{text}");
    }
    assert!(seen > 0);
}
