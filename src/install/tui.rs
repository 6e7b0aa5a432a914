//! The TUI plugin's part of `install` / `uninstall`: one `file://` entry naming the package's
//! `tui/index.js` (see `package`; never a folder opencode scans for server plugins) in the
//! `plugin` array of the global `tui.json`/`tui.jsonc`.

use std::path::PathBuf;

use super::record::Records;
use super::{config_edit, file_url, package, Paths};

impl Paths {
    /// The existing `tui.jsonc` (a symlink counts) or else `tui.json`, existing or new.
    pub(super) fn tui_config_file(&self) -> PathBuf {
        let jsonc = self.config_dir.join("tui.jsonc");
        if jsonc.symlink_metadata().is_ok() {
            jsonc
        } else {
            self.config_dir.join("tui.json")
        }
    }

    /// Both TUI config names opencode reads; `uninstall` looks in each.
    pub fn tui_config_files(&self) -> [PathBuf; 2] {
        [self.config_dir.join("tui.jsonc"), self.config_dir.join("tui.json")]
    }

    /// The TUI plugin's module the tui.json entry names.
    pub fn tui_entry_file(&self) -> PathBuf {
        self.package_dir().join(package::TUI_ENTRY)
    }
}

/// Adds the tui.json entry (the package's files are `package::install`'s).
pub fn install(paths: &Paths, records: &Records, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let url = file_url(&paths.tui_entry_file());
    let edit = config_edit::Edit {
        key: "plugin",
        entry: &url,
        also: None,
    };
    config_edit::install(&paths.tui_config_file(), &edit, records, dry_run, out)
}

/// Takes the entry out of both tui config names.
pub fn uninstall(paths: &Paths, records: &Records, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let url = file_url(&paths.tui_entry_file());
    let edit = config_edit::Edit {
        key: "plugin",
        entry: &url,
        also: None,
    };
    for cfg in paths.tui_config_files() {
        config_edit::uninstall(&cfg, &edit, records, dry_run, out)?;
    }
    Ok(())
}
