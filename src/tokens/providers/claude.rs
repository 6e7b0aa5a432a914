//! Claude Pro/Max's refresh (provider `anthropic`, OAuth, through a third-party auth plugin):
//! `POST {token_url}` with a JSON body and the plugin's client id; the old refresh token is kept
//! when the answer carries none; Claude tokens name no account, so `accountId` is kept as it was.

use std::time::Duration;

use super::answer::{field, lifetime_ms, login_and_url, optional, post};
use super::{BoxFuture, RefreshError, RefreshRequest, Refreshed};
use crate::model::{Auth, Millis};

/// The OAuth client id of Claude Code, which the auth plugins use.
pub const CLIENT_ID: &str = "9d1c250a-e61b-44d9-88ed-5944d1962f5e";
/// The lifetime assumed when the answer has no `expires_in` (short on purpose: refreshing early is
/// harmless, a token taken for valid after it expired is not).
pub const DEFAULT_LIFETIME_MS: Millis = 3_600_000;

pub struct Claude {
    /// `None`: not contacted (test mode without an override).
    pub token_url: Option<String>,
    pub timeout: Duration,
}

impl Claude {
    pub fn refresh(&self, req: RefreshRequest) -> BoxFuture<Result<Refreshed, RefreshError>> {
        let url = self.token_url.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let (kept, url) = login_and_url(&req.provider_id, req.auth, url, "OPENCODE_BALANCER_CLAUDE_TOKEN_URL")?;
            let body = serde_json::json!({
                "grant_type": "refresh_token",
                "refresh_token": kept.refresh,
                "client_id": CLIENT_ID,
            });
            let p = req.provider_id.as_str();
            let map = post(
                p,
                &url,
                "application/json",
                body.to_string().into_bytes(),
                timeout,
                req.now,
            )
            .await?;
            let access = field(p, &map, "access_token")?;
            let lifetime = lifetime_ms(&map);
            Ok(Refreshed {
                auth: Auth::Oauth {
                    refresh: optional(&map, "refresh_token").unwrap_or(kept.refresh),
                    expires: req.now.saturating_add(lifetime.unwrap_or(DEFAULT_LIFETIME_MS)),
                    access,
                    account_id: kept.account_id,
                    enterprise_url: kept.enterprise_url,
                    metadata: kept.metadata,
                },
                lifetime_ms: lifetime,
            })
        })
    }
}
