//! Usage snapshots as text for people (the CLI's `usage`).

use std::fmt::Write;

use crate::format::relative;
use crate::model::{Millis, UsageSnapshot};

/// One line per account: name, confidence, used percent, reset, what the provider said.
pub fn table(list: &[UsageSnapshot], now: Millis) -> String {
    if list.is_empty() {
        return "No saved accounts.\n".into();
    }
    let mut out = String::new();
    for u in list {
        let used = u
            .used_percent
            .map(|p| format!("{p:.0}% used"))
            .unwrap_or_else(|| "-".into());
        let reset = u
            .reset_at
            .map(|r| format!("resets {}", relative(r, now)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "{:<32} {:<11} {:<9} {:<18} {}",
            format!("{}/{}", u.provider_id, u.alias),
            u.confidence,
            used,
            reset,
            u.message
        );
        if let Some(e) = &u.error {
            let _ = write!(out, " [{e}]");
        }
        let _ = writeln!(out, " (read {})", relative(u.fetched_at, now));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::unavailable;

    #[test]
    fn one_line_per_account_with_reset_and_error() {
        let mut u = unavailable("openai", "plan", 0, "plus plan: 5h 42% used".into(), "x");
        u.confidence = crate::model::Confidence::Exact;
        u.used_percent = Some(42.0);
        u.reset_at = Some(90_000);
        u.error = None;
        let v = unavailable("mock", "a", 0, "no usage endpoint".into(), "unsupported");
        let text = table(&[u, v], 30_000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("openai/plan"), "{text}");
        assert!(
            lines[0].contains("42% used") && lines[0].contains("resets in 1m 0s"),
            "{text}"
        );
        assert!(
            lines[1].contains("unavailable") && lines[1].contains("[unsupported]"),
            "{text}"
        );
        assert_eq!(table(&[], 0), "No saved accounts.\n");
    }
}
