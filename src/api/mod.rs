//! The runtime's typed API: one async method per protocol operation on [`Runtime`], with typed
//! params and typed, serialisable results, and one [`Request`] type per wire method naming them.
//! In-process callers (CLI, dashboard, `/balancer`) call the methods; only `hooks` sees JSON.
//!
//! [`Runtime`]: crate::runtime::Runtime

mod admin;
pub use admin::initialize_result;
pub mod command;
pub mod error;
mod hot;
pub mod params;
pub mod results;
mod session;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::{ApiError, ApiResult};

pub const SERVER_NAME: &str = "opencode-balancer";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const PROTOCOL_VERSION: u32 = 1;

/// One wire method: its name, what its params decode to and what its result encodes from.
pub trait Request {
    const METHOD: &'static str;
    type Params: DeserializeOwned;
    type Result: Serialize;
}

macro_rules! requests {
    ($($(#[$doc:meta])* $name:ident = $method:literal, $params:ty => $result:ty;)*) => {
        $(
            $(#[$doc])*
            pub enum $name {}
            impl Request for $name {
                const METHOD: &'static str = $method;
                type Params = $params;
                type Result = $result;
            }
        )*
    };
}

/// The methods of docs/protocol.md.
pub mod methods {
    use super::params::*;
    use super::results::*;
    use super::Request;
    use crate::model::{AccountView, PriorityEntry, Setting, Settings, StoredEvent, UsageSnapshot};
    use crate::store::PendingView;

    requests! {
        Initialize = "initialize", NoParams => InitializeResult;
        Shutdown = "shutdown", NoParams => Empty;
        Status = "status", NoParams => StatusResult;
        AccountsList = "accounts.list", ProviderFilter => Vec<AccountView>;
        AccountsSave = "accounts.save", SaveParams => AccountView;
        AccountsRename = "accounts.rename", RenameParams => AccountView;
        AccountsRemove = "accounts.remove", AccountKey => Removed;
        AccountsActivate = "accounts.activate", AccountKey => AccountView;
        AccountsSetDisabled = "accounts.setDisabled", DisableParams => AccountView;
        AccountsResetCooldown = "accounts.resetCooldown", AccountKey => AccountView;
        PriorityList = "priority.list", NoParams => Vec<PriorityEntry>;
        PrioritySetModel = "priority.setModel", PriorityModelParams => Vec<PriorityEntry>;
        PrioritySetEnabled = "priority.setEnabled", PriorityEnabledParams => Vec<PriorityEntry>;
        PriorityMove = "priority.move", PriorityMoveParams => Vec<PriorityEntry>;
        PriorityRemove = "priority.remove", ProviderParams => Vec<PriorityEntry>;
        BalancingGet = "balancing.get", NoParams => Enabled;
        BalancingSet = "balancing.set", EnabledParams => Enabled;
        SettingsGet = "settings.get", NoParams => Settings;
        /// The edge decodes `{key, value}` loosely (`"on"`, `"5"`), see `rpc::dispatch`.
        SettingsSet = "settings.set", Setting => Settings;
        PendingList = "pending.list", NoParams => Vec<PendingView>;
        PendingSave = "pending.save", PendingSaveParams => AccountView;
        PendingDismiss = "pending.dismiss", PendingIdParams => Dismissed;
        UsageList = "usage.list", NoParams => Vec<UsageSnapshot>;
        UsageRefresh = "usage.refresh", RefreshParams => Vec<UsageSnapshot>;
        EventsList = "events.list", EventsParams => Vec<StoredEvent>;
        CommandRun = "command.run", CommandParams => CommandOutput;
        ChatMessage = "chat.message", ChatMessageParams => ChatMessageResult;
        ChatHeaders = "chat.headers", ChatHeadersParams => ChatHeadersResult;
        /// Read-only: which provider, model and account a session is on.
        SessionGet = "session.get", SessionParams => SessionView;
        FetchBegin = "fetch.begin", FetchBeginParams => BeginResult;
        FetchResult = "fetch.result", FetchResultParams => FetchResultAnswer;
        FetchStream = "fetch.stream", FetchStreamParams => StreamResult;
        ContinuityStrip = "continuity.strip", StripParams => StripResult;
        ProvidersDescribe = "providers.describe", DescribeParams => Empty;
        /// A notification in practice: the secret of an opencode 2 credential, lent for usage.
        CredentialsLend = "credentials.lend", LendParams => Empty;
        TestAdvanceClock = "test.advanceClock", AdvanceClockParams => Now;
    }
}
