//! The events table: append, list newest first, prune.

use std::collections::BTreeMap;

use rusqlite::params;

use super::{Result, Store};
use crate::model::{Millis, NewEvent, StoredEvent};

impl Store {
    /// Stores events in one transaction and returns them with their ids.
    pub fn append_events(&mut self, events: &[(NewEvent, Millis)]) -> Result<Vec<StoredEvent>> {
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

    /// Keeps at most `max_rows` events and none older than `min_created_at`.
    pub fn prune_events(&mut self, max_rows: usize, min_created_at: Millis) -> Result<usize> {
        self.write_bookkeeping(|tx| {
            let by_age = tx.execute("DELETE FROM events WHERE created_at < ?1", [min_created_at])?;
            let by_count = tx.execute(
                "DELETE FROM events WHERE id NOT IN (SELECT id FROM events ORDER BY created_at DESC, id DESC LIMIT ?1)",
                [max_rows as i64],
            )?;
            Ok(by_age + by_count)
        })
    }
}
