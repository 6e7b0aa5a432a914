//! `chat.message`, `chat.headers` and `providers.describe`: what a message will be sent with (its
//! model, its account), before its requests go out. Each is one message to the retry balancer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, Empty, ShapeParams, StripState, SyncAuthWire};
use crate::failover::rules::headers::decisive_headers;
use crate::failover::rules::outbound::ConfiguredHeaders;
use crate::failover::{ChatHeaders, ChatMessage, DescribeProviders};
use crate::model::{AccountRef, CredentialRef, ModelRef};
use crate::runtime::Runtime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatMessageParams {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
}

/// `chat.message`: `{model}` when balancing chose another model, else `{}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatMessageResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
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
}

/// `chat.headers`: `{requestID?, syncAuth?, begin?}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatHeadersResult {
    #[serde(rename = "requestID", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "syncAuth", default, skip_serializing_if = "Option::is_none")]
    pub sync_auth: Option<SyncAuthWire>,
    /// The `fetch.begin` answer for the request the host said it expects (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin: Option<PreparedBegin>,
}

/// `{account, setHeaders, removeHeaders?, watch}`: what `fetch.begin` would answer for the
/// expected request. `watch` names the headers the answer depends on: a request that has the
/// same of them (and the same `authorization` kind) as the expected one may use it as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedBegin {
    pub account: AccountRef,
    pub set_headers: BTreeMap<String, String>,
    /// Extension: the account is an opencode 2 credential; the host sets its secret (issue 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_headers: Vec<String>,
    pub watch: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_state: Option<StripState>,
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
    pub fn into_api(self) -> crate::failover::rules::provider_move::ProviderApi {
        let keep = |s: Option<String>| s.filter(|v| !v.is_empty() && v.len() <= 2048);
        crate::failover::rules::provider_move::ProviderApi {
            npm: keep(self.npm),
            base_url: keep(self.base_url),
            headers: self.headers,
        }
    }
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

impl Runtime {
    pub async fn chat_message(&self, p: ChatMessageParams) -> ApiResult<ChatMessageResult> {
        let model = self
            .balancer
            .send(ChatMessage {
                session_id: p.session_id,
                model: p.model,
            })
            .await?;
        Ok(ChatMessageResult { model })
    }

    pub async fn chat_headers(&self, p: ChatHeadersParams) -> ApiResult<ChatHeadersResult> {
        let a = self
            .balancer
            .send(ChatHeaders {
                session_id: p.session_id,
                provider_id: p.provider_id,
                model_id: p.model_id,
                api: p.api.map(ApiParams::into_api),
                fetch: p.fetch.map(ShapeParams::into_shape),
            })
            .await?;
        Ok(ChatHeadersResult {
            request_id: a.request_id,
            sync_auth: a.sync_auth.map(SyncAuthWire::from),
            begin: a.begin.map(|(account, headers, strip)| PreparedBegin {
                account,
                set_headers: headers.set,
                remove_headers: headers.remove,
                credential: headers.credential,
                watch: decisive_headers(),
                strip_state: StripState::of(strip),
            }),
        })
    }

    pub async fn providers_describe(&self, p: DescribeParams) -> ApiResult<Empty> {
        if p.providers.len() > 1000 {
            return Err(ApiError::InvalidParams(
                "invalid params: providers: at most 1000".into(),
            ));
        }
        let providers = p
            .providers
            .into_iter()
            .map(|d| (d.provider_id, d.api.into_api()))
            .collect();
        self.balancer.send(DescribeProviders { providers }).await?;
        Ok(Empty {})
    }
}
