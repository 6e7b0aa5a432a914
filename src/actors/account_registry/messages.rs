//! Messages the account registry answers, one struct each.

use std::collections::HashMap;

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use crate::balancer::classify::Verdict;
use crate::balancer::reset::ResetSource;
use crate::model::{AccountView, Auth, Millis, PriorityEntry, Settings, UsageSnapshot};
use crate::store::StoreError;

/// Accounts as clients see them, optionally of one provider.
#[derive(Message)]
#[rtype(result = "Vec<AccountView>")]
pub struct ListAccounts {
    pub provider_id: Option<String>,
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

#[derive(Message)]
#[rtype(result = "Vec<PriorityEntry>")]
pub struct GetPriority;

#[derive(Message)]
#[rtype(result = "Settings")]
pub struct GetSettings;

/// Writes runtime bookkeeping now and catches up with other processes (shutdown, tests).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushNow;

/// A user mutation; acknowledged after it is committed.
#[derive(Message, Debug)]
#[rtype(result = "Result<MutationReply, RegistryError>")]
pub enum Mutate {
    /// Refused with `Exists` when the alias is in use, unless `replace`.
    Save {
        provider_id: String,
        alias: String,
        auth: Auth,
        replace: bool,
    },
    Rename {
        provider_id: String,
        from: String,
        to: String,
    },
    Remove {
        provider_id: String,
        alias: String,
    },
    Activate {
        provider_id: String,
        alias: String,
    },
    SetDisabled {
        provider_id: String,
        alias: String,
        disabled: bool,
    },
    ResetCooldown {
        provider_id: String,
        alias: String,
    },
    PriorityModel {
        provider_id: String,
        model_id: Option<String>,
    },
    PriorityEnabled {
        provider_id: String,
        enabled: bool,
    },
    PriorityMove {
        provider_id: String,
        direction: i32,
    },
    Setting(crate::model::Setting),
    /// Refused with `Exists` when the alias is in use, unless `replace`.
    SavePending {
        id: String,
        alias: String,
        replace: bool,
    },
    DismissPending {
        id: String,
    },
    /// The credentials of one read of opencode's auth.json that changed since the last one
    /// (provider id, credential), captured in one store job.
    Capture {
        entries: Vec<(String, Auth)>,
        source: String,
        /// What the watcher learnt of some entries (by provider id): Claude's profile subject,
        /// the credential the entry replaced.
        hints: std::collections::BTreeMap<String, crate::store::CaptureHint>,
    },
}

#[derive(Debug)]
pub enum MutationReply {
    Account(Box<AccountView>),
    Removed(bool),
    Dismissed(bool),
    Captured(Vec<(String, crate::store::Captured)>),
    Priority(Vec<PriorityEntry>),
    Settings(Settings),
}

/// Why a mutation was refused; maps onto the protocol's error codes.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("account {provider}/{alias} not found")]
    NotFound { provider: String, alias: String },
    #[error("account {provider}/{alias} already exists")]
    Exists { provider: String, alias: String },
    #[error("pending connection {0} not found")]
    PendingNotFound(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{0}")]
    InvalidValue(String),
    /// The store refused or failed (its own not-found, exists and invalid-name cases included).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `{providerID, modelID}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    #[serde(rename = "providerID")]
    pub provider_id: String,
    #[serde(rename = "modelID")]
    pub model_id: String,
}

/// The hot path's question: which account of this provider now?
#[derive(Message)]
#[rtype(result = "Option<Picked>")]
pub struct PickAccount {
    pub provider_id: String,
    /// Keep this account when it is usable (the request's or session's account).
    pub prefer: Option<String>,
    pub exclude: Vec<String>,
    /// Make the pick the provider's active account (failover under the sticky strategy).
    pub make_active: bool,
}

#[derive(Debug, Clone)]
pub struct Picked {
    pub alias: String,
    pub auth: Auth,
    /// The credential's token generation (a forced refresh starts from it).
    pub generation: u64,
}

/// Which model should this message use?
#[derive(Message)]
#[rtype(result = "Option<ModelRef>")]
pub struct ChooseModel {
    pub host: Option<ModelRef>,
    /// The session's current model and account, when it has sent a request before.
    pub session: Option<(ModelRef, Option<String>)>,
}

/// An upstream answer on an account.
#[derive(Message)]
#[rtype(result = "Option<OutcomeInfo>")]
pub struct RecordOutcome {
    pub provider_id: String,
    pub alias: String,
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OutcomeInfo {
    pub verdict: Verdict,
    pub until: Option<Millis>,
    pub source: Option<ResetSource>,
    /// The seconds a reset hint asked for when the clamping rule changed it (balancer::hint).
    pub clamped_from_secs: Option<f64>,
    pub failures: u32,
    /// The settings that decide what happens next (read with the outcome, so they are current).
    pub failover: bool,
    pub max_attempts: u32,
}

/// The usage refresher's view of the accounts, sent only when they changed since `known` (a
/// fingerprint of names, credentials and disabled flags); the usage settings always.
#[derive(Message)]
#[rtype(result = "UsageTargetsReply")]
pub struct UsageTargets {
    pub known: u64,
}

#[derive(Debug, Clone)]
pub struct UsageTargetsReply {
    pub fingerprint: u64,
    pub usage_enabled: bool,
    pub interval_seconds: u64,
    /// `None`: unchanged since `known`.
    pub accounts: Option<Vec<UsageTarget>>,
}

/// One account as the usage refresher needs it.
#[derive(Debug, Clone)]
pub struct UsageTarget {
    pub provider_id: String,
    pub alias: String,
    pub auth: Auth,
    pub disabled: bool,
    pub usage: Option<UsageSnapshot>,
    /// A fingerprint of the credential (in memory only), to notice a new login.
    pub credential: u64,
}

/// Accounts with their credential and usage, optionally of one provider or one account; `fresh`
/// catches up with other processes' commits first.
#[derive(Message)]
#[rtype(result = "Vec<UsageTarget>")]
pub struct UsageAccounts {
    pub provider_id: Option<String>,
    pub alias: Option<String>,
    pub fresh: bool,
}

/// A usage snapshot read for an account: stored (with its raw payload, already redacted) and
/// applied to memory. An exact, error-free one under 100 % used clears a stale cooldown; one at
/// 100 % with a reset time cools the account down until then.
#[derive(Message)]
#[rtype(result = "Result<UsageApplied, RegistryError>")]
pub struct ApplyUsage {
    pub snapshot: UsageSnapshot,
    pub raw: Option<String>,
}

/// What applying a snapshot did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageApplied {
    /// Stored; the cooldown was left alone.
    Stored,
    CooldownCleared,
    CooldownSet(Millis),
    /// The account is gone; nothing was stored.
    Gone,
}

/// The store's files changed (from the store watcher): look for other processes' commits.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StoreTouched;
