//! Where the token endpoints live and how long a refresh may take: defaults, environment
//! overrides (tests, a Claude auth plugin with another token URL), and no public host at all in
//! test mode.

use std::time::Duration;

/// Every refresh request's timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// ChatGPT's issuer (the token endpoint is `{issuer}/oauth/token`).
pub const CHATGPT_ISSUER: &str = "https://auth.openai.com";
/// The token URL the Claude auth plugin users run (`opencode-anthropic-auth` 0.0.13) posts to.
/// Configurable because that third-party plugin, not opencode, decides it (Claude Code itself has
/// moved to `https://platform.claude.com/v1/oauth/token`).
pub const CLAUDE_TOKEN_URL: &str = "https://console.anthropic.com/v1/oauth/token";
/// The path of ChatGPT's token endpoint under the issuer.
pub const CHATGPT_TOKEN_PATH: &str = "/oauth/token";
/// The path of [`CLAUDE_TOKEN_URL`], for a token server that serves both (tests).
pub const CLAUDE_TOKEN_PATH: &str = "/v1/oauth/token";

/// The token endpoints; `None`: not contacted.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoints {
    /// Scheme + host [+ port], no trailing slash.
    pub chatgpt_issuer: Option<String>,
    /// The whole URL.
    pub claude_token_url: Option<String>,
    pub timeout: Duration,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            chatgpt_issuer: Some(CHATGPT_ISSUER.into()),
            claude_token_url: Some(CLAUDE_TOKEN_URL.into()),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Endpoints {
    /// Both endpoints on one server (tests: the fake token server's `url()`), with `timeout`.
    pub fn all_at(base: &str, timeout: Duration) -> Endpoints {
        let base = base.trim_end_matches('/');
        Endpoints {
            chatgpt_issuer: Some(base.to_string()),
            claude_token_url: Some(format!("{base}{}", CLAUDE_TOKEN_PATH)),
            timeout,
        }
    }

    /// The defaults, overridden by `OPENCODE_BALANCER_CHATGPT_ISSUER_URL` and
    /// `OPENCODE_BALANCER_CLAUDE_TOKEN_URL`; `OPENCODE_BALANCER_TOKEN_TIMEOUT_MS` sets the
    /// timeout. With the test clock on (`OPENCODE_BALANCER_TEST_CLOCK`), an endpoint without an
    /// override is never contacted, so no test spends a real token by accident.
    pub fn from_env() -> Endpoints {
        Endpoints::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Endpoints {
        let env = crate::net::env::EnvSettings::new(var);
        let pick = |name: &str, default: &str| env.base_url(name, Some(default.to_string()));
        Endpoints {
            chatgpt_issuer: pick("OPENCODE_BALANCER_CHATGPT_ISSUER_URL", CHATGPT_ISSUER),
            claude_token_url: pick("OPENCODE_BALANCER_CLAUDE_TOKEN_URL", CLAUDE_TOKEN_URL),
            timeout: env.timeout("OPENCODE_BALANCER_TOKEN_TIMEOUT_MS", DEFAULT_TIMEOUT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_are_the_public_token_endpoints_and_overrides_win() {
        let e = Endpoints::from_vars(vars(&[]));
        assert_eq!(e, Endpoints::default());
        assert_eq!(e.chatgpt_issuer.as_deref(), Some("https://auth.openai.com"));
        assert_eq!(
            e.claude_token_url.as_deref(),
            Some("https://console.anthropic.com/v1/oauth/token")
        );
        let e = Endpoints::from_vars(vars(&[
            (
                "OPENCODE_BALANCER_CLAUDE_TOKEN_URL",
                " https://platform.claude.com/v1/oauth/token ",
            ),
            ("OPENCODE_BALANCER_TOKEN_TIMEOUT_MS", "abc"),
        ]));
        assert_eq!(
            e.claude_token_url.as_deref(),
            Some("https://platform.claude.com/v1/oauth/token")
        );
        assert_eq!(e.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn test_mode_contacts_only_overridden_token_endpoints() {
        let e = Endpoints::from_vars(vars(&[
            ("OPENCODE_BALANCER_TEST_CLOCK", "1700000000000"),
            ("OPENCODE_BALANCER_CHATGPT_ISSUER_URL", "http://127.0.0.1:5/"),
            ("OPENCODE_BALANCER_TOKEN_TIMEOUT_MS", "250"),
        ]));
        assert_eq!(e.chatgpt_issuer.as_deref(), Some("http://127.0.0.1:5"));
        assert_eq!(e.claude_token_url, None);
        assert_eq!(e.timeout, Duration::from_millis(250));
    }
}
