//! `opencode-balancer doctor`: checks the installation end to end and explains each problem.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::api::methods::Status;
use crate::api::NoParams;

use crate::install::routes::{self, Loader, Route};
use crate::install::Paths;
use crate::logins::{default_auth_path, parse_logins, read_auth_file};
use crate::rpc::client::RpcClient;
use crate::store::{migrations, Store};

mod hosts;
pub mod report;

pub use report::{Level, Report};

fn mode(path: &Path) -> Option<u32> {
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
}

/// The store, its `-wal` or its `-shm` (when there): ours and 0600, as all three hold credentials.
fn check_private_file(r: &mut Report, file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(file) else {
        if !file.exists() {
            return;
        }
        return r.add(Level::Fail, format!("{} cannot be read", file.display()));
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        r.add(
            Level::Fail,
            format!(
                "{} is owned by uid {}, not by you ({me}); the store is refused until it is yours",
                file.display(),
                meta.uid()
            ),
        );
    }
    match meta.permissions().mode() & 0o777 {
        0o600 => r.add(Level::Ok, format!("{} is private (0600)", file.display())),
        m => r.add(
            Level::Fail,
            format!(
                "{} has mode {m:o}; run `chmod 600 {}` (it holds credentials)",
                file.display(),
                file.display()
            ),
        ),
    }
}

fn check_store(r: &mut Report, store: &Path) {
    if !store.exists() {
        r.add(
            Level::Warn,
            format!(
                "store {} does not exist yet; it is created on first use",
                store.display()
            ),
        );
        return;
    }
    for file in std::iter::once(store.to_path_buf()).chain(crate::store::guard::companions(store)) {
        check_private_file(r, &file);
    }
    if let Some(dir) = store.parent() {
        if let Some(m) = mode(dir).filter(|m| m & 0o077 != 0) {
            r.add(
                Level::Warn,
                format!("folder {} has mode {m:o}; 0700 keeps other users out", dir.display()),
            );
        }
    }
    match Store::open(store) {
        Ok(s) => {
            match s.schema_version() {
                Ok(v) if v == migrations::LATEST => r.add(Level::Ok, format!("schema version {v} (current)")),
                Ok(v) => r.add(
                    Level::Fail,
                    format!("schema version {v}, expected {}", migrations::LATEST),
                ),
                Err(e) => r.add(Level::Fail, format!("cannot read the schema version: {e}")),
            }
            match s.integrity_check() {
                Ok(ok) if ok == "ok" => r.add(Level::Ok, "store integrity check passed"),
                Ok(other) => r.add(Level::Fail, format!("store integrity check: {other}")),
                Err(e) => r.add(Level::Fail, format!("store integrity check failed: {e}")),
            }
            check_logins(r, &s);
        }
        Err(e) => r.add(Level::Fail, format!("{e}")),
    }
}

/// Saved OAuth accounts whose provider refused their refresh token: each needs a new login.
fn check_logins(r: &mut Report, s: &Store) {
    let Ok(snap) = s.load_snapshot(None) else { return };
    let stale: Vec<_> = snap.accounts.iter().filter(|a| a.token.login_required).collect();
    for a in &stale {
        r.add(
            Level::Warn,
            format!(
                "{}/{} needs a new login (its refresh token was refused): {}, and it is captured again",
                a.provider_id,
                a.alias,
                crate::model::refresh_policy::login_hint(&a.provider_id)
            ),
        );
    }
    if stale.is_empty() && snap.accounts.iter().any(|a| a.auth.auth_type() == "oauth") {
        r.add(Level::Ok, "no saved OAuth login needs a new login");
    }
}

/// opencode's logins, read and parsed as the watcher does (the same safe reader, the same errors
/// without a value): a file that cannot be read fails, each entry that would be skipped warns.
fn check_auth(r: &mut Report) {
    let inline = std::env::var("OPENCODE_AUTH_CONTENT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    let (name, source, text) = match inline {
        Some(text) => (
            "OPENCODE_AUTH_CONTENT (read instead of auth.json)".to_string(),
            "OPENCODE_AUTH_CONTENT",
            text,
        ),
        None => {
            let path = default_auth_path();
            match read_auth_file(&path) {
                Ok(Some(text)) => (path.display().to_string(), "auth.json", text),
                Ok(None) => {
                    return r.add(
                        Level::Warn,
                        format!(
                            "{} does not exist yet; logins appear there after `/connect` in opencode",
                            path.display()
                        ),
                    )
                }
                Err(why) => return r.add(Level::Fail, format!("{}: {why}", path.display())),
            }
        }
    };
    match parse_logins(&text, source) {
        Ok(file) => {
            r.add(
                Level::Ok,
                format!("{name} is readable ({} provider logins)", file.entries.len()),
            );
            for skipped in file.skipped {
                r.add(Level::Warn, format!("{skipped}; that entry is not captured"));
            }
        }
        Err(why) => r.add(Level::Fail, format!("{name}: {why}")),
    }
}

/// What a copied plugin file says about itself: this version, this binary?
fn check_copied_file(r: &mut Report, loader: &Loader, binary: &Path) {
    let file = match (&loader.route, loader.entry.as_deref()) {
        (Route::ConfigEntry, Some(e)) => PathBuf::from(e.strip_prefix("file://").unwrap_or(e)),
        _ => loader.place.clone(),
    };
    let again = loader.route.command(false);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return r.add(
            Level::Fail,
            format!(
                "{loader} names {}, which cannot be read; run `{again}` again",
                file.display()
            ),
        );
    };
    let first = text.lines().next().unwrap_or("");
    let version = env!("CARGO_PKG_VERSION");
    if !first.contains(&format!(" {version} for ")) {
        r.add(
            Level::Fail,
            format!(
                "{} was installed by another version; run `{again}` again",
                file.display()
            ),
        );
    } else if !first.contains(&format!(" for {};", binary.display())) {
        r.add(
            Level::Warn,
            format!(
                "{} points at another binary than {}; run `{again}` to use this one",
                file.display(),
                binary.display()
            ),
        );
    } else {
        r.add(
            Level::Ok,
            format!("plugin {} matches this binary ({version})", file.display()),
        );
    }
}

/// Finds every route that loads the server plugin (global and project configs, plugin
/// folders), says which, and fails on none or on two routes at once (opencode would load it
/// twice); its advice never adds a second loader.
fn check_plugin(r: &mut Report, paths: &Paths, binary: &Path, project: Option<&Path>) {
    let loaders = routes::server_loaders(paths, project);
    let Some(first) = loaders.first() else {
        r.add(
            Level::Fail,
            "the opencode plugin is not installed (no copied plugin file, no opencode-balancer entry in an opencode.json(c)); run `opencode-balancer install` (or `opencode-balancer install --npm`)",
        );
        return;
    };
    r.route = Some(first.route);
    r.loaders = loaders.clone();
    if let Some(other) = loaders.iter().find(|l| l.route != first.route) {
        r.add(
            Level::Fail,
            format!(
                "the plugin is installed two ways, so opencode loads it twice: {} ({first}) and {} ({other}); {} to keep only the first",
                routes::describe(first.route),
                routes::describe(other.route),
                routes::how_to_remove(other, paths)
            ),
        );
    }
    for loader in &loaders {
        match loader.route {
            Route::Npm => r.add(
                Level::Ok,
                format!("plugin installed through npm: {loader} (opencode installs the package and its binary itself)"),
            ),
            _ => check_copied_file(r, loader, binary),
        }
    }
    let tui = routes::tui_loaders(paths);
    if tui.is_empty() {
        r.add(
            Level::Warn,
            format!(
                "the TUI plugin is not in tui.json(c) (no dashboard inside opencode); run `{}` again to add it",
                first.route.command(false)
            ),
        );
    } else {
        for loader in tui {
            r.add(Level::Ok, format!("TUI plugin installed: {loader}"));
        }
    }
}

fn check_sidecar(r: &mut Report, binary: &Path, store: &Path) {
    let started = Instant::now();
    let client = RpcClient::spawn(binary, store, &[("OPENCODE_BALANCER_NO_WATCH", "1")]);
    let mut client = match client {
        Ok(c) => c,
        Err(e) => return r.add(Level::Fail, format!("cannot start `{} serve`: {e}", binary.display())),
    };
    match client.call::<Status>(&NoParams {}) {
        Ok(v) => {
            let took = started.elapsed();
            let level = if took < Duration::from_secs(1) {
                Level::Ok
            } else {
                Level::Warn
            };
            r.add(
                level,
                format!(
                    "sidecar answered in {} ms: {} accounts, balancing {}",
                    took.as_millis(),
                    v.accounts,
                    if v.balancing { "on" } else { "off" }
                ),
            );
        }
        Err(e) => r.add(Level::Fail, format!("the sidecar did not answer: {e}")),
    }
    let _ = client.shutdown();
}

/// Runs every check; `project` is the folder opencode would start in (its configs count too).
pub fn run(store: &Path, binary: &Path, project: Option<&Path>) -> Report {
    let mut r = Report {
        lines: Vec::new(),
        route: None,
        loaders: Vec::new(),
        hosts: serde_json::Value::Null,
    };
    check_store(&mut r, store);
    check_auth(&mut r);
    for (level, text) in crate::opencode2::doctor::findings() {
        r.add(level, text);
    }
    let paths = Paths::from_env();
    if hosts::check(&mut r, &paths).wants_v1() {
        check_plugin(&mut r, &paths, binary, project);
    }
    check_sidecar(&mut r, binary, store);
    r
}

/// `opencode-balancer doctor [--json]`: the report as text (or JSON) for stdout, and whether it
/// found a problem.
pub fn command(store: &Path, json: bool) -> (String, bool) {
    let binary = std::env::current_exe()
        .map(|b| b.canonicalize().unwrap_or(b))
        .unwrap_or_default();
    let project = std::env::current_dir().ok();
    let report = run(store, &binary, project.as_deref());
    let text = if json { report.json() } else { report.render() };
    (text, report.failed())
}
