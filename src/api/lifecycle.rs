//! The sidecar's lifecycle and state: `initialize`, `shutdown`, `status`, and `test.advanceClock`
//! (the test clock); the empty params and result several methods share.

use serde::{Deserialize, Serialize};

use super::{ApiError, ApiResult, PROTOCOL_VERSION, SERVER_NAME, VERSION};
use crate::accounts::GetStatus;
use crate::runtime::Runtime;

/// Methods without params (any object, members ignored).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct NoParams {}

/// `{}`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Empty {}

/// `initialize`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InitializeResult {
    pub server: ServerInfo,
    #[serde(rename = "protocolVersion")]
    pub protocol_version: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
}

/// `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusResult {
    pub version: String,
    pub balancing: bool,
    pub accounts: usize,
    pub pending: usize,
    pub providers: Vec<String>,
    pub store_path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvanceClockParams {
    pub ms: i64,
}

/// `test.advanceClock`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Now {
    pub now: i64,
}

impl Runtime {
    pub async fn initialize(&self, _: NoParams) -> ApiResult<InitializeResult> {
        Ok(initialize_result())
    }

    pub async fn shutdown(&self, _: NoParams) -> ApiResult<Empty> {
        Ok(Empty {})
    }

    pub async fn status(&self, _: NoParams) -> ApiResult<StatusResult> {
        let s = self.registry.send(GetStatus).await?;
        Ok(StatusResult {
            version: VERSION.to_string(),
            balancing: s.balancing,
            accounts: s.accounts,
            pending: s.pending,
            providers: s.providers,
            store_path: self.store.path().display().to_string(),
        })
    }

    pub async fn test_advance_clock(&self, p: AdvanceClockParams) -> ApiResult<Now> {
        if !self.clock.advance(p.ms) {
            return Err(ApiError::Unavailable(
                "method not found: test.advanceClock (needs OPENCODE_BALANCER_TEST_CLOCK)".into(),
            ));
        }
        // Time passing is what the usage timer waits for.
        self.usage.do_send(crate::usage::refresher::ClockMoved);
        self.tokens.do_send(crate::tokens::Tick);
        Ok(Now {
            now: self.clock.now_ms(),
        })
    }
}

/// `initialize`'s answer; also given when the store cannot be opened.
pub fn initialize_result() -> InitializeResult {
    InitializeResult {
        server: ServerInfo {
            name: SERVER_NAME.to_string(),
            version: VERSION.to_string(),
        },
        protocol_version: PROTOCOL_VERSION,
    }
}
