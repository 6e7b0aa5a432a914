//! What the dashboard shows, read from the runtime through the shared method table.

use serde_json::{json, Value};

use crate::actors::Runtime;
use crate::hooks::dispatch::dispatch;
use crate::model::{AccountView, PriorityEntry, StoredEvent};

/// How many events the events pane keeps.
pub const EVENT_TAIL: u32 = 50;

/// A pending connection as `pending.list` returns it (no credential).
pub type PendingRow = crate::store::PendingView;

/// The settings the dashboard shows or toggles.
#[derive(Clone, Debug, PartialEq)]
pub struct Switches {
    pub balancing: bool,
    pub failover: bool,
    pub auto_save: bool,
    pub strategy: String,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            balancing: false,
            failover: true,
            auto_save: true,
            strategy: "sticky".into(),
        }
    }
}

/// One consistent look at the store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Sorted by provider, then alias (as `accounts.list` answers).
    pub accounts: Vec<AccountView>,
    pub priority: Vec<PriorityEntry>,
    pub pending: Vec<PendingRow>,
    pub switches: Switches,
    /// Newest first.
    pub events: Vec<StoredEvent>,
    /// `(provider, model)` pairs set in the priority list before (from `priority_changed` events).
    pub model_history: Vec<(String, String)>,
    pub store_path: String,
}

impl Snapshot {
    /// Models this store has seen for `provider`: the one in its priority entry, then those set
    /// for it before, newest first, without repeats.
    pub fn seen_models(&self, provider: &str) -> Vec<String> {
        let current = self
            .priority
            .iter()
            .filter(|e| e.provider_id == provider)
            .filter_map(|e| e.model_id.clone());
        let history = self
            .model_history
            .iter()
            .filter(|(p, _)| p == provider)
            .map(|(_, m)| m.clone());
        let mut out: Vec<String> = Vec::new();
        for m in current.chain(history) {
            if !out.contains(&m) {
                out.push(m);
            }
        }
        out
    }
}

async fn call(rt: &Runtime, method: &str, params: Value) -> Result<Value, String> {
    dispatch(rt, method, params)
        .await
        .map_err(|e| format!("{method}: {}", e.message))
}

fn decode<T: serde::de::DeserializeOwned>(method: &str, v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("{method}: unexpected answer ({e})"))
}

/// Reads everything the dashboard shows. Each read catches up with other processes' commits.
pub async fn load(rt: &Runtime) -> Result<Snapshot, String> {
    let accounts = decode("accounts.list", call(rt, "accounts.list", json!({})).await?)?;
    let priority = decode("priority.list", call(rt, "priority.list", json!({})).await?)?;
    let pending = decode("pending.list", call(rt, "pending.list", json!({})).await?)?;
    let settings = call(rt, "settings.get", json!({})).await?;
    let defaults = Switches::default();
    let switches = Switches {
        balancing: settings["balancing"].as_bool().unwrap_or(defaults.balancing),
        failover: settings["failover"].as_bool().unwrap_or(defaults.failover),
        auto_save: settings["autoSave"].as_bool().unwrap_or(defaults.auto_save),
        strategy: settings["strategy"].as_str().unwrap_or(&defaults.strategy).to_string(),
    };
    let events = decode(
        "events.list",
        call(rt, "events.list", json!({"limit": EVENT_TAIL})).await?,
    )?;
    let changes: Vec<StoredEvent> = decode(
        "events.list",
        call(rt, "events.list", json!({"limit": 200, "type": "priority_changed"})).await?,
    )?;
    let model_history = changes
        .into_iter()
        .filter_map(|e| {
            let model = e.metadata.get("model")?.clone();
            (model != "none").then_some((e.provider_id?, model))
        })
        .collect();
    Ok(Snapshot {
        accounts,
        priority,
        pending,
        switches,
        events,
        model_history,
        store_path: rt.store.path().display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_models_put_the_current_one_first_without_repeats() {
        let snap = Snapshot {
            priority: vec![PriorityEntry {
                provider_id: "openai".into(),
                position: 0,
                model_id: Some("gpt-5".into()),
                enabled: true,
            }],
            model_history: vec![
                ("openai".into(), "gpt-5".into()),
                ("anthropic".into(), "claude".into()),
                ("openai".into(), "gpt-4.1".into()),
            ],
            ..Snapshot::default()
        };
        assert_eq!(snap.seen_models("openai"), vec!["gpt-5", "gpt-4.1"]);
        assert_eq!(snap.seen_models("anthropic"), vec!["claude"]);
        assert!(snap.seen_models("other").is_empty());
    }
}
