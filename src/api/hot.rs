//! The typed methods of the hot path: a message's model, its headers, and each request's begin
//! and result. Each is one message to the retry balancer.

use super::params::*;
use super::results::*;
use super::{ApiError, ApiResult};
use crate::actors::retry_balancer::{
    ChatHeaders, ChatMessage, DescribeProviders, FetchBegin, FetchResult, FetchStream, RequestShape,
};
use crate::actors::Runtime;
use crate::balancer::headers::{decisive_headers, AuthorizationHint};
use crate::continuity::{detect_api, strip_foreign_state, Edit, Scope};

impl Runtime {
    pub async fn chat_message(&self, p: ChatMessageParams) -> ApiResult<ChatMessageResult> {
        let model = self
            .balancer
            .send(ChatMessage {
                session_id: p.session_id,
                model: p.model,
            })
            .await?;
        Ok(ChatMessageResult { model })
    }

    pub async fn chat_headers(&self, p: ChatHeadersParams) -> ApiResult<ChatHeadersResult> {
        let a = self
            .balancer
            .send(ChatHeaders {
                session_id: p.session_id,
                provider_id: p.provider_id,
                model_id: p.model_id,
                api: p.api.map(ApiParams::into_api),
                fetch: p.fetch.map(ShapeParams::into_shape),
                ahead: p.ahead,
                unused: p.unused,
            })
            .await?;
        Ok(ChatHeadersResult {
            request_id: a.request_id,
            sync_auth: a.sync_auth.map(SyncAuthWire::from),
            begin: a.begin.map(|(account, headers, strip)| PreparedBegin {
                account,
                set_headers: headers.set,
                remove_headers: headers.remove,
                credential: headers.credential,
                watch: decisive_headers(),
                strip_state: StripState::of(strip),
            }),
            valid_ms: a.valid_ms.map(|ms| ms.max(0) as u64),
        })
    }

    pub async fn fetch_begin(&self, p: FetchBeginParams) -> ApiResult<BeginResult> {
        let shape = ShapeParams {
            url: Some(p.url),
            header_names: p.header_names,
            authorization: p.authorization,
        };
        let answer = self
            .balancer
            .send(FetchBegin {
                request_id: p.request_id,
                shape: shape.into_shape(),
            })
            .await?
            .map_err(|e| ApiError::UnknownRequest(e.to_string()))?;
        Ok(answer.into())
    }

    pub async fn fetch_result(&self, p: FetchResultParams) -> ApiResult<FetchResultAnswer> {
        let headers = p
            .headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let answer = self
            .balancer
            .send(FetchResult {
                request_id: p.request_id,
                attempt: p.attempt,
                status: p.status,
                headers,
                body: p.body,
                sent: p.sent.map(ShapeParams::into_shape),
            })
            .await?
            .map_err(|e| ApiError::UnknownRequest(e.to_string()))?;
        Ok(answer.into())
    }

    /// The first events of a 2xx event stream: hold, forward, or the refusal's `fetch.result` answer.
    pub async fn fetch_stream(&self, p: FetchStreamParams) -> ApiResult<StreamResult> {
        if p.events.len() > crate::continuity::stream::LOOKAHEAD_MAX_EVENTS {
            return Err(ApiError::InvalidParams("invalid params: events: at most 64".into()));
        }
        let answer = self
            .balancer
            .send(FetchStream {
                request_id: p.request_id,
                attempt: p.attempt,
                events: p.events.into_iter().map(|e| (e.event, e.data)).collect(),
                headers: p
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
                sent: p.sent.map(ShapeParams::into_shape),
            })
            .await?
            .map_err(|e| ApiError::UnknownRequest(e.to_string()))?;
        Ok(answer.into())
    }

    /// The body without the state another account or provider produced (a pure edit: the
    /// sidecar decided, with `stripState`, that it is needed).
    pub async fn continuity_strip(&self, p: StripParams) -> ApiResult<StripResult> {
        let Some(scope) = Scope::parse(&p.scope) else {
            return Err(ApiError::InvalidParams(
                "invalid params: scope must be \"same-provider\" or \"provider-move\"".into(),
            ));
        };
        let Some(api) = detect_api(p.url.as_deref(), p.body.as_bytes()) else {
            return Ok(StripResult { body: None, removed: 0 });
        };
        Ok(match strip_foreign_state(api, p.body.as_bytes(), scope) {
            Edit::Unchanged => StripResult { body: None, removed: 0 },
            Edit::Edited { body, removed } => StripResult {
                body: Some(String::from_utf8(body).map_err(|e| ApiError::Unexpected(e.to_string()))?),
                removed,
            },
        })
    }

    /// Keeps a secret the plugin lent for an opencode 2 credential, in memory, for usage readings.
    pub async fn credentials_lend(&self, p: LendParams) -> ApiResult<Empty> {
        if crate::model::validate_provider(&p.provider).is_none() || p.credential_id.trim().is_empty() {
            return Err(ApiError::InvalidParams(
                "invalid params: provider must be a provider id and credentialID a credential id".into(),
            ));
        }
        self.usage
            .send(crate::actors::usage_refresher::LendCredential {
                provider_id: p.provider,
                credential_id: p.credential_id,
                secret: p.secret,
            })
            .await?;
        Ok(Empty {})
    }

    pub async fn providers_describe(&self, p: DescribeParams) -> ApiResult<Empty> {
        if p.providers.len() > 1000 {
            return Err(ApiError::InvalidParams(
                "invalid params: providers: at most 1000".into(),
            ));
        }
        let providers = p
            .providers
            .into_iter()
            .map(|d| (d.provider_id, d.api.into_api()))
            .collect();
        self.balancer.send(DescribeProviders { providers }).await?;
        Ok(Empty {})
    }

    pub async fn test_advance_clock(&self, p: AdvanceClockParams) -> ApiResult<Now> {
        if !self.clock.advance(p.ms) {
            return Err(ApiError::Unavailable(
                "method not found: test.advanceClock (needs OPENCODE_BALANCER_TEST_CLOCK)".into(),
            ));
        }
        // Time passing is what the usage timer waits for.
        self.usage.do_send(crate::actors::usage_refresher::ClockMoved);
        self.tokens.do_send(crate::actors::token_keeper::Tick);
        Ok(Now {
            now: self.clock.now_ms(),
        })
    }
}

impl ShapeParams {
    /// Names lowercased; `authorization` is `other` or else a bearer.
    fn into_shape(self) -> RequestShape {
        RequestShape {
            url: self.url.unwrap_or_default(),
            header_names: self.header_names.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
            authorization: self.authorization.as_deref().map(|a| match a {
                "other" => AuthorizationHint::Other,
                _ => AuthorizationHint::Bearer,
            }),
        }
    }
}
