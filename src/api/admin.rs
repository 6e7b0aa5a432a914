//! The typed methods that manage the store: accounts, priority, settings, pending logins, usage,
//! events, status, and the `/balancer` command.

use super::params::*;
use super::results::*;
use super::{ApiResult, PROTOCOL_VERSION, SERVER_NAME, VERSION};
use crate::actors::account_registry::{
    ActivateAccount, ChangeSetting, DismissPending, GetPriority, GetSettings, GetStatus, ListAccounts, MovePriority,
    RemoveAccount, RemovePriority, RenameAccount, ResetCooldown, SaveAccount, SavePending, SetAccountDisabled,
    SetPriorityEnabled, SetPriorityModel,
};
use crate::actors::account_registry::{AccountRegistry, RegistryError};
use crate::actors::usage_refresher::{ListUsage, RefreshUsage};
use crate::actors::Runtime;
use crate::model::{AccountView, PriorityEntry, Setting, Settings, StoredEvent, UsageSnapshot};
use crate::store::PendingView;

impl Runtime {
    /// Sends one user change to the registry; its typed reply once it is committed.
    async fn ask<M, T>(&self, change: M) -> ApiResult<T>
    where
        M: actix::Message<Result = Result<T, RegistryError>> + Send + 'static,
        T: Send + 'static,
        AccountRegistry: actix::Handler<M>,
    {
        Ok(self.registry.send(change).await??)
    }

    pub async fn initialize(&self, _: NoParams) -> ApiResult<InitializeResult> {
        Ok(initialize_result())
    }

    pub async fn shutdown(&self, _: NoParams) -> ApiResult<Empty> {
        Ok(Empty {})
    }

    pub async fn status(&self, _: NoParams) -> ApiResult<StatusResult> {
        let s = self.registry.send(GetStatus).await?;
        Ok(StatusResult {
            version: VERSION.to_string(),
            balancing: s.balancing,
            accounts: s.accounts,
            pending: s.pending,
            providers: s.providers,
            store_path: self.store.path().display().to_string(),
        })
    }

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

    pub async fn balancing_get(&self, _: NoParams) -> ApiResult<Enabled> {
        let s = self.registry.send(GetSettings).await?;
        Ok(Enabled { enabled: s.balancing })
    }

    pub async fn balancing_set(&self, p: EnabledParams) -> ApiResult<Enabled> {
        self.settings_set(Setting::Balancing(p.enabled)).await?;
        Ok(Enabled { enabled: p.enabled })
    }

    pub async fn settings_get(&self, _: NoParams) -> ApiResult<Settings> {
        Ok(self.registry.send(GetSettings).await?)
    }

    pub async fn settings_set(&self, setting: Setting) -> ApiResult<Settings> {
        self.ask(ChangeSetting(setting)).await
    }

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

    pub async fn events_list(&self, p: EventsParams) -> ApiResult<Vec<StoredEvent>> {
        let limit = p.limit.unwrap_or(50).clamp(1, 10_000) as usize;
        self.bus.send(crate::actors::event_bus::Flush).await?;
        Ok(self.store.run(move |s| s.list_events(limit, p.kind.as_deref())).await?)
    }

    pub async fn command_run(&self, p: CommandParams) -> ApiResult<CommandOutput> {
        Ok(CommandOutput {
            output: super::command::run(self, &p.text).await,
        })
    }
}

/// `initialize`'s answer; also given when the store cannot be opened.
pub fn initialize_result() -> InitializeResult {
    InitializeResult {
        server: ServerInfo {
            name: SERVER_NAME.to_string(),
            version: VERSION.to_string(),
        },
        protocol_version: PROTOCOL_VERSION,
    }
}
