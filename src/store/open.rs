//! Opening a store file: the checks before anything is touched (`guard.rs`), creating a new
//! one private, the connection's settings (WAL, `synchronous`), the migrations' one commit, and
//! a store on a read-only disk served as it is.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{guard, migrations, Result, Store, StoreError, STATEMENT_CACHE};

impl Store {
    /// Opens (creating when missing) and migrates the store at `path`. A file that is not a
    /// SQLite database is reported with its path and never written to.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |detail: String| StoreError::Open {
            path: path.to_path_buf(),
            detail,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| open_err(e.to_string()))?;
            }
        }
        // Nothing is created, chmod-ed or opened for writing before the file passed these checks.
        let found = guard::inspect(path)?;
        if let guard::Found::New = found {
            match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(open_err(e.to_string())),
            }
        }
        guard::make_private(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_err(e.to_string()))?;
        // A new file holds nothing a torn write could lose: its switch to WAL (`configure`, a
        // rollback-journal commit of four syncs) is not waited for. A crash leaves no file, an
        // empty one or a blank WAL header, each a new store again (see `adopt.rs`).
        if let guard::Found::New = found {
            conn.pragma_update(None, "synchronous", "OFF")
                .map_err(|e| open_err(e.to_string()))?;
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            durable: true,
            read_only: false,
        };
        if let Err(e) = store.configure() {
            // A WAL store closed cleanly has no -shm file, and on a read-only disk none can be
            // made, so SQLite cannot read it the usual way; as an unchanging file it can.
            store = match Store::open_immutable(path) {
                Some(s) if on_read_only_disk(path) => s,
                _ => return Err(store.classify_open_error(e)),
            };
        }
        if let Err(e) = store.migrate_unsynced(matches!(found, guard::Found::New)) {
            return Err(store.refuse_after_open(e));
        }
        // Best effort: a store on a read-only disk (or locked by a busy writer) still opens.
        if let Err(e) = store.tidy_secrets_at_rest() {
            tracing::warn!(error = %e, "could not rewrite old identities yet; the next open will");
        }
        Ok(store)
    }

    /// The store as a file that cannot change (`immutable=1`), for a read-only disk.
    pub(super) fn open_immutable(path: &Path) -> Option<Store> {
        let conn = guard::read_only(path, "?immutable=1").ok()?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
            durable: true,
            read_only: true,
        };
        store.configure().ok()?;
        tracing::warn!(path = %path.display(), "the store is on a read-only disk: serving it as it is, changes are refused");
        Some(store)
    }

    pub(super) fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(5))?;
        // Every statement the store runs stays prepared (about 20k instructions each time it
        // is not: most of a bookkeeping write); there are fewer than this many.
        self.conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Reading the schema first makes a non-database file fail here, before any write.
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))?;
        if self.path != Path::new(":memory:") && !self.read_only {
            self.enable_wal()?;
            // Memory answers every read that matters; the page cache only serves reloads, which
            // another process's commit invalidates anyway. SQLite's default (2 MiB) would hold
            // most of a 10,000-account store a second time.
            self.conn.pragma_update(None, "cache_size", -256)?;
        }
        // FULL: a change is on the disk before it is acknowledged (see `write`).
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // A replaced or removed credential is overwritten on disk, not left in a free page.
        self.conn.pragma_update(None, "secure_delete", "ON")?;
        Ok(())
    }

    /// Switches the file to WAL. Switching takes an exclusive lock and SQLite does not wait for
    /// it (no busy handler), so several processes creating the store at once retry for a while.
    fn enable_wal(&self) -> rusqlite::Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mode: String = self.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if mode.eq_ignore_ascii_case("wal") {
                return Ok(());
            }
            match self.conn.pragma_update(None, "journal_mode", "WAL") {
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                other => return other,
            }
        }
    }

    /// Runs the migrations (one commit in WAL mode) without waiting for the disk: a power cut
    /// can only take the whole commit back (the store is then as it was, and is migrated at the
    /// next open), and the first change that is waited for (`write`) takes it to the disk too.
    /// A new store does not even wait for its new -wal's header: a torn one reads as no commit,
    /// and the blank file is a new store again; its commit (a few dozen pages) cannot start a
    /// checkpoint, which would need the waits.
    fn migrate_unsynced(&mut self, new: bool) -> std::result::Result<(), migrations::MigrationError> {
        let level = if new { "OFF" } else { "NORMAL" };
        self.conn.pragma_update(None, "synchronous", level)?;
        self.durable = false;
        migrations::migrate(&mut self.conn)?;
        if new {
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        Ok(())
    }

    /// The error for a store the migrations refused or failed on (their one transaction rolled
    /// back). A file found not to be a store only now (another program wrote it between the
    /// checks and the write lock) is closed without the checkpoint a close would otherwise do.
    fn refuse_after_open(&mut self, e: migrations::MigrationError) -> StoreError {
        match e {
            migrations::MigrationError::Sqlite(e) => self.classify_open_error(e),
            e @ migrations::MigrationError::Foreign(_) => {
                self.read_only = true;
                let _ = self
                    .conn
                    .set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true);
                StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: e.to_string(),
                }
            }
            other => StoreError::Invalid(format!("{}: {other}", self.path.display())),
        }
    }

    pub(super) fn classify_open_error(&self, e: rusqlite::Error) -> StoreError {
        let detail = e.to_string();
        let corrupt = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt)
        );
        if corrupt {
            StoreError::Corrupt {
                path: self.path.clone(),
                detail,
            }
        } else {
            StoreError::Open {
                path: self.path.clone(),
                detail,
            }
        }
    }
}

/// Whether the folder holding `path` cannot be written (a read-only mount).
fn on_read_only_disk(path: &Path) -> bool {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = dir.join(format!(".{}.probe", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            false
        }
        Err(e) => e.kind() == std::io::ErrorKind::ReadOnlyFilesystem,
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
