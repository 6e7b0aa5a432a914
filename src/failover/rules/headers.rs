//! Which credential headers make a request go out as a given account.

use std::collections::BTreeMap;

use crate::model::{Auth, CredentialRef};

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

/// ChatGPT's headers that belong to one account: its account id and its compute residency.
pub const CHATGPT_ACCOUNT_HEADER: &str = "chatgpt-account-id";
pub const CHATGPT_RESIDENCY_HEADER: &str = "x-openai-internal-codex-residency";

/// Every header whose presence [`credential_headers`] looks at: two requests with the same of
/// these (and the same [`AuthorizationHint`]) get the same plan.
pub fn decisive_headers() -> Vec<String> {
    let mut names: Vec<String> = KEY_HEADERS.iter().map(|h| h.to_string()).collect();
    names.extend(["authorization", CHATGPT_ACCOUNT_HEADER, CHATGPT_RESIDENCY_HEADER].map(String::from));
    names
}

/// What to change on a request so it goes out as one account: headers to set, and headers of
/// the original account that the chosen one has no value for, to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderPlan {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
    /// An opencode 2 credential: the host puts its secret where the active one's is (nothing is
    /// set or removed here; one rule, whatever the balancer may hold of it).
    pub credential: Option<CredentialRef>,
}

/// The headers to set: every auth header the SDK already uses is rewritten to `auth`'s token
/// for `provider_id` (`authorization` keeps its `Bearer ` form); with none present,
/// `authorization: Bearer`. On a ChatGPT request (one carrying `chatgpt-account-id` or the
/// residency header) both account-bound headers follow the account: set to its values, or
/// removed when it has none, so no header of the original account survives a switch.
pub fn credential_headers(
    provider_id: &str,
    auth: &Auth,
    header_names: &[String],
    authorization: Option<AuthorizationHint>,
) -> HeaderPlan {
    if let Auth::Opencode2 { credential_id, .. } = auth {
        return HeaderPlan {
            credential: Some(CredentialRef {
                id: credential_id.clone(),
                provider: provider_id.to_string(),
            }),
            ..HeaderPlan::default()
        };
    }
    let token = auth.request_token(provider_id);
    let mut plan = HeaderPlan::default();
    let out = &mut plan.set;
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
    if has(CHATGPT_ACCOUNT_HEADER) || has(CHATGPT_RESIDENCY_HEADER) {
        for (name, value) in [
            (CHATGPT_ACCOUNT_HEADER, auth.account_id()),
            (CHATGPT_RESIDENCY_HEADER, auth.chatgpt_residency()),
        ] {
            match value {
                Some(v) => {
                    out.insert(name.into(), v);
                }
                None if has(name) => plan.remove.push(name.into()),
                None => {}
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(k: &str) -> Auth {
        Auth::test_api(k)
    }

    #[test]
    fn an_opencode_2_credential_travels_as_its_id_with_no_header_whatever_the_request_has() {
        let auth = Auth::Opencode2 {
            credential_id: "cred_b".into(),
            kind: "key".into(),
        };
        for (names, hint) in [
            (names(&["authorization", "x-api-key"]), Some(AuthorizationHint::Bearer)),
            (names(&[CHATGPT_ACCOUNT_HEADER]), None),
            (vec![], None),
        ] {
            let plan = credential_headers("mock", &auth, &names, hint);
            assert!(plan.set.is_empty() && plan.remove.is_empty(), "{plan:?}");
            let credential = plan.credential.expect("the credential");
            assert_eq!(
                (credential.id.as_str(), credential.provider.as_str()),
                ("cred_b", "mock")
            );
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn x_api_key_is_rewritten_and_no_bearer_added() {
        let h = credential_headers("openai", &api("k2"), &names(&["content-type", "x-api-key"]), None).set;
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-api-key"], "k2");
    }

    #[test]
    fn bearer_is_kept_as_bearer() {
        let h = credential_headers(
            "openai",
            &api("k2"),
            &names(&["authorization"]),
            Some(AuthorizationHint::Bearer),
        )
        .set;
        assert_eq!(h["authorization"], "Bearer k2");
    }

    #[test]
    fn the_plan_depends_only_on_the_decisive_headers_and_the_authorization_kind() {
        let decisive = decisive_headers();
        let auth = api("k2");
        let with = |extra: &[&str], base: &[&str]| {
            let mut n = names(base);
            n.extend(names(extra));
            credential_headers("openai", &auth, &n, Some(AuthorizationHint::Bearer))
        };
        for base in [
            &["authorization"][..],
            &["x-api-key", "content-type"],
            &["chatgpt-account-id"],
        ] {
            let plain = with(&[], base);
            assert_eq!(
                plain,
                with(&["content-type", "user-agent", "x-stainless-os"], base),
                "{base:?}"
            );
            for name in &decisive {
                if !base.contains(&name.as_str()) && name != "authorization" {
                    assert_ne!(plain, with(&[name], base), "{name} changes the plan on {base:?}");
                }
            }
        }
    }

    #[test]
    fn nothing_present_adds_a_bearer() {
        let h = credential_headers("openai", &api("k2"), &names(&["content-type"]), None).set;
        assert_eq!(h["authorization"], "Bearer k2");
    }

    fn jwt(claims: serde_json::Value) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("eyJhbGciOiJub25lIn0.{body}.FAKE-signature")
    }

    fn oauth(refresh: &str, access: &str, account_id: Option<&str>) -> Auth {
        Auth::Oauth {
            refresh: refresh.into(),
            access: access.into(),
            expires: 0,
            account_id: account_id.map(str::to_string),
            enterprise_url: None,
            metadata: None,
        }
    }

    const CHATGPT: &[&str] = &[
        "authorization",
        "chatgpt-account-id",
        "x-openai-internal-codex-residency",
    ];

    #[test]
    fn oauth_uses_the_access_token_and_moves_the_chatgpt_account() {
        let a = oauth("rt-FAKE", "at-FAKE", Some("id-2"));
        let h = credential_headers(
            "openai",
            &a,
            &names(&["authorization", "chatgpt-account-id"]),
            Some(AuthorizationHint::Bearer),
        );
        assert_eq!(h.set["authorization"], "Bearer at-FAKE");
        assert_eq!(h.set["chatgpt-account-id"], "id-2");
        assert!(h.remove.is_empty());
    }

    #[test]
    fn the_residency_follows_the_account_it_was_read_from() {
        let access = jwt(serde_json::json!({
            "chatgpt_compute_residency": "eu",
            "https://api.openai.com/auth": {"chatgpt_account_id": "acct-eu"},
        }));
        let h = credential_headers("openai", &oauth("rt-FAKE", &access, None), &names(CHATGPT), None);
        assert_eq!(h.set["chatgpt-account-id"], "acct-eu");
        assert_eq!(h.set["x-openai-internal-codex-residency"], "eu");
        assert!(h.remove.is_empty());
        // In the namespace too; and added when the original account had none.
        let access = jwt(serde_json::json!({"https://api.openai.com/auth": {"chatgpt_compute_residency": "us"}}));
        let h = credential_headers(
            "openai",
            &oauth("rt-FAKE", &access, Some("acct-us")),
            &names(&["authorization", "chatgpt-account-id"]),
            None,
        );
        assert_eq!(h.set["x-openai-internal-codex-residency"], "us");
    }

    #[test]
    fn an_account_without_residency_or_id_removes_the_original_accounts_headers() {
        let h = credential_headers(
            "openai",
            &oauth("rt-FAKE", "at-FAKE-opaque", None),
            &names(CHATGPT),
            None,
        );
        assert!(!h.set.contains_key("chatgpt-account-id"));
        assert!(!h.set.contains_key("x-openai-internal-codex-residency"));
        assert_eq!(h.remove, ["chatgpt-account-id", "x-openai-internal-codex-residency"]);
        // A request that never carried them gets nothing added or removed.
        let h = credential_headers(
            "openai",
            &oauth("rt-FAKE", "at-FAKE", Some("id")),
            &names(&["authorization"]),
            None,
        );
        assert_eq!(h.set.keys().collect::<Vec<_>>(), ["authorization"]);
        assert!(h.remove.is_empty());
    }

    #[test]
    fn copilot_requests_carry_the_github_token_from_refresh_never_access() {
        let login = oauth("gho_FAKE_github", "tid=FAKE;exp=1;short-lived", None);
        for provider in ["github-copilot", "copilot", "github-copilot-enterprise"] {
            let h = credential_headers(
                provider,
                &login,
                &names(&["authorization"]),
                Some(AuthorizationHint::Bearer),
            );
            assert_eq!(h.set["authorization"], "Bearer gho_FAKE_github", "{provider}");
        }
        for provider in ["openai", "anthropic"] {
            let h = credential_headers(
                provider,
                &login,
                &names(&["authorization"]),
                Some(AuthorizationHint::Bearer),
            );
            assert_eq!(
                h.set["authorization"], "Bearer tid=FAKE;exp=1;short-lived",
                "{provider}"
            );
        }
    }

    #[test]
    fn hostile_account_and_residency_claims_are_never_header_values() {
        let access = jwt(serde_json::json!({
            "chatgpt_compute_residency": "eu\r\nx-injected: FAKE",
            "https://api.openai.com/auth": {"chatgpt_account_id": "acct\r\nx-injected: FAKE"},
        }));
        let h = credential_headers("openai", &oauth("rt-FAKE", &access, None), &names(CHATGPT), None);
        assert_eq!(h.set.keys().collect::<Vec<_>>(), ["authorization"]);
        assert_eq!(h.remove, ["chatgpt-account-id", "x-openai-internal-codex-residency"]);
        let h = credential_headers(
            "openai",
            &oauth("rt-FAKE", "at-FAKE", Some("id\"}\n")),
            &names(CHATGPT),
            None,
        );
        assert!(!h.set.contains_key("chatgpt-account-id"), "{:?}", h.set);
    }
}
