//! The folders `install` created (a fresh HOME has no `~/.config/opencode/plugin/`, no
//! `~/.local/share/…`), remembered in a private file beside the install record so `uninstall`
//! removes those of them that are empty again — and no other folder.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::safe_write::Target;

/// File name of the list, beside the install record.
pub const FOLDERS_FILE: &str = "balancer-install-folders.json";

pub struct Folders {
    pub path: PathBuf,
}

/// The folders that writing `files` would create: each file's ancestors that do not exist yet.
pub fn missing(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for file in files {
        for dir in file.ancestors().skip(1) {
            if dir.as_os_str().is_empty() || dir.symlink_metadata().is_ok() {
                break;
            }
            out.insert(dir.to_path_buf());
        }
    }
    out
}

impl Folders {
    fn load(&self) -> anyhow::Result<(Target, BTreeSet<PathBuf>)> {
        let target = Target::inspect(&self.path)?;
        // A damaged list is ignored: at worst an empty folder stays.
        let set = target
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        Ok((target, set))
    }

    /// Adds `created` to the list (only those that exist now: a failed install made none).
    pub fn remember(&self, created: BTreeSet<PathBuf>) -> anyhow::Result<()> {
        let created: BTreeSet<PathBuf> = created.into_iter().filter(|d| d.is_dir()).collect();
        if created.is_empty() {
            return Ok(());
        }
        let (target, mut set) = self.load()?;
        set.extend(created);
        target.replace(&serde_json::to_vec_pretty(&set)?, 0o600, 0o700)
    }

    /// Removes each remembered folder that is empty, deepest first, then the list itself; says
    /// what it removed (or would).
    pub fn remove_empty(&self, dry_run: bool, out: &mut String) -> anyhow::Result<()> {
        let (target, set) = self.load()?;
        if target.existing.is_none() {
            return Ok(());
        }
        if dry_run {
            let _ = writeln!(out, "would remove, once empty: {}", list(&set));
            return Ok(());
        }
        target.remove()?;
        let mut dirs: Vec<&PathBuf> = set.iter().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            if is_empty(dir) && std::fs::remove_dir(dir).is_ok() {
                let _ = writeln!(out, "removed empty folder: {}", dir.display());
            }
        }
        Ok(())
    }
}

fn is_empty(dir: &Path) -> bool {
    // Not through a symlink: only a real folder install made is removed.
    dir.symlink_metadata().is_ok_and(|m| m.is_dir()) && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

fn list(set: &BTreeSet<PathBuf>) -> String {
    set.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_remembered_folders_that_are_empty_are_removed() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        std::fs::create_dir_all(h.join("mine-before")).unwrap();
        let files = [h.join("a/b/file"), h.join("mine-before/x/file"), h.join("c/file")];
        let created = missing(&files);
        assert_eq!(
            created,
            [h.join("a"), h.join("a/b"), h.join("mine-before/x"), h.join("c")]
                .into_iter()
                .collect()
        );
        for d in &created {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(h.join("c/kept"), "the user's").unwrap();
        let folders = Folders {
            path: h.join("folders.json"),
        };
        folders.remember(created).unwrap();
        let mut out = String::new();
        folders.remove_empty(false, &mut out).unwrap();
        assert!(!h.join("a").exists() && !h.join("mine-before/x").exists(), "{out}");
        assert!(h.join("mine-before").is_dir() && h.join("c/kept").is_file(), "{out}");
        assert!(!h.join("folders.json").exists());
    }
}
