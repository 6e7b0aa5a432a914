//! When a saved OAuth credential is refreshed: ahead of its expiry by a lead window, every few
//! days to keep an idle refresh chain alive, and on demand just before the balancer hands out a
//! token about to expire. Pure: time comes in as arguments.

use super::claims::jwt_claims;
use super::names::is_copilot;
use crate::model::{Auth, Millis};

/// The longest lead: a token is refreshed at most this long before it expires.
pub const LEAD_MAX_MS: Millis = 10 * 60_000;
/// An idle account is refreshed at least this often, so its refresh chain never ages out.
pub const KEEPALIVE_MS: Millis = 3 * 24 * 3_600_000;
/// A token expiring within this is refreshed before it is handed out.
pub const ON_DEMAND_MS: Millis = 60_000;
/// One account's refresh token is spent at most this often, whatever the token's lifetime or the
/// clock say (the token keeper's pacing doubles it while new tokens come back already due).
pub const REFRESH_FLOOR_MS: Millis = 60_000;

/// When the access token stops working, if it ever does: `expires`, or for ChatGPT the JWT `exp`
/// claim when that is earlier. `None` for API keys, well-known tokens and Copilot.
pub fn effective_expiry(provider_id: &str, auth: &Auth) -> Option<Millis> {
    let Auth::Oauth { access, expires, .. } = auth else {
        return None;
    };
    if is_copilot(provider_id) {
        return None;
    }
    let stated = (*expires > 0).then_some(*expires);
    let claimed = jwt_time(access, "exp");
    match (stated, claimed) {
        (Some(s), Some(c)) => Some(s.min(c)),
        (s, c) => s.or(c),
    }
}

/// The access token's lifetime from its JWT `iat`/`exp`, when it carries them.
pub fn jwt_lifetime(auth: &Auth) -> Option<Millis> {
    let Auth::Oauth { access, .. } = auth else {
        return None;
    };
    let (iat, exp) = (jwt_time(access, "iat")?, jwt_time(access, "exp")?);
    (exp > iat).then_some(exp - iat)
}

/// A JWT time claim (seconds) in milliseconds.
fn jwt_time(token: &str, claim: &str) -> Option<Millis> {
    let secs = jwt_claims(token)?.get(claim)?.as_f64()?;
    (secs.is_finite() && secs > 0.0 && secs < 1e11).then_some((secs * 1000.0) as Millis)
}

/// How long before expiry the refresh happens: 10 min or a tenth of the lifetime, whichever is
/// shorter (10 min when the lifetime is unknown).
pub fn lead_ms(lifetime_ms: Option<Millis>) -> Millis {
    lifetime_ms.map_or(LEAD_MAX_MS, |l| (l / 10).clamp(1_000, LEAD_MAX_MS))
}

/// When the background refresh of a credential expiring at `expiry` (last refreshed or saved at
/// `refreshed_at`) is due: the lead window before expiry, or the keep-alive, whichever is first.
/// A token whose lifetime its claims do not give (Claude's opaque ones) is taken to live from
/// `refreshed_at` to `expiry`, so a short `expires_in` gets a short lead, not a lead longer than
/// the token lives. (The token keeper's pacing keeps the floor between refreshes.)
pub fn next_refresh_at(expiry: Millis, lifetime_ms: Option<Millis>, refreshed_at: Millis) -> Millis {
    let lifetime = lifetime_ms.or_else(|| (refreshed_at > 0 && expiry > refreshed_at).then(|| expiry - refreshed_at));
    (expiry - lead_ms(lifetime)).min(refreshed_at.saturating_add(KEEPALIVE_MS))
}

/// What a user does about an account that needs a new login.
pub fn login_hint(provider_id: &str) -> String {
    format!("run /connect {provider_id} in opencode")
}

/// Whether a token expiring at `expiry` must be refreshed before it is handed out at `now`.
pub fn refresh_before_use(expiry: Option<Millis>, now: Millis) -> bool {
    expiry.is_some_and(|e| e - now < ON_DEMAND_MS)
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn jwt(claims: serde_json::Value) -> String {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("eyJhbGciOiJub25lIn0.{body}.FAKE-signature")
    }

    fn oauth(access: &str, expires: Millis) -> Auth {
        Auth::Oauth {
            refresh: "rt-FAKE-policy".into(),
            access: access.into(),
            expires,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        }
    }

    #[test]
    fn the_earlier_of_expires_and_the_jwt_exp_is_when_a_chatgpt_token_stops_working() {
        let access = jwt(serde_json::json!({"exp": (NOW + 1_800_000) / 1000, "iat": NOW / 1000}));
        assert_eq!(
            effective_expiry("openai", &oauth(&access, NOW + 3_600_000)),
            Some(NOW + 1_800_000)
        );
        assert_eq!(
            effective_expiry("openai", &oauth(&access, NOW + 60_000)),
            Some(NOW + 60_000)
        );
        assert_eq!(effective_expiry("openai", &oauth(&access, 0)), Some(NOW + 1_800_000));
        assert_eq!(jwt_lifetime(&oauth(&access, 0)), Some(1_800_000));
    }

    #[test]
    fn opaque_tokens_use_expires_and_copilot_and_keys_never_expire() {
        assert_eq!(
            effective_expiry("anthropic", &oauth("sk-ant-oat01-FAKE", NOW)),
            Some(NOW)
        );
        assert_eq!(effective_expiry("anthropic", &oauth("sk-ant-oat01-FAKE", 0)), None);
        assert_eq!(effective_expiry("github-copilot", &oauth("tid=FAKE", NOW)), None);
        assert_eq!(effective_expiry("openai", &Auth::test_api("sk-FAKE")), None);
    }

    #[test]
    fn the_lead_is_a_tenth_of_the_lifetime_up_to_ten_minutes() {
        assert_eq!(lead_ms(None), LEAD_MAX_MS);
        assert_eq!(lead_ms(Some(8 * 3_600_000)), LEAD_MAX_MS);
        assert_eq!(lead_ms(Some(3_600_000)), 360_000);
        assert_eq!(lead_ms(Some(5_000)), 1_000, "never under a second");
    }

    #[test]
    fn the_background_refresh_comes_before_expiry_or_at_the_keepalive() {
        assert_eq!(next_refresh_at(NOW + 3_600_000, Some(3_600_000), NOW), NOW + 3_240_000);
        let far = NOW + 30 * 24 * 3_600_000;
        assert_eq!(next_refresh_at(far, None, NOW), NOW + KEEPALIVE_MS);
    }

    #[test]
    fn an_opaque_token_shorter_lived_than_the_lead_is_refreshed_near_its_end_not_at_once() {
        // Claude's opaque tokens carry no iat: the lifetime is the time since the refresh.
        assert_eq!(next_refresh_at(NOW + 300_000, None, NOW), NOW + 270_000);
        assert_eq!(
            next_refresh_at(NOW + 8 * 3_600_000, None, NOW),
            NOW + 8 * 3_600_000 - LEAD_MAX_MS
        );
        // Expired before it was saved (a clock ahead of it): due now; the keeper's pacing spaces it.
        assert_eq!(next_refresh_at(NOW - 1, None, NOW), NOW - 1 - LEAD_MAX_MS);
    }

    #[test]
    fn a_token_expiring_within_a_minute_is_refreshed_before_use() {
        assert!(refresh_before_use(Some(NOW + 59_999), NOW));
        assert!(refresh_before_use(Some(NOW - 1), NOW));
        assert!(!refresh_before_use(Some(NOW + 60_000), NOW));
        assert!(!refresh_before_use(None, NOW));
    }
}
