//! The real refresh clients, through [`super::Router`], against the fake token server: rotation,
//! reuse and revocation, accountId derived again, Claude keeping its refresh token, and every
//! classification of a failed refresh; no message ever holds a token.

use std::time::Duration;

use super::fake_server::{AccountClaims, FakeTokenServer, Family, Step, CHATGPT_PATH};
use super::{Endpoints, RefreshError, RefreshRequest, Refreshed, Router, TokenClient};
use crate::model::claims::jwt_claims;
use crate::model::{Auth, Millis};
use crate::usage::fake_server::{FakeReply, FakeUsageServer};

const NOW: Millis = 1_700_000_000_000;

fn router(base: &str) -> Router {
    Router::new(Endpoints::all_at(base, Duration::from_millis(500)))
}

async fn refresh(server_url: &str, provider: &str, auth: &Auth) -> Result<Refreshed, RefreshError> {
    let result = router(server_url)
        .refresh(RefreshRequest {
            provider_id: provider.into(),
            alias: "a".into(),
            auth: auth.clone(),
            now: NOW,
        })
        .await;
    if let Err(e) = &result {
        assert!(!format!("{e} {e:?}").contains("FAKE"), "a token in {e:?}");
    }
    result
}

fn parts(auth: &Auth) -> (String, String, Millis, Option<String>) {
    match auth {
        Auth::Oauth {
            refresh,
            access,
            expires,
            account_id,
            ..
        } => (refresh.clone(), access.clone(), *expires, account_id.clone()),
        other => panic!("not OAuth: {other:?}"),
    }
}

fn login_required(r: Result<Refreshed, RefreshError>) -> String {
    match r {
        Err(RefreshError::LoginRequired(m)) => m,
        other => panic!("expected LoginRequired, got {other:?}"),
    }
}

fn transient(r: Result<Refreshed, RefreshError>) -> String {
    match r {
        Err(RefreshError::Transient(m)) => m,
        other => panic!("expected Transient, got {other:?}"),
    }
}

fn server() -> FakeTokenServer {
    let s = FakeTokenServer::start().unwrap();
    s.set_now(NOW - 600_000);
    s
}

#[tokio::test]
async fn chatgpt_rotates_the_refresh_token_once_and_a_reused_one_revokes_the_family() {
    let s = server();
    let mut spec = Family::chatgpt("acc-FAKE-one");
    spec.residency = Some("us".into());
    let first = s.mint("one", spec);
    s.set_now(NOW);
    let got = refresh(&s.url(), "openai", &first).await.unwrap();
    let (old_refresh, old_access, _, _) = parts(&first);
    let (new_refresh, new_access, expires, account) = parts(&got.auth);
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(new_access, old_access);
    assert_eq!(expires, NOW + 3_600_000);
    assert_eq!(got.lifetime_ms, Some(3_600_000));
    assert_eq!(account.as_deref(), Some("acc-FAKE-one"));
    let claims = jwt_claims(&new_access).unwrap();
    assert_eq!(claims["exp"], (NOW / 1000 + 3600));
    assert_eq!(claims["https://api.openai.com/auth"]["chatgpt_compute_residency"], "us");
    assert_eq!(Some(got.auth.clone()), s.current("one"));
    assert_eq!((s.refreshes("one"), s.token_requests(&old_refresh)), (1, 1));

    let reused = login_required(refresh(&s.url(), "openai", &first).await);
    assert!(reused.contains("400 refresh_token_reused"), "{reused}");
    assert!(s.revoked("one"));
    let revoked = login_required(refresh(&s.url(), "openai", &got.auth).await);
    assert!(revoked.contains("refresh_token_invalidated"), "{revoked}");
    assert_eq!((s.requests(), s.family_requests("one"), s.refreshes("one")), (3, 3, 1));
}

#[tokio::test]
async fn a_family_that_is_not_revoked_on_reuse_keeps_its_newest_token() {
    let s = server();
    let mut spec = Family::chatgpt("acc-FAKE-two");
    spec.revoke_on_reuse = false;
    let first = s.mint("two", spec);
    let second = refresh(&s.url(), "openai", &first).await.unwrap();
    login_required(refresh(&s.url(), "openai", &first).await);
    assert!(!s.revoked("two"));
    refresh(&s.url(), "openai", &second.auth).await.unwrap();
    assert_eq!(s.refreshes("two"), 2);
}

#[tokio::test]
async fn the_account_id_is_derived_again_from_each_claim_location_else_kept() {
    let s = server();
    for (n, claims, expect) in [
        (1, AccountClaims::Both, "acc-FAKE-new"),
        (2, AccountClaims::TopLevel, "acc-FAKE-new"),
        (3, AccountClaims::Namespaced, "acc-FAKE-new"),
        (4, AccountClaims::Organizations, "acc-FAKE-new"),
        (5, AccountClaims::AccessOnly, "acc-FAKE-new"),
        (6, AccountClaims::Nowhere, "acc-old"),
    ] {
        let mut spec = Family::chatgpt("acc-FAKE-new");
        spec.claims = claims;
        let Auth::Oauth {
            refresh: r,
            access,
            expires,
            ..
        } = s.mint(&format!("f{n}"), spec)
        else {
            unreachable!()
        };
        let saved = Auth::Oauth {
            refresh: r,
            access,
            expires,
            account_id: Some("acc-old".into()),
            enterprise_url: None,
            metadata: Some([("k".to_string(), "v".to_string())].into()),
        };
        let got = refresh(&s.url(), "openai", &saved).await.unwrap();
        assert_eq!(parts(&got.auth).3.as_deref(), Some(expect), "{claims:?}");
        let Auth::Oauth { metadata, .. } = &got.auth else {
            unreachable!()
        };
        assert!(metadata.is_some(), "other fields are kept");
    }
}

#[tokio::test]
async fn a_missing_expires_in_means_an_hour_and_no_stated_lifetime() {
    let s = server();
    let mut spec = Family::chatgpt("acc-FAKE-3");
    spec.expires_in = None;
    let got = refresh(&s.url(), "openai", &s.mint("three", spec)).await.unwrap();
    assert_eq!((parts(&got.auth).2, got.lifetime_ms), (NOW + 3_600_000, None));
}

#[tokio::test]
async fn claude_rotates_opaque_tokens_and_keeps_the_old_refresh_token_when_none_comes_back() {
    let s = server();
    let first = s.mint("c1", Family::claude());
    let got = refresh(&s.url(), "anthropic", &first).await.unwrap();
    let (r, a, expires, account) = parts(&got.auth);
    assert!(r.starts_with("sk-ant-ort01-FAKE-") && r != parts(&first).0, "{r}");
    assert!(a.starts_with("sk-ant-oat01-FAKE-"), "{a}");
    assert_eq!(
        (expires, got.lifetime_ms, account),
        (NOW + 28_800_000, Some(28_800_000), None)
    );
    assert!(login_required(refresh(&s.url(), "anthropic", &first).await).contains("refresh_token_reused"));

    let mut keep = Family::claude();
    keep.omit_refresh = true;
    let first = s.mint("c2", keep);
    let once = refresh(&s.url(), "anthropic", &first).await.unwrap();
    assert_eq!(parts(&once.auth).0, parts(&first).0, "the old refresh token is kept");
    assert_ne!(parts(&once.auth).1, parts(&first).1);
    let twice = refresh(&s.url(), "anthropic", &once.auth).await.unwrap();
    assert_ne!(parts(&twice.auth).1, parts(&once.auth).1);
    let current = parts(&s.current("c2").unwrap());
    assert_eq!((current.0, current.1), (parts(&twice.auth).0, parts(&twice.auth).1));
}

#[tokio::test]
async fn server_errors_rate_limits_timeouts_and_dropped_answers_are_classified() {
    let s = server();
    let auth = s.mint("x", Family::chatgpt("acc-FAKE-x"));
    s.then(Step::Status(503));
    assert!(transient(refresh(&s.url(), "openai", &auth).await).contains("503"));
    s.then(Step::RateLimited(Some("30".into())));
    assert_eq!(
        refresh(&s.url(), "openai", &auth).await,
        Err(RefreshError::RateLimited {
            until: Some(NOW + 30_000)
        })
    );
    s.then(Step::RateLimited(None));
    assert_eq!(
        refresh(&s.url(), "openai", &auth).await,
        Err(RefreshError::RateLimited { until: None })
    );
    s.then(Step::Delay(Duration::from_millis(1_500)));
    assert!(transient(refresh(&s.url(), "openai", &auth).await).contains("within 500 ms"));
    assert_eq!(s.refreshes("x"), 0, "none of those consumed the token");

    s.then(Step::DropAfterConsume);
    let dropped = transient(refresh(&s.url(), "openai", &auth).await);
    assert!(dropped.starts_with("openai: token refresh failed"), "{dropped}");
    assert_eq!(s.refreshes("x"), 1, "the server rotated it all the same");
    let newest = s.current("x").unwrap();
    s.then(Step::StatusAfterConsume(502));
    assert!(transient(refresh(&s.url(), "openai", &newest).await).contains("502"));
    assert_eq!(s.refreshes("x"), 2);
}

#[tokio::test]
async fn an_error_answer_echoing_the_refresh_token_never_leaks_it() {
    let s = server();
    let auth = s.mint("echo", Family::claude());
    s.then(Step::EchoToken);
    let msg = login_required(refresh(&s.url(), "anthropic", &auth).await);
    assert_eq!(
        msg,
        "anthropic: the token endpoint refused the refresh token (400 invalid_grant); sign in again"
    );
    let unknown = Auth::Oauth {
        refresh: "rt-FAKE-never-issued".into(),
        access: "a".into(),
        expires: 0,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    };
    assert!(login_required(refresh(&s.url(), "openai", &unknown).await).contains("invalid_grant"));
}

#[tokio::test]
async fn unreadable_or_incomplete_answers_and_refused_connections_are_transient() {
    let fake = FakeUsageServer::start().unwrap();
    let auth = Auth::Oauth {
        refresh: "rt-FAKE-r".into(),
        access: "at-FAKE-a".into(),
        expires: 0,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    };
    fake.route(CHATGPT_PATH, FakeReply::status(200, "<html>rt-FAKE-r</html>"));
    assert!(transient(refresh(&fake.url(), "openai", &auth).await).contains("not a JSON object"));
    fake.route(
        CHATGPT_PATH,
        FakeReply::json(r#"{"access_token":"at-FAKE-new","expires_in":60}"#),
    );
    assert!(transient(refresh(&fake.url(), "openai", &auth).await).ends_with("has no refresh_token"));
    fake.route(
        super::fake_server::CLAUDE_PATH,
        FakeReply::json(r#"{"refresh_token":"rt-FAKE-n"}"#),
    );
    assert!(transient(refresh(&fake.url(), "anthropic", &auth).await).ends_with("has no access_token"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    assert!(transient(refresh(&url, "openai", &auth).await).starts_with("openai: token refresh failed"));
}

#[tokio::test]
async fn only_chatgpt_and_claude_logins_are_refreshable_and_test_mode_contacts_nothing() {
    let s = server();
    let oauth = s.mint("r", Family::chatgpt("acc-FAKE-r"));
    let api = Auth::Api {
        key: "sk-FAKE".into(),
        metadata: None,
    };
    let r = router(&s.url());
    assert!(r.refreshable("openai", &oauth));
    assert!(r.refreshable("anthropic", &oauth));
    for p in [
        "github-copilot",
        "copilot",
        "github-copilot-enterprise",
        "mock",
        "google",
    ] {
        assert!(!r.refreshable(p, &oauth), "{p}");
    }
    assert!(!r.refreshable("openai", &api));
    for (p, auth) in [("github-copilot", &oauth), ("openai", &api), ("mock", &oauth)] {
        let got = refresh(&s.url(), p, auth).await;
        assert!(matches!(got, Err(RefreshError::Unsupported(_))), "{p}: {got:?}");
    }
    let off = Router::new(Endpoints::from_vars(|n| {
        (n == "OPENCODE_BALANCER_TEST_CLOCK").then(|| NOW.to_string())
    }));
    assert!(!off.refreshable("openai", &oauth) && !off.refreshable("anthropic", &oauth));
    let got = off
        .refresh(RefreshRequest {
            provider_id: "openai".into(),
            alias: "a".into(),
            auth: oauth,
            now: NOW,
        })
        .await;
    assert!(matches!(got, Err(RefreshError::Unsupported(m)) if m.contains("OPENCODE_BALANCER_CHATGPT_ISSUER_URL")));
    assert_eq!(s.requests(), 0);
}
