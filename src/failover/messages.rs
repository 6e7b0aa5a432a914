//! Every message the retry balancer answers, and the answers it gives: the hot path's
//! `ChatHeaders` → `FetchBegin` → `FetchResult` / `FetchStream` of one request, the session's
//! `ChatMessage` and `SessionOf`, and `DescribeProviders`. The handlers live beside the state they
//! change (`attempt`, `continuity`, `provider_switch`, `lookup`, `chat`).

use std::collections::{BTreeMap, HashMap};

use actix::prelude::*;
use serde_json::Value;

use crate::continuity::Scope;
use crate::failover::rules::headers::{AuthorizationHint, HeaderPlan};
use crate::failover::rules::provider_move::ProviderApi;
use crate::model::{AccountRef, Auth, ModelRef};

#[derive(Message)]
#[rtype(result = "HeadersAnswer")]
pub struct ChatHeaders {
    pub session_id: String,
    pub provider_id: String,
    pub model_id: String,
    /// What the host knows of the provider's API (its SDK package, base URL), for moves.
    pub api: Option<ProviderApi>,
    /// The request the host expects to send: answered with its credential headers (`begin`).
    pub fetch: Option<RequestShape>,
}

/// The parts of a request its credential headers (and a move) depend on, as `fetch.begin` takes
/// them; `url` empty when the host did not say.
#[derive(Debug, Clone, Default)]
pub struct RequestShape {
    pub url: String,
    pub header_names: Vec<String>,
    pub authorization: Option<AuthorizationHint>,
}

#[derive(Debug, Default)]
pub struct HeadersAnswer {
    pub request_id: Option<String>,
    pub sync_auth: Option<SyncAuth>,
    /// What `fetch.begin` answers for the expected request (only when one was said).
    pub begin: Option<(AccountRef, HeaderPlan, Option<Scope>)>,
}

#[derive(Message)]
#[rtype(result = "Result<BeginAnswer, UnknownRequest>")]
pub struct FetchBegin {
    pub request_id: String,
    /// The URL it goes to and its headers' names.
    pub shape: RequestShape,
}

#[derive(Debug)]
pub enum BeginAnswer {
    Passthrough,
    /// Send it to another provider instead (its own provider is dry).
    Switch(Box<SwitchAnswer>),
    /// Answer the host at once with this final error.
    Fail(FailAnswer),
    Use {
        account: AccountRef,
        headers: HeaderPlan,
        strip: Option<Scope>,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("unknown request id")]
pub struct UnknownRequest;

#[derive(Message, Clone)]
#[rtype(result = "Result<ResultAnswer, UnknownRequest>")]
pub struct FetchResult {
    pub request_id: String,
    pub attempt: u32,
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Option<String>,
    /// The request as sent, when the host did not ask `fetch.begin` for it.
    pub sent: Option<RequestShape>,
}

#[derive(Debug)]
pub enum ResultAnswer {
    Return,
    Retry {
        account: AccountRef,
        headers: HeaderPlan,
        sync_auth: Option<Box<SyncAuth>>,
        /// Send the body without the state another account produced (docs/continuity.md).
        strip: Option<Scope>,
    },
    /// Send it again to another provider (this one is dry).
    Switch(Box<SwitchAnswer>),
    /// Give the host this final error instead of the refused answer.
    Fail(FailAnswer),
}

/// The first events of a 2xx event stream the host held (`fetch.stream`): a refusal among them
/// is handled like the status it stands for; else the host forwards or keeps holding.
#[derive(Message)]
#[rtype(result = "Result<StreamAnswer, UnknownRequest>")]
pub struct FetchStream {
    pub request_id: String,
    pub attempt: u32,
    /// `(event name, data)` of each held event, in order.
    pub events: Vec<(Option<String>, String)>,
    pub headers: HashMap<String, String>,
    pub sent: Option<RequestShape>,
}

#[derive(Debug)]
pub enum StreamAnswer {
    /// Nothing seen says what the stream is yet: hold on.
    Hold,
    /// Content (or the request's own error) came first: forward what is held and the rest.
    Forward,
    /// A refusal before content: what `fetch.result` answers for it.
    Refused(ResultAnswer),
}

/// `syncAuth`: the credential the host should write as its own.
#[derive(Debug, Clone)]
pub struct SyncAuth {
    pub provider_id: String,
    pub auth: Auth,
}

#[derive(Message)]
#[rtype(result = "Option<ModelRef>")]
pub struct ChatMessage {
    pub session_id: String,
    pub model: Option<ModelRef>,
}

/// What the balancer knows of one session: the model of its last message or request, the account
/// its last request went out as (or the one kept for it), and the provider/model it last moved to.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionBinding {
    pub model: ModelRef,
    pub alias: Option<String>,
    pub switched_to: Option<String>,
}

#[derive(Message)]
#[rtype(result = "Option<SessionBinding>")]
pub struct SessionOf {
    pub session_id: String,
}

/// What the plugin learns of providers from opencode (config, hooks): their SDK and address.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DescribeProviders {
    pub providers: Vec<(String, ProviderApi)>,
}

/// Send the request to another provider instead.
#[derive(Debug)]
pub struct SwitchAnswer {
    pub account: AccountRef,
    pub model_id: String,
    pub url: String,
    pub set_headers: BTreeMap<String, String>,
    pub remove_headers: Vec<String>,
    /// The target account is an opencode 2 credential: the host sets its secret.
    pub credential: Option<crate::model::CredentialRef>,
    pub body_set: BTreeMap<String, Value>,
    pub body_remove: Vec<String>,
    pub sync_auth: Option<SyncAuth>,
    /// Always a provider move: replayed state of the first provider never goes to the next.
    pub strip: Option<crate::continuity::Scope>,
}

/// Answer the host at once with this final error.
#[derive(Debug)]
pub struct FailAnswer {
    pub status: u16,
    pub message: String,
    /// Where the host may send the user's message again itself (TUI, serve), and what to say then.
    pub resubmit: Option<Resubmit>,
}

#[derive(Debug)]
pub struct Resubmit {
    pub session_id: String,
    pub model: ModelRef,
    pub message: String,
}
