//! One refresh of one account, across every process sharing the store: take the lease (or wait
//! for whoever holds it), spend the refresh token once, commit compare-and-swap; after an error
//! that may hide a rotation (timeout, 5xx, a refused token) look at what others saved — the row,
//! then opencode's auth.json — before giving up. Plain async: it holds no actor state.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::accounts::AccountRegistry;
use crate::accounts::TokenStore;
use crate::clock::SharedClock;
use crate::logins::ProfileReader;
use crate::logins::{parse_auth_file, read_auth_file};
use crate::model::{Auth, Millis};
use crate::store::{Committed, Lease, Store, StoreError};
use crate::tokens::providers::{RefreshError, RefreshRequest, TokenClient};

/// What a refresh needs; cloned into each one.
#[derive(Clone)]
pub(super) struct Env {
    pub registry: Addr<AccountRegistry>,
    pub client: Arc<dyn TokenClient>,
    pub clock: SharedClock,
    /// This process's lease owner id (random per process).
    pub owner: String,
    pub lease_ttl: Millis,
    /// The longest one refresh request may take (shorter than the lease).
    pub timeout: Duration,
    /// How often a lease held elsewhere is looked at again.
    pub poll: Duration,
    /// opencode's auth.json, read after an error that may hide a rotation.
    pub auth_path: Option<PathBuf>,
    /// Reads who a Claude login is (`None`: never asked, so never proven).
    pub profiles: Option<Arc<ProfileReader>>,
}

/// How a refresh ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The account holds `auth` at `generation` now; `by_us` when this process spent the token.
    Fresh {
        auth: Auth,
        generation: u64,
        by_us: bool,
    },
    Failed(Failure),
}

/// Why a refresh gave no new credential (never a token or a body).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    LoginRequired {
        generation: u64,
        reason: String,
    },
    Transient {
        generation: u64,
        reason: String,
    },
    RateLimited {
        generation: u64,
        until: Option<Millis>,
    },
    Unsupported {
        generation: u64,
        reason: String,
    },
    /// Not asked: the account's refreshes are held back until `until` (a refresh moments ago, or
    /// a backoff after a failure or a `Retry-After`).
    Waiting {
        generation: u64,
        until: Millis,
    },
    /// The account was removed, or the store failed.
    Gone(String),
}

impl Failure {
    pub fn reason(&self) -> String {
        match self {
            Failure::LoginRequired { reason, .. }
            | Failure::Transient { reason, .. }
            | Failure::Unsupported { reason, .. }
            | Failure::Gone(reason) => reason.clone(),
            Failure::RateLimited { .. } => "rate limited by the token endpoint".into(),
            Failure::Waiting { until, .. } => format!("the token endpoint is not asked again before {until}"),
        }
    }
}

impl Env {
    /// Runs `op`, which changes `provider/alias` alone, on the store thread in the registry's order.
    async fn store<T: Send + 'static>(
        &self,
        provider: &str,
        alias: &str,
        op: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        match self.registry.send(TokenStore::new(provider, alias, op)).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the registry has stopped".into()),
        }
    }
}

/// Refreshes `provider/alias` from generation `seen` (the one the caller saw in memory).
pub(super) async fn refresh(env: Env, provider: String, alias: String, seen: u64) -> Outcome {
    // A holder that never commits is waited for until its lease expires, by the clock; this bounds
    // the wait in real time too (a manual clock may never get there).
    let give_up = std::time::Instant::now() + Duration::from_millis(2 * env.lease_ttl.max(0) as u64);
    let (auth, generation) = loop {
        let (p, a, owner, now, ttl) = (
            provider.clone(),
            alias.clone(),
            env.owner.clone(),
            env.clock.now_ms(),
            env.lease_ttl,
        );
        let lease = env
            .store(&provider, &alias, move |s| {
                s.take_refresh_lease(&p, &a, seen, &owner, now, ttl)
            })
            .await;
        match lease {
            Err(e) => return Outcome::Failed(Failure::Gone(e)),
            Ok(Lease::Gone) => return Outcome::Failed(Failure::Gone("the account is gone".into())),
            Ok(Lease::Moved { auth, generation }) => {
                return Outcome::Fresh {
                    auth,
                    generation,
                    by_us: false,
                }
            }
            Ok(Lease::Held { .. }) if std::time::Instant::now() >= give_up => {
                return Outcome::Failed(Failure::Transient {
                    generation: seen,
                    reason: "another process holds the refresh lease".into(),
                })
            }
            Ok(Lease::Held { .. }) => tokio::time::sleep(env.poll).await,
            Ok(Lease::Taken { auth, generation, .. }) => break (auth, generation),
        }
    };
    let req = RefreshRequest {
        provider_id: provider.clone(),
        alias: alias.clone(),
        auth: auth.clone(),
        now: env.clock.now_ms(),
    };
    let timeout = env.timeout;
    let answer = tokio::time::timeout(timeout, env.client.refresh(req))
        .await
        .unwrap_or_else(|_| {
            Err(RefreshError::Transient(format!(
                "no answer within {} s",
                timeout.as_secs()
            )))
        })
        .map_err(|e| redacted(e, &auth));
    match answer {
        Ok(refreshed) => {
            let (p, a, owner, now) = (provider.clone(), alias.clone(), env.owner.clone(), env.clock.now_ms());
            let new = refreshed.auth;
            let saved = new.clone();
            let committed = env
                .store(&provider, &alias, move |s| {
                    s.commit_refresh(&p, &a, generation, &owner, &saved, now)
                })
                .await;
            match committed {
                Ok(Committed::Saved { generation }) => Outcome::Fresh {
                    auth: new,
                    generation,
                    by_us: true,
                },
                Ok(Committed::Lost { auth, generation }) => Outcome::Fresh {
                    auth,
                    generation,
                    by_us: false,
                },
                Ok(Committed::Gone) => Outcome::Failed(Failure::Gone("the account is gone".into())),
                Err(e) => Outcome::Failed(Failure::Gone(e)),
            }
        }
        Err(RefreshError::RateLimited { until }) => {
            release(&env, &provider, &alias, generation, false).await;
            Outcome::Failed(Failure::RateLimited { generation, until })
        }
        Err(RefreshError::Unsupported(reason)) => {
            release(&env, &provider, &alias, generation, false).await;
            Outcome::Failed(Failure::Unsupported { generation, reason })
        }
        Err(e @ (RefreshError::Transient(_) | RefreshError::LoginRequired(_))) => {
            if let Some(found) = saved_elsewhere(&env, &provider, &alias, &auth, generation).await {
                return found;
            }
            let login = matches!(e, RefreshError::LoginRequired(_));
            release(&env, &provider, &alias, generation, login).await;
            let reason = match e {
                RefreshError::LoginRequired(r) | RefreshError::Transient(r) => r,
                _ => unreachable!("matched above"),
            };
            Outcome::Failed(if login {
                Failure::LoginRequired { generation, reason }
            } else {
                Failure::Transient { generation, reason }
            })
        }
    }
}

/// The error with every secret of the credential (and anything JWT-shaped) taken out: a client's
/// message should hold none, and this makes sure an endpoint echoing the token cannot put one in.
fn redacted(e: RefreshError, auth: &Auth) -> RefreshError {
    let clean = |text: String| crate::usage::redact::redact_text(&text, &auth.secrets());
    match e {
        RefreshError::LoginRequired(m) => RefreshError::LoginRequired(clean(m)),
        RefreshError::Transient(m) => RefreshError::Transient(clean(m)),
        RefreshError::Unsupported(m) => RefreshError::Unsupported(clean(m)),
        other => other,
    }
}

pub(super) async fn release(env: &Env, provider: &str, alias: &str, generation: u64, login_required: bool) {
    let (p, a, owner) = (provider.to_string(), alias.to_string(), env.owner.clone());
    let released = env
        .store(provider, alias, move |s| {
            s.release_refresh_lease(&p, &a, generation, &owner, login_required)
        })
        .await;
    if let Err(e) = released {
        tracing::warn!(provider, alias, error = %e, "could not release a refresh lease; it expires by itself");
    }
}

/// After an error that may hide a rotation: a credential another process committed meanwhile, or
/// a refreshed one opencode wrote to auth.json for this account, is the result (committed as one).
/// A login in auth.json is taken only when it is provably this account's person: the same
/// identity (ChatGPT's account id; a Claude refresh token kept), or for a Claude login the same
/// profile subject as the account's stored one, read for that login now. Anything less (another
/// subject, no stored subject, a profile that cannot be read) leaves it where it is (pending, or
/// another account) and this account needing a login: an identity never moves on a guess.
async fn saved_elsewhere(env: &Env, provider: &str, alias: &str, old: &Auth, generation: u64) -> Option<Outcome> {
    let (p, a) = (provider.to_string(), alias.to_string());
    if let Ok(Some((auth, now_at, _))) = env.store(provider, alias, move |s| s.token_row(&p, &a)).await {
        if now_at != generation {
            return Some(Outcome::Fresh {
                auth,
                generation: now_at,
                by_us: false,
            });
        }
    }
    let entry = auth_json_entry(env.auth_path.as_ref()?, provider)?;
    if !newer_login_of(&entry, old) {
        return None;
    }
    let same = entry.identity() == old.identity();
    let subject = match same {
        true => None,
        false => Some(same_subject(env, provider, alias, old, &entry).await?),
    };
    let (p, a, owner, now, e) = (
        provider.to_string(),
        alias.to_string(),
        env.owner.clone(),
        env.clock.now_ms(),
        entry.clone(),
    );
    let committed = env
        .store(provider, alias, move |s| {
            if subject.is_some() && (s.account_subject(&p, &a)? != subject || s.identity_taken_elsewhere(&p, &a, &e)?) {
                return Ok(None);
            }
            let committed = s.commit_refresh(&p, &a, generation, &owner, &e, now)?;
            if matches!(committed, Committed::Saved { .. }) {
                s.settle_pending_login(&p, &e)?;
            }
            Ok(Some(committed))
        })
        .await;
    match committed {
        Ok(Some(Committed::Saved { generation })) => {
            tracing::info!(
                provider,
                alias,
                "a refreshed credential found in auth.json was taken as the result"
            );
            Some(Outcome::Fresh {
                auth: entry,
                generation,
                by_us: false,
            })
        }
        Ok(Some(Committed::Lost { auth, generation })) => Some(Outcome::Fresh {
            auth,
            generation,
            by_us: false,
        }),
        _ => None,
    }
}

/// The stored profile subject of `alias`, when the profile read for `entry` (a login with another
/// identity than the account's `old` one) names it too; `None`: not provably the same person.
async fn same_subject(env: &Env, provider: &str, alias: &str, old: &Auth, entry: &Auth) -> Option<String> {
    // An identity that names the account (ChatGPT's account id) and differs is another person.
    if entry.account_id().is_some() || old.account_id().is_some() {
        return None;
    }
    let (p, a) = (provider.to_string(), alias.to_string());
    let stored = env
        .store(provider, alias, move |s| s.account_subject(&p, &a))
        .await
        .ok()
        .flatten();
    let read = match (&stored, &env.profiles) {
        (Some(_), Some(profiles)) => profiles.subject(entry).await,
        _ => None,
    };
    if stored.is_none() || read != stored {
        tracing::info!(
            provider,
            alias,
            "a login in auth.json is not provably this account's (its profile is another, unknown or unreadable); it is not taken"
        );
        return None;
    }
    stored
}

/// opencode's auth.json entry for `provider`, if the file reads and the entry parses.
fn auth_json_entry(path: &std::path::Path, provider: &str) -> Option<Auth> {
    let text = read_auth_file(path).ok()??;
    parse_auth_file(&text).ok()?.entries.remove(provider)
}

/// An OAuth entry with other tokens than `old`, expiring no earlier.
fn newer_login_of(entry: &Auth, old: &Auth) -> bool {
    match (entry, old) {
        (
            Auth::Oauth {
                refresh: r1,
                access: a1,
                expires: e1,
                ..
            },
            Auth::Oauth {
                refresh: r0,
                access: a0,
                expires: e0,
                ..
            },
        ) => (r1 != r0 || a1 != a0) && e1 >= e0,
        _ => false,
    }
}
