//! The SQLite store: open (WAL, 0600, migrations), typed queries. Plain synchronous rusqlite;
//! the runtime runs it on its own thread, never on the async executor.

mod account_read;
mod account_rows;
mod accounts;
mod adopt;
mod bookkeeping;
mod capture;
mod capture_link;
mod conversations;
mod events;
pub mod guard;
mod host;
mod identity;
mod meta;
pub mod migrations;
mod open;
mod paths;
mod pending;
mod schema;
mod snapshot;
mod tokens;
pub mod watch;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub use account_read::account_rows_read;
pub use accounts::SaveOutcome;
pub use bookkeeping::{ActivePatch, FailureCount, RuntimePatch};
pub use capture::{CaptureHint, Captured, LinkedBy};
pub use conversations::{Continuity, ConversationsRead, CONVERSATION_TTL_MS, MAX_CONVERSATIONS};
pub use host::Mirrored;
pub use paths::{default_store_path, STORE_FILE};
pub use pending::PendingView;
pub use snapshot::{Scope, Snapshot};
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

    pub fn path(&self) -> &Path {
        &self.path
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

#[cfg(test)]
mod tests;
