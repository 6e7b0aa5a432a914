//! The SQLite store: open (WAL, 0600, migrations), typed queries. Plain synchronous rusqlite;
//! the runtime runs it on its own thread, never on the async executor.

mod accounts;
mod adopt;
mod capture;
mod capture_link;
mod events;
pub mod guard;
mod identity;
mod meta;
pub mod migrations;
mod paths;
mod pending;
mod snapshot;
mod tokens;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use accounts::{ActivePatch, FailureCount, RuntimePatch, SaveOutcome};
pub use capture::{CaptureHint, Captured, LinkedBy};
pub use paths::{default_store_path, STORE_FILE};
pub use pending::PendingView;
pub use snapshot::Snapshot;
pub use tokens::{Committed, Lease, LEASE_TTL_MS};

/// Prepared statements kept per connection (rusqlite's default, 16, is fewer than the store's
/// `prepare_cached` statements, and the least recently used would be prepared again).
const STATEMENT_CACHE: usize = 48;

/// Errors at the store boundary. Messages never carry a credential.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error("the store at {path} is not a usable SQLite database ({detail}); it was left untouched")]
    Corrupt { path: PathBuf, detail: String },
    #[error("account {provider}/{alias} not found")]
    NotFound { provider: String, alias: String },
    #[error("account {provider}/{alias} already exists")]
    Exists { provider: String, alias: String },
    #[error("pending connection {0} not found")]
    PendingNotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot change the store at {path}: {reason}; changes are refused until it is writable again")]
    Unwritable { path: PathBuf, reason: &'static str },
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl From<migrations::MigrationError> for StoreError {
    fn from(e: migrations::MigrationError) -> Self {
        match e {
            migrations::MigrationError::Sqlite(e) => StoreError::Sqlite(e),
            other => StoreError::Invalid(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One connection to the store file.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Whether the connection is set to `synchronous=FULL` now (see [`Store::write`]).
    durable: bool,
    /// Opened read-only because the disk is: every write is refused.
    read_only: bool,
}

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
        if let guard::Found::New = guard::inspect(path)? {
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
        if let Err(e) = migrations::migrate(&mut store.conn) {
            return Err(store.refuse_after_open(e));
        }
        // Best effort: a store on a read-only disk (or locked by a busy writer) still opens.
        if let Err(e) = store.tidy_secrets_at_rest() {
            tracing::warn!(error = %e, "could not rewrite old identities yet; the next open will");
        }
        Ok(store)
    }

    /// A private in-memory store, for tests.
    pub fn open_in_memory() -> Result<Store> {
        let mut store = Store {
            conn: Connection::open_in_memory()?,
            path: PathBuf::from(":memory:"),
            durable: true,
            read_only: false,
        };
        store.configure()?;
        migrations::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// The store as a file that cannot change (`immutable=1`), for a read-only disk.
    fn open_immutable(path: &Path) -> Option<Store> {
        let text = path.to_str()?;
        let escaped = text.replace('%', "%25").replace('?', "%3f").replace('#', "%23");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(format!("file:{escaped}?immutable=1"), flags).ok()?;
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&self) -> rusqlite::Result<()> {
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

    fn classify_open_error(&self, e: rusqlite::Error) -> StoreError {
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

    /// Changes whenever another connection commits; cheap (no disk read in WAL mode).
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    pub fn integrity_check(&self) -> Result<String> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }

    /// Runs `f` in an immediate (write-locked) transaction that is on the disk when this returns
    /// (`synchronous=FULL`): a user's change, a captured login. With NORMAL, a WAL commit is
    /// acknowledged from the page cache, and a disk that fails (or a power cut) loses it.
    fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        self.set_durable(true)?;
        self.transact(f)
    }

    /// Like [`Store::write`] for bookkeeping that may be lost to a power cut without harm (the
    /// last use, cooldowns, events, usage readings): committed without waiting for the disk. The
    /// next durable write takes it to the disk too.
    fn write_bookkeeping<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        self.set_durable(false)?;
        self.transact(f)
    }

    /// Like [`Store::write`] for a change that deletes or replaces a credential: afterwards the
    /// WAL is checkpointed and truncated, so the old bytes (zeroed in the main file by
    /// `secure_delete`) leave the disk now. Best effort: while another process reads an older
    /// snapshot the WAL cannot be truncated; the next such write or the last close does it.
    fn write_dropping_secret<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        let out = self.write(f)?;
        self.truncate_wal();
        Ok(out)
    }

    /// `wal_checkpoint(TRUNCATE)` without waiting on other processes.
    fn truncate_wal(&self) {
        if self.read_only || self.path == Path::new(":memory:") {
            return;
        }
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let res = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
        if !matches!(res, Ok(0)) {
            tracing::debug!("the WAL is in use by another process; it is truncated later");
        }
        let _ = self.conn.busy_timeout(Duration::from_secs(5));
    }

    fn set_durable(&mut self, durable: bool) -> Result<()> {
        if self.durable != durable {
            let level = if durable { "FULL" } else { "NORMAL" };
            self.conn.pragma_update(None, "synchronous", level)?;
            self.durable = durable;
        }
        Ok(())
    }

    fn transact<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        let conn = &mut self.conn;
        let run = move || {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| match e {
            StoreError::Sqlite(e) => self.explain_write_error(e),
            other => other,
        })
    }

    /// Names a full or read-only disk, which SQLite often reports only as a generic I/O error.
    fn explain_write_error(&self, e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode::{DiskFull, ReadOnly, SystemIoFailure};
        use std::io::ErrorKind;
        let code = e.sqlite_error_code();
        if !matches!(code, Some(DiskFull | ReadOnly | SystemIoFailure)) {
            return StoreError::Sqlite(e);
        }
        // SAFETY: the handle is this open connection's, used on its own thread; the call only
        // reads the OS error number SQLite recorded for its last failure.
        let errno = unsafe { rusqlite::ffi::sqlite3_system_errno(self.conn.handle()) };
        let os = std::io::Error::from_raw_os_error(errno).kind();
        let reason = match (code, os) {
            (_, ErrorKind::ReadOnlyFilesystem) | (Some(ReadOnly), _) => "the disk holding it is read-only",
            (_, ErrorKind::StorageFull) | (Some(DiskFull), _) => "the disk holding it is full",
            _ => return StoreError::Sqlite(e),
        };
        StoreError::Unwritable {
            path: self.path.clone(),
            reason,
        }
    }
}

impl Drop for Store {
    /// A clean exit leaves no old WAL frame behind (SQLite also checkpoints when the last
    /// connection closes; this covers a close while others still have the file open).
    fn drop(&mut self) {
        self.truncate_wal();
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

#[cfg(test)]
mod tests;
