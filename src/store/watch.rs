//! Tells the account registry when the store's files change, so it looks for other processes'
//! commits (`PRAGMA data_version`) only then, instead of on a fixed 50 ms tick. A commit writes
//! the `-wal` file (or the database and its `-journal`), which inotify and its kin report within
//! a few milliseconds. Where file notifications are unavailable, or never arrive (network mounts:
//! `OPENCODE_BALANCER_WATCH=poll`, the switch the auth watcher honours too), the registry polls.

use std::ffi::OsString;
use std::path::Path;

use notify::{RecursiveMode, Watcher};

use crate::runtime::file_events::change;

/// Starts watching the folder holding `store`; `touched` runs (on the notify thread) for every
/// change to the store's own files (not for reads of them). `None`: poll instead (the reason is logged).
pub fn watch(store: &Path, touched: impl Fn() + Send + 'static) -> Option<Box<dyn Watcher + Send>> {
    if std::env::var("OPENCODE_BALANCER_WATCH").is_ok_and(|v| v == "poll") {
        tracing::debug!("OPENCODE_BALANCER_WATCH=poll: looking for other processes' commits every 50 ms");
        return None;
    }
    let dir = store
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = store.file_name()?.to_os_string();
    let ours: Vec<OsString> = ["", "-wal", "-journal"]
        .iter()
        .map(|suffix| {
            let mut n = name.clone();
            n.push(suffix);
            n
        })
        .collect();
    let filter = move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            // Opening and reading the files (ours, the CLI's) commits nothing.
            let mine = change(&event.kind).is_some()
                && (event.paths.iter()).any(|p| p.file_name().is_some_and(|n| ours.iter().any(|o| o == n)));
            if mine || event.need_rescan() {
                touched();
            }
        }
    };
    let started = notify::recommended_watcher(filter).and_then(|mut w| {
        w.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(Box::new(w) as Box<dyn Watcher + Send>)
    });
    match started {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "file notifications unavailable for the store; looking for other processes' commits every 50 ms");
            None
        }
    }
}
