//! What a key asks the runtime to do: one variant per change, each run as one method call.

use serde_json::{json, Value};

use crate::actors::Runtime;
use crate::hooks::dispatch::dispatch;
use crate::hooks::wire::METHOD_NOT_FOUND;

/// A change the dashboard asks for. Every variant maps to one method of the shared table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Activate {
        provider: String,
        alias: String,
    },
    Rename {
        provider: String,
        from: String,
        to: String,
    },
    Remove {
        provider: String,
        alias: String,
    },
    SetDisabled {
        provider: String,
        alias: String,
        disabled: bool,
    },
    ResetCooldown {
        provider: String,
        alias: String,
    },
    /// Refresh usage of one account, or of all when `account` is `None`.
    RefreshUsage {
        account: Option<(String, String)>,
    },
    SetBalancing(bool),
    SetFailover(bool),
    MovePriority {
        provider: String,
        direction: i32,
    },
    SetPriorityEnabled {
        provider: String,
        enabled: bool,
    },
    SetModel {
        provider: String,
        model: Option<String>,
    },
    SavePending {
        id: String,
        alias: String,
    },
    DismissPending {
        id: String,
    },
}

impl Action {
    /// The method and params this action calls.
    pub fn call(&self) -> (&'static str, Value) {
        let key = |p: &str, a: &str| json!({"providerID": p, "alias": a});
        match self {
            Action::Activate { provider, alias } => ("accounts.activate", key(provider, alias)),
            Action::Rename { provider, from, to } => (
                "accounts.rename",
                json!({"providerID": provider, "from": from, "to": to}),
            ),
            Action::Remove { provider, alias } => ("accounts.remove", key(provider, alias)),
            Action::SetDisabled {
                provider,
                alias,
                disabled,
            } => (
                "accounts.setDisabled",
                json!({"providerID": provider, "alias": alias, "disabled": disabled}),
            ),
            Action::ResetCooldown { provider, alias } => ("accounts.resetCooldown", key(provider, alias)),
            Action::RefreshUsage { account: Some((p, a)) } => ("usage.refresh", key(p, a)),
            Action::RefreshUsage { account: None } => ("usage.refresh", json!({})),
            Action::SetBalancing(on) => ("balancing.set", json!({"enabled": on})),
            Action::SetFailover(on) => ("settings.set", json!({"key": "failover", "value": on})),
            Action::MovePriority { provider, direction } => {
                ("priority.move", json!({"providerID": provider, "direction": direction}))
            }
            Action::SetPriorityEnabled { provider, enabled } => (
                "priority.setEnabled",
                json!({"providerID": provider, "enabled": enabled}),
            ),
            Action::SetModel { provider, model } => {
                ("priority.setModel", json!({"providerID": provider, "modelID": model}))
            }
            Action::SavePending { id, alias } => ("pending.save", json!({"id": id, "alias": alias})),
            Action::DismissPending { id } => ("pending.dismiss", json!({"id": id})),
        }
    }

    /// Slow work (network) that must run in the background, beside other actions.
    pub fn is_background(&self) -> bool {
        matches!(self, Action::RefreshUsage { .. })
    }

    /// The line shown once the action succeeded.
    pub fn done_text(&self, result: &Value) -> String {
        match self {
            Action::Activate { provider, alias } => format!("{provider}/{alias} is now active"),
            Action::Rename { provider, .. } => {
                format!("renamed to {provider}/{}", result["alias"].as_str().unwrap_or("?"))
            }
            Action::Remove { provider, alias } => match result["removed"].as_bool() {
                Some(true) => format!("{provider}/{alias} removed"),
                _ => format!("{provider}/{alias} was already gone"),
            },
            Action::SetDisabled {
                provider,
                alias,
                disabled,
            } => format!("{provider}/{alias} {}", if *disabled { "disabled" } else { "enabled" }),
            Action::ResetCooldown { provider, alias } => format!("{provider}/{alias} cooldown cleared"),
            Action::RefreshUsage { .. } => {
                let n = result.as_array().map(Vec::len).unwrap_or(0);
                format!("usage refreshed ({n} account{})", if n == 1 { "" } else { "s" })
            }
            Action::SetBalancing(on) => format!("balancing {}", on_off(*on)),
            Action::SetFailover(on) => format!("failover {}", on_off(*on)),
            Action::MovePriority { provider, .. } => format!("{provider} moved"),
            Action::SetPriorityEnabled { provider, enabled } => format!(
                "{provider} {} for balancing",
                if *enabled { "enabled" } else { "disabled" }
            ),
            Action::SetModel { provider, model } => {
                format!("{provider} model: {}", model.as_deref().unwrap_or("(none)"))
            }
            Action::SavePending { .. } => format!(
                "saved as {}/{}",
                result["providerID"].as_str().unwrap_or("?"),
                result["alias"].as_str().unwrap_or("?")
            ),
            Action::DismissPending { .. } => "pending login dismissed".into(),
        }
    }

    /// What is being done, for the status line while it runs.
    pub fn busy_text(&self) -> Option<&'static str> {
        match self {
            Action::RefreshUsage { account: None } => Some("refreshing usage of every account…"),
            Action::RefreshUsage { .. } => Some("refreshing usage…"),
            _ => None,
        }
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// Runs an action on the runtime; the text to show, or the error (never a credential: method
/// errors carry none).
pub async fn execute(rt: &Runtime, action: &Action) -> Result<String, String> {
    let (method, params) = action.call();
    match dispatch(rt, method, params).await {
        Ok(v) => Ok(action.done_text(&v)),
        Err(e) if e.code == METHOD_NOT_FOUND => Err(format!("this build cannot do that yet ({method} is missing)")),
        Err(e) => Err(e.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_usage_refresh_runs_in_the_background() {
        assert!(Action::RefreshUsage { account: None }.is_background());
        assert!(!Action::SetBalancing(true).is_background());
        let (method, params) = Action::RefreshUsage {
            account: Some(("openai".into(), "work".into())),
        }
        .call();
        assert_eq!(method, "usage.refresh");
        assert_eq!(params, json!({"providerID": "openai", "alias": "work"}));
    }
}
