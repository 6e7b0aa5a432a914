//! `install` / `uninstall`: make opencode load the plugin on its next start, with no hand editing.
//!
//! Default: write the plugin (embedded in this binary, pointing at this binary's path) into
//! opencode's global plugin folder `$XDG_CONFIG_HOME/opencode/plugin/`, which opencode loads
//! whole. `--config`: write it beside the store's data instead and add a `file://` entry to the
//! `plugin` array of the global `opencode.json`/`opencode.jsonc` (`config_edit`, careful over any
//! config file and entry; `record` lets `uninstall` give back the original bytes; `safe_write` does
//! every write). Both are idempotent; `--dry-run` changes nothing. Either way the TUI plugin
//! (`tui/`) goes beside the store's data with an entry in `tui.json(c)` (`tui`). `--npm` instead
//! writes only the npm package's names into both configs (`npm`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;

mod config_edit;
pub mod dispatch;
mod folders;
pub mod hosts;
pub mod npm;
pub mod package;
mod record;
pub mod routes;
mod safe_write;
mod tui;
pub mod v2;

use record::Records;
use safe_write::Target;

const PLACEHOLDER: &str = "const INSTALLED_BINARY = null;";
/// First line of every file this command writes; `uninstall` removes only such files.
const MARKER: &str = "// Installed by `opencode-balancer install`";
pub const PLUGIN_FILE: &str = "opencode-balancer.js";

/// Where things go, from the environment (`XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `HOME`).
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    /// What `install --config` wrote (see `record`), beside the store.
    pub record_file: PathBuf,
    /// opencode's cache folder (`$XDG_CACHE_HOME/opencode`): its models.dev list and the npm
    /// packages it installs.
    pub cache_dir: PathBuf,
}

impl Paths {
    pub fn from_env() -> Paths {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let xdg = |var: &str, fallback: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(fallback))
        };
        Paths {
            config_dir: xdg("XDG_CONFIG_HOME", ".config").join("opencode"),
            data_dir: xdg("XDG_DATA_HOME", ".local/share").join("opencode-balancer"),
            record_file: crate::store::default_store_path().with_file_name(record::RECORD_FILE),
            cache_dir: xdg("XDG_CACHE_HOME", ".cache").join("opencode"),
        }
    }

    pub fn plugin_folder_file(&self) -> PathBuf {
        self.config_dir.join("plugin").join(PLUGIN_FILE)
    }

    /// The module both copied routes load: the package's server plugin (`--config` names it,
    /// the plugin folder's thin file re-exports it).
    pub fn config_mode_file(&self) -> PathBuf {
        self.package_dir().join(package::SERVER_ENTRY)
    }

    /// The existing `opencode.jsonc` (a symlink counts, even a dangling one: it is refused then)
    /// or else `opencode.json`, existing or new.
    fn config_file(&self) -> PathBuf {
        let jsonc = self.config_dir.join("opencode.jsonc");
        if jsonc.symlink_metadata().is_ok() {
            jsonc
        } else {
            self.config_dir.join("opencode.json")
        }
    }

    /// Both config names opencode reads; `uninstall` looks in each.
    pub fn config_files(&self) -> [PathBuf; 2] {
        [
            self.config_dir.join("opencode.jsonc"),
            self.config_dir.join("opencode.json"),
        ]
    }
}

/// The thin file in opencode's plugin folder: the marker and the package's plugin under an id of
/// its own. opencode 2 loads that folder too, before `plugins`, and keeps only the first of two
/// plugins with one id: with the package's id this file would hide the package named in
/// `plugins`, which alone brings the TUI plugin (docs/hosts.md). opencode 1 loads it as before.
pub fn thin_text(paths: &Paths, binary: &Path) -> String {
    format!(
        "{MARKER} {} for {}; run it again after moving the binary.\n\
         import plugin from {url:?};\n\
         export {{ server }} from {url:?};\n\
         export default {{ ...plugin, id: `${{plugin.id}}.plugin-folder` }};\n",
        env!("CARGO_PKG_VERSION"),
        binary.display(),
        url = file_url(&paths.config_mode_file())
    )
}

/// `source` marked as installed, with this binary's path written in where `placeholder` says.
fn fill_binary(source: &str, binary: &Path, placeholder: bool) -> anyhow::Result<String> {
    if placeholder && !source.contains(PLACEHOLDER) {
        bail!("the embedded plugin lacks its binary placeholder");
    }
    let path = serde_json::to_string(&binary.display().to_string())?;
    let body = source.replacen(PLACEHOLDER, &format!("const INSTALLED_BINARY = {path};"), 1);
    Ok(format!(
        "{MARKER} {} for {}; run it again after moving the binary.\n{body}",
        env!("CARGO_PKG_VERSION"),
        binary.display()
    ))
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Writes the plugin file unless it is already there (0644 whatever the umask, folders 0755,
/// atomically, through a symlink); says what it did (or would do).
fn put_file(path: &Path, text: &str, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let target = Target::inspect(path)?;
    if target.bytes() == Some(text.as_bytes()) {
        let _ = writeln!(out, "unchanged: {}", path.display());
        return Ok(());
    }
    if let Some(existing) = target.bytes() {
        if !package::is_ours(existing) {
            bail!(
                "{} exists and was not written by opencode-balancer; leaving it alone",
                path.display()
            );
        }
    }
    let (verb, done) = if target.existing.is_some() {
        ("update", "updated")
    } else {
        ("write", "wrote")
    };
    if dry_run {
        let _ = writeln!(out, "would {verb}: {} ({} bytes)", path.display(), text.len());
        return Ok(());
    }
    target.replace(text.as_bytes(), 0o644, 0o755)?;
    let _ = writeln!(out, "{done}: {}", path.display());
    Ok(())
}

fn remove_plugin_file(path: &Path, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let target = Target::inspect(path)?;
    match target.bytes() {
        Some(text) if package::is_ours(text) => {
            if dry_run {
                let _ = writeln!(out, "would remove: {}", path.display());
            } else {
                target.remove()?;
                let _ = writeln!(out, "removed: {}", path.display());
            }
        }
        Some(_) => bail!(
            "{} was not written by opencode-balancer; leaving it alone",
            path.display()
        ),
        None => {
            let _ = writeln!(out, "not installed: {}", path.display());
        }
    }
    Ok(())
}

/// Runs `install` (or `uninstall` with `remove`).
pub fn run(paths: &Paths, binary: &Path, config: bool, dry_run: bool, remove: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    let url = file_url(&paths.config_mode_file());
    let edit = config_edit::Edit {
        key: "plugin",
        entry: &url,
        also: None,
    };
    let records = Records {
        path: paths.record_file.clone(),
    };
    let folders = folders::Folders {
        path: paths.record_file.with_file_name(folders::FOLDERS_FILE),
    };
    if remove {
        if config {
            for cfg in paths.config_files() {
                config_edit::uninstall(&cfg, &edit, &records, dry_run, &mut out)?;
            }
        } else {
            remove_plugin_file(&paths.plugin_folder_file(), dry_run, &mut out)?;
        }
        remove_old_layout(paths, &records, dry_run, &mut out)?;
        tui::uninstall(paths, &records, dry_run, &mut out)?;
        package::uninstall(paths, dry_run, &mut out)?;
        folders.remove_empty(dry_run, &mut out)?;
        return Ok(out);
    }
    let route = if config {
        routes::Route::ConfigEntry
    } else {
        routes::Route::PluginFolder
    };
    routes::refuse_a_second_route(route, paths)?;
    let mut files = vec![paths.config_file(), paths.tui_config_file(), paths.record_file.clone()];
    files.extend(paths.package_files());
    if !config {
        files.push(paths.plugin_folder_file());
    }
    let created = folders::missing(&files);
    // Every config is checked first (dry runs): one that cannot be edited changes nothing.
    tui::install(paths, &records, true, &mut String::new())?;
    if config {
        config_edit::install(&paths.config_file(), &edit, &records, true, &mut String::new())?;
    } else {
        put_file(
            &paths.plugin_folder_file(),
            &thin_text(paths, binary),
            true,
            &mut String::new(),
        )?;
    }
    package::install(paths, binary, true, &mut String::new())?;
    remove_old_layout(paths, &records, dry_run, &mut out)?;
    package::install(paths, binary, dry_run, &mut out)?;
    if config {
        config_edit::install(&paths.config_file(), &edit, &records, dry_run, &mut out)?;
    } else {
        put_file(
            &paths.plugin_folder_file(),
            &thin_text(paths, binary),
            dry_run,
            &mut out,
        )?;
    }
    tui::install(paths, &records, dry_run, &mut out)?;
    if !dry_run {
        folders.remember(created)?;
        let _ = writeln!(out, "opencode loads the balancer on its next start.");
    }
    Ok(out)
}

/// The layout before the package folder: its `file://` entries out of the configs (the exact
/// original bytes back when unchanged since) and its marked files gone. `install` runs it before
/// writing the new layout, `uninstall` too.
pub(super) fn remove_old_layout(
    paths: &Paths,
    records: &Records,
    dry_run: bool,
    out: &mut String,
) -> anyhow::Result<()> {
    let old = [
        (file_url(&paths.old_config_mode_file()), paths.config_files()),
        (
            file_url(&paths.old_tui_folder().join("index.js")),
            paths.tui_config_files(),
        ),
    ];
    for (url, configs) in &old {
        let edit = config_edit::Edit {
            key: "plugin",
            entry: url,
            also: None,
        };
        for cfg in configs {
            if config_edit::plugin_entries(cfg).contains(url) {
                config_edit::uninstall(cfg, &edit, records, dry_run, out)?;
            }
        }
    }
    package::remove_old_files(paths, dry_run, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thin_file_re_exports_the_package_plugin() {
        let p = Paths {
            config_dir: "/h/.config/opencode".into(),
            data_dir: "/h/.local/share/opencode-balancer".into(),
            record_file: "/h/r.json".into(),
            cache_dir: "/h/.cache/opencode".into(),
        };
        let t = thin_text(&p, Path::new("/opt/bin/opencode-balancer"));
        assert!(t.starts_with(MARKER));
        let url = "\"file:///h/.local/share/opencode-balancer/package/plugin/index.js\"";
        assert!(t.contains(&format!("import plugin from {url};")), "{t}");
        assert!(t.contains(&format!("export {{ server }} from {url};")), "{t}");
        assert!(
            t.contains("export default { ...plugin, id: `${plugin.id}.plugin-folder` };"),
            "{t}"
        );
    }
}
