//! Picks the provider client for an account (provider id + credential shape) and says plainly why
//! an account has no usage when none fits.

use std::sync::Arc;

use super::{
    Anthropic, BoxFuture, ChatGpt, Copilot, Endpoints, FetchError, Http, OpenAiApi, Usage, UsageClient, UsageRequest,
};
use crate::model::Auth;

/// Every provider client over one HTTP pool.
pub struct Router {
    chatgpt: ChatGpt,
    openai_api: OpenAiApi,
    copilot: Copilot,
    anthropic: Anthropic,
}

impl Router {
    pub fn new(endpoints: Endpoints) -> Router {
        let http = Arc::new(Http::new(endpoints.timeout));
        Router {
            chatgpt: ChatGpt {
                http: http.clone(),
                base: endpoints.chatgpt,
            },
            openai_api: OpenAiApi {
                http: http.clone(),
                base: endpoints.openai,
            },
            copilot: Copilot {
                http: http.clone(),
                base: endpoints.github,
            },
            anthropic: Anthropic {
                http,
                base: endpoints.anthropic,
            },
        }
    }

    /// The client for this account with its endpoint's base and environment variable.
    fn client(&self, provider_id: &str, auth: &Auth) -> Result<(&dyn UsageClient, &Option<String>, &str), String> {
        Ok(match (provider_id, auth) {
            (_, Auth::Opencode2 { .. }) => {
                return Err(
                    "its secret is opencode 2's: usage is read once the plugin lends it (credentials.lend)".into(),
                )
            }
            ("openai", Auth::Oauth { .. }) => (&self.chatgpt, &self.chatgpt.base, "OPENCODE_BALANCER_CHATGPT_URL"),
            ("openai", _) => (&self.openai_api, &self.openai_api.base, "OPENCODE_BALANCER_OPENAI_URL"),
            ("github-copilot" | "copilot" | "github-copilot-enterprise", _) => {
                (&self.copilot, &self.copilot.base, "OPENCODE_BALANCER_GITHUB_URL")
            }
            ("anthropic", _) => (&self.anthropic, &self.anthropic.base, "OPENCODE_BALANCER_ANTHROPIC_URL"),
            (p, a) => {
                return Err(format!(
                    "no usage endpoint is known for {p} {} accounts",
                    match a {
                        Auth::Api { .. } => "API-key",
                        Auth::Oauth { .. } => "OAuth",
                        Auth::Wellknown { .. } => "well-known",
                        Auth::Opencode2 { .. } => "opencode 2",
                    }
                ))
            }
        })
    }
}

impl UsageClient for Router {
    fn check(&self, provider_id: &str, auth: &Auth) -> Result<(), String> {
        let (client, base, env) = self.client(provider_id, auth)?;
        client.check(provider_id, auth)?;
        match base {
            Some(_) => Ok(()),
            None => Err(format!("usage endpoints are not contacted in test mode (set {env})")),
        }
    }

    fn fetch(&self, req: UsageRequest) -> BoxFuture<Result<Usage, FetchError>> {
        match self
            .client(&req.provider_id, &req.auth)
            .and_then(|(c, _, _)| c.check(&req.provider_id, &req.auth).map(|_| c))
        {
            Ok(client) => client.fetch(req),
            Err(why) => Box::pin(async move { Err(FetchError::Unsupported(why)) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn api() -> Auth {
        Auth::Api {
            key: "sk-fake".into(),
            metadata: None,
        }
    }

    fn oauth() -> Auth {
        Auth::Oauth {
            refresh: "r-fake".into(),
            access: "a-fake".into(),
            expires: 0,
            account_id: None,
            enterprise_url: None,
            metadata: None,
        }
    }

    #[tokio::test]
    async fn routes_by_provider_and_credential_and_explains_the_rest() {
        let r = Router::new(Endpoints::default());
        assert_eq!(r.check("openai", &oauth()), Ok(()));
        assert_eq!(r.check("openai", &api()), Ok(()));
        assert_eq!(r.check("github-copilot", &oauth()), Ok(()));
        assert_eq!(r.check("copilot", &oauth()), Ok(()));
        assert_eq!(r.check("anthropic", &oauth()), Ok(()));
        assert!(r.check("anthropic", &api()).unwrap_err().contains("rate-limit headers"));
        assert!(r.check("github-copilot", &api()).unwrap_err().contains("OAuth"));
        let why = r.check("mock", &api()).unwrap_err();
        assert_eq!(why, "no usage endpoint is known for mock API-key accounts");
        let wk = Auth::Wellknown {
            key: "k".into(),
            token: "t".into(),
        };
        assert!(r.check("openai", &wk).is_err());
        let e = r
            .fetch(UsageRequest {
                provider_id: "mock".into(),
                alias: "a".into(),
                auth: api(),
                now: 0,
            })
            .await;
        assert_eq!(e, Err(FetchError::Unsupported(why)));
    }

    #[test]
    fn switched_off_endpoints_are_named() {
        let mut e = Endpoints::all_at("http://127.0.0.1:9", Duration::from_secs(1));
        e.anthropic = None;
        let r = Router::new(e);
        assert_eq!(
            r.check("anthropic", &oauth()),
            Err("usage endpoints are not contacted in test mode (set OPENCODE_BALANCER_ANTHROPIC_URL)".into())
        );
    }
}
