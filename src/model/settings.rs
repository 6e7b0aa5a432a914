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

/// One setting with its typed value; on the wire `{key, value}` (`settings.set`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "key", content = "value", rename_all = "camelCase")]
pub enum Setting {
    Balancing(bool),
    Failover(bool),
    MaxAttempts(u32),
    Strategy(Strategy),
    SoftLimitPercent(u32),
    AutoSave(bool),
    UsageIntervalSeconds(u64),
    UsageEnabled(bool),
    EventsMaxRows(u64),
    EventsMaxAgeDays(u64),
    MaxWaitSeconds(u64),
}

impl Setting {
    /// The wire key (one of [`Settings::KEYS`]).
    pub fn key(&self) -> &'static str {
        match self {
            Setting::Balancing(_) => "balancing",
            Setting::Failover(_) => "failover",
            Setting::MaxAttempts(_) => "maxAttempts",
            Setting::Strategy(_) => "strategy",
            Setting::SoftLimitPercent(_) => "softLimitPercent",
            Setting::AutoSave(_) => "autoSave",
            Setting::UsageIntervalSeconds(_) => "usageIntervalSeconds",
            Setting::UsageEnabled(_) => "usageEnabled",
            Setting::EventsMaxRows(_) => "eventsMaxRows",
            Setting::EventsMaxAgeDays(_) => "eventsMaxAgeDays",
            Setting::MaxWaitSeconds(_) => "maxWaitSeconds",
        }
    }

    /// The allowed range of a whole-number setting and how an error names it.
    fn range(key: &str) -> Option<(i64, i64, &'static str)> {
        Some(match key {
            "maxAttempts" => (1, 10, "a whole number from 1 to 10"),
            "softLimitPercent" => (50, 100, "a whole number from 50 to 100"),
            "usageIntervalSeconds" => (10, 86_400, "a whole number of seconds from 10 to 86400"),
            "eventsMaxRows" => (100, 10_000_000, "a whole number from 100 to 10000000"),
            "eventsMaxAgeDays" => (1, 3650, "a whole number of days from 1 to 3650"),
            "maxWaitSeconds" => (0, 86_400, "a whole number of seconds from 0 to 86400"),
            _ => return None,
        })
    }

    /// Reads a loosely typed value (`"on"`, `"5"` as well as `true`, `5`) for `key`, range checked.
    pub fn parse(key: &str, value: &Value) -> Result<Setting, SettingsError> {
        let invalid = |expected| SettingsError::InvalidValue {
            key: key.to_string(),
            expected,
        };
        let boolean = || value_as_bool(value).ok_or_else(|| invalid("true or false"));
        let int = || {
            let (lo, hi, expected) = Setting::range(key).expect("a whole-number key");
            value_as_int(value)
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| invalid(expected))
        };
        Ok(match key {
            "balancing" => Setting::Balancing(boolean()?),
            "failover" => Setting::Failover(boolean()?),
            "autoSave" => Setting::AutoSave(boolean()?),
            "usageEnabled" => Setting::UsageEnabled(boolean()?),
            "maxAttempts" => Setting::MaxAttempts(int()? as u32),
            "softLimitPercent" => Setting::SoftLimitPercent(int()? as u32),
            "usageIntervalSeconds" => Setting::UsageIntervalSeconds(int()? as u64),
            "eventsMaxRows" => Setting::EventsMaxRows(int()? as u64),
            "eventsMaxAgeDays" => Setting::EventsMaxAgeDays(int()? as u64),
            "maxWaitSeconds" => Setting::MaxWaitSeconds(int()? as u64),
            "strategy" => Setting::Strategy(
                value
                    .as_str()
                    .and_then(|s| serde_json::from_value(Value::String(s.to_string())).ok())
                    .ok_or_else(|| invalid("one of sticky, round-robin, quota, lru"))?,
            ),
            other => return Err(SettingsError::UnknownKey(other.to_string())),
        })
    }

    /// Reads a value typed on a command line (`true`, `5`, `quota`).
    pub fn from_text(key: &str, text: &str) -> Result<Setting, SettingsError> {
        Setting::parse(key, &Settings::parse_cli_value(text))
    }

    /// This setting when its value is in range (a typed value may come from anywhere).
    fn checked(self) -> Result<Setting, SettingsError> {
        let n = match &self {
            Setting::MaxAttempts(v) | Setting::SoftLimitPercent(v) => i64::from(*v),
            Setting::UsageIntervalSeconds(v)
            | Setting::EventsMaxRows(v)
            | Setting::EventsMaxAgeDays(v)
            | Setting::MaxWaitSeconds(v) => i64::try_from(*v).unwrap_or(i64::MAX),
            _ => return Ok(self),
        };
        let (lo, hi, expected) = Setting::range(self.key()).expect("a whole-number key");
        if (lo..=hi).contains(&n) {
            Ok(self)
        } else {
            Err(SettingsError::InvalidValue {
                key: self.key().to_string(),
                expected,
            })
        }
    }
}

/// The settings as the wire shows them (`settings.get`).
impl Serialize for Settings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
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
        self.apply(Setting::parse(key, value)?)
    }

    /// Applies one typed setting after checking its range; on error nothing changes.
    pub fn apply(&mut self, setting: Setting) -> Result<(), SettingsError> {
        match setting.checked()? {
            Setting::Balancing(v) => self.balancing = v,
            Setting::Failover(v) => self.failover = v,
            Setting::AutoSave(v) => self.auto_save = v,
            Setting::UsageEnabled(v) => self.usage_enabled = v,
            Setting::MaxAttempts(v) => self.max_attempts = v,
            Setting::SoftLimitPercent(v) => self.soft_limit_percent = v,
            Setting::UsageIntervalSeconds(v) => self.usage_interval_seconds = v,
            Setting::EventsMaxRows(v) => self.events_max_rows = v,
            Setting::EventsMaxAgeDays(v) => self.events_max_age_days = v,
            Setting::MaxWaitSeconds(v) => self.max_wait_seconds = v,
            Setting::Strategy(v) => self.strategy = v,
        }
        Ok(())
    }

    /// Parses a value typed on a command line (`true`, `5`, `quota`) into JSON for [`Settings::set`].
    pub fn parse_cli_value(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    }

    /// One setting's value as a person reads it (`sticky`, `true`, `5`); `None` for an unknown key.
    pub fn shown(&self, key: &str) -> Option<String> {
        self.as_map()
            .get(key)
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
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
    fn typed_settings_are_range_checked_and_keep_their_wire_form() {
        let mut s = Settings::default();
        assert!(s.apply(Setting::MaxAttempts(11)).is_err());
        assert_eq!(s, Settings::default());
        s.apply(Setting::from_text("failover", "off").unwrap()).unwrap();
        assert!(!s.failover);
        let wire = serde_json::to_value(Setting::MaxAttempts(4)).unwrap();
        assert_eq!(wire, json!({"key": "maxAttempts", "value": 4}));
        assert_eq!(
            Setting::parse("maxAttempts", &json!("4")).unwrap(),
            Setting::MaxAttempts(4)
        );
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
