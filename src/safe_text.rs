//! Text from outside (a provider, a config, a peer) made safe to show on a terminal: control
//! characters and bidi overrides become a visible escaped form (`\u{1b}`), so nothing a usage
//! endpoint or a model id says can move the cursor, retitle or clear the screen, or reorder text.
//! The one function the CLI and the dashboard use; `tui/view.js` has its JavaScript twin.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` may not reach a terminal as it is: C0 and C1 controls (ESC, BEL, CSI `U+009B`,
/// OSC `U+009D` …), DEL, the bidi embeddings, overrides, isolates and marks, and the line and
/// paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}'
        )
}

fn escape_where(text: &str, unsafe_char: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value (a name, a message) as it may be shown: every unsafe character, newlines and tabs
/// included, escaped as `\u{…}`.
pub fn safe(text: &str) -> Cow<'_, str> {
    escape_where(text, is_unsafe)
}

/// Whole lines of output as they may be printed: as `safe`, but `\n` and `\t` are kept.
pub fn safe_lines(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c != '\n' && c != '\t' && is_unsafe(c))
}

/// JSON text as it may be printed: an unsafe character (only ever inside a string there, as the
/// JSON writer escapes C0 itself) becomes its `\uXXXX` escape, so the value parses the same.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if c != '\n' && is_unsafe(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "Pro\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}txt.exe\u{7f}\u{2066}\u{200f}\u{61c}";

    #[test]
    fn every_control_and_bidi_character_is_escaped_visibly() {
        let shown = safe(HOSTILE);
        assert!(!shown.chars().any(is_unsafe), "{shown:?}");
        assert_eq!(
            shown,
            "Pro\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}31m\\u{202e}txt.exe\\u{7f}\\u{2066}\\u{200f}\\u{61c}"
        );
    }

    #[test]
    fn a_value_cannot_start_a_line_of_its_own_but_output_keeps_its_lines() {
        assert_eq!(safe("a\nb\tc\rd"), "a\\u{a}b\\u{9}c\\u{d}d");
        assert_eq!(safe_lines("a\nb\tc\rd\u{1b}\n"), "a\nb\tc\\u{d}d\\u{1b}\n");
    }

    #[test]
    fn ordinary_text_is_untouched_and_not_copied() {
        for text in ["claude-sonnet-4.5", "Max 20× · 42% used", "日本語 ✓", ""] {
            assert!(matches!(safe(text), Cow::Borrowed(t) if t == text));
            assert!(matches!(safe_lines(text), Cow::Borrowed(_)));
            assert!(matches!(json_safe(text), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_raw_bytes() {
        let json = serde_json::to_string_pretty(&serde_json::json!({ "plan": HOSTILE })).unwrap();
        let shown = json_safe(&json);
        assert!(!shown.chars().any(|c| c != '\n' && is_unsafe(c)), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["plan"], HOSTILE);
    }
}
