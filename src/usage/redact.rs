//! Redaction, applied to everything the usage refresher lets out (stored payloads, snapshots,
//! errors, events, logs): every occurrence of a secret value becomes `[redacted]`, JWT-shaped
//! strings too, and a key that names a credential (token, key, secret, password, authorization,
//! cookie, …) is blanked whatever its value.

use std::collections::HashMap;

use serde_json::Value;

pub const REDACTED: &str = "[redacted]";
/// Secrets shorter than this are not searched for (they would shred ordinary text); no real
/// credential is this short.
pub const MIN_SECRET_LEN: usize = 6;

/// A piece of a secret this long is redacted wherever it appears: a provider that echoes a
/// credential cut short or masked (`sk-proj-abc…xyz`) must not get the rest of it stored.
pub const MIN_PIECE_LEN: usize = 12;

/// Words that, as the last word of a key, make it a credential (`access_token`, `apiKey`, `x-api-key`).
const CREDENTIAL_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "authorization",
    "auth",
    "cookie",
    "credential",
    "credentials",
    "bearer",
    "session",
];
/// Whole keys that name a credential though their last word does not.
const CREDENTIAL_KEYS: &[&str] = &[
    "apikey",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "clientsecret",
    "setcookie",
];

/// Does this object key name a credential? `access_token`, `refreshToken`, `x-api-key`,
/// `Authorization` do; `input_tokens`, `token_type`, `api_key_id`, `monkey` do not.
pub fn is_credential_key(key: &str) -> bool {
    let words = split_words(key);
    let joined: String = words.concat();
    if CREDENTIAL_KEYS.contains(&joined.as_str()) {
        return true;
    }
    words.last().is_some_and(|w| CREDENTIAL_WORDS.contains(&w.as_str()))
}

/// `refreshToken` → `[refresh, token]`, `x-api-key` → `[x, api, key]`.
fn split_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// A string that looks like a JWT (`eyJ….….…`).
fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| {
            p.len() >= 4
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
        })
}

/// Every secret of one credential, ready to redact any number of texts: whole secrets, every
/// piece of one at least [`MIN_PIECE_LEN`] long, and JWT-shaped words. Built once per answer.
pub struct Redactor<'a> {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<&'a str>,
    /// Each `MIN_PIECE_LEN`-byte window of an ASCII secret: (secret, offset) of its first few
    /// occurrences.
    windows: HashMap<&'a [u8], Vec<(usize, usize)>>,
}

/// Where a window may occur in secrets, at most (a periodic secret repeats its windows).
const MAX_PLACES: usize = 4;

impl<'a> Redactor<'a> {
    pub fn new(secrets: &[&'a str]) -> Redactor<'a> {
        let mut secrets: Vec<&'a str> = secrets
            .iter()
            .map(|s| s.trim())
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut windows: HashMap<&'a [u8], Vec<(usize, usize)>> = HashMap::new();
        for (k, s) in secrets.iter().enumerate() {
            if s.len() < MIN_PIECE_LEN || !s.is_ascii() {
                continue;
            }
            for (j, w) in s.as_bytes().windows(MIN_PIECE_LEN).enumerate() {
                let places = windows.entry(w).or_default();
                if places.len() < MAX_PLACES {
                    places.push((k, j));
                }
            }
        }
        Redactor { secrets, windows }
    }

    /// `text` with every secret, every long piece of one and every JWT-shaped word replaced by
    /// `[redacted]`.
    pub fn text(&self, text: &str) -> String {
        // Pieces first: a run is redacted to its full length over every secret it belongs to (a
        // secret repeated, or two secrets sharing a prefix, leave no tail).
        let mut out = self.pieces(text.to_string());
        for s in &self.secrets {
            if out.contains(s) {
                out = out.replace(s, REDACTED);
            }
        }
        if out.contains("eyJ") {
            out = out
                .split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == ';')
                .map(|word| {
                    let bare = word.trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == ';');
                    if looks_like_jwt(bare) {
                        word.replacen(bare, REDACTED, 1)
                    } else {
                        word.to_string()
                    }
                })
                .collect();
        }
        out
    }

    /// Replaces every run of `text` that is a piece of a secret at least [`MIN_PIECE_LEN`] long,
    /// in one pass over the text. Secrets searched for pieces are ASCII, so a run never splits a
    /// character.
    fn pieces(&self, text: String) -> String {
        let t = text.as_bytes();
        if self.windows.is_empty() || t.len() < MIN_PIECE_LEN {
            return text;
        }
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for i in 0..=t.len() - MIN_PIECE_LEN {
            let Some(places) = self.windows.get(&t[i..i + MIN_PIECE_LEN]) else {
                continue;
            };
            let len = places
                .iter()
                .map(|&(k, j)| {
                    let s = &self.secrets[k].as_bytes()[j..];
                    t[i..].iter().zip(s).take_while(|(a, b)| a == b).count()
                })
                .max()
                .unwrap_or(0);
            match spans.last_mut() {
                Some((_, end)) if i <= *end => *end = (*end).max(i + len),
                _ => spans.push((i, i + len)),
            }
        }
        if spans.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in spans {
            out.push_str(&text[at..start]);
            out.push_str(REDACTED);
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Redacts a JSON value in place: credential-named keys are blanked (`""`), every string has
    /// its secrets replaced, keys too.
    pub fn json(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    if is_credential_key(&k) {
                        v = Value::String(String::new());
                    } else {
                        self.json(&mut v);
                    }
                    map.insert(self.text(&k), v);
                }
            }
            _ => {}
        }
    }
}

/// `text` with every secret (and every JWT-shaped word) replaced by `[redacted]`.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    Redactor::new(secrets).text(text)
}

/// Redacts a JSON value in place; see [`Redactor::json`].
pub fn redact_json(value: &mut Value, secrets: &[&str]) {
    Redactor::new(secrets).json(value)
}

/// The redacted JSON text of `value`.
pub fn redacted_json_text(mut value: Value, secrets: &[&str]) -> String {
    let r = Redactor::new(secrets);
    r.json(&mut value);
    // Serialising may escape characters, so the text is scanned once more.
    r.text(&value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "at-fake-SECRET-0123456789";

    #[test]
    fn a_secret_echoed_cut_short_or_masked_is_redacted_piece_by_piece() {
        let text = format!(
            "key {}… masked {}****{} ok",
            &SECRET[..14],
            &SECRET[..12],
            &SECRET[SECRET.len() - 12..]
        );
        let out = redact_text(&text, &[SECRET]);
        assert_eq!(out, "key [redacted]… masked [redacted]****[redacted] ok");
        let short = format!("{} is fine", &SECRET[..11]);
        assert_eq!(
            redact_text(&short, &[SECRET]),
            short,
            "shorter pieces are ordinary text"
        );
    }

    #[test]
    fn secrets_sharing_a_long_prefix_do_not_cut_each_other_up() {
        let longer = format!("{SECRET}-and-more");
        let text = format!("Bearer a{SECRET}1 and {longer}");
        let out = redact_text(&text, &[&longer, SECRET]);
        assert_eq!(out, "Bearer a[redacted]1 and [redacted]");
    }

    #[test]
    fn a_repeating_secret_repeated_longer_in_the_text_leaves_no_tail() {
        let secret = "ab".repeat(8);
        let text = format!("é{}é", "ab".repeat(11));
        assert_eq!(redact_text(&text, &[&secret]), "é[redacted]é");
    }

    #[test]
    fn one_redactor_serves_many_texts_with_the_same_answers() {
        let r = Redactor::new(&[SECRET]);
        let piece = &SECRET[3..17];
        for text in [format!("x{piece}y"), format!("«{piece}»"), "plain".to_string()] {
            assert_eq!(r.text(&text), redact_text(&text, &[SECRET]));
        }
        assert_eq!(r.text(&format!("«{piece}»")), "«[redacted]»");
    }

    #[test]
    fn a_long_piece_every_window_matches_becomes_one_redaction() {
        let text = format!("<{}>", &SECRET[2..20]);
        assert_eq!(redact_text(&text, &[SECRET]), "<[redacted]>");
    }

    #[test]
    fn credential_keys_are_told_from_counters() {
        for k in [
            "access_token",
            "refresh_token",
            "id_token",
            "refreshToken",
            "apiKey",
            "api_key",
            "x-api-key",
            "Authorization",
            "client_secret",
            "password",
            "token",
            "key",
            "Set-Cookie",
            "session",
        ] {
            assert!(is_credential_key(k), "{k}");
        }
        for k in [
            "input_tokens",
            "output_tokens",
            "token_type",
            "api_key_id",
            "monkey",
            "used_percent",
            "keyboard",
            "tokens_used",
        ] {
            assert!(!is_credential_key(k), "{k}");
        }
    }

    #[test]
    fn secrets_anywhere_are_replaced_and_credential_keys_blanked() {
        let mut v = json!({
            "plan": "plus",
            "echo": format!("Bearer {SECRET}"),
            "nested": [{"note": format!("token={SECRET};"), "access_token": "short"}],
            "refreshToken": {"deep": SECRET},
            SECRET: 1,
            "input_tokens": 1200,
            "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.c2lnbmF0dXJl",
        });
        redact_json(&mut v, &[SECRET]);
        let text = v.to_string();
        assert!(!text.contains(SECRET), "{text}");
        assert_eq!(v["echo"], "Bearer [redacted]");
        assert_eq!(v["nested"][0]["note"], "token=[redacted];");
        assert_eq!(v["nested"][0]["access_token"], "");
        assert_eq!(v["refreshToken"], "");
        assert_eq!(v[REDACTED], 1);
        assert_eq!(v["input_tokens"], 1200, "counters survive");
        assert_eq!(v["jwt"], REDACTED);
        assert_eq!(v["plan"], "plus");
    }

    #[test]
    fn text_redaction_handles_overlaps_short_values_and_jwts() {
        let long = "sk-fake-abcdef-LONGER";
        let short = "sk-fake-abcdef";
        assert_eq!(
            redact_text(&format!("a {long} b {short} c"), &[short, long]),
            "a [redacted] b [redacted] c"
        );
        assert_eq!(redact_text("key abc", &["abc"]), "key abc", "too short to search for");
        assert_eq!(
            redact_text("got eyJhbGciOiJub25lIn0.eyJhIjoxfQ.c2ln, then", &[]),
            "got [redacted], then"
        );
        assert_eq!(redact_text("no secrets here", &[SECRET]), "no secrets here");
    }

    #[test]
    fn the_json_text_is_clean_even_when_escaping_changes_it() {
        let secret = "sk-fake-\"quoted\"-value";
        let text = redacted_json_text(json!({"note": secret}), &[secret]);
        assert!(!text.contains("quoted"), "{text}");
    }
}
