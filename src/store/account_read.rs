//! Reading account rows back: every account, one with its usage, each provider's active account;
//! a row whose credential does not parse is skipped with a warning.

use rusqlite::{params, OptionalExtension, Row};

use super::{Result, Store};
use crate::model::{Account, Auth, TokenState};

thread_local! {
    /// Account rows read on this thread (the store's own thread, one per store).
    static ROWS_READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Account rows read so far on the calling thread: run on the store thread, how much a job
/// read back (the registry's reload after a change is meant to stay small).
pub fn account_rows_read() -> u64 {
    ROWS_READ.with(|n| n.get())
}

fn count_rows_read(n: usize) {
    ROWS_READ.with(|c| c.set(c.get() + n as u64));
}

const ACCOUNT_COLUMNS: &str = "provider_id, alias, auth_json, created_at, updated_at, last_used_at,
     rate_limited_until, cooldown_reason, failures, disabled, auth_failed, reset_epoch,
     token_generation, login_required, token_refreshed_at, owner";

impl Store {
    pub(super) fn load_accounts(&self, provider: Option<&str>) -> Result<Vec<Account>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE (?1 IS NULL OR provider_id = ?1) ORDER BY provider_id, alias"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([provider], read_account)?;
        let mut out = Vec::new();
        for row in rows {
            match row? {
                Ok(acc) => out.push(acc),
                Err(unparsed) => skipped(unparsed),
            }
        }
        count_rows_read(out.len());
        Ok(out)
    }

    /// One account with its newest usage snapshot; `None` when there is none (or its stored
    /// credential does not parse).
    pub(super) fn load_account(&self, provider: &str, alias: &str) -> Result<Option<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE provider_id = ?1 AND alias = ?2");
        let row = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![provider, alias], read_account)
            .optional()?;
        count_rows_read(usize::from(row.is_some()));
        let Some(mut account) = row.and_then(|r| r.map_err(skipped).ok()) else {
            return Ok(None);
        };
        account.usage = self.load_usage_of(provider, alias)?.map(Box::new);
        Ok(Some(account))
    }

    /// (provider, active alias, active epoch) of every provider with a state row, an active
    /// account or not: the epoch counts either way.
    pub(super) fn load_active(&self, provider: Option<&str>) -> Result<Vec<(String, Option<String>, u32)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, active_alias, active_epoch FROM provider_state
             WHERE ?1 IS NULL OR provider_id = ?1",
        )?;
        let rows = stmt.query_map([provider], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

type AccountRow = std::result::Result<Account, (String, String)>;

fn skipped((provider, alias): (String, String)) {
    tracing::warn!(provider = %provider, alias = %alias, "skipping an account whose stored credential does not parse")
}

fn read_account(r: &Row) -> rusqlite::Result<AccountRow> {
    let provider_id: String = r.get(0)?;
    let alias: String = r.get(1)?;
    let auth_json: String = r.get(2)?;
    let owner: Option<String> = r.get(15)?;
    // A credential another program holds is not auth.json's shape: only its id and kind are kept.
    let parsed = match owner {
        Some(owner) => super::host::host_auth(&owner, &auth_json),
        None => serde_json::from_str::<Auth>(&auth_json).ok(),
    };
    let Some(auth) = parsed else {
        return Ok(Err((provider_id, alias)));
    };
    Ok(Ok(Account {
        provider_id,
        alias,
        auth,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        last_used_at: r.get(5)?,
        cooldown_until: r.get(6)?,
        // Text at the store edge; a name this version does not know rests without a reason.
        cooldown_reason: r.get::<_, Option<String>>(7)?.and_then(|t| t.parse().ok()),
        failures: r.get::<_, Option<u32>>(8)?.unwrap_or(0),
        disabled: r.get::<_, Option<bool>>(9)?.unwrap_or(false),
        auth_failed: r.get::<_, Option<bool>>(10)?.unwrap_or(false),
        reset_epoch: r.get(11)?,
        usage: None,
        token: TokenState {
            generation: r.get::<_, Option<i64>>(12)?.unwrap_or(0) as u64,
            login_required: r.get::<_, Option<bool>>(13)?.unwrap_or(false),
            refreshed_at: r.get(14)?,
        },
    }))
}
