//! The registry's reads, and why a user mutation (one message each, in `mutations/`) is refused.

use actix::prelude::*;

use super::AccountRegistry;
use crate::model::{AccountView, PriorityEntry, Settings};
use crate::store::StoreError;

/// Accounts as clients see them, optionally of one provider.
#[derive(Message)]
#[rtype(result = "Vec<AccountView>")]
pub struct ListAccounts {
    pub provider_id: Option<String>,
}

impl Handler<ListAccounts> for AccountRegistry {
    type Result = ResponseActFuture<Self, Vec<AccountView>>;
    fn handle(&mut self, msg: ListAccounts, _: &mut Context<Self>) -> Self::Result {
        self.fresh(move |this| this.state.views(msg.provider_id.as_deref(), this.now()))
    }
}

#[derive(Message)]
#[rtype(result = "StatusInfo")]
pub struct GetStatus;

#[derive(Debug, Clone)]
pub struct StatusInfo {
    pub balancing: bool,
    pub accounts: usize,
    pub pending: usize,
    pub providers: Vec<String>,
}

impl Handler<GetStatus> for AccountRegistry {
    type Result = ResponseActFuture<Self, StatusInfo>;
    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        self.fresh(|this| StatusInfo {
            balancing: this.state.settings.balancing,
            accounts: this.state.account_count(),
            pending: this.state.pending,
            providers: this.state.providers.keys().cloned().collect(),
        })
    }
}

#[derive(Message)]
#[rtype(result = "Vec<PriorityEntry>")]
pub struct GetPriority;

impl Handler<GetPriority> for AccountRegistry {
    type Result = ResponseActFuture<Self, Vec<PriorityEntry>>;
    fn handle(&mut self, _: GetPriority, _: &mut Context<Self>) -> Self::Result {
        self.fresh(|this| this.state.priority.clone())
    }
}

#[derive(Message)]
#[rtype(result = "Settings")]
pub struct GetSettings;

impl Handler<GetSettings> for AccountRegistry {
    type Result = ResponseActFuture<Self, Settings>;
    fn handle(&mut self, _: GetSettings, _: &mut Context<Self>) -> Self::Result {
        self.fresh(|this| this.state.settings.clone())
    }
}

/// Writes runtime bookkeeping now and catches up with other processes (shutdown, tests).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushNow;

impl Handler<FlushNow> for AccountRegistry {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, _: FlushNow, _: &mut Context<Self>) -> Self::Result {
        self.fresh(|_| ())
    }
}

/// Why a mutation was refused; maps onto the protocol's error codes.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidValue(String),
    /// The store refused or failed: its not-found (also when memory, the store's mirror, has no
    /// such account), exists and invalid-name cases included.
    #[error(transparent)]
    Store(#[from] StoreError),
}
