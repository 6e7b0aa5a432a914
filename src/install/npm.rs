//! `install --npm` / `uninstall --npm`: the npm package's name, `opencode-balancer`, in the
//! `plugin` arrays of `opencode.json(c)` and `tui.json(c)` (what `opencode plugin <module> -g`
//! writes too: opencode 1.18.33 loads a package's `./server` export, else its main, for
//! opencode.json and its `./tui` export for tui.json), with
//! the same care as `--config` (`config_edit`, `record`). opencode then installs the package, and
//! with it the platform package holding the binary, by itself; no file is written here.

use std::fmt::Write as _;

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
pub fn run(paths: &Paths, dry_run: bool, remove: bool) -> anyhow::Result<String> {
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
    if !dry_run {
        let _ = writeln!(
            out,
            "opencode installs the {SERVER_ENTRY} package (with its binary) and loads it on its next start."
        );
    }
    Ok(out)
}
