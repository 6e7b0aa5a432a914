//! What a provider's answer means for the account that sent it.

use crate::model::CooldownReason;

/// The class of an upstream response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: the account works.
    Success,
    /// The account must rest: 429/529, a 5xx the list names, or a quota refusal.
    Cooldown(Reason),
    /// 401: the credential was refused.
    AuthFailed,
    /// Anything else (a 4xx about the request itself): hand it back, no cooldown.
    Return,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    RateLimit,
    Quota,
    ServerError,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        CooldownReason::from(self).as_str()
    }
}

impl From<Reason> for CooldownReason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::RateLimit => CooldownReason::RateLimit,
            Reason::Quota => CooldownReason::Quota,
            Reason::ServerError => CooldownReason::ServerError,
        }
    }
}

/// Phrases (lowercase) that mark a body as a quota refusal, whatever the status.
const QUOTA_PHRASES: &[&str] = &[
    "free usage exceeded",
    "subscribe to go",
    "add credits",
    "insufficient_quota",
    "exceeded your current quota",
    "usage limit",
    "usage_limit_reached",
    "resource_exhausted",
];

/// Classifies a response by status and (for non-2xx) the first bytes of its body.
pub fn classify(status: u16, body: Option<&str>) -> Verdict {
    if (200..300).contains(&status) {
        return Verdict::Success;
    }
    if status == 401 {
        return Verdict::AuthFailed;
    }
    if body.is_some_and(is_quota_body) || matches!(status, 402 | 403) {
        return Verdict::Cooldown(Reason::Quota);
    }
    match status {
        429 | 529 => Verdict::Cooldown(Reason::RateLimit),
        500 | 502 | 503 | 504 => Verdict::Cooldown(Reason::ServerError),
        _ => Verdict::Return,
    }
}

fn is_quota_body(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    QUOTA_PHRASES.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_issue_says() {
        assert_eq!(classify(200, None), Verdict::Success);
        assert_eq!(classify(204, None), Verdict::Success);
        assert_eq!(classify(429, None), Verdict::Cooldown(Reason::RateLimit));
        assert_eq!(classify(529, None), Verdict::Cooldown(Reason::RateLimit));
        for s in [500, 502, 503, 504] {
            assert_eq!(classify(s, None), Verdict::Cooldown(Reason::ServerError));
        }
        assert_eq!(classify(402, None), Verdict::Cooldown(Reason::Quota));
        assert_eq!(classify(403, None), Verdict::Cooldown(Reason::Quota));
        assert_eq!(classify(401, None), Verdict::AuthFailed);
        for s in [400, 404, 409, 413, 422, 501] {
            assert_eq!(classify(s, Some("{\"error\":\"bad request\"}")), Verdict::Return);
        }
    }

    #[test]
    fn quota_phrases_in_the_body_win_on_any_status() {
        assert_eq!(
            classify(400, Some(r#"{"error":{"code":"insufficient_quota"}}"#)),
            Verdict::Cooldown(Reason::Quota)
        );
        assert_eq!(
            classify(429, Some("You exceeded your current quota")),
            Verdict::Cooldown(Reason::Quota)
        );
        assert_eq!(
            classify(400, Some(r#"{"status":"RESOURCE_EXHAUSTED"}"#)),
            Verdict::Cooldown(Reason::Quota)
        );
        assert_eq!(
            classify(400, Some("The usage limit has been reached")),
            Verdict::Cooldown(Reason::Quota)
        );
    }
}
