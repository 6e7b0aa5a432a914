//! `usage.*` and `credentials.lend`: quota readings per account, and the secret of an opencode 2
//! credential lent for them.

use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, Empty, NoParams};
use crate::model::UsageSnapshot;
use crate::runtime::Runtime;
use crate::usage::refresher::{ListUsage, RefreshUsage};

/// `usage.refresh`: every account, one provider's, or one account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RefreshParams {
    #[serde(rename = "providerID", default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// `credentials.lend` `{provider, credentialID, secret}` (a notification): the secret of an
/// opencode 2 credential, for usage readings; kept in memory only. Its `Debug` shows no secret.
#[derive(Debug, Clone, Deserialize)]
pub struct LendParams {
    pub provider: String,
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    pub secret: crate::usage::lent::LentSecret,
}

impl Runtime {
    pub async fn usage_list(&self, _: NoParams) -> ApiResult<Vec<UsageSnapshot>> {
        Ok(self.usage.send(ListUsage).await?)
    }

    pub async fn usage_refresh(&self, p: RefreshParams) -> ApiResult<Vec<UsageSnapshot>> {
        let ask = RefreshUsage {
            provider_id: p.provider_id,
            alias: p.alias.map(|a| crate::model::normalize_alias(&a).unwrap_or(a)),
        };
        Ok(self.usage.send(ask).await??)
    }

    /// Keeps a secret the plugin lent for an opencode 2 credential, in memory, for usage readings.
    pub async fn credentials_lend(&self, p: LendParams) -> ApiResult<Empty> {
        if crate::model::validate_provider(&p.provider).is_none() || p.credential_id.trim().is_empty() {
            return Err(ApiError::InvalidParams(
                "invalid params: provider must be a provider id and credentialID a credential id".into(),
            ));
        }
        self.usage
            .send(crate::usage::refresher::LendCredential {
                provider_id: p.provider,
                credential_id: p.credential_id,
                secret: p.secret,
            })
            .await?;
        Ok(Empty {})
    }
}
