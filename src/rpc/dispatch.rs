//! The method table: each wire method decodes its params once, calls its typed method on the
//! runtime and encodes the typed result; [`rpc_error`] is the one place errors get their codes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::wire::*;
use crate::accounts::RegistryError;
use crate::api::methods::*;
use crate::api::{with_methods, ApiError, Request};
use crate::runtime::Runtime;
use crate::store::StoreError;
use crate::usage::refresher::RefreshError;

pub use crate::api::{PROTOCOL_VERSION, SERVER_NAME, VERSION};

pub(crate) fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("invalid params: {}", safe_serde_message(&e))))
}

fn encode<T: Serialize>(result: T) -> Result<Value, RpcError> {
    serde_json::to_value(result).map_err(|e| RpcError::new(INTERNAL_ERROR, format!("internal error: {e}")))
}

fn account_data(provider: &str, alias: &str) -> Value {
    json!({"providerID": provider, "alias": alias})
}

/// The JSON-RPC error of each API error: the message is the error's own, the code its kind's.
pub fn rpc_error(e: ApiError) -> RpcError {
    let message = e.to_string();
    match e {
        ApiError::Registry(RegistryError::Store(StoreError::NotFound { provider, alias }))
        | ApiError::Refresh(RefreshError::NotFound { provider, alias }) => {
            RpcError::new(ACCOUNT_NOT_FOUND, message).with_data(account_data(&provider, &alias))
        }
        ApiError::Registry(RegistryError::Store(StoreError::Exists { provider, alias })) => {
            RpcError::new(ACCOUNT_EXISTS, message).with_data(account_data(&provider, &alias))
        }
        ApiError::Registry(RegistryError::Store(StoreError::PendingNotFound(_))) => {
            RpcError::new(PENDING_NOT_FOUND, message)
        }
        ApiError::Registry(RegistryError::InvalidName(_) | RegistryError::Store(StoreError::Invalid(_))) => {
            RpcError::new(INVALID_NAME, message)
        }
        ApiError::Registry(RegistryError::InvalidValue(_))
        | ApiError::Refresh(RefreshError::InvalidParams(_))
        | ApiError::InvalidParams(_) => RpcError::invalid_params(message),
        ApiError::Registry(RegistryError::Store(_)) | ApiError::Store(_) => RpcError::new(STORE_UNAVAILABLE, message),
        ApiError::UnknownRequest(_) => RpcError::new(UNKNOWN_REQUEST, message),
        ApiError::Unavailable(_) => RpcError::new(METHOD_NOT_FOUND, message),
        ApiError::Internal(_) | ApiError::Unexpected(_) => RpcError::new(INTERNAL_ERROR, message),
    }
}

/// Decodes the params of `R`, calls its typed method and encodes its result.
async fn answer<R: Request>(rt: &Runtime, params: Value) -> Result<Value, RpcError> {
    R::call(rt, parse(params)?).await.map_err(rpc_error).and_then(encode)
}

/// One `match` on the method name with an arm per line of the method list
/// ([`crate::api::with_methods!`]): the names are compared in the list's order, cheaply (no
/// awaited entry per name, as a chain of them once cost), so the hot path's methods come first.
macro_rules! table {
    ($rt:expr, $method:expr, $params:expr; $($(#[$doc:meta])* $req:ident = $wire:literal, $p:ty => $r:ty, $call:ident;)*) => {
        match $method {
            $(<$req as Request>::METHOD => answer::<$req>($rt, $params).await,)*
            other => Err(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {}", other.escape_debug()))),
        }
    };
}

/// Answers one method call.
pub async fn dispatch(rt: &Runtime, method: &str, params: Value) -> Result<Value, RpcError> {
    with_methods!(table!(rt, method, params;))
}

/// Answers for methods that need no store (used when the store cannot be opened).
pub fn offline_answer(method: &str) -> Value {
    match method {
        Initialize::METHOD => serde_json::to_value(crate::api::initialize_result()).unwrap_or_default(),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{dispatch, parse};
    use crate::api::with_methods;
    use crate::clock::ManualClock;
    use crate::rpc::wire::{INVALID_PARAMS, METHOD_NOT_FOUND};
    use crate::runtime::Runtime;

    /// The wire names of the method list, in its order.
    macro_rules! names {
        ($($(#[$doc:meta])* $req:ident = $wire:literal, $p:ty => $r:ty, $call:ident;)*) => {
            [$($wire),*]
        };
    }

    #[actix::test]
    async fn every_method_of_the_list_is_dispatched_and_decodes_its_params() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::start(&dir.path().join("balancer.sqlite"), Arc::new(ManualClock::new(0))).unwrap();
        // `null` is no method's params: each answers invalid params, so none runs, and none is
        // missing from the table (that would be method not found).
        for name in with_methods!(names!()) {
            let e = dispatch(&rt, name, serde_json::Value::Null).await.unwrap_err();
            assert_eq!(e.code, INVALID_PARAMS, "{name}: {}", e.message);
        }
        let e = dispatch(&rt, "accounts.nope", serde_json::json!({})).await.unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (METHOD_NOT_FOUND, "method not found: accounts.nope")
        );
    }

    #[test]
    fn every_method_of_the_list_is_in_the_protocol_doc() {
        let doc = include_str!("../../docs/protocol.md");
        for name in with_methods!(names!()) {
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/protocol.md does not name `{name}`"
            );
        }
    }
    use crate::api::PriorityMoveParams;
    use crate::model::PriorityDirection;

    #[test]
    fn a_priority_move_direction_other_than_minus_one_or_one_is_invalid_params_at_the_edge() {
        let ok: PriorityMoveParams = parse(serde_json::json!({"providerID": "openai", "direction": -1})).unwrap();
        assert_eq!(ok.direction, PriorityDirection::Up);
        // Decoded at the edge: an invalid direction is refused before the provider is looked at.
        for direction in [serde_json::json!(3), serde_json::json!(0), serde_json::json!("up")] {
            let e =
                parse::<PriorityMoveParams>(serde_json::json!({"providerID": "", "direction": direction})).unwrap_err();
            assert_eq!(e.code, -32602, "{direction}");
        }
        let e = parse::<PriorityMoveParams>(serde_json::json!({"providerID": "openai", "direction": 3})).unwrap_err();
        assert_eq!(e.message, "invalid params: direction must be -1 (up) or 1 (down)");
    }
}
