//! Which credential headers make a request go out as a given account.

use std::collections::BTreeMap;

use crate::model::Auth;

/// API-key headers SDKs use, rewritten in place when present.
pub const KEY_HEADERS: &[&str] = &[
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "x-stainless-api-key",
    "anthropic-api-key",
    "cohere-api-key",
];

/// How the request's existing `authorization` header looks (from `fetch.begin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizationHint {
    Bearer,
    Other,
}

/// The headers to set: every auth header the SDK already uses is rewritten to `auth`'s token
/// (`authorization` keeps its `Bearer ` form); with none present, `authorization: Bearer`.
/// ChatGPT's account header follows the account when the request carries it.
pub fn credential_headers(
    auth: &Auth,
    header_names: &[String],
    authorization: Option<AuthorizationHint>,
) -> BTreeMap<String, String> {
    let token = auth.request_token();
    let mut out = BTreeMap::new();
    let has = |n: &str| header_names.iter().any(|h| h.eq_ignore_ascii_case(n));
    for name in KEY_HEADERS {
        if has(name) {
            out.insert(name.to_string(), token.to_string());
        }
    }
    if has("authorization") || authorization.is_some() {
        let value = match authorization {
            Some(AuthorizationHint::Other) => token.to_string(),
            _ => format!("Bearer {token}"),
        };
        out.insert("authorization".into(), value);
    }
    if out.is_empty() {
        out.insert("authorization".into(), format!("Bearer {token}"));
    }
    if has("chatgpt-account-id") {
        if let Some(id) = auth.account_id() {
            out.insert("chatgpt-account-id".into(), id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(k: &str) -> Auth {
        Auth::test_api(k)
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn x_api_key_is_rewritten_and_no_bearer_added() {
        let h = credential_headers(&api("k2"), &names(&["content-type", "x-api-key"]), None);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-api-key"], "k2");
    }

    #[test]
    fn bearer_is_kept_as_bearer() {
        let h = credential_headers(&api("k2"), &names(&["authorization"]), Some(AuthorizationHint::Bearer));
        assert_eq!(h["authorization"], "Bearer k2");
    }

    #[test]
    fn nothing_present_adds_a_bearer() {
        let h = credential_headers(&api("k2"), &names(&["content-type"]), None);
        assert_eq!(h["authorization"], "Bearer k2");
    }

    #[test]
    fn oauth_uses_the_access_token_and_moves_the_chatgpt_account() {
        let a = Auth::Oauth {
            refresh: "r".into(),
            access: "acc".into(),
            expires: 0,
            account_id: Some("id-2".into()),
            enterprise_url: None,
            metadata: None,
        };
        let h = credential_headers(
            &a,
            &names(&["authorization", "chatgpt-account-id"]),
            Some(AuthorizationHint::Bearer),
        );
        assert_eq!(h["authorization"], "Bearer acc");
        assert_eq!(h["chatgpt-account-id"], "id-2");
    }
}
