//! Usage: what each account has left, read from its provider. One trait ([`UsageClient`]) with one
//! client per file, the router that picks one per account, passive rate-limit headers, redaction,
//! and the refresh schedule the refresher actor (`refresher`) runs; provider clients are in `providers/`.

mod endpoints;
#[cfg(any(test, feature = "testkit"))]
pub mod fake_server;
mod http;
pub mod lent;
pub mod outcome;
pub mod passive;
pub mod providers;
pub mod redact;
pub mod refresher;
pub mod report;
mod router;
pub mod schedule;

/// Providers whose usage some client here can read (see `Router`).
pub fn pollable(provider_id: &str) -> bool {
    matches!(
        provider_id,
        "openai" | "github-copilot" | "copilot" | "github-copilot-enterprise" | "anthropic"
    )
}

pub use crate::model::Confidence;
pub use endpoints::Endpoints;
pub use http::Http;
pub use providers::{Anthropic, ChatGpt, Copilot, OpenAiApi};
pub use router::Router;

use crate::model::{Auth, Millis, UsageSnapshot, UsageWindow};

/// A boxed future a client hands back (clients are called from an actor, across threads).
pub type BoxFuture<T> = futures::future::BoxFuture<'static, T>;

/// One account to read usage for.
#[derive(Clone, Debug)]
pub struct UsageRequest {
    pub provider_id: String,
    pub alias: String,
    pub auth: Auth,
    /// The injectable clock's time when the fetch starts (for relative reset times).
    pub now: Millis,
}

/// What a client read: the figures, without the account's name or the fetch time (the refresher
/// adds those), and the raw answer, not yet redacted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    pub confidence: Confidence,
    pub plan_name: Option<String>,
    pub used_percent: Option<f64>,
    pub reset_at: Option<Millis>,
    pub used_units: Option<f64>,
    pub remaining_units: Option<f64>,
    pub windows: Vec<UsageWindow>,
    pub message: String,
    pub raw: Option<serde_json::Value>,
}

impl Usage {
    /// Sets `used_percent` and `reset_at` from the fullest of `windows` that `counts`.
    pub fn set_overall(&mut self, counts: impl Fn(&UsageWindow) -> bool) {
        let fullest = self
            .windows
            .iter()
            .filter(|w| counts(w))
            .max_by(|a, b| a.used_percent.total_cmp(&b.used_percent));
        if let Some(w) = fullest {
            self.used_percent = Some(w.used_percent);
            self.reset_at = w.reset_at;
        }
    }

    /// `"5h 42% used, 7d 18% used"`.
    pub fn windows_text(&self) -> String {
        self.windows
            .iter()
            .map(|w| format!("{} {}% used", w.name, round1(w.used_percent)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The snapshot for `provider_id/alias` fetched at `fetched_at`, and the raw answer.
    pub fn into_snapshot(
        self,
        provider_id: &str,
        alias: &str,
        fetched_at: Millis,
    ) -> (UsageSnapshot, Option<serde_json::Value>) {
        let snapshot = UsageSnapshot {
            provider_id: provider_id.to_string(),
            alias: alias.to_string(),
            fetched_at,
            confidence: self.confidence,
            plan_name: self.plan_name,
            used_percent: self.used_percent,
            reset_at: self.reset_at,
            used_units: self.used_units,
            remaining_units: self.remaining_units,
            windows: (!self.windows.is_empty()).then_some(self.windows),
            message: self.message,
            error: None,
        };
        (snapshot, self.raw)
    }
}

/// A snapshot with no figures and a plain reason.
pub fn unavailable(provider_id: &str, alias: &str, now: Millis, message: String, error: &str) -> UsageSnapshot {
    UsageSnapshot {
        provider_id: provider_id.to_string(),
        alias: alias.to_string(),
        fetched_at: now,
        confidence: Confidence::Unavailable,
        plan_name: None,
        used_percent: None,
        reset_at: None,
        used_units: None,
        remaining_units: None,
        windows: None,
        message,
        error: Some(error.to_string()),
    }
}

/// `42.0` → `42`, `42.25` → `42.3`.
pub fn round1(p: f64) -> f64 {
    (p * 10.0).round() / 10.0
}

/// Why a usage fetch failed. Messages are plain and never carry a credential or a response body.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("the usage endpoint refused the credential (401)")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("the usage endpoint is rate-limiting requests (429)")]
    RateLimited {
        /// Retry-After as an absolute time.
        until: Option<Millis>,
    },
    #[error("the usage endpoint failed (HTTP {0})")]
    Server(u16),
    #[error("the usage endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the usage endpoint did not answer within {0} ms")]
    Timeout(u64),
    #[error("could not reach {host}: {reason}")]
    Network { host: String, reason: String },
    #[error("{0}")]
    BadPayload(String),
    #[error("{0}")]
    Unsupported(String),
}

impl FetchError {
    /// A short machine-readable name (the snapshot's `error`, event metadata).
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Unauthorized => "unauthorized",
            FetchError::Forbidden(_) => "forbidden",
            FetchError::RateLimited { .. } => "rate_limited",
            FetchError::Server(_) => "server_error",
            FetchError::Status(_) => "http_status",
            FetchError::Timeout(_) => "timeout",
            FetchError::Network { .. } => "network",
            FetchError::BadPayload(_) => "bad_payload",
            FetchError::Unsupported(_) => "unsupported",
        }
    }
}

/// A provider usage client: reads one account's usage. The router is one too, and picks the
/// provider client for each account.
#[cfg_attr(test, mockall::automock)]
pub trait UsageClient: Send + Sync {
    /// `Err(reason)` when usage cannot be read for this provider and credential here.
    fn check(&self, provider_id: &str, auth: &Auth) -> Result<(), String>;
    /// Reads the account's usage (every request under the endpoints' timeout).
    fn fetch(&self, req: UsageRequest) -> BoxFuture<Result<Usage, FetchError>>;
}
