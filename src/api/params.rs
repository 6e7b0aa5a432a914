//! Typed parameters of every method: the edge decodes them from the wire, in-process callers
//! build them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::balancer::outbound::ConfiguredHeaders;
use crate::model::Auth;
use crate::model::ModelRef;

/// Methods without params (any object, members ignored).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct NoParams {}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderFilter {
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountKey {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaveParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
    /// Errors name `auth` and the field, never a value.
    #[serde(deserialize_with = "crate::model::deserialize_auth_param")]
    pub auth: Auth,
    /// Replace an existing account's credential; without it an alias in use is -32002.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisableParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorityModelParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorityEnabledParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub enabled: bool,
}

/// One provider (`priority.remove`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorityMoveParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    /// `-1` (up) or `1` (down); anything else is refused as the params are decoded.
    pub direction: crate::model::PriorityDirection,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnabledParams {
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandParams {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatMessageParams {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
}

/// `session.get` `{sessionID}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionParams {
    #[serde(rename = "sessionID")]
    pub session_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatHeadersParams {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// What the host knows of the provider's API (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiParams>,
    /// The request the host expects to send (extension): with it, the answer carries the
    /// `fetch.begin` answer for such a request (`begin`), so a request of that shape needs no
    /// `fetch.begin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<ShapeParams>,
    /// Extension: an opening asked ahead of the request (docs/protocol.md "An opening ahead"):
    /// nothing is recorded until it is used; answered with `validMs`, or with no `requestID`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ahead: bool,
    /// Extension: openings asked ahead that the host dropped unused (at most 256 are read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused: Vec<String>,
}

/// `{url?, headerNames, authorization?}`: the parts of a request its credential headers depend
/// on, as `fetch.begin` takes them (`authorization`: `"bearer"` or `"other"`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub header_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
}

/// `{npm?, baseURL?, headers?}`: a provider's SDK package, base URL and configured headers as
/// opencode knows them.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ApiParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npm: Option<String>,
    #[serde(rename = "baseURL", default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The provider's configured headers (`options.headers`), for a request moved to it.
    #[serde(default, skip_serializing_if = "ConfiguredHeaders::is_empty")]
    pub headers: ConfiguredHeaders,
}

impl ApiParams {
    pub fn into_api(self) -> crate::balancer::switch::ProviderApi {
        let keep = |s: Option<String>| s.filter(|v| !v.is_empty() && v.len() <= 2048);
        crate::balancer::switch::ProviderApi {
            npm: keep(self.npm),
            base_url: keep(self.base_url),
            headers: self.headers,
        }
    }
}

/// `credentials.lend` `{provider, credentialID, secret}` (a notification): the secret of an
/// opencode 2 credential, for usage readings; kept in memory only. Its `Debug` shows no secret.
#[derive(Debug, Clone, Deserialize)]
pub struct LendParams {
    pub provider: String,
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    pub secret: crate::usage::lent::LentSecret,
}

/// `providers.describe` `{providers:[{providerID, npm?, baseURL?}]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DescribeParams {
    pub providers: Vec<DescribedProvider>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DescribedProvider {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(flatten)]
    pub api: ApiParams,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchBeginParams {
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub header_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchResultParams {
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(default = "one")]
    pub attempt: u32,
    pub status: u16,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The request as sent, when the host sent it without asking `fetch.begin` (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<ShapeParams>,
}

/// `fetch.stream` (extension): the first events of a 2xx event stream the host holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchStreamParams {
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(default = "one")]
    pub attempt: u32,
    /// Each held event: its `event:` name (if any) and its `data:` text; at most 64.
    pub events: Vec<StreamEventParams>,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<ShapeParams>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamEventParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    pub data: String,
}

/// `continuity.strip` (extension): the body the host is about to send, and how far it moves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StripParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub body: String,
    pub scope: String,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvanceClockParams {
    pub ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSaveParams {
    pub id: String,
    pub alias: String,
    /// Replace an existing account's credential; without it an alias in use is -32002.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingIdParams {
    pub id: String,
}

/// `usage.refresh`: every account, one provider's, or one account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RefreshParams {
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}
