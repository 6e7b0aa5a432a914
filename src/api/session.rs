//! `session.get`: a read-only look at which provider, model and account a session is on (the
//! TUI's sidebar names the session's account, not the provider's active one).

use serde::{Deserialize, Serialize};

use super::ApiResult;
use crate::failover::SessionOf;
use crate::runtime::Runtime;

/// `session.get` `{sessionID}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionParams {
    #[serde(rename = "sessionID")]
    pub session_id: String,
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

impl Runtime {
    pub async fn session_get(&self, p: SessionParams) -> ApiResult<SessionView> {
        let binding = self
            .balancer
            .send(SessionOf {
                session_id: p.session_id,
            })
            .await?;
        Ok(binding.map_or_else(SessionView::default, |b| SessionView {
            provider_id: Some(b.model.provider_id),
            model_id: Some(b.model.model_id),
            alias: b.alias,
            moved_to: b.switched_to,
        }))
    }
}
