//! opencode 2's part of `install` / `uninstall`: one entry, the installed package folder
//! (`package`), in the `plugins` array of the global `opencode.json(c)` (the file both lines read;
//! `config_edit` and `record` give the same care and byte-exact uninstall as opencode 1's `plugin`
//! entry), and the package's root `index.js` (`package::ROOT_ENTRY`, written with the package).
//!
//! Why the root file: for a local folder in `plugins`, opencode 2 (2.1.2) does not read the
//! package's `exports`; it resolves `<folder>/server`, then `<folder>/index`, for the server
//! plugin and `<folder>/tui` for the TUI plugin (`Bun.resolveSync`). A folder whose server
//! plugin is only under `exports` (`./plugin/index.js`) is skipped without a word in its log.
//! `<folder>/tui` resolves to `tui/index.js` by itself, so the TUI needs nothing more: the same
//! entry loads it in the TUI (checked by running 2.1.2; `cli.json` needs no entry).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::config_edit::{self, Edit};
use super::folders::{self, Folders, FOLDERS_FILE};
use super::package::{self, ROOT_ENTRY};
use super::record::Records;
use super::{npm, routes, Paths, MARKER};

impl Paths {
    fn records(&self) -> Records {
        Records {
            path: self.record_file.clone(),
        }
    }
}

/// The `plugins` entry: the package folder's absolute path (opencode 2 wants a folder, no `file://`).
pub fn entry(paths: &Paths) -> String {
    paths.package_dir().display().to_string()
}

fn edit(entry: &str) -> Edit<'_> {
    Edit {
        key: "plugins",
        entry,
        also: None,
    }
}

/// Checks that the config can take `entry` (default: the package folder), changing nothing (run
/// before anything is written).
pub fn check(paths: &Paths, entry: Option<&str>) -> anyhow::Result<()> {
    let default = self::entry(paths);
    let edit = edit(entry.unwrap_or(&default));
    config_edit::install(&paths.config_file(), &edit, &paths.records(), true, &mut String::new())
}

/// Adds the `plugins` entry (the package folder is written by `package`, before).
pub fn install(paths: &Paths, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let entry = entry(paths);
    config_edit::install(&paths.config_file(), &edit(&entry), &paths.records(), dry_run, out)
}

/// `install --npm` for opencode 2: the installed npm package's folder, by path (opencode 2
/// resolves a name in `plugins` through the registry itself, which has no release yet). `None`
/// when no copy is where `npm` looks (nothing changed then).
pub fn install_npm(paths: &Paths, binary: &Path, dry_run: bool, out: &mut String) -> anyhow::Result<Option<PathBuf>> {
    let Some(folder) = npm::package_places(paths, binary)
        .into_iter()
        .find(|p| p.join("package.json").is_file())
    else {
        return Ok(None);
    };
    let entry = folder.display().to_string();
    config_edit::install(&paths.config_file(), &edit(&entry), &paths.records(), dry_run, out)?;
    Ok(Some(folder))
}

/// Takes the package folder's entry (and with `npm`, those `install --npm` adds) out of both
/// config names — the exact bytes back when the file is what install left; runs before opencode
/// 1's uninstall, which undoes the edits made before this one and removes the package folder.
pub fn uninstall(paths: &Paths, npm: Option<&Path>, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let mut entries = vec![entry(paths)];
    if let Some(binary) = npm {
        entries.extend(
            npm::package_places(paths, binary)
                .iter()
                .map(|p| p.display().to_string()),
        );
    }
    for entry in &entries {
        for cfg in paths.config_files() {
            config_edit::uninstall(&cfg, &edit(entry), &paths.records(), dry_run, out)?;
        }
    }
    Ok(())
}

/// Without opencode 1: the package folder (replacing the old layout, like opencode 1's install)
/// and the entry, every config checked first, the folders install creates remembered.
pub fn install_alone(paths: &Paths, binary: &Path, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    check(paths, None)?;
    package::install(paths, binary, true, &mut String::new())?;
    let folders = Folders {
        path: paths.record_file.with_file_name(FOLDERS_FILE),
    };
    let mut files = paths.package_files();
    files.extend([paths.config_file(), paths.record_file.clone()]);
    let created = folders::missing(&files);
    super::remove_old_layout(paths, &paths.records(), dry_run, out)?;
    package::install(paths, binary, dry_run, out)?;
    install(paths, dry_run, out)?;
    if !dry_run {
        folders.remember(created)?;
    }
    Ok(())
}

/// What `doctor` reports about opencode 2's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The global config whose `plugins` names the balancer, and the entry: the package folder
    /// `install` writes, or the npm package (by path, or by name for opencode 2 to install).
    pub entry_in: Option<(PathBuf, String)>,
    /// The folder named (none for a name opencode 2 installs itself).
    pub folder: Option<PathBuf>,
    /// That folder, when it holds our package.json.
    pub package: Option<PathBuf>,
    /// Whether opencode 2 finds a server plugin in it (`server.js` or `index.js` at its root).
    pub root_entry: bool,
    /// Our file in opencode's plugin folder (opencode 2 loads it too) and whether opencode 2 can
    /// load it (its default export has a `setup`).
    pub folder_file: Option<(PathBuf, bool)>,
}

impl Status {
    pub fn read(paths: &Paths) -> Status {
        let ours = entry(paths);
        let entry_in = paths.config_files().into_iter().find_map(|cfg| {
            let found = config_edit::array_entries(&cfg, "plugins")
                .into_iter()
                .find(|e| *e == ours || routes::is_package_entry(e))?;
            Some((cfg, found))
        });
        // A name (no path) is installed by opencode 2 itself, out of our sight.
        let dir = match &entry_in {
            Some((_, e)) if *e != ours => routes::entry_path(e).map(Path::to_path_buf),
            _ => Some(paths.package_dir()),
        };
        let is_ours = |dir: &Path| {
            std::fs::read_to_string(dir.join("package.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|v| v["name"] == routes::PACKAGE)
        };
        let package = dir.clone().filter(|d| is_ours(d));
        let root_entry = package
            .as_ref()
            .is_some_and(|d| ["server.js", ROOT_ENTRY].iter().any(|f| d.join(f).is_file()));
        let file = paths.plugin_folder_file();
        let folder_file = std::fs::read_to_string(&file)
            .ok()
            .filter(|t| t.starts_with(MARKER))
            .map(|t| (file.clone(), v2_loadable(&t)));
        Status {
            entry_in,
            folder: dir,
            package,
            root_entry,
            folder_file,
        }
    }
}

/// Whether a plugin file opencode 2 loads from the plugin folder passes its check (a default
/// export with an `id` and a `setup`): the file itself defines `setup`, or it re-exports the
/// default of a `file://` module that does. Read, not run: `doctor` does not need Node.
fn v2_loadable(text: &str) -> bool {
    let has_setup = |t: &str| default_export(t).is_some_and(|d| d.contains("setup"));
    if has_setup(text) {
        return true;
    }
    text.split("\"file://")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(Path::new))
        .any(|target| std::fs::read_to_string(target).is_ok_and(|t| has_setup(&t)))
}

/// The text of a module's `export default …;` statement, if it has one.
fn default_export(text: &str) -> Option<&str> {
    let start = text.find("export default")?;
    let rest = &text[start..];
    Some(&rest[..rest.find(';').unwrap_or(rest.len())])
}

/// One line for `install`'s output about opencode 2.
pub fn said(out: &mut String) {
    let _ = writeln!(
        out,
        "opencode 2 loads the balancer (server and TUI) from that folder on its next start."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_only_plugin_file_is_not_v2_loadable_and_a_thin_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("index.js");
        std::fs::write(&module, "export default { id: \"x\", server, setup };").unwrap();
        let thin = format!(
            "{MARKER}\nexport {{ default, server }} from \"file://{}\";\n",
            module.display()
        );
        assert!(v2_loadable(&thin));
        let v1_only = format!("{MARKER}\n// a setup note\nexport default {{ id: \"x\", server }};\n");
        assert!(!v2_loadable(&v1_only));
        let dangling = format!("{MARKER}\nexport {{ default }} from \"file:///nowhere/index.js\";\n");
        assert!(!v2_loadable(&dangling));
    }
}
