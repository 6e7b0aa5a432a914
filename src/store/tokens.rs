//! OAuth refresh coordination between every process sharing the store: a refresh lease on the
//! account row (taken in a write transaction, only on the generation the caller saw), and the
//! compare-and-swap commit of the result on (generation, lease owner).
//!
//! Exactly one process spends a refresh token: whoever holds the lease. A process that finds the
//! generation moved uses the credential the row holds now; one that finds a live lease waits for
//! it to be committed or to expire (its holder died), then tries again.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{Result, Store, StoreError};
use crate::model::{Auth, Millis};

/// How long a refresh lease holds: longer than any one refresh may take (the keeper bounds them).
pub const LEASE_TTL_MS: Millis = 30_000;

/// What asking for the lease found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lease {
    /// Ours until `until`: the credential to refresh is `auth`, at `generation`.
    Taken { auth: Auth, generation: u64, until: Millis },
    /// The credential changed since the caller looked (another process refreshed, or a new login
    /// was saved): use this one, do not refresh.
    Moved { auth: Auth, generation: u64 },
    /// Another process is refreshing it until `until` at the latest.
    Held { until: Millis },
    /// No such account (removed), or its credential no longer parses.
    Gone,
}

/// What committing a refresh result did.
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    /// Saved as `generation`.
    Saved {
        generation: u64,
    },
    /// The row moved on meanwhile (our lease expired and was taken over, or a new login was
    /// saved): it holds `auth` at `generation`; ours was not written.
    Lost {
        auth: Auth,
        generation: u64,
    },
    Gone,
}

/// One row's refresh coordination columns.
struct Row {
    auth: Option<Auth>,
    generation: u64,
    owner: Option<String>,
    until: Option<Millis>,
}

fn read_row(tx: &Transaction, provider: &str, alias: &str) -> Result<Option<Row>> {
    Ok(tx
        .query_row(
            "SELECT auth_json, token_generation, refresh_lease_owner, refresh_lease_until
             FROM accounts WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias],
            |r| {
                let json: String = r.get(0)?;
                Ok(Row {
                    auth: serde_json::from_str(&json).ok(),
                    generation: r.get::<_, i64>(1)? as u64,
                    owner: r.get(2)?,
                    until: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// Whether `captured` is an OAuth credential older than the one `stored_json` holds (it expires
/// earlier): auth.json still showing a token this account has since been refreshed past.
pub(super) fn is_older(captured: &Auth, stored_json: &str) -> bool {
    let Ok(Auth::Oauth { expires: stored, .. }) = serde_json::from_str::<Auth>(stored_json) else {
        return false;
    };
    matches!(captured, Auth::Oauth { expires, .. } if *expires > 0 && stored > 0 && *expires < stored)
}

impl Store {
    /// Takes the refresh lease of an account for `owner` until `now + ttl`, if its generation is
    /// still `seen` and no other process holds a live lease. One write transaction.
    pub fn take_refresh_lease(
        &mut self,
        provider: &str,
        alias: &str,
        seen: u64,
        owner: &str,
        now: Millis,
        ttl: Millis,
    ) -> Result<Lease> {
        self.write_bookkeeping(|tx| {
            let Some(row) = read_row(tx, provider, alias)? else {
                return Ok(Lease::Gone);
            };
            let Some(auth) = row.auth else { return Ok(Lease::Gone) };
            if row.generation != seen {
                return Ok(Lease::Moved {
                    auth,
                    generation: row.generation,
                });
            }
            if let (Some(holder), Some(until)) = (&row.owner, row.until) {
                if holder != owner && until > now {
                    return Ok(Lease::Held { until });
                }
            }
            let until = now.saturating_add(ttl);
            tx.execute(
                "UPDATE accounts SET refresh_lease_owner = ?3, refresh_lease_until = ?4
                 WHERE provider_id = ?1 AND alias = ?2",
                params![provider, alias, owner, until],
            )?;
            Ok(Lease::Taken {
                auth,
                generation: row.generation,
                until,
            })
        })
    }

    /// Writes a refreshed credential if the row is still at `generation` under `owner`'s lease:
    /// the credential, its identity (a rotated refresh token stays the same account), the next
    /// generation; the lease and the login-required and auth-failed marks are cleared.
    pub fn commit_refresh(
        &mut self,
        provider: &str,
        alias: &str,
        generation: u64,
        owner: &str,
        auth: &Auth,
        now: Millis,
    ) -> Result<Committed> {
        let auth_json = serde_json::to_string(auth).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.write_dropping_secret(|tx| {
            let n = tx.execute(
                "UPDATE accounts SET previous_identity = CASE WHEN identity != ?7 THEN identity ELSE previous_identity END,
                     auth_json = ?5, auth_type = ?6, identity = ?7, updated_at = ?8,
                     token_generation = token_generation + 1, token_refreshed_at = ?8,
                     refresh_lease_owner = NULL, refresh_lease_until = NULL, login_required = 0, auth_failed = 0,
                     rate_limited_until = CASE WHEN cooldown_reason = 'auth_failed' THEN NULL ELSE rate_limited_until END
                 WHERE provider_id = ?1 AND alias = ?2 AND token_generation = ?3 AND refresh_lease_owner = ?4",
                params![
                    provider,
                    alias,
                    generation as i64,
                    owner,
                    auth_json,
                    auth.auth_type(),
                    auth.identity(),
                    now
                ],
            )?;
            if n == 1 {
                return Ok(Committed::Saved {
                    generation: generation + 1,
                });
            }
            Ok(match read_row(tx, provider, alias)? {
                Some(Row {
                    auth: Some(auth),
                    generation,
                    ..
                }) => Committed::Lost { auth, generation },
                _ => Committed::Gone,
            })
        })
    }

    /// Gives the lease back without a result; with `login_required`, marks the account as
    /// needing a new login (only while it is still at `generation`: a newer login is fine).
    pub fn release_refresh_lease(
        &mut self,
        provider: &str,
        alias: &str,
        generation: u64,
        owner: &str,
        login_required: bool,
    ) -> Result<()> {
        self.write_bookkeeping(|tx| {
            tx.execute(
                "UPDATE accounts SET refresh_lease_owner = NULL, refresh_lease_until = NULL
                 WHERE provider_id = ?1 AND alias = ?2 AND refresh_lease_owner = ?3",
                params![provider, alias, owner],
            )?;
            if login_required {
                tx.execute(
                    "UPDATE accounts SET login_required = 1
                     WHERE provider_id = ?1 AND alias = ?2 AND token_generation = ?3",
                    params![provider, alias, generation as i64],
                )?;
            }
            Ok(())
        })
    }

    /// The account's credential and generation as committed now (`None`: removed or unreadable).
    pub fn token_row(&mut self, provider: &str, alias: &str) -> Result<Option<(Auth, u64, Option<Millis>)>> {
        let tx = self.conn.unchecked_transaction()?;
        let row = read_row(&tx, provider, alias)?;
        tx.commit()?;
        Ok(row.and_then(|r| Some((r.auth?, r.generation, r.until.filter(|_| r.owner.is_some())))))
    }

    /// The provider's stable account id stored for `alias` (Claude's profile subject), if known.
    pub fn account_subject(&self, provider: &str, alias: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT subject FROM accounts WHERE provider_id = ?1 AND alias = ?2",
                params![provider, alias],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// A pending connection of `auth`'s login is resolved as saved (it is now an account's
    /// credential); it keeps its row and identity digest, not the credential.
    pub fn settle_pending_login(&mut self, provider: &str, auth: &Auth) -> Result<()> {
        self.write_dropping_secret(|tx| {
            tx.execute(
                "UPDATE pending_connections SET status = 'saved', auth_json = ?3
                 WHERE provider_id = ?1 AND identity = ?2 AND status = 'pending'",
                params![provider, auth.identity(), super::identity::NO_CREDENTIAL],
            )?;
            Ok(())
        })
    }

    /// Whether another account of `provider` than `alias` has `auth`'s identity.
    pub fn identity_taken_elsewhere(&self, provider: &str, alias: &str, auth: &Auth) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM accounts WHERE provider_id = ?1 AND identity = ?2 AND alias != ?3",
                params![provider, auth.identity(), alias],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
