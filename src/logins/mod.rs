//! Auth watcher actor: turns every login opencode writes to its auth.json into a saved account
//! (or a pending connection), and keeps saved accounts' tokens fresh when opencode refreshes them.
//!
//! It watches the *folder* (so replace-by-rename, truncate-and-write, delete and re-create are
//! all seen, a file missing at start is picked up when it appears, and a folder removed is made
//! and watched again) and wakes only for
//! changes, never for reads, its own or anyone's ([`change`]): a change that is whole when
//! reported (a rename onto the file, a writer closing it, a removal) is read at once, writes
//! still arriving once the burst has settled ([`DEBOUNCE`]). It runs on its own thread so
//! reading the file never delays the hot path. The file is read
//! through [`read_auth_file`] (never blocks, regular files only, bounded). A version that cannot
//! be read or is not a JSON object changes nothing: the last good snapshot stays. An entry of a
//! bad shape is skipped and the others are captured. Each problem is logged once, when it
//! appears, by provider id and kind, never with a value. It never writes auth.json.
//!
//! It also watches opencode 2's credential database in the same folder (`opencode.db` and its
//! `-wal`, see `host.rs`): a change there is mirrored as accounts owned by opencode 2.
//!
//! Each read sends the registry one `Capture` with every provider entry that differs from
//! the last good snapshot (all of them at start). A changed Claude login (no account id in its tokens) first has its profile read
//! here, off the registry's thread ([`ProfileReader`]), and goes with the credential it replaced
//! (see `store::CaptureHint`); the watcher reads nothing else until that answer or its timeout.

pub(crate) mod auth_file;
mod host;

pub use host::{HostDbChanged, HOST_DEBOUNCE};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};

pub use self::auth_file::{
    auth_path_from, default_auth_path, parse_auth_file, parse_logins, read_auth_file, AuthFile, AuthFileError,
    MAX_AUTH_FILE_BYTES,
};
use crate::accounts::{AccountRegistry, Capture};
use crate::model::Auth;
use crate::runtime::file_events::{change, Change};
use crate::store::CaptureHint;
use crate::usage::providers::anthropic_profile::claude_profile;
use crate::usage::{Endpoints, Http};

/// How long a burst of writes still arriving is let settle before the file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(15);
/// Polling interval when file notifications are unavailable.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// auth.json changed (or the watch must rescan: [`Change::Settling`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FileChanged(pub Change);

/// The watched folder itself was removed or moved away: its watch is gone with it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FolderGone;

/// Reads Claude's profile (`GET {anthropic base}/api/oauth/profile`) for a captured login.
pub struct ProfileReader {
    http: Arc<Http>,
    base: Option<String>,
}

impl std::fmt::Debug for ProfileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileReader").field("base", &self.base).finish()
    }
}

impl ProfileReader {
    /// At the usage endpoints' Anthropic base (`OPENCODE_BALANCER_ANTHROPIC_URL`; not contacted in
    /// test mode without it), with their timeout.
    pub fn from_env() -> ProfileReader {
        ProfileReader::at(Endpoints::from_env())
    }

    /// At `endpoints`' Anthropic base, with their timeout.
    pub fn at(endpoints: Endpoints) -> ProfileReader {
        ProfileReader {
            http: Arc::new(Http::new(endpoints.timeout)),
            base: endpoints.anthropic,
        }
    }

    /// The profile subject of `auth`'s Claude login, when it can be read.
    pub async fn subject(&self, auth: &Auth) -> Option<String> {
        claude_profile(&self.http, &self.base, auth, 0)
            .await
            .ok()
            .map(|p| p.subject)
    }

    /// The hint for one changed Claude entry: its profile subject when it can be read.
    async fn hint(&self, provider: &str, auth: &Auth, previous: Option<Auth>) -> CaptureHint {
        // `now` only dates a 429's Retry-After, which is not kept here.
        match claude_profile(&self.http, &self.base, auth, 0).await {
            Ok(p) => CaptureHint {
                subject: Some(p.subject),
                email: p.email,
                previous,
            },
            Err(e) => {
                tracing::info!(provider, error = %e, "the Claude profile of a login in auth.json could not be read; it is matched by the credential it replaced");
                CaptureHint {
                    previous,
                    ..CaptureHint::default()
                }
            }
        }
    }
}

/// Providers whose OAuth tokens name no account, so the profile is asked who a login is.
fn needs_profile(provider: &str, auth: &Auth) -> bool {
    provider == "anthropic" && matches!(auth, Auth::Oauth { .. })
}

pub struct AuthWatcher {
    path: PathBuf,
    registry: Addr<AccountRegistry>,
    /// Inline content (`OPENCODE_AUTH_CONTENT`): read once, nothing watched.
    inline: Option<String>,
    last_good: HashMap<String, Auth>,
    profiles: Arc<ProfileReader>,
    /// The problems of the last version read, each logged once when it appeared.
    problems: BTreeSet<String>,
    /// The read waiting to run, and for which kind of change.
    scheduled: Option<(Change, SpawnHandle)>,
    /// opencode 2's credential database beside auth.json (`host.rs`).
    host: host::HostSource,
    _watcher: Option<Box<dyn Watcher>>,
}

impl AuthWatcher {
    pub fn new(
        path: PathBuf,
        registry: Addr<AccountRegistry>,
        inline: Option<String>,
        profiles: ProfileReader,
    ) -> Self {
        AuthWatcher {
            path: path.clone(),
            registry,
            inline,
            last_good: HashMap::new(),
            profiles: Arc::new(profiles),
            problems: BTreeSet::new(),
            scheduled: None,
            host: host::HostSource::at(path.with_file_name(crate::opencode2::DB_FILE)),
            _watcher: None,
        }
    }

    /// Watches the folder for changes, or polls the file where notifications are unavailable.
    fn watch(&mut self, ctx: &mut Context<Self>) {
        let Some(dir) = self.path.parent().map(Path::to_path_buf) else {
            return;
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot create opencode's data folder; logins are not watched");
            return;
        }
        let name = self.path.file_name().map(|n| n.to_os_string());
        let addr = ctx.address();
        let folder = dir.clone();
        let filter = move |res: notify::Result<notify::Event>| {
            let Ok(event) = res else { return };
            let gone = matches!(
                event.kind,
                EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
            );
            if gone && event.paths.contains(&folder) {
                addr.do_send(FolderGone);
            } else if event.need_rescan() {
                addr.do_send(FileChanged(Change::Settling));
            } else if let Some(c) = change(&event.kind) {
                if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                    addr.do_send(FileChanged(c));
                }
                if (event.paths.iter()).any(|p| p.file_name().is_some_and(crate::opencode2::is_db_file)) {
                    addr.do_send(HostDbChanged);
                }
            }
        };
        // Network and some container mounts never report changes: `OPENCODE_BALANCER_WATCH=poll`.
        let native = if std::env::var("OPENCODE_BALANCER_WATCH").is_ok_and(|v| v == "poll") {
            Err(notify::Error::generic("OPENCODE_BALANCER_WATCH=poll asks for polling"))
        } else {
            notify::recommended_watcher(filter).and_then(|mut w| {
                w.watch(&dir, RecursiveMode::NonRecursive)?;
                Ok(Box::new(w) as Box<dyn Watcher>)
            })
        };
        match native {
            Ok(w) => self._watcher = Some(w),
            // Polled by reading the file itself (bounded, non-blocking), not by notify's poller,
            // which would hash whatever the path leads to, however large, on every round.
            Err(e) => {
                tracing::warn!(error = %e, "file notifications unavailable; polling auth.json every {POLL_INTERVAL:?}");
                ctx.run_interval(POLL_INTERVAL, |this, ctx| {
                    this.read(ctx);
                    this.read_host();
                });
            }
        }
    }

    /// The text to parse and where it came from, or why there is none to parse.
    fn text(&self) -> Result<(String, &'static str), AuthFileError> {
        match &self.inline {
            Some(t) => Ok((t.clone(), "OPENCODE_AUTH_CONTENT")),
            None => Ok((read_auth_file(&self.path)?.unwrap_or_default(), "auth.json")),
        }
    }

    /// Reads the file (or the inline content) and captures every entry that changed.
    fn read(&mut self, ctx: &mut Context<Self>) {
        let parsed = self.text().and_then(|(text, source)| parse_logins(&text, source));
        let file = match parsed {
            Ok(file) => file,
            Err(why) => {
                self.report([format!("{why}; keeping the last good version")].into());
                return;
            }
        };
        self.report(
            file.skipped
                .iter()
                .map(|e| format!("{e}; skipped that entry"))
                .collect(),
        );
        let changed: Vec<(String, Auth)> = (file.entries.iter())
            .filter(|(provider, auth)| self.last_good.get(*provider) != Some(*auth))
            .map(|(provider, auth)| (provider.clone(), auth.clone()))
            .collect();
        let claude: Vec<(String, Auth, Option<Auth>)> = (changed.iter())
            .filter(|(p, a)| needs_profile(p, a))
            .map(|(p, a)| (p.clone(), a.clone(), self.last_good.get(p).cloned()))
            .collect();
        self.last_good = file.entries.into_iter().collect();
        if changed.is_empty() {
            return;
        }
        tracing::debug!(entries = changed.len(), "logins seen in auth.json");
        if claude.is_empty() {
            self.capture(changed, BTreeMap::new());
            return;
        }
        let profiles = self.profiles.clone();
        let lookups = async move {
            let mut hints = BTreeMap::new();
            for (provider, auth, previous) in claude {
                let hint = profiles.hint(&provider, &auth, previous).await;
                hints.insert(provider, hint);
            }
            hints
        };
        // Reads wait for the answer, so captures keep the order opencode wrote them in.
        ctx.wait(actix::fut::wrap_future(lookups).map(move |hints, this: &mut Self, _| this.capture(changed, hints)));
    }

    fn capture(&self, entries: Vec<(String, Auth)>, hints: BTreeMap<String, CaptureHint>) {
        self.registry.do_send(Capture {
            entries,
            source: "auth.json".into(),
            hints,
        });
    }

    /// Logs each problem of this version that the last one did not have.
    fn report(&mut self, problems: BTreeSet<String>) {
        for problem in problems.difference(&self.problems) {
            tracing::warn!(path = %self.path.display(), "{problem}");
        }
        self.problems = problems;
    }
}

impl Actor for AuthWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.inline.is_none() {
            self.watch(ctx);
        }
        // Logins already there at start count as changes (installing picks up existing accounts).
        self.read(ctx);
        if self.inline.is_none() {
            self.read_host();
        }
    }
}

impl Handler<FolderGone> for AuthWatcher {
    type Result = ();
    /// Makes the folder again (as at start), watches it anew and reads what is there now.
    fn handle(&mut self, _: FolderGone, ctx: &mut Context<Self>) {
        tracing::info!("opencode's data folder was removed or moved; watching it again");
        self._watcher = None;
        self.watch(ctx);
        self.handle(FileChanged(Change::Whole), ctx);
        self.handle(HostDbChanged, ctx);
    }
}

impl Handler<FileChanged> for AuthWatcher {
    type Result = ();
    /// Schedules one read: at once for a whole change, after [`DEBOUNCE`] for one still arriving.
    /// A read already due as soon or sooner covers this change too.
    fn handle(&mut self, FileChanged(c): FileChanged, ctx: &mut Context<Self>) {
        match (self.scheduled, c) {
            (Some((Change::Whole, _)), _) | (Some((Change::Settling, _)), Change::Settling) => return,
            (Some((Change::Settling, pending)), Change::Whole) => {
                ctx.cancel_future(pending);
            }
            (None, _) => {}
        }
        let delay = match c {
            Change::Whole => Duration::ZERO,
            Change::Settling => DEBOUNCE,
        };
        let handle = ctx.run_later(delay, |this, ctx| {
            this.scheduled = None;
            this.read(ctx);
        });
        self.scheduled = Some((c, handle));
    }
}
