//! Endpoint settings read from the environment the same way for every outbound client: a base
//! URL override (trimmed, without a trailing slash), no default at all while the test clock is on
//! (so nothing a test did not point somewhere is ever contacted), and a timeout in milliseconds.

use std::time::Duration;

/// Reads endpoint settings through `var` (the process environment, or a table in tests).
pub struct EnvSettings<F: Fn(&str) -> Option<String>> {
    var: F,
    test_mode: bool,
}

impl<F: Fn(&str) -> Option<String>> EnvSettings<F> {
    pub fn new(var: F) -> Self {
        let test_mode = var("OPENCODE_BALANCER_TEST_CLOCK").is_some_and(|v| !v.trim().is_empty());
        EnvSettings { var, test_mode }
    }

    /// The URL in `name` when set, else `default` (none in test mode).
    pub fn base_url(&self, name: &str, default: Option<String>) -> Option<String> {
        match (self.var)(name).filter(|v| !v.trim().is_empty()) {
            Some(v) => Some(v.trim().trim_end_matches('/').to_string()),
            None if self.test_mode => None,
            None => default,
        }
    }

    /// A positive number of milliseconds in `name`, else `default`.
    pub fn timeout(&self, name: &str, default: Duration) -> Duration {
        (self.var)(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(default)
    }
}
