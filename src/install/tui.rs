//! The TUI plugin's part of `install` / `uninstall`: its files (from `tui/`, embedded) go beside
//! the store's data, in `tui/`, never into a folder opencode scans for server plugins, and one
//! `file://` entry goes into the `plugin` array of the global `tui.json`/`tui.jsonc`.

use std::path::{Path, PathBuf};

use super::record::Records;
use super::safe_write::Target;
use super::{config_edit, file_url, fill_binary, put_file, remove_plugin_file, Paths};

/// The TUI plugin's files, as shipped in `tui/`; the first is the module tui.json names.
pub const TUI_FILES: [(&str, &str); 3] = [
    ("index.js", include_str!("../../tui/index.js")),
    ("view.js", include_str!("../../tui/view.js")),
    ("rpc.js", include_str!("../../tui/rpc.js")),
];

impl Paths {
    pub(super) fn tui_folder(&self) -> PathBuf {
        self.data_dir.join("tui")
    }

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
}

fn entry(paths: &Paths) -> String {
    file_url(&paths.tui_folder().join(TUI_FILES[0].0))
}

/// Writes the TUI files and adds the tui.json entry; the config is checked before any file is
/// written, so one that cannot be edited leaves nothing behind.
pub fn install(paths: &Paths, binary: &Path, records: &Records, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let url = entry(paths);
    let edit = config_edit::Edit {
        key: "plugin",
        entry: &url,
        also: None,
    };
    let cfg = paths.tui_config_file();
    let mut check = String::new();
    config_edit::install(&cfg, &edit, records, true, &mut check)?;
    for (name, source) in TUI_FILES {
        let text = fill_binary(source, binary, name == TUI_FILES[0].0)?;
        put_file(&paths.tui_folder().join(name), &text, dry_run, out)?;
    }
    config_edit::install(&cfg, &edit, records, dry_run, out)
}

/// Takes the entry out of both tui config names, then the files (and their folder when empty).
pub fn uninstall(paths: &Paths, records: &Records, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let url = entry(paths);
    let edit = config_edit::Edit {
        key: "plugin",
        entry: &url,
        also: None,
    };
    for cfg in paths.tui_config_files() {
        config_edit::uninstall(&cfg, &edit, records, dry_run, out)?;
    }
    let folder = paths.tui_folder();
    for (name, _) in TUI_FILES {
        let path = folder.join(name);
        if Target::inspect(&path)?.bytes().is_some() {
            remove_plugin_file(&path, dry_run, out)?;
        }
    }
    if !dry_run && std::fs::read_dir(&folder).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(&folder);
    }
    Ok(())
}
