//! The HTTP transport of the usage clients: GET with a timeout over the process's one client
//! ([`crate::net`]), and the mapping of answers to errors.

use std::time::Duration;

use super::redact::redact_json;
use super::FetchError;
use crate::accounts::rules::cooldown::hint::clamp_wait;
use crate::accounts::rules::cooldown::reset::parse_retry_after;
use crate::model::{Auth, Millis};
pub use crate::net::Reply;
use crate::net::{NetError, Request};
use crate::usage::schedule::HOLD_LIMITS;

/// The usage clients' handle on the shared HTTP client: one timeout for every request.
pub struct Http {
    timeout: Duration,
}

impl Http {
    pub fn new(timeout: Duration) -> Http {
        Http { timeout }
    }

    /// `GET url` with `headers` (values may be secrets: they never reach an error or a log).
    pub async fn get(&self, url: &str, headers: &[(&str, String)]) -> Result<Reply, FetchError> {
        crate::net::send(Request::get(url, headers, self.timeout))
            .await
            .map_err(|e| match e {
                NetError::BadUrl => FetchError::Network {
                    host: "the configured usage URL".into(),
                    reason: "it is not a valid URL".into(),
                },
                NetError::BadHeader => FetchError::Unsupported(NetError::BadHeader.to_string()),
                NetError::Connect { host, reason } => FetchError::Network { host, reason },
                NetError::Timeout(ms) => FetchError::Timeout(ms),
                e @ NetError::TooLarge(_) => FetchError::BadPayload(e.to_string()),
                NetError::CutOff(host) => FetchError::Network {
                    host,
                    reason: "the answer was cut off".into(),
                },
            })
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
            body: bytes::Bytes::from(body.to_string()),
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
