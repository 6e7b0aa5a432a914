//! User mutations of the registry: one message per change, each with its own typed reply, each
//! validated, committed to the store, reloaded into memory, evented, then acknowledged. This file
//! holds what they share (validation, [`AccountRegistry::commit`]); the messages sit by area in
//! `mutations/`.

use actix::prelude::*;

use super::messages::RegistryError;
use super::state::Scope;
use super::{read_back, AccountRegistry, Flushed};
use crate::model::{normalize_alias, validate_provider, AccountView};
use crate::store::{Store, StoreError};

mod accounts;
mod logins;
mod priority;
mod settings;

pub use accounts::*;
pub use logins::*;
pub use priority::*;
pub use settings::*;

/// A mutation's answer: its own result, or why it was refused.
pub(super) type Reply<T> = Result<T, RegistryError>;

/// A mutation under way: the store job, then the reply.
pub(super) type Committing<T> = ResponseActFuture<AccountRegistry, Reply<T>>;

/// `Handler<$msg>` for the registry by `AccountRegistry::$method(msg) -> Result<Committing<T>, _>`:
/// a refusal before the store is asked (a bad name, a host-owned account) answers at once.
macro_rules! mutation {
    ($($msg:ty => $method:ident;)*) => {
        $(
            impl actix::Handler<$msg> for $crate::accounts::AccountRegistry {
                type Result = actix::ResponseActFuture<Self, <$msg as actix::Message>::Result>;

                fn handle(&mut self, msg: $msg, _: &mut actix::Context<Self>) -> Self::Result {
                    self.$method(msg)
                        .unwrap_or_else(|e| Box::pin(actix::fut::ready(Err(e))))
                }
            }
        )*
    };
}
use mutation;

// Neither error repeats the value given: a credential pasted in the wrong place must not come back.
pub(super) fn provider(raw: &str) -> Result<String, RegistryError> {
    validate_provider(raw.trim())
        .map(str::to_string)
        .ok_or_else(|| RegistryError::InvalidName("invalid provider id: use 1 to 64 of A-Z a-z 0-9 . _ -".into()))
}

pub(super) fn alias(raw: &str) -> Result<String, RegistryError> {
    normalize_alias(raw).ok_or_else(|| {
        RegistryError::InvalidName("invalid alias: it must keep 1 to 64 of a-z 0-9 . _ - once normalized".into())
    })
}

/// What a mutation reads back into memory once it is committed: no more than it can have
/// changed, so a change to one account costs the same whatever the provider holds.
pub(super) enum Reload {
    All,
    Provider(String),
    /// These accounts of the provider (those gone are dropped) and its active account.
    Accounts(String, Vec<String>),
    /// The priority, settings and pending count only (every reload has them).
    Meta,
}

impl Reload {
    pub(super) fn accounts(provider: &str, aliases: &[&str]) -> Reload {
        Reload::Accounts(provider.to_string(), aliases.iter().map(|a| a.to_string()).collect())
    }

    fn scope(&self) -> Scope<'_> {
        match self {
            Reload::All => Scope::All,
            Reload::Provider(p) => Scope::Provider(p),
            Reload::Accounts(p, aliases) => Scope::Accounts(p, aliases),
            Reload::Meta => Scope::Meta,
        }
    }
}

impl AccountRegistry {
    /// Runs `op` in the store (after pending bookkeeping), reads back what it changed
    /// (`reload`), applies it, then lets `then` build the reply and events from fresh memory.
    pub(super) fn commit<T: Send + 'static, R: 'static>(
        &mut self,
        reload: Reload,
        op: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
        then: impl FnOnce(&mut Self, T) -> Reply<R> + 'static,
    ) -> Committing<R> {
        self.commit_with(move |_| reload, op, then)
    }

    /// [`Self::commit`] where what to read back depends on what `op` did. When another process
    /// committed meanwhile, everything is read instead (as a sync would).
    pub(super) fn commit_with<T: Send + 'static, R: 'static>(
        &mut self,
        reload: impl FnOnce(&T) -> Reload + Send + 'static,
        op: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
        then: impl FnOnce(&mut Self, T) -> Reply<R> + 'static,
    ) -> Committing<R> {
        let flush = self.state.take_flush();
        let id = flush.id;
        let known = self.data_version;
        let job = move |s: &mut Store| {
            let written = s.apply_runtime(&flush.patches, &flush.actives);
            let then = op(s).and_then(|out| {
                let reload = reload(&out);
                let read = read_back(s, known, reload.scope())?;
                Ok((out, reload, read))
            });
            Flushed { written, then }
        };
        self.store_job(job, move |this, result| {
            let (generation, (out, reload, read)) = this.settle(id, result)?;
            this.read_back_applied(read, reload.scope(), generation);
            then(this, out)
        })
    }

    /// The account as it is in memory now: what a change to one account answers.
    pub(super) fn account_reply(&self, provider: &str, alias: &str) -> Reply<AccountView> {
        self.state.view(provider, alias, self.now()).ok_or_else(|| {
            RegistryError::Store(StoreError::NotFound {
                provider: provider.into(),
                alias: alias.into(),
            })
        })
    }
}
