//! `opencode-balancer dashboard`: a terminal app over the store — accounts with their health and
//! usage, the priority matrix, pending logins and the event log, live as other processes change
//! them.
//!
//! One job per file: `app` (state) and `keys` (key handling) decide; `action` and `data` talk to
//! the runtime through the shared method table; `backend` runs that runtime on its own thread;
//! `render`, `accounts_view`, `priority_view`, `overlay` and `widgets` draw; `terminal` owns the
//! terminal and the event loop, `input` reads keys and notices when the terminal goes away;
//! `theme` holds the styles.
//!
//! Exit status: 0 when the user quits; 128 + N after signal N (SIGHUP 129, SIGINT 130, SIGTERM
//! 143); 129 too when the terminal goes away without a signal (hung up, at its end, failing), as
//! both are the same event seen two ways; 1 when it cannot start.

pub mod accounts_view;
pub mod action;
pub mod app;
pub mod backend;
pub mod data;
pub mod input;
mod keys;
pub mod overlay;
pub mod priority_view;
pub mod render;
pub mod terminal;
pub mod theme;
pub mod widgets;

use std::io::{IsTerminal, Write};
use std::path::Path;

pub use action::{execute, Action};
pub use app::{App, Command};
pub use keys::ALIAS_RULE;

use crate::clock::SharedClock;

/// The exit status when the terminal goes away: that of SIGHUP, the signal a closing terminal sends.
pub const LOST_TERMINAL_STATUS: i32 = 128 + 1;

/// Runs the dashboard on `store` until the user quits; a signal or a lost terminal ends the
/// process, once the terminal is restored and the store written, with the status above.
pub fn run(store: &Path, clock: SharedClock) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal (use `status`, `accounts list` or `events` in scripts)");
    }
    let (tx, wakes) = std::sync::mpsc::channel();
    let backend =
        backend::Backend::start(store.to_path_buf(), clock.clone(), tx.clone()).map_err(anyhow::Error::msg)?;
    match terminal::run(backend, wakes, tx, clock, theme::Theme::from_env())? {
        terminal::End::Quit => Ok(()),
        terminal::End::Signal(n) => std::process::exit(128 + n),
        terminal::End::Lost(why) => {
            // Most often there is no terminal left to show this on; then it goes nowhere.
            let _ = writeln!(std::io::stderr(), "dashboard: {why}");
            std::process::exit(LOST_TERMINAL_STATUS)
        }
    }
}
