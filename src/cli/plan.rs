//! A command line turned into the typed call that answers it and how to show its result.

use anyhow::bail;

use super::credential;
use super::run::Call;
use super::show::Show;
use super::{AccountsCmd, Command, ConfigCmd, PendingCmd, PriorityCmd};
use crate::api::methods::*;
use crate::api::{
    AccountKey, ApiError, DisableParams, EnabledParams, EventsParams, NoParams, PendingIdParams, PendingSaveParams,
    PriorityEnabledParams, PriorityModelParams, PriorityMoveParams, ProviderFilter, ProviderParams, RefreshParams,
    RenameParams, SaveParams, SettingParams,
};
use crate::model::PriorityDirection;

fn key(provider: String, alias: String) -> AccountKey {
    AccountKey {
        provider_id: provider,
        alias,
    }
}

pub(super) fn plan(command: Command) -> anyhow::Result<(Call, Show, bool)> {
    let plain = |call, json| (call, Show::Plain, json);
    Ok(match command {
        Command::Status(f) => plain(Call::of::<Status>(NoParams {}), f.json),
        Command::Accounts(a) => match a {
            AccountsCmd::List { provider, json } => {
                plain(Call::of::<AccountsList>(ProviderFilter { provider_id: provider }), json)
            }
            AccountsCmd::Add {
                provider,
                alias,
                replace,
                force: _,
            } => {
                let asked = alias.clone();
                let call = Call::lazy::<AccountsSave>(move || {
                    let auth =
                        credential::read(&provider, &alias).map_err(|e| ApiError::InvalidParams(e.to_string()))?;
                    Ok(SaveParams {
                        provider_id: provider,
                        alias,
                        auth,
                        replace,
                    })
                });
                (call.saving(&asked), Show::Account("saved"), false)
            }
            AccountsCmd::Rename { provider, from, to } => {
                let p = RenameParams {
                    provider_id: provider,
                    from,
                    to,
                };
                (Call::of::<AccountsRename>(p), Show::Account("renamed"), false)
            }
            AccountsCmd::Remove { provider, alias } => (
                Call::of::<AccountsRemove>(key(provider.clone(), alias.clone())),
                Show::Named(format!("account {provider}/{alias}")),
                false,
            ),
            AccountsCmd::Use { provider, alias } => (
                Call::of::<AccountsActivate>(key(provider, alias)),
                Show::Account("is now active"),
                false,
            ),
            AccountsCmd::Enable { provider, alias } => (
                Call::of::<AccountsSetDisabled>(DisableParams {
                    provider_id: provider,
                    alias,
                    disabled: false,
                }),
                Show::Account("enabled"),
                false,
            ),
            AccountsCmd::Disable { provider, alias } => (
                Call::of::<AccountsSetDisabled>(DisableParams {
                    provider_id: provider,
                    alias,
                    disabled: true,
                }),
                Show::Account("disabled"),
                false,
            ),
            AccountsCmd::Reset { provider, alias } => (
                Call::of::<AccountsResetCooldown>(key(provider, alias)),
                Show::Account("cooldown cleared"),
                false,
            ),
        },
        Command::Pending(p) => match p {
            PendingCmd::List { json } => plain(Call::of::<PendingList>(NoParams {}), json),
            PendingCmd::Save { id, alias, replace } => (
                Call::of::<PendingSave>(PendingSaveParams {
                    id,
                    alias: alias.clone(),
                    replace,
                })
                .saving(&alias),
                Show::Account("saved"),
                false,
            ),
            PendingCmd::Dismiss { id } => (
                Call::of::<PendingDismiss>(PendingIdParams { id: id.clone() }),
                Show::Named(format!("pending login {id}")),
                false,
            ),
        },
        Command::Priority(p) => match p {
            PriorityCmd::List { json } => plain(Call::of::<PriorityList>(NoParams {}), json),
            PriorityCmd::Remove { provider } => plain(
                Call::of::<PriorityRemove>(ProviderParams { provider_id: provider }),
                false,
            ),
            PriorityCmd::Model { provider, model, .. } => plain(
                Call::of::<PrioritySetModel>(PriorityModelParams {
                    provider_id: provider,
                    model_id: Some(model),
                }),
                false,
            ),
            PriorityCmd::Move { provider, direction } => plain(
                Call::of::<PriorityMove>(PriorityMoveParams {
                    provider_id: provider,
                    direction: if direction == "up" {
                        PriorityDirection::Up
                    } else {
                        PriorityDirection::Down
                    },
                }),
                false,
            ),
            PriorityCmd::Enable { provider } => plain(
                Call::of::<PrioritySetEnabled>(PriorityEnabledParams {
                    provider_id: provider,
                    enabled: true,
                }),
                false,
            ),
            PriorityCmd::Disable { provider } => plain(
                Call::of::<PrioritySetEnabled>(PriorityEnabledParams {
                    provider_id: provider,
                    enabled: false,
                }),
                false,
            ),
        },
        Command::Balancing { state, json } => match state.as_str() {
            "status" => plain(Call::of::<BalancingGet>(NoParams {}), json),
            s => plain(Call::of::<BalancingSet>(EnabledParams { enabled: s == "on" }), json),
        },
        Command::Config(c) => match c {
            ConfigCmd::Get { key: Some(key), json } => (Call::of::<SettingsGet>(NoParams {}), Show::Setting(key), json),
            ConfigCmd::Get { key: None, json } => plain(Call::of::<SettingsGet>(NoParams {}), json),
            ConfigCmd::Set { key, value } => {
                plain(Call::of::<SettingsSet>(SettingParams::from_text(key, &value)), false)
            }
        },
        Command::Events { limit, kind, json } => plain(
            Call::of::<EventsList>(EventsParams {
                limit: Some(limit),
                kind,
            }),
            json,
        ),
        Command::Usage { refresh, json } => {
            let call = if refresh {
                Call::of::<UsageRefresh>(RefreshParams::default())
            } else {
                Call::of::<UsageList>(NoParams {})
            };
            plain(call, json)
        }
        Command::Serve { .. }
        | Command::Demo
        | Command::Dashboard
        | Command::Doctor(_)
        | Command::Install(_)
        | Command::Uninstall(_)
        | Command::Bench { .. } => {
            bail!("not a store command")
        }
    })
}
