//! The method table: each wire method decodes its params once, calls its typed method on the
//! runtime and encodes the typed result; [`rpc_error`] is the one place errors get their codes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::wire::*;
use crate::accounts::RegistryError;
use crate::api::methods::*;
use crate::api::{ApiError, ApiResult, Request};
use crate::model::{LooseValue, Setting};
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

/// `settings.set` `{key, value}`: values are read loosely (`"on"`, `"5"`), and a refusal names
/// the key and what it takes.
#[derive(serde::Deserialize)]
struct SettingParams {
    key: String,
    value: LooseValue,
}

fn decode_setting(params: Value) -> Result<Setting, RpcError> {
    let p: SettingParams = parse(params)?;
    Setting::parse(&p.key, &p.value).map_err(|e| RpcError::invalid_params(e.to_string()))
}

/// Decodes the params of `R`, calls its typed method and encodes its result.
async fn answer<'a, R: Request>(
    rt: &'a Runtime,
    params: Value,
    decode: fn(Value) -> Result<R::Params, RpcError>,
    call: impl AsyncFn(&'a Runtime, R::Params) -> ApiResult<R::Result>,
) -> Result<Value, RpcError> {
    call(rt, decode(params)?).await.map_err(rpc_error).and_then(encode)
}

/// One `match` on the method name, an arm per `Request => method` line: a request costs one
/// string match, whichever its place in the table (a chain of awaited entries cost every
/// entry before the right one). `, decode f` gives an entry a decoder other than serde.
macro_rules! table {
    ($rt:expr, $method:expr, $params:expr; $($req:ty => $call:expr $(, decode $decode:expr)?;)*) => {
        match $method {
            $(<$req as Request>::METHOD => {
                answer::<$req>($rt, $params, table!(@decode $req $(, $decode)?), $call).await
            })*
            other => Err(RpcError::new(METHOD_NOT_FOUND, format!("method not found: {}", other.escape_debug()))),
        }
    };
    (@decode $req:ty) => { parse::<<$req as Request>::Params> };
    (@decode $req:ty, $decode:expr) => { $decode };
}

/// Answers one method call.
pub async fn dispatch(rt: &Runtime, method: &str, params: Value) -> Result<Value, RpcError> {
    table!(rt, method, params;
        FetchBegin => Runtime::fetch_begin;
        FetchResult => Runtime::fetch_result;
        FetchStream => Runtime::fetch_stream;
        ContinuityStrip => Runtime::continuity_strip;
        ChatHeaders => Runtime::chat_headers;
        ChatMessage => Runtime::chat_message;
        Initialize => Runtime::initialize;
        Shutdown => Runtime::shutdown;
        Status => Runtime::status;
        AccountsList => Runtime::accounts_list;
        AccountsSave => Runtime::accounts_save;
        AccountsRename => Runtime::accounts_rename;
        AccountsRemove => Runtime::accounts_remove;
        AccountsActivate => Runtime::accounts_activate;
        AccountsSetDisabled => Runtime::accounts_set_disabled;
        AccountsResetCooldown => Runtime::accounts_reset_cooldown;
        PriorityList => Runtime::priority_list;
        PrioritySetModel => Runtime::priority_set_model;
        PrioritySetEnabled => Runtime::priority_set_enabled;
        PriorityMove => Runtime::priority_move;
        PriorityRemove => Runtime::priority_remove;
        BalancingGet => Runtime::balancing_get;
        BalancingSet => Runtime::balancing_set;
        SettingsGet => Runtime::settings_get;
        SettingsSet => Runtime::settings_set, decode decode_setting;
        PendingList => Runtime::pending_list;
        PendingSave => Runtime::pending_save;
        PendingDismiss => Runtime::pending_dismiss;
        UsageList => Runtime::usage_list;
        UsageRefresh => Runtime::usage_refresh;
        EventsList => Runtime::events_list;
        CommandRun => Runtime::command_run;
        ProvidersDescribe => Runtime::providers_describe;
        CredentialsLend => Runtime::credentials_lend;
        SessionGet => Runtime::session_get;
        TestAdvanceClock => Runtime::test_advance_clock;
    )
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
    use super::parse;
    use crate::api::params::PriorityMoveParams;
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
