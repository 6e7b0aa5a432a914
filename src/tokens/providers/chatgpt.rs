//! ChatGPT's refresh (provider `openai`, OAuth): `POST {issuer}/oauth/token` with a form body and
//! opencode's client id; the refresh token rotates; `accountId` is derived again from the new
//! tokens exactly as opencode 1.18.33 does it.

use std::time::Duration;

use super::answer::{field, lifetime_ms, login_and_url, optional, post};
use super::endpoints::CHATGPT_TOKEN_PATH;
use super::{BoxFuture, RefreshError, RefreshRequest, Refreshed};
use crate::model::claims::jwt_claims;
use crate::model::claims::{checked, first_checked, is_account_id, OPENAI_AUTH_CLAIM};
use crate::model::{Auth, Millis};

/// opencode's OAuth client id for ChatGPT.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// The lifetime assumed when the answer has no `expires_in`.
pub const DEFAULT_LIFETIME_MS: Millis = 3_600_000;

pub struct ChatGpt {
    /// `None`: not contacted (test mode without an override).
    pub issuer: Option<String>,
    pub timeout: Duration,
}

impl ChatGpt {
    pub fn refresh(&self, req: RefreshRequest) -> BoxFuture<Result<Refreshed, RefreshError>> {
        let url = self.issuer.as_ref().map(|i| format!("{i}{CHATGPT_TOKEN_PATH}"));
        let timeout = self.timeout;
        Box::pin(async move {
            let (kept, url) = login_and_url(&req.provider_id, req.auth, url, "OPENCODE_BALANCER_CHATGPT_ISSUER_URL")?;
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", &kept.refresh)
                .append_pair("client_id", CLIENT_ID)
                .finish();
            let p = req.provider_id.as_str();
            let map = post(
                p,
                &url,
                "application/x-www-form-urlencoded",
                body.into_bytes(),
                timeout,
                req.now,
            )
            .await?;
            let access = field(p, &map, "access_token")?;
            let new_refresh = field(p, &map, "refresh_token")?;
            let id_token = optional(&map, "id_token");
            let lifetime = lifetime_ms(&map);
            let kept_id = kept.account_id.and_then(|id| checked("accountId", &id, is_account_id));
            let account_id = derive_account_id(id_token.as_deref(), &access).or(kept_id);
            Ok(Refreshed {
                auth: Auth::Oauth {
                    refresh: new_refresh,
                    expires: req.now.saturating_add(lifetime.unwrap_or(DEFAULT_LIFETIME_MS)),
                    access,
                    account_id,
                    enterprise_url: kept.enterprise_url,
                    metadata: kept.metadata,
                },
                lifetime_ms: lifetime,
            })
        })
    }
}

/// opencode's order: the id token's claims, then the access token's; in each `chatgpt_account_id`,
/// then `["https://api.openai.com/auth"].chatgpt_account_id`, then `organizations[0].id` — each
/// used only when it has an account id's shape (`claims::is_account_id`), else passed over.
pub fn derive_account_id(id_token: Option<&str>, access: &str) -> Option<String> {
    id_token.and_then(from_claims).or_else(|| from_claims(access))
}

fn from_claims(token: &str) -> Option<String> {
    const ID: &str = "chatgpt_account_id";
    let paths: &[&[&str]] = &[&[ID], &[OPENAI_AUTH_CLAIM, ID], &["organizations", "0", "id"]];
    first_checked(&jwt_claims(token)?, paths, ID, is_account_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(claims: serde_json::Value) -> String {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.FAKE", enc(r#"{"alg":"none"}"#), enc(&claims.to_string()))
    }

    #[test]
    fn account_id_comes_from_the_id_token_then_the_access_token_in_opencodes_claim_order() {
        let top = jwt(
            serde_json::json!({"chatgpt_account_id": "acc-top", "https://api.openai.com/auth": {"chatgpt_account_id": "acc-ns"}}),
        );
        let ns = jwt(
            serde_json::json!({"https://api.openai.com/auth": {"chatgpt_account_id": "acc-ns"}, "organizations": [{"id": "org-1"}]}),
        );
        let org = jwt(serde_json::json!({"organizations": [{"id": "org-1"}, {"id": "org-2"}]}));
        let none = jwt(serde_json::json!({"sub": "x"}));
        assert_eq!(derive_account_id(Some(&top), &none).as_deref(), Some("acc-top"));
        assert_eq!(derive_account_id(Some(&ns), &top).as_deref(), Some("acc-ns"));
        assert_eq!(derive_account_id(Some(&org), &top).as_deref(), Some("org-1"));
        assert_eq!(derive_account_id(Some(&none), &ns).as_deref(), Some("acc-ns"));
        assert_eq!(derive_account_id(None, &org).as_deref(), Some("org-1"));
        assert_eq!(derive_account_id(Some("not-a-jwt"), "opaque-FAKE"), None);
    }

    #[test]
    fn a_hostile_account_claim_is_passed_over_for_the_next_and_never_derived() {
        let hostile = "acct\r\nx-injected: FAKE";
        let mixed = jwt(
            serde_json::json!({"chatgpt_account_id": hostile, "https://api.openai.com/auth": {"chatgpt_account_id": "acc-ns"}}),
        );
        assert_eq!(
            derive_account_id(Some(&mixed), "opaque-FAKE").as_deref(),
            Some("acc-ns")
        );
        let bad = jwt(serde_json::json!({"chatgpt_account_id": hostile, "organizations": [{"id": "org\"}"}]}));
        assert_eq!(derive_account_id(Some(&bad), &bad), None);
        let long = jwt(serde_json::json!({"chatgpt_account_id": "a".repeat(129)}));
        assert_eq!(derive_account_id(Some(&long), "opaque-FAKE"), None);
    }
}
