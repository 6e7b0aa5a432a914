//! The package folder `install` writes (`$XDG_DATA_HOME/opencode-balancer/package/`): the
//! JavaScript of `common/`, `plugin/` and `tui/` embedded from this checkout (the one list is
//! `FILES`), a `package.json`, the binary's path filled in `common/binary.js` only; and the old
//! layout (one copied plugin file and `tui/` beside the store's data) that `install` replaces and
//! `uninstall` removes, each only when it carries the marker.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::safe_write::Target;
use super::{fill_binary, put_file, remove_plugin_file, Paths, MARKER, PLUGIN_FILE};

/// Every JavaScript file of the package, by its path in the repository and the package alike.
/// `tests::every_js_file_of_the_checkout_is_in_the_list` fails when one is missing.
pub const FILES: &[(&str, &str)] = &[
    ("common/binary.js", include_str!("../../common/binary.js")),
    ("common/safe-text.js", include_str!("../../common/safe-text.js")),
    ("common/sidecar.js", include_str!("../../common/sidecar.js")),
    ("common/util.js", include_str!("../../common/util.js")),
    ("common/version.js", include_str!("../../common/version.js")),
    ("plugin/command.js", include_str!("../../plugin/command.js")),
    ("plugin/constants.js", include_str!("../../plugin/constants.js")),
    ("plugin/continuity.js", include_str!("../../plugin/continuity.js")),
    ("plugin/fetch-routing.js", include_str!("../../plugin/fetch-routing.js")),
    ("plugin/index.js", include_str!("../../plugin/index.js")),
    ("plugin/lookahead.js", include_str!("../../plugin/lookahead.js")),
    ("plugin/request.js", include_str!("../../plugin/request.js")),
    ("plugin/runtime.js", include_str!("../../plugin/runtime.js")),
    ("plugin/v2/adapter.js", include_str!("../../plugin/v2/adapter.js")),
    ("plugin/v2/credential.js", include_str!("../../plugin/v2/credential.js")),
    ("plugin/v2/hot-path.js", include_str!("../../plugin/v2/hot-path.js")),
    ("plugin/v2/index.js", include_str!("../../plugin/v2/index.js")),
    ("plugin/v2/providers.js", include_str!("../../plugin/v2/providers.js")),
    ("plugin/v2/retry.js", include_str!("../../plugin/v2/retry.js")),
    ("plugin/v2/session.js", include_str!("../../plugin/v2/session.js")),
    ("plugin/validate.js", include_str!("../../plugin/validate.js")),
    ("tui/actions.js", include_str!("../../tui/actions.js")),
    ("tui/elements.js", include_str!("../../tui/elements.js")),
    ("tui/index.js", include_str!("../../tui/index.js")),
    ("tui/rpc.js", include_str!("../../tui/rpc.js")),
    ("tui/select.js", include_str!("../../tui/select.js")),
    ("tui/state.js", include_str!("../../tui/state.js")),
    ("tui/v2/host.js", include_str!("../../tui/v2/host.js")),
    ("tui/v2/index.js", include_str!("../../tui/v2/index.js")),
    ("tui/v2/render.js", include_str!("../../tui/v2/render.js")),
    ("tui/view.js", include_str!("../../tui/view.js")),
];

/// The one file carrying the binary's path (its `INSTALLED_BINARY` line).
pub const BINARY_FILE: &str = "common/binary.js";
/// The server plugin's module, in the package.
pub const SERVER_ENTRY: &str = "plugin/index.js";
/// The TUI plugin's module, in the package.
pub const TUI_ENTRY: &str = "tui/index.js";
/// The files of the old layout's `tui/` folder beside the store's data.
const OLD_TUI_FILES: [&str; 3] = ["index.js", "view.js", "rpc.js"];
/// How the package.json this command writes starts (JSON has no comment line for MARKER).
const JSON_MARKER: &str = "{\n  \"//\": \"Installed by `opencode-balancer install`";

/// The package's root module, which opencode 2 loads for a local folder (see `v2.rs`).
pub const ROOT_ENTRY: &str = "index.js";

/// The root module: the server plugin's exports, default (`{id, server, setup}`) included.
pub fn root_entry_text() -> String {
    format!(
        "{MARKER} {}: opencode 2 loads a plugin folder's index.js, not its exports.\n\
         export * from \"./plugin/index.js\";\nexport {{ default }} from \"./plugin/index.js\";\n",
        env!("CARGO_PKG_VERSION")
    )
}

impl Paths {
    pub fn package_dir(&self) -> PathBuf {
        self.data_dir.join("package")
    }

    /// The old layout's copied plugin file beside the store's data (`install --config` before 0.3).
    pub fn old_config_mode_file(&self) -> PathBuf {
        self.data_dir.join(PLUGIN_FILE)
    }

    /// The old layout's TUI folder beside the store's data.
    pub fn old_tui_folder(&self) -> PathBuf {
        self.data_dir.join("tui")
    }

    /// Every file the package holds (package.json first).
    pub fn package_files(&self) -> Vec<PathBuf> {
        let dir = self.package_dir();
        std::iter::once(dir.join("package.json"))
            .chain(std::iter::once(dir.join(ROOT_ENTRY)))
            .chain(FILES.iter().map(|(name, _)| dir.join(name)))
            .collect()
    }
}

/// Whether `bytes` are a file this command wrote (a JS file or the package.json).
pub fn is_ours(bytes: &[u8]) -> bool {
    bytes.starts_with(MARKER.as_bytes()) || bytes.starts_with(JSON_MARKER.as_bytes())
}

/// The package.json: the npm package's shape (exports), no dependencies.
fn package_json(binary: &Path) -> String {
    let note = format!(
        "Installed by `opencode-balancer install` {} for {}; run it again after moving the binary.",
        env!("CARGO_PKG_VERSION"),
        binary.display()
    );
    let note = serde_json::to_string(&note).unwrap_or_default();
    format!(
        "{{\n  \"//\": {note},\n  \"name\": \"opencode-balancer\",\n  \"version\": \"{}\",\n  \"type\": \"module\",\n  \"exports\": {{\n    \".\": \"./{SERVER_ENTRY}\",\n    \"./server\": \"./{SERVER_ENTRY}\",\n    \"./tui\": \"./{TUI_ENTRY}\"\n  }}\n}}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Each file of the package with its text (package.json first).
pub fn texts(paths: &Paths, binary: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let dir = paths.package_dir();
    let mut out = vec![
        (dir.join("package.json"), package_json(binary)),
        (dir.join(ROOT_ENTRY), root_entry_text()),
    ];
    for (name, source) in FILES {
        out.push((dir.join(name), fill_binary(source, binary, *name == BINARY_FILE)?));
    }
    Ok(out)
}

/// Writes the package folder (each file unless unchanged). A file there not ours is refused
/// before any is written.
pub fn install(paths: &Paths, binary: &Path, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let texts = texts(paths, binary)?;
    for (path, text) in &texts {
        put_file(path, text, true, &mut String::new())?;
    }
    for (path, text) in &texts {
        put_file(path, text, dry_run, out)?;
    }
    Ok(())
}

/// Removes the package's files (only ours), then its folders that are empty.
pub fn uninstall(paths: &Paths, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let files = paths.package_files();
    for path in &files {
        if Target::inspect(path)?.bytes().is_some() {
            remove_plugin_file(path, dry_run, out)?;
        }
    }
    if !dry_run {
        let mut dirs: Vec<&Path> = files.iter().filter_map(|f| f.parent()).collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for dir in dirs {
            remove_if_empty(dir);
        }
    }
    Ok(())
}

fn remove_if_empty(dir: &Path) {
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Removes the old layout's files (only those with the marker; another file there is left alone
/// and named), and its `tui/` folder when that is empty then.
pub fn remove_old_files(paths: &Paths, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
    let folder = paths.old_tui_folder();
    let old = std::iter::once(paths.old_config_mode_file()).chain(OLD_TUI_FILES.iter().map(|n| folder.join(n)));
    for path in old {
        match Target::inspect(&path)?.bytes() {
            Some(b) if b.starts_with(MARKER.as_bytes()) => remove_plugin_file(&path, dry_run, out)?,
            Some(_) => {
                let _ = writeln!(out, "left alone (not written by opencode-balancer): {}", path.display());
            }
            None => {}
        }
    }
    if !dry_run {
        remove_if_empty(&folder);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "test" && n != "node_modules") {
                    js_files(root, &path, out);
                }
            } else if path.extension().is_some_and(|e| e == "js") {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_js_file_of_the_checkout_is_in_the_list() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        for dir in ["common", "plugin", "tui"] {
            js_files(root, &root.join(dir), &mut found);
        }
        let listed: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        let missing: Vec<&String> = found.iter().filter(|f| !listed.contains(&f.as_str())).collect();
        assert!(
            missing.is_empty(),
            "add these to src/install/package.rs FILES: {missing:?}"
        );
        assert!(found.len() >= listed.len(), "FILES names a file the checkout lacks");
    }

    #[test]
    fn only_common_binary_js_carries_the_binary_path() {
        let p = Paths {
            config_dir: "/h/.config/opencode".into(),
            data_dir: "/h/.local/share/opencode-balancer".into(),
            record_file: "/h/r.json".into(),
            cache_dir: "/h/.cache/opencode".into(),
        };
        let texts = texts(&p, Path::new("/opt/bin/opencode-balancer")).unwrap();
        let with_path: Vec<_> = texts
            .iter()
            .filter(|(_, t)| t.contains("const INSTALLED_BINARY = \"/opt/bin/opencode-balancer\";"))
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(with_path, vec![p.package_dir().join(BINARY_FILE)]);
        for (path, text) in &texts {
            assert!(is_ours(text.as_bytes()), "{}", path.display());
        }
        let json: serde_json::Value = serde_json::from_str(&texts[0].1).unwrap();
        assert_eq!(json["exports"]["./tui"], "./tui/index.js");
        assert_eq!(json["type"], "module");
    }
}
