//! `continuity.strip`: the body without the conversation state another account or provider made.

use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult};
use crate::continuity::{detect_api, strip_foreign_state, Edit, Scope};
use crate::runtime::Runtime;

/// `continuity.strip` (extension): the body the host is about to send, and how far it moves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StripParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub body: String,
    pub scope: String,
}

/// `continuity.strip` (extension): the edited body, or none when nothing was removed (send the
/// original bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StripResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub removed: usize,
}

impl Runtime {
    /// The body without the state another account or provider produced (a pure edit: the
    /// sidecar decided, with `stripState`, that it is needed).
    pub async fn continuity_strip(&self, p: StripParams) -> ApiResult<StripResult> {
        let Some(scope) = Scope::parse(&p.scope) else {
            return Err(ApiError::InvalidParams(
                "invalid params: scope must be \"same-provider\" or \"provider-move\"".into(),
            ));
        };
        let Some(api) = detect_api(p.url.as_deref(), p.body.as_bytes()) else {
            return Ok(StripResult { body: None, removed: 0 });
        };
        Ok(match strip_foreign_state(api, p.body.as_bytes(), scope) {
            Edit::Unchanged => StripResult { body: None, removed: 0 },
            Edit::Edited { body, removed } => StripResult {
                body: Some(String::from_utf8(body).map_err(|e| ApiError::Unexpected(e.to_string()))?),
                removed,
            },
        })
    }
}
