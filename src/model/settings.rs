//! Balancer settings: typed values, defaults, validation and their key/value form.

use serde::{Deserialize, Serialize};

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

    /// The strategy a name on the wire or a command line stands for.
    pub fn from_name(name: &str) -> Option<Strategy> {
        [Strategy::Sticky, Strategy::RoundRobin, Strategy::Lru, Strategy::Quota]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Every setting of docs/protocol.md, with its default; serialised, the `settings.get` result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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

/// One setting with its typed value, shown as `{key, value}`; `settings.set` decodes
/// `api::SettingParams` and checks it through [`Setting::parse`], so nothing decodes this type.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    pub fn parse(key: &str, value: &LooseValue) -> Result<Setting, SettingsError> {
        let invalid = |expected| SettingsError::InvalidValue {
            key: key.to_string(),
            expected,
        };
        let boolean = || value.as_bool().ok_or_else(|| invalid("true or false"));
        let int = || {
            let (lo, hi, expected) = Setting::range(key).expect("a whole-number key");
            value
                .as_int()
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
                    .as_text()
                    .and_then(Strategy::from_name)
                    .ok_or_else(|| invalid("one of sticky, round-robin, quota, lru"))?,
            ),
            other => return Err(SettingsError::UnknownKey(other.to_string())),
        })
    }

    /// Reads a value typed on a command line or kept in the store (`true`, `5`, `quota`,
    /// `"quota"`).
    pub fn from_text(key: &str, text: &str) -> Result<Setting, SettingsError> {
        Setting::parse(key, &LooseValue::from_text(text))
    }

    /// The value as the store keeps it and events show it: JSON text (`true`, `5`, `"quota"`).
    pub fn stored(&self) -> String {
        match self {
            Setting::Balancing(v) | Setting::Failover(v) | Setting::AutoSave(v) | Setting::UsageEnabled(v) => {
                v.to_string()
            }
            Setting::MaxAttempts(v) | Setting::SoftLimitPercent(v) => v.to_string(),
            Setting::UsageIntervalSeconds(v)
            | Setting::EventsMaxRows(v)
            | Setting::EventsMaxAgeDays(v)
            | Setting::MaxWaitSeconds(v) => v.to_string(),
            Setting::Strategy(v) => format!("\"{}\"", v.as_str()),
        }
    }

    /// The value as a person reads it (`sticky`, `true`, `5`).
    pub fn shown(&self) -> String {
        match self {
            Setting::Strategy(v) => v.as_str().to_string(),
            other => other.stored(),
        }
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

    /// Every setting with its current value, in the order of their keys' names.
    pub fn all(&self) -> [Setting; 11] {
        [
            Setting::AutoSave(self.auto_save),
            Setting::Balancing(self.balancing),
            Setting::EventsMaxAgeDays(self.events_max_age_days),
            Setting::EventsMaxRows(self.events_max_rows),
            Setting::Failover(self.failover),
            Setting::MaxAttempts(self.max_attempts),
            Setting::MaxWaitSeconds(self.max_wait_seconds),
            Setting::SoftLimitPercent(self.soft_limit_percent),
            Setting::Strategy(self.strategy),
            Setting::UsageEnabled(self.usage_enabled),
            Setting::UsageIntervalSeconds(self.usage_interval_seconds),
        ]
    }

    /// Stored key/value pairs (values as JSON text), in the order of their keys' names.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.all().iter().map(|s| (s.key().to_string(), s.stored())).collect()
    }

    /// Rebuilds settings from stored pairs; an unknown or broken stored value keeps its default.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Settings {
        let mut s = Settings::default();
        for (k, v) in pairs {
            if let Err(e) = Setting::from_text(k, v).and_then(|setting| s.apply(setting)) {
                tracing::warn!(key = k, error = %e, "ignoring a stored setting");
            }
        }
        s
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

    /// One setting's value as a person reads it (`sticky`, `true`, `5`); `None` for an unknown key.
    pub fn shown(&self, key: &str) -> Option<String> {
        self.all().iter().find(|s| s.key() == key).map(Setting::shown)
    }
}

/// A setting's value as it arrives, before its key says what it must be: `settings.set` takes
/// `true` or `"on"`, `5` or `"5"`. Anything else (a fraction, a list) is kept only to be refused
/// with the key's own message.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum LooseValue {
    Flag(bool),
    Whole(i64),
    Text(String),
    Other(serde::de::IgnoredAny),
}

impl LooseValue {
    /// A value typed on a command line or kept in the store: JSON when it reads as JSON
    /// (`true`, `5`, `"quota"`), else the text itself (`quota`, `on`).
    pub fn from_text(text: &str) -> LooseValue {
        serde_json::from_str(text).unwrap_or_else(|_| LooseValue::Text(text.to_string()))
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            LooseValue::Flag(b) => Some(*b),
            LooseValue::Text(s) => match s.as_str() {
                "true" | "on" => Some(true),
                "false" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            LooseValue::Whole(n) => Some(*n),
            LooseValue::Text(s) => s.parse().ok(),
            _ => None,
        }
    }

    fn as_text(&self) -> Option<&str> {
        match self {
            LooseValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
