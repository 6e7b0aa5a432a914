//! Alias normalization, provider id validation (docs/protocol.md "Shapes"), and the provider ids
//! that need a rule of their own.

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

/// The longest model id `priority.setModel` takes, in bytes.
pub const MAX_MODEL_ID: usize = 256;

/// A model id for the priority list: trimmed, `None` when nothing is left (no model). Refused
/// (without repeating it) when it holds a control or bidi character, which no model is named
/// with and which would reach every screen that shows it, or is longer than [`MAX_MODEL_ID`].
pub fn validate_model(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(model) = raw.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    if model.chars().any(crate::safe_text::is_unsafe) {
        return Err("invalid model id: it holds a control or bidi-override character; nothing was changed".into());
    }
    if model.len() > MAX_MODEL_ID {
        return Err(format!(
            "invalid model id: longer than {MAX_MODEL_ID} bytes; nothing was changed"
        ));
    }
    Ok(Some(model.to_string()))
}

/// GitHub Copilot's provider ids: its bearer is the GitHub OAuth token in `refresh`, which does
/// not expire; `access`/`expires` are not used (opencode 1.18.33).
pub fn is_copilot(provider_id: &str) -> bool {
    matches!(provider_id, "github-copilot" | "copilot" | "github-copilot-enterprise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_id_with_a_control_or_bidi_character_is_refused_without_repeating_it() {
        for bad in [
            "gpt\u{1b}]0;x\u{7}",
            "m\u{9b}2J",
            "a\u{202e}b",
            "a\u{2066}b",
            "a\u{7f}",
            "a\nb",
            "a\u{61c}",
        ] {
            let e = validate_model(Some(bad)).unwrap_err();
            assert!(!e.contains(bad) && e.contains("nothing was changed"), "{e}");
        }
        assert!(validate_model(Some(&"m".repeat(MAX_MODEL_ID + 1))).is_err());
        assert_eq!(
            validate_model(Some(" claude-sonnet-4.5 ")),
            Ok(Some("claude-sonnet-4.5".into()))
        );
        assert_eq!(
            validate_model(Some("openrouter/anthropic/claude:beta")),
            Ok(Some("openrouter/anthropic/claude:beta".into()))
        );
        assert_eq!(validate_model(Some("  ")), Ok(None));
        assert_eq!(validate_model(None), Ok(None));
    }

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
