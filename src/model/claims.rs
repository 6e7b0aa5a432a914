//! Token claims that leave the token — ChatGPT's account id and compute residency become header
//! values, an account's identity and auth.json's `accountId` — are used only when they match a
//! strict shape; a claim that does not is ignored, with a log line that never prints it.

use base64::Engine;
use serde_json::Value;

/// The longest account id used (ChatGPT's are UUIDs, organisation ids `org-…`).
pub const MAX_ACCOUNT_ID: usize = 128;
/// The longest compute residency used (`us`, `eu`, …).
pub const MAX_RESIDENCY: usize = 32;

/// The namespace of OpenAI's own claims in a ChatGPT token.
pub const OPENAI_AUTH_CLAIM: &str = "https://api.openai.com/auth";

fn word(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An account id: 1–128 of `A-Z a-z 0-9 - _`.
pub fn is_account_id(s: &str) -> bool {
    word(s, MAX_ACCOUNT_ID)
}

/// A compute residency: 1–32 of `A-Z a-z 0-9 - _`.
pub fn is_residency(s: &str) -> bool {
    word(s, MAX_RESIDENCY)
}

/// `value` when it has the shape `ok` wants; else `None`, logged by the claim's `name` and the
/// value's length only (an empty value is simply absent and not logged).
pub fn checked(name: &str, value: &str, ok: fn(&str) -> bool) -> Option<String> {
    if ok(value) {
        return Some(value.to_string());
    }
    if !value.is_empty() {
        tracing::warn!(
            claim = name,
            chars = value.chars().count(),
            "a token claim of the wrong shape is ignored (not sent, stored or synced)"
        );
    }
    None
}

/// The first of `paths` (each a list of object keys, or array indexes as digits) that leads to a
/// string of the right shape; strings of the wrong shape are logged and passed over.
pub fn first_checked(claims: &Value, paths: &[&[&str]], name: &str, ok: fn(&str) -> bool) -> Option<String> {
    paths.iter().find_map(|path| {
        let value = path.iter().try_fold(claims, |v, key| step(v, key))?.as_str()?;
        checked(name, value, ok)
    })
}

/// One key down: an object's member, or an array's item by its index in digits.
fn step<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => v.get(key),
    }
}

/// The claims of a JWT, unverified (used only to name and identify accounts).
pub(crate) fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn account_ids_are_short_words_of_letters_digits_dashes_and_underscores() {
        for good in [
            "acct-42",
            "org_ABC-1",
            "3f6a2c1e-9d4b-4f1a-8b7e-0c2d5e6f7a8b",
            &"a".repeat(128),
        ] {
            assert!(is_account_id(good), "{good}");
        }
        for bad in [
            "",
            "acct\r\nx-injected: 1",
            "acct\n",
            "acct\"}",
            "acct\\u0000",
            "a b",
            "acct:1",
            "acct/../x",
            "ácct",
            &"a".repeat(129),
        ] {
            assert!(!is_account_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn residencies_are_short_tokens() {
        assert!(is_residency("eu") && is_residency("us-west_2"));
        for bad in ["", "eu\r\nx: 1", "eu ", "e;u", &"e".repeat(33)] {
            assert!(!is_residency(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_claim_of_the_wrong_shape_is_passed_over_for_the_next_path() {
        let claims = json!({"id": "bad\r\nid", OPENAI_AUTH_CLAIM: {"id": "good-id"}});
        let got = first_checked(&claims, &[&["id"], &[OPENAI_AUTH_CLAIM, "id"]], "id", is_account_id);
        assert_eq!(got.as_deref(), Some("good-id"));
        let listed = json!({"orgs": [{"id": "org-1"}]});
        assert_eq!(
            first_checked(&listed, &[&["orgs", "0", "id"]], "id", is_account_id).as_deref(),
            Some("org-1")
        );
        let none = json!({"id": "bad\r\nid", "n": 5});
        assert_eq!(
            first_checked(&none, &[&["id"], &["n"], &["missing", "x"]], "id", is_account_id),
            None
        );
    }

    fn jwt(claims: Value) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("eyJhbGciOiJub25lIn0.{body}.FAKE-signature")
    }

    fn oauth(access: &str, account_id: Option<&str>) -> crate::model::Auth {
        crate::model::Auth::Oauth {
            refresh: "rt-FAKE".into(),
            access: access.into(),
            expires: 0,
            account_id: account_id.map(str::to_string),
            enterprise_url: None,
            metadata: None,
        }
    }

    const HOSTILE: &str = "acct\"}\r\nx-injected: FAKE";

    #[test]
    fn a_hostile_claim_is_never_the_account_id_the_identity_the_name_or_the_residency() {
        let access = jwt(
            json!({OPENAI_AUTH_CLAIM: {"chatgpt_account_id": HOSTILE, "chatgpt_compute_residency": "eu\r\nx: 1"},
                                "chatgpt_compute_residency": "us\nx"}),
        );
        for auth in [oauth(&access, None), oauth(&access, Some(HOSTILE))] {
            assert_eq!(auth.account_id(), None);
            assert_eq!(auth.chatgpt_residency(), None);
            assert!(
                auth.identity().starts_with("oauth-refresh:sha256:"),
                "{}",
                auth.identity()
            );
            assert_eq!(auth.display_name(), None);
        }
        // A hostile `accountId` gives way to a well-shaped claim, and a good one is used as is.
        let good = jwt(json!({OPENAI_AUTH_CLAIM: {"chatgpt_account_id": "acct-FAKE-1"}}));
        assert_eq!(oauth(&good, Some(HOSTILE)).account_id().as_deref(), Some("acct-FAKE-1"));
        assert_eq!(
            oauth(&good, Some("acct-FAKE-2")).identity(),
            "oauth-account:acct-FAKE-2"
        );
        // What is synced to opencode never carries it either.
        let synced = |id: &str| match oauth(&good, Some(id)).as_opencode_keeps() {
            crate::model::Auth::Oauth { account_id, .. } => account_id,
            _ => unreachable!(),
        };
        assert_eq!(synced(HOSTILE), None);
        assert_eq!(synced("acct-FAKE-2").as_deref(), Some("acct-FAKE-2"));
    }
}
