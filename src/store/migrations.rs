//! Append-only schema migrations, versioned in `PRAGMA user_version`.
//!
//! Version 1 is the predecessor's schema (opencode-balancer 0.2.x, reconstructed from its
//! documented tables) created with `IF NOT EXISTS`, so a store it wrote is adopted in place with
//! every row kept. Later versions add, and rewrite data only to stop keeping a secret (v4). Never
//! edit a released migration; append a new one. They all run in one transaction, and
//! `PRAGMA`s that only set up a connection (journal mode, `synchronous`) are `Store::open`'s.

use std::sync::OnceLock;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::adopt::{self, Versions};
pub use super::schema::MigrationError;
use super::schema::{schema, Schema, APPLICATION_ID};

type Migration = fn(&Transaction) -> rusqlite::Result<()>;

const MIGRATIONS: &[Migration] = &[
    v1_predecessor_schema,
    v2_balancer_columns,
    v3_epochs,
    v4_secret_free_identities,
    v5_application_id,
    v6_priority_position_index,
    v7_account_subject,
    v8_token_refresh,
    v9_conversations,
    v10_host_credentials,
];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`LATEST`] in one write transaction (every migration, then
/// `user_version`), so a failure anywhere leaves it exactly as it was and a new store costs one
/// commit. A database that is not a balancer store (see `adopt.rs`) is refused unchanged.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrationError> {
    apply(conn, MIGRATIONS)
}

/// Builds the store as the given earlier version of this project left it (`0`: the
/// predecessor's, whose tables are version 1's), by running the first `version` migrations on a
/// new database in one transaction; for tests that an older store is still adopted.
pub fn migrate_to(conn: &mut Connection, version: i64) -> Result<(), MigrationError> {
    let upto = usize::try_from(version.clamp(0, LATEST)).unwrap_or(0);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for migration in &MIGRATIONS[..upto.max(1)] {
        migration(&tx)?;
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()?;
    Ok(())
}

/// Whether the database `conn` shows is a balancer store of a version this binary knows, or a
/// blank one being created (see `adopt.rs`), judged against what the migrations build.
pub(super) fn judge(conn: &Connection) -> Result<adopt::Verdict, MigrationError> {
    let versions = Versions {
        latest: LATEST,
        unstamped: unstamped_schemas(),
    };
    adopt::judge(conn, &versions)
}

fn apply(conn: &mut Connection, list: &[Migration]) -> Result<(), MigrationError> {
    let latest = list.len() as i64;
    // A current store needs no write lock (and on a read-only disk could not take one).
    if matches!(judge(conn)?, adopt::Verdict::Store(v) if v >= latest) {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Judged again under the write lock: another process may have migrated since.
    let from = match judge(&tx)? {
        adopt::Verdict::Blank => 0,
        adopt::Verdict::Store(v) => v,
    };
    for migration in list.iter().skip(from as usize) {
        migration(&tx)?;
    }
    if from < latest {
        tx.pragma_update(None, "user_version", latest)?;
    }
    tx.commit()?;
    Ok(())
}

/// The tables and columns of each version that did not yet stamp `application_id`, as the
/// migrations themselves build them on an empty database; version 0 (the predecessor's store,
/// which has no `user_version`) has version 1's tables. Computed once.
pub(super) fn unstamped_schemas() -> &'static [(i64, Schema)] {
    static SCHEMAS: OnceLock<Vec<(i64, Schema)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| build_unstamped_schemas().expect("the migrations run on an empty in-memory database"))
}

fn build_unstamped_schemas() -> rusqlite::Result<Vec<(i64, Schema)>> {
    let mut conn = Connection::open_in_memory()?;
    let tx = conn.transaction()?;
    let mut out = vec![];
    for (i, migration) in MIGRATIONS.iter().enumerate() {
        migration(&tx)?;
        let stamp: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if stamp != 0 {
            break;
        }
        let schema = schema(&tx)?;
        if i == 0 {
            out.push((0, schema.clone()));
        }
        out.push((i as i64 + 1, schema));
    }
    Ok(out)
}

fn v1_predecessor_schema(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS accounts (
            provider_id TEXT NOT NULL,
            alias TEXT NOT NULL,
            auth_json TEXT NOT NULL,
            auth_type TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_used_at INTEGER,
            rate_limited_until INTEGER,
            failures INTEGER NOT NULL DEFAULT 0,
            disabled INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (provider_id, alias)
        );
        CREATE TABLE IF NOT EXISTS provider_state (
            provider_id TEXT PRIMARY KEY,
            active_alias TEXT,
            selected_model TEXT
        );
        CREATE TABLE IF NOT EXISTS pending_connections (
            id TEXT PRIMARY KEY,
            provider_id TEXT NOT NULL,
            auth_json TEXT NOT NULL,
            auth_type TEXT NOT NULL,
            source TEXT NOT NULL,
            identity TEXT,
            captured_at INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
        );
        CREATE TABLE IF NOT EXISTS usage_snapshots (
            provider_id TEXT NOT NULL,
            alias TEXT NOT NULL,
            fetched_at INTEGER NOT NULL,
            payload_json TEXT
        );
        CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            provider_id TEXT,
            alias TEXT,
            message TEXT NOT NULL,
            metadata_json TEXT,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS provider_priority (
            provider_id TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            model_id TEXT,
            enabled INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE IF NOT EXISTS settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            balancing_enabled INTEGER NOT NULL DEFAULT 0,
            selected_provider_id TEXT,
            native_auth_suppressed_until INTEGER
        );",
    )
}

fn v2_balancer_columns(tx: &Transaction) -> rusqlite::Result<()> {
    ensure_column(tx, "accounts", "cooldown_reason", "TEXT")?;
    ensure_column(tx, "accounts", "auth_failed", "INTEGER NOT NULL DEFAULT 0")?;
    ensure_column(tx, "accounts", "identity", "TEXT")?;
    ensure_column(tx, "usage_snapshots", "snapshot_json", "TEXT")?;
    ensure_column(tx, "events", "metadata_json", "TEXT")?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS balancer_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS events_by_time ON events (created_at);
        CREATE INDEX IF NOT EXISTS accounts_by_identity ON accounts (provider_id, identity);
        CREATE INDEX IF NOT EXISTS usage_by_account ON usage_snapshots (provider_id, alias, fetched_at);",
    )?;
    // Carry the predecessor's balancing switch over.
    if has_column(tx, "settings", "balancing_enabled")? {
        tx.execute(
            "INSERT OR IGNORE INTO balancer_settings (key, value)
             SELECT 'balancing', CASE WHEN balancing_enabled THEN 'true' ELSE 'false' END
             FROM settings LIMIT 1",
            [],
        )?;
    }
    Ok(())
}

/// Epochs that user resets and activations bump, so hot-path bookkeeping read before them (in any
/// process) is not written over them.
fn v3_epochs(tx: &Transaction) -> rusqlite::Result<()> {
    ensure_column(tx, "accounts", "reset_epoch", "INTEGER NOT NULL DEFAULT 0")?;
    ensure_column(tx, "provider_state", "active_epoch", "INTEGER NOT NULL DEFAULT 0")
}

/// Identities stop holding the credential (`api:<key>` becomes `api:sha256:<hex>`, see
/// `Auth::identity`), each recomputed from its row's credential, and saved or dismissed pending
/// connections forget theirs. The same check runs at every open (`identity.rs`), for rows a
/// binary older than this migration, still running, writes afterwards.
fn v4_secret_free_identities(tx: &Transaction) -> rusqlite::Result<()> {
    super::identity::bring_up_to_date(tx)
}

/// Marks the file as a balancer store (`PRAGMA application_id`, see `schema.rs`), so the store is
/// told apart from another application's SQLite file. Older stores get it here.
fn v5_application_id(tx: &Transaction) -> rusqlite::Result<()> {
    tx.pragma_update(None, "application_id", APPLICATION_ID)
}

/// An index on the priority position: a new provider goes after `MAX(position)`, which without
/// it read every row, so capturing thousands of providers at once took quadratic time.
fn v6_priority_position_index(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("CREATE INDEX IF NOT EXISTS provider_priority_position ON provider_priority (position)")
}

/// `accounts.subject`: the provider's stable account id where the tokens carry none (Claude's
/// profile: `claude:<account>/<organization>`), so a refreshed login whose identity (its
/// refresh-token digest) changed is linked to its account, never saved as another. NULL: unknown.
fn v7_account_subject(tx: &Transaction) -> rusqlite::Result<()> {
    ensure_column(tx, "accounts", "subject", "TEXT")?;
    tx.execute_batch("CREATE INDEX IF NOT EXISTS accounts_subject ON accounts (provider_id, subject)")
}

/// OAuth refresh coordination across processes: a generation bumped by every new credential, a
/// lease (owner, until) a process holds while it spends the refresh token, the login-required
/// mark, when the credential was last refreshed or saved, and the identity of the credential a
/// refresh replaced (so auth.json still showing a spent Claude token is not a new login).
fn v8_token_refresh(tx: &Transaction) -> rusqlite::Result<()> {
    ensure_column(tx, "accounts", "token_generation", "INTEGER NOT NULL DEFAULT 0")?;
    ensure_column(tx, "accounts", "refresh_lease_owner", "TEXT")?;
    ensure_column(tx, "accounts", "refresh_lease_until", "INTEGER")?;
    ensure_column(tx, "accounts", "login_required", "INTEGER NOT NULL DEFAULT 0")?;
    ensure_column(tx, "accounts", "token_refreshed_at", "INTEGER")?;
    ensure_column(tx, "accounts", "previous_identity", "TEXT")
}

/// Per-session continuity records shared by every process (`conversations.rs`): the owner of a
/// session's replayed state, its sticky edit, when it changed, and the write's `seq` that other
/// processes read after.
fn v9_conversations(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS conversations (
            session_id TEXT PRIMARY KEY,
            owner_provider TEXT,
            owner_alias TEXT,
            owner_at INTEGER NOT NULL DEFAULT 0,
            edited TEXT,
            updated_at INTEGER NOT NULL,
            seq INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS conversations_by_seq ON conversations (seq);
        CREATE INDEX IF NOT EXISTS conversations_by_time ON conversations (updated_at);",
    )
}

/// Accounts whose credential another program holds (`owner`: `opencode2`, see
/// `src/opencode2/`): the owner's id of it (`credential_id`, the key its state is kept by) and
/// whether the owner last showed it active (`host_active`, so only a change of the owner's
/// choice moves ours). NULL owner: the balancer's own account.
fn v10_host_credentials(tx: &Transaction) -> rusqlite::Result<()> {
    ensure_column(tx, "accounts", "owner", "TEXT")?;
    ensure_column(tx, "accounts", "credential_id", "TEXT")?;
    ensure_column(tx, "accounts", "host_active", "INTEGER NOT NULL DEFAULT 0")?;
    tx.execute_batch("CREATE INDEX IF NOT EXISTS accounts_by_credential ON accounts (owner, credential_id)")
}

fn has_column(tx: &Transaction, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut stmt = tx.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    for name in names {
        if name? == column {
            return Ok(true);
        }
    }
    Ok(false)
}

fn ensure_column(tx: &Transaction, table: &str, column: &str, decl: &str) -> rusqlite::Result<()> {
    if !has_column(tx, table, column)? {
        tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "migrations_tests.rs"]
mod tests;
