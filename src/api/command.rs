//! `command.run`: the `/balancer` text command (slash command and agent tool): parse, call the
//! typed API, format.

use serde::{Deserialize, Serialize};

use super::{AccountKey, ApiError, ApiResult, EnabledParams, EventsParams, NoParams, ProviderFilter};
use crate::format;
use crate::runtime::Runtime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandParams {
    pub text: String,
}

/// `command.run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandOutput {
    pub output: String,
}

impl Runtime {
    pub async fn command_run(&self, p: CommandParams) -> ApiResult<CommandOutput> {
        Ok(CommandOutput {
            output: run(self, &p.text).await,
        })
    }
}

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

/// Runs one text command; errors come back as text too (this is for people, in a toast and a
/// session message: outside text in it is escaped, `safe_lines`).
pub async fn run(rt: &Runtime, text: &str) -> String {
    let out = match run_inner(rt, text).await {
        Ok(s) => s,
        Err(e) => format!("error: {e}\n"),
    };
    crate::safe_text::safe_lines(&out).into_owned()
}

fn key(provider: &str, alias: &str) -> AccountKey {
    AccountKey {
        provider_id: provider.to_string(),
        alias: alias.to_string(),
    }
}

async fn run_inner(rt: &Runtime, text: &str) -> Result<String, ApiError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let now = rt.clock.now_ms();
    match words.as_slice() {
        [] | ["help"] => Ok(HELP.into()),
        ["list"] | ["accounts"] => {
            let list = rt.accounts_list(ProviderFilter::default()).await?;
            Ok(format::accounts(&list, now))
        }
        ["status"] => {
            let s = rt.status(NoParams {}).await?;
            Ok(format!(
                "opencode-balancer {}\nbalancing: {}\naccounts: {}\nproviders: {}\nstore: {}\n",
                s.version,
                on_off(s.balancing),
                s.accounts,
                s.providers.join(", "),
                s.store_path
            ))
        }
        ["use", provider, alias] => {
            let v = rt.accounts_activate(key(provider, alias)).await?;
            Ok(format!("{}/{} is now active\n", v.provider_id, v.alias))
        }
        ["active", provider] => {
            let filter = ProviderFilter {
                provider_id: Some(provider.to_string()),
            };
            let list = rt.accounts_list(filter).await?;
            Ok(match list.iter().find(|a| a.active) {
                Some(a) => format!("{}/{} ({})\n", a.provider_id, a.alias, format::account_state(a, now)),
                None => format!("{provider} has no active account\n"),
            })
        }
        ["balancing", state @ ("on" | "off")] => {
            rt.balancing_set(EnabledParams {
                enabled: *state == "on",
            })
            .await?;
            Ok(format!("balancing {state}\n"))
        }
        ["balancing"] => {
            let v = rt.balancing_get(NoParams {}).await?;
            Ok(format!("balancing {}\n", on_off(v.enabled)))
        }
        ["priority"] => Ok(format::priority(&rt.priority_list(NoParams {}).await?)),
        ["usage"] => {
            let list = rt.accounts_list(ProviderFilter::default()).await?;
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
            let list = rt
                .events_list(EventsParams {
                    limit: Some(20),
                    kind: None,
                })
                .await?;
            Ok(format::events(&list, now))
        }
        // Only a first word that could be a mistyped command is echoed: the text may be anything,
        // a key pasted by mistake too, and no key is a short word of letters.
        [first, ..] if first.len() <= 16 && first.chars().all(|c| c.is_ascii_alphabetic() || c == '-') => Err(
            ApiError::InvalidParams(format!("unknown command '{first}'; try `/balancer help`")),
        ),
        _ => Err(ApiError::InvalidParams("unknown command; try `/balancer help`".into())),
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}
