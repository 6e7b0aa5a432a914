//! Human-readable text for accounts, priority, settings and events (CLI and `/balancer`).

use std::fmt::Write;

use crate::model::{AccountView, Millis, PriorityEntry, StoredEvent, UsageSnapshot};

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
            "cooling down {} ({})",
            relative(until, now),
            a.cooldown_reason.as_deref().unwrap_or("rate_limit")
        ),
        None => "healthy".into(),
    }
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
        let _ = writeln!(
            out,
            "  {marker} {:<20} {:<7} {}{}{}",
            a.alias,
            a.auth_type,
            account_state(a, now),
            if a.failures > 0 {
                format!(", {} failures", a.failures)
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
            e.model_id.as_deref().unwrap_or("(none)"),
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
        let _ = writeln!(out, "{:>10}  {:<28} {}", relative(e.created_at, now), e.kind, e.message);
    }
    out
}
