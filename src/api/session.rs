//! `session.get`: a read-only look at which provider, model and account a session is on (the
//! TUI's sidebar names the session's account, not the provider's active one).

use super::params::SessionParams;
use super::results::SessionView;
use super::ApiResult;
use crate::failover::SessionOf;
use crate::runtime::Runtime;

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
