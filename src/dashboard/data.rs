//! What the dashboard shows, read from the runtime through the typed API.

use crate::api::methods::{AccountsList, EventsList, PendingList, PriorityList, SettingsGet};
use crate::api::{ApiError, Request};
use crate::api::{EventsParams, NoParams, ProviderFilter};
use crate::model::{AccountView, PriorityEntry, StoredEvent};
use crate::runtime::Runtime;

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

/// Reads everything the dashboard shows. Each read catches up with other processes' commits.
pub async fn load(rt: &Runtime) -> Result<Snapshot, String> {
    let named = |method: &'static str| move |e: ApiError| format!("{method}: {e}");
    let accounts = rt
        .accounts_list(ProviderFilter::default())
        .await
        .map_err(named(AccountsList::METHOD))?;
    let priority = rt
        .priority_list(NoParams {})
        .await
        .map_err(named(PriorityList::METHOD))?;
    let pending = rt.pending_list(NoParams {}).await.map_err(named(PendingList::METHOD))?;
    let settings = rt.settings_get(NoParams {}).await.map_err(named(SettingsGet::METHOD))?;
    let switches = Switches {
        balancing: settings.balancing,
        failover: settings.failover,
        auto_save: settings.auto_save,
        strategy: settings.strategy.as_str().to_string(),
    };
    let events = rt
        .events_list(EventsParams {
            limit: Some(EVENT_TAIL),
            kind: None,
        })
        .await
        .map_err(named(EventsList::METHOD))?;
    let changes = rt
        .events_list(EventsParams {
            limit: Some(200),
            kind: Some("priority_changed".into()),
        })
        .await
        .map_err(named(EventsList::METHOD))?;
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
