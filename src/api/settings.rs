//! `balancing.*` and `settings.*`: reading and changing settings.

use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, NoParams};
use crate::accounts::{ChangeSetting, GetSettings};
use crate::model::{LooseValue, Setting, Settings};
use crate::runtime::Runtime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnabledParams {
    pub enabled: bool,
}

/// `balancing.get`, `balancing.set`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Enabled {
    pub enabled: bool,
}

/// `settings.set` `{key, value}`: the value is read loosely (`"on"`, `"5"`), as typed on a
/// command line; a refusal names the key and what it takes.
#[derive(Debug, Deserialize)]
pub struct SettingParams {
    pub key: String,
    pub value: LooseValue,
}

impl SettingParams {
    /// A setting as typed on a command line (`config set autoSave off`).
    pub fn from_text(key: String, value: &str) -> SettingParams {
        SettingParams {
            key,
            value: LooseValue::from_text(value),
        }
    }
}

impl Runtime {
    pub async fn balancing_get(&self, _: NoParams) -> ApiResult<Enabled> {
        let s = self.registry.send(GetSettings).await?;
        Ok(Enabled { enabled: s.balancing })
    }

    pub async fn balancing_set(&self, p: EnabledParams) -> ApiResult<Enabled> {
        self.change_setting(Setting::Balancing(p.enabled)).await?;
        Ok(Enabled { enabled: p.enabled })
    }

    pub async fn settings_get(&self, _: NoParams) -> ApiResult<Settings> {
        Ok(self.registry.send(GetSettings).await?)
    }

    pub async fn settings_set(&self, p: SettingParams) -> ApiResult<Settings> {
        let setting = Setting::parse(&p.key, &p.value).map_err(|e| ApiError::InvalidParams(e.to_string()))?;
        self.change_setting(setting).await
    }

    /// One setting changed, already typed (the dashboard's toggles, `balancing.set`).
    pub async fn change_setting(&self, setting: Setting) -> ApiResult<Settings> {
        self.ask(ChangeSetting(setting)).await
    }
}
