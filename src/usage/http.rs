//! The HTTP transport of the usage clients: GET with a timeout and a size limit over rustls (ring
//! provider, webpki roots) or plain HTTP (loopback tests), and the mapping of answers to errors.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::redact::redact_json;
use super::FetchError;
use crate::balancer::hint::clamp_wait;
use crate::balancer::reset::parse_retry_after;
use crate::model::{Auth, Millis};
use crate::usage::schedule::HOLD_LIMITS;

/// The largest answer read (usage answers are a few KiB).
pub const MAX_BODY: usize = 1024 * 1024;
const USER_AGENT: &str = concat!("opencode-balancer/", env!("CARGO_PKG_VERSION"));

/// An answer: status, the headers the clients use, and the body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

type Pool = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

fn build_pool() -> Pool {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("the ring provider supports the default TLS versions")
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// A shared HTTP client (connection pool) with one timeout for every request. The TLS roots and
/// pool are built on the first request, so a sidecar with no pollable account never pays for them.
pub struct Http {
    client: std::sync::OnceLock<Pool>,
    timeout: Duration,
}

impl Http {
    pub fn new(timeout: Duration) -> Http {
        Http {
            client: std::sync::OnceLock::new(),
            timeout,
        }
    }

    fn pool(&self) -> &Pool {
        self.client.get_or_init(build_pool)
    }

    /// `GET url` with `headers` (values may be secrets: they never reach an error or a log).
    pub async fn get(&self, url: &str, headers: &[(&str, String)]) -> Result<Reply, FetchError> {
        let uri: Uri = url.parse().map_err(|_| FetchError::Network {
            host: "the configured usage URL".into(),
            reason: "it is not a valid URL".into(),
        })?;
        let host = uri.host().unwrap_or("the usage endpoint").to_string();
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header("accept", "application/json")
            .header("user-agent", USER_AGENT);
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad_header())?;
            let mut value = HeaderValue::from_str(value).map_err(|_| bad_header())?;
            value.set_sensitive(true);
            req = req.header(name, value);
        }
        let req = req.body(Empty::new()).map_err(|_| bad_header())?;
        let timeout_ms = self.timeout.as_millis() as u64;
        let exchange = async {
            let res = self.pool().request(req).await.map_err(|e| FetchError::Network {
                host: host.clone(),
                reason: describe(&e),
            })?;
            let status = res.status().as_u16();
            let header = |n: &str| {
                res.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.chars().take(200).collect::<String>())
            };
            let retry_after = header("retry-after");
            let content_type = header("content-type");
            let body = Limited::new(res.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        FetchError::BadPayload(format!("the answer from {host} is larger than 1 MiB"))
                    } else {
                        FetchError::Network {
                            host: host.clone(),
                            reason: "the answer was cut off".into(),
                        }
                    }
                })?
                .to_bytes();
            Ok(Reply {
                status,
                retry_after,
                content_type,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(timeout_ms)),
        }
    }
}

fn bad_header() -> FetchError {
    FetchError::Unsupported("the credential contains characters an HTTP header cannot carry".into())
}

/// The innermost cause of a transport error (connection refused, DNS, TLS), never a header.
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    if text.is_empty() {
        "connection failed".into()
    } else {
        text.chars().take(200).collect()
    }
}

/// A non-2xx answer as an error: 401, 403, 429 (with Retry-After at `now`), 5xx, other.
pub fn check_status(reply: &Reply, now: Millis) -> Result<(), FetchError> {
    match reply.status {
        200..=299 => Ok(()),
        401 => Err(FetchError::Unauthorized),
        403 => Err(FetchError::Forbidden(
            "the credential may not read usage here (403)".into(),
        )),
        429 => Err(FetchError::RateLimited {
            until: reply
                .retry_after
                .as_deref()
                .and_then(|v| parse_retry_after(v, now))
                .and_then(|wait| clamp_wait(now, wait, HOLD_LIMITS))
                .map(|c| c.until),
        }),
        s @ 500..=599 => Err(FetchError::Server(s)),
        s => Err(FetchError::Status(s)),
    }
}

/// The body as JSON with `auth`'s secrets already redacted (before anything is read from it, so
/// no shortened or reformatted copy of a secret can slip through); an HTML page or other text is
/// a plain error that quotes nothing.
pub fn json_body(reply: &Reply, auth: &Auth) -> Result<serde_json::Value, FetchError> {
    match serde_json::from_slice(&reply.body) {
        Ok(mut v) => {
            redact_json(&mut v, &auth.secrets());
            Ok(v)
        }
        Err(_) => {
            let html = reply
                .content_type
                .as_deref()
                .is_some_and(|c| c.to_ascii_lowercase().contains("html"))
                || String::from_utf8_lossy(&reply.body[..reply.body.len().min(64)])
                    .trim_start()
                    .starts_with('<');
            Err(FetchError::BadPayload(if html {
                "the usage endpoint answered with an HTML page, not JSON".into()
            } else {
                "the usage endpoint answered with something that is not JSON".into()
            }))
        }
    }
}

/// `base + path`, or `Unsupported` when the endpoint is switched off.
pub fn url(base: &Option<String>, env: &str, path: &str) -> Result<String, FetchError> {
    match base {
        Some(b) => Ok(format!("{b}{path}")),
        None => Err(FetchError::Unsupported(format!(
            "usage endpoints are not contacted in test mode (set {env})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, retry_after: Option<&str>, body: &str, ct: Option<&str>) -> Reply {
        Reply {
            status,
            retry_after: retry_after.map(str::to_string),
            content_type: ct.map(str::to_string),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn statuses_map_to_plain_errors() {
        assert_eq!(check_status(&reply(200, None, "", None), 0), Ok(()));
        assert_eq!(
            check_status(&reply(401, None, "", None), 0),
            Err(FetchError::Unauthorized)
        );
        assert_eq!(
            check_status(&reply(429, Some("120"), "", None), 1_000),
            Err(FetchError::RateLimited { until: Some(121_000) })
        );
        assert_eq!(
            check_status(&reply(429, None, "", None), 0),
            Err(FetchError::RateLimited { until: None })
        );
        assert_eq!(
            check_status(&reply(503, None, "", None), 0),
            Err(FetchError::Server(503))
        );
        assert_eq!(
            check_status(&reply(404, None, "", None), 0),
            Err(FetchError::Status(404))
        );
        assert!(matches!(
            check_status(&reply(403, None, "", None), 0),
            Err(FetchError::Forbidden(_))
        ));
    }

    fn auth() -> Auth {
        Auth::Api {
            key: "sk-secret-fake".into(),
            metadata: None,
        }
    }

    #[test]
    fn html_and_text_bodies_are_named_not_quoted() {
        let html = json_body(&reply(200, None, "<!doctype html><p>sk-secret</p>", None), &auth()).unwrap_err();
        assert!(html.to_string().contains("HTML page"), "{html}");
        assert!(!html.to_string().contains("sk-secret"));
        let html = json_body(&reply(200, None, "oops", Some("text/html; charset=utf-8")), &auth()).unwrap_err();
        assert!(html.to_string().contains("HTML page"));
        let text = json_body(&reply(200, None, "plain sk-secret", Some("text/plain")), &auth()).unwrap_err();
        assert!(text.to_string().contains("not JSON"));
        assert!(!text.to_string().contains("sk-secret"));
    }

    #[tokio::test]
    async fn https_goes_through_rustls_and_a_failed_handshake_is_a_plain_network_error() {
        let server = crate::usage::fake_server::FakeUsageServer::start().unwrap();
        let http = Http::new(Duration::from_secs(2));
        let url = format!("https://{}/x", server.addr);
        let secret = "sk-secret-fake-tls";
        match http.get(&url, &[("authorization", format!("Bearer {secret}"))]).await {
            Err(FetchError::Network { host, reason }) => {
                assert_eq!(host, "127.0.0.1");
                assert!(!reason.contains(secret), "{reason}");
            }
            other => panic!("a plain-HTTP server cannot complete a TLS handshake: {other:?}"),
        }
        assert!(server.seen().is_empty());
    }

    #[test]
    fn a_json_body_is_redacted_before_it_is_read() {
        let body = r#"{"plan":"sk-secret-fake-and-more","api_key":"x","n":1}"#;
        let v = json_body(&reply(200, None, body, None), &auth()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"plan": "[redacted]-and-more", "api_key": "", "n": 1})
        );
    }
}
