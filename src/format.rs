//! Human-readable text for accounts, priority, settings and events (CLI and `/balancer`).

use std::fmt::Write;

use crate::model::{AccountView, CooldownReason, Millis, PriorityEntry, StoredEvent, UsageSnapshot};
use crate::safe_text::safe;

/// "in 4m 10s" / "3m ago" style durations.
pub fn relative(ms: Millis, now: Millis) -> String {
    let d = (ms - now).abs() / 1000;
    let text = if d >= 3600 {
        format!("{}h {}m", d / 3600, (d % 3600) / 60)
    } else if d >= 60 {
        format!("{}m {}s", d / 60, d % 60)
    } else {
        format!("{d}s")
    };
    if ms >= now {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

pub fn account_state(a: &AccountView, now: Millis) -> String {
    if a.disabled {
        return "disabled".into();
    }
    match a.cooling_down_until {
        Some(until) if a.auth_failed => format!("auth failed (retry {})", relative(until, now)),
        Some(until) => format!(
            "cooling down, ready {} ({})",
            relative(until, now),
            a.cooldown_reason.unwrap_or(CooldownReason::RateLimit).as_str()
        ),
        None => "healthy".into(),
    }
}

/// A coarse duration for what is hours or days away: "42m", "3h 5m", "2d 4h".
fn coarse(ms: Millis) -> String {
    let m = ms.max(0) / 60_000;
    match m {
        0 => "under a minute".into(),
        1..=59 => format!("{m}m"),
        60..=1439 => format!("{}h {}m", m / 60, m % 60),
        _ => format!("{}d {}h", m / 1440, (m % 1440) / 60),
    }
}

/// What an OAuth account's login needs said: "needs login: /connect <provider>" when it was
/// refused for good, else when its token expires ("token expires in 42m", "token expired");
/// `None` for logins that never expire and API keys.
pub fn token_note(a: &AccountView, now: Millis) -> Option<String> {
    if a.login_required {
        return Some(format!("needs login: /connect {}", a.provider_id));
    }
    let at = a.token_expires_at?;
    Some(if at > now {
        format!("token expires in {}", coarse(at - now))
    } else {
        "token expired".into()
    })
}

pub fn usage_summary(u: &UsageSnapshot) -> String {
    match u.used_percent {
        Some(p) => format!("{p:.0}% used"),
        None => u.message.clone(),
    }
}

pub fn accounts(list: &[AccountView], now: Millis) -> String {
    if list.is_empty() {
        return "No saved accounts. Connect one in opencode (/connect) or run `opencode-balancer accounts add <provider> <alias>`.\n".into();
    }
    let mut out = String::new();
    let mut provider = "";
    for a in list {
        if a.provider_id != provider {
            provider = &a.provider_id;
            let _ = writeln!(out, "{provider}");
        }
        let marker = if a.active { "*" } else { " " };
        let usage = a.usage.as_ref().map(usage_summary).unwrap_or_default();
        let token = token_note(a, now).map(|n| format!(", {n}")).unwrap_or_default();
        let owner = owner_note(a).map(|n| format!(", {n}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {marker} {:<20} {:<7} {}{token}{owner}{}{}",
            a.alias,
            a.auth_type,
            account_state(a, now),
            if a.failures > 0 {
                format!(", {} failure{}", a.failures, if a.failures == 1 { "" } else { "s" })
            } else {
                String::new()
            },
            if usage.is_empty() {
                String::new()
            } else {
                format!(", {usage}")
            },
        );
    }
    out
}

/// Who holds an account's credential when the balancer does not (`owned by opencode2, cred_…`).
fn owner_note(a: &AccountView) -> Option<String> {
    let owner = a.owner.as_deref()?;
    Some(match &a.credential_id {
        Some(id) => format!("owned by {owner} ({id})"),
        None => format!("owned by {owner}"),
    })
}

pub fn priority(list: &[PriorityEntry]) -> String {
    if list.is_empty() {
        return "The priority list is empty: it fills as accounts are saved.\n".into();
    }
    let mut out = String::new();
    for e in list {
        let _ = writeln!(
            out,
            "{}. {:<20} model: {:<24} {}",
            e.position + 1,
            e.provider_id,
            safe(e.model_id.as_deref().unwrap_or("(none)")),
            if e.enabled { "enabled" } else { "disabled" }
        );
    }
    out
}

pub fn events(list: &[StoredEvent], now: Millis) -> String {
    if list.is_empty() {
        return "No events yet.\n".into();
    }
    let mut out = String::new();
    for e in list {
        // One value, one line: a newline in a message is escaped too, not only controls.
        let (kind, message) = (safe(&e.kind), safe(&e.message));
        let _ = writeln!(out, "{:>10}  {kind:<28} {message}", relative(e.created_at, now));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn oauth(alias: &str, expires: Option<Millis>, login_required: bool) -> AccountView {
        AccountView {
            provider_id: "anthropic".into(),
            alias: alias.into(),
            auth_type: "oauth".into(),
            active: false,
            disabled: false,
            cooling_down_until: None,
            cooldown_reason: None,
            auth_failed: false,
            failures: 0,
            last_used_at: None,
            created_at: 0,
            usage: None,
            token_expires_at: expires,
            login_required,
            login_hint: None,
            owner: None,
            credential_id: None,
        }
    }

    #[test]
    fn each_oauth_account_says_when_its_token_expires_or_that_it_needs_a_login() {
        let list = [
            oauth("soon", Some(NOW + 42 * 60_000 + 5_000), false),
            oauth("later", Some(NOW + 26 * 3_600_000), false),
            oauth("gone", Some(NOW - 1), false),
            oauth("refused", Some(NOW + 60_000), true),
            oauth("never", None, false),
        ];
        let text = accounts(&list, NOW);
        assert!(
            text.contains("soon                 oauth   healthy, token expires in 42m\n"),
            "{text}"
        );
        assert!(
            text.contains("later                oauth   healthy, token expires in 1d 2h\n"),
            "{text}"
        );
        assert!(
            text.contains("gone                 oauth   healthy, token expired\n"),
            "{text}"
        );
        assert!(
            text.contains("refused              oauth   healthy, needs login: /connect anthropic\n"),
            "{text}"
        );
        assert!(text.contains("never                oauth   healthy\n"), "{text}");
    }

    #[test]
    fn a_cooldown_says_when_the_account_is_ready_and_failures_are_counted_in_plain_words() {
        let mut one = oauth("one", None, false);
        one.cooling_down_until = Some(NOW + 70_000);
        one.failures = 1;
        let mut two = oauth("two", None, false);
        two.failures = 2;
        let text = accounts(&[one, two], NOW);
        assert!(
            text.contains("cooling down, ready in 1m 10s (rate_limit), 1 failure\n"),
            "{text}"
        );
        assert!(text.contains("healthy, 2 failures\n"), "{text}");
    }

    #[test]
    fn an_event_message_or_model_id_cannot_start_a_line_of_its_own() {
        let e = StoredEvent {
            id: 1,
            kind: "usage_error".into(),
            provider_id: None,
            alias: None,
            message: "ok\n    1m ago  account_saved  forged\u{1b}[2J".into(),
            created_at: NOW,
            metadata: Default::default(),
        };
        let text = events(&[e], NOW);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("ok\\u{a}    1m ago  account_saved  forged\\u{1b}[2J"),
            "{text}"
        );
        let p = PriorityEntry {
            provider_id: "openai".into(),
            position: 0,
            model_id: Some("gpt\n2. forged".into()),
            enabled: true,
        };
        assert_eq!(priority(&[p]).lines().count(), 1);
    }
}
