//! Which install routes load the balancer now: the copied plugin file in opencode's plugin
//! folder, the copied file named by a `file://` entry (`install --config`), or the npm package
//! named in a `plugin` array in any form (`opencode-balancer`, `@1.0.0`, `@^1`, a tuple
//! `["opencode-balancer", {…}]`, a path or `file://` URL of the package folder). `install` uses it
//! to add nothing twice and to refuse a second route; `doctor` to say which route it found.

use std::fmt;
use std::path::{Path, PathBuf};

use super::config_edit;
use super::{Paths, MARKER, PLUGIN_FILE};

/// The npm package's name.
pub const PACKAGE: &str = "opencode-balancer";

/// How the server plugin gets loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `install`: the copied file in opencode's plugin folder (loaded whole).
    PluginFolder,
    /// `install --config`: a copied file named by a `file://` entry.
    ConfigEntry,
    /// `install --npm` (or `opencode plugin opencode-balancer`): the package named in a config.
    Npm,
}

impl Route {
    /// The command that installs (or, with `un`, removes) this route.
    pub fn command(self, un: bool) -> String {
        let verb = if un { "uninstall" } else { "install" };
        match self {
            Route::PluginFolder => format!("opencode-balancer {verb}"),
            Route::ConfigEntry => format!("opencode-balancer {verb} --config"),
            Route::Npm => format!("opencode-balancer {verb} --npm"),
        }
    }

    /// The stable name `doctor --json` gives it.
    pub fn name(self) -> &'static str {
        match self {
            Route::PluginFolder => "plugin-folder",
            Route::ConfigEntry => "config-file-entry",
            Route::Npm => "npm",
        }
    }

    /// The copied-file routes against the npm one.
    pub fn copies_a_file(self) -> bool {
        self != Route::Npm
    }
}

/// One loader found: its route, where (the plugin file or the config naming it) and the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loader {
    pub route: Route,
    pub place: PathBuf,
    pub entry: Option<String>,
}

impl fmt::Display for Loader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(e) => write!(f, "{e:?} in {}", self.place.display()),
            None => write!(f, "{}", self.place.display()),
        }
    }
}

/// A path out of an entry: `file://` stripped, trailing `/` dropped.
pub(super) fn entry_path(entry: &str) -> Option<&Path> {
    let path = entry.strip_prefix("file://").unwrap_or(entry);
    let looks_like_path = path.starts_with('/') || path.starts_with('.') || path.starts_with('~');
    (entry.starts_with("file://") || looks_like_path).then(|| Path::new(path.trim_end_matches('/')))
}

/// Whether `entry` names the npm package: its name with or without a version or range, or the
/// path of its folder (named so, or holding a package.json that says so).
pub fn is_package_entry(entry: &str) -> bool {
    let entry = entry.trim();
    if let Some(rest) = entry.strip_prefix(PACKAGE) {
        return rest.is_empty() || rest.starts_with('@');
    }
    let Some(path) = entry_path(entry) else {
        return false;
    };
    if path.file_name().is_some_and(|n| n == PACKAGE) {
        return true;
    }
    std::fs::read_to_string(path.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["name"] == PACKAGE)
}

/// Whether `entry` names a copied file this command writes (the server plugin, or the TUI
/// plugin's `index.js` beside the store's data).
pub fn is_copied_entry(entry: &str, paths: &Paths) -> bool {
    let Some(path) = entry_path(entry.trim()) else {
        return false;
    };
    path == paths.config_mode_file()
        || path == paths.plugin_folder_file()
        || path == paths.tui_entry_file()
        || path == paths.old_config_mode_file()
        || path == paths.old_tui_folder().join("index.js")
        || path.file_name().is_some_and(|n| n == PLUGIN_FILE)
}

/// The route `entry` of a `plugin` array stands for, if it is ours.
pub fn route_of(entry: &str, paths: &Paths) -> Option<Route> {
    // opencode 2's entry (`v2`): no loader of opencode 1's, which ignores "plugins".
    if entry_path(entry.trim()).is_some_and(|p| p == paths.package_dir()) {
        None
    } else if is_package_entry(entry) {
        Some(Route::Npm)
    } else if is_copied_entry(entry, paths) {
        Some(Route::ConfigEntry)
    } else {
        None
    }
}

/// Our loaders named in `config` (either spelling of the file); unreadable configs name none.
fn in_config(config: &Path, paths: &Paths, out: &mut Vec<Loader>) {
    for entry in config_edit::plugin_entries(config) {
        if let Some(route) = route_of(&entry, paths) {
            out.push(Loader {
                route,
                place: config.to_path_buf(),
                entry: Some(entry),
            });
        }
    }
}

/// A copied plugin file in `folder` (written by this command: it starts with the marker).
fn in_folder(folder: &Path, out: &mut Vec<Loader>) {
    let file = folder.join(PLUGIN_FILE);
    if std::fs::read(&file).is_ok_and(|b| b.starts_with(MARKER.as_bytes())) {
        out.push(Loader {
            route: Route::PluginFolder,
            place: file,
            entry: None,
        });
    }
}

/// The server plugin's loaders in the global config (and, with `project`, in that project's
/// `opencode.json(c)`, `.opencode/opencode.json(c)` and `.opencode/plugin/`).
pub fn server_loaders(paths: &Paths, project: Option<&Path>) -> Vec<Loader> {
    let mut out = Vec::new();
    in_folder(&paths.config_dir.join("plugin"), &mut out);
    for cfg in paths.config_files() {
        in_config(&cfg, paths, &mut out);
    }
    if let Some(dir) = project {
        let dot = dir.join(".opencode");
        in_folder(&dot.join("plugin"), &mut out);
        for folder in [dir, dot.as_path()] {
            for name in ["opencode.jsonc", "opencode.json"] {
                in_config(&folder.join(name), paths, &mut out);
            }
        }
    }
    out
}

/// The TUI plugin's loaders in the global `tui.json(c)`.
pub fn tui_loaders(paths: &Paths) -> Vec<Loader> {
    let mut out = Vec::new();
    for cfg in paths.tui_config_files() {
        in_config(&cfg, paths, &mut out);
    }
    out
}

/// Refuses to install `route` while a loader of another route is there: opencode would load the
/// balancer twice. Refusing (not replacing) changes nothing, and keeps what the user wrote (a
/// pinned version, options in a tuple) until they remove it with the command named.
pub fn refuse_a_second_route(route: Route, paths: &Paths) -> anyhow::Result<()> {
    let all = server_loaders(paths, None).into_iter().chain(tui_loaders(paths));
    let other = all.into_iter().find(|l| {
        if route == Route::Npm {
            l.route != Route::Npm
        } else {
            l.route == Route::Npm || (l.route != route && !is_tui_entry(l, paths))
        }
    });
    match other {
        Some(l) => anyhow::bail!(
            "opencode-balancer is already installed another way ({}: {l}); a second loader would load it twice, so nothing was changed. To switch, {} first, then run this again.",
            describe(l.route),
            how_to_remove(&l, paths)
        ),
        None => Ok(()),
    }
}

/// How to take `l` away: the uninstall command when `l` is exactly what that command's install
/// writes, else by hand (an entry someone wrote, a project's config, a pinned version, a tuple).
pub fn how_to_remove(l: &Loader, paths: &Paths) -> String {
    let global = paths.config_files().contains(&l.place) || paths.tui_config_files().contains(&l.place);
    let ours = match (l.route, l.entry.as_deref()) {
        (Route::PluginFolder, _) => l.place == paths.plugin_folder_file(),
        (Route::Npm, Some(e)) => global && e == PACKAGE,
        (Route::ConfigEntry, Some(e)) => {
            global && entry_path(e).is_some_and(|p| p == paths.config_mode_file() || p == paths.old_config_mode_file())
        }
        (_, None) => false,
    };
    match (&l.entry, ours) {
        (_, true) => format!("run `{}`", l.route.command(true)),
        (Some(e), false) => format!("take {e:?} out of \"plugin\" in {}", l.place.display()),
        (None, false) => format!("remove {}", l.place.display()),
    }
}

/// The copied TUI plugin's entry: written by both copied-file routes alike.
fn is_tui_entry(l: &Loader, paths: &Paths) -> bool {
    l.entry
        .as_deref()
        .and_then(entry_path)
        .is_some_and(|p| p == paths.tui_entry_file() || p == paths.old_tui_folder().join("index.js"))
}

/// A person's name for the route.
pub fn describe(route: Route) -> &'static str {
    match route {
        Route::PluginFolder => "the copied plugin file in opencode's plugin folder",
        Route::ConfigEntry => "a copied plugin file named in a config",
        Route::Npm => "the npm package named in a config",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        Paths {
            config_dir: "/h/.config/opencode".into(),
            data_dir: "/h/.local/share/opencode-balancer".into(),
            record_file: "/h/.config/opencode/r.json".into(),
            cache_dir: "/h/.cache/opencode".into(),
        }
    }

    #[test]
    fn every_form_of_the_package_entry_is_recognised_and_nothing_else() {
        for e in [
            "opencode-balancer",
            "opencode-balancer@1.0.0",
            "opencode-balancer@^1",
            "opencode-balancer@latest",
            " opencode-balancer ",
            "file:///opt/pkgs/opencode-balancer",
            "file:///opt/node_modules/opencode-balancer/",
            "/opt/node_modules/opencode-balancer",
            "./vendor/opencode-balancer",
        ] {
            assert!(is_package_entry(e), "{e}");
            assert_eq!(route_of(e, &paths()), Some(Route::Npm), "{e}");
        }
        for e in [
            "opencode-balancer-extra",
            "opencode-balancerx@1",
            "other-plugin@1",
            "@scope/opencode-balancer",
            "file:///opt/other",
            "",
        ] {
            assert_eq!(route_of(e, &paths()), None, "{e}");
        }
    }

    #[test]
    fn the_copied_files_entries_are_recognised() {
        let p = paths();
        for e in [
            "file:///h/.local/share/opencode-balancer/opencode-balancer.js",
            "/h/.local/share/opencode-balancer/opencode-balancer.js",
            "file:///h/.local/share/opencode-balancer/tui/index.js",
            "file:///h/.local/share/opencode-balancer/package/plugin/index.js",
            "/h/.local/share/opencode-balancer/package/plugin/index.js",
            "file:///h/.local/share/opencode-balancer/package/tui/index.js",
            "file:///elsewhere/opencode-balancer.js",
        ] {
            assert_eq!(route_of(e, &p), Some(Route::ConfigEntry), "{e}");
        }
    }
}
