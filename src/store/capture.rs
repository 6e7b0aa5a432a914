//! Capturing a credential seen in opencode's auth.json: update the account it belongs to, save a
//! new one, or keep it as a pending connection.

use rusqlite::{params, OptionalExtension, Transaction};

use super::accounts::{exists, save_account_tx};
use super::{Result, Store, StoreError};
use crate::model::{normalize_alias, Auth, Millis};

/// What a capture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    /// Same identity as a saved account whose credential is identical: nothing to do.
    Unchanged { alias: String },
    /// Same identity as a saved account: its credential was replaced (e.g. a token refresh).
    Updated { alias: String },
    /// A new account was saved and made active (autoSave on).
    Saved { alias: String },
    /// A new pending connection (autoSave off).
    Pending { id: String },
    /// Already pending with this identity.
    AlreadyPending { id: String },
}

impl Store {
    /// Handles one provider entry of auth.json.
    pub fn capture(
        &mut self,
        provider: &str,
        auth: &Auth,
        auto_save: bool,
        source: &str,
        now: Millis,
    ) -> Result<Captured> {
        self.write_dropping_secret(|tx| capture_tx(tx, provider, auth, auto_save, source, now))
    }

    /// Handles every changed entry of one read of auth.json in one transaction: thousands of
    /// entries cost one commit, not one each (and reads queued behind them wait for one job).
    pub fn capture_all(
        &mut self,
        entries: &[(String, Auth)],
        auto_save: bool,
        source: &str,
        now: Millis,
    ) -> Result<Vec<(String, Captured)>> {
        self.write_dropping_secret(|tx| {
            entries
                .iter()
                .map(|(p, auth)| Ok((p.clone(), capture_tx(tx, p, auth, auto_save, source, now)?)))
                .collect()
        })
    }
}

/// One entry, inside the caller's transaction.
fn capture_tx(
    tx: &Transaction,
    provider: &str,
    auth: &Auth,
    auto_save: bool,
    source: &str,
    now: Millis,
) -> Result<Captured> {
    let auth_json = serde_json::to_string(auth).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let identity = auth.identity();
    let known: Option<(String, String)> = tx
        .query_row(
            "SELECT alias, auth_json FROM accounts WHERE provider_id = ?1 AND identity = ?2",
            params![provider, identity],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((alias, stored)) = known {
        if stored == auth_json {
            return Ok(Captured::Unchanged { alias });
        }
        if super::tokens::is_older(auth, &stored) {
            // auth.json still holds a token this account has since refreshed past.
            return Ok(Captured::Unchanged { alias });
        }
        tx.execute(
            "UPDATE accounts SET auth_json = ?3, auth_type = ?4, updated_at = ?5, auth_failed = 0,
                 rate_limited_until = CASE WHEN cooldown_reason = 'auth_failed' THEN NULL ELSE rate_limited_until END,
                 token_generation = token_generation + 1, login_required = 0, token_refreshed_at = ?5,
                 refresh_lease_owner = NULL, refresh_lease_until = NULL
             WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias, auth_json, auth.auth_type(), now],
        )?;
        return Ok(Captured::Updated { alias });
    }
    let replaced: Option<String> = tx
        .query_row(
            "SELECT alias FROM accounts WHERE provider_id = ?1 AND previous_identity = ?2",
            params![provider, identity],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(alias) = replaced {
        // The credential a refresh replaced (its refresh token is spent): not a new login.
        return Ok(Captured::Unchanged { alias });
    }
    if auto_save {
        let alias = free_alias(tx, provider, auth)?;
        save_account_tx(tx, provider, &alias, auth, now, false)?;
        return Ok(Captured::Saved { alias });
    }
    let pending: Option<String> = tx
        .query_row(
            "SELECT id FROM pending_connections WHERE provider_id = ?1 AND identity = ?2 AND status = 'pending'",
            params![provider, identity],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = pending {
        tx.execute(
            "UPDATE pending_connections SET auth_json = ?2 WHERE id = ?1",
            params![id, auth_json],
        )?;
        return Ok(Captured::AlreadyPending { id });
    }
    let n: i64 = tx.query_row("SELECT COALESCE(MAX(rowid), 0) + 1 FROM pending_connections", [], |r| {
        r.get(0)
    })?;
    let id = format!("{provider}-{n}");
    tx.execute(
        "INSERT INTO pending_connections (id, provider_id, auth_json, auth_type, source, identity, captured_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')",
        params![id, provider, auth_json, auth.auth_type(), source, identity, now],
    )?;
    Ok(Captured::Pending { id })
}

/// A readable alias not yet used for this provider: from the token's email or account id, else
/// `<provider>-<n>`.
fn free_alias(tx: &Transaction, provider: &str, auth: &Auth) -> Result<String> {
    let taken = |alias: &str| exists(tx, provider, alias);
    let base = auth
        .display_name()
        .and_then(|n| normalize_alias(&n))
        .or_else(|| normalize_alias(provider))
        .unwrap_or_else(|| "account".into());
    let named = auth.display_name().is_some();
    if named && !taken(&base)? {
        return Ok(base);
    }
    for n in 1.. {
        let candidate = format!("{base}-{n}");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("some number is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(k: &str) -> Auth {
        Auth::test_api(k)
    }

    #[test]
    fn a_new_key_is_saved_as_provider_n_and_the_same_key_is_unchanged() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(
            s.capture("openai", &api("k1"), true, "auth.json", 1).unwrap(),
            Captured::Saved {
                alias: "openai-1".into()
            }
        );
        assert_eq!(
            s.capture("openai", &api("k1"), true, "auth.json", 2).unwrap(),
            Captured::Unchanged {
                alias: "openai-1".into()
            }
        );
        assert_eq!(
            s.capture("openai", &api("k2"), true, "auth.json", 3).unwrap(),
            Captured::Saved {
                alias: "openai-2".into()
            }
        );
    }

    #[test]
    fn a_refreshed_oauth_token_updates_the_account_it_belongs_to() {
        let mut s = Store::open_in_memory().unwrap();
        let a1 = Auth::Oauth {
            refresh: "r1".into(),
            access: "a1".into(),
            expires: 1,
            account_id: Some("acct".into()),
            enterprise_url: None,
            metadata: None,
        };
        let a2 = Auth::Oauth {
            refresh: "r2".into(),
            access: "a2".into(),
            expires: 2,
            account_id: Some("acct".into()),
            enterprise_url: None,
            metadata: None,
        };
        assert_eq!(
            s.capture("openai", &a1, true, "auth.json", 1).unwrap(),
            Captured::Saved { alias: "acct".into() }
        );
        assert_eq!(
            s.capture("openai", &a2, true, "auth.json", 2).unwrap(),
            Captured::Updated { alias: "acct".into() }
        );
        let snap = s.load_snapshot(None).unwrap();
        assert_eq!(snap.accounts.len(), 1);
        assert_eq!(snap.accounts[0].auth, a2);
    }

    #[test]
    fn with_auto_save_off_a_login_is_pending_once() {
        let mut s = Store::open_in_memory().unwrap();
        let Captured::Pending { id } = s.capture("anthropic", &api("k"), false, "auth.json", 1).unwrap() else {
            panic!()
        };
        assert_eq!(
            s.capture("anthropic", &api("k"), false, "auth.json", 2).unwrap(),
            Captured::AlreadyPending { id: id.clone() }
        );
        assert_eq!(s.list_pending().unwrap().len(), 1);
        s.save_pending(&id, "mine", 3).unwrap();
        assert!(s.list_pending().unwrap().is_empty());
        assert_eq!(
            s.capture("anthropic", &api("k"), false, "auth.json", 4).unwrap(),
            Captured::Unchanged { alias: "mine".into() }
        );
    }
}
