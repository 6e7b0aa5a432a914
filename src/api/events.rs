//! `events.list`: recent events, newest first.

use serde::{Deserialize, Serialize};

use super::ApiResult;
use crate::model::StoredEvent;
use crate::runtime::Runtime;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Runtime {
    pub async fn events_list(&self, p: EventsParams) -> ApiResult<Vec<StoredEvent>> {
        let limit = p.limit.unwrap_or(50).clamp(1, 10_000) as usize;
        self.bus.send(crate::events::Flush).await?;
        Ok(self.store.run(move |s| s.list_events(limit, p.kind.as_deref())).await?)
    }
}
