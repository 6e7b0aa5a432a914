//! The fake token server's token families: how a family behaves ([`Family`]) and the tokens it
//! mints each generation (ChatGPT-style JWTs with account and residency claims, Claude-style
//! opaque tokens), every one marked `FAKE`.

use base64::Engine;
use serde_json::{json, Value};

use crate::model::{Auth, Millis};

/// Which provider's tokens a family has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// JWT access and id tokens, a rotating refresh token, at [`CHATGPT_PATH`].
    ChatGpt,
    /// Opaque `sk-ant-oat01-FAKE-…`/`sk-ant-ort01-FAKE-…` tokens at [`CLAUDE_PATH`].
    Claude,
}

/// Where a ChatGPT family's account id is put in the id token (the access token always carries
/// it under `https://api.openai.com/auth` unless `AccessOnly`/`Nowhere` say otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountClaims {
    /// Top-level `chatgpt_account_id` and under `https://api.openai.com/auth`.
    Both,
    TopLevel,
    Namespaced,
    /// Only `organizations[0].id`.
    Organizations,
    /// No id token at all; the access token carries the id.
    AccessOnly,
    /// Neither token names an account.
    Nowhere,
}

/// How a family behaves.
#[derive(Clone, Debug)]
pub struct Family {
    pub flavor: Flavor,
    /// ChatGPT: the account id the tokens carry.
    pub account_id: String,
    /// `expires_in` of every answer (seconds); `None`: the field is left out.
    pub expires_in: Option<u64>,
    pub claims: AccountClaims,
    /// The access token's `chatgpt_compute_residency` claim.
    pub residency: Option<String>,
    /// Reusing a spent refresh token revokes the whole family (as real servers may).
    pub revoke_on_reuse: bool,
    /// Claude: answer without a `refresh_token` (the old one then stays valid).
    pub omit_refresh: bool,
}

impl Family {
    pub fn chatgpt(account_id: &str) -> Family {
        Family {
            flavor: Flavor::ChatGpt,
            account_id: account_id.into(),
            expires_in: Some(3600),
            claims: AccountClaims::Both,
            residency: None,
            revoke_on_reuse: true,
            omit_refresh: false,
        }
    }

    pub fn claude() -> Family {
        Family {
            flavor: Flavor::Claude,
            account_id: String::new(),
            expires_in: Some(28_800),
            claims: AccountClaims::Nowhere,
            residency: None,
            revoke_on_reuse: true,
            omit_refresh: false,
        }
    }
}

pub(super) struct FamilyState {
    pub spec: Family,
    pub generation: u64,
    pub revoked: bool,
    pub refreshes: u64,
    pub requests: u64,
    /// The newest credential minted.
    pub current: Option<Auth>,
}

fn jwt(claims: Value) -> String {
    let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.FAKE-signature",
        enc(r#"{"alg":"none","typ":"JWT"}"#),
        enc(&claims.to_string())
    )
}

/// The next generation's tokens for `family`: the credential and the answer's JSON.
pub(super) fn issue(name: &str, f: &mut FamilyState, now: Millis) -> (Auth, Value) {
    f.generation += 1;
    let g = f.generation;
    let lifetime_s = f.spec.expires_in.unwrap_or(3600);
    let (iat, exp) = (now / 1000, now / 1000 + lifetime_s as i64);
    let mut answer = json!({"token_type": "Bearer"});
    let (access, refresh, account_id) = match f.spec.flavor {
        Flavor::ChatGpt => {
            let id = f.spec.account_id.as_str();
            let mut auth_claim = json!({});
            if !matches!(f.spec.claims, AccountClaims::Nowhere) {
                auth_claim["chatgpt_account_id"] = json!(id);
            }
            if let Some(r) = &f.spec.residency {
                auth_claim["chatgpt_compute_residency"] = json!(r);
            }
            let access = jwt(
                json!({"iat": iat, "exp": exp, "sub": format!("FAKE-{name}"), "https://api.openai.com/auth": auth_claim, "gen": g}),
            );
            let id_claims = match f.spec.claims {
                AccountClaims::Both => {
                    Some(json!({"chatgpt_account_id": id, "https://api.openai.com/auth": {"chatgpt_account_id": id}}))
                }
                AccountClaims::TopLevel => Some(json!({"chatgpt_account_id": id})),
                AccountClaims::Namespaced => Some(json!({"https://api.openai.com/auth": {"chatgpt_account_id": id}})),
                AccountClaims::Organizations => Some(json!({"organizations": [{"id": id}]})),
                AccountClaims::AccessOnly => None,
                AccountClaims::Nowhere => Some(json!({"sub": "FAKE"})),
            };
            if let Some(mut c) = id_claims {
                c["iat"] = json!(iat);
                c["exp"] = json!(exp);
                answer["id_token"] = json!(jwt(c));
            }
            let known = !matches!(f.spec.claims, AccountClaims::Nowhere);
            (access, format!("rt-FAKE-{name}-{g}"), known.then(|| id.to_string()))
        }
        Flavor::Claude => (
            format!("sk-ant-oat01-FAKE-{name}-{g}"),
            format!("sk-ant-ort01-FAKE-{name}-{g}"),
            None,
        ),
    };
    answer["access_token"] = json!(access);
    answer["refresh_token"] = json!(refresh);
    if let Some(e) = f.spec.expires_in {
        answer["expires_in"] = json!(e);
    }
    let auth = Auth::Oauth {
        refresh,
        access,
        expires: now + lifetime_s as i64 * 1000,
        account_id,
        enterprise_url: None,
        metadata: None,
    };
    f.current = Some(auth.clone());
    (auth, answer)
}
