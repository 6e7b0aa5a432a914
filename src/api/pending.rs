//! `pending.*`: logins captured while autoSave is off, waiting to be saved or dismissed.

use serde::{Deserialize, Serialize};

use super::{ApiResult, NoParams};
use crate::accounts::{DismissPending, SavePending};
use crate::model::AccountView;
use crate::runtime::Runtime;
use crate::store::PendingView;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSaveParams {
    pub id: String,
    pub alias: String,
    /// Replace an existing account's credential; without it an alias in use is -32002.
    #[serde(default)]
    pub replace: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingIdParams {
    pub id: String,
}

/// `pending.dismiss`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Dismissed {
    pub dismissed: bool,
}

impl Runtime {
    pub async fn pending_list(&self, _: NoParams) -> ApiResult<Vec<PendingView>> {
        Ok(self.store.run(|s| s.list_pending()).await?)
    }

    pub async fn pending_save(&self, p: PendingSaveParams) -> ApiResult<AccountView> {
        self.ask(SavePending {
            id: p.id,
            alias: p.alias,
            replace: p.replace,
        })
        .await
    }

    pub async fn pending_dismiss(&self, p: PendingIdParams) -> ApiResult<Dismissed> {
        let dismissed = self.ask(DismissPending { id: p.id }).await?;
        Ok(Dismissed { dismissed })
    }
}
