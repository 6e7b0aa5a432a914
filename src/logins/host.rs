//! The auth watcher's second source: opencode 2's credential table in `opencode.db`, in the same
//! folder as auth.json. A change to the database or its `-wal` (writes, renames, creations,
//! removals — never reads: `file_events::change`) schedules one read after [`HOST_DEBOUNCE`];
//! the registry hears of the credentials only when they differ from the last read. A database
//! of the wrong shape or one that cannot be read changes nothing (logged once, by what is wrong).

use std::path::PathBuf;
use std::time::Duration;

use actix::prelude::*;

use super::AuthWatcher;
use crate::accounts::MirrorHost;
use crate::opencode2::{read_credentials, HostCredential, HostRead};

/// opencode 2 writes its database in bursts (a session's messages too): one read after the
/// burst, not one per write.
pub const HOST_DEBOUNCE: Duration = Duration::from_millis(100);

/// opencode 2's database or its write-ahead log changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HostDbChanged;

/// What the watcher knows of opencode 2's database.
#[derive(Default)]
pub(super) struct HostSource {
    pub(super) path: PathBuf,
    /// The credentials last handed to the registry.
    last: Option<Vec<HostCredential>>,
    /// The problem of the last read, logged when it appeared.
    problem: Option<String>,
    scheduled: Option<SpawnHandle>,
}

impl HostSource {
    pub(super) fn at(path: PathBuf) -> HostSource {
        HostSource {
            path,
            ..HostSource::default()
        }
    }
}

impl AuthWatcher {
    /// Reads opencode 2's credentials and hands them to the registry when they changed.
    pub(super) fn read_host(&mut self) {
        let read = read_credentials(&self.host.path);
        let problem = read.as_ref().err().map(|e| e.to_string());
        if problem.is_some() && problem != self.host.problem {
            tracing::warn!("{}", problem.as_deref().unwrap_or_default());
        }
        self.host.problem = problem;
        let Ok(HostRead::Found { credentials, skipped }) = read else {
            return;
        };
        if self.host.last.as_ref() == Some(&credentials) {
            return;
        }
        if skipped > 0 {
            tracing::warn!(
                skipped,
                "opencode 2 credentials without an id or a usable provider id were skipped"
            );
        }
        tracing::debug!(credentials = credentials.len(), "opencode 2's credentials changed");
        self.host.last = Some(credentials.clone());
        self.registry.do_send(MirrorHost(credentials));
    }
}

impl Handler<HostDbChanged> for AuthWatcher {
    type Result = ();
    /// One read [`HOST_DEBOUNCE`] after the first change; changes meanwhile are covered by it.
    fn handle(&mut self, _: HostDbChanged, ctx: &mut Context<Self>) {
        if self.host.scheduled.is_some() {
            return;
        }
        let handle = ctx.run_later(HOST_DEBOUNCE, |this, _| {
            this.host.scheduled = None;
            this.read_host();
        });
        self.host.scheduled = Some(handle);
    }
}
