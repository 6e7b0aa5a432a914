//! Tests of the usage refresher: the actor driven through its messages over a real registry and store.

use crate::events::Collector;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::sync::Semaphore;

use super::*;
use crate::accounts::ListAccounts;
use crate::clock::ManualClock;
use crate::events::{Notice, Subscribe};
use crate::model::Auth;
use crate::store::worker::StoreHandle;
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
    let refresher = UsageRefresher::new(registry.clone(), bus, clock.clone(), Arc::new(client), jitter, config).start();
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
fn counting_with(answer: Result<Usage, FetchError>, reads: UnboundedSender<()>) -> (MockUsageClient, Arc<AtomicUsize>) {
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
    w.registry.send(crate::accounts::FlushNow).await.unwrap();
    let u = usage(&w).await;
    assert_eq!(
        u.confidence,
        Confidence::Exact,
        "a fresh exact reading beats a header estimate"
    );
}

#[actix::test]
async fn an_on_demand_read_before_the_first_round_reschedules_the_background_read_an_interval_later() {
    let (tx, mut reads) = unbounded_channel();
    let (client, calls) = counting_with(Ok(read(5.0)), tx);
    let w = world(1, client, &[("usageIntervalSeconds", "60")]);
    let one = RefreshUsage {
        provider_id: Some("openai".into()),
        alias: Some("a0".into()),
    };
    w.refresher.send(one).await.unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the on-demand read");
    reads.recv().await.unwrap();
    w.refresher.send(StartPolling).await.unwrap();
    for round in 1..=3 {
        w.clock.advance(73_000); // past the interval with any jitter
        w.refresher.send(Tick).await.unwrap();
        reads.recv().await.expect("a background read");
        while w.refresher.send(InFlight).await.unwrap() > 0 {
            tokio::task::yield_now().await; // the read's end is applied before the clock moves on
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1 + round, "background round {round}");
    }
}
