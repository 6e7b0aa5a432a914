//! A command line turned into the typed call that answers it and how to show its result.

use anyhow::bail;

use super::run::{Call, Show};
use super::{AccountsCmd, Command, ConfigCmd, PendingCmd, PriorityCmd};
use crate::api::params::*;
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
        Command::Status(f) => plain(Call::Status, f.json),
        Command::Accounts(a) => match a {
            AccountsCmd::List { provider, json } => {
                plain(Call::AccountsList(ProviderFilter { provider_id: provider }), json)
            }
            AccountsCmd::Add {
                provider,
                alias,
                replace,
                force: _,
            } => (
                Call::AccountsAdd {
                    provider_id: provider,
                    alias,
                    replace,
                },
                Show::Account("saved"),
                false,
            ),
            AccountsCmd::Rename { provider, from, to } => {
                let p = RenameParams {
                    provider_id: provider,
                    from,
                    to,
                };
                (Call::AccountsRename(p), Show::Account("renamed"), false)
            }
            AccountsCmd::Remove { provider, alias } => (
                Call::AccountsRemove(key(provider.clone(), alias.clone())),
                Show::Named(format!("account {provider}/{alias}")),
                false,
            ),
            AccountsCmd::Use { provider, alias } => (
                Call::AccountsActivate(key(provider, alias)),
                Show::Account("is now active"),
                false,
            ),
            AccountsCmd::Enable { provider, alias } => (
                Call::AccountsSetDisabled(DisableParams {
                    provider_id: provider,
                    alias,
                    disabled: false,
                }),
                Show::Account("enabled"),
                false,
            ),
            AccountsCmd::Disable { provider, alias } => (
                Call::AccountsSetDisabled(DisableParams {
                    provider_id: provider,
                    alias,
                    disabled: true,
                }),
                Show::Account("disabled"),
                false,
            ),
            AccountsCmd::Reset { provider, alias } => (
                Call::AccountsResetCooldown(key(provider, alias)),
                Show::Account("cooldown cleared"),
                false,
            ),
        },
        Command::Pending(p) => match p {
            PendingCmd::List { json } => plain(Call::PendingList, json),
            PendingCmd::Save { id, alias, replace } => (
                Call::PendingSave(PendingSaveParams { id, alias, replace }),
                Show::Account("saved"),
                false,
            ),
            PendingCmd::Dismiss { id } => (
                Call::PendingDismiss(PendingIdParams { id: id.clone() }),
                Show::Named(format!("pending login {id}")),
                false,
            ),
        },
        Command::Priority(p) => match p {
            PriorityCmd::List { json } => plain(Call::PriorityList, json),
            PriorityCmd::Remove { provider } => {
                plain(Call::PriorityRemove(ProviderParams { provider_id: provider }), false)
            }
            PriorityCmd::Model { provider, model, .. } => plain(
                Call::PrioritySetModel(PriorityModelParams {
                    provider_id: provider,
                    model_id: Some(model),
                }),
                false,
            ),
            PriorityCmd::Move { provider, direction } => plain(
                Call::PriorityMove(PriorityMoveParams {
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
                Call::PrioritySetEnabled(PriorityEnabledParams {
                    provider_id: provider,
                    enabled: true,
                }),
                false,
            ),
            PriorityCmd::Disable { provider } => plain(
                Call::PrioritySetEnabled(PriorityEnabledParams {
                    provider_id: provider,
                    enabled: false,
                }),
                false,
            ),
        },
        Command::Balancing { state, json } => match state.as_str() {
            "status" => plain(Call::BalancingGet, json),
            s => plain(Call::BalancingSet(EnabledParams { enabled: s == "on" }), json),
        },
        Command::Config(c) => match c {
            ConfigCmd::Get { key: Some(key), json } => (Call::SettingsGet, Show::Setting(key), json),
            ConfigCmd::Get { key: None, json } => plain(Call::SettingsGet, json),
            ConfigCmd::Set { key, value } => plain(Call::SettingsSet { key, value }, false),
        },
        Command::Events { limit, kind, json } => plain(
            Call::EventsList(EventsParams {
                limit: Some(limit),
                kind,
            }),
            json,
        ),
        Command::Usage { refresh, json } => plain(if refresh { Call::UsageRefresh } else { Call::UsageList }, json),
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
