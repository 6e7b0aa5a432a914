//! Injectable time: the system clock, or a manual clock tests move forward.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::model::Millis;

pub trait Clock: Send + Sync {
    /// Unix milliseconds now.
    fn now_ms(&self) -> Millis;
    /// Moves a manual clock forward; `false` for a real one.
    fn advance(&self, _ms: Millis) -> bool {
        false
    }
}

pub type SharedClock = Arc<dyn Clock>;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Millis) -> Self {
        ManualClock(AtomicI64::new(start))
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
    fn advance(&self, ms: Millis) -> bool {
        self.0.fetch_add(ms, Ordering::SeqCst);
        true
    }
}

/// The system clock, or a manual one starting at `$OPENCODE_BALANCER_TEST_CLOCK` (Unix ms) —
/// for tests of time-dependent behaviour through the real binary.
pub fn from_env() -> SharedClock {
    match std::env::var("OPENCODE_BALANCER_TEST_CLOCK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(start) => Arc::new(ManualClock::new(start)),
        None => Arc::new(SystemClock),
    }
}
