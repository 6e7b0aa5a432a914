//! opencode 2's own credentials as a source of accounts: its `credential` table in
//! `$XDG_DATA_HOME/opencode/opencode.db`, read READ-ONLY and metadata only (ids, provider, label,
//! method, active flag and the credential's `type`; the secret fields never leave the database).
//! The store mirrors what is read here as accounts owned by opencode 2 (`store/host.rs`).

pub mod doctor;
#[cfg(any(test, feature = "testkit"))]
pub mod fixture;
mod read;

pub use read::{read_credentials, table_names, HostRead, HostReadError, OPENCODE2_TABLE};

use std::path::PathBuf;

/// The owner name of accounts mirrored from opencode 2 (`AccountView.owner`, the store's `owner`).
pub const OWNER: &str = "opencode2";

/// The database file name inside opencode's data folder.
pub const DB_FILE: &str = "opencode.db";

/// One credential opencode 2 holds, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostCredential {
    /// `cred_…`: the key our per-account state is kept by.
    pub id: String,
    /// The integration id (a provider id for opencode's providers).
    pub provider_id: String,
    pub label: String,
    /// The credential's `type` inside `value` (`key`, `oauth`, `external`…).
    pub kind: String,
    pub method: Option<String>,
    /// opencode 2's active credential of its provider.
    pub active: bool,
    pub created_at: i64,
}

/// Where opencode 2 keeps its database: beside auth.json, in opencode's data folder.
pub fn default_db_path() -> PathBuf {
    crate::logins::default_auth_path().with_file_name(DB_FILE)
}

/// Whether `name` is one of the database files whose change may mean a credential changed (the
/// database and its write-ahead log; never the shared-memory file, which readers touch).
pub fn is_db_file(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n == DB_FILE || n.strip_prefix(DB_FILE) == Some("-wal"))
}
