//! Picks the refresh for a credential by provider id and shape: ChatGPT and Claude OAuth logins
//! are refreshed; Copilot's GitHub token and everything else have nothing to refresh.

use super::chatgpt::ChatGpt;
use super::claude::Claude;
use super::endpoints::Endpoints;
use super::{BoxFuture, RefreshError, RefreshRequest, Refreshed, TokenClient};
use crate::model::is_copilot;
use crate::model::Auth;

/// Every provider's refresh over the process's one HTTP client.
pub struct Router {
    chatgpt: ChatGpt,
    claude: Claude,
}

enum Route<'a> {
    ChatGpt(&'a ChatGpt),
    Claude(&'a Claude),
    None(String),
}

impl Router {
    pub fn new(endpoints: Endpoints) -> Router {
        Router {
            chatgpt: ChatGpt {
                issuer: endpoints.chatgpt_issuer,
                timeout: endpoints.timeout,
            },
            claude: Claude {
                token_url: endpoints.claude_token_url,
                timeout: endpoints.timeout,
            },
        }
    }

    fn route(&self, provider_id: &str, auth: &Auth) -> Route<'_> {
        let Auth::Oauth { refresh, .. } = auth else {
            return Route::None(format!("{provider_id}: only OAuth logins have a token to refresh"));
        };
        match provider_id {
            _ if is_copilot(provider_id) => Route::None(format!(
                "{provider_id}: the GitHub token does not expire; there is nothing to refresh"
            )),
            _ if refresh.trim().is_empty() => Route::None(format!("{provider_id}: the login has no refresh token")),
            "openai" => Route::ChatGpt(&self.chatgpt),
            "anthropic" => Route::Claude(&self.claude),
            p => Route::None(format!("no token refresh is known for {p}")),
        }
    }
}

impl TokenClient for Router {
    /// True for ChatGPT and Claude OAuth logins with a refresh token whose endpoint is contacted.
    fn refreshable(&self, provider_id: &str, auth: &Auth) -> bool {
        match self.route(provider_id, auth) {
            Route::ChatGpt(c) => c.issuer.is_some(),
            Route::Claude(c) => c.token_url.is_some(),
            Route::None(_) => false,
        }
    }

    fn refresh(&self, req: RefreshRequest) -> BoxFuture<Result<Refreshed, RefreshError>> {
        match self.route(&req.provider_id, &req.auth) {
            Route::ChatGpt(c) => c.refresh(req),
            Route::Claude(c) => c.refresh(req),
            Route::None(why) => Box::pin(async move { Err(RefreshError::Unsupported(why)) }),
        }
    }
}
