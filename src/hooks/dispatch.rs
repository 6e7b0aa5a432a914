//! The method table: each wire method decodes its params once, calls its typed method on the
//! runtime and encodes the typed result; [`rpc_error`] is the one place errors get their codes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::wire::*;
use crate::actors::account_registry::RegistryError;
use crate::actors::usage_refresher::RefreshError;
use crate::actors::Runtime;
use crate::api::methods::*;
use crate::api::{ApiError, ApiResult, Request};
use crate::model::{LooseValue, Setting};
use crate::store::StoreError;

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
        ApiError::Registry(
            RegistryError::NotFound { provider, alias }
            | RegistryError::Store(StoreError::NotFound { provider, alias }),
        )
        | ApiError::Refresh(RefreshError::NotFound { provider, alias }) => {
            RpcError::new(ACCOUNT_NOT_FOUND, message).with_data(account_data(&provider, &alias))
        }
        ApiError::Registry(
            RegistryError::Exists { provider, alias } | RegistryError::Store(StoreError::Exists { provider, alias }),
        ) => RpcError::new(ACCOUNT_EXISTS, message).with_data(account_data(&provider, &alias)),
        ApiError::Registry(
            RegistryError::PendingNotFound(_) | RegistryError::Store(StoreError::PendingNotFound(_)),
        ) => RpcError::new(PENDING_NOT_FOUND, message),
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

/// Finds the method's entry: the first `on` whose method matches decodes, calls and encodes.
struct Dispatcher<'a> {
    rt: &'a Runtime,
    method: &'a str,
    params: Option<Value>,
    answer: Option<Result<Value, RpcError>>,
}

impl<'a> Dispatcher<'a> {
    async fn on<R: Request>(self, call: impl AsyncFn(&'a Runtime, R::Params) -> ApiResult<R::Result>) -> Self {
        self.on_decoded::<R>(parse::<R::Params>, call).await
    }

    /// An entry whose params are decoded by `decode` instead of serde.
    async fn on_decoded<R: Request>(
        mut self,
        decode: fn(Value) -> Result<R::Params, RpcError>,
        call: impl AsyncFn(&'a Runtime, R::Params) -> ApiResult<R::Result>,
    ) -> Self {
        if self.answer.is_none() && self.method == R::METHOD {
            let params = self.params.take().unwrap_or(Value::Null);
            self.answer = Some(match decode(params) {
                Ok(p) => call(self.rt, p).await.map_err(rpc_error).and_then(encode),
                Err(e) => Err(e),
            });
        }
        self
    }

    fn finish(self) -> Result<Value, RpcError> {
        self.answer.unwrap_or_else(|| {
            Err(RpcError::new(
                METHOD_NOT_FOUND,
                format!("method not found: {}", self.method.escape_debug()),
            ))
        })
    }
}

/// Answers one method call.
pub async fn dispatch(rt: &Runtime, method: &str, params: Value) -> Result<Value, RpcError> {
    let d = Dispatcher {
        rt,
        method,
        params: Some(params),
        answer: None,
    };
    // The hot path first: it is most of the traffic.
    d.on::<FetchBegin>(Runtime::fetch_begin)
        .await
        .on::<FetchResult>(Runtime::fetch_result)
        .await
        .on::<ChatHeaders>(Runtime::chat_headers)
        .await
        .on::<ChatMessage>(Runtime::chat_message)
        .await
        .on::<Initialize>(Runtime::initialize)
        .await
        .on::<Shutdown>(Runtime::shutdown)
        .await
        .on::<Status>(Runtime::status)
        .await
        .on::<AccountsList>(Runtime::accounts_list)
        .await
        .on::<AccountsSave>(Runtime::accounts_save)
        .await
        .on::<AccountsRename>(Runtime::accounts_rename)
        .await
        .on::<AccountsRemove>(Runtime::accounts_remove)
        .await
        .on::<AccountsActivate>(Runtime::accounts_activate)
        .await
        .on::<AccountsSetDisabled>(Runtime::accounts_set_disabled)
        .await
        .on::<AccountsResetCooldown>(Runtime::accounts_reset_cooldown)
        .await
        .on::<PriorityList>(Runtime::priority_list)
        .await
        .on::<PrioritySetModel>(Runtime::priority_set_model)
        .await
        .on::<PrioritySetEnabled>(Runtime::priority_set_enabled)
        .await
        .on::<PriorityMove>(Runtime::priority_move)
        .await
        .on::<BalancingGet>(Runtime::balancing_get)
        .await
        .on::<BalancingSet>(Runtime::balancing_set)
        .await
        .on::<SettingsGet>(Runtime::settings_get)
        .await
        .on_decoded::<SettingsSet>(decode_setting, Runtime::settings_set)
        .await
        .on::<PendingList>(Runtime::pending_list)
        .await
        .on::<PendingSave>(Runtime::pending_save)
        .await
        .on::<PendingDismiss>(Runtime::pending_dismiss)
        .await
        .on::<UsageList>(Runtime::usage_list)
        .await
        .on::<UsageRefresh>(Runtime::usage_refresh)
        .await
        .on::<EventsList>(Runtime::events_list)
        .await
        .on::<CommandRun>(Runtime::command_run)
        .await
        .on::<ProvidersDescribe>(Runtime::providers_describe)
        .await
        .on::<TestAdvanceClock>(Runtime::test_advance_clock)
        .await
        .finish()
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
