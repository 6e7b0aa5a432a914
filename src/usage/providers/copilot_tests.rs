//! Copilot usage tests: the quota, the organization's billing and the login's billing, parsed and fetched.

use super::*;
use crate::usage::fake_server::{fetch_via, FakeReply, FakeUsageServer};
use std::collections::BTreeMap;
use std::time::Duration;

const NOW: Millis = 1_700_000_000_000;
const GH: &str = "gho_fakeGithubToken000";

fn fixture(name: &str) -> String {
    crate::usage::fake_server::fixture("copilot", name)
}

fn login(org: Option<&str>) -> Auth {
    Auth::Oauth {
        refresh: GH.into(),
        access: "tid=fake;exp=1".into(),
        expires: 0,
        account_id: None,
        enterprise_url: None,
        metadata: org.map(|o| BTreeMap::from([("githubOrg".to_string(), o.to_string())])),
    }
}

async fn fetch(server: &FakeUsageServer, auth: Auth) -> Result<Usage, FetchError> {
    fetch_via(server, "github-copilot", "work", auth, NOW).await
}

#[tokio::test]
async fn premium_quota_from_the_internal_endpoint() {
    let server = FakeUsageServer::start().unwrap();
    server.route(USER_PATH, FakeReply::json(fixture("user.json")));
    let u = fetch(&server, login(None)).await.unwrap();
    assert_eq!(u.confidence, Confidence::Exact);
    assert_eq!(u.plan_name.as_deref(), Some("individual"));
    assert_eq!(u.used_percent, Some(60.0));
    assert_eq!(u.remaining_units, Some(120.0));
    assert_eq!(u.used_units, Some(180.0));
    assert_eq!(u.reset_at, Some(1_700_006_400_000));
    assert_eq!(
        u.message,
        "individual plan: 120 of 300 premium requests left (60% used)"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "no fallback when the quota is there");
    assert_eq!(seen[0].headers["authorization"], format!("token {GH}"));
}

#[tokio::test]
async fn unlimited_plans_read_as_zero_used() {
    let server = FakeUsageServer::start().unwrap();
    server.route(USER_PATH, FakeReply::json(fixture("user-unlimited.json")));
    let u = fetch(&server, login(None)).await.unwrap();
    assert_eq!(u.used_percent, Some(0.0));
    assert_eq!(u.message, "business plan: unlimited premium requests");
}

#[tokio::test]
async fn without_a_quota_it_falls_back_to_the_login_billing() {
    let server = FakeUsageServer::start().unwrap();
    server.route(USER_PATH, FakeReply::json(fixture("user-no-quota.json")));
    server.route(
        "/users/octo-fake/settings/billing/premium_request/usage",
        FakeReply::json(fixture("premium-usage.json")),
    );
    let u = fetch(&server, login(None)).await.unwrap();
    assert_eq!(u.confidence, Confidence::Estimated);
    assert_eq!(u.used_units, Some(57.5));
    assert_eq!(u.message, "Copilot: 57.5 premium requests billed this month");
    let raw = u.raw.unwrap();
    assert!(
        raw.get("copilot_internal/user").is_some()
            && raw
                .get("users/octo-fake/settings/billing/premium_request/usage")
                .is_some()
    );
}

#[tokio::test]
async fn a_404_internal_endpoint_asks_user_then_the_usage_summary() {
    let server = FakeUsageServer::start().unwrap();
    server.route("/user", FakeReply::json(r#"{"login":"octo-fake","id":1}"#));
    server.route(
        "/users/octo-fake/settings/billing/premium_request/usage",
        FakeReply::status(404, "{}"),
    );
    server.route(
        "/users/octo-fake/settings/billing/usage/summary",
        FakeReply::json(fixture("usage-summary.json")),
    );
    let u = fetch(&server, login(None)).await.unwrap();
    assert_eq!(u.used_units, Some(12.0));
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            USER_PATH,
            "/user",
            "/users/octo-fake/settings/billing/premium_request/usage",
            "/users/octo-fake/settings/billing/usage/summary"
        ]
    );
    assert_eq!(server.seen()[3].query, "product=copilot");
}

#[tokio::test]
async fn github_org_metadata_reads_the_organization_billing() {
    let server = FakeUsageServer::start().unwrap();
    server.route(USER_PATH, FakeReply::json(fixture("user-no-quota.json")));
    server.route(
        "/orgs/acme-fake/copilot/billing",
        FakeReply::json(fixture("org-billing.json")),
    );
    let u = fetch(&server, login(Some("acme-fake"))).await.unwrap();
    assert_eq!(u.plan_name.as_deref(), Some("business"));
    assert_eq!(
        u.message,
        "organization acme-fake: business Copilot, 12 seats, 9 active this cycle"
    );
}

#[tokio::test]
async fn wrong_types_and_final_errors() {
    let server = FakeUsageServer::start().unwrap();
    server.route(USER_PATH, FakeReply::json(fixture("wrong-types.json")));
    server.route("/user", FakeReply::status(500, "<html>oops</html>"));
    assert_eq!(
        fetch(&server, login(None)).await,
        Err(FetchError::Server(500)),
        "no login anywhere: the last error is reported"
    );
    server.route(USER_PATH, FakeReply::status(401, r#"{"message":"Bad credentials"}"#));
    assert_eq!(fetch(&server, login(None)).await, Err(FetchError::Unauthorized));
    let before = server.seen().len();
    server.route(USER_PATH, FakeReply::status(429, "{}").header("retry-after", "30"));
    assert_eq!(
        fetch(&server, login(None)).await,
        Err(FetchError::RateLimited {
            until: Some(NOW + 30_000)
        })
    );
    assert_eq!(server.seen().len(), before + 1, "a 429 asks no fallback");
}

#[test]
fn the_github_token_is_refresh_never_access_and_enterprise_is_declined() {
    assert_eq!(github_token(&login(None)).as_deref(), Some(GH));
    let swapped = Auth::Oauth {
        refresh: "gho_FAKE_refresh".into(),
        access: "ghu_FAKE_access".into(),
        expires: 0,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    };
    assert_eq!(github_token(&swapped).as_deref(), Some("gho_FAKE_refresh"));
    let empty = Auth::Oauth {
        refresh: String::new(),
        access: "ghu_FAKE_access".into(),
        expires: 0,
        account_id: None,
        enterprise_url: None,
        metadata: None,
    };
    assert_eq!(github_token(&empty), None, "access is never the fallback");
    let http = Arc::new(Http::new(Duration::from_secs(1)));
    let c = Copilot { http, base: None };
    let ghe = Auth::Oauth {
        refresh: GH.into(),
        access: "x".into(),
        expires: 0,
        account_id: None,
        enterprise_url: Some("corp.ghe.example".into()),
        metadata: None,
    };
    assert!(c.check("github-copilot", &ghe).is_err());
    assert_eq!(org_of(&login(Some("../etc"))), None);
}
