//! `install` / `uninstall`: make opencode load the plugin on its next start, with no hand editing.
//!
//! Default: write the plugin (embedded in this binary, pointing at this binary's path) into
//! opencode's global plugin folder `$XDG_CONFIG_HOME/opencode/plugin/`, which opencode loads
//! whole. `--config`: write it beside the store's data instead and add a `file://` entry to the
//! `plugin` array of the global `opencode.json`/`opencode.jsonc`, keeping comments, formatting and
//! every other entry. Both are idempotent; `--dry-run` changes nothing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use jsonc_parser::cst::{CstInputValue, CstRootNode};
use jsonc_parser::ParseOptions;

/// The plugin source, as shipped in `plugin/index.js`.
pub const PLUGIN_SOURCE: &str = include_str!("../plugin/index.js");
const PLACEHOLDER: &str = "const INSTALLED_BINARY = null;";
/// First line of every file this command writes; `uninstall` removes only such files.
const MARKER: &str = "// Installed by `opencode-balancer install`";
pub const PLUGIN_FILE: &str = "opencode-balancer.js";

/// Where things go, from the environment (`XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `HOME`).
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
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
        }
    }

    fn plugin_folder_file(&self) -> PathBuf {
        self.config_dir.join("plugin").join(PLUGIN_FILE)
    }

    fn config_mode_file(&self) -> PathBuf {
        self.data_dir.join(PLUGIN_FILE)
    }

    /// The existing `opencode.jsonc` or `opencode.json`, else a new `opencode.json`.
    fn config_file(&self) -> PathBuf {
        let jsonc = self.config_dir.join("opencode.jsonc");
        if jsonc.exists() {
            jsonc
        } else {
            self.config_dir.join("opencode.json")
        }
    }
}

/// The plugin text with this binary's path written in.
pub fn plugin_text(binary: &Path) -> anyhow::Result<String> {
    if !PLUGIN_SOURCE.contains(PLACEHOLDER) {
        bail!("the embedded plugin lacks its binary placeholder");
    }
    let path = serde_json::to_string(&binary.display().to_string())?;
    let body = PLUGIN_SOURCE.replacen(PLACEHOLDER, &format!("const INSTALLED_BINARY = {path};"), 1);
    Ok(format!(
        "{MARKER} {} for {}; run it again after moving the binary.\n{body}",
        env!("CARGO_PKG_VERSION"),
        binary.display()
    ))
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Writes `text` to `path` unless it is already there; says what it did (or would do).
fn put_file(path: &Path, text: &str, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let current = std::fs::read_to_string(path).ok();
    if current.as_deref() == Some(text) {
        let _ = writeln!(out, "unchanged: {}", path.display());
        return Ok(());
    }
    if let Some(existing) = &current {
        if !existing.starts_with(MARKER) {
            bail!(
                "{} exists and was not written by opencode-balancer; leaving it alone",
                path.display()
            );
        }
    }
    let (verb, done) = if current.is_some() {
        ("update", "updated")
    } else {
        ("write", "wrote")
    };
    if dry_run {
        let _ = writeln!(out, "would {verb}: {} ({} bytes)", path.display(), text.len());
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("js.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    let _ = writeln!(out, "{done}: {}", path.display());
    Ok(())
}

/// Adds (or with `remove`, takes out) `entry` in the config's `plugin` array. `None`: unchanged.
pub fn edit_config(text: &str, entry: &str, remove: bool) -> anyhow::Result<Option<String>> {
    let source = if text.trim().is_empty() { "{}" } else { text };
    let root = CstRootNode::parse(source, &ParseOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot parse the opencode config: {e}"))?;
    let obj = root.object_value_or_set();
    let matches = |v: &jsonc_parser::cst::CstNode| {
        let s = v.to_string();
        let s = s.trim();
        s == serde_json::to_string(entry).unwrap_or_default()
            || s.starts_with('[') && s.contains(&serde_json::to_string(entry).unwrap_or_default())
    };
    match obj.get("plugin").and_then(|p| p.value()) {
        Some(value) => {
            let Some(array) = value.as_array() else {
                bail!("the opencode config's \"plugin\" is not an array")
            };
            let present: Vec<_> = array.elements().into_iter().filter(|e| matches(e)).collect();
            if remove {
                if present.is_empty() {
                    return Ok(None);
                }
                for e in present {
                    e.remove();
                }
            } else {
                if !present.is_empty() {
                    return Ok(None);
                }
                array.append(CstInputValue::String(entry.to_string()));
            }
        }
        None if remove => return Ok(None),
        None => {
            obj.append(
                "plugin",
                CstInputValue::Array(vec![CstInputValue::String(entry.to_string())]),
            );
        }
    }
    Ok(Some(root.to_string()))
}

/// Runs `install` (or `uninstall` with `remove`).
pub fn run(paths: &Paths, binary: &Path, config: bool, dry_run: bool, remove: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    let plugin_file = if config {
        paths.config_mode_file()
    } else {
        paths.plugin_folder_file()
    };
    if remove {
        if config {
            let cfg = paths.config_file();
            if let Ok(text) = std::fs::read_to_string(&cfg) {
                if let Some(new) = edit_config(&text, &file_url(&plugin_file), true)? {
                    write_config(&cfg, &new, dry_run, &mut out)?;
                }
            }
        }
        match std::fs::read_to_string(&plugin_file) {
            Ok(text) if text.starts_with(MARKER) => {
                if dry_run {
                    let _ = writeln!(out, "would remove: {}", plugin_file.display());
                } else {
                    std::fs::remove_file(&plugin_file)
                        .with_context(|| format!("removing {}", plugin_file.display()))?;
                    let _ = writeln!(out, "removed: {}", plugin_file.display());
                }
            }
            Ok(_) => bail!(
                "{} was not written by opencode-balancer; leaving it alone",
                plugin_file.display()
            ),
            Err(_) => {
                let _ = writeln!(out, "not installed: {}", plugin_file.display());
            }
        }
        return Ok(out);
    }
    put_file(&plugin_file, &plugin_text(binary)?, dry_run, &mut out)?;
    if config {
        let cfg = paths.config_file();
        let text = std::fs::read_to_string(&cfg).unwrap_or_default();
        match edit_config(&text, &file_url(&plugin_file), false)? {
            Some(new) => write_config(&cfg, &new, dry_run, &mut out)?,
            None => {
                let _ = writeln!(out, "unchanged: {} already loads the plugin", cfg.display());
            }
        }
    }
    if !dry_run {
        let _ = writeln!(out, "opencode loads the balancer on its next start.");
    }
    Ok(out)
}

fn write_config(path: &Path, text: &str, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    if dry_run {
        let _ = writeln!(out, "would edit: {}\n--- new content ---\n{text}", path.display());
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp-opencode-balancer");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    let _ = writeln!(out, "edited: {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "file:///x/opencode-balancer.js";

    #[test]
    fn adds_an_entry_keeping_comments_and_other_entries() {
        let text = "{\n  // my settings\n  \"model\": \"a/b\",\n  \"plugin\": [\"other-plugin\"] /* keep */\n}\n";
        let new = edit_config(text, ENTRY, false).unwrap().unwrap();
        assert!(
            new.contains("// my settings") && new.contains("/* keep */") && new.contains("\"other-plugin\""),
            "{new}"
        );
        assert!(new.contains(ENTRY), "{new}");
        assert_eq!(edit_config(&new, ENTRY, false).unwrap(), None, "idempotent");
        let back = edit_config(&new, ENTRY, true).unwrap().unwrap();
        assert!(
            !back.contains(ENTRY) && back.contains("other-plugin") && back.contains("// my settings"),
            "{back}"
        );
    }

    #[test]
    fn creates_the_plugin_array_or_the_whole_file() {
        let new = edit_config("{\n  \"model\": \"a/b\"\n}", ENTRY, false)
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&new).unwrap();
        assert_eq!(v["plugin"][0], ENTRY);
        assert_eq!(v["model"], "a/b");
        let new = edit_config("", ENTRY, false).unwrap().unwrap();
        assert!(new.contains(ENTRY));
    }

    #[test]
    fn a_broken_config_is_an_error_not_a_rewrite() {
        assert!(edit_config("{ \"plugin\": [ ", ENTRY, false).is_err());
        assert!(edit_config("{ \"plugin\": 5 }", ENTRY, false).is_err());
    }

    #[test]
    fn the_plugin_text_points_at_the_binary() {
        let t = plugin_text(Path::new("/opt/bin/opencode-balancer")).unwrap();
        assert!(t.starts_with(MARKER));
        assert!(t.contains("const INSTALLED_BINARY = \"/opt/bin/opencode-balancer\";"));
    }
}
