//! Auth watcher actor: turns every login opencode writes to its auth.json into a saved account
//! (or a pending connection), and keeps saved accounts' tokens fresh when opencode refreshes them.
//!
//! It watches the *folder* (so replace-by-rename, truncate-and-write, delete and re-create are
//! all seen, and a file missing at start is picked up when it appears), debounces bursts, and
//! runs on its own thread so reading the file never delays the hot path. A file that does not
//! parse, or holds an entry of an unknown shape, changes nothing: the last good snapshot stays
//! and one warning is logged per bad version. It never writes auth.json.
//!
//! Messages: `FileChanged` (from the notify thread). Sends `Mutate::Capture` to the registry for
//! each provider entry that differs from the last good snapshot (all of them at start).

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix::prelude::*;
use notify::{RecursiveMode, Watcher};

use super::account_registry::{AccountRegistry, Mutate};
use crate::model::{describe_json_error, validate_provider, Auth};

/// How long a burst of writes is let settle before the file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(15);
/// Polling interval when file notifications are unavailable.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// `$XDG_DATA_HOME/opencode/auth.json`, default `~/.local/share/opencode/auth.json`.
pub fn default_auth_path() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".local/share")
        });
    data.join("opencode").join("auth.json")
}

/// Parses auth.json: an object of provider id → credential. Any bad entry rejects the whole file.
pub fn parse_auth_file(text: &str) -> Result<BTreeMap<String, Auth>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let raw: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("auth.json does not parse ({})", describe_json_error(&e)))?;
    let mut out = BTreeMap::new();
    for (provider, value) in raw {
        if validate_provider(&provider).is_none() {
            return Err("auth.json has an entry with an invalid provider id".into());
        }
        let auth: Auth = serde_json::from_value(value).map_err(|e| {
            format!(
                "auth.json entry '{provider}' has an unknown shape ({})",
                describe_json_error(&e)
            )
        })?;
        out.insert(provider, auth);
    }
    Ok(out)
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct FileChanged;

pub struct AuthWatcher {
    path: PathBuf,
    registry: Addr<AccountRegistry>,
    /// Inline content (`OPENCODE_AUTH_CONTENT`): read once, nothing watched.
    inline: Option<String>,
    last_good: HashMap<String, Auth>,
    last_bad: Option<u64>,
    read_scheduled: bool,
    _watcher: Option<Box<dyn Watcher>>,
}

impl AuthWatcher {
    pub fn new(path: PathBuf, registry: Addr<AccountRegistry>, inline: Option<String>) -> Self {
        AuthWatcher {
            path,
            registry,
            inline,
            last_good: HashMap::new(),
            last_bad: None,
            read_scheduled: false,
            _watcher: None,
        }
    }

    fn watch(&mut self, addr: Addr<Self>) {
        let Some(dir) = self.path.parent().map(Path::to_path_buf) else {
            return;
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot create opencode's data folder; logins are not watched");
            return;
        }
        let name = self.path.file_name().map(|n| n.to_os_string());
        let filter = move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res {
                if event.paths.iter().any(|p| p.file_name() == name.as_deref()) || event.need_rescan() {
                    addr.do_send(FileChanged);
                }
            }
        };
        // Network and some container mounts never report changes: `OPENCODE_BALANCER_WATCH=poll`.
        let native = if std::env::var("OPENCODE_BALANCER_WATCH").is_ok_and(|v| v == "poll") {
            Err(notify::Error::generic("OPENCODE_BALANCER_WATCH=poll asks for polling"))
        } else {
            notify::recommended_watcher(filter.clone()).and_then(|mut w| {
                w.watch(&dir, RecursiveMode::NonRecursive)?;
                Ok(Box::new(w) as Box<dyn Watcher>)
            })
        };
        self._watcher = match native {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "file notifications unavailable; polling auth.json every {POLL_INTERVAL:?}");
                let config = notify::Config::default()
                    .with_poll_interval(POLL_INTERVAL)
                    .with_compare_contents(true);
                notify::PollWatcher::new(filter, config)
                    .and_then(|mut w| {
                        w.watch(&dir, RecursiveMode::NonRecursive)?;
                        Ok(Box::new(w) as Box<dyn Watcher>)
                    })
                    .map_err(|e| tracing::warn!(error = %e, "cannot poll auth.json either; logins are not watched"))
                    .ok()
            }
        };
    }

    /// Reads the file (or the inline content) and captures every entry that changed.
    fn read(&mut self) {
        let text = match &self.inline {
            Some(t) => t.clone(),
            None => match std::fs::read_to_string(&self.path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot read auth.json; keeping the last good version");
                    return;
                }
            },
        };
        let entries = match parse_auth_file(&text) {
            Ok(e) => e,
            Err(why) => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut h);
                let digest = h.finish();
                if self.last_bad != Some(digest) {
                    self.last_bad = Some(digest);
                    tracing::warn!(path = %self.path.display(), "{why}; keeping the last good version");
                }
                return;
            }
        };
        self.last_bad = None;
        for (provider, auth) in &entries {
            if self.last_good.get(provider) == Some(auth) {
                continue;
            }
            tracing::debug!(provider = %provider, "login seen in auth.json");
            self.registry.do_send(Mutate::Capture {
                provider_id: provider.clone(),
                auth: auth.clone(),
                source: "auth.json".into(),
            });
        }
        self.last_good = entries.into_iter().collect();
    }
}

impl Actor for AuthWatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.inline.is_none() {
            self.watch(ctx.address());
        }
        // Logins already there at start count as changes (installing picks up existing accounts).
        self.read();
    }
}

impl Handler<FileChanged> for AuthWatcher {
    type Result = ();
    fn handle(&mut self, _: FileChanged, ctx: &mut Context<Self>) {
        if self.read_scheduled {
            return;
        }
        self.read_scheduled = true;
        ctx.run_later(DEBOUNCE, |this, _| {
            this.read_scheduled = false;
            this.read();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_opencode_auth_files_and_rejects_unknown_shapes_whole() {
        let ok = parse_auth_file(
            r#"{"openai":{"type":"api","key":"sk-a"},"mock":{"type":"wellknown","key":"k","token":"t"}}"#,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert!(parse_auth_file("").unwrap().is_empty());
        let bad = parse_auth_file(r#"{"openai":{"type":"api","key":"sk-a"},"x":{"type":"magic","key":"sk-secret-b"}}"#)
            .unwrap_err();
        assert!(bad.contains("unknown shape") && !bad.contains("sk-secret-b"), "{bad}");
        assert!(parse_auth_file("{\"openai\": {\"type\":").is_err());
        assert!(parse_auth_file("[1,2]").is_err());
        assert!(parse_auth_file(r#"{"bad id":{"type":"api","key":"k"}}"#).is_err());
    }
}
