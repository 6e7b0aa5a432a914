//! The method table: each method's typed params go to one actor message; results become JSON.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::params::*;
use super::wire::*;
use crate::actors::account_registry::{
    GetPriority, GetSettings, GetStatus, ListAccounts, Mutate, MutationReply, RegistryError,
};
use crate::actors::retry_balancer::{BeginAnswer, ChatHeaders, ChatMessage, FetchBegin, FetchResult, ResultAnswer};
use crate::actors::Runtime;
use crate::balancer::headers::AuthorizationHint;

pub const SERVER_NAME: &str = "opencode-balancer";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const PROTOCOL_VERSION: u32 = 1;

pub(crate) fn parse<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("invalid params: {}", safe_serde_message(&e))))
}

/// Adds `removeHeaders` (headers of the original account the chosen one has no value for) to a
/// `fetch.begin`/`fetch.result` answer, only when there are any: answers without stay as they were.
fn with_removed(mut answer: Value, remove: Vec<String>) -> Value {
    if !remove.is_empty() {
        answer["removeHeaders"] = json!(remove);
    }
    answer
}

fn internal<E: std::fmt::Display>(e: E) -> RpcError {
    RpcError::new(INTERNAL_ERROR, format!("internal error: {e}"))
}

pub fn registry_error(e: RegistryError) -> RpcError {
    let message = e.to_string();
    match e {
        RegistryError::NotFound { provider, alias } => {
            RpcError::new(ACCOUNT_NOT_FOUND, message).with_data(json!({"providerID": provider, "alias": alias}))
        }
        RegistryError::Exists { provider, alias } => {
            RpcError::new(ACCOUNT_EXISTS, message).with_data(json!({"providerID": provider, "alias": alias}))
        }
        RegistryError::PendingNotFound(_) => RpcError::new(PENDING_NOT_FOUND, message),
        RegistryError::InvalidName(_) => RpcError::new(INVALID_NAME, message),
        RegistryError::InvalidValue(_) => RpcError::invalid_params(message),
        RegistryError::Store(_) => RpcError::new(STORE_UNAVAILABLE, message),
    }
}

async fn mutate(rt: &Runtime, m: Mutate) -> Result<Value, RpcError> {
    let reply = rt.registry.send(m).await.map_err(internal)?.map_err(registry_error)?;
    Ok(match reply {
        MutationReply::Account(view) => json!(*view),
        MutationReply::Removed(removed) => json!({"removed": removed}),
        MutationReply::Dismissed(dismissed) => json!({"dismissed": dismissed}),
        MutationReply::Captured(c) => json!({"captured": c.len()}),
        MutationReply::Priority(entries) => json!(entries),
        MutationReply::Settings(s) => s.to_json(),
    })
}

/// Answers for methods that need no store (used when the store cannot be opened).
pub fn offline_answer(method: &str) -> Value {
    match method {
        "initialize" => {
            json!({"server": {"name": SERVER_NAME, "version": VERSION}, "protocolVersion": PROTOCOL_VERSION})
        }
        _ => json!({}),
    }
}

/// Answers one method call.
pub async fn dispatch(rt: &Runtime, method: &str, params: Value) -> Result<Value, RpcError> {
    match method {
        "initialize" | "shutdown" => Ok(offline_answer(method)),
        "status" => {
            let s = rt.registry.send(GetStatus).await.map_err(internal)?;
            Ok(json!({
                "version": VERSION,
                "balancing": s.balancing,
                "accounts": s.accounts,
                "pending": s.pending,
                "providers": s.providers,
                "storePath": rt.store.path().display().to_string(),
            }))
        }
        "accounts.list" => {
            let p: ProviderFilter = parse(params)?;
            Ok(json!(rt
                .registry
                .send(ListAccounts {
                    provider_id: p.provider_id
                })
                .await
                .map_err(internal)?))
        }
        "accounts.save" => {
            let p: SaveParams = parse(params)?;
            mutate(
                rt,
                Mutate::Save {
                    provider_id: p.provider_id,
                    alias: p.alias,
                    auth: p.auth,
                    replace: p.replace,
                },
            )
            .await
        }
        "accounts.rename" => {
            let p: RenameParams = parse(params)?;
            mutate(
                rt,
                Mutate::Rename {
                    provider_id: p.provider_id,
                    from: p.from,
                    to: p.to,
                },
            )
            .await
        }
        "accounts.remove" => {
            let p: AccountKey = parse(params)?;
            mutate(
                rt,
                Mutate::Remove {
                    provider_id: p.provider_id,
                    alias: p.alias,
                },
            )
            .await
        }
        "accounts.activate" => {
            let p: AccountKey = parse(params)?;
            mutate(
                rt,
                Mutate::Activate {
                    provider_id: p.provider_id,
                    alias: p.alias,
                },
            )
            .await
        }
        "accounts.setDisabled" => {
            let p: DisableParams = parse(params)?;
            mutate(
                rt,
                Mutate::SetDisabled {
                    provider_id: p.provider_id,
                    alias: p.alias,
                    disabled: p.disabled,
                },
            )
            .await
        }
        "accounts.resetCooldown" => {
            let p: AccountKey = parse(params)?;
            mutate(
                rt,
                Mutate::ResetCooldown {
                    provider_id: p.provider_id,
                    alias: p.alias,
                },
            )
            .await
        }
        "priority.list" => Ok(json!(rt.registry.send(GetPriority).await.map_err(internal)?)),
        "priority.setModel" => {
            let p: PriorityModelParams = parse(params)?;
            mutate(
                rt,
                Mutate::PriorityModel {
                    provider_id: p.provider_id,
                    model_id: p.model_id,
                },
            )
            .await
        }
        "priority.setEnabled" => {
            let p: PriorityEnabledParams = parse(params)?;
            mutate(
                rt,
                Mutate::PriorityEnabled {
                    provider_id: p.provider_id,
                    enabled: p.enabled,
                },
            )
            .await
        }
        "priority.move" => {
            let p: PriorityMoveParams = parse(params)?;
            mutate(
                rt,
                Mutate::PriorityMove {
                    provider_id: p.provider_id,
                    direction: p.direction,
                },
            )
            .await
        }
        "balancing.get" => {
            let s = rt.registry.send(GetSettings).await.map_err(internal)?;
            Ok(json!({"enabled": s.balancing}))
        }
        "balancing.set" => {
            let p: EnabledParams = parse(params)?;
            mutate(
                rt,
                Mutate::Setting {
                    key: "balancing".into(),
                    value: json!(p.enabled),
                },
            )
            .await?;
            Ok(json!({"enabled": p.enabled}))
        }
        "settings.get" => Ok(rt.registry.send(GetSettings).await.map_err(internal)?.to_json()),
        "settings.set" => {
            let p: SettingParams = parse(params)?;
            mutate(
                rt,
                Mutate::Setting {
                    key: p.key,
                    value: p.value,
                },
            )
            .await
        }
        "pending.list" => {
            let list = rt
                .store
                .run(|s| s.list_pending())
                .await
                .map_err(|e| RpcError::new(STORE_UNAVAILABLE, e.to_string()))?;
            Ok(json!(list))
        }
        "pending.save" => {
            let p: PendingSaveParams = parse(params)?;
            mutate(
                rt,
                Mutate::SavePending {
                    id: p.id,
                    alias: p.alias,
                    replace: p.replace,
                },
            )
            .await
        }
        "pending.dismiss" => {
            let p: PendingIdParams = parse(params)?;
            mutate(rt, Mutate::DismissPending { id: p.id }).await
        }
        "usage.list" => {
            let list = rt
                .usage
                .send(crate::actors::usage_refresher::ListUsage)
                .await
                .map_err(internal)?;
            Ok(json!(list))
        }
        "usage.refresh" => {
            use crate::actors::usage_refresher::{RefreshError, RefreshUsage};
            #[derive(serde::Deserialize)]
            struct RefreshParams {
                #[serde(rename = "providerID", default)]
                provider_id: Option<String>,
                #[serde(default)]
                alias: Option<String>,
            }
            let p: RefreshParams = parse(params)?;
            let list = rt
                .usage
                .send(RefreshUsage {
                    provider_id: p.provider_id,
                    alias: p.alias.map(|a| crate::model::normalize_alias(&a).unwrap_or(a)),
                })
                .await
                .map_err(internal)?
                .map_err(|e| match e {
                    RefreshError::NotFound { provider, alias } => {
                        RpcError::new(ACCOUNT_NOT_FOUND, format!("account {provider}/{alias} not found"))
                            .with_data(json!({"providerID": provider, "alias": alias}))
                    }
                    RefreshError::InvalidParams(m) => RpcError::invalid_params(m),
                })?;
            Ok(json!(list))
        }
        "events.list" => {
            let p: EventsParams = parse(params)?;
            let limit = p.limit.unwrap_or(50).clamp(1, 10_000) as usize;
            rt.bus.send(crate::actors::event_bus::Flush).await.map_err(internal)?;
            let list = rt
                .store
                .run(move |s| s.list_events(limit, p.kind.as_deref()))
                .await
                .map_err(|e| RpcError::new(STORE_UNAVAILABLE, e.to_string()))?;
            Ok(json!(list))
        }
        "command.run" => {
            let p: CommandParams = parse(params)?;
            let output: std::pin::Pin<Box<dyn std::future::Future<Output = String> + '_>> =
                Box::pin(super::command::run(rt, &p.text));
            Ok(json!({"output": output.await}))
        }
        "chat.message" => {
            let p: ChatMessageParams = parse(params)?;
            let chosen = rt
                .balancer
                .send(ChatMessage {
                    session_id: p.session_id,
                    model: p.model,
                })
                .await
                .map_err(internal)?;
            Ok(match chosen {
                Some(m) => json!({"model": m}),
                None => json!({}),
            })
        }
        "chat.headers" => {
            let p: ChatHeadersParams = parse(params)?;
            let a = rt
                .balancer
                .send(ChatHeaders {
                    session_id: p.session_id,
                    provider_id: p.provider_id,
                    model_id: p.model_id,
                    api: p.api.map(ApiParams::into_api),
                })
                .await
                .map_err(internal)?;
            let mut out = json!({});
            if let Some(id) = a.request_id {
                out["requestID"] = json!(id);
            }
            if let Some(s) = a.sync_auth {
                out["syncAuth"] = json!({"providerID": s.provider_id, "auth": s.auth});
            }
            Ok(out)
        }
        "fetch.begin" => {
            let p: FetchBeginParams = parse(params)?;
            let authorization = p.authorization.as_deref().map(|a| match a {
                "other" => AuthorizationHint::Other,
                _ => AuthorizationHint::Bearer,
            });
            let header_names = p.header_names.into_iter().map(|h| h.to_ascii_lowercase()).collect();
            let answer = rt
                .balancer
                .send(FetchBegin {
                    request_id: p.request_id,
                    url: p.url,
                    header_names,
                    authorization,
                })
                .await
                .map_err(internal)?
                .map_err(|e| RpcError::new(UNKNOWN_REQUEST, e.to_string()))?;
            Ok(match answer {
                BeginAnswer::Passthrough => json!({"passthrough": true}),
                BeginAnswer::Use { account, headers } => {
                    with_removed(json!({"account": account, "setHeaders": headers.set}), headers.remove)
                }
                BeginAnswer::Switch(s) => super::turn::switch_json(&s, true),
                BeginAnswer::Fail(f) => super::turn::fail_json(&f, true),
            })
        }
        "fetch.result" => {
            let p: FetchResultParams = parse(params)?;
            let headers = p
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            let answer = rt
                .balancer
                .send(FetchResult {
                    request_id: p.request_id,
                    attempt: p.attempt,
                    status: p.status,
                    headers,
                    body: p.body,
                })
                .await
                .map_err(internal)?
                .map_err(|e| RpcError::new(UNKNOWN_REQUEST, e.to_string()))?;
            Ok(match answer {
                ResultAnswer::Return => json!({"action": "return"}),
                ResultAnswer::Retry {
                    account,
                    headers,
                    sync_auth,
                } => {
                    let out = json!({"action": "retry", "account": account, "setHeaders": headers.set});
                    let mut out = with_removed(out, headers.remove);
                    if let Some(s) = sync_auth {
                        out["syncAuth"] = json!({"providerID": s.provider_id, "auth": s.auth});
                    }
                    out
                }
                ResultAnswer::Switch(s) => super::turn::switch_json(&s, false),
                ResultAnswer::Fail(f) => super::turn::fail_json(&f, false),
            })
        }
        "providers.describe" => {
            let p: DescribeParams = parse(params)?;
            if p.providers.len() > 1000 {
                return Err(RpcError::invalid_params("invalid params: providers: at most 1000"));
            }
            let providers = p
                .providers
                .into_iter()
                .map(|d| (d.provider_id, d.api.into_api()))
                .collect();
            rt.balancer
                .send(crate::actors::retry_balancer::DescribeProviders { providers })
                .await
                .map_err(internal)?;
            Ok(json!({}))
        }
        "test.advanceClock" => {
            let p: AdvanceClockParams = parse(params)?;
            if rt.clock.advance(p.ms) {
                // Time passing is what the usage timer waits for.
                rt.usage.do_send(crate::actors::usage_refresher::ClockMoved);
                rt.tokens.do_send(crate::actors::token_keeper::Tick);
                Ok(json!({"now": rt.clock.now_ms()}))
            } else {
                Err(RpcError::new(
                    METHOD_NOT_FOUND,
                    "method not found: test.advanceClock (needs OPENCODE_BALANCER_TEST_CLOCK)",
                ))
            }
        }
        other => Err(RpcError::new(
            METHOD_NOT_FOUND,
            format!("method not found: {}", other.escape_debug()),
        )),
    }
}
