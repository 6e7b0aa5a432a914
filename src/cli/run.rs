//! Runs a CLI command: starts the runtime in-process on the store, calls the same methods the
//! sidecar answers, prints the result for people or as JSON.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};

use super::{AccountsCmd, Command, ConfigCmd, PendingCmd, PriorityCmd};
use crate::actors::Runtime;
use crate::clock::SharedClock;
use crate::format;
use crate::hooks::dispatch::dispatch;
use crate::hooks::wire::{RpcError, ACCOUNT_EXISTS};
use crate::model::{normalize_alias, AccountView, Auth, PriorityEntry, StoredEvent, UsageSnapshot};

/// How a result is shown to a person.
enum Show {
    Accounts,
    Account(&'static str),
    Priority,
    Events,
    Status,
    Settings(Option<String>),
    Balancing,
    Removed,
    Pending,
    Dismissed,
    Usage,
}

/// Runs a store command (not serve/demo/install/bench) and returns its output text.
pub fn run(store: &Path, clock: SharedClock, command: Command) -> anyhow::Result<String> {
    let (method, params, show, json_out) = plan(command)?;
    let store = store.to_path_buf();
    let sys = actix::System::new();
    let result = sys.block_on(async move {
        let rt = Runtime::start(&store, clock.clone()).map_err(|e| anyhow!("{e}"))?;
        let asked = params["alias"].as_str().and_then(normalize_alias);
        let out = dispatch(&rt, method, params).await;
        rt.flush().await;
        out.map_err(|e| anyhow!("{}{}", e.message, replace_hint(&e, asked.as_deref())))
            .map(|v| (v, clock.now_ms()))
    });
    let (value, now) = result?;
    if json_out {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    Ok(match show {
        Show::Accounts => format::accounts(&serde_json::from_value::<Vec<AccountView>>(value)?, now),
        Show::Account(verb) => {
            let a: AccountView = serde_json::from_value(value)?;
            format!("{}/{} {verb}\n", a.provider_id, a.alias)
        }
        Show::Priority => format::priority(&serde_json::from_value::<Vec<PriorityEntry>>(value)?),
        Show::Events => format::events(&serde_json::from_value::<Vec<StoredEvent>>(value)?, now),
        Show::Status => format!(
            "opencode-balancer {}\nbalancing: {}\naccounts: {} ({} pending)\nproviders: {}\nstore: {}\n",
            value["version"].as_str().unwrap_or(""),
            on_off(&value["balancing"]),
            value["accounts"],
            value["pending"],
            value["providers"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            value["storePath"].as_str().unwrap_or(""),
        ),
        Show::Settings(Some(key)) => match value.get(&key) {
            Some(v) => format!("{}\n", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())),
            None => bail!("unknown setting '{key}'"),
        },
        Show::Settings(None) => value
            .as_object()
            .map(|m| m.iter().map(|(k, v)| format!("{k} = {v}\n")).collect())
            .unwrap_or_default(),
        Show::Usage => crate::usage::report::table(&serde_json::from_value::<Vec<UsageSnapshot>>(value)?, now),
        Show::Balancing => format!("balancing {}\n", on_off(&value["enabled"])),
        Show::Pending => {
            let list = value.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                "No pending logins.\n".into()
            } else {
                list.iter()
                    .map(|p| {
                        format!(
                            "{}  {}  {}  captured {}\n",
                            p["id"].as_str().unwrap_or(""),
                            p["providerID"].as_str().unwrap_or(""),
                            p["authType"].as_str().unwrap_or(""),
                            format::relative(p["capturedAt"].as_i64().unwrap_or(now), now)
                        )
                    })
                    .collect()
            }
        }
        Show::Dismissed => {
            if value["dismissed"] == json!(true) {
                "dismissed\n".into()
            } else {
                bail!("no such pending login")
            }
        }
        Show::Removed => {
            if value["removed"] == json!(true) {
                "removed\n".into()
            } else {
                bail!("no such account")
            }
        }
    })
}

fn on_off(v: &Value) -> &'static str {
    if v == &json!(true) {
        "on"
    } else {
        "off"
    }
}

/// How to go on when a save was refused because its own alias is in use (not when the
/// credential is saved under another alias: replacing would not help there).
fn replace_hint(e: &RpcError, asked: Option<&str>) -> &'static str {
    let taken = e.data.as_ref().and_then(|d| d["alias"].as_str());
    if e.code == ACCOUNT_EXISTS && asked.is_some() && taken == asked {
        "; nothing was changed (add --replace to replace its credential)"
    } else {
        ""
    }
}

/// The most a credential on stdin may be; one byte more is refused, never cut.
pub const MAX_CREDENTIAL_BYTES: u64 = 1024 * 1024;

fn read_credential() -> anyhow::Result<Auth> {
    read_credential_from(std::io::stdin())
}

/// Reads at most one byte over the limit, so oversize input is noticed without reading it all.
fn read_credential_from(input: impl Read) -> anyhow::Result<Auth> {
    let mut bytes = Vec::new();
    input
        .take(MAX_CREDENTIAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .context("reading the credential from standard input")?;
    if bytes.len() as u64 > MAX_CREDENTIAL_BYTES {
        bail!("the credential on standard input is larger than 1 MiB; nothing was saved");
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("the credential on standard input is not UTF-8 text; nothing was saved"))?;
    Auth::from_user_input(&text).map_err(|e| anyhow!("{e}"))
}

fn key(provider: &str, alias: &str) -> Value {
    json!({"providerID": provider, "alias": alias})
}

fn plan(command: Command) -> anyhow::Result<(&'static str, Value, Show, bool)> {
    Ok(match command {
        Command::Status(f) => ("status", json!({}), Show::Status, f.json),
        Command::Accounts(a) => match a {
            AccountsCmd::List { provider, json } => {
                ("accounts.list", json!({"providerID": provider}), Show::Accounts, json)
            }
            AccountsCmd::Add {
                provider,
                alias,
                replace,
            } => {
                let auth = read_credential()?;
                (
                    "accounts.save",
                    json!({"providerID": provider, "alias": alias, "auth": auth, "replace": replace}),
                    Show::Account("saved"),
                    false,
                )
            }
            AccountsCmd::Rename { provider, from, to } => (
                "accounts.rename",
                json!({"providerID": provider, "from": from, "to": to}),
                Show::Account("renamed"),
                false,
            ),
            AccountsCmd::Remove { provider, alias } => {
                ("accounts.remove", key(&provider, &alias), Show::Removed, false)
            }
            AccountsCmd::Use { provider, alias } => (
                "accounts.activate",
                key(&provider, &alias),
                Show::Account("is now active"),
                false,
            ),
            AccountsCmd::Enable { provider, alias } => {
                let mut p = key(&provider, &alias);
                p["disabled"] = json!(false);
                ("accounts.setDisabled", p, Show::Account("enabled"), false)
            }
            AccountsCmd::Disable { provider, alias } => {
                let mut p = key(&provider, &alias);
                p["disabled"] = json!(true);
                ("accounts.setDisabled", p, Show::Account("disabled"), false)
            }
            AccountsCmd::Reset { provider, alias } => (
                "accounts.resetCooldown",
                key(&provider, &alias),
                Show::Account("cooldown cleared"),
                false,
            ),
        },
        Command::Pending(p) => match p {
            PendingCmd::List { json } => ("pending.list", json!({}), Show::Pending, json),
            PendingCmd::Save { id, alias, replace } => (
                "pending.save",
                json!({"id": id, "alias": alias, "replace": replace}),
                Show::Account("saved"),
                false,
            ),
            PendingCmd::Dismiss { id } => ("pending.dismiss", json!({"id": id}), Show::Dismissed, false),
        },
        Command::Priority(p) => match p {
            PriorityCmd::List { json } => ("priority.list", json!({}), Show::Priority, json),
            PriorityCmd::Model { provider, model } => (
                "priority.setModel",
                json!({"providerID": provider, "modelID": model}),
                Show::Priority,
                false,
            ),
            PriorityCmd::Move { provider, direction } => {
                let d = if direction == "up" { -1 } else { 1 };
                (
                    "priority.move",
                    json!({"providerID": provider, "direction": d}),
                    Show::Priority,
                    false,
                )
            }
            PriorityCmd::Enable { provider } => (
                "priority.setEnabled",
                json!({"providerID": provider, "enabled": true}),
                Show::Priority,
                false,
            ),
            PriorityCmd::Disable { provider } => (
                "priority.setEnabled",
                json!({"providerID": provider, "enabled": false}),
                Show::Priority,
                false,
            ),
        },
        Command::Balancing { state, json } => match state.as_str() {
            "status" => ("balancing.get", json!({}), Show::Balancing, json),
            s => ("balancing.set", json!({"enabled": s == "on"}), Show::Balancing, json),
        },
        Command::Config(c) => match c {
            ConfigCmd::Get { key, json } => ("settings.get", json!({}), Show::Settings(key), json),
            ConfigCmd::Set { key, value } => (
                "settings.set",
                json!({"key": key, "value": crate::model::Settings::parse_cli_value(&value)}),
                Show::Settings(None),
                false,
            ),
        },
        Command::Events { limit, kind, json } => {
            ("events.list", json!({"limit": limit, "type": kind}), Show::Events, json)
        }
        Command::Usage { refresh, json } => (
            if refresh { "usage.refresh" } else { "usage.list" },
            json!({}),
            Show::Usage,
            json,
        ),
        Command::Serve { .. }
        | Command::Demo
        | Command::Dashboard
        | Command::Doctor
        | Command::Install(_)
        | Command::Uninstall(_)
        | Command::Bench { .. } => {
            bail!("not a store command")
        }
    })
}
