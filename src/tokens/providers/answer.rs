//! One refresh exchange with a token endpoint and what its answer means: a 2xx JSON object, or a
//! [`RefreshError`] by status and OAuth error code. Messages name the provider, the status, a
//! code from a fixed list and the kind of failure; never a token or any of the body.

use std::time::Duration;

use std::collections::BTreeMap;

use super::RefreshError;
use crate::accounts::rules::cooldown::hint::{clamp_wait, Limits};
use crate::accounts::rules::cooldown::reset::parse_retry_after;
use crate::model::{Auth, Millis};
use crate::net::{NetError, Reply, Request};

/// A token endpoint's Retry-After is kept within 1 s .. 1 h (the keeper tries again later).
pub const RATE_LIMIT_LIMITS: Limits = Limits {
    floor: 1_000,
    cap: 3_600_000,
};

/// OAuth error codes that mean the refresh token (or this client) is refused for good, most
/// specific first; only these are ever quoted from an answer.
pub const PERMANENT_CODES: [&str; 8] = [
    "refresh_token_reused",
    "refresh_token_expired",
    "refresh_token_invalidated",
    "invalid_grant",
    "invalid_client",
    "unauthorized_client",
    "invalid_token",
    "access_denied",
];

/// POSTs `body` to `url` and hands back the answer's JSON object when it is a 2xx one.
pub async fn post(
    provider_id: &str,
    url: &str,
    content_type: &'static str,
    body: Vec<u8>,
    timeout: Duration,
    now: Millis,
) -> Result<serde_json::Map<String, serde_json::Value>, RefreshError> {
    let reply = crate::net::send(Request::post(url, content_type, body, timeout))
        .await
        .map_err(|e| network(provider_id, e))?;
    if !(200..300).contains(&reply.status) {
        return Err(classify(provider_id, &reply, now));
    }
    match serde_json::from_slice::<serde_json::Value>(&reply.body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(RefreshError::Transient(format!(
            "{provider_id}: the token endpoint answered {} with something that is not a JSON object",
            reply.status
        ))),
    }
}

/// A transport failure: always transient (the server may have rotated the token all the same).
fn network(provider_id: &str, e: NetError) -> RefreshError {
    match e {
        NetError::Timeout(ms) => RefreshError::Transient(format!(
            "{provider_id}: the token endpoint did not answer within {ms} ms"
        )),
        NetError::BadUrl => RefreshError::Transient(format!("{provider_id}: the token endpoint URL is not valid")),
        e => RefreshError::Transient(format!("{provider_id}: token refresh failed: {e}")),
    }
}

/// A non-2xx answer: 429 → rate limited; a permanent OAuth code, or any 401 → a new login is
/// needed; everything else (5xx, other 4xx) → transient.
pub fn classify(provider_id: &str, reply: &Reply, now: Millis) -> RefreshError {
    let status = reply.status;
    if status == 429 {
        return RefreshError::RateLimited {
            until: reply
                .retry_after
                .as_deref()
                .and_then(|v| parse_retry_after(v, now))
                .and_then(|wait| clamp_wait(now, wait, RATE_LIMIT_LIMITS))
                .map(|c| c.until),
        };
    }
    let code = (400..500)
        .contains(&status)
        .then(|| permanent_code(&reply.body))
        .flatten();
    match (status, code) {
        (_, Some(code)) => RefreshError::LoginRequired(format!(
            "{provider_id}: the token endpoint refused the refresh token ({status} {code}); sign in again"
        )),
        (401, None) => RefreshError::LoginRequired(format!(
            "{provider_id}: the token endpoint refused the refresh token (401); sign in again"
        )),
        (500..=599, _) => RefreshError::Transient(format!(
            "{provider_id}: the token endpoint answered {status} (server error)"
        )),
        _ => RefreshError::Transient(format!("{provider_id}: the token endpoint answered {status}")),
    }
}

/// The most specific permanent code in an error body's `error` (a string, or an object's `code`
/// or `type`), `code` or `error_description`; matched against the fixed list, never copied.
fn permanent_code(body: &[u8]) -> Option<&'static str> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = v.get("error");
    let texts: Vec<&str> = [
        error,
        error.and_then(|e| e.get("code")),
        error.and_then(|e| e.get("type")),
        v.get("code"),
        v.get("error_description"),
    ]
    .into_iter()
    .flatten()
    .filter_map(|v| v.as_str())
    .collect();
    PERMANENT_CODES.into_iter().find(|code| {
        texts.iter().any(|t| {
            t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == *code)
        })
    })
}

/// A string field of a token answer, or a transient error naming the missing field.
pub fn field(
    provider_id: &str,
    map: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<String, RefreshError> {
    optional(map, name)
        .ok_or_else(|| RefreshError::Transient(format!("{provider_id}: the token endpoint's answer has no {name}")))
}

/// A non-empty string field, if present.
pub fn optional(map: &serde_json::Map<String, serde_json::Value>, name: &str) -> Option<String> {
    map.get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `expires_in` in seconds as a lifetime in ms, when it is a sane positive number.
pub fn lifetime_ms(map: &serde_json::Map<String, serde_json::Value>) -> Option<Millis> {
    let secs = map
        .get("expires_in")
        .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))?;
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then_some((secs * 1000.0) as Millis)
}

/// What a refresh keeps of an OAuth login besides its new tokens.
pub struct Kept {
    pub refresh: String,
    pub account_id: Option<String>,
    pub enterprise_url: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
}

/// The login's refresh token and kept fields, and the endpoint to spend it at (`url`: `None` in
/// test mode without the override `env_var`); `Unsupported` for anything else.
pub fn login_and_url(
    provider_id: &str,
    auth: Auth,
    url: Option<String>,
    env_var: &str,
) -> Result<(Kept, String), RefreshError> {
    let Auth::Oauth {
        refresh,
        account_id,
        enterprise_url,
        metadata,
        ..
    } = auth
    else {
        return Err(RefreshError::Unsupported(format!(
            "{provider_id}: only OAuth logins are refreshed"
        )));
    };
    let url = url.ok_or_else(|| {
        RefreshError::Unsupported(format!(
            "token endpoints are not contacted in test mode (set {env_var})"
        ))
    })?;
    let kept = Kept {
        refresh,
        account_id,
        enterprise_url,
        metadata,
    };
    Ok((kept, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str, retry_after: Option<&str>) -> Reply {
        Reply {
            status,
            retry_after: retry_after.map(str::to_string),
            content_type: Some("application/json".into()),
            body: bytes::Bytes::from(body.to_string()),
        }
    }

    fn login(e: RefreshError) -> String {
        match e {
            RefreshError::LoginRequired(m) => m,
            other => panic!("expected LoginRequired, got {other:?}"),
        }
    }

    #[test]
    fn permanent_codes_and_any_401_need_a_new_login_naming_the_most_specific_code() {
        let reused = r#"{"error":"invalid_grant","error_description":"refresh_token_reused"}"#;
        assert_eq!(
            login(classify("openai", &reply(400, reused, None), 0)),
            "openai: the token endpoint refused the refresh token (400 refresh_token_reused); sign in again"
        );
        let nested = r#"{"error":{"code":"refresh_token_expired","message":"x"}}"#;
        assert!(login(classify("openai", &reply(401, nested, None), 0)).contains("401 refresh_token_expired"));
        let plain = r#"{"error":"invalid_client"}"#;
        assert!(login(classify("anthropic", &reply(400, plain, None), 0)).contains("400 invalid_client"));
        assert!(login(classify("anthropic", &reply(401, "not json", None), 0)).contains("(401)"));
        let typed = r#"{"type":"error","error":{"type":"invalid_grant","message":"Refresh token not found"}}"#;
        assert!(login(classify("anthropic", &reply(400, typed, None), 0)).contains("invalid_grant"));
    }

    #[test]
    fn other_statuses_are_transient_and_429_waits_for_retry_after_clamped() {
        for (status, body) in [(400, r#"{"error":"invalid_request"}"#), (404, ""), (500, ""), (503, "")] {
            assert!(matches!(
                classify("openai", &reply(status, body, None), 0),
                RefreshError::Transient(_)
            ));
        }
        // A code in a 5xx answer is not trusted: the server may have rotated the token anyway.
        assert!(matches!(
            classify("openai", &reply(502, r#"{"error":"invalid_grant"}"#, None), 0),
            RefreshError::Transient(_)
        ));
        assert_eq!(
            classify("openai", &reply(429, "", Some("30")), 1_000),
            RefreshError::RateLimited { until: Some(31_000) }
        );
        assert_eq!(
            classify("openai", &reply(429, "", Some("999999")), 0),
            RefreshError::RateLimited { until: Some(3_600_000) }
        );
        assert_eq!(
            classify("openai", &reply(429, "", Some("soon")), 0),
            RefreshError::RateLimited { until: None }
        );
    }

    #[test]
    fn an_error_body_echoing_the_token_is_never_quoted() {
        let token = "rt-FAKE-echoed-0123456789abcdef";
        for status in [400, 401, 403, 500] {
            let body = format!(r#"{{"error":"invalid_grant","error_description":"token {token} is bad"}}"#);
            let e = classify("openai", &reply(status, &body, None), 0);
            assert!(!e.to_string().contains("FAKE"), "{e}");
            assert!(!format!("{e:?}").contains("FAKE"), "{e:?}");
        }
    }

    #[test]
    fn expires_in_is_read_as_seconds_when_sane() {
        let map = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            lifetime_ms(&map(serde_json::json!({"expires_in": 3600}))),
            Some(3_600_000)
        );
        assert_eq!(
            lifetime_ms(&map(serde_json::json!({"expires_in": "28800"}))),
            Some(28_800_000)
        );
        assert_eq!(lifetime_ms(&map(serde_json::json!({"expires_in": -1}))), None);
        assert_eq!(lifetime_ms(&map(serde_json::json!({}))), None);
    }
}
