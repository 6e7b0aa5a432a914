//! Event types published on the bus and stored in the events table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Millis;

/// Every event type of docs/protocol.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A login seen in auth.json was kept as a pending connection (autoSave off).
    PendingConnectionCaptured,
    /// A new account was saved.
    AccountSaved,
    /// A saved account's credential was replaced.
    AccountUpdated,
    /// An account became its provider's active one.
    AccountActivated,
    AccountRenamed,
    AccountRemoved,
    AccountDisabled,
    AccountEnabled,
    UsageRefreshed,
    UsageUnavailable,
    /// A response put an account in cooldown (rate limit, quota or server error).
    RateLimitDetected,
    /// A request was sent again on another account.
    FailoverPerformed,
    /// No other healthy account was left for a request.
    FailoverExhausted,
    /// A request (and the session's next messages) moved to the next provider of the priority
    /// list because its own provider had no healthy account left.
    ProviderSwitched,
    /// A response said the credential was refused (401).
    AuthFailed,
    /// A request refused for replaying state another account produced was sent once more on
    /// the same account without it (docs/continuity.md).
    StateMended,
    /// An error event came first in a 200 stream, before any content: handled as a refusal.
    StreamRefused,
    BalancingChanged,
    SettingsChanged,
    PriorityChanged,
    CooldownCleared,
    /// An OAuth account's token was refreshed by this process (every process sees the result).
    TokenRefreshed,
    /// A token refresh failed for now (network, 5xx, 429); it is tried again later.
    TokenRefreshFailed,
    /// The provider refused an account's refresh token for good: a new login is needed.
    LoginRequired,
}

impl EventKind {
    /// Every event type, in the order of docs/protocol.md.
    pub const ALL: [EventKind; 22] = [
        EventKind::PendingConnectionCaptured,
        EventKind::AccountSaved,
        EventKind::AccountUpdated,
        EventKind::AccountActivated,
        EventKind::AccountRenamed,
        EventKind::AccountRemoved,
        EventKind::AccountDisabled,
        EventKind::AccountEnabled,
        EventKind::UsageRefreshed,
        EventKind::UsageUnavailable,
        EventKind::RateLimitDetected,
        EventKind::FailoverPerformed,
        EventKind::FailoverExhausted,
        EventKind::ProviderSwitched,
        EventKind::AuthFailed,
        EventKind::BalancingChanged,
        EventKind::SettingsChanged,
        EventKind::PriorityChanged,
        EventKind::CooldownCleared,
        EventKind::TokenRefreshed,
        EventKind::TokenRefreshFailed,
        EventKind::LoginRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PendingConnectionCaptured => "pending_connection_captured",
            EventKind::AccountSaved => "account_saved",
            EventKind::AccountUpdated => "account_updated",
            EventKind::AccountActivated => "account_activated",
            EventKind::AccountRenamed => "account_renamed",
            EventKind::AccountRemoved => "account_removed",
            EventKind::AccountDisabled => "account_disabled",
            EventKind::AccountEnabled => "account_enabled",
            EventKind::UsageRefreshed => "usage_refreshed",
            EventKind::UsageUnavailable => "usage_unavailable",
            EventKind::RateLimitDetected => "rate_limit_detected",
            EventKind::FailoverPerformed => "failover_performed",
            EventKind::FailoverExhausted => "failover_exhausted",
            EventKind::ProviderSwitched => "provider_switched",
            EventKind::AuthFailed => "auth_failed",
            EventKind::StateMended => "state_mended",
            EventKind::StreamRefused => "stream_refused",
            EventKind::BalancingChanged => "balancing_changed",
            EventKind::SettingsChanged => "settings_changed",
            EventKind::PriorityChanged => "priority_changed",
            EventKind::CooldownCleared => "cooldown_cleared",
            EventKind::TokenRefreshed => "token_refreshed",
            EventKind::TokenRefreshFailed => "token_refresh_failed",
            EventKind::LoginRequired => "login_required",
        }
    }
}

/// An event about to be published. Built only from non-secret values.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub provider_id: Option<String>,
    pub alias: Option<String>,
    pub message: String,
    pub metadata: BTreeMap<String, String>,
}

impl NewEvent {
    pub fn new(kind: EventKind, message: impl Into<String>) -> Self {
        NewEvent {
            kind,
            provider_id: None,
            alias: None,
            message: message.into(),
            metadata: BTreeMap::new(),
        }
    }

    pub fn account(mut self, provider_id: &str, alias: &str) -> Self {
        self.provider_id = Some(provider_id.to_string());
        self.alias = Some(alias.to_string());
        self
    }

    pub fn provider(mut self, provider_id: &str) -> Self {
        self.provider_id = Some(provider_id.to_string());
        self
    }

    pub fn meta(mut self, key: &str, value: impl ToString) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }
}

/// An event as stored and sent to clients (docs/protocol.md `Event`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub message: String,
    pub created_at: Millis,
    pub metadata: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn every_listed_event_type_is_listed_once() {
        let mut names: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventKind::ALL.len());
    }
}
