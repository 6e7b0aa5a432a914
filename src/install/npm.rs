//! `install --npm` / `uninstall --npm`: the npm package's name, `opencode-balancer`, in the
//! `plugin` arrays of `opencode.json(c)` and `tui.json(c)` (what `opencode plugin <module> -g`
//! writes too: opencode 1.18.33 loads a package's `./server` export, else its main, for
//! opencode.json and its `./tui` export for tui.json), with
//! the same care as `--config` (`config_edit`, `record`). opencode then installs the package, and
//! with it the platform package holding the binary, by itself; no file is written here. Until the
//! package is published, opencode cannot fetch it: unless a copy is found where opencode resolves
//! it, the output says so, and how to install from this binary instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::config_edit::{self, Edit};
use super::record::Records;
use super::routes::{is_package_entry, refuse_a_second_route, Route};
use super::Paths;

/// The server plugin's entry: the package's main export.
pub const SERVER_ENTRY: &str = "opencode-balancer";
/// The TUI plugin's entry: the same name; opencode picks the package's `./tui` export.
pub const TUI_ENTRY: &str = "opencode-balancer";

const SERVER: Edit = Edit {
    key: "plugin",
    entry: SERVER_ENTRY,
    also: Some(is_package_entry),
};
const TUI: Edit = Edit {
    key: "plugin",
    entry: TUI_ENTRY,
    also: Some(is_package_entry),
};

/// Adds both entries (both configs are checked before either is written), or with `remove` takes
/// them out of every config name opencode reads.
pub fn run(paths: &Paths, binary: &Path, dry_run: bool, remove: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    let records = Records {
        path: paths.record_file.clone(),
    };
    if remove {
        for cfg in paths.config_files() {
            config_edit::uninstall(&cfg, &SERVER, &records, dry_run, &mut out)?;
        }
        for cfg in paths.tui_config_files() {
            config_edit::uninstall(&cfg, &TUI, &records, dry_run, &mut out)?;
        }
        return Ok(out);
    }
    refuse_a_second_route(Route::Npm, paths)?;
    let (cfg, tui) = (paths.config_file(), paths.tui_config_file());
    let mut check = String::new();
    config_edit::install(&cfg, &SERVER, &records, true, &mut check)?;
    config_edit::install(&tui, &TUI, &records, true, &mut check)?;
    config_edit::install(&cfg, &SERVER, &records, dry_run, &mut out)?;
    config_edit::install(&tui, &TUI, &records, dry_run, &mut out)?;
    let places = package_places(paths, binary);
    match places.iter().find(|p| p.join("package.json").is_file()) {
        Some(found) => {
            if !dry_run {
                let _ = writeln!(
                    out,
                    "opencode loads the {SERVER_ENTRY} package ({}) on its next start.",
                    found.display()
                );
            }
        }
        None => {
            let looked: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
            let _ = writeln!(
                out,
                "warning: no {SERVER_ENTRY} package was found where opencode looks for it ({}). opencode will \
                 try to fetch it from the npm registry at its next start; until a release is published there \
                 that fails and opencode runs without the balancer (said only in its log). To install from \
                 this binary instead: `opencode-balancer uninstall --npm`, then `opencode-balancer install`.",
                looked.join(", ")
            );
        }
    }
    Ok(out)
}

/// Package folders opencode would load `opencode-balancer` from without the registry: the
/// config folder's and opencode's cache's `node_modules`, and the package beside this binary's
/// platform package (`npx opencode-balancer`).
pub(super) fn package_places(paths: &Paths, binary: &Path) -> Vec<PathBuf> {
    let mut places = vec![
        paths.config_dir.join("node_modules").join(SERVER_ENTRY),
        paths.cache_dir.join("node_modules").join(SERVER_ENTRY),
    ];
    // <node_modules>/opencode-balancer-<platform>/bin/opencode-balancer
    if let Some(modules) = binary.ancestors().nth(3) {
        if modules.file_name().is_some_and(|n| n == "node_modules") {
            places.push(modules.join(SERVER_ENTRY));
        }
    }
    places
}
