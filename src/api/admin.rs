//! The typed methods that manage the store: accounts, priority, settings, pending logins, usage,
//! events, status, and the `/balancer` command.

use super::params::*;
use super::results::*;
use super::{ApiError, ApiResult, PROTOCOL_VERSION, SERVER_NAME, VERSION};
use crate::accounts::{GetPriority, GetSettings, GetStatus, ListAccounts, Mutate, MutationReply};
use crate::model::{AccountView, PriorityEntry, Setting, Settings, StoredEvent, UsageSnapshot};
use crate::runtime::Runtime;
use crate::store::PendingView;
use crate::usage::refresher::{ListUsage, RefreshUsage};

/// A registry reply of another kind than the mutation gives: the runtime is broken.
fn unexpected(reply: MutationReply) -> ApiError {
    ApiError::Unexpected(format!("unexpected reply {reply:?}"))
}

impl Runtime {
    async fn mutate(&self, m: Mutate) -> ApiResult<MutationReply> {
        Ok(self.registry.send(m).await??)
    }

    async fn mutate_account(&self, m: Mutate) -> ApiResult<AccountView> {
        match self.mutate(m).await? {
            MutationReply::Account(view) => Ok(*view),
            other => Err(unexpected(other)),
        }
    }

    async fn mutate_priority(&self, m: Mutate) -> ApiResult<Vec<PriorityEntry>> {
        match self.mutate(m).await? {
            MutationReply::Priority(entries) => Ok(entries),
            other => Err(unexpected(other)),
        }
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
        self.mutate_account(Mutate::Save {
            provider_id: p.provider_id,
            alias: p.alias,
            auth: p.auth,
            replace: p.replace,
        })
        .await
    }

    pub async fn accounts_rename(&self, p: RenameParams) -> ApiResult<AccountView> {
        self.mutate_account(Mutate::Rename {
            provider_id: p.provider_id,
            from: p.from,
            to: p.to,
        })
        .await
    }

    pub async fn accounts_remove(&self, p: AccountKey) -> ApiResult<Removed> {
        let m = Mutate::Remove {
            provider_id: p.provider_id,
            alias: p.alias,
        };
        match self.mutate(m).await? {
            MutationReply::Removed(removed) => Ok(Removed { removed }),
            other => Err(unexpected(other)),
        }
    }

    pub async fn accounts_activate(&self, p: AccountKey) -> ApiResult<AccountView> {
        self.mutate_account(Mutate::Activate {
            provider_id: p.provider_id,
            alias: p.alias,
        })
        .await
    }

    pub async fn accounts_set_disabled(&self, p: DisableParams) -> ApiResult<AccountView> {
        self.mutate_account(Mutate::SetDisabled {
            provider_id: p.provider_id,
            alias: p.alias,
            disabled: p.disabled,
        })
        .await
    }

    pub async fn accounts_reset_cooldown(&self, p: AccountKey) -> ApiResult<AccountView> {
        self.mutate_account(Mutate::ResetCooldown {
            provider_id: p.provider_id,
            alias: p.alias,
        })
        .await
    }

    pub async fn priority_list(&self, _: NoParams) -> ApiResult<Vec<PriorityEntry>> {
        Ok(self.registry.send(GetPriority).await?)
    }

    pub async fn priority_set_model(&self, p: PriorityModelParams) -> ApiResult<Vec<PriorityEntry>> {
        self.mutate_priority(Mutate::PriorityModel {
            provider_id: p.provider_id,
            model_id: p.model_id,
        })
        .await
    }

    pub async fn priority_set_enabled(&self, p: PriorityEnabledParams) -> ApiResult<Vec<PriorityEntry>> {
        self.mutate_priority(Mutate::PriorityEnabled {
            provider_id: p.provider_id,
            enabled: p.enabled,
        })
        .await
    }

    pub async fn priority_move(&self, p: PriorityMoveParams) -> ApiResult<Vec<PriorityEntry>> {
        self.mutate_priority(Mutate::PriorityMove {
            provider_id: p.provider_id,
            direction: p.direction,
        })
        .await
    }

    pub async fn priority_remove(&self, p: ProviderParams) -> ApiResult<Vec<PriorityEntry>> {
        self.mutate_priority(Mutate::PriorityRemove {
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
        match self.mutate(Mutate::Setting(setting)).await? {
            MutationReply::Settings(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    pub async fn pending_list(&self, _: NoParams) -> ApiResult<Vec<PendingView>> {
        Ok(self.store.run(|s| s.list_pending()).await?)
    }

    pub async fn pending_save(&self, p: PendingSaveParams) -> ApiResult<AccountView> {
        self.mutate_account(Mutate::SavePending {
            id: p.id,
            alias: p.alias,
            replace: p.replace,
        })
        .await
    }

    pub async fn pending_dismiss(&self, p: PendingIdParams) -> ApiResult<Dismissed> {
        match self.mutate(Mutate::DismissPending { id: p.id }).await? {
            MutationReply::Dismissed(dismissed) => Ok(Dismissed { dismissed }),
            other => Err(unexpected(other)),
        }
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
        self.bus.send(crate::events::Flush).await?;
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
