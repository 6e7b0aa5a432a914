//! What a key asks the runtime to do: one variant per change, each run as one typed API call.

use crate::api::ApiResult;
use crate::api::{
    AccountKey, DisableParams, EnabledParams, PendingIdParams, PendingSaveParams, PriorityEnabledParams,
    PriorityModelParams, PriorityMoveParams, RefreshParams, RenameParams,
};
use crate::model::Setting;
use crate::runtime::Runtime;

/// A change the dashboard asks for. Every variant maps to one method of the typed API.
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
        direction: crate::model::PriorityDirection,
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
    /// Slow work (network) that must run in the background, beside other actions.
    pub fn is_background(&self) -> bool {
        matches!(self, Action::RefreshUsage { .. })
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

fn key(provider: &str, alias: &str) -> AccountKey {
    AccountKey {
        provider_id: provider.to_string(),
        alias: alias.to_string(),
    }
}

/// Runs an action on the runtime; the text to show, or the error (never a credential: the API's
/// errors carry none).
pub async fn execute(rt: &Runtime, action: &Action) -> Result<String, String> {
    run(rt, action).await.map_err(|e| e.to_string())
}

async fn run(rt: &Runtime, action: &Action) -> ApiResult<String> {
    Ok(match action.clone() {
        Action::Activate { provider, alias } => {
            rt.accounts_activate(key(&provider, &alias)).await?;
            format!("{provider}/{alias} is now active")
        }
        Action::Rename { provider, from, to } => {
            let p = RenameParams {
                provider_id: provider.clone(),
                from,
                to,
            };
            let a = rt.accounts_rename(p).await?;
            format!("renamed to {provider}/{}", a.alias)
        }
        Action::Remove { provider, alias } => {
            if rt.accounts_remove(key(&provider, &alias)).await?.removed {
                format!("{provider}/{alias} removed")
            } else {
                format!("{provider}/{alias} was already gone")
            }
        }
        Action::SetDisabled {
            provider,
            alias,
            disabled,
        } => {
            let p = DisableParams {
                provider_id: provider.clone(),
                alias: alias.clone(),
                disabled,
            };
            rt.accounts_set_disabled(p).await?;
            format!("{provider}/{alias} {}", if disabled { "disabled" } else { "enabled" })
        }
        Action::ResetCooldown { provider, alias } => {
            rt.accounts_reset_cooldown(key(&provider, &alias)).await?;
            format!("{provider}/{alias} cooldown cleared")
        }
        Action::RefreshUsage { account } => {
            let (provider_id, alias) = account.unzip();
            let n = rt.usage_refresh(RefreshParams { provider_id, alias }).await?.len();
            format!("usage refreshed ({n} account{})", if n == 1 { "" } else { "s" })
        }
        Action::SetBalancing(on) => {
            rt.balancing_set(EnabledParams { enabled: on }).await?;
            format!("balancing {}", on_off(on))
        }
        Action::SetFailover(on) => {
            rt.change_setting(Setting::Failover(on)).await?;
            format!("failover {}", on_off(on))
        }
        Action::MovePriority { provider, direction } => {
            let p = PriorityMoveParams {
                provider_id: provider.clone(),
                direction,
            };
            rt.priority_move(p).await?;
            format!("{provider} moved")
        }
        Action::SetPriorityEnabled { provider, enabled } => {
            let p = PriorityEnabledParams {
                provider_id: provider.clone(),
                enabled,
            };
            rt.priority_set_enabled(p).await?;
            format!(
                "{provider} {} for balancing",
                if enabled { "enabled" } else { "disabled" }
            )
        }
        Action::SetModel { provider, model } => {
            let p = PriorityModelParams {
                provider_id: provider.clone(),
                model_id: model.clone(),
            };
            rt.priority_set_model(p).await?;
            format!("{provider} model: {}", model.as_deref().unwrap_or("(none)"))
        }
        Action::SavePending { id, alias } => {
            let p = PendingSaveParams {
                id,
                alias,
                replace: false,
            };
            let a = rt.pending_save(p).await?;
            format!("saved as {}/{}", a.provider_id, a.alias)
        }
        Action::DismissPending { id } => {
            rt.pending_dismiss(PendingIdParams { id }).await?;
            "pending login dismissed".into()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_usage_refresh_runs_in_the_background() {
        assert!(Action::RefreshUsage { account: None }.is_background());
        assert!(!Action::SetBalancing(true).is_background());
        assert!(!Action::DismissPending { id: "p".into() }.is_background());
    }
}
