//! What the account registry answers the token keeper: the OAuth accounts to keep fresh (from
//! memory), and store work on one account's refresh coordination (lease, commit), run on the
//! store thread in the registry's job order, then that account alone read back into memory (all
//! of the store when another process committed meanwhile), so the in-memory account has the new
//! credential as soon as the store does, whatever the provider holds.

use actix::prelude::*;

use super::state::{RegistryState, Scope};
use super::{read_back, AccountRegistry, Flushed};
use crate::model::{Auth, Millis};
use crate::store::{Store, StoreError};

/// One OAuth account as the token keeper needs it.
#[derive(Debug, Clone)]
pub struct TokenTarget {
    pub provider_id: String,
    pub alias: String,
    pub auth: Auth,
    pub generation: u64,
    pub login_required: bool,
    /// When the credential was last refreshed or saved (else when the account was updated).
    pub refreshed_at: Millis,
    pub active: bool,
}

/// The OAuth accounts, optionally one of them; `fresh` catches up with other processes first.
#[derive(Message)]
#[rtype(result = "Vec<TokenTarget>")]
pub struct TokenTargets {
    pub provider_id: Option<String>,
    pub alias: Option<String>,
    pub fresh: bool,
}

type Op<T> = Box<dyn FnOnce(&mut Store) -> Result<T, StoreError> + Send>;

/// Runs `op` on the store thread (after queued bookkeeping), then reads `provider_id/alias` back
/// into memory (`op` changes that account alone). Answers `op`'s result.
pub struct TokenStore<T: Send + 'static> {
    pub provider_id: String,
    pub alias: String,
    pub op: Op<T>,
}

impl<T: Send + 'static> TokenStore<T> {
    pub fn new(
        provider_id: &str,
        alias: &str,
        op: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Self {
        TokenStore {
            provider_id: provider_id.to_string(),
            alias: alias.to_string(),
            op: Box::new(op),
        }
    }
}

impl<T: Send + 'static> Message for TokenStore<T> {
    type Result = Result<T, StoreError>;
}

/// The OAuth accounts (provider, alias), in provider and alias order. Only these are the keeper's:
/// an opencode 2 credential (`Auth::Opencode2`) is refreshed by opencode 2 when it resolves it;
/// two refreshers of one rotating token would revoke the login.
fn oauth_accounts(s: &RegistryState) -> Vec<(String, String)> {
    let accounts = s.providers.values().flat_map(|accounts| accounts.values());
    (accounts.filter(|a| matches!(a.auth, Auth::Oauth { .. })))
        .map(|a| (a.provider_id.clone(), a.alias.clone()))
        .collect()
}

/// The keeper asks every 30 s (and at each tick): the OAuth accounts are listed again only when
/// accounts changed, so thousands of API-key accounts cost nothing here.
fn targets(reg: &mut AccountRegistry, provider: Option<&str>, alias: Option<&str>) -> Vec<TokenTarget> {
    let s = &reg.state;
    let oauth = reg.oauth_accounts.get(s.accounts_revision(), || oauth_accounts(s));
    (oauth.iter())
        .filter(|(p, a)| provider.is_none_or(|want| want == p) && alias.is_none_or(|want| want == a))
        .filter_map(|(p, a)| Some((p, s.account(p, a)?)))
        .map(|(p, a)| TokenTarget {
            provider_id: p.clone(),
            alias: a.alias.clone(),
            auth: a.auth.clone(),
            generation: a.token.generation,
            login_required: a.token.login_required,
            refreshed_at: a.token.refreshed_at.unwrap_or(a.updated_at),
            active: s.is_active(p, &a.alias),
        })
        .collect()
}

impl Handler<TokenTargets> for AccountRegistry {
    type Result = ResponseActFuture<Self, Vec<TokenTarget>>;
    fn handle(&mut self, msg: TokenTargets, _: &mut Context<Self>) -> Self::Result {
        let answer = move |this: &mut Self| targets(this, msg.provider_id.as_deref(), msg.alias.as_deref());
        if msg.fresh {
            self.fresh(answer)
        } else {
            Box::pin(actix::fut::ready(answer(self)))
        }
    }
}

impl<T: Send + 'static> Handler<TokenStore<T>> for AccountRegistry {
    type Result = ResponseActFuture<Self, Result<T, StoreError>>;
    fn handle(&mut self, msg: TokenStore<T>, _: &mut Context<Self>) -> Self::Result {
        let flush = self.state.take_flush();
        let id = flush.id;
        let known = self.data_version;
        let (provider, aliases) = (msg.provider_id, vec![msg.alias]);
        let (p, a) = (provider.clone(), aliases.clone());
        let op = msg.op;
        let job = move |s: &mut Store| {
            let written = s.apply_runtime(&flush.patches, &flush.actives);
            let then = op(s).and_then(|out| Ok((out, read_back(s, known, Scope::Accounts(&p, &a))?)));
            Flushed { written, then }
        };
        self.store_job(job, move |this, result| {
            let (generation, (out, read)) = this.settle(id, result)?;
            this.read_back_applied(read, Scope::Accounts(&provider, &aliases), generation);
            Ok(out)
        })
    }
}
