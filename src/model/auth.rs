//! `Auth`: a credential exactly as opencode stores it in auth.json, plus identity and secret helpers.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::claims::{checked, first_checked, is_account_id, is_residency, jwt_claims, OPENAI_AUTH_CLAIM};
use super::names::is_copilot;

/// One credential, in the shapes of opencode's auth.json entries. It is read only through
/// [`parse_credential`](super::parse_credential) (also behind its `Deserialize`), whose errors never hold a value; fields
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

    /// The token a request to `provider_id` carries as `Authorization: Bearer` or in an API-key
    /// header: the key, the well-known token, an OAuth login's `access` token — except for
    /// GitHub Copilot, whose bearer is the GitHub OAuth token in `refresh` (opencode 1.18.33
    /// ignores `access`, which older versions filled with a short-lived Copilot token).
    pub fn request_token(&self, provider_id: &str) -> &str {
        match self {
            Auth::Api { key, .. } => key,
            Auth::Oauth { refresh, .. } if is_copilot(provider_id) => refresh,
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

fn jwt_chatgpt_account_id(token: &str) -> Option<String> {
    let paths: &[&[&str]] = &[&[OPENAI_AUTH_CLAIM, "chatgpt_account_id"]];
    first_checked(&jwt_claims(token)?, paths, "chatgpt_account_id", is_account_id)
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
