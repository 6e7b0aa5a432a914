//! `priority.*`: the provider priority list balancing picks from.

use serde::{Deserialize, Serialize};

use super::{ApiResult, NoParams};
use crate::accounts::{GetPriority, MovePriority, RemovePriority, SetPriorityEnabled, SetPriorityModel};
use crate::model::PriorityEntry;
use crate::runtime::Runtime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorityModelParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorityEnabledParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub enabled: bool,
}

/// One provider (`priority.remove`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorityMoveParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    /// `-1` (up) or `1` (down); anything else is refused as the params are decoded.
    pub direction: crate::model::PriorityDirection,
}

impl Runtime {
    pub async fn priority_list(&self, _: NoParams) -> ApiResult<Vec<PriorityEntry>> {
        Ok(self.registry.send(GetPriority).await?)
    }

    pub async fn priority_set_model(&self, p: PriorityModelParams) -> ApiResult<Vec<PriorityEntry>> {
        self.ask(SetPriorityModel {
            provider_id: p.provider_id,
            model_id: p.model_id,
        })
        .await
    }

    pub async fn priority_set_enabled(&self, p: PriorityEnabledParams) -> ApiResult<Vec<PriorityEntry>> {
        self.ask(SetPriorityEnabled {
            provider_id: p.provider_id,
            enabled: p.enabled,
        })
        .await
    }

    pub async fn priority_move(&self, p: PriorityMoveParams) -> ApiResult<Vec<PriorityEntry>> {
        self.ask(MovePriority {
            provider_id: p.provider_id,
            direction: p.direction,
        })
        .await
    }

    pub async fn priority_remove(&self, p: ProviderParams) -> ApiResult<Vec<PriorityEntry>> {
        self.ask(RemovePriority {
            provider_id: p.provider_id,
        })
        .await
    }
}
