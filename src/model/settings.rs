//! Balancer settings: typed values, defaults, validation and their key/value form.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// How an account of a provider is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Keep the active account while it is healthy.
    Sticky,
    /// Rotate across healthy accounts.
    RoundRobin,
    /// The healthy account used longest ago.
    Lru,
    /// The healthy account with the most quota left (known usage before unknown).
    Quota,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Sticky => "sticky",
            Strategy::RoundRobin => "round-robin",
            Strategy::Lru => "lru",
            Strategy::Quota => "quota",
        }
    }
}

/// Every setting of docs/protocol.md, with its default.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub balancing: bool,
    pub failover: bool,
    pub max_attempts: u32,
    pub strategy: Strategy,
    pub soft_limit_percent: u32,
    pub auto_save: bool,
    pub usage_interval_seconds: u64,
    pub usage_enabled: bool,
    /// The events table keeps at most this many rows…
    pub events_max_rows: u64,
    /// …and none older than this many days.
    pub events_max_age_days: u64,
    /// A refused request whose provider rests longer than this (every account) and cannot move
    /// to another provider is answered at once with a plain, final error instead of being left
    /// to the host's retry loop.
    pub max_wait_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            balancing: false,
            failover: true,
            max_attempts: 3,
            strategy: Strategy::Sticky,
            soft_limit_percent: 90,
            auto_save: true,
            usage_interval_seconds: 60,
            usage_enabled: true,
            events_max_rows: 10_000,
            events_max_age_days: 30,
            max_wait_seconds: 60,
        }
    }
}

/// Why a setting was refused; the message names the key.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    #[error("unknown setting '{0}' (known: {known})", known = Settings::KEYS.join(", "))]
    UnknownKey(String),
    #[error("invalid value for '{key}': {expected}")]
    InvalidValue { key: String, expected: &'static str },
}

impl Settings {
    pub const KEYS: [&'static str; 11] = [
        "balancing",
        "failover",
        "maxAttempts",
        "strategy",
        "softLimitPercent",
        "autoSave",
        "usageIntervalSeconds",
        "usageEnabled",
        "eventsMaxRows",
        "eventsMaxAgeDays",
        "maxWaitSeconds",
    ];

    /// The settings as the wire shows them.
    pub fn to_json(&self) -> Value {
        json!({
            "balancing": self.balancing,
            "failover": self.failover,
            "maxAttempts": self.max_attempts,
            "strategy": self.strategy.as_str(),
            "softLimitPercent": self.soft_limit_percent,
            "autoSave": self.auto_save,
            "usageIntervalSeconds": self.usage_interval_seconds,
            "usageEnabled": self.usage_enabled,
            "eventsMaxRows": self.events_max_rows,
            "eventsMaxAgeDays": self.events_max_age_days,
            "maxWaitSeconds": self.max_wait_seconds,
        })
    }

    /// Stored key/value pairs (values as JSON text).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        match self.to_json() {
            Value::Object(map) => map.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
            _ => unreachable!("settings serialize to an object"),
        }
    }

    /// Rebuilds settings from stored pairs; an unknown or broken stored value keeps its default.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Settings {
        let mut s = Settings::default();
        for (k, v) in pairs {
            if let Ok(value) = serde_json::from_str::<Value>(v) {
                if let Err(e) = s.set(k, &value) {
                    tracing::warn!(key = k, error = %e, "ignoring a stored setting");
                }
            }
        }
        s
    }

    /// Validates and applies one value; on error nothing changes.
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), SettingsError> {
        let invalid = |expected| SettingsError::InvalidValue {
            key: key.to_string(),
            expected,
        };
        let boolean = || value_as_bool(value).ok_or_else(|| invalid("true or false"));
        match key {
            "balancing" => self.balancing = boolean()?,
            "failover" => self.failover = boolean()?,
            "autoSave" => self.auto_save = boolean()?,
            "usageEnabled" => self.usage_enabled = boolean()?,
            "maxAttempts" => {
                self.max_attempts = value_as_int(value)
                    .filter(|n| (1..=10).contains(n))
                    .ok_or_else(|| invalid("a whole number from 1 to 10"))? as u32
            }
            "softLimitPercent" => {
                self.soft_limit_percent = value_as_int(value)
                    .filter(|n| (50..=100).contains(n))
                    .ok_or_else(|| invalid("a whole number from 50 to 100"))?
                    as u32
            }
            "usageIntervalSeconds" => {
                self.usage_interval_seconds = value_as_int(value)
                    .filter(|n| (10..=86_400).contains(n))
                    .ok_or_else(|| invalid("a whole number of seconds from 10 to 86400"))?
                    as u64
            }
            "eventsMaxRows" => {
                self.events_max_rows = value_as_int(value)
                    .filter(|n| (100..=10_000_000).contains(n))
                    .ok_or_else(|| invalid("a whole number from 100 to 10000000"))?
                    as u64
            }
            "eventsMaxAgeDays" => {
                self.events_max_age_days = value_as_int(value)
                    .filter(|n| (1..=3650).contains(n))
                    .ok_or_else(|| invalid("a whole number of days from 1 to 3650"))?
                    as u64
            }
            "maxWaitSeconds" => {
                self.max_wait_seconds = value_as_int(value)
                    .filter(|n| (0..=86_400).contains(n))
                    .ok_or_else(|| invalid("a whole number of seconds from 0 to 86400"))?
                    as u64
            }
            "strategy" => {
                self.strategy = value
                    .as_str()
                    .and_then(|s| serde_json::from_value(Value::String(s.to_string())).ok())
                    .ok_or_else(|| invalid("one of sticky, round-robin, quota, lru"))?
            }
            other => return Err(SettingsError::UnknownKey(other.to_string())),
        }
        Ok(())
    }

    /// Parses a value typed on a command line (`true`, `5`, `quota`) into JSON for [`Settings::set`].
    pub fn parse_cli_value(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    }

    pub fn as_map(&self) -> Map<String, Value> {
        match self.to_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

fn value_as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "on" => Some(true),
            "false" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn value_as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_protocol() {
        let s = Settings::default().to_json();
        assert_eq!(s["balancing"], false);
        assert_eq!(s["failover"], true);
        assert_eq!(s["maxAttempts"], 3);
        assert_eq!(s["strategy"], "sticky");
        assert_eq!(s["softLimitPercent"], 90);
        assert_eq!(s["usageIntervalSeconds"], 60);
    }

    #[test]
    fn out_of_range_and_unknown_change_nothing() {
        let mut s = Settings::default();
        assert!(s.set("maxAttempts", &json!(11)).is_err());
        assert!(s.set("softLimitPercent", &json!(49)).is_err());
        assert!(s.set("usageIntervalSeconds", &json!(9)).is_err());
        assert!(s.set("strategy", &json!("random")).is_err());
        assert!(matches!(s.set("nope", &json!(1)), Err(SettingsError::UnknownKey(_))));
        assert_eq!(s, Settings::default());
        s.set("strategy", &json!("round-robin")).unwrap();
        assert_eq!(s.strategy, Strategy::RoundRobin);
    }

    #[test]
    fn pairs_round_trip() {
        let mut s = Settings::default();
        s.set("maxAttempts", &json!(5)).unwrap();
        s.set("balancing", &json!(true)).unwrap();
        let pairs = s.to_pairs();
        let back = Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(back, s);
    }
}
