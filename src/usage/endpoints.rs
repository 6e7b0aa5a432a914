//! Where the usage endpoints live and how long a request may take: defaults, environment
//! overrides (tests, proxies), and no public host at all in test mode.

use std::time::Duration;

/// Every request's timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Base URLs (scheme + host [+ port], no trailing slash) of each usage API; `None`: not contacted.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoints {
    pub chatgpt: Option<String>,
    pub openai: Option<String>,
    pub github: Option<String>,
    pub anthropic: Option<String>,
    pub timeout: Duration,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            chatgpt: Some("https://chatgpt.com".into()),
            openai: Some("https://api.openai.com".into()),
            github: Some("https://api.github.com".into()),
            anthropic: Some("https://api.anthropic.com".into()),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Endpoints {
    /// Every endpoint at `base` (tests: one loopback server for all), with `timeout`.
    pub fn all_at(base: &str, timeout: Duration) -> Endpoints {
        let base = Some(base.trim_end_matches('/').to_string());
        Endpoints {
            chatgpt: base.clone(),
            openai: base.clone(),
            github: base.clone(),
            anthropic: base,
            timeout,
        }
    }

    /// The defaults, each overridden by `OPENCODE_BALANCER_{CHATGPT,OPENAI,GITHUB,ANTHROPIC}_URL`;
    /// `OPENCODE_BALANCER_USAGE_TIMEOUT_MS` shortens the timeout. With the test clock on
    /// (`OPENCODE_BALANCER_TEST_CLOCK`), an endpoint without an override is never contacted, so
    /// no test talks to a public host by accident.
    pub fn from_env() -> Endpoints {
        Endpoints::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Endpoints {
        let env = crate::net::env::EnvSettings::new(var);
        let defaults = Endpoints::default();
        Endpoints {
            chatgpt: env.base_url("OPENCODE_BALANCER_CHATGPT_URL", defaults.chatgpt),
            openai: env.base_url("OPENCODE_BALANCER_OPENAI_URL", defaults.openai),
            github: env.base_url("OPENCODE_BALANCER_GITHUB_URL", defaults.github),
            anthropic: env.base_url("OPENCODE_BALANCER_ANTHROPIC_URL", defaults.anthropic),
            timeout: env.timeout("OPENCODE_BALANCER_USAGE_TIMEOUT_MS", DEFAULT_TIMEOUT),
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
    fn defaults_are_the_public_hosts_and_overrides_win() {
        let e = Endpoints::from_vars(vars(&[("OPENCODE_BALANCER_GITHUB_URL", "http://127.0.0.1:9/")]));
        assert_eq!(e.chatgpt.as_deref(), Some("https://chatgpt.com"));
        assert_eq!(e.openai.as_deref(), Some("https://api.openai.com"));
        assert_eq!(e.anthropic.as_deref(), Some("https://api.anthropic.com"));
        assert_eq!(e.github.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(e.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn test_mode_contacts_only_overridden_endpoints() {
        let e = Endpoints::from_vars(vars(&[
            ("OPENCODE_BALANCER_TEST_CLOCK", "1700000000000"),
            ("OPENCODE_BALANCER_ANTHROPIC_URL", "http://127.0.0.1:5"),
            ("OPENCODE_BALANCER_USAGE_TIMEOUT_MS", "250"),
        ]));
        assert_eq!(e.chatgpt, None);
        assert_eq!(e.openai, None);
        assert_eq!(e.github, None);
        assert_eq!(e.anthropic.as_deref(), Some("http://127.0.0.1:5"));
        assert_eq!(e.timeout, Duration::from_millis(250));
    }
}
