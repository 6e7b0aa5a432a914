//! Runs a CLI command: starts the runtime in-process on the store, calls the typed method the
//! sidecar answers the same command with, prints the result for people or (`--json`) as the
//! method's wire result.

use std::path::Path;

use anyhow::{anyhow, bail};
use serde::Serialize;

use super::checks::{check, Check};
use super::plan::plan;
use super::{credential, Command};
use crate::api::params::*;
use crate::api::results::{Dismissed, Enabled, Removed, StatusResult};
use crate::api::{ApiError, ApiResult};
use crate::clock::SharedClock;
use crate::format;
use crate::model::{normalize_alias, AccountView, PriorityEntry, Setting, Settings, StoredEvent, UsageSnapshot};
use crate::runtime::Runtime;
use crate::safe_text;
use crate::store::PendingView;

/// One typed call of the API.
pub(super) enum Call {
    Status,
    AccountsList(ProviderFilter),
    /// `accounts add`: the credential is read once the provider is checked.
    AccountsAdd {
        provider_id: String,
        alias: String,
        replace: bool,
    },
    AccountsRename(RenameParams),
    AccountsRemove(AccountKey),
    AccountsActivate(AccountKey),
    AccountsSetDisabled(DisableParams),
    AccountsResetCooldown(AccountKey),
    PendingList,
    PendingSave(PendingSaveParams),
    PendingDismiss(PendingIdParams),
    PriorityList,
    PrioritySetModel(PriorityModelParams),
    PriorityMove(PriorityMoveParams),
    PrioritySetEnabled(PriorityEnabledParams),
    PriorityRemove(ProviderParams),
    BalancingGet,
    BalancingSet(EnabledParams),
    SettingsGet,
    /// Parsed once the runtime runs, as the sidecar would.
    SettingsSet {
        key: String,
        value: String,
    },
    EventsList(EventsParams),
    UsageList,
    UsageRefresh,
}

impl Call {
    /// The alias a save asked for (normalized), for the hint when it is taken.
    fn asked_alias(&self) -> Option<String> {
        match self {
            Call::AccountsAdd { alias, .. } => normalize_alias(alias),
            Call::PendingSave(p) => normalize_alias(&p.alias),
            _ => None,
        }
    }

    async fn run(self, rt: &Runtime) -> ApiResult<Answer> {
        Ok(match self {
            Call::Status => Answer::Status(rt.status(NoParams {}).await?),
            Call::AccountsList(p) => Answer::Accounts(rt.accounts_list(p).await?),
            Call::AccountsAdd {
                provider_id,
                alias,
                replace,
            } => {
                let auth =
                    credential::read(&provider_id, &alias).map_err(|e| ApiError::InvalidParams(e.to_string()))?;
                let p = SaveParams {
                    provider_id,
                    alias,
                    auth,
                    replace,
                };
                Answer::Account(Box::new(rt.accounts_save(p).await?))
            }
            Call::AccountsRename(p) => Answer::Account(Box::new(rt.accounts_rename(p).await?)),
            Call::AccountsRemove(p) => Answer::Removed(rt.accounts_remove(p).await?),
            Call::AccountsActivate(p) => Answer::Account(Box::new(rt.accounts_activate(p).await?)),
            Call::AccountsSetDisabled(p) => Answer::Account(Box::new(rt.accounts_set_disabled(p).await?)),
            Call::AccountsResetCooldown(p) => Answer::Account(Box::new(rt.accounts_reset_cooldown(p).await?)),
            Call::PendingList => Answer::Pending(rt.pending_list(NoParams {}).await?),
            Call::PendingSave(p) => Answer::Account(Box::new(rt.pending_save(p).await?)),
            Call::PendingDismiss(p) => Answer::Dismissed(rt.pending_dismiss(p).await?),
            Call::PriorityList => Answer::Priority(rt.priority_list(NoParams {}).await?),
            Call::PrioritySetModel(p) => Answer::Priority(rt.priority_set_model(p).await?),
            Call::PriorityMove(p) => Answer::Priority(rt.priority_move(p).await?),
            Call::PrioritySetEnabled(p) => Answer::Priority(rt.priority_set_enabled(p).await?),
            Call::PriorityRemove(p) => Answer::Priority(rt.priority_remove(p).await?),
            Call::BalancingGet => Answer::Enabled(rt.balancing_get(NoParams {}).await?),
            Call::BalancingSet(p) => Answer::Enabled(rt.balancing_set(p).await?),
            Call::SettingsGet => Answer::Settings(rt.settings_get(NoParams {}).await?),
            Call::SettingsSet { key, value } => {
                let setting = Setting::from_text(&key, &value).map_err(|e| ApiError::InvalidParams(e.to_string()))?;
                Answer::Settings(rt.settings_set(setting).await?)
            }
            Call::EventsList(p) => Answer::Events(rt.events_list(p).await?),
            Call::UsageList => Answer::Usage(rt.usage_list(NoParams {}).await?),
            Call::UsageRefresh => Answer::Usage(rt.usage_refresh(RefreshParams::default()).await?),
        })
    }
}

/// A typed result; serialised, it is the method's wire result.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Status(StatusResult),
    Accounts(Vec<AccountView>),
    Account(Box<AccountView>),
    Removed(Removed),
    Pending(Vec<PendingView>),
    Dismissed(Dismissed),
    Priority(Vec<PriorityEntry>),
    Enabled(Enabled),
    Settings(Settings),
    Events(Vec<StoredEvent>),
    Usage(Vec<UsageSnapshot>),
}

/// How a result is shown to a person, beyond its type.
pub(super) enum Show {
    Plain,
    /// What happened to the account (`saved`, `renamed`…).
    Account(&'static str),
    /// One setting's value.
    Setting(String),
    /// What a removal is about (`account openai/work`), for "removed" and "no …".
    Named(String),
}

/// Runs a store command (not serve/demo/install/bench) and returns its output text.
pub fn run(store: &Path, clock: SharedClock, command: Command) -> anyhow::Result<String> {
    let first = Check::of(&command);
    let (call, show, json_out) = plan(command)?;
    let store = store.to_path_buf();
    let sys = actix::System::new();
    let result = sys.block_on(async move {
        let rt = Runtime::start(&store, clock.clone()).map_err(|e| anyhow!("{e}"))?;
        let asked = call.asked_alias();
        // What opencode 2 holds now, as the sidecar would have mirrored it.
        let host_problem = rt.mirror_host_once().await;
        if let (Some(problem), Call::AccountsList(_)) = (&host_problem, &call) {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr().lock(), "note: {}", safe_text::safe_lines(problem));
        }
        let out = match check(&first, &rt).await {
            Ok(note) => {
                if let Some(note) = note {
                    // A note, not a result: stdout keeps only the command's output.
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stderr().lock(), "{}", safe_text::safe_lines(&note));
                }
                call.run(&rt).await.map_err(|e| refusal(&e, asked.as_deref()))
            }
            Err(e) => Err(e),
        };
        // Also after a refusal: the runtime stops only once its actors have started.
        rt.flush().await;
        out.map(|v| (v, clock.now_ms()))
    });
    let (answer, now) = result?;
    if json_out {
        let json = crate::rpc::wire::pretty_result(&answer)?;
        return Ok(format!("{}\n", safe_text::json_safe(&json)));
    }
    let text = human(answer, show, now)?;
    Ok(safe_text::safe_lines(&text).into_owned())
}

/// The answer as a person reads it (before `safe_lines`: its values come from outside).
fn human(answer: Answer, show: Show, now: crate::model::Millis) -> anyhow::Result<String> {
    Ok(match (answer, show) {
        (Answer::Accounts(list), _) => format::accounts(&list, now),
        (Answer::Account(a), Show::Account(verb)) => format!("{}/{} {verb}\n", a.provider_id, a.alias),
        (Answer::Account(a), _) => format!("{}/{}\n", a.provider_id, a.alias),
        (Answer::Priority(list), _) => format::priority(&list),
        (Answer::Events(list), _) => format::events(&list, now),
        (Answer::Status(s), _) => format!(
            "opencode-balancer {}\nbalancing: {}\naccounts: {} ({} pending)\nproviders: {}\nstore: {}\n",
            s.version,
            on_off(s.balancing),
            s.accounts,
            s.pending,
            s.providers.join(", "),
            s.store_path,
        ),
        (Answer::Settings(s), Show::Setting(key)) => match s.shown(&key) {
            Some(v) => format!("{v}\n"),
            None => bail!("unknown setting '{key}'"),
        },
        (Answer::Settings(s), _) => s.to_pairs().iter().map(|(k, v)| format!("{k} = {v}\n")).collect(),
        (Answer::Usage(list), _) => crate::usage::report::table(&list, now),
        (Answer::Enabled(e), _) => format!("balancing {}\n", on_off(e.enabled)),
        (Answer::Pending(list), _) => {
            if list.is_empty() {
                "No pending logins.\n".into()
            } else {
                list.iter()
                    .map(|p| {
                        format!(
                            "{}  {}  {}  captured {}\n",
                            p.id,
                            p.provider_id,
                            p.auth_type,
                            format::relative(p.captured_at, now)
                        )
                    })
                    .collect()
            }
        }
        (Answer::Dismissed(d), Show::Named(what)) => {
            if d.dismissed {
                format!("{what} dismissed\n")
            } else {
                bail!("no {what}")
            }
        }
        (Answer::Removed(r), Show::Named(what)) => {
            if r.removed {
                format!("{what} removed\n")
            } else {
                bail!("no {what}")
            }
        }
        (Answer::Dismissed(_) | Answer::Removed(_), _) => bail!("internal error: a removal without its name"),
    })
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// A refused call as a person reads it. A save refused because its own alias is in use says how
/// to replace it; one refused because the same key is saved under another alias says that (the
/// key exists, not the alias: replacing would not help).
fn refusal(e: &ApiError, asked: Option<&str>) -> anyhow::Error {
    match e.existing_account() {
        Some((_, taken)) if asked == Some(taken) => {
            anyhow!("{e}; nothing was changed (add --replace to replace its credential)")
        }
        Some((provider, taken)) if asked.is_some() => {
            anyhow!("this key is already saved as {provider}/{taken}; nothing was changed")
        }
        _ => anyhow!("{e}"),
    }
}
