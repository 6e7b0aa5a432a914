//! How a CLI command's result is shown: as the method's wire result (`--json`), or for people,
//! by the result's type and what the command was about ([`Show`]).

use anyhow::bail;
use serde::Serialize;

use crate::api::{Dismissed, Enabled, Removed, StatusResult};
use crate::format;
use crate::model::{AccountView, Millis, PriorityEntry, Settings, StoredEvent, UsageSnapshot};
use crate::store::PendingView;

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

/// A result as a person reads it (before `safe_lines`: its values come from outside).
pub(super) trait Human {
    fn human(&self, show: &Show, now: Millis) -> anyhow::Result<String>;
}

/// A typed result, shown either way.
pub(super) trait Shown {
    /// The method's wire result, pretty-printed.
    fn json(&self) -> anyhow::Result<String>;
    fn human(&self, show: &Show, now: Millis) -> anyhow::Result<String>;
}

impl<T: Serialize + Human> Shown for T {
    fn json(&self) -> anyhow::Result<String> {
        Ok(crate::rpc::wire::pretty_result(self)?)
    }

    fn human(&self, show: &Show, now: Millis) -> anyhow::Result<String> {
        Human::human(self, show, now)
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

impl Human for Vec<AccountView> {
    fn human(&self, _: &Show, now: Millis) -> anyhow::Result<String> {
        Ok(format::accounts(self, now))
    }
}

impl Human for AccountView {
    fn human(&self, show: &Show, _: Millis) -> anyhow::Result<String> {
        Ok(match show {
            Show::Account(verb) => format!("{}/{} {verb}\n", self.provider_id, self.alias),
            _ => format!("{}/{}\n", self.provider_id, self.alias),
        })
    }
}

impl Human for Vec<PriorityEntry> {
    fn human(&self, _: &Show, _: Millis) -> anyhow::Result<String> {
        Ok(format::priority(self))
    }
}

impl Human for Vec<StoredEvent> {
    fn human(&self, _: &Show, now: Millis) -> anyhow::Result<String> {
        Ok(format::events(self, now))
    }
}

impl Human for StatusResult {
    fn human(&self, _: &Show, _: Millis) -> anyhow::Result<String> {
        Ok(format!(
            "opencode-balancer {}\nbalancing: {}\naccounts: {} ({} pending)\nproviders: {}\nstore: {}\n",
            self.version,
            on_off(self.balancing),
            self.accounts,
            self.pending,
            self.providers.join(", "),
            self.store_path,
        ))
    }
}

impl Human for Settings {
    fn human(&self, show: &Show, _: Millis) -> anyhow::Result<String> {
        Ok(match show {
            Show::Setting(key) => match self.shown(key) {
                Some(v) => format!("{v}\n"),
                None => bail!("unknown setting '{key}'"),
            },
            _ => self.to_pairs().iter().map(|(k, v)| format!("{k} = {v}\n")).collect(),
        })
    }
}

impl Human for Vec<UsageSnapshot> {
    fn human(&self, _: &Show, now: Millis) -> anyhow::Result<String> {
        Ok(crate::usage::report::table(self, now))
    }
}

impl Human for Enabled {
    fn human(&self, _: &Show, _: Millis) -> anyhow::Result<String> {
        Ok(format!("balancing {}\n", on_off(self.enabled)))
    }
}

impl Human for Vec<PendingView> {
    fn human(&self, _: &Show, now: Millis) -> anyhow::Result<String> {
        if self.is_empty() {
            return Ok("No pending logins.\n".into());
        }
        Ok(self
            .iter()
            .map(|p| {
                format!(
                    "{}  {}  {}  captured {}\n",
                    p.id,
                    p.provider_id,
                    p.auth_type,
                    format::relative(p.captured_at, now)
                )
            })
            .collect())
    }
}

/// "… removed"/"… dismissed", or an error naming what was not there.
fn gone(done: bool, show: &Show, verb: &str) -> anyhow::Result<String> {
    match show {
        Show::Named(what) if done => Ok(format!("{what} {verb}\n")),
        Show::Named(what) => bail!("no {what}"),
        _ => bail!("internal error: a removal without its name"),
    }
}

impl Human for Removed {
    fn human(&self, show: &Show, _: Millis) -> anyhow::Result<String> {
        gone(self.removed, show, "removed")
    }
}

impl Human for Dismissed {
    fn human(&self, show: &Show, _: Millis) -> anyhow::Result<String> {
        gone(self.dismissed, show, "dismissed")
    }
}
