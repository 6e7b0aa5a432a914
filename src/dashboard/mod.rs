//! `opencode-balancer dashboard`: a terminal app over the store — accounts with their health and
//! usage, the priority matrix, pending logins and the event log, live as other processes change
//! them.
//!
//! One job per file: `app` (state) and `keys` (key handling) decide; `action` and `data` talk to
//! the runtime through the shared method table; `backend` runs that runtime on its own thread;
//! `render`, `accounts_view`, `priority_view`, `overlay` and `widgets` draw; `terminal` owns the
//! terminal and the event loop; `theme` holds the styles.

pub mod accounts_view;
pub mod action;
pub mod app;
pub mod backend;
pub mod data;
mod keys;
pub mod overlay;
pub mod priority_view;
pub mod render;
pub mod terminal;
pub mod theme;
pub mod widgets;

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

pub use action::{execute, Action};
pub use app::{App, Command};
pub use keys::ALIAS_RULE;

use crate::clock::SharedClock;

/// How often the store is read for changes made elsewhere.
pub const POLL: Duration = Duration::from_millis(300);

/// Runs the dashboard on `store` until the user quits.
pub fn run(store: &Path, clock: SharedClock) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal (use `status`, `accounts list` or `events` in scripts)");
    }
    let backend = backend::Backend::start(store.to_path_buf(), clock.clone(), POLL).map_err(anyhow::Error::msg)?;
    terminal::run(backend, clock, theme::Theme::from_env())?;
    Ok(())
}
