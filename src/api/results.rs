//! Typed results of every method. Each serialises to its wire answer (docs/protocol.md); the
//! edge turns it into JSON, in-process callers read the fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actors::retry_balancer::{BeginAnswer, FailAnswer, ResultAnswer, SwitchAnswer, SyncAuth};
use crate::model::ModelRef;
use crate::model::{AccountRef, Auth, CredentialRef};

/// The literal `action` member of an answer: one unit variant that encodes as its string, so
/// an untagged answer decodes to the variant whose tag it carries.
macro_rules! action_tag {
    ($($(#[$doc:meta])* $name:ident = $lit:literal;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
            pub enum $name {
                #[serde(rename = $lit)]
                Tag,
            }
        )*
    };
}

action_tag! {
    /// `"switch"`.
    SwitchTag = "switch";
    /// `"fail"`.
    FailTag = "fail";
    /// `"return"`.
    ReturnTag = "return";
    /// `"retry"`.
    RetryTag = "retry";
}

/// `{}`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Empty {}

/// `initialize`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitializeResult {
    pub server: ServerInfo,
    #[serde(rename = "protocolVersion")]
    pub protocol_version: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
}

/// `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    pub version: String,
    pub balancing: bool,
    pub accounts: usize,
    pub pending: usize,
    pub providers: Vec<String>,
    pub store_path: String,
}

/// `accounts.remove`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Removed {
    pub removed: bool,
}

/// `pending.dismiss`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Dismissed {
    pub dismissed: bool,
}

/// `balancing.get`, `balancing.set`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

/// `command.run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandOutput {
    pub output: String,
}

/// `test.advanceClock`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Now {
    pub now: i64,
}

/// `chat.message`: `{model}` when balancing chose another model, else `{}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatMessageResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
}

/// `session.get`: the provider/model a session is on and the account its requests go out as;
/// `{}` when this sidecar has not seen the session (another process serves it, or it is new).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(rename = "modelID", default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The account of its last request, or the one kept for it; absent before its first request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `provider/model` it last moved to because its provider ran dry (`provider_switched`).
    #[serde(rename = "movedTo", default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
}

/// `syncAuth`: `{providerID, auth}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncAuthWire {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub auth: Auth,
}

impl From<SyncAuth> for SyncAuthWire {
    fn from(s: SyncAuth) -> Self {
        SyncAuthWire {
            provider_id: s.provider_id,
            auth: s.auth,
        }
    }
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
    /// Extension: an opening asked ahead stands this many ms unless an event or notification
    /// says a pick may have changed.
    #[serde(rename = "validMs", default, skip_serializing_if = "Option::is_none")]
    pub valid_ms: Option<u64>,
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

/// `stripState: {scope}` (extension, docs/continuity.md): send the body without the conversation
/// state another account (`same-provider`) or provider (`provider-move`) produced — the host asks
/// `continuity.strip` for the edited bytes. Absent: the body goes out byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripState {
    pub scope: String,
}

impl StripState {
    pub fn of(scope: Option<crate::continuity::Scope>) -> Option<StripState> {
        scope.map(|s| StripState {
            scope: s.as_str().to_string(),
        })
    }
}

/// `{action:"switch", account, modelID, url, setHeaders, removeHeaders, body:{set, remove},
/// syncAuth?}`; at `fetch.begin` also `passthrough:true`, which a plugin that does not know the
/// action follows (the request goes out untouched, as before).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwitchWire {
    pub action: SwitchTag,
    pub account: AccountRef,
    #[serde(rename = "modelID")]
    pub model_id: String,
    pub url: String,
    pub set_headers: BTreeMap<String, String>,
    pub remove_headers: Vec<String>,
    /// Extension: the target account is an opencode 2 credential (as at `fetch.begin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialRef>,
    pub body: BodyEdit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_auth: Option<SyncAuthWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_state: Option<StripState>,
}

/// The request body's edit for a switch: members to set and to remove.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BodyEdit {
    pub set: BTreeMap<String, Value>,
    pub remove: Vec<String>,
}

impl SwitchWire {
    fn new(s: SwitchAnswer, at_begin: bool) -> Self {
        SwitchWire {
            action: SwitchTag::Tag,
            account: s.account,
            model_id: s.model_id,
            url: s.url,
            set_headers: s.set_headers,
            remove_headers: s.remove_headers,
            credential: s.credential,
            body: BodyEdit {
                set: s.body_set,
                remove: s.body_remove,
            },
            sync_auth: s.sync_auth.map(SyncAuthWire::from),
            passthrough: at_begin.then_some(true),
            strip_state: StripState::of(s.strip),
        }
    }
}

/// `{action:"fail", status, message, resubmit?:{sessionID, providerID, modelID, message}}`; at
/// `fetch.begin` also `passthrough:true`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailWire {
    pub action: FailTag,
    pub status: u16,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resubmit: Option<ResubmitWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResubmitWire {
    #[serde(rename = "sessionID")]
    pub session_id: String,
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
    pub message: String,
}

impl FailWire {
    fn new(f: FailAnswer, at_begin: bool) -> Self {
        FailWire {
            action: FailTag::Tag,
            status: f.status,
            message: f.message,
            resubmit: f.resubmit.map(|r| ResubmitWire {
                session_id: r.session_id,
                provider_id: r.model.provider_id,
                model_id: r.model.model_id,
                message: r.message,
            }),
            passthrough: at_begin.then_some(true),
        }
    }
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

impl From<crate::actors::retry_balancer::StreamAnswer> for StreamResult {
    fn from(answer: crate::actors::retry_balancer::StreamAnswer) -> Self {
        use crate::actors::retry_balancer::StreamAnswer;
        match answer {
            StreamAnswer::Hold => StreamResult::Step { action: "hold".into() },
            StreamAnswer::Forward => StreamResult::Step {
                action: "forward".into(),
            },
            StreamAnswer::Refused(r) => StreamResult::Refused(Box::new(r.into())),
        }
    }
}

/// `continuity.strip` (extension): the edited body, or none when nothing was removed (send the
/// original bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StripResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub removed: usize,
}
