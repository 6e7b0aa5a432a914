//! Typed parameters of every method, decoded at the edge.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::actors::account_registry::ModelRef;
use crate::model::Auth;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderFilter {
    #[serde(rename = "providerID", default)]
    pub provider_id: Option<String>,
}

#[derive(Deserialize)]
pub struct AccountKey {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
}

#[derive(Deserialize)]
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

#[derive(Deserialize)]
pub struct RenameParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub from: String,
    pub to: String,
}

#[derive(Deserialize)]
pub struct DisableParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
    pub disabled: bool,
}

#[derive(Deserialize)]
pub struct PriorityModelParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: Option<String>,
}

#[derive(Deserialize)]
pub struct PriorityEnabledParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub enabled: bool,
}

#[derive(Deserialize)]
pub struct PriorityMoveParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub direction: i32,
}

#[derive(Deserialize)]
pub struct EnabledParams {
    pub enabled: bool,
}

#[derive(Deserialize)]
pub struct SettingParams {
    pub key: String,
    pub value: Value,
}

#[derive(Deserialize)]
pub struct EventsParams {
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Deserialize)]
pub struct CommandParams {
    pub text: String,
}

#[derive(Deserialize)]
pub struct ChatMessageParams {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(default)]
    pub model: Option<ModelRef>,
}

#[derive(Deserialize)]
pub struct ChatHeadersParams {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
    /// What the host knows of the provider's API (extension).
    #[serde(default)]
    pub api: Option<ApiParams>,
}

/// `{npm?, baseURL?}`: a provider's SDK package and base URL as opencode knows them.
#[derive(Deserialize, Default)]
pub struct ApiParams {
    #[serde(default)]
    pub npm: Option<String>,
    #[serde(rename = "baseURL", default)]
    pub base_url: Option<String>,
}

impl ApiParams {
    pub fn into_api(self) -> crate::balancer::switch::ProviderApi {
        let keep = |s: Option<String>| s.filter(|v| !v.is_empty() && v.len() <= 2048);
        crate::balancer::switch::ProviderApi {
            npm: keep(self.npm),
            base_url: keep(self.base_url),
        }
    }
}

/// `providers.describe` `{providers:[{providerID, npm?, baseURL?}]}`.
#[derive(Deserialize)]
pub struct DescribeParams {
    pub providers: Vec<DescribedProvider>,
}

#[derive(Deserialize)]
pub struct DescribedProvider {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(flatten)]
    pub api: ApiParams,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchBeginParams {
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub header_names: Vec<String>,
    #[serde(default)]
    pub authorization: Option<String>,
}

#[derive(Deserialize)]
pub struct FetchResultParams {
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(default = "one")]
    pub attempt: u32,
    pub status: u16,
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
pub struct AdvanceClockParams {
    pub ms: i64,
}

#[derive(Deserialize)]
pub struct PendingSaveParams {
    pub id: String,
    pub alias: String,
    /// Replace an existing account's credential; without it an alias in use is -32002.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Deserialize)]
pub struct PendingIdParams {
    pub id: String,
}
