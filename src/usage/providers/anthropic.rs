//! Claude Pro/Max (anthropic, OAuth): `GET /api/oauth/usage` with `anthropic-beta:
//! oauth-2025-04-20` — the five-hour and seven-day windows (`utilization` in percent, `resets_at`
//! ISO-8601 or null), per-model weekly windows, and the `limits[]` some answers carry.

use std::sync::Arc;

use serde_json::{json, Value};

use super::json::{at, percent, text, time};
use crate::model::{Auth, UsageWindow};
use crate::usage::http::{check_status, json_body, url, Http};
use crate::usage::{round1, BoxFuture, Confidence, FetchError, Usage, UsageClient, UsageRequest};

pub const PATH: &str = "/api/oauth/usage";
pub const BETA: &str = "oauth-2025-04-20";

/// Named windows of the answer and how they are shown.
const WINDOWS: [(&str, &str); 5] = [
    ("five_hour", "5h"),
    ("seven_day", "7d"),
    ("seven_day_opus", "7d-opus"),
    ("seven_day_sonnet", "7d-sonnet"),
    ("seven_day_oauth_apps", "7d-oauth-apps"),
];

pub struct Anthropic {
    pub http: Arc<Http>,
    pub base: Option<String>,
}

impl UsageClient for Anthropic {
    fn check(&self, _: &str, auth: &Auth) -> Result<(), String> {
        match auth {
            Auth::Oauth { .. } => Ok(()),
            _ => Err(
                "Anthropic API keys have no usage endpoint; rate-limit headers on responses are read instead".into(),
            ),
        }
    }

    fn fetch(&self, req: UsageRequest) -> BoxFuture<Result<Usage, FetchError>> {
        let http = self.http.clone();
        let base = self.base.clone();
        Box::pin(async move {
            let Auth::Oauth { access, .. } = &req.auth else {
                return Err(FetchError::Unsupported("Anthropic usage needs an OAuth login".into()));
            };
            let headers = [
                ("authorization", format!("Bearer {access}")),
                ("anthropic-beta", BETA.to_string()),
            ];
            let reply = http
                .get(&url(&base, "OPENCODE_BALANCER_ANTHROPIC_URL", PATH)?, &headers)
                .await?;
            check_status(&reply, req.now)?;
            Ok(parse(json_body(&reply, &req.auth)?))
        })
    }
}

/// A window limited to one model family does not bound the account as a whole.
fn model_specific(name: &str) -> bool {
    ["opus", "sonnet", "haiku", "oauth-apps"]
        .iter()
        .any(|m| name.contains(m))
}

fn window(name: String, w: &Value, used_key: &str) -> Option<UsageWindow> {
    let used = w.get(used_key).and_then(percent)?;
    Some(UsageWindow {
        name,
        used_percent: round1(used),
        reset_at: w.get("resets_at").and_then(time),
    })
}

/// Reads an `/api/oauth/usage` answer; mistyped or null windows are skipped.
pub fn parse(v: Value) -> Usage {
    let mut usage = Usage::default();
    for (key, name) in WINDOWS {
        if let Some(w) = v.get(key).filter(|w| w.is_object()) {
            usage.windows.extend(window(name.to_string(), w, "utilization"));
        }
    }
    if let Some(limits) = at(&v, &["limits"]).and_then(Value::as_array) {
        for l in limits.iter().take(16) {
            let Some(kind) = l.get("kind").and_then(text) else {
                continue;
            };
            let name: String = match WINDOWS.iter().find(|(key, _)| *key == kind) {
                Some((_, shown)) => shown.to_string(),
                None => kind
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '-'
                        }
                    })
                    .take(32)
                    .collect(),
            };
            if usage.windows.iter().any(|w| w.name == name) {
                continue;
            }
            usage
                .windows
                .extend(window(name.clone(), l, "percent").or_else(|| window(name, l, "utilization")));
        }
    }
    usage.set_overall(|w| !model_specific(&w.name));
    if usage.windows.is_empty() {
        usage.confidence = Confidence::Unavailable;
        usage.message = "Claude: the answer has no usage windows".into();
    } else {
        usage.confidence = Confidence::Exact;
        usage.message = format!("Claude: {}", usage.windows_text());
    }
    usage.raw = Some(json!({ "oauth/usage": v }));
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Millis;
    use crate::usage::fake_server::{fetch_via, FakeReply, FakeUsageServer};
    use std::time::Duration;

    const NOW: Millis = 1_700_000_000_000;

    fn fixture(name: &str) -> String {
        crate::usage::fake_server::fixture("anthropic", name)
    }

    async fn fetch(server: &FakeUsageServer) -> Result<Usage, FetchError> {
        let auth = Auth::Oauth {
            refresh: "rt-fake-claude".into(),
            access: "at-fake-claude".into(),
            expires: 0,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        };
        fetch_via(server, "anthropic", "max", auth, NOW).await
    }

    #[tokio::test]
    async fn every_field_of_a_full_answer() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("full.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.confidence, Confidence::Exact);
        let names: Vec<&str> = u.windows.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["5h", "7d", "7d-opus", "7d-sonnet", "extra-weekly"]);
        assert_eq!(u.windows[0].used_percent, 61.0);
        assert_eq!(u.windows[0].reset_at, Some(1_700_003_600_000));
        assert_eq!(u.windows[1].reset_at, Some(1_700_300_000_500));
        assert_eq!(u.windows[4].used_percent, 12.0);
        assert_eq!(
            u.used_percent,
            Some(61.0),
            "the 7d-opus window at 90% bounds only Opus, not the account"
        );
        assert_eq!(u.reset_at, Some(1_700_003_600_000));
        assert_eq!(
            u.message,
            "Claude: 5h 61% used, 7d 22% used, 7d-opus 90% used, 7d-sonnet 3% used, extra-weekly 12% used"
        );
        let seen = &server.seen()[0];
        assert_eq!(seen.headers["authorization"], "Bearer at-fake-claude");
        assert_eq!(seen.headers["anthropic-beta"], BETA);
    }

    #[tokio::test]
    async fn a_full_window_with_a_null_reset_and_wrong_types() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("wrong-types.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.windows.len(), 1, "{:?}", u.windows);
        assert_eq!(u.windows[0].name, "7d");
        assert_eq!(u.windows[0].used_percent, 100.0);
        assert_eq!(u.windows[0].reset_at, None);
        assert_eq!(u.used_percent, Some(100.0));

        server.route(PATH, FakeReply::json(fixture("missing-fields.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.confidence, Confidence::Unavailable);
        assert_eq!(u.used_percent, None);
    }

    #[tokio::test]
    async fn errors_rate_limits_and_timeouts() {
        let server = FakeUsageServer::start().unwrap();
        server.route(
            PATH,
            FakeReply::status(429, r#"{"type":"error","error":{"type":"rate_limit_error"}}"#)
                .header("retry-after", "Tue, 14 Nov 2023 23:13:20 GMT"),
        );
        assert_eq!(
            fetch(&server).await,
            Err(FetchError::RateLimited {
                until: Some(NOW + 3_600_000)
            })
        );
        server.route(PATH, FakeReply::status(401, r#"{"type":"error"}"#));
        assert_eq!(fetch(&server).await, Err(FetchError::Unauthorized));
        server.route(PATH, FakeReply::status(529, "overloaded"));
        assert_eq!(fetch(&server).await, Err(FetchError::Server(529)));
        server.route(PATH, FakeReply::json("{}").delayed(Duration::from_secs(3)));
        assert_eq!(fetch(&server).await, Err(FetchError::Timeout(300)));
    }
}
