//! Per-session continuity records (docs/continuity.md): which account's 2xx produced the state a
//! session replays (its owner) and how far its state was edited (sticky), shared by every process
//! on the store. Bookkeeping: written merged with what is stored, bounded to the newest
//! [`MAX_CONVERSATIONS`] sessions of the last [`CONVERSATION_TTL_MS`], pruned at each write.

use rusqlite::{params, OptionalExtension};

use super::{Result, Store};
use crate::continuity::Scope;
use crate::model::Millis;

/// Sessions kept (the most recently changed).
pub const MAX_CONVERSATIONS: usize = 5_000;
/// A session whose record did not change for this long is forgotten.
pub const CONVERSATION_TTL_MS: Millis = 30 * 24 * 3_600_000;

/// What is known of one session's replayed state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Continuity {
    /// The account (provider id, alias) whose 2xx last answered a request of the session.
    pub owner: Option<(String, String)>,
    /// When `owner` was learnt (0: never): the newer of two owners wins.
    pub owner_at: Millis,
    /// The widest scope the session's state was edited with; never narrows.
    pub edited: Option<Scope>,
    /// When the record last changed (or was last confirmed).
    pub updated_at: Millis,
}

impl Continuity {
    /// Takes in `other` (another process's record, or a newer one of ours): the newer owner (on a
    /// tie, `other`'s), the wider edit, the later time. Idempotent and order-free up to ties, so
    /// a record read back or written twice changes nothing. True when `self` changed.
    pub fn merge(&mut self, other: &Continuity) -> bool {
        let before = self.clone();
        if other.owner.is_some() && (self.owner.is_none() || other.owner_at >= self.owner_at) {
            self.owner = other.owner.clone();
            self.owner_at = other.owner_at;
        }
        self.edited = Scope::wider(self.edited, other.edited);
        self.updated_at = self.updated_at.max(other.updated_at);
        *self != before
    }
}

/// Records read from the store, and the highest `seq` among them (read later ones after it).
#[derive(Debug, Default)]
pub struct ConversationsRead {
    pub records: Vec<(String, Continuity)>,
    pub seq: i64,
}

impl Store {
    /// Merges `records` into the stored ones (one bookkeeping transaction, stamped with a new
    /// `seq` that other processes read after), then prunes to the bounds as of `now`.
    pub fn write_conversations(&mut self, records: &[(String, Continuity)], now: Millis) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.write_bookkeeping(|tx| {
            let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM conversations", [], |r| r.get(0))?;
            for (session, record) in records {
                let stored = tx
                    .prepare_cached(
                        "SELECT owner_provider, owner_alias, owner_at, edited, updated_at FROM conversations WHERE session_id = ?1",
                    )?
                    .query_row([session], row_to_record)
                    .optional()?;
                let merged = match stored {
                    Some(mut s) => {
                        s.merge(record);
                        s
                    }
                    None => record.clone(),
                };
                let (provider, alias) = merged.owner.clone().unzip();
                tx.prepare_cached(
                    "INSERT INTO conversations (session_id, owner_provider, owner_alias, owner_at, edited, updated_at, seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (session_id) DO UPDATE SET owner_provider = excluded.owner_provider,
                         owner_alias = excluded.owner_alias, owner_at = excluded.owner_at, edited = excluded.edited,
                         updated_at = excluded.updated_at, seq = excluded.seq",
                )?
                .execute(params![
                    session,
                    provider,
                    alias,
                    merged.owner_at,
                    merged.edited.map(Scope::as_str),
                    merged.updated_at,
                    seq
                ])?;
            }
            // The newest row (highest seq) is never pruned: later writes count on from it.
            tx.prepare_cached(
                "DELETE FROM conversations WHERE seq < ?2 AND (updated_at < ?1 OR session_id IN
                    (SELECT session_id FROM conversations ORDER BY updated_at DESC LIMIT -1 OFFSET ?3))",
            )?
            .execute(params![now - CONVERSATION_TTL_MS, seq, MAX_CONVERSATIONS as i64])?;
            Ok(())
        })
    }

    /// The records within the bounds as of `now` (newest first), for a process starting.
    pub fn load_conversations(&self, now: Millis) -> Result<ConversationsRead> {
        self.read_conversations(
            "SELECT session_id, owner_provider, owner_alias, owner_at, edited, updated_at, seq FROM conversations
             WHERE updated_at >= ?1 ORDER BY updated_at DESC LIMIT ?2",
            params![now - CONVERSATION_TTL_MS, MAX_CONVERSATIONS as i64],
            0,
        )
    }

    /// The records written after `seq` (by any process), to merge into memory.
    pub fn conversations_since(&self, seq: i64) -> Result<ConversationsRead> {
        self.read_conversations(
            "SELECT session_id, owner_provider, owner_alias, owner_at, edited, updated_at, seq FROM conversations
             WHERE seq > ?1",
            params![seq],
            seq,
        )
    }

    fn read_conversations(&self, sql: &str, args: impl rusqlite::Params, seq: i64) -> Result<ConversationsRead> {
        let mut out = ConversationsRead { records: vec![], seq };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(args)?;
        while let Some(row) = rows.next()? {
            let session: String = row.get(0)?;
            let record = row_to_record_at(row, 1)?;
            out.seq = out.seq.max(row.get(6)?);
            out.records.push((session, record));
        }
        Ok(out)
    }
}

fn row_to_record(row: &rusqlite::Row) -> rusqlite::Result<Continuity> {
    row_to_record_at(row, 0)
}

/// A record from the columns (owner provider, owner alias, owner_at, edited, updated_at) from
/// `at`. An owner half missing is no owner; an `edited` this binary does not know is the widest
/// edit (stripping too much costs a cache miss, too little a refusal).
fn row_to_record_at(row: &rusqlite::Row, at: usize) -> rusqlite::Result<Continuity> {
    let provider: Option<String> = row.get(at)?;
    let alias: Option<String> = row.get(at + 1)?;
    let edited: Option<String> = row.get(at + 3)?;
    Ok(Continuity {
        owner: provider.zip(alias),
        owner_at: row.get::<_, Option<Millis>>(at + 2)?.unwrap_or(0),
        edited: edited.map(|e| Scope::parse(&e).unwrap_or(Scope::ProviderMove)),
        updated_at: row.get(at + 4)?,
    })
}

#[cfg(test)]
#[path = "conversations_tests.rs"]
mod tests;
