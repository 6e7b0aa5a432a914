//! Retry balancer actor: the hot path. Owns the request table and session bindings; asks the
//! registry (memory only) which account to use and records each answer; decides retries.
//! Requests never finished expire after `REQUEST_TTL_MS`; the table holds at most `MAX_REQUESTS`.

mod attempt;
mod chat;
mod continuity;
mod conversations;
mod credentials;
mod events;
mod lookup;
mod messages;
mod provider_switch;
pub mod rules;

use std::collections::HashMap;

use actix::prelude::*;

use self::credentials::pick_ready;
use crate::accounts::{AccountRegistry, Picked};
use crate::clock::SharedClock;
use crate::events::EventBus;
use crate::failover::rules::headers::AuthorizationHint;
use crate::model::ModelRef;
use crate::model::{Auth, Millis};
use crate::tokens::TokenKeeper;
use crate::usage::passive::is_usage_header;
use crate::usage::refresher::{PassiveHeaders, PromptSeen, UsageRefresher};
use crate::usage::schedule::PROMPT_MIN_MS;

pub use self::messages::*;

pub const REQUEST_TTL_MS: Millis = 15 * 60_000;
pub const MAX_REQUESTS: usize = 10_000;
pub const SESSION_TTL_MS: Millis = 24 * 3_600_000;
pub const MAX_SESSIONS: usize = 10_000;

/// One request the host opened (`chat.headers`), kept until its last answer or `REQUEST_TTL_MS`.
struct OpenRequest {
    session_id: String,
    provider_id: String,
    alias: String,
    /// The token generation of the credential the last attempt carried, and whether it is OAuth.
    generation: u64,
    oauth: bool,
    /// Accounts whose token was refreshed after a 401 during this request (once each).
    refreshed: Vec<String>,
    /// The last attempt went out untouched (no healthy account): its answer is not ours to record.
    passthrough: bool,
    /// The highest attempt whose result was recorded: a replayed result for it (or an earlier
    /// one) is answered `return` and counts nothing more.
    recorded: u32,
    tried: Vec<String>,
    header_names: Vec<String>,
    authorization: Option<AuthorizationHint>,
    created_at: Millis,
    /// The model the request is for, and the URL it goes to (from `fetch.begin`; a move rewrites
    /// both).
    model_id: String,
    url: String,
    /// Providers this request has left because they ran dry (never taken again: no loop).
    providers_tried: Vec<String>,
    /// Resends that only removed state another account produced (at most one: the safety net);
    /// they do not count against `maxAttempts`.
    mends: u32,
}

/// What a pick asks for (`PickAccount` without the exclusions the refreshes add).
struct Want {
    pub provider_id: String,
    pub prefer: Option<String>,
    pub exclude: Vec<String>,
    pub make_active: bool,
}

/// What a request on a provider without a usable account does next (`provider_switch`).
enum ExhaustedOutcome {
    /// Not dry, or a short rest: the answer goes back to the host as it is.
    Leave,
    Switch(Box<SwitchAnswer>),
    Fail(FailAnswer),
}

/// The future a `FetchBegin` handler answers with.
type BeginFuture = ResponseActFuture<RetryBalancer, Result<BeginAnswer, UnknownRequest>>;

/// The future a `FetchResult` (or a resend of one) is answered with.
type Answer = ResponseActFuture<RetryBalancer, Result<ResultAnswer, UnknownRequest>>;

struct Session {
    model: ModelRef,
    alias: Option<String>,
    seen_at: Millis,
    /// The provider/model this session last moved to (`provider_switched` is told once).
    switched_to: Option<String>,
}

pub struct RetryBalancer {
    registry: Addr<AccountRegistry>,
    bus: Addr<EventBus>,
    clock: SharedClock,
    requests: HashMap<String, OpenRequest>,
    sessions: HashMap<String, Session>,
    /// Each session's continuity: the owner of its replayed state and its sticky edit, shared
    /// with other processes through the store (docs/continuity.md).
    conversations: conversations::Conversations,
    /// The OAuth account (and its token generation) last handed to the host per provider, so it
    /// is synced only on change.
    synced: HashMap<String, (String, u64)>,
    next_id: u64,
    id_prefix: String,
    /// The usage refresher: told of prompts (at most every 30 s) and of rate-limit headers.
    usage: Option<Addr<UsageRefresher>>,
    /// The token keeper: refreshes a token about to expire before it is handed out.
    tokens: Option<Addr<TokenKeeper>>,
    nudged_at: Option<Millis>,
    /// What the plugin told of each provider's API (SDK package, base URL), for moves.
    apis: HashMap<String, crate::failover::rules::provider_move::ProviderApi>,
}

impl RetryBalancer {
    pub fn new(registry: Addr<AccountRegistry>, bus: Addr<EventBus>, clock: SharedClock) -> Self {
        RetryBalancer {
            registry,
            bus,
            clock,
            requests: HashMap::new(),
            sessions: HashMap::new(),
            conversations: Default::default(),
            synced: HashMap::new(),
            next_id: 0,
            id_prefix: format!("ocb-{}-", std::process::id()),
            usage: None,
            tokens: None,
            nudged_at: None,
            apis: HashMap::new(),
        }
    }

    /// Starts with the continuity records the store holds (`Store::load_conversations`).
    pub fn with_conversations(mut self, records: Vec<(String, crate::store::Continuity)>) -> Self {
        self.conversations.merge_in(records);
        self
    }

    /// Lets the usage refresher hear of prompts and of rate-limit headers.
    pub fn with_usage(mut self, usage: Addr<UsageRefresher>) -> Self {
        self.usage = Some(usage);
        self
    }

    /// Lets OAuth tokens about to expire be refreshed before they are handed out.
    pub fn with_tokens(mut self, tokens: Addr<TokenKeeper>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// A pick whose token is good to send (see `tokens`).
    fn pick_ready(&self, want: Want) -> impl std::future::Future<Output = Option<Picked>> {
        pick_ready(self.registry.clone(), self.tokens.clone(), self.clock.clone(), want)
    }

    /// A prompt: the usage refresher may read stale accounts (it is told at most every 30 s).
    fn nudge_usage(&mut self) {
        let now = self.clock.now_ms();
        let Some(usage) = &self.usage else { return };
        if self.nudged_at.is_none_or(|t| now - t >= PROMPT_MIN_MS) {
            self.nudged_at = Some(now);
            usage.do_send(PromptSeen);
        }
    }

    /// Hands the rate-limit headers of an answer on an account to the usage refresher.
    fn forward_usage_headers(&self, provider: &str, alias: &str, headers: &HashMap<String, String>) {
        let Some(usage) = &self.usage else { return };
        let picked: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| is_usage_header(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !picked.is_empty() {
            usage.do_send(PassiveHeaders {
                provider_id: provider.to_string(),
                alias: alias.to_string(),
                headers: picked,
            });
        }
    }

    fn sweep(&mut self) {
        let now = self.clock.now_ms();
        self.requests.retain(|_, r| now - r.created_at < REQUEST_TTL_MS);
        self.sessions.retain(|_, s| now - s.seen_at < SESSION_TTL_MS);
        evict_oldest(&mut self.requests, MAX_REQUESTS, |r| r.created_at);
        evict_oldest(&mut self.sessions, MAX_SESSIONS, |s| s.seen_at);
        self.conversations.sweep(now);
    }

    fn sync_auth(&mut self, provider: &str, picked: &Picked) -> Option<SyncAuth> {
        let handed = (picked.alias.clone(), picked.generation);
        if !matches!(picked.auth, Auth::Oauth { .. }) || self.synced.get(provider) == Some(&handed) {
            return None;
        }
        // Never an expired credential: opencode would spend its refresh token on it.
        let expiry = crate::model::refresh_policy::effective_expiry(provider, &picked.auth);
        if expiry.is_some_and(|e| e <= self.clock.now_ms()) {
            return None;
        }
        self.synced.insert(provider.to_string(), handed);
        Some(SyncAuth {
            provider_id: provider.to_string(),
            auth: picked.auth.as_opencode_keeps(),
        })
    }
}

fn evict_oldest<V>(map: &mut HashMap<String, V>, max: usize, age: impl Fn(&V) -> Millis) {
    if map.len() <= max {
        return;
    }
    // Down to 90% of the bound, so the sort is paid once per `max / 10` inserts, not per insert.
    let mut by_age: Vec<(Millis, String)> = map.iter().map(|(k, v)| (age(v), k.clone())).collect();
    by_age.sort_unstable();
    let excess = map.len() - max * 9 / 10;
    for (_, k) in by_age.into_iter().take(excess) {
        map.remove(&k);
    }
}

impl Actor for RetryBalancer {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(std::time::Duration::from_secs(30), |this, _| this.sweep());
    }
}
