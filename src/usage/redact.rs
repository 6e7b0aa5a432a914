//! Redaction, applied to everything the usage refresher lets out (stored payloads, snapshots,
//! errors, events, logs): every occurrence of a secret value becomes `[redacted]`, JWT-shaped
//! strings too, and a key that names a credential (token, key, secret, password, authorization,
//! cookie, …) is blanked whatever its value.

use serde_json::Value;

pub const REDACTED: &str = "[redacted]";
/// Secrets shorter than this are not searched for (they would shred ordinary text); no real
/// credential is this short.
pub const MIN_SECRET_LEN: usize = 6;

/// A piece of a secret this long is redacted wherever it appears: a provider that echoes a
/// credential cut short or masked (`sk-proj-abc…xyz`) must not get the rest of it stored.
pub const MIN_PIECE_LEN: usize = 12;

/// Replaces every run of `text` that is a piece of `secret` at least [`MIN_PIECE_LEN`] long.
/// `secret` is ASCII, so a match never splits a character of `text`.
fn redact_pieces(text: &str, secret: &str) -> String {
    let (t, s) = (text.as_bytes(), secret.as_bytes());
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for j in 0..=s.len() - MIN_PIECE_LEN {
        let window = &secret[j..j + MIN_PIECE_LEN];
        for (i, _) in text.match_indices(window) {
            let len = t[i..].iter().zip(&s[j..]).take_while(|(a, b)| a == b).count();
            spans.push((i, i + len));
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if end <= at {
            continue;
        }
        if start >= at {
            out.push_str(&text[at..start]);
            out.push_str(REDACTED);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

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

/// `text` with every secret (and every JWT-shaped word) replaced by `[redacted]`.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    let mut secrets: Vec<&str> = secrets
        .iter()
        .map(|s| s.trim())
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in &secrets {
        if out.contains(s) {
            out = out.replace(s, REDACTED);
        }
    }
    // Pieces after every whole secret: secrets sharing a piece must not cut each other up.
    for s in secrets {
        if s.len() >= MIN_PIECE_LEN && s.is_ascii() {
            out = redact_pieces(&out, s);
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

/// Redacts a JSON value in place: credential-named keys are blanked (`""`), every string has its
/// secrets replaced, keys too.
pub fn redact_json(value: &mut Value, secrets: &[&str]) {
    match value {
        Value::String(s) => *s = redact_text(s, secrets),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, secrets)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                if is_credential_key(&k) {
                    v = Value::String(String::new());
                } else {
                    redact_json(&mut v, secrets);
                }
                map.insert(redact_text(&k, secrets), v);
            }
        }
        _ => {}
    }
}

/// The redacted JSON text of `value`.
pub fn redacted_json_text(mut value: Value, secrets: &[&str]) -> String {
    redact_json(&mut value, secrets);
    // Serialising may escape characters, so the text is scanned once more.
    redact_text(&value.to_string(), secrets)
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
