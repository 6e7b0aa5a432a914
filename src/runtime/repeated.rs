//! Logging for a failure that repeats on every tick (a store on a read-only or full disk): the
//! first failure, then at most one line a minute saying how many were left out, and one line
//! when it ends, instead of twenty lines a second.

use std::fmt::Display;

use crate::model::Millis;

/// How long a repeating failure stays quiet between two lines.
pub const QUIET_MS: Millis = 60_000;

#[derive(Debug, Default)]
pub struct Repeated {
    /// When the last line was written, while the failure lasts.
    logged_at: Option<Millis>,
    /// Failures since that line.
    left_out: u64,
}

/// What to write for one outcome, if anything.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    First,
    Again { left_out: u64 },
    Ended,
}

impl Repeated {
    /// A failure at `now`: the line to write, if any.
    pub fn failed(&mut self, now: Millis) -> Option<Line> {
        match self.logged_at {
            None => {
                self.logged_at = Some(now);
                Some(Line::First)
            }
            Some(at) if now.saturating_sub(at) >= QUIET_MS => {
                let left_out = std::mem::take(&mut self.left_out);
                self.logged_at = Some(now);
                Some(Line::Again { left_out })
            }
            Some(_) => {
                self.left_out += 1;
                None
            }
        }
    }

    /// A success: `Ended` when a failure was going on.
    pub fn succeeded(&mut self) -> Option<Line> {
        self.left_out = 0;
        self.logged_at.take().map(|_| Line::Ended)
    }

    /// Logs a failure of `what` (a warning) the way `failed` decides.
    pub fn warn(&mut self, now: Millis, what: &str, error: &dyn Display) {
        match self.failed(now) {
            Some(Line::First) => tracing::warn!(%error, "{what}"),
            Some(Line::Again { left_out }) => {
                tracing::warn!(%error, left_out, "{what} (still failing)")
            }
            _ => {}
        }
    }

    /// Logs the end of a failure of `what`, if one was going on.
    pub fn recovered(&mut self, what: &str) {
        if self.succeeded().is_some() {
            tracing::info!("{what}: works again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_on_every_tick_is_written_once_then_once_a_minute_with_the_count_left_out() {
        let mut r = Repeated::default();
        assert_eq!(r.failed(0), Some(Line::First));
        let quiet: Vec<_> = (1..1200).map(|i| r.failed(i * 50)).collect();
        assert!(quiet.iter().all(Option::is_none));
        assert_eq!(r.failed(60_000), Some(Line::Again { left_out: 1199 }));
        assert_eq!(r.failed(60_050), None);
    }

    #[test]
    fn a_success_ends_the_failure_once_and_the_next_failure_is_written_at_once() {
        let mut r = Repeated::default();
        assert_eq!(r.succeeded(), None, "nothing was failing");
        r.failed(0);
        r.failed(50);
        assert_eq!(r.succeeded(), Some(Line::Ended));
        assert_eq!(r.succeeded(), None);
        assert_eq!(r.failed(100), Some(Line::First));
    }
}
