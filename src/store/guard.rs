//! Checks a store path before anything touches it: type, owner, SQLite header, the store's
//! `application_id` and schema version. A refused file keeps every byte and its mode.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::migrations::{self, MigrationError};
use super::{adopt, StoreError};

pub use super::schema::APPLICATION_ID;

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What the checks found, for [`Store::open`].
pub(super) enum Found {
    /// No file, or a zero-length one of ours: nothing to lose, a new store.
    New,
    /// A store of ours, or of the predecessor's, or one being created (see `adopt.rs`).
    Store,
}

/// Refuses (changing nothing) a path that is not a regular file, is owned by another user, is not
/// SQLite, is not provably a balancer store (see `adopt.rs`), or holds a schema newer than this
/// binary knows.
/// A symlink is judged by its target.
pub(super) fn inspect(path: &Path) -> Result<Found, StoreError> {
    let refuse = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::New),
        Err(e) => {
            return Err(StoreError::Open {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })
        }
    };
    if meta.is_dir() {
        return Err(refuse("it is a directory".into()));
    }
    if !meta.file_type().is_file() {
        return Err(refuse("it is not a regular file".into()));
    }
    check_owner(path, &meta)?;
    if meta.len() == 0 {
        return Ok(Found::New);
    }
    let mut header = [0u8; 100];
    let read = fs::File::open(path)
        .and_then(|mut f| f.read(&mut header))
        .map_err(|e| refuse(e.to_string()))?;
    if read < 100 || &header[..16] != MAGIC {
        return Err(refuse("it is not a SQLite database".into()));
    }
    let field = |at: usize| i32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
    let (user_version, app_id) = (field(60) as i64, field(68));
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(refuse(format!(
            "it is another application's database (application_id {app_id:#x})"
        )));
    }
    // The header is the main file's: a newer binary's migration still only in the WAL (that
    // binary running or crashed) is caught by `migrate` instead, after the WAL switch. Another
    // program's `user_version` means nothing to us; its file is judged below.
    if app_id == APPLICATION_ID && user_version > migrations::LATEST {
        return Err(StoreError::Invalid(format!(
            "{}: {}",
            path.display(),
            migrations::MigrationError::TooNew {
                found: user_version,
                supported: migrations::LATEST
            }
        )));
    }
    if app_id == 0 {
        look(path).map_err(|e| match e {
            MigrationError::Foreign(_) => refuse(e.to_string()),
            MigrationError::TooNew { .. } => StoreError::Invalid(format!("{}: {e}", path.display())),
            MigrationError::Sqlite(e) => refuse(e.to_string()),
        })?;
    }
    Ok(Found::Store)
}

/// Judges an unstamped file (see `adopt.rs`) without writing a byte. With a -shm beside it,
/// another process has it open (a store being created keeps everything in its -wal until a
/// checkpoint; so may another program): it is read as SQLite reads it, read-only, with its locks
/// and through the -wal, so a checkpoint under way is not seen half done. Without one, nobody
/// has it open and the file is read as it is (`immutable=1`: nothing is created beside it);
/// a -wal holding changes then could not be read without creating a -shm, so it is refused.
fn look(path: &Path) -> Result<adopt::Verdict, MigrationError> {
    let [wal, shm] = companions(path);
    if shm.exists() {
        return migrations::judge(&read_only(path, "")?);
    }
    if fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(MigrationError::Foreign(format!(
            "it has no application_id, so it is not known to be a balancer store, and its changes \
             in {} cannot be read without creating {}",
            wal.display(),
            shm.display()
        )));
    }
    migrations::judge(&read_only(path, "?immutable=1")?)
}

/// A read-only connection to `path` opened as a URI with `query` (`?immutable=1`: the file is
/// read as it is, without the -wal, and nothing is created beside it).
pub(super) fn read_only(path: &Path, query: &str) -> rusqlite::Result<Connection> {
    let text = path.to_str().ok_or(rusqlite::Error::InvalidPath(path.to_path_buf()))?;
    let escaped = text.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(format!("file:{escaped}{query}"), flags)?;
    // A process creating the store holds it exclusively for a moment while it switches to WAL.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

/// Refuses a file another user owns: writing our credentials there would hand them to that user.
pub(super) fn check_owner(path: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: format!("it is owned by another user (uid {}, not {me})", meta.uid()),
        });
    }
    Ok(())
}

/// The store's `-wal` and `-shm` files.
pub fn companions(path: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    [with("-wal"), with("-shm")]
}

/// Makes the store and its existing `-wal`/`-shm` private (0600). SQLite creates the two with the
/// main file's mode, so the main file goes first. A companion another user owns is refused; on a
/// read-only disk nothing can change and the open goes on.
pub(super) fn make_private(path: &Path) -> Result<(), StoreError> {
    let private = fs::Permissions::from_mode(0o600);
    for companion in companions(path) {
        if let Ok(meta) = fs::symlink_metadata(&companion) {
            if !meta.file_type().is_file() {
                return Err(StoreError::Corrupt {
                    path: companion,
                    detail: "it is not a regular file".into(),
                });
            }
            check_owner(&companion, &meta)?;
        }
    }
    for file in std::iter::once(path.to_path_buf()).chain(companions(path)) {
        match fs::set_permissions(&file, private.clone()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %file.display(), error = %e, "could not make the store private"),
        }
    }
    Ok(())
}
