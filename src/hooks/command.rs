//! The `/balancer` text command (slash command and agent tool): parse, call, format.

use serde_json::{json, Value};

use super::dispatch::dispatch;
use crate::actors::Runtime;
use crate::format;
use crate::model::{AccountView, PriorityEntry, StoredEvent};

pub const HELP: &str = "\
/balancer commands:
  list                      saved accounts and their state
  status                    balancing, accounts, store
  use <provider> <alias>    make an account its provider's active one
  active <provider>         show a provider's active account
  balancing on|off          let the priority list choose provider/model per message
  priority                  the provider priority list
  usage                     latest quota per account
  events                    recent events
  help                      this text
";

/// Runs one text command; errors come back as text too (this is for people).
pub async fn run(rt: &Runtime, text: &str) -> String {
    match run_inner(rt, text).await {
        Ok(s) => s,
        Err(e) => format!("error: {e}\n"),
    }
}

async fn call(rt: &Runtime, method: &str, params: Value) -> Result<Value, String> {
    dispatch(rt, method, params).await.map_err(|e| e.message)
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

async fn run_inner(rt: &Runtime, text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let now = rt.clock.now_ms();
    match words.as_slice() {
        [] | ["help"] => Ok(HELP.into()),
        ["list"] | ["accounts"] => {
            let list: Vec<AccountView> = decode(call(rt, "accounts.list", json!({})).await?)?;
            Ok(format::accounts(&list, now))
        }
        ["status"] => {
            let s = call(rt, "status", json!({})).await?;
            Ok(format!(
                "opencode-balancer {}\nbalancing: {}\naccounts: {}\nproviders: {}\nstore: {}\n",
                s["version"].as_str().unwrap_or(""),
                if s["balancing"] == json!(true) { "on" } else { "off" },
                s["accounts"],
                s["providers"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
                s["storePath"].as_str().unwrap_or("")
            ))
        }
        ["use", provider, alias] => {
            let v: AccountView =
                decode(call(rt, "accounts.activate", json!({"providerID": provider, "alias": alias})).await?)?;
            Ok(format!("{}/{} is now active\n", v.provider_id, v.alias))
        }
        ["active", provider] => {
            let list: Vec<AccountView> = decode(call(rt, "accounts.list", json!({"providerID": provider})).await?)?;
            Ok(match list.iter().find(|a| a.active) {
                Some(a) => format!("{}/{} ({})\n", a.provider_id, a.alias, format::account_state(a, now)),
                None => format!("{provider} has no active account\n"),
            })
        }
        ["balancing", state @ ("on" | "off")] => {
            call(rt, "balancing.set", json!({"enabled": *state == "on"})).await?;
            Ok(format!("balancing {state}\n"))
        }
        ["balancing"] => {
            let v = call(rt, "balancing.get", json!({})).await?;
            Ok(format!(
                "balancing {}\n",
                if v["enabled"] == json!(true) { "on" } else { "off" }
            ))
        }
        ["priority"] => {
            let list: Vec<PriorityEntry> = decode(call(rt, "priority.list", json!({})).await?)?;
            Ok(format::priority(&list))
        }
        ["usage"] => {
            let list: Vec<AccountView> = decode(call(rt, "accounts.list", json!({})).await?)?;
            let mut out = String::new();
            for a in &list {
                let u = a
                    .usage
                    .as_ref()
                    .map(format::usage_summary)
                    .unwrap_or_else(|| "no usage data yet".into());
                out.push_str(&format!("{}/{}: {u}\n", a.provider_id, a.alias));
            }
            Ok(if out.is_empty() {
                "No saved accounts.\n".into()
            } else {
                out
            })
        }
        ["events"] => {
            let list: Vec<StoredEvent> = decode(call(rt, "events.list", json!({"limit": 20})).await?)?;
            Ok(format::events(&list, now))
        }
        // Only the first word is echoed: the rest may be anything, a key pasted by mistake too.
        [first, ..] => {
            let word: String = first.chars().take(32).collect();
            Err(format!(
                "unknown command '{}'; try `/balancer help`",
                word.escape_debug()
            ))
        }
    }
}
