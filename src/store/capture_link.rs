//! Which saved account a login with a new identity belongs to when its tokens name none (Claude):
//! the one its profile's subject names, else the one whose expiring credential it replaced.

use rusqlite::{params, OptionalExtension, Transaction};

use super::Result;
use crate::model::refresh_policy::{effective_expiry, LEAD_MAX_MS};
use crate::model::{Auth, Millis};

/// What the auth watcher knows of one entry beyond its credential (Claude logins, whose tokens
/// carry no account id). Not a secret except `previous`, which never leaves the store job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaptureHint {
    /// The provider's stable account id (Claude's profile), when it could be read.
    pub subject: Option<String>,
    /// The profile's email, to name a new account.
    pub email: Option<String>,
    /// The credential auth.json held for this provider just before this write.
    pub previous: Option<Auth>,
}

/// Why an entry whose identity was new updated an existing account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkedBy {
    /// The provider's profile named the account's stable subject.
    Profile,
    /// The entry replaced this account's exact credential in auth.json, whose token had expired
    /// or was about to (a refresh), and the account has no profile subject to check it against.
    PreviousEntry,
}

impl LinkedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkedBy::Profile => "profile",
            LinkedBy::PreviousEntry => "previous-entry",
        }
    }
}

/// The saved account a login with a new identity is the refreshed credential of, and why; `None`:
/// it is another login. The profile's subject decides when it was read: the account holding it,
/// and never an account holding another. Otherwise (or when no account holds it yet) the account
/// whose exact credential auth.json held before, if that token had expired or was within the
/// refresh lead of expiring (opencode replaces an entry then only to refresh it; a new login at
/// any other time is a new account, never merged on a guess) — and only an account whose subject
/// is not known: one that has a subject is linked by a profile naming it, never without.
pub(super) fn link(
    tx: &Transaction,
    provider: &str,
    hint: &CaptureHint,
    now: Millis,
) -> Result<Option<(String, LinkedBy)>> {
    if let Some(subject) = &hint.subject {
        let by_subject: Option<String> = tx
            .query_row(
                "SELECT alias FROM accounts WHERE provider_id = ?1 AND subject = ?2 ORDER BY updated_at DESC LIMIT 1",
                params![provider, subject],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(alias) = by_subject {
            return Ok(Some((alias, LinkedBy::Profile)));
        }
    }
    let Some(previous) = &hint.previous else {
        return Ok(None);
    };
    let refreshed = effective_expiry(provider, previous).is_some_and(|e| e - now <= LEAD_MAX_MS);
    if !refreshed {
        return Ok(None);
    }
    let replaced: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT alias, subject FROM accounts WHERE provider_id = ?1 AND identity = ?2",
            params![provider, previous.identity()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    // An account whose subject is known is linked by that subject only: a profile that names
    // another, or could not be read, proves nothing.
    Ok(replaced.and_then(|(alias, stored)| match stored {
        Some(_) => None,
        None => Some((alias, LinkedBy::PreviousEntry)),
    }))
}
