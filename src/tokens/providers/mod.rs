//! OAuth token lifetimes: when a saved credential needs a refresh ([`crate::model::refresh_policy`]) and the
//! per-provider refresh behind one trait ([`TokenClient`]), beside the usage clients and with
//! overridable base URLs like theirs. The token keeper actor drives both; nothing here touches the
//! store or another process.

mod answer;
pub mod chatgpt;
pub mod claude;
pub mod endpoints;
#[cfg(any(test, feature = "testkit"))]
pub mod fake_server;
#[cfg(any(test, feature = "testkit"))]
mod fake_tokens;
mod router;
#[cfg(test)]
mod tests;

pub use answer::{PERMANENT_CODES, RATE_LIMIT_LIMITS};
pub use endpoints::Endpoints;
pub use router::Router;

use crate::model::{Auth, Millis};

/// A boxed future a client hands back (clients are called from an actor, across threads).
pub type BoxFuture<T> = futures::future::BoxFuture<'static, T>;

/// One credential to refresh.
#[derive(Clone, Debug)]
pub struct RefreshRequest {
    pub provider_id: String,
    pub alias: String,
    pub auth: Auth,
    /// The injectable clock's time when the refresh starts (`expires` is computed from it).
    pub now: Millis,
}

/// A refresh that worked: the whole new credential, ready to save and hand opencode.
#[derive(Clone, Debug, PartialEq)]
pub struct Refreshed {
    /// The refresh token is the old one when the provider sent none back; `accountId` is derived
    /// again from the new tokens (else kept); `expires` is `now + expires_in`.
    pub auth: Auth,
    /// How long the new access token lives, when the provider said.
    pub lifetime_ms: Option<Millis>,
}

/// Why a refresh did not give a new credential. Messages never hold a token or a body.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RefreshError {
    /// The provider refused the refresh token for good (spent, expired, revoked) or, for a
    /// credential that cannot be refreshed (Copilot), the token itself: a new login is needed.
    #[error("login required: {0}")]
    LoginRequired(String),
    /// Timeout, network, 5xx, an unreadable answer: the server may have rotated the token all the
    /// same, so the caller re-reads what others saved before it gives up.
    #[error("{0}")]
    Transient(String),
    /// 429 from the token endpoint: not again before `until`.
    #[error("rate limited by the token endpoint")]
    RateLimited { until: Option<Millis> },
    /// Nothing this version can refresh (an API key, Copilot's GitHub token, an unknown provider).
    #[error("{0}")]
    Unsupported(String),
}

/// The per-provider refresh.
pub trait TokenClient: Send + Sync {
    /// Whether `auth` of `provider_id` has a refresh this client performs.
    fn refreshable(&self, provider_id: &str, auth: &Auth) -> bool;
    /// Spends `req.auth`'s refresh token once; never retries by itself.
    fn refresh(&self, req: RefreshRequest) -> BoxFuture<Result<Refreshed, RefreshError>>;
}

/// Refreshes nothing (where no client is wired).
pub struct NoRefresh;

impl TokenClient for NoRefresh {
    fn refreshable(&self, _: &str, _: &Auth) -> bool {
        false
    }

    fn refresh(&self, req: RefreshRequest) -> BoxFuture<Result<Refreshed, RefreshError>> {
        let why = format!("no token refresh is wired for {}", req.provider_id);
        Box::pin(async move { Err(RefreshError::Unsupported(why)) })
    }
}
