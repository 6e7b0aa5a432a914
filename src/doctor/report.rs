//! What `doctor` found: a level per finding, and the report shown as text or as `--json`.
//! Its own module, so the checks of other rooms (`opencode2::doctor`) can add findings without
//! importing the command that runs them.

use std::fmt::Write as _;

use crate::install::routes::{Loader, Route};
use crate::safe_text::{json_safe, safe};

/// One finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

pub struct Report {
    pub lines: Vec<(Level, String)>,
    /// The route the server plugin is installed by (the first found), if any.
    pub route: Option<Route>,
    /// Every loader of the server plugin found.
    pub loaders: Vec<Loader>,
    /// The opencode lines found and opencode 2's install (`hosts`); `null` until checked.
    pub hosts: serde_json::Value,
}

impl Report {
    pub(super) fn add(&mut self, level: Level, text: impl Into<String>) {
        self.lines.push((level, text.into()));
    }

    pub fn failed(&self) -> bool {
        self.lines.iter().any(|(l, _)| *l == Level::Fail)
    }

    /// One line per finding, each ending in a newline; a finding's text is one line (`safe`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (level, text) in &self.lines {
            let tag = match level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            let _ = writeln!(out, "{tag}  {}", safe(text));
        }
        out
    }

    /// `doctor --json`: `{ok, route, loaders: [{route, place, entry}], hosts, checks: [{level,
    /// message}]}` (`route` and `entry` may be null; `hosts` see `hosts::check`), one object,
    /// newline-terminated.
    pub fn json(&self) -> String {
        let level = |l: &Level| match l {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        };
        let value = serde_json::json!({
            "ok": !self.failed(),
            "route": self.route.map(Route::name),
            "loaders": self.loaders.iter().map(|l| serde_json::json!({
                "route": l.route.name(),
                "place": l.place.display().to_string(),
                "entry": l.entry,
            })).collect::<Vec<_>>(),
            "hosts": self.hosts,
            "checks": self.lines.iter().map(|(l, m)| serde_json::json!({
                "level": level(l),
                "message": m,
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        format!("{}\n", json_safe(&text))
    }
}
