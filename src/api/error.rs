//! The one error of the typed API. Each message is what the wire says; the JSON-RPC code of each
//! case is chosen in one place at the edge (`rpc::dispatch::rpc_error`).

use crate::accounts::RegistryError;
use crate::store::StoreError;
use crate::usage::refresher::RefreshError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A mutation or read the registry refused (the store's refusals inside).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A read straight from the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A usage refresh was refused.
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    /// A value out of range or of the wrong kind.
    #[error("{0}")]
    InvalidParams(String),
    /// `fetch.begin`/`fetch.result` for a request id the balancer does not know.
    #[error("{0}")]
    UnknownRequest(String),
    /// A method this process does not offer (the test clock when it is off).
    #[error("{0}")]
    Unavailable(String),
    /// An actor did not answer (the runtime is stopping).
    #[error("internal error: {0}")]
    Internal(#[from] actix::MailboxError),
    /// Something that cannot happen did (an edited body that is not UTF-8 any more).
    #[error("internal error: {0}")]
    Unexpected(String),
}

impl ApiError {
    /// The account `(provider, alias)` a save was refused for because it already exists.
    pub fn existing_account(&self) -> Option<(&str, &str)> {
        match self {
            ApiError::Registry(RegistryError::Store(StoreError::Exists { provider, alias })) => Some((provider, alias)),
            _ => None,
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
