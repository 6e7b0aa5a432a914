//! The runtime's typed API: one async method per protocol operation on [`Runtime`], one file per
//! area holding that area's params, results and methods side by side (`accounts.rs` has
//! `accounts.*`, `requests.rs` the hot path's `fetch.*` …), and [`with_methods!`]: the one list of
//! wire methods that the JSON-RPC edge's dispatch and the [`Request`] types are built from.
//! In-process callers (CLI, dashboard, `/balancer`) call the methods; only `rpc` sees JSON.
//!
//! [`Runtime`]: crate::runtime::Runtime

mod accounts;
mod answers;
mod chat;
pub mod command;
mod continuity;
pub mod error;
mod events;
mod lifecycle;
mod pending;
mod priority;
mod requests;
mod session;
mod settings;
mod usage;

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use accounts::*;
pub use answers::*;
pub use chat::*;
pub use command::{CommandOutput, CommandParams};
pub use continuity::*;
pub use error::{ApiError, ApiResult};
pub use events::*;
pub use lifecycle::*;
pub use pending::*;
pub use priority::*;
pub use requests::*;
pub use session::*;
pub use settings::*;
pub use usage::*;

use crate::accounts::{AccountRegistry, RegistryError};
use crate::runtime::Runtime;

pub const SERVER_NAME: &str = "opencode-balancer";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const PROTOCOL_VERSION: u32 = 1;

/// One wire method: its name, what its params decode to, what its result encodes from, and the
/// typed method on [`Runtime`] that answers it.
pub trait Request {
    const METHOD: &'static str;
    type Params: DeserializeOwned;
    type Result: Serialize;
    fn call(rt: &Runtime, params: Self::Params) -> impl Future<Output = ApiResult<Self::Result>>;
}

/// The one list of wire methods (docs/protocol.md), a line each:
/// `Type = "area.verb", Params => Result, runtime_method;`. It hands the list to `$then!` (after
/// any tokens given in its parentheses): [`methods`] declares a [`Request`] type per line,
/// `rpc::dispatch` makes a `match` arm per line. The hot path comes first.
macro_rules! with_methods {
    ($then:ident ! ($($pre:tt)*)) => {
        $then! { $($pre)*
            FetchBegin = "fetch.begin", FetchBeginParams => BeginResult, fetch_begin;
            FetchResult = "fetch.result", FetchResultParams => FetchResultAnswer, fetch_result;
            FetchStream = "fetch.stream", FetchStreamParams => StreamResult, fetch_stream;
            ContinuityStrip = "continuity.strip", StripParams => StripResult, continuity_strip;
            ChatHeaders = "chat.headers", ChatHeadersParams => ChatHeadersResult, chat_headers;
            ChatMessage = "chat.message", ChatMessageParams => ChatMessageResult, chat_message;
            Initialize = "initialize", NoParams => InitializeResult, initialize;
            Shutdown = "shutdown", NoParams => Empty, shutdown;
            Status = "status", NoParams => StatusResult, status;
            AccountsList = "accounts.list", ProviderFilter => Vec<AccountView>, accounts_list;
            AccountsSave = "accounts.save", SaveParams => AccountView, accounts_save;
            AccountsRename = "accounts.rename", RenameParams => AccountView, accounts_rename;
            AccountsRemove = "accounts.remove", AccountKey => Removed, accounts_remove;
            AccountsActivate = "accounts.activate", AccountKey => AccountView, accounts_activate;
            AccountsSetDisabled = "accounts.setDisabled", DisableParams => AccountView, accounts_set_disabled;
            AccountsResetCooldown = "accounts.resetCooldown", AccountKey => AccountView, accounts_reset_cooldown;
            PriorityList = "priority.list", NoParams => Vec<PriorityEntry>, priority_list;
            PrioritySetModel = "priority.setModel", PriorityModelParams => Vec<PriorityEntry>, priority_set_model;
            PrioritySetEnabled = "priority.setEnabled", PriorityEnabledParams => Vec<PriorityEntry>, priority_set_enabled;
            PriorityMove = "priority.move", PriorityMoveParams => Vec<PriorityEntry>, priority_move;
            PriorityRemove = "priority.remove", ProviderParams => Vec<PriorityEntry>, priority_remove;
            BalancingGet = "balancing.get", NoParams => Enabled, balancing_get;
            BalancingSet = "balancing.set", EnabledParams => Enabled, balancing_set;
            SettingsGet = "settings.get", NoParams => Settings, settings_get;
            /// `{key, value}`, the value read loosely (`"on"`, `"5"`).
            SettingsSet = "settings.set", SettingParams => Settings, settings_set;
            PendingList = "pending.list", NoParams => Vec<PendingView>, pending_list;
            PendingSave = "pending.save", PendingSaveParams => AccountView, pending_save;
            PendingDismiss = "pending.dismiss", PendingIdParams => Dismissed, pending_dismiss;
            UsageList = "usage.list", NoParams => Vec<UsageSnapshot>, usage_list;
            UsageRefresh = "usage.refresh", RefreshParams => Vec<UsageSnapshot>, usage_refresh;
            EventsList = "events.list", EventsParams => Vec<StoredEvent>, events_list;
            CommandRun = "command.run", CommandParams => CommandOutput, command_run;
            ProvidersDescribe = "providers.describe", DescribeParams => Empty, providers_describe;
            /// A notification in practice: the secret of an opencode 2 credential, lent for usage.
            CredentialsLend = "credentials.lend", LendParams => Empty, credentials_lend;
            /// Read-only: which provider, model and account a session is on.
            SessionGet = "session.get", SessionParams => SessionView, session_get;
            TestAdvanceClock = "test.advanceClock", AdvanceClockParams => Now, test_advance_clock;
        }
    };
}
pub(crate) use with_methods;

macro_rules! requests {
    ($($(#[$doc:meta])* $name:ident = $method:literal, $params:ty => $result:ty, $call:ident;)*) => {
        $(
            $(#[$doc])*
            pub enum $name {}
            impl Request for $name {
                const METHOD: &'static str = $method;
                type Params = $params;
                type Result = $result;
                fn call(rt: &Runtime, params: $params) -> impl Future<Output = ApiResult<$result>> {
                    rt.$call(params)
                }
            }
        )*
    };
}

/// The methods of docs/protocol.md: a [`Request`] type each, from [`with_methods!`].
pub mod methods {
    use std::future::Future;

    use super::*;
    use crate::model::{AccountView, PriorityEntry, Settings, StoredEvent, UsageSnapshot};
    use crate::store::PendingView;

    with_methods!(requests!());
}

impl Runtime {
    /// Sends one user change to the registry; its typed reply once it is committed.
    async fn ask<M, T>(&self, change: M) -> ApiResult<T>
    where
        M: actix::Message<Result = Result<T, RegistryError>> + Send + 'static,
        T: Send + 'static,
        AccountRegistry: actix::Handler<M>,
    {
        Ok(self.registry.send(change).await??)
    }
}
