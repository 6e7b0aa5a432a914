//! Priority matrix, settings and usage snapshot rows.

use rusqlite::{params, OptionalExtension};

use super::{Result, Store, StoreError};
use crate::model::{PriorityDirection, PriorityEntry, Settings, UsageSnapshot};

impl Store {
    pub fn list_priority(&self) -> Result<Vec<PriorityEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, position, model_id, enabled FROM provider_priority ORDER BY position, provider_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PriorityEntry {
                provider_id: r.get(0)?,
                position: r.get::<_, i64>(1)?.max(0) as u32,
                model_id: r.get(2)?,
                enabled: r.get::<_, Option<bool>>(3)?.unwrap_or(true),
            })
        })?;
        // Positions shown are always 0..n in order, whatever gaps the rows have.
        let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        for (i, e) in out.iter_mut().enumerate() {
            e.position = i as u32;
        }
        Ok(out)
    }

    /// Sets the model for a provider, adding it at the end of the matrix when it is not there.
    pub fn set_priority_model(&mut self, provider: &str, model: Option<&str>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO provider_priority (provider_id, position, model_id, enabled)
                 SELECT ?1, COALESCE(MAX(position) + 1, 0), ?2, 1 FROM provider_priority WHERE true
                 ON CONFLICT (provider_id) DO UPDATE SET model_id = excluded.model_id",
                params![provider, model],
            )?;
            Ok(())
        })
    }

    /// `true` when the flag changed.
    pub fn set_priority_enabled(&mut self, provider: &str, enabled: bool) -> Result<bool> {
        self.write(|tx| {
            let known = tx
                .query_row(
                    "SELECT enabled FROM provider_priority WHERE provider_id = ?1",
                    [provider],
                    |r| r.get::<_, bool>(0),
                )
                .optional()?;
            match known {
                None => Err(not_in_matrix(provider)),
                Some(current) if current == enabled => Ok(false),
                Some(_) => {
                    tx.execute(
                        "UPDATE provider_priority SET enabled = ?2 WHERE provider_id = ?1",
                        params![provider, enabled],
                    )?;
                    Ok(true)
                }
            }
        })
    }

    /// Takes a provider out of the priority list, renumbering the rest. Refused (changing nothing)
    /// while the provider still has saved accounts: saving one puts the provider back in the list.
    pub fn remove_priority(&mut self, provider: &str) -> Result<()> {
        self.write(|tx| {
            let accounts: i64 = tx.query_row(
                "SELECT COUNT(*) FROM accounts WHERE provider_id = ?1",
                [provider],
                |r| r.get(0),
            )?;
            if accounts > 0 {
                let (s, them) = if accounts == 1 { ("", "it") } else { ("s", "them") };
                return Err(StoreError::Invalid(format!(
                    "provider '{provider}' still has {accounts} saved account{s}; remove {them} first \
                     (it returns to the priority list with its next account); nothing was changed"
                )));
            }
            if tx.execute("DELETE FROM provider_priority WHERE provider_id = ?1", [provider])? == 0 {
                return Err(not_in_matrix(provider));
            }
            tx.execute(
                "UPDATE provider_priority SET position = (SELECT COUNT(*) FROM provider_priority AS o
                   WHERE o.position < provider_priority.position
                      OR (o.position = provider_priority.position AND o.provider_id < provider_priority.provider_id))",
                [],
            )?;
            Ok(())
        })
    }

    /// Moves a provider one place up or down; `false` at either end.
    pub fn move_priority(&mut self, provider: &str, direction: PriorityDirection) -> Result<bool> {
        self.write(|tx| {
            let mut order: Vec<String> = {
                let mut stmt =
                    tx.prepare("SELECT provider_id FROM provider_priority ORDER BY position, provider_id")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let Some(i) = order.iter().position(|p| p == provider) else {
                return Err(not_in_matrix(provider));
            };
            let j = i as i64 + direction.offset();
            if j < 0 || j >= order.len() as i64 {
                return Ok(false);
            }
            order.swap(i, j as usize);
            for (pos, p) in order.iter().enumerate() {
                tx.execute(
                    "UPDATE provider_priority SET position = ?2 WHERE provider_id = ?1",
                    params![p, pos as i64],
                )?;
            }
            Ok(true)
        })
    }

    pub fn load_settings(&self) -> Result<Settings> {
        let mut stmt = self.conn.prepare_cached("SELECT key, value FROM balancer_settings")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let pairs = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Settings::from_pairs(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ))
    }

    /// Writes one setting (its value as JSON text); other keys are left to other writers.
    pub fn save_setting(&mut self, key: &str, value_json: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO balancer_settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value_json],
            )?;
            Ok(())
        })
    }

    /// The newest usage snapshot of each account.
    pub fn load_usage(&self, provider: Option<&str>) -> Result<Vec<UsageSnapshot>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, alias, snapshot_json FROM usage_snapshots u
             WHERE snapshot_json IS NOT NULL AND (?1 IS NULL OR provider_id = ?1)
               AND fetched_at = (SELECT MAX(fetched_at) FROM usage_snapshots v
                                 WHERE v.provider_id = u.provider_id AND v.alias = u.alias)",
        )?;
        let rows = stmt.query_map([provider], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (provider_id, alias, json) = row?;
            out.extend(usage_snapshot(provider_id, alias, &json));
        }
        Ok(out)
    }

    /// The newest usage snapshot of one account.
    pub(super) fn load_usage_of(&self, provider: &str, alias: &str) -> Result<Option<UsageSnapshot>> {
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT snapshot_json FROM usage_snapshots
                 WHERE provider_id = ?1 AND alias = ?2 AND snapshot_json IS NOT NULL
                 ORDER BY fetched_at DESC LIMIT 1",
            )?
            .query_row(params![provider, alias], |r| r.get(0))
            .optional()?;
        Ok(json.and_then(|json| usage_snapshot(provider.to_string(), alias.to_string(), &json)))
    }

    /// Replaces an account's usage snapshot. `raw` must already be redacted.
    pub fn save_usage(&mut self, snapshot: &UsageSnapshot, raw: Option<&str>) -> Result<()> {
        let json = serde_json::to_string(snapshot).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.write_bookkeeping(|tx| {
            tx.execute(
                "DELETE FROM usage_snapshots WHERE provider_id = ?1 AND alias = ?2",
                params![snapshot.provider_id, snapshot.alias],
            )?;
            tx.execute(
                "INSERT INTO usage_snapshots (provider_id, alias, fetched_at, payload_json, snapshot_json)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![snapshot.provider_id, snapshot.alias, snapshot.fetched_at, raw, json],
            )?;
            Ok(())
        })
    }

    pub fn pending_count(&self) -> Result<usize> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM pending_connections WHERE status = 'pending'",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }
}

/// A stored usage snapshot; the columns name the account: a rename updates them, not the JSON.
fn usage_snapshot(provider_id: String, alias: String, json: &str) -> Option<UsageSnapshot> {
    match serde_json::from_str::<UsageSnapshot>(json) {
        Ok(s) => Some(UsageSnapshot {
            provider_id,
            alias,
            ..s
        }),
        Err(e) => {
            tracing::warn!(error = %e, "skipping a usage snapshot that does not parse");
            None
        }
    }
}

fn not_in_matrix(provider: &str) -> StoreError {
    StoreError::Invalid(format!("provider '{provider}' is not in the priority list"))
}
