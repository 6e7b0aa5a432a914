//! Claude's stable account id, for a login whose tokens carry none: `GET /api/oauth/profile`
//! (`authorization: Bearer <access>`, `anthropic-beta: oauth-2025-04-20`) answers `account.uuid`,
//! `account.email_address` and `organization.uuid`; the subject is the account and organization
//! (one person's personal plan and a team seat are two subscriptions, two accounts here).

use serde_json::Value;

use super::anthropic::BETA;
use crate::model::{Auth, Millis};
use crate::usage::http::{check_status, json_body, url, Http};
use crate::usage::FetchError;

pub const PROFILE_PATH: &str = "/api/oauth/profile";

/// Who a Claude login belongs to. Not a secret (ids and an email address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeProfile {
    /// `claude:<account uuid>` or `claude:<account uuid>/<organization uuid>`.
    pub subject: String,
    pub email: Option<String>,
}

/// Reads the profile of `auth`'s login from `base` (`None`: not contacted, as in test mode).
pub async fn claude_profile(
    http: &Http,
    base: &Option<String>,
    auth: &Auth,
    now: Millis,
) -> Result<ClaudeProfile, FetchError> {
    let Auth::Oauth { access, .. } = auth else {
        return Err(FetchError::Unsupported("a Claude profile needs an OAuth login".into()));
    };
    let headers = [
        ("authorization", format!("Bearer {access}")),
        ("anthropic-beta", BETA.to_string()),
    ];
    let reply = http
        .get(&url(base, "OPENCODE_BALANCER_ANTHROPIC_URL", PROFILE_PATH)?, &headers)
        .await?;
    check_status(&reply, now)?;
    parse(&json_body(&reply, auth)?)
}

/// An id as the profile gives it: 1 to 100 of A-Z a-z 0-9 `-` `_` (anything else is not trusted
/// to name an account).
fn id_at(v: &Value, object: &str) -> Option<String> {
    let id = v.get(object)?.get("uuid")?.as_str()?;
    let ok = !id.is_empty() && id.len() <= 100 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| id.to_string())
}

/// The subject of a profile answer; one without an account id identifies nobody.
pub fn parse(v: &Value) -> Result<ClaudeProfile, FetchError> {
    let account =
        id_at(v, "account").ok_or_else(|| FetchError::BadPayload("the Claude profile has no account id".into()))?;
    let subject = match id_at(v, "organization") {
        Some(org) => format!("claude:{account}/{org}"),
        None => format!("claude:{account}"),
    };
    let email = (v.get("account"))
        .and_then(|a| a.get("email_address"))
        .and_then(Value::as_str)
        .filter(|e| e.contains('@') && e.len() <= 254 && !e.contains(char::is_whitespace) && !e.contains("[redacted]"))
        .map(str::to_string);
    Ok(ClaudeProfile { subject, email })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::usage::fake_server::{fixture, FakeReply, FakeUsageServer};

    fn login() -> Auth {
        Auth::Oauth {
            refresh: "sk-ant-ort01-FAKE".into(),
            access: "sk-ant-oat01-FAKE".into(),
            expires: 0,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        }
    }

    #[tokio::test]
    async fn the_profile_names_the_account_and_organization_with_the_oauth_beta() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PROFILE_PATH, FakeReply::json(fixture("anthropic", "profile.json")));
        let http = Http::new(Duration::from_secs(2));
        let p = claude_profile(&http, &Some(server.url()), &login(), 0).await.unwrap();
        assert_eq!(
            p.subject,
            "claude:4b1c6a7e-FAKE-4f0e-9d0a-000000000001/9e2d0c11-FAKE-4a55-8b1f-000000000002"
        );
        assert_eq!(p.email.as_deref(), Some("claude-user@example.com"));
        let seen = &server.seen()[0];
        assert_eq!(seen.headers["authorization"], "Bearer sk-ant-oat01-FAKE");
        assert_eq!(seen.headers["anthropic-beta"], "oauth-2025-04-20");
    }

    #[tokio::test]
    async fn a_refused_or_unreadable_profile_is_an_error_that_quotes_nothing() {
        let server = FakeUsageServer::start().unwrap();
        server.route(PROFILE_PATH, FakeReply::status(401, r#"{"error":"{{authorization}}"}"#));
        let http = Http::new(Duration::from_secs(2));
        let e = claude_profile(&http, &Some(server.url()), &login(), 0)
            .await
            .unwrap_err();
        assert_eq!(e, FetchError::Unauthorized);
        assert!(matches!(
            claude_profile(&http, &None, &login(), 0).await,
            Err(FetchError::Unsupported(_))
        ));
    }

    #[test]
    fn a_profile_without_a_trustworthy_account_id_identifies_nobody() {
        for v in [
            serde_json::json!({}),
            serde_json::json!({"account": {"uuid": ""}}),
            serde_json::json!({"account": {"uuid": "a/../b"}}),
            serde_json::json!({"account": {"uuid": 7}}),
        ] {
            assert!(parse(&v).is_err(), "{v}");
        }
        let p = parse(&serde_json::json!({"account": {"uuid": "u-1"}})).unwrap();
        assert_eq!(p.subject, "claude:u-1");
        assert_eq!(p.email, None);
        let echoed = serde_json::json!({"account": {"uuid": "u-1", "email_address": "Bearer [redacted]@example.test"}});
        assert_eq!(
            parse(&echoed).unwrap().email,
            None,
            "a redacted echo never names an account"
        );
    }
}
