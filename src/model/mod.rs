//! Domain types shared by the store, the actors and the wire: accounts, priority, settings, events.

pub(crate) mod auth;
pub mod claims;
mod credential;
#[cfg(test)]
mod credential_fuzz;
mod event;
mod names;
mod priority;
pub mod refresh_policy;
mod settings;

pub use auth::Auth;
pub use credential::{deserialize_auth_param, kind_of, parse_credential, parse_json, CredentialError, Problem};
pub use event::{EventKind, NewEvent, StoredEvent};
pub use names::{is_copilot, normalize_alias, validate_model, validate_provider};
pub use priority::PriorityDirection;
pub use settings::{LooseValue, Setting, Settings, SettingsError, Strategy};

use serde::{Deserialize, Serialize};

/// Unix milliseconds.
pub type Millis = i64;

/// A saved account with its credential and health, as the registry holds it in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub provider_id: String,
    pub alias: String,
    pub auth: Auth,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub last_used_at: Option<Millis>,
    pub cooldown_until: Option<Millis>,
    pub cooldown_reason: Option<CooldownReason>,
    pub failures: u32,
    pub disabled: bool,
    pub auth_failed: bool,
    /// Bumped in the store by every user reset; bookkeeping read before it is not written after it.
    pub reset_epoch: u32,
    /// Boxed: most accounts have none, and an inline snapshot would double the record's size.
    pub usage: Option<Box<UsageSnapshot>>,
    /// The OAuth token's lifetime bookkeeping (generation, login required, last refresh).
    pub token: TokenState,
}

/// Where an account's credential is in its refresh chain, as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenState {
    /// Bumped by every new credential (a refresh, a save, a capture); a refresh commits only onto
    /// the generation it started from.
    pub generation: u64,
    /// The provider refused the refresh token (or Copilot's token) for good: a new login is needed.
    pub login_required: bool,
    /// When the credential was last refreshed or saved (the keep-alive counts from it).
    pub refreshed_at: Option<Millis>,
}

impl Account {
    /// A healthy, never-used API-key account, for tests.
    #[cfg(test)]
    pub fn for_test(provider_id: &str, alias: &str) -> Account {
        Account {
            provider_id: provider_id.into(),
            alias: alias.into(),
            auth: Auth::Api {
                key: format!("key-{provider_id}-{alias}"),
                metadata: None,
            },
            created_at: 0,
            updated_at: 0,
            last_used_at: None,
            cooldown_until: None,
            cooldown_reason: None,
            failures: 0,
            disabled: false,
            auth_failed: false,
            reset_epoch: 0,
            usage: None,
            token: TokenState::default(),
        }
    }

    /// Usable for a request at `now`: enabled, not waiting for a new login, not cooling down.
    pub fn is_healthy(&self, now: Millis) -> bool {
        !self.disabled && !self.token.login_required && !self.cooling_down(now)
    }

    pub fn cooling_down(&self, now: Millis) -> bool {
        self.cooldown_until.is_some_and(|until| until > now)
    }

    /// The client's view: no credential, cooldowns that have passed shown as none.
    pub fn view(&self, active: bool, now: Millis) -> AccountView {
        AccountView {
            provider_id: self.provider_id.clone(),
            alias: self.alias.clone(),
            auth_type: self.auth.auth_type().to_string(),
            active,
            disabled: self.disabled,
            cooling_down_until: self.cooldown_until.filter(|u| *u > now),
            cooldown_reason: self.cooldown_until.filter(|u| *u > now).and(self.cooldown_reason),
            auth_failed: self.auth_failed,
            failures: self.failures,
            last_used_at: self.last_used_at,
            created_at: self.created_at,
            usage: self.usage.as_deref().cloned(),
            token_expires_at: refresh_policy::effective_expiry(&self.provider_id, &self.auth),
            login_required: self.token.login_required,
            login_hint: self
                .token
                .login_required
                .then(|| refresh_policy::login_hint(&self.provider_id)),
            owner: self.auth.host_credential().map(|_| crate::opencode2::OWNER.to_string()),
            credential_id: self.auth.host_credential().map(str::to_string),
        }
    }
}

/// An account as shown to clients (docs/protocol.md `AccountView`); never carries a secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
    pub auth_type: String,
    pub active: bool,
    pub disabled: bool,
    pub cooling_down_until: Option<Millis>,
    /// Extension: why the account is cooling down (`rate_limit`, `quota`, `server_error`, `auth_failed`;
    /// a name this version does not know reads as none).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_reason"
    )]
    pub cooldown_reason: Option<CooldownReason>,
    /// Extension: the last request on this account was refused with 401.
    #[serde(default)]
    pub auth_failed: bool,
    pub failures: u32,
    pub last_used_at: Option<Millis>,
    pub created_at: Millis,
    pub usage: Option<UsageSnapshot>,
    /// Extension: when the OAuth access token stops working (ms; `null` for API keys, Copilot).
    #[serde(default)]
    pub token_expires_at: Option<Millis>,
    /// Extension: the provider refused this login's refresh; it is skipped until a new login.
    #[serde(default)]
    pub login_required: bool,
    /// Extension: how to fix a login-required account ("run /connect <provider> in opencode").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint: Option<String>,
    /// Extension: who holds the credential when it is not the balancer: `opencode2` for a
    /// credential opencode 2 keeps in its own database (absent: the balancer's own account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Extension: the owner's id of the credential (opencode 2's `cred_…`), with `owner`.
    #[serde(rename = "credentialID", default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
}

/// The latest usage snapshot of an account (docs/protocol.md `UsageSnapshot`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSnapshot {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
    pub fetched_at: Millis,
    /// A name this version does not know (a newer writer's) reads as `unavailable`: no figure of
    /// it is trusted.
    #[serde(deserialize_with = "lenient_confidence")]
    pub confidence: Confidence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_units: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_units: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<UsageWindow>>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How much a snapshot's figures can be trusted (docs/protocol.md `confidence`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The provider's own figures for the account's plan.
    #[default]
    Exact,
    /// Derived figures: rate-limit headers, billing totals without a quota.
    Estimated,
    /// No figures.
    Unavailable,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Exact => "exact",
            Confidence::Estimated => "estimated",
            Confidence::Unavailable => "unavailable",
        }
    }
}

impl std::str::FromStr for Confidence {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Ok(match s {
            "exact" => Confidence::Exact,
            "estimated" => Confidence::Estimated,
            "unavailable" => Confidence::Unavailable,
            _ => return Err(UnknownName(s.to_string())),
        })
    }
}

impl UsageSnapshot {
    /// Whether the snapshot's figures have confidence `c`.
    pub fn is(&self, c: Confidence) -> bool {
        self.confidence == c
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn lenient_confidence<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Confidence, D::Error> {
    let name = std::borrow::Cow::<str>::deserialize(d)?;
    Ok(name.parse().unwrap_or(Confidence::Unavailable))
}

fn lenient_reason<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<CooldownReason>, D::Error> {
    let name = Option::<std::borrow::Cow<str>>::deserialize(d)?;
    Ok(name.and_then(|n| n.parse().ok()))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageWindow {
    pub name: String,
    pub used_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<Millis>,
}

/// One row of the provider priority matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriorityEntry {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub position: u32,
    #[serde(rename = "modelID")]
    pub model_id: Option<String>,
    pub enabled: bool,
}

/// `{providerID, alias}` as the wire names an account.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccountRef {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
}

/// `credential: {id, provider}`: the opencode 2 credential a request goes out as. The host resolves
/// its secret itself (opencode 2's `integration.connection.resolve`); no secret header comes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRef {
    pub id: String,
    pub provider: String,
}

/// `{providerID, modelID}` as the wire names a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
}

/// Why an account rests: the store's `cooldown_reason` column and `AccountView.cooldownReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CooldownReason {
    /// 429/529: the provider asked to slow down.
    RateLimit,
    /// The account is out of credit or quota (a refusal, or its usage at 100 %).
    Quota,
    /// A 5xx the provider answered.
    ServerError,
    /// 401: the credential was refused.
    AuthFailed,
}

impl CooldownReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CooldownReason::RateLimit => "rate_limit",
            CooldownReason::Quota => "quota",
            CooldownReason::ServerError => "server_error",
            CooldownReason::AuthFailed => "auth_failed",
        }
    }
}

impl std::str::FromStr for CooldownReason {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Ok(match s {
            "rate_limit" => CooldownReason::RateLimit,
            "quota" => CooldownReason::Quota,
            "server_error" => CooldownReason::ServerError,
            "auth_failed" => CooldownReason::AuthFailed,
            _ => return Err(UnknownName(s.to_string())),
        })
    }
}

/// A stored or sent name that no variant of a domain enum has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_reasons_and_confidences_keep_their_wire_and_store_text_both_ways() {
        use CooldownReason::*;
        for r in [RateLimit, Quota, ServerError, AuthFailed] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
            assert_eq!(r.as_str().parse::<CooldownReason>(), Ok(r));
        }
        for c in [Confidence::Exact, Confidence::Estimated, Confidence::Unavailable] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(c.as_str().parse::<Confidence>(), Ok(c));
        }
        assert_eq!(
            "rate_limited".parse::<CooldownReason>(),
            Err(UnknownName("rate_limited".into()))
        );
    }

    #[test]
    fn a_snapshot_or_view_from_a_newer_writer_with_unknown_names_still_reads() {
        let snapshot: UsageSnapshot = serde_json::from_value(serde_json::json!({
            "providerID": "openai", "alias": "work", "fetchedAt": 1, "confidence": "approximate",
            "usedPercent": 50.0, "message": "m"
        }))
        .unwrap();
        assert_eq!(
            snapshot.confidence,
            Confidence::Unavailable,
            "no figure of it is trusted"
        );
        let view = serde_json::json!({
            "providerID": "openai", "alias": "work", "authType": "api", "active": true,
            "disabled": false, "coolingDownUntil": 5, "cooldownReason": "overloaded", "failures": 1,
            "lastUsedAt": null, "createdAt": 1, "usage": null
        });
        let view: AccountView = serde_json::from_value(view).unwrap();
        assert_eq!((view.cooling_down_until, view.cooldown_reason), (Some(5), None));
        let known: AccountView = serde_json::from_value(serde_json::json!({
            "providerID": "openai", "alias": "work", "authType": "api", "active": true,
            "disabled": false, "coolingDownUntil": 5, "cooldownReason": "quota", "failures": 1,
            "lastUsedAt": null, "createdAt": 1, "usage": null
        }))
        .unwrap();
        assert_eq!(known.cooldown_reason, Some(CooldownReason::Quota));
    }
}
