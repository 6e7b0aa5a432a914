//! The hot path: `fetch.begin`, `fetch.result` and `fetch.stream`, each request's begin, its
//! outcome and the first events of its stream. Each is one message to the retry balancer.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, FailWire, RetryTag, ReturnTag, StripState, SwitchWire, SyncAuthWire};
use crate::failover::rules::headers::AuthorizationHint;
use crate::failover::{BeginAnswer, FetchBegin, FetchResult, FetchStream, RequestShape, ResultAnswer};
use crate::model::{AccountRef, CredentialRef};
use crate::runtime::Runtime;

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

impl ShapeParams {
    /// Names lowercased; `authorization` is `other` or else a bearer.
    pub(super) fn into_shape(self) -> RequestShape {
        RequestShape {
            url: self.url.unwrap_or_default(),
            header_names: self.header_names.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            authorization: self.authorization.as_deref().map(|a| match a {
                "other" => AuthorizationHint::Other,
                _ => AuthorizationHint::Bearer,
            }),
        }
    }
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

fn one() -> u32 {
    1
}

/// `fetch.begin`. Untagged: the variants are tried in order when decoding, so the ones with an
/// `action` tag come before `Use` and `Passthrough` (a `switch` at begin carries `passthrough` too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BeginResult {
    Switch(Box<SwitchWire>),
    Fail(FailWire),
    /// `{account, setHeaders, removeHeaders?}`.
    Use {
        account: AccountRef,
        #[serde(rename = "setHeaders")]
        set_headers: BTreeMap<String, String>,
        #[serde(rename = "removeHeaders", default, skip_serializing_if = "Vec::is_empty")]
        remove_headers: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credential: Option<CredentialRef>,
        #[serde(rename = "stripState", default, skip_serializing_if = "Option::is_none")]
        strip_state: Option<StripState>,
    },
    /// `{passthrough:true}`.
    Passthrough {
        passthrough: bool,
    },
}

impl From<BeginAnswer> for BeginResult {
    fn from(answer: BeginAnswer) -> Self {
        match answer {
            BeginAnswer::Passthrough => BeginResult::Passthrough { passthrough: true },
            BeginAnswer::Use {
                account,
                headers,
                strip,
            } => BeginResult::Use {
                account,
                set_headers: headers.set,
                remove_headers: headers.remove,
                credential: headers.credential,
                strip_state: StripState::of(strip),
            },
            BeginAnswer::Switch(s) => BeginResult::Switch(Box::new(SwitchWire::new(*s, true))),
            BeginAnswer::Fail(f) => BeginResult::Fail(FailWire::new(f, true)),
        }
    }
}

/// `fetch.result`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FetchResultAnswer {
    /// `{action:"return"}`.
    Return {
        action: ReturnTag,
    },
    /// `{action:"retry", account, setHeaders, removeHeaders?, syncAuth?}`.
    Retry {
        action: RetryTag,
        account: AccountRef,
        #[serde(rename = "setHeaders")]
        set_headers: BTreeMap<String, String>,
        #[serde(rename = "removeHeaders", default, skip_serializing_if = "Vec::is_empty")]
        remove_headers: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credential: Option<CredentialRef>,
        #[serde(rename = "syncAuth", default, skip_serializing_if = "Option::is_none")]
        sync_auth: Option<SyncAuthWire>,
        #[serde(rename = "stripState", default, skip_serializing_if = "Option::is_none")]
        strip_state: Option<StripState>,
    },
    Switch(Box<SwitchWire>),
    Fail(FailWire),
}

impl FetchResultAnswer {
    /// Whether the host should send the request again (`retry`).
    pub fn is_retry(&self) -> bool {
        matches!(self, FetchResultAnswer::Retry { .. })
    }
}

impl From<ResultAnswer> for FetchResultAnswer {
    fn from(answer: ResultAnswer) -> Self {
        match answer {
            ResultAnswer::Return => FetchResultAnswer::Return { action: ReturnTag::Tag },
            ResultAnswer::Retry {
                account,
                headers,
                sync_auth,
                strip,
            } => FetchResultAnswer::Retry {
                action: RetryTag::Tag,
                account,
                set_headers: headers.set,
                remove_headers: headers.remove,
                credential: headers.credential,
                sync_auth: sync_auth.map(|s| SyncAuthWire::from(*s)),
                strip_state: StripState::of(strip),
            },
            ResultAnswer::Switch(s) => FetchResultAnswer::Switch(Box::new(SwitchWire::new(*s, false))),
            ResultAnswer::Fail(f) => FetchResultAnswer::Fail(FailWire::new(f, false)),
        }
    }
}

/// `fetch.stream` (extension): `{action:"hold"}`, `{action:"forward"}`, or — for a refusal before
/// any content — exactly what `fetch.result` answers for that status.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StreamResult {
    Step { action: String },
    Refused(Box<FetchResultAnswer>),
}

impl From<crate::failover::StreamAnswer> for StreamResult {
    fn from(answer: crate::failover::StreamAnswer) -> Self {
        use crate::failover::StreamAnswer;
        match answer {
            StreamAnswer::Hold => StreamResult::Step { action: "hold".into() },
            StreamAnswer::Forward => StreamResult::Step {
                action: "forward".into(),
            },
            StreamAnswer::Refused(r) => StreamResult::Refused(Box::new(r.into())),
        }
    }
}

impl Runtime {
    pub async fn fetch_begin(&self, p: FetchBeginParams) -> ApiResult<BeginResult> {
        let shape = ShapeParams {
            url: Some(p.url),
            header_names: p.header_names,
            authorization: p.authorization,
        };
        let answer = self
            .balancer
            .send(FetchBegin {
                request_id: p.request_id,
                shape: shape.into_shape(),
            })
            .await?
            .map_err(|e| ApiError::UnknownRequest(e.to_string()))?;
        Ok(answer.into())
    }

    pub async fn fetch_result(&self, p: FetchResultParams) -> ApiResult<FetchResultAnswer> {
        let headers = p
            .headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let answer = self
            .balancer
            .send(FetchResult {
                request_id: p.request_id,
                attempt: p.attempt,
                status: p.status,
                headers,
                body: p.body,
                sent: p.sent.map(ShapeParams::into_shape),
            })
            .await?
            .map_err(|e| ApiError::UnknownRequest(e.to_string()))?;
        Ok(answer.into())
    }

    /// The first events of a 2xx event stream: hold, forward, or the refusal's `fetch.result` answer.
    pub async fn fetch_stream(&self, p: FetchStreamParams) -> ApiResult<StreamResult> {
        let max = crate::continuity::stream::LOOKAHEAD_MAX_EVENTS;
        if p.events.len() > max {
            return Err(ApiError::InvalidParams(format!(
                "invalid params: events: at most {max}"
            )));
        }
        let answer = self
            .balancer
            .send(FetchStream {
                request_id: p.request_id,
                attempt: p.attempt,
                events: p.events.into_iter().map(|e| (e.event, e.data)).collect(),
                headers: p
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
                sent: p.sent.map(ShapeParams::into_shape),
            })
            .await?
            .map_err(|e| ApiError::UnknownRequest(e.to_string()))?;
        Ok(answer.into())
    }
}
