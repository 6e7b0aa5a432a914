//! Gives the heap memory a burst of requests freed back to the system once the host goes quiet.
//!
//! glibc returns only the free top of the heap by itself; free chunks below a live one stay
//! resident. A burst of 2,000 failovers at 10,000 accounts grew `serve`'s anonymous memory by
//! 1.5–3 MiB while the live heap stayed flat (heaptrack), and `malloc_trim` gave 1.5–1.8 MiB of
//! it back (docs/performance.md, issue 28). So: one `malloc_trim` once a whole [`QUIET`] period
//! passed with no line, between one and two periods after the last one. Nothing waits while
//! idle: the timer is armed by a line, never by itself, so an idle sidecar still never wakes.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How long the host must stay quiet before the heap is trimmed.
pub const QUIET: Duration = Duration::from_secs(1);

/// Lines seen, and the wake-up of a trimmer waiting for the first line after a trim.
#[derive(Default)]
pub struct Activity {
    lines: AtomicU64,
    /// Set while the trimmer waits for a first line: only that line notifies (no stale wake-up).
    waiting: AtomicBool,
    first: Notify,
}

impl Activity {
    /// A line came from the host (two atomic operations).
    pub fn seen(&self) {
        self.lines.fetch_add(1, Ordering::Relaxed);
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.first.notify_one();
        }
    }
}

/// Gives freed heap memory back to the system (glibc; elsewhere nothing to do).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists under its lock.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs `trim` once after each burst of lines: when a wait of `quiet` (each `wait()`) passes with
/// no line seen. Between bursts it waits for the next line without a timer.
pub async fn trim_when_quiet<W, F>(activity: Arc<Activity>, mut wait: W, trim: impl Fn())
where
    W: FnMut() -> F,
    F: Future<Output = ()>,
{
    loop {
        activity.waiting.store(true, Ordering::Release);
        let first = activity.first.notified();
        // A line between the store and here already cleared `waiting` and notified: kept.
        first.await;
        loop {
            let before = activity.lines.load(Ordering::Relaxed);
            wait().await;
            if activity.lines.load(Ordering::Relaxed) == before {
                break;
            }
        }
        trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use tokio::sync::Semaphore;

    /// A running trimmer whose quiet periods pass when the test adds permits to `pass`.
    struct Trimmer {
        activity: Arc<Activity>,
        trims: Rc<Cell<u32>>,
        /// Quiet periods begun (timers the real trimmer would arm).
        waits: Rc<Cell<u32>>,
        pass: Arc<Semaphore>,
    }

    fn trimmer() -> Trimmer {
        let t = Trimmer {
            activity: Arc::new(Activity::default()),
            trims: Rc::new(Cell::new(0)),
            waits: Rc::new(Cell::new(0)),
            pass: Arc::new(Semaphore::new(0)),
        };
        let (trims, waits, pass) = (t.trims.clone(), t.waits.clone(), t.pass.clone());
        tokio::task::spawn_local(trim_when_quiet(
            t.activity.clone(),
            move || {
                waits.set(waits.get() + 1);
                let pass = pass.clone();
                async move { pass.acquire().await.expect("open").forget() }
            },
            move || trims.set(trims.get() + 1),
        ));
        t
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[actix_rt::test]
    async fn an_idle_sidecar_arms_no_timer_and_trims_nothing() {
        let t = trimmer();
        settle().await;
        assert_eq!((t.waits.get(), t.trims.get()), (0, 0));
    }

    #[actix_rt::test]
    async fn a_burst_then_a_quiet_period_trims_once_and_then_waits_without_a_timer() {
        let t = trimmer();
        settle().await;
        for _ in 0..100 {
            t.activity.seen();
        }
        settle().await;
        assert_eq!((t.waits.get(), t.trims.get()), (1, 0), "one quiet period is waited for");
        t.pass.add_permits(1);
        settle().await;
        assert_eq!(t.trims.get(), 1);
        t.pass.add_permits(5);
        settle().await;
        assert_eq!(
            (t.waits.get(), t.trims.get()),
            (1, 1),
            "after the trim nothing waits until a line comes"
        );
        t.activity.seen();
        settle().await;
        assert_eq!(t.waits.get(), 2, "the next line arms the wait again");
    }

    #[actix_rt::test]
    async fn lines_during_the_quiet_period_put_the_trim_off_until_a_period_passes_without_any() {
        let t = trimmer();
        settle().await;
        t.activity.seen();
        settle().await;
        t.activity.seen();
        t.pass.add_permits(1);
        settle().await;
        assert_eq!(
            (t.waits.get(), t.trims.get()),
            (2, 0),
            "a line came during the first period"
        );
        t.pass.add_permits(1);
        settle().await;
        assert_eq!(t.trims.get(), 1);
    }
}
