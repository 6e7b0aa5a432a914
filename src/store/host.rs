//! Accounts mirrored from opencode 2's own credentials (`src/opencode2/`): one account per
//! credential, kept by its credential id, holding no secret. A credential added there appears
//! here, one removed disappears with its state, a renamed one follows its label, and the state the
//! balancer keeps (cooldowns, failures, usage, priority) stays with its credential id.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, OptionalExtension, Transaction};

use super::account_rows::{ensure_priority, move_alias, remove_account_tx, set_active};
use super::{Result, Store};
use crate::model::{normalize_alias, Auth, Millis};
use crate::opencode2::{HostCredential, OWNER};

/// What one mirror changed, by `(provider, alias)`, for its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrored {
    pub added: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
    /// `(provider, from, to)`.
    pub renamed: Vec<(String, String, String)>,
    /// Made our active account because opencode 2's active credential of its provider changed to it.
    pub activated: Vec<(String, String)>,
}

impl Mirrored {
    pub fn is_empty(&self) -> bool {
        *self == Mirrored::default()
    }
}

/// The credential a row of `owner` stands for, from its stored `{"type":"opencode2",
/// "credentialID", "kind"}`; `None` for an owner or a shape this version does not know.
pub(super) fn host_auth(owner: &str, auth_json: &str) -> Option<Auth> {
    #[derive(serde::Deserialize)]
    struct Stored {
        #[serde(rename = "credentialID")]
        credential_id: String,
        kind: String,
    }
    if owner != OWNER {
        return None;
    }
    let s: Stored = serde_json::from_str(auth_json).ok()?;
    Some(Auth::Opencode2 {
        credential_id: s.credential_id,
        kind: s.kind,
    })
}

/// Refuses to give `provider/alias` a credential of the balancer's when another program owns it.
pub(super) fn refuse_owned(tx: &Transaction, provider: &str, alias: &str) -> Result<()> {
    let owner: Option<Option<String>> = tx
        .query_row(
            "SELECT owner FROM accounts WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias],
            |r| r.get(0),
        )
        .optional()?;
    match owner {
        Some(Some(owner)) => Err(super::StoreError::Invalid(format!(
            "{provider}/{alias} is {owner}'s credential: its credential is changed there; nothing was changed"
        ))),
        _ => Ok(()),
    }
}

/// A mirrored row as stored: `(provider, alias, credential id, host_active)`.
type Row = (String, String, String, bool);

impl Store {
    /// Makes the accounts owned by opencode 2 exactly `credentials` (all it holds now), in one
    /// transaction; the balancer's own accounts are never touched, and no alias of theirs is taken.
    pub fn mirror_host_credentials(&mut self, credentials: &[HostCredential], now: Millis) -> Result<Mirrored> {
        self.write(|tx| mirror_tx(tx, credentials, now))
    }
}

fn mirror_tx(tx: &Transaction, credentials: &[HostCredential], now: Millis) -> Result<Mirrored> {
    let mut out = Mirrored::default();
    let by_id: BTreeMap<&str, &HostCredential> = credentials.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for row in stored_rows(tx)? {
        match by_id.get(row.2.as_str()) {
            Some(c) if c.provider_id == row.0 => {
                rows.insert(row.2.clone(), row);
            }
            // Gone from opencode 2 (or moved to another provider: added again there).
            _ => {
                remove_account_tx(tx, &row.0, &row.1)?;
                out.removed.push((row.0, row.1));
            }
        }
    }
    let names = names(tx, credentials, &rows)?;
    // Renames go through a name no account can have, so two accounts may trade names.
    let renaming: Vec<(&Row, &String)> = rows
        .values()
        .filter_map(|r| names.get(r.2.as_str()).filter(|n| **n != r.1).map(|n| (r, n)))
        .collect();
    for (row, _) in &renaming {
        move_alias(tx, &row.0, &row.1, &format!("\u{0}{}", row.2), now)?;
    }
    for (row, to) in renaming {
        move_alias(tx, &row.0, &format!("\u{0}{}", row.2), to, now)?;
        out.renamed.push((row.0.clone(), row.1.clone(), to.clone()));
    }
    for c in credentials {
        let alias = &names[c.id.as_str()];
        let auth = Auth::Opencode2 {
            credential_id: c.id.clone(),
            kind: c.kind.clone(),
        };
        let auth_json = serde_json::to_string(&auth).map_err(|e| super::StoreError::Invalid(e.to_string()))?;
        let became_active = match rows.get(&c.id) {
            Some(row) => {
                tx.execute(
                    "UPDATE accounts SET auth_json = ?3, auth_type = ?4, host_active = ?5
                     WHERE owner = ?1 AND credential_id = ?2 AND (auth_json != ?3 OR host_active != ?5)",
                    params![OWNER, c.id, auth_json, auth.auth_type(), c.active],
                )?;
                c.active && !row.3
            }
            None => {
                tx.execute(
                    "INSERT INTO accounts (provider_id, alias, auth_json, auth_type, identity, created_at, updated_at,
                         failures, disabled, auth_failed, owner, credential_id, host_active)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 0, 0, 0, ?7, ?8, ?9)",
                    params![
                        c.provider_id,
                        alias,
                        auth_json,
                        auth.auth_type(),
                        auth.identity(),
                        now,
                        OWNER,
                        c.id,
                        c.active
                    ],
                )?;
                ensure_priority(tx, &c.provider_id)?;
                out.added.push((c.provider_id.clone(), alias.clone()));
                c.active || !has_active(tx, &c.provider_id)?
            }
        };
        if became_active {
            set_active(tx, &c.provider_id, Some(alias))?;
            out.activated.push((c.provider_id.clone(), alias.clone()));
        }
    }
    Ok(out)
}

fn stored_rows(tx: &Transaction) -> Result<Vec<Row>> {
    let mut stmt = tx.prepare(
        "SELECT provider_id, alias, credential_id, host_active FROM accounts
         WHERE owner = ?1 ORDER BY provider_id, alias",
    )?;
    let rows = stmt.query_map([OWNER], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            r.get(3)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Each credential's alias: its label normalized (else its id), unique within its provider
/// (`-2`, `-3`… in the order opencode 2 made them). A credential keeps the alias it has when that
/// is still its label's; the balancer's own accounts keep theirs.
fn names<'a>(
    tx: &Transaction,
    credentials: &'a [HostCredential],
    rows: &BTreeMap<String, Row>,
) -> Result<BTreeMap<&'a str, String>> {
    let mut taken: BTreeSet<(String, String)> = BTreeSet::new();
    let mut own = tx.prepare("SELECT provider_id, alias FROM accounts WHERE owner IS NULL")?;
    for row in own.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
        taken.insert(row?);
    }
    let wanted = |c: &HostCredential| {
        normalize_alias(&c.label)
            .or_else(|| normalize_alias(&c.id))
            .unwrap_or_else(|| "account".into())
    };
    let mut out = BTreeMap::new();
    // First those already named after their label, so a newcomer never takes a name in use.
    for c in credentials {
        let base = wanted(c);
        let keeps = rows.get(&c.id).is_some_and(|r| r.1 == base);
        if keeps && taken.insert((c.provider_id.clone(), base.clone())) {
            out.insert(c.id.as_str(), base);
        }
    }
    for c in credentials {
        if out.contains_key(c.id.as_str()) {
            continue;
        }
        let base = wanted(c);
        let name = (1..)
            .map(|n| if n == 1 { base.clone() } else { suffixed(&base, n) })
            .find(|n| !taken.contains(&(c.provider_id.clone(), n.clone())))
            .expect("some suffix is free");
        taken.insert((c.provider_id.clone(), name.clone()));
        out.insert(c.id.as_str(), name);
    }
    Ok(out)
}

/// `base-n`, cut so the whole stays within an alias's 64 characters.
fn suffixed(base: &str, n: usize) -> String {
    let tail = format!("-{n}");
    let keep = base.len().min(64 - tail.len());
    format!("{}{tail}", base[..keep].trim_end_matches('-'))
}

fn has_active(tx: &Transaction, provider: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM provider_state WHERE provider_id = ?1 AND active_alias IS NOT NULL")?
        .exists([provider])?)
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
