//! The pieces of an answer that several hot-path methods share (`chat.headers`, `fetch.begin`,
//! `fetch.result`, `fetch.stream`): a switch, a failure, a credential to sync, a state to strip.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::failover::{FailAnswer, SwitchAnswer, SyncAuth};
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
    pub(super) fn new(s: SwitchAnswer, at_begin: bool) -> Self {
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
    pub(super) fn new(f: FailAnswer, at_begin: bool) -> Self {
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
