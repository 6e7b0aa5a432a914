//! ChatGPT plans (openai, OAuth): `GET /backend-api/wham/usage` — the plan and the primary
//! (5-hour) and secondary (weekly) windows, each with its used percent and reset time.

use std::sync::Arc;

use serde_json::{json, Value};

use super::json::{at, num_at, percent, text_at, time_at, window_name};
use crate::model::{Auth, Millis, UsageWindow};
use crate::usage::http::{check_status, json_body, url, Http};
use crate::usage::{round1, BoxFuture, Confidence, FetchError, Usage, UsageClient, UsageRequest};

pub const PATH: &str = "/backend-api/wham/usage";

pub struct ChatGpt {
    pub http: Arc<Http>,
    pub base: Option<String>,
}

impl UsageClient for ChatGpt {
    fn check(&self, _: &str, auth: &Auth) -> Result<(), String> {
        match auth {
            Auth::Oauth { .. } => Ok(()),
            _ => Err("ChatGPT usage needs an OAuth login".into()),
        }
    }

    fn fetch(&self, req: UsageRequest) -> BoxFuture<Result<Usage, FetchError>> {
        let http = self.http.clone();
        let base = self.base.clone();
        Box::pin(async move {
            let Auth::Oauth { access, .. } = &req.auth else {
                return Err(FetchError::Unsupported("ChatGPT usage needs an OAuth login".into()));
            };
            let mut headers = vec![("authorization", format!("Bearer {access}"))];
            if let Some(id) = req.auth.account_id() {
                headers.push(("chatgpt-account-id", id));
            }
            let reply = http
                .get(&url(&base, "OPENCODE_BALANCER_CHATGPT_URL", PATH)?, &headers)
                .await?;
            check_status(&reply, req.now)?;
            Ok(parse(json_body(&reply, &req.auth)?, req.now))
        })
    }
}

/// Reads a `wham/usage` answer. Missing or mistyped fields are skipped; no window at all gives an
/// `unavailable` reading.
pub fn parse(v: Value, now: Millis) -> Usage {
    let plan = text_at(&v, &["plan_type"]);
    let mut usage = Usage {
        plan_name: plan.clone(),
        ..Default::default()
    };
    for (key, fallback) in [("primary_window", "primary"), ("secondary_window", "secondary")] {
        let Some(w) = at(&v, &["rate_limit", key]).filter(|w| w.is_object()) else {
            continue;
        };
        let Some(used) = w.get("used_percent").and_then(percent) else {
            continue;
        };
        let reset_at = time_at(w, &["reset_at"]).or_else(|| {
            num_at(w, &["reset_after_seconds"])
                .filter(|s| *s >= 0.0)
                .map(|s| now + (s * 1000.0) as Millis)
        });
        let name = num_at(w, &["limit_window_seconds"])
            .and_then(window_name)
            .unwrap_or_else(|| fallback.to_string());
        usage.windows.push(UsageWindow {
            name,
            used_percent: used,
            reset_at,
        });
    }
    usage.set_overall(|_| true);
    let limit_reached = at(&v, &["rate_limit", "limit_reached"]).and_then(Value::as_bool) == Some(true);
    if limit_reached && usage.used_percent.is_some_and(|p| p < 100.0) {
        usage.used_percent = Some(100.0);
    }
    let plan_text = plan.map(|p| format!("{p} plan")).unwrap_or_else(|| "ChatGPT".into());
    if usage.windows.is_empty() {
        usage.confidence = Confidence::Unavailable;
        usage.message = format!("{plan_text}: the answer has no usage windows");
    } else {
        usage.confidence = Confidence::Exact;
        usage.message = format!(
            "{plan_text}: {}{}",
            usage.windows_text(),
            if limit_reached { " (limit reached)" } else { "" }
        );
    }
    usage.raw = Some(json!({ "wham/usage": v }));
    if let Some(p) = usage.used_percent {
        usage.used_percent = Some(round1(p));
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::fake_server::{fetch_via, FakeReply, FakeUsageServer};
    use std::time::Duration;

    const NOW: Millis = 1_700_000_000_000;

    fn fixture(name: &str) -> String {
        crate::usage::fake_server::fixture("chatgpt", name)
    }

    fn oauth() -> Auth {
        Auth::Oauth {
            refresh: "rt-fake-chatgpt".into(),
            access: "at-fake-chatgpt".into(),
            expires: 0,
            account_id: Some("acct-fake-1".into()),
            enterprise_url: None,
            metadata: None,
        }
    }

    async fn fetch(server: &FakeUsageServer) -> Result<Usage, FetchError> {
        fetch_via(server, "openai", "plan", oauth(), NOW).await
    }

    #[tokio::test]
    async fn every_field_of_a_full_answer() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("full.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.confidence, Confidence::Exact);
        assert_eq!(u.plan_name.as_deref(), Some("plus"));
        assert_eq!(
            u.windows,
            vec![
                UsageWindow {
                    name: "5h".into(),
                    used_percent: 42.0,
                    reset_at: Some(1_700_003_600_000)
                },
                UsageWindow {
                    name: "7d".into(),
                    used_percent: 18.5,
                    reset_at: Some(1_700_300_000_000)
                },
            ]
        );
        assert_eq!(u.used_percent, Some(42.0));
        assert_eq!(u.reset_at, Some(1_700_003_600_000));
        assert_eq!(u.message, "plus plan: 5h 42% used, 7d 18.5% used");
        let seen = &server.seen()[0];
        assert_eq!(seen.headers["authorization"], "Bearer at-fake-chatgpt");
        assert_eq!(seen.headers["chatgpt-account-id"], "acct-fake-1");
    }

    #[tokio::test]
    async fn a_reached_limit_reads_as_full_with_its_reset() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("limit-reached.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.used_percent, Some(100.0));
        assert_eq!(u.reset_at, Some(1_700_300_000_000), "the weekly window is the full one");
        assert!(u.message.ends_with("(limit reached)"), "{}", u.message);
    }

    #[tokio::test]
    async fn missing_fields_and_wrong_types_are_skipped() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("missing-fields.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.confidence, Confidence::Unavailable);
        assert_eq!(u.plan_name.as_deref(), Some("free"));
        assert_eq!(u.used_percent, None);
        assert_eq!(u.message, "free plan: the answer has no usage windows");

        server.route(PATH, FakeReply::json(fixture("wrong-types.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.plan_name, None, "a number is not a plan name");
        assert_eq!(u.windows.len(), 1, "the window with a text percent is skipped");
        assert_eq!(u.windows[0].name, "secondary");
        assert_eq!(u.windows[0].used_percent, 7.0, "a numeric string is read");
        assert_eq!(
            u.windows[0].reset_at,
            Some(NOW + 60_000),
            "reset_after_seconds stands in"
        );
    }

    #[tokio::test]
    async fn reset_times_in_milliseconds_are_recognised() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("reset-ms.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.reset_at, Some(1_700_003_600_123));
    }

    #[tokio::test]
    async fn error_answers_become_plain_errors() {
        let server = FakeUsageServer::start().unwrap();
        let html =
            std::fs::read_to_string(format!("{}/fixtures/usage/error.html", env!("CARGO_MANIFEST_DIR"))).unwrap();
        server.route(
            PATH,
            FakeReply::status(200, html.clone()).header("content-type", "text/html"),
        );
        assert!(matches!(fetch(&server).await, Err(FetchError::BadPayload(m)) if m.contains("HTML")));
        server.route(PATH, FakeReply::status(401, r#"{"detail":"Unauthorized"}"#));
        assert_eq!(fetch(&server).await, Err(FetchError::Unauthorized));
        server.route(PATH, FakeReply::status(429, "{}").header("retry-after", "90"));
        assert_eq!(
            fetch(&server).await,
            Err(FetchError::RateLimited {
                until: Some(NOW + 90_000)
            })
        );
        server.route(PATH, FakeReply::status(500, html));
        assert_eq!(fetch(&server).await, Err(FetchError::Server(500)));
        server.route(
            PATH,
            FakeReply::json(fixture("full.json")).delayed(Duration::from_secs(3)),
        );
        assert_eq!(fetch(&server).await, Err(FetchError::Timeout(300)));
    }
}
