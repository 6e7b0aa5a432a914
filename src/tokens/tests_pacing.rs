//! Tests that counts the token requests one account costs over a window of manual-clock time,
//! through the real refresh clients against the loopback fake token server: a short `expires_in`,
//! Claude's opaque tokens (no `iat`), a clock ahead of the tokens' expiry, a 500, a 429 with
//! `Retry-After: 3600`, and the hot path's on-demand refreshes sharing the keeper's one pacing.

use std::time::Duration;

use super::tests::{kinds, process_with, settle, test_config, Process, HOUR, NOW};
use super::*;
use crate::accounts::FlushNow;
use crate::model::Auth;
use crate::store::Store;
use crate::tokens::providers::fake_server::{FakeTokenServer, Family, Step};
use crate::tokens::providers::{Endpoints, Router};

const MIN: Millis = 60_000;

/// The fake server, one account `provider/me` holding `family`'s first credential (minted with
/// the server's clock `skew` ms off ours), and a process whose keeper refreshes through it.
fn scene(dir: &tempfile::TempDir, provider: &str, family: Family, skew: Millis) -> (FakeTokenServer, Process) {
    let server = FakeTokenServer::start().unwrap();
    server.set_now(NOW + skew);
    let auth = server.mint("me", family);
    let path = dir.path().join("balancer.sqlite");
    Store::open(&path)
        .unwrap()
        .save_account(provider, "me", &auth, NOW)
        .unwrap();
    let client = Arc::new(Router::new(Endpoints::all_at(&server.url(), Duration::from_secs(5))));
    let p = process_with(&path, client, test_config());
    (server, p)
}

/// Moves the clock through `window` in `step`s (the server's clock `skew` off ours), letting the
/// keeper start what is due at each, and `hot` on-demand refreshes too; answers the requests the
/// token server saw.
async fn run(
    p: &Process,
    server: &FakeTokenServer,
    provider: &str,
    window: Millis,
    step: Millis,
    skew: Millis,
    hot: usize,
) -> u64 {
    let end = p.clock.now_ms() + window;
    while p.clock.now_ms() < end {
        p.clock.advance(step);
        server.set_now(p.clock.now_ms() + skew);
        p.keeper.send(Tick).await.unwrap();
        for _ in 0..hot {
            on_demand(p, provider).await;
        }
        settle(p).await;
    }
    server.requests()
}

async fn on_demand(p: &Process, provider: &str) -> Outcome {
    p.keeper
        .send(RefreshNow {
            provider_id: provider.into(),
            alias: "me".into(),
            seen: None,
        })
        .await
        .unwrap()
}

fn short(mut family: Family, expires_in: u64) -> Family {
    family.expires_in = Some(expires_in);
    family
}

#[actix::test]
async fn an_opaque_claude_token_living_five_minutes_is_refreshed_once_per_lifetime_not_in_a_storm() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut p) = scene(&dir, "anthropic", short(Family::claude(), 300), 0);
    let posts = run(&p, &server, "anthropic", 30 * MIN, 5_000, 0, 0).await;
    // Due 30 s before each expiry (a tenth of its life): one request per 270 s.
    assert!((5..=8).contains(&posts), "{posts} token requests in 30 minutes");
    p.registry.send(FlushNow).await.unwrap();
    let events = kinds(&mut p.notices).iter().filter(|k| *k == "token_refreshed").count();
    assert_eq!(events as u64, posts, "one event per refresh, no more");
}

#[actix::test]
async fn a_token_living_shorter_than_the_floor_is_refreshed_at_most_once_a_minute() {
    for (provider, family) in [
        ("anthropic", Family::claude()),
        ("openai", Family::chatgpt("acct-FAKE")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (server, mut p) = scene(&dir, provider, short(family, 20), 0);
        let posts = run(&p, &server, provider, 10 * MIN, 1_000, 0, 1).await;
        assert!(
            (9..=11).contains(&posts),
            "{provider}: {posts} token requests in 10 minutes"
        );
        p.registry.send(FlushNow).await.unwrap();
        let events = kinds(&mut p.notices).iter().filter(|k| *k == "token_refreshed").count();
        assert!(
            events <= 2,
            "{provider}: {events} events: one says it, the rest are logged"
        );
    }
}

#[actix::test]
async fn a_clock_ahead_of_the_tokens_expiry_backs_off_instead_of_refreshing_in_a_loop() {
    // The token server's clock is two hours behind ours: every JWT it mints has expired on arrival.
    let skew = -2 * HOUR;
    let dir = tempfile::tempdir().unwrap();
    let (server, mut p) = scene(&dir, "openai", Family::chatgpt("acct-FAKE"), skew);
    let posts = run(&p, &server, "openai", HOUR, 10_000, skew, 1).await;
    // At 0, 1, 3, 7, 15 and 31 minutes, then every 30 minutes.
    assert!((5..=7).contains(&posts), "{posts} token requests in an hour");
    p.registry.send(FlushNow).await.unwrap();
    let events = kinds(&mut p.notices).iter().filter(|k| *k == "token_refreshed").count();
    assert!(events <= 2, "{events} events");
}

#[actix::test]
async fn a_failing_token_endpoint_is_not_asked_again_by_the_hot_path_while_backing_off() {
    let dir = tempfile::tempdir().unwrap();
    // Expires within the minute: every request would want it refreshed first.
    let (server, p) = scene(&dir, "anthropic", short(Family::claude(), 30), 0);
    for _ in 0..200 {
        server.then(Step::Status(500));
    }
    let first = on_demand(&p, "anthropic").await;
    assert!(matches!(first, Outcome::Failed(Failure::Transient { .. })), "{first:?}");
    settle(&p).await;
    assert_eq!(server.requests(), 1);
    for _ in 0..33 {
        let answer = on_demand(&p, "anthropic").await;
        assert!(matches!(answer, Outcome::Failed(Failure::Waiting { .. })), "{answer:?}");
    }
    assert_eq!(
        server.requests(),
        1,
        "33 requests on it, no token request while backed off"
    );
    // Backing off 30 s, 60 s, 120 s, 240 s, …: a handful of requests in half an hour, with the hot
    // path asking at every step.
    let posts = run(&p, &server, "anthropic", 30 * MIN, 5_000, 0, 3).await;
    assert!((5..=7).contains(&posts), "{posts} token requests in 30 minutes");
}

#[actix::test]
async fn a_retry_after_of_an_hour_from_the_token_endpoint_holds_every_caller_for_the_hour() {
    let dir = tempfile::tempdir().unwrap();
    let (server, p) = scene(&dir, "anthropic", short(Family::claude(), 30), 0);
    server.then(Step::RateLimited(Some("3600".into())));
    let first = on_demand(&p, "anthropic").await;
    settle(&p).await;
    assert!(
        matches!(first, Outcome::Failed(Failure::RateLimited { .. })),
        "{first:?}"
    );
    let posts = run(&p, &server, "anthropic", HOUR - 10_000, 10_000, 0, 3).await;
    assert_eq!(posts, 1, "background and hot path both wait out the hour");
    let posts = run(&p, &server, "anthropic", 20_000, 10_000, 0, 3).await;
    assert_eq!(posts, 2, "then it is asked again, once");
}

#[actix::test]
async fn concurrent_requests_on_an_expiring_token_share_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let (server, p) = scene(&dir, "anthropic", short(Family::claude(), 30), 0);
    server.set_delay(Duration::from_millis(200));
    let answers = futures::future::join_all((0..8).map(|_| on_demand(&p, "anthropic"))).await;
    assert_eq!(server.requests(), 1);
    let fresh: Vec<Auth> = answers
        .into_iter()
        .map(|a| match a {
            Outcome::Fresh { auth, .. } => auth,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        fresh.windows(2).all(|w| w[0] == w[1]),
        "every caller got the one new credential"
    );
}
