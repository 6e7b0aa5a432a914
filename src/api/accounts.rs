//! `accounts.*`: the saved accounts, and a user's changes to one (each is one registry message).

use serde::{Deserialize, Serialize};

use super::ApiResult;
use crate::accounts::{
    ActivateAccount, ListAccounts, RemoveAccount, RenameAccount, ResetCooldown, SaveAccount, SetAccountDisabled,
};
use crate::model::{AccountView, Auth};
use crate::runtime::Runtime;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderFilter {
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountKey {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaveParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
    /// Errors name `auth` and the field, never a value.
    #[serde(deserialize_with = "crate::model::deserialize_auth_param")]
    pub auth: Auth,
    /// Replace an existing account's credential; without it an alias in use is -32002.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenameParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisableParams {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    pub alias: String,
    pub disabled: bool,
}

/// `accounts.remove`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Removed {
    pub removed: bool,
}

impl Runtime {
    pub async fn accounts_list(&self, p: ProviderFilter) -> ApiResult<Vec<AccountView>> {
        Ok(self
            .registry
            .send(ListAccounts {
                provider_id: p.provider_id,
            })
            .await?)
    }

    pub async fn accounts_save(&self, p: SaveParams) -> ApiResult<AccountView> {
        self.ask(SaveAccount {
            provider_id: p.provider_id,
            alias: p.alias,
            auth: p.auth,
            replace: p.replace,
        })
        .await
    }

    pub async fn accounts_rename(&self, p: RenameParams) -> ApiResult<AccountView> {
        self.ask(RenameAccount {
            provider_id: p.provider_id,
            from: p.from,
            to: p.to,
        })
        .await
    }

    pub async fn accounts_remove(&self, p: AccountKey) -> ApiResult<Removed> {
        let removed = self
            .ask(RemoveAccount {
                provider_id: p.provider_id,
                alias: p.alias,
            })
            .await?;
        Ok(Removed { removed })
    }

    pub async fn accounts_activate(&self, p: AccountKey) -> ApiResult<AccountView> {
        self.ask(ActivateAccount {
            provider_id: p.provider_id,
            alias: p.alias,
        })
        .await
    }

    pub async fn accounts_set_disabled(&self, p: DisableParams) -> ApiResult<AccountView> {
        self.ask(SetAccountDisabled {
            provider_id: p.provider_id,
            alias: p.alias,
            disabled: p.disabled,
        })
        .await
    }

    pub async fn accounts_reset_cooldown(&self, p: AccountKey) -> ApiResult<AccountView> {
        self.ask(ResetCooldown {
            provider_id: p.provider_id,
            alias: p.alias,
        })
        .await
    }
}
