//! OpenAI API keys (openai, api): `GET /v1/organization/usage/completions` since the start of the
//! month, daily buckets — the tokens and requests the key's organization used (an admin key is
//! needed; others get a plain "cannot read" reason).

use std::sync::Arc;

use serde_json::{json, Value};

use super::json::{month_start_secs, num};
use crate::model::{Auth, Millis};
use crate::usage::http::{check_status, json_body, url, Http};
use crate::usage::{BoxFuture, Confidence, FetchError, Usage, UsageClient, UsageRequest};

pub const PATH: &str = "/v1/organization/usage/completions";

pub struct OpenAiApi {
    pub http: Arc<Http>,
    pub base: Option<String>,
}

impl UsageClient for OpenAiApi {
    fn check(&self, _: &str, auth: &Auth) -> Result<(), String> {
        match auth {
            Auth::Api { .. } => Ok(()),
            _ => Err("OpenAI organization usage needs an API key".into()),
        }
    }

    fn fetch(&self, req: UsageRequest) -> BoxFuture<Result<Usage, FetchError>> {
        let http = self.http.clone();
        let base = self.base.clone();
        Box::pin(async move {
            let Auth::Api { key, .. } = &req.auth else {
                return Err(FetchError::Unsupported(
                    "OpenAI organization usage needs an API key".into(),
                ));
            };
            let since = month_start_secs(req.now);
            let path = format!("{PATH}?start_time={since}&bucket_width=1d&limit=31");
            let reply = http
                .get(
                    &url(&base, "OPENCODE_BALANCER_OPENAI_URL", &path)?,
                    &[("authorization", format!("Bearer {key}"))],
                )
                .await?;
            check_status(&reply, req.now).map_err(|e| match e {
                FetchError::Forbidden(_) => {
                    FetchError::Forbidden("this API key cannot read organization usage (an admin key can)".into())
                }
                other => other,
            })?;
            Ok(parse(json_body(&reply, &req.auth)?, since * 1000))
        })
    }
}

/// Sums the buckets of a completions usage page read since `since` (ms).
pub fn parse(v: Value, since: Millis) -> Usage {
    let mut usage = Usage {
        raw: Some(json!({ "organization/usage/completions": v.clone() })),
        ..Default::default()
    };
    let Some(buckets) = v.get("data").and_then(Value::as_array) else {
        usage.confidence = Confidence::Unavailable;
        usage.message = "OpenAI: the answer has no usage buckets".into();
        return usage;
    };
    let (mut tokens, mut requests) = (0f64, 0f64);
    for result in buckets
        .iter()
        .filter_map(|b| b.get("results").and_then(Value::as_array))
        .flatten()
    {
        let field = |k: &str| result.get(k).and_then(num).filter(|n| *n >= 0.0).unwrap_or(0.0);
        tokens += field("input_tokens") + field("output_tokens");
        requests += field("num_model_requests");
    }
    let since_date = chrono::DateTime::from_timestamp_millis(since)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let more = v.get("has_more").and_then(Value::as_bool) == Some(true);
    usage.confidence = Confidence::Exact;
    usage.used_units = Some(tokens);
    usage.message = format!(
        "OpenAI organization: {} tokens in {} requests since {since_date}{}",
        tokens as u64,
        requests as u64,
        if more { " (first page)" } else { "" }
    );
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::fake_server::{fetch_via, FakeReply, FakeUsageServer};

    const NOW: Millis = 1_700_000_000_000;

    fn fixture(name: &str) -> String {
        crate::usage::fake_server::fixture("openai-api", name)
    }

    async fn fetch(server: &FakeUsageServer) -> Result<Usage, FetchError> {
        fetch_via(
            server,
            "openai",
            "key",
            Auth::Api {
                key: "sk-admin-fake-0000".into(),
                metadata: None,
            },
            NOW,
        )
        .await
    }

    #[tokio::test]
    async fn sums_every_bucket_since_the_start_of_the_month() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("completions.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.confidence, Confidence::Exact);
        assert_eq!(u.used_units, Some(1_750.0));
        assert_eq!(u.used_percent, None, "organization usage has no quota to compare with");
        assert_eq!(
            u.message,
            "OpenAI organization: 1750 tokens in 7 requests since 2023-11-01"
        );
        let seen = &server.seen()[0];
        assert_eq!(seen.query, "start_time=1698796800&bucket_width=1d&limit=31");
        assert_eq!(seen.headers["authorization"], "Bearer sk-admin-fake-0000");
    }

    #[tokio::test]
    async fn wrong_types_count_as_zero_and_no_buckets_is_unavailable() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PATH, FakeReply::json(fixture("wrong-types.json")));
        let u = fetch(&server).await.unwrap();
        assert_eq!(u.used_units, Some(100.0));
        assert!(u.message.ends_with("(first page)"), "{}", u.message);
        server.route(PATH, FakeReply::json(r#"{"object":"page"}"#));
        assert_eq!(fetch(&server).await.unwrap().confidence, Confidence::Unavailable);
    }

    #[tokio::test]
    async fn a_key_without_admin_rights_gets_a_plain_reason() {
        let server = FakeUsageServer::start().unwrap();
        server.route(
            PATH,
            FakeReply::status(403, r#"{"error":{"message":"You have insufficient permissions for this operation. Missing scopes: api.usage.read"}}"#),
        );
        let e = fetch(&server).await.unwrap_err();
        assert_eq!(
            e,
            FetchError::Forbidden("this API key cannot read organization usage (an admin key can)".into())
        );
        server.route(PATH, FakeReply::status(502, "<html>bad gateway</html>"));
        assert_eq!(fetch(&server).await, Err(FetchError::Server(502)));
    }
}
