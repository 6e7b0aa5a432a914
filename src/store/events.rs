//! The events table: append (pruning to the bounds in the same transaction), list newest first.

use std::collections::BTreeMap;

use rusqlite::params;

use super::{Result, Store};
use crate::model::{Millis, NewEvent, Settings, StoredEvent};

const DAY_MS: Millis = 86_400_000;

impl Store {
    /// Stores events in one transaction and returns them with their ids. The same transaction
    /// prunes the table to the `eventsMaxRows` / `eventsMaxAgeDays` settings as they are stored
    /// at that moment (so another process's change applies too), ages counted back from `now`:
    /// after every commit of any writer the table is within its bounds.
    pub fn append_events(&mut self, events: &[(NewEvent, Millis)], now: Millis) -> Result<Vec<StoredEvent>> {
        self.write_bookkeeping(|tx| {
            let mut out = Vec::with_capacity(events.len());
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (type, provider_id, alias, message, metadata_json, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (e, at) in events {
                let meta = serde_json::to_string(&e.metadata).unwrap_or_else(|_| "{}".into());
                stmt.execute(params![e.kind.as_str(), e.provider_id, e.alias, e.message, meta, at])?;
                out.push(StoredEvent {
                    id: tx.last_insert_rowid(),
                    kind: e.kind.as_str().to_string(),
                    provider_id: e.provider_id.clone(),
                    alias: e.alias.clone(),
                    message: e.message.clone(),
                    created_at: *at,
                    metadata: e.metadata.clone(),
                });
            }
            drop(stmt);
            prune(tx, now)?;
            Ok(out)
        })
    }

    /// Newest first, optionally of one type.
    pub fn list_events(&self, limit: usize, kind: Option<&str>) -> Result<Vec<StoredEvent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, type, provider_id, alias, message, metadata_json, created_at FROM events
             WHERE (?1 IS NULL OR type = ?1) ORDER BY created_at DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![kind, limit as i64], |r| {
            let meta: Option<String> = r.get(5)?;
            Ok(StoredEvent {
                id: r.get(0)?,
                kind: r.get(1)?,
                provider_id: r.get(2)?,
                alias: r.get(3)?,
                message: r.get(4)?,
                metadata: meta
                    .and_then(|m| serde_json::from_str::<BTreeMap<String, String>>(&m).ok())
                    .unwrap_or_default(),
                created_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Deletes events beyond the stored bounds; both deletes walk an index over only the rows they
/// remove. Ids come from AUTOINCREMENT in serialized write transactions, so they only grow and
/// the newest `max_rows` rows are those with ids above `MAX(id) - max_rows`; a gap (a row already
/// removed for its age) can only make that fewer rows, never more.
fn prune(tx: &rusqlite::Transaction, now: Millis) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT key, value FROM balancer_settings WHERE key IN ('eventsMaxRows', 'eventsMaxAgeDays')",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let pairs = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let bounds = Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let oldest = now.saturating_sub((bounds.events_max_age_days as Millis).saturating_mul(DAY_MS));
    tx.prepare_cached("DELETE FROM events WHERE created_at < ?1")?
        .execute([oldest])?;
    tx.prepare_cached("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?1")?
        .execute([bounds.events_max_rows as i64])?;
    Ok(())
}

#[cfg(test)]
mod tests;
