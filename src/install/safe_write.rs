//! Careful file replacement for files the user owns: through symlinks, mode kept, atomic, no temp-file races.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// A file about to be replaced: the real path (symlinks resolved) and its current state.
pub struct Target {
    /// The path named by the user or the defaults.
    pub named: PathBuf,
    /// Where the bytes live: `named` with every symlink resolved (or `named` if it does not exist).
    pub real: PathBuf,
    /// The current bytes and permission bits, if the file exists.
    pub existing: Option<(Vec<u8>, u32)>,
    /// The current owner and group, kept by `replace` where allowed (a root run stays the user's).
    owner: Option<(u32, u32)>,
}

impl Target {
    /// Looks at `named` without changing anything. Refuses a dangling symlink, something that is not
    /// a regular file, and a file the user made read-only (no owner write bit).
    pub fn inspect(named: &Path) -> anyhow::Result<Target> {
        let link = match std::fs::symlink_metadata(named) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Target {
                    named: named.into(),
                    real: named.into(),
                    existing: None,
                    owner: None,
                })
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", named.display())),
        };
        let real = if link.file_type().is_symlink() {
            std::fs::canonicalize(named).map_err(|_| {
                anyhow::anyhow!(
                    "{} is a symlink to a file that does not exist; fix or remove the link (nothing was changed)",
                    named.display()
                )
            })?
        } else {
            named.to_path_buf()
        };
        let meta = std::fs::metadata(&real).with_context(|| format!("reading {}", real.display()))?;
        if !meta.is_file() {
            bail!("{} is not a regular file (nothing was changed)", real.display());
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o200 == 0 {
            bail!(
                "{} is read-only (mode {:o}); make it writable to let opencode-balancer edit it (nothing was changed)",
                real.display(),
                mode
            );
        }
        let bytes = std::fs::read(&real).with_context(|| format!("reading {}", real.display()))?;
        Ok(Target {
            named: named.into(),
            real,
            existing: Some((bytes, mode)),
            owner: Some((meta.uid(), meta.gid())),
        })
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        self.existing.as_ref().map(|(b, _)| b.as_slice())
    }

    /// Replaces the real file with `bytes`: a temp file created exclusively (random name, `O_EXCL`)
    /// beside it, given the existing mode (else `new_mode`, whatever the umask), synced, renamed over
    /// it, then the folder synced. A symlink at `named` is left as it is. Missing folders are created
    /// with `dir_mode`.
    pub fn replace(&self, bytes: &[u8], new_mode: u32, dir_mode: u32) -> anyhow::Result<()> {
        let dir = self
            .real
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        create_dirs(dir, dir_mode)?;
        let mode = self.existing.as_ref().map_or(new_mode, |(_, m)| *m);
        let name = self
            .real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        let write = |tmp: &mut tempfile::NamedTempFile| -> std::io::Result<()> {
            if let Some((uid, gid)) = self.owner {
                // Only root may give a file away; anyone else creates it as themselves anyway.
                let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(uid), Some(gid));
            }
            tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
            tmp.write_all(bytes)?;
            tmp.as_file().sync_all()
        };
        write(&mut tmp).with_context(|| format!("writing beside {}", self.real.display()))?;
        tmp.persist(&self.real)
            .map_err(|e| e.error)
            .with_context(|| format!("replacing {}", self.real.display()))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Removes the real file (a symlink at `named` is removed too, since it would dangle).
    pub fn remove(&self) -> anyhow::Result<()> {
        std::fs::remove_file(&self.real).with_context(|| format!("removing {}", self.real.display()))?;
        if self.named != self.real {
            let _ = std::fs::remove_file(&self.named);
        }
        Ok(())
    }
}

/// `create_dir_all` with an explicit mode for each folder it creates (whatever the umask).
pub fn create_dirs(dir: &Path, mode: u32) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent, mode)?;
    }
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("creating {}", dir.display()))?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", dir.display())),
    }
}
