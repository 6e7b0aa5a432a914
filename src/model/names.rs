//! Alias normalization and provider id validation (docs/protocol.md "Shapes").

/// Trims, lowercases, turns every run of characters outside `[a-z0-9._-]` into `-`, and strips
/// leading and trailing `-`. `None` when nothing is left.
pub fn normalize_alias(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut in_run = false;
    for c in raw.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() || trimmed.len() > 64 {
        None
    } else {
        Some(trimmed.to_string())
    }
}

/// A provider id as opencode names providers: 1–64 characters of `[A-Za-z0-9._-]`.
pub fn validate_provider(raw: &str) -> Option<&str> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_is_normalized_as_the_protocol_says() {
        assert_eq!(normalize_alias("  Work Account  ").as_deref(), Some("work-account"));
        assert_eq!(normalize_alias("a@@b!!c").as_deref(), Some("a-b-c"));
        assert_eq!(normalize_alias("--x.y_z--").as_deref(), Some("x.y_z"));
        assert_eq!(normalize_alias("Ünïcode").as_deref(), Some("n-code"));
        assert_eq!(normalize_alias(" !!! "), None);
        assert_eq!(normalize_alias(""), None);
    }

    #[test]
    fn provider_ids_are_checked_not_rewritten() {
        assert_eq!(validate_provider("github-copilot"), Some("github-copilot"));
        assert_eq!(validate_provider("bad id"), None);
        assert_eq!(validate_provider(""), None);
    }
}
