//! Capturing a credential seen in opencode's auth.json: update the account it belongs to, save a
//! new one, or keep it as a pending connection.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Transaction};

use super::account_rows::exists;
use super::accounts::save_account_tx;
use super::capture_link::link;
pub use super::capture_link::{CaptureHint, LinkedBy};
use super::{Result, Store, StoreError};
use crate::model::{normalize_alias, Auth, Millis};

/// What a capture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    /// Same identity as a saved account whose credential is identical: nothing to do.
    Unchanged { alias: String },
    /// Same identity as a saved account: its credential was replaced (e.g. a token refresh).
    Updated { alias: String },
    /// A new identity that is a saved account's refreshed login: its credential was replaced.
    Linked { alias: String, by: LinkedBy },
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
        self.write_dropping_secret(|tx| capture_tx(tx, provider, auth, None, auto_save, source, now))
    }

    /// Handles every changed entry of one read of auth.json in one transaction: thousands of
    /// entries cost one commit, not one each (and reads queued behind them wait for one job).
    /// `hints` (by provider id) say more about some entries (see [`CaptureHint`]).
    pub fn capture_all(
        &mut self,
        entries: &[(String, Auth)],
        hints: &BTreeMap<String, CaptureHint>,
        auto_save: bool,
        source: &str,
        now: Millis,
    ) -> Result<Vec<(String, Captured)>> {
        self.write_dropping_secret(|tx| {
            entries
                .iter()
                .map(|(p, auth)| {
                    let hint = hints.get(p);
                    Ok((p.clone(), capture_tx(tx, p, auth, hint, auto_save, source, now)?))
                })
                .collect()
        })
    }
}

/// One entry, inside the caller's transaction.
fn capture_tx(
    tx: &Transaction,
    provider: &str,
    auth: &Auth,
    hint: Option<&CaptureHint>,
    auto_save: bool,
    source: &str,
    now: Millis,
) -> Result<Captured> {
    let auth_json = serde_json::to_string(auth).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let identity = auth.identity();
    let subject = hint.and_then(|h| h.subject.as_deref());
    if let Some(subject) = subject {
        // A login already known by its credential learns its subject (accounts saved before
        // subjects were kept, or while the profile could not be read).
        tx.execute(
            "UPDATE accounts SET subject = ?3 WHERE provider_id = ?1 AND identity = ?2 AND subject IS NULL",
            params![provider, identity, subject],
        )?;
    }
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
    if let Some((alias, by)) = hint.map(|h| link(tx, provider, h, now)).transpose()?.flatten() {
        tx.execute(
            "UPDATE accounts SET auth_json = ?3, auth_type = ?4, identity = ?5, updated_at = ?6, auth_failed = 0,
                 subject = COALESCE(subject, ?7),
                 rate_limited_until = CASE WHEN cooldown_reason = 'auth_failed' THEN NULL ELSE rate_limited_until END,
                 token_generation = token_generation + 1, login_required = 0, token_refreshed_at = ?6,
                 refresh_lease_owner = NULL, refresh_lease_until = NULL
             WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias, auth_json, auth.auth_type(), identity, now, subject],
        )?;
        return Ok(Captured::Linked { alias, by });
    }
    if auto_save {
        let email = hint.and_then(|h| h.email.as_deref());
        let alias = free_alias(tx, provider, auth, email)?;
        save_account_tx(tx, provider, &alias, auth, now, false)?;
        tx.execute(
            "UPDATE accounts SET subject = ?3 WHERE provider_id = ?1 AND alias = ?2",
            params![provider, alias, subject],
        )?;
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

/// A readable alias not yet used for this provider: from the token's email or account id (or
/// the profile's email), else `<provider>-<n>`.
fn free_alias(tx: &Transaction, provider: &str, auth: &Auth, email: Option<&str>) -> Result<String> {
    let taken = |alias: &str| exists(tx, provider, alias);
    let name = auth.display_name().or_else(|| email.map(str::to_string));
    let base = name
        .as_deref()
        .and_then(normalize_alias)
        .or_else(|| normalize_alias(provider))
        .unwrap_or_else(|| "account".into());
    let named = name.is_some();
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

    fn claude(refresh: &str, expires: Millis) -> Auth {
        Auth::Oauth {
            refresh: refresh.into(),
            access: format!("sk-ant-oat01-{refresh}"),
            expires,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        }
    }

    fn hint(subject: Option<&str>, previous: Option<&Auth>) -> BTreeMap<String, CaptureHint> {
        BTreeMap::from([(
            "anthropic".to_string(),
            CaptureHint {
                subject: subject.map(str::to_string),
                email: Some("max@example.com".into()),
                previous: previous.cloned(),
            },
        )])
    }

    fn capture(s: &mut Store, auth: &Auth, hints: &BTreeMap<String, CaptureHint>, now: Millis) -> Captured {
        let entries = [("anthropic".to_string(), auth.clone())];
        s.capture_all(&entries, hints, true, "auth.json", now)
            .unwrap()
            .remove(0)
            .1
    }

    const NOW: Millis = 1_700_000_000_000;

    #[test]
    fn a_rotated_claude_login_is_linked_by_its_profile_subject() {
        let mut s = Store::open_in_memory().unwrap();
        let first = claude("rt-FAKE-1", NOW + 3_600_000);
        assert_eq!(
            capture(&mut s, &first, &hint(Some("claude:u1/o1"), None), NOW),
            Captured::Saved {
                alias: "max-example.com".into()
            },
            "named from the profile's email"
        );
        // Rotated hours before expiry (another tool refreshed it): the profile alone decides.
        let second = claude("rt-FAKE-2", NOW + 7_200_000);
        assert_eq!(
            capture(&mut s, &second, &hint(Some("claude:u1/o1"), None), NOW),
            Captured::Linked {
                alias: "max-example.com".into(),
                by: LinkedBy::Profile
            }
        );
        let snap = s.load_snapshot(None).unwrap();
        assert_eq!(snap.accounts.len(), 1);
        assert_eq!(snap.accounts[0].auth, second);
        // Another person's login replacing it in auth.json is another account, even when the
        // replaced token had expired.
        let other = claude("rt-FAKE-other", NOW + 3_600_000);
        assert!(matches!(
            capture(
                &mut s,
                &other,
                &hint(Some("claude:u2/o2"), Some(&claude("rt-FAKE-2", NOW - 1))),
                NOW
            ),
            Captured::Saved { .. }
        ));
        assert_eq!(s.load_snapshot(None).unwrap().accounts.len(), 2);
    }

    #[test]
    fn without_a_profile_only_the_replaced_expiring_credential_links() {
        let mut s = Store::open_in_memory().unwrap();
        let old = claude("rt-FAKE-old", NOW + 60_000);
        assert!(matches!(
            capture(&mut s, &old, &hint(None, None), NOW),
            Captured::Saved { .. }
        ));
        let new = claude("rt-FAKE-new", NOW + 8 * 3_600_000);
        assert_eq!(
            capture(&mut s, &new, &hint(None, Some(&old)), NOW),
            Captured::Linked {
                alias: "max-example.com".into(),
                by: LinkedBy::PreviousEntry
            }
        );
        // The replaced token had hours left: that is a new login, not a refresh.
        let fresh = claude("rt-FAKE-fresh", NOW + 8 * 3_600_000);
        assert!(matches!(
            capture(&mut s, &fresh, &hint(None, Some(&new)), NOW),
            Captured::Saved { .. }
        ));
        assert_eq!(s.load_snapshot(None).unwrap().accounts.len(), 2);
    }

    #[test]
    fn a_replaced_credential_whose_account_has_another_subject_is_not_linked() {
        let mut s = Store::open_in_memory().unwrap();
        let old = claude("rt-FAKE-a", NOW - 1);
        capture(&mut s, &old, &hint(Some("claude:u1/o1"), None), NOW);
        let new = claude("rt-FAKE-b", NOW + 3_600_000);
        assert!(matches!(
            capture(&mut s, &new, &hint(Some("claude:u9/o9"), Some(&old)), NOW),
            Captured::Saved { .. }
        ));
        assert_eq!(s.load_snapshot(None).unwrap().accounts.len(), 2);
    }

    #[test]
    fn an_unreadable_profile_never_links_a_login_to_an_account_whose_subject_is_known() {
        let mut s = Store::open_in_memory().unwrap();
        let mine = claude("rt-FAKE-mine", NOW + 60_000);
        capture(&mut s, &mine, &hint(Some("claude:u1/o1"), None), NOW);
        // Someone else's login replaces my expiring one while the profile cannot be read: the
        // replaced credential is no proof against a subject the account has.
        let theirs = claude("rt-FAKE-theirs", NOW + 8 * 3_600_000);
        let entries = [("anthropic".to_string(), theirs.clone())];
        let got = s
            .capture_all(&entries, &hint(None, Some(&mine)), false, "auth.json", NOW)
            .unwrap()
            .remove(0)
            .1;
        assert!(matches!(got, Captured::Pending { .. }), "{got:?}");
        let snap = s.load_snapshot(None).unwrap();
        assert_eq!(snap.accounts.len(), 1);
        assert_eq!(snap.accounts[0].auth, mine, "my account keeps my login");
    }

    #[test]
    fn a_known_account_learns_its_subject() {
        let old = claude("rt-FAKE-a", NOW - 1);
        let mut s = Store::open_in_memory().unwrap();
        capture(&mut s, &old, &hint(None, None), NOW);
        assert!(matches!(
            capture(&mut s, &old, &hint(Some("claude:u1/o1"), None), NOW),
            Captured::Unchanged { .. }
        ));
        let rotated = claude("rt-FAKE-c", NOW + 7_200_000);
        assert!(matches!(
            capture(&mut s, &rotated, &hint(Some("claude:u1/o1"), None), NOW),
            Captured::Linked {
                by: LinkedBy::Profile,
                ..
            }
        ));
    }
}
