//! The hot path's side of token lifetimes: an OAuth account whose token expires within a minute
//! is refreshed before it is handed out (a bounded wait, else another account is picked), and a
//! token a provider refused (401) is refreshed once for one more try on the same account. Both ask
//! the token keeper, whose one pacing per account decides whether a token request is made: while
//! it holds an account back the answer comes at once, and a token not yet expired is sent as is.

use std::time::Duration;

use actix::prelude::*;

use super::{Answer, FetchResult, ResultAnswer, RetryBalancer, UnknownRequest, Want};
use crate::accounts::{AccountRegistry, PickAccount, Picked};
use crate::clock::SharedClock;
use crate::model::refresh_policy::{effective_expiry, refresh_before_use};
use crate::tokens::{Failure, LoginRefused, Outcome, RefreshNow, TokenKeeper};

/// The longest a pick waits for a refresh. Under the plugin's hot-path call timeout (1.5 s by
/// default), so a slow token endpoint costs a failover, not the request.
pub const READY_WAIT: Duration = Duration::from_millis(1_200);
/// Accounts tried before the pick gives up.
const MAX_PICKS: usize = 4;

/// Picks an account whose token is good to send: one about to expire is refreshed first; one
/// that cannot be refreshed in time is passed over for the next.
pub(super) async fn pick_ready(
    registry: Addr<AccountRegistry>,
    tokens: Option<Addr<TokenKeeper>>,
    clock: SharedClock,
    mut want: Want,
) -> Option<Picked> {
    for _ in 0..MAX_PICKS {
        let picked = registry
            .send(PickAccount {
                provider_id: want.provider_id.clone(),
                prefer: want.prefer.clone(),
                exclude: want.exclude.clone(),
                make_active: want.make_active,
            })
            .await
            .ok()
            .flatten()?;
        let Some(tokens) = &tokens else { return Some(picked) };
        let stale = |auth| refresh_before_use(effective_expiry(&want.provider_id, auth), clock.now_ms());
        if !stale(&picked.auth) {
            return Some(picked);
        }
        let ask = tokens.send(RefreshNow {
            provider_id: want.provider_id.clone(),
            alias: picked.alias.clone(),
            seen: None,
        });
        let expired = |auth| effective_expiry(&want.provider_id, auth).is_some_and(|e| e <= clock.now_ms());
        match tokio::time::timeout(READY_WAIT, ask).await {
            Ok(Ok(Outcome::Fresh { auth, generation, .. })) if !expired(&auth) => {
                return Some(Picked {
                    alias: picked.alias,
                    auth,
                    generation,
                })
            }
            // Nothing here can refresh it: sent as it is, as before there was a keeper. Held back
            // (refreshed moments ago, or backing off): sent as it is while it has not expired.
            Ok(Ok(Outcome::Failed(Failure::Unsupported { .. }))) => return Some(picked),
            Ok(Ok(Outcome::Failed(Failure::Waiting { .. }))) if !expired(&picked.auth) => return Some(picked),
            other => {
                let why = match other {
                    Err(_) => "no refresh within the wait".to_string(),
                    Ok(Ok(Outcome::Failed(f))) => f.reason(),
                    _ => "expired".to_string(),
                };
                tracing::info!(provider = %want.provider_id, alias = %picked.alias, reason = %why, "token not ready; picking another account");
                want.exclude.push(picked.alias);
                want.prefer = None;
            }
        }
    }
    None
}

/// A forced refresh after a 401 on `alias` at `generation`: the new credential, if there is one
/// (a newer one another process committed counts).
pub(super) async fn refresh_refused(
    tokens: Addr<TokenKeeper>,
    provider_id: String,
    alias: String,
    generation: u64,
) -> Option<Picked> {
    let ask = tokens.send(RefreshNow {
        provider_id,
        alias: alias.clone(),
        seen: Some(generation),
    });
    match tokio::time::timeout(READY_WAIT, ask).await {
        Ok(Ok(Outcome::Fresh {
            auth,
            generation: now_at,
            ..
        })) if now_at != generation => Some(Picked {
            alias,
            auth,
            generation: now_at,
        }),
        _ => None,
    }
}

impl RetryBalancer {
    /// A 401 on an OAuth account not yet refreshed during this request: refresh its token and
    /// send the request again on it. `None`: not such a case (record the answer as usual). When
    /// no new token comes, the answer is recorded as usual (as auth-failed).
    pub(super) fn refresh_after_refusal(&mut self, msg: &FetchResult, attempt: u32) -> Option<Answer> {
        let tokens = self.tokens.clone()?;
        let req = self.requests.get_mut(&msg.request_id)?;
        if matches!(msg.status, 401 | 403) && req.oauth && crate::model::is_copilot(&req.provider_id) {
            // Nothing refreshes Copilot's GitHub token: refused, it needs a new login.
            tokens.do_send(LoginRefused {
                provider_id: req.provider_id.clone(),
                alias: req.alias.clone(),
                generation: req.generation,
                status: msg.status,
            });
            return None;
        }
        if msg.status != 401 {
            return None;
        }
        if !req.oauth || req.refreshed.contains(&req.alias) {
            return None;
        }
        req.refreshed.push(req.alias.clone());
        let (provider, alias) = (req.provider_id.clone(), req.alias.clone());
        let refreshed = refresh_refused(tokens, provider.clone(), alias.clone(), req.generation);
        let again = msg.clone();
        Some(Box::pin(refreshed.into_actor(self).then(move |fresh, this, ctx| {
            let Some(req) = this.requests.get_mut(&again.request_id) else {
                return Box::pin(actix::fut::ready(Err(UnknownRequest))) as Answer;
            };
            let Some(picked) = fresh else {
                // Recorded as the refusal it is, by the usual path.
                req.recorded = attempt - 1;
                let resend = ctx.address().send(again);
                return Box::pin(
                    async move { resend.await.unwrap_or(Err(UnknownRequest)) }.into_actor(this),
                ) as Answer;
            };
            tracing::info!(provider = %provider, alias = %alias, "401 on an OAuth account: token refreshed, trying it again");
            let (account, headers) = req.go_out_as(&picked);
            let sync_auth = this.sync_auth(&provider, &picked).map(Box::new);
            Box::pin(actix::fut::ready(Ok(ResultAnswer::Retry {
                account,
                headers,
                sync_auth,
                strip: None,
            })))
        })))
    }
}
