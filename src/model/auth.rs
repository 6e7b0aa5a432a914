//! `Auth`: a credential exactly as opencode stores it in auth.json, plus identity and secret helpers.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use serde::Serialize;

use super::claims::{checked, first_checked, is_account_id, is_residency, OPENAI_AUTH_CLAIM};
use super::credential::{parse_credential, parse_json};

/// One credential, in the shapes of opencode's auth.json entries. It is read only through
/// [`parse_credential`] (also behind its `Deserialize`), whose errors never hold a value; fields
/// it does not know are dropped, as opencode drops them.
#[derive(Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Auth {
    /// An API key.
    Api {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<BTreeMap<String, String>>,
    },
    /// OAuth tokens (ChatGPT, Copilot, Claude plans).
    Oauth {
        refresh: String,
        access: String,
        expires: i64,
        #[serde(rename = "accountId", default, skip_serializing_if = "Option::is_none")]
        account_id: Option<String>,
        #[serde(rename = "enterpriseUrl", default, skip_serializing_if = "Option::is_none")]
        enterprise_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<BTreeMap<String, String>>,
    },
    /// A well-known provider token.
    Wellknown { key: String, token: String },
    /// A credential opencode 2 holds in its own database (`src/opencode2/`): only its id and its
    /// kind (`key`, `oauth`…) are known here; the secret stays with opencode 2, which the plugin
    /// asks for it per request. Never parsed from outside input (auth.json, the CLI, the wire).
    Opencode2 {
        #[serde(rename = "credentialID")]
        credential_id: String,
        kind: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Auth::{}([redacted])", self.auth_type())
    }
}

impl Auth {
    /// A credential as opencode keeps it in auth.json (it drops fields it does not know); an
    /// `accountId` not of an account id's shape is left out (opencode sends it as a header).
    pub fn as_opencode_keeps(&self) -> Auth {
        match self {
            Auth::Oauth {
                refresh,
                access,
                expires,
                account_id,
                enterprise_url,
                ..
            } => Auth::Oauth {
                refresh: refresh.clone(),
                access: access.clone(),
                expires: *expires,
                account_id: account_id
                    .as_deref()
                    .and_then(|id| checked("accountId", id, is_account_id)),
                enterprise_url: enterprise_url.clone(),
                metadata: None,
            },
            other => other.clone(),
        }
    }

    /// The opencode 2 credential this account is, when opencode 2 owns it.
    pub fn host_credential(&self) -> Option<&str> {
        match self {
            Auth::Opencode2 { credential_id, .. } => Some(credential_id),
            _ => None,
        }
    }

    /// An API key without metadata, for tests.
    #[cfg(test)]
    pub fn test_api(key: &str) -> Auth {
        Auth::Api {
            key: key.into(),
            metadata: None,
        }
    }

    /// `api`, `oauth` or `wellknown`, as opencode names them.
    pub fn auth_type(&self) -> &'static str {
        match self {
            Auth::Api { .. } => "api",
            Auth::Oauth { .. } => "oauth",
            Auth::Wellknown { .. } => "wellknown",
            Auth::Opencode2 { kind, .. } if kind == "key" => "api",
            Auth::Opencode2 { kind, .. } if kind == "oauth" => "oauth",
            Auth::Opencode2 { .. } => "external",
        }
    }

    /// Parses the credential a user hands the CLI: an auth JSON object or a bare API key.
    pub fn from_user_input(text: &str) -> Result<Auth, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("no credential given on standard input".into());
        }
        // JSON (an object, or anything else JSON-shaped a bare key cannot start with) must be
        // an auth object; it is never saved as the text of a key.
        if text.starts_with(['{', '[', '"']) {
            const SOURCE: &str = "the credential on standard input";
            let value = parse_json(text, SOURCE).map_err(|e| e.to_string())?;
            return parse_credential(&value, SOURCE).map_err(|e| e.to_string());
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("a bare API key must be one word without spaces".into());
        }
        Ok(Auth::Api {
            key: text.to_string(),
            metadata: None,
        })
    }

    /// The token a request to `provider_id` carries as `Authorization: Bearer` or in an API-key
    /// header: the key, the well-known token, an OAuth login's `access` token — except for
    /// GitHub Copilot, whose bearer is the GitHub OAuth token in `refresh` (opencode 1.18.33
    /// ignores `access`, which older versions filled with a short-lived Copilot token).
    pub fn request_token(&self, provider_id: &str) -> &str {
        match self {
            Auth::Api { key, .. } => key,
            Auth::Oauth { refresh, .. } if super::refresh_policy::is_copilot(provider_id) => refresh,
            Auth::Oauth { access, .. } => access,
            Auth::Wellknown { token, .. } => token,
            // Its secret is opencode 2's: requests on it travel as `credential` (no token here).
            Auth::Opencode2 { .. } => "",
        }
    }

    /// The OAuth account id, when this credential names one (ChatGPT's `ChatGPT-Account-Id`): its
    /// `accountId`, else the access token's claim, each only of an account id's shape
    /// (`claims::is_account_id`).
    pub fn account_id(&self) -> Option<String> {
        match self {
            Auth::Oauth {
                account_id: Some(id),
                access,
                ..
            } => checked("accountId", id, is_account_id).or_else(|| jwt_chatgpt_account_id(access)),
            Auth::Oauth { access, .. } => jwt_chatgpt_account_id(access),
            _ => None,
        }
    }

    /// ChatGPT's compute residency (`x-openai-internal-codex-residency`), from the access token's
    /// `chatgpt_compute_residency` claim (top level or in the `https://api.openai.com/auth`
    /// namespace), when it carries one of a residency's shape (`claims::is_residency`). Not a secret.
    pub fn chatgpt_residency(&self) -> Option<String> {
        let Auth::Oauth { access, .. } = self else { return None };
        const RESIDENCY: &str = "chatgpt_compute_residency";
        let paths: &[&[&str]] = &[&[RESIDENCY], &[OPENAI_AUTH_CLAIM, RESIDENCY]];
        first_checked(&jwt_claims(access)?, paths, RESIDENCY, is_residency)
    }

    /// The identity two credentials share when they are the same account. The predecessor's
    /// rules decide which parts of the credential identify a login: api → the key; wellknown →
    /// key+token; oauth → accountId, else the ChatGPT account id in the access token, else the
    /// refresh token. An account id is not a secret and is kept as is (`oauth-account:<id>`); a
    /// part that is a secret is kept only as its SHA-256 digest (`api:sha256:<hex>`,
    /// `wellknown:sha256:<hex>`, `oauth-refresh:sha256:<hex>`), so the identity stored beside
    /// an account or a pending login never holds the credential. Never shown anywhere all the same.
    pub fn identity(&self) -> String {
        match self {
            Auth::Api { key, .. } => digest_identity("api", &[key]),
            Auth::Wellknown { key, token } => digest_identity("wellknown", &[key, token]),
            Auth::Opencode2 { credential_id, .. } => digest_identity("opencode2", &[credential_id]),
            Auth::Oauth { refresh, .. } => match self.account_id() {
                Some(id) => format!("oauth-account:{id}"),
                None => digest_identity("oauth-refresh", &[refresh]),
            },
        }
    }

    /// A readable name for an account from its token's claims: the email, else the account id.
    /// Not a secret; `None` for API keys and opaque tokens.
    pub fn display_name(&self) -> Option<String> {
        let Auth::Oauth { access, .. } = self else { return None };
        let claims = jwt_claims(access);
        let email = claims.as_ref().and_then(|c| {
            c.get("email")
                .or_else(|| c.get("https://api.openai.com/profile").and_then(|p| p.get("email")))
                .and_then(|e| e.as_str())
                .map(str::to_string)
        });
        email.or_else(|| self.account_id())
    }

    /// Every secret value in this credential, for redaction.
    pub fn secrets(&self) -> Vec<&str> {
        self.secret_parts().collect()
    }

    /// The secret values of [`Self::secrets`], without allocating (fingerprints of thousands).
    pub fn secret_parts(&self) -> impl Iterator<Item = &str> {
        let (a, b) = match self {
            Auth::Api { key, .. } => (Some(key), None),
            Auth::Oauth { refresh, access, .. } => (Some(refresh), Some(access)),
            Auth::Wellknown { key, token } => (Some(key), Some(token)),
            Auth::Opencode2 { .. } => (None, None),
        };
        a.into_iter().chain(b).map(String::as_str)
    }
}

/// `<kind>:sha256:<hex>`: a one-way digest of the secret parts that identify a login, each part
/// followed by a NUL, so that key `a` with token `bc` and key `ab` with token `c` differ.
fn digest_identity(kind: &str, parts: &[&str]) -> String {
    use std::fmt::Write;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        ctx.update(part.as_bytes());
        ctx.update(&[0]);
    }
    let mut out = format!("{kind}:sha256:");
    for byte in ctx.finish().as_ref() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The claims of a JWT, unverified (used only to name and identify accounts).
pub(crate) fn jwt_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn jwt_chatgpt_account_id(token: &str) -> Option<String> {
    let paths: &[&[&str]] = &[&[OPENAI_AUTH_CLAIM, "chatgpt_account_id"]];
    first_checked(&jwt_claims(token)?, paths, "chatgpt_account_id", is_account_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opencodes_copy_of_a_login_drops_only_the_balancers_metadata() {
        let login = Auth::Oauth {
            refresh: "r".into(),
            access: "a".into(),
            expires: 5,
            account_id: Some("acc".into()),
            enterprise_url: Some("https://ghe.example".into()),
            metadata: Some([("k".to_string(), "v".to_string())].into()),
        };
        let Auth::Oauth { metadata, .. } = login.as_opencode_keeps() else {
            panic!("still a login")
        };
        assert_eq!(metadata, None);
        let kept = Auth::Oauth {
            refresh: "r".into(),
            access: "a".into(),
            expires: 5,
            account_id: Some("acc".into()),
            enterprise_url: Some("https://ghe.example".into()),
            metadata: None,
        };
        assert_eq!(login.as_opencode_keeps(), kept);
        let key = Auth::Api {
            key: "k".into(),
            metadata: Some([("m".to_string(), "n".to_string())].into()),
        };
        assert_eq!(key.as_opencode_keeps(), key, "other kinds pass as they are");
    }

    #[test]
    fn parses_every_opencode_shape_and_round_trips() {
        for text in [
            r#"{"type":"api","key":"sk-fake"}"#,
            r#"{"type":"api","key":"sk-fake","metadata":{"githubOrg":"acme"}}"#,
            r#"{"type":"oauth","refresh":"r-fake","access":"a-fake","expires":1700000000000,"accountId":"acc-1"}"#,
            r#"{"type":"oauth","refresh":"r-fake","access":"a-fake","expires":1,"enterpriseUrl":"https://ghe.example"}"#,
            r#"{"type":"wellknown","key":"k-fake","token":"t-fake"}"#,
        ] {
            let auth: Auth = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&auth).unwrap(), text);
        }
    }

    #[test]
    fn bare_key_becomes_api_auth_and_bad_input_is_refused_without_echo() {
        assert_eq!(
            Auth::from_user_input(" sk-fake-123\n").unwrap(),
            Auth::Api {
                key: "sk-fake-123".into(),
                metadata: None
            }
        );
        let err = Auth::from_user_input(r#"{"type":"bogus","key":"sk-secret-value"}"#).unwrap_err();
        assert!(!err.contains("sk-secret-value"), "{err}");
        assert!(Auth::from_user_input("").is_err());
        assert!(Auth::from_user_input("two words").is_err());
        // JSON that is not an auth object is refused, never kept as the text of a key.
        for json in [
            r#"["sk-fake-1"]"#,
            r#""sk-fake-1""#,
            r#"{"type":"api","key":["sk-fake-1"]}"#,
        ] {
            assert!(Auth::from_user_input(json).is_err(), "{json}");
        }
        assert_eq!(
            Auth::from_user_input(r#"{"type":"api","key":5}"#).unwrap_err(),
            "the credential on standard input, field key: expected a string, found a number"
        );
        // A field this version does not know is dropped, not refused.
        let extra = r#"{"type":"wellknown","key":"k","token":"t","addedByAPlugin":{"x":1}}"#;
        assert_eq!(
            serde_json::to_string(&Auth::from_user_input(extra).unwrap()).unwrap(),
            r#"{"type":"wellknown","key":"k","token":"t"}"#
        );
    }

    #[test]
    fn identity_follows_the_predecessor_rules() {
        let claims = serde_json::json!({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-42"}});
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        let jwt = format!("h.{payload}.s");
        let a = Auth::Oauth {
            refresh: "r1".into(),
            access: jwt,
            expires: 0,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        };
        assert_eq!(a.identity(), "oauth-account:acct-42");
        let b = Auth::Oauth {
            refresh: "r1".into(),
            access: "opaque".into(),
            expires: 0,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        };
        // sha256("r1\0")
        assert_eq!(
            b.identity(),
            "oauth-refresh:sha256:feb74c12119e51b47c961906297eeb2602c8861beb9b08e8249a91b7f3080194"
        );
        let c = Auth::Oauth {
            refresh: "r2".into(),
            access: "x".into(),
            expires: 0,
            account_id: Some("id-9".into()),
            enterprise_url: None,
            metadata: None,
        };
        assert_eq!(c.identity(), "oauth-account:id-9");
        // sha256("sk-fake\0"): the key decides, not its metadata.
        let key = |k: &str, org: Option<&str>| Auth::Api {
            key: k.into(),
            metadata: org.map(|o| BTreeMap::from([("githubOrg".to_string(), o.to_string())])),
        };
        assert_eq!(
            key("sk-fake", None).identity(),
            "api:sha256:56ff19a0fc0e722ebeb65d5a2e2a30f2f31740445e91b6309c50f24f14c94abc"
        );
        assert_eq!(key("sk-fake", Some("acme")).identity(), key("sk-fake", None).identity());
        assert_ne!(key("sk-fake2", None).identity(), key("sk-fake", None).identity());
        // sha256("k\0t\0"); the parts are kept apart, so key+token cannot be re-split alike.
        let wk = |k: &str, t: &str| Auth::Wellknown {
            key: k.into(),
            token: t.into(),
        };
        assert_eq!(
            wk("k", "t").identity(),
            "wellknown:sha256:3f3533f63d5e5f933fef1a0ca7433c846f626ae82d9e7d4ca5e018bcb840fa25"
        );
        assert_ne!(wk("ab", "c").identity(), wk("a", "bc").identity());
    }

    #[test]
    fn an_identity_never_holds_a_secret_part() {
        let auths = [
            Auth::Api {
                key: "sk-identity-secret".into(),
                metadata: None,
            },
            Auth::Wellknown {
                key: "wk-identity-key".into(),
                token: "wt-identity-token".into(),
            },
            Auth::Oauth {
                refresh: "rt-identity-refresh".into(),
                access: "at-identity-opaque".into(),
                expires: 0,
                account_id: None,
                enterprise_url: None,
                metadata: None,
            },
        ];
        for auth in auths {
            let identity = auth.identity();
            for secret in auth.secrets() {
                assert!(!identity.contains(secret), "{identity}");
            }
        }
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let a = Auth::Api {
            key: "sk-very-secret".into(),
            metadata: None,
        };
        assert!(!format!("{a:?}").contains("sk-very-secret"));
    }
}
