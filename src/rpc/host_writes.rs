//! The sidecar's output, bounded: responses wait in a queue with a byte budget (a full queue
//! holds their senders back, which holds the reader back), notifications in a capped buffer that
//! drops events and toasts and keeps only the latest `auth.sync` per provider when the host does
//! not read.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWrite;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};

use super::framing::write_all;

/// Responses waiting for the writer, in permits of [`PERMIT_BYTES`]: each response takes one per
/// 16 KiB started (at least one, at most all), so at most 64 responses or about 1 MiB wait.
pub const OUT_QUEUE: usize = 64;
/// Bytes of a line one permit stands for (requests and responses alike).
pub const PERMIT_BYTES: usize = 16 * 1024;
/// Events and toasts waiting for the writer; more are dropped until the host reads again.
pub const MAX_NOTICES: usize = 256;
/// One write carries at most about this much; the write buffer is shrunk back to it after a
/// larger message.
const WRITE_CHUNK: usize = 64 * 1024;

#[derive(Default)]
struct Pending {
    lines: VecDeque<String>,
    /// The latest `auth.sync` per provider: an older one is stale once a newer one exists.
    auth: BTreeMap<String, String>,
    /// A `store.changed` not yet written: one says all there is to say, so it is never repeated.
    store_changed: Option<String>,
    dropped: u64,
}

/// Notifications for the host, bounded whatever the host does.
#[derive(Default)]
pub struct Notices {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Notices {
    /// Queues an `event` or `toast` line, or drops it when [`MAX_NOTICES`] are already waiting.
    pub fn push(&self, line: String) {
        let mut p = self.lock();
        if p.lines.len() >= MAX_NOTICES {
            p.dropped += 1;
            return;
        }
        p.lines.push_back(line);
        drop(p);
        self.wake.notify_one();
    }

    /// Queues an `auth.sync` line, replacing one for the same provider not yet written.
    pub fn push_auth(&self, provider_id: String, line: String) {
        self.lock().auth.insert(provider_id, line);
        self.wake.notify_one();
    }

    /// Queues a `store.changed` line unless one is already waiting (never dropped).
    pub fn push_store_changed(&self, line: String) {
        self.lock().store_changed.get_or_insert(line);
        self.wake.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves waiting notifications into `buf` (auth first: the host needs them before requests).
    fn drain_into(&self, buf: &mut Vec<u8>) {
        let mut p = self.lock();
        for (_, line) in std::mem::take(&mut p.auth) {
            push_line(buf, &line);
        }
        while let Some(line) = p.lines.pop_front() {
            push_line(buf, &line);
        }
        if let Some(line) = p.store_changed.take() {
            push_line(buf, &line);
        }
        if p.lines.capacity() > MAX_NOTICES {
            p.lines.shrink_to(MAX_NOTICES);
        }
        if p.dropped > 0 {
            tracing::warn!(
                dropped = p.dropped,
                "the host did not read its output: events and toasts were dropped (the event log keeps every event)"
            );
            p.dropped = 0;
        }
    }
}

fn push_line(buf: &mut Vec<u8>, line: &str) {
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
}

/// How many permits of `budget` a line of `len` bytes takes.
pub fn cost(len: usize, budget: usize) -> u32 {
    (1 + len / PERMIT_BYTES).min(budget) as u32
}

/// A response with its place in the output budget, given back once it is written.
struct Queued {
    line: String,
    _place: OwnedSemaphorePermit,
}

/// Where responses go: waits while the output budget is spent (the host is not reading).
#[derive(Clone)]
pub struct HostWrites {
    tx: mpsc::UnboundedSender<Queued>,
    budget: Arc<Semaphore>,
}

impl HostWrites {
    /// The host writes queue and what the writer reads (the budget bounds its length).
    pub fn new() -> (HostWrites, Responses) {
        let (tx, rx) = mpsc::unbounded_channel();
        let budget = Arc::new(Semaphore::new(OUT_QUEUE));
        (HostWrites { tx, budget }, Responses(rx))
    }

    /// Queues a response line once the budget has room; false when output has stopped.
    pub async fn send(&self, line: String) -> bool {
        let cost = cost(line.len(), OUT_QUEUE);
        let Ok(place) = self.budget.clone().acquire_many_owned(cost).await else {
            return false;
        };
        self.tx.send(Queued { line, _place: place }).is_ok()
    }
}

/// The writer's end of an [`HostWrites`].
pub struct Responses(mpsc::UnboundedReceiver<Queued>);

/// Writes responses and notifications until every [`HostWrites`] is gone, then what is left.
/// Everything waiting goes out in one write (one syscall per burst, not per line); the
/// responses' places are given back only once they are written.
pub async fn write_loop<W: AsyncWrite + Unpin>(mut writer: W, mut rx: Responses, notices: Arc<Notices>) {
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK);
    let mut written: Vec<Queued> = Vec::with_capacity(OUT_QUEUE);
    let mut open = true;
    while open {
        tokio::select! {
            biased;
            q = rx.0.recv() => match q {
                Some(q) => {
                    push_line(&mut buf, &q.line);
                    written.push(q);
                }
                None => open = false,
            },
            _ = notices.wake.notified() => {}
        }
        notices.drain_into(&mut buf);
        while buf.len() < WRITE_CHUNK {
            match rx.0.try_recv() {
                Ok(q) => {
                    push_line(&mut buf, &q.line);
                    written.push(q);
                }
                Err(_) => break,
            }
        }
        if buf.is_empty() {
            continue;
        }
        if let Err(e) = write_all(&mut writer, &buf).await {
            tracing::warn!(error = %e, "cannot write to the host; stopping output");
            return;
        }
        buf.clear();
        written.clear();
        if buf.capacity() > WRITE_CHUNK {
            buf.shrink_to(WRITE_CHUNK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(n: &Notices) -> Vec<String> {
        let mut buf = vec![];
        n.drain_into(&mut buf);
        String::from_utf8(buf).unwrap().lines().map(str::to_string).collect()
    }

    #[test]
    fn events_beyond_the_cap_are_dropped_and_the_cap_holds_again_after_a_drain() {
        let n = Notices::default();
        for i in 0..MAX_NOTICES + 50 {
            n.push(format!("e{i}"));
        }
        let out = drained(&n);
        assert_eq!(out.len(), MAX_NOTICES);
        assert_eq!(
            (out[0].as_str(), out[MAX_NOTICES - 1].clone()),
            ("e0", format!("e{}", MAX_NOTICES - 1))
        );
        n.push("later".into());
        assert_eq!(drained(&n), ["later"]);
    }

    #[test]
    fn one_store_changed_waits_however_many_come_and_it_is_never_dropped() {
        let n = Notices::default();
        for i in 0..MAX_NOTICES + 1 {
            n.push(format!("e{i}"));
        }
        n.push_store_changed("changed".into());
        n.push_store_changed("changed".into());
        let out = drained(&n);
        assert_eq!(out.len(), MAX_NOTICES + 1);
        assert_eq!(out.last().map(String::as_str), Some("changed"));
        n.push_store_changed("changed".into());
        assert_eq!(drained(&n), ["changed"], "once written, the next one waits again");
    }

    #[test]
    fn only_the_latest_auth_sync_per_provider_waits_and_it_is_never_dropped() {
        let n = Notices::default();
        for i in 0..MAX_NOTICES + 1 {
            n.push(format!("e{i}"));
        }
        n.push_auth("openai".into(), "old".into());
        n.push_auth("anthropic".into(), "a".into());
        n.push_auth("openai".into(), "new".into());
        let out = drained(&n);
        assert_eq!(&out[..2], ["a", "new"]);
        assert_eq!(out.len(), 2 + MAX_NOTICES);
    }

    #[tokio::test]
    async fn responses_wait_for_room_once_the_budget_is_spent_and_a_large_one_weighs_more() {
        use futures::FutureExt;
        let (tx, _rx) = HostWrites::new();
        for _ in 0..OUT_QUEUE {
            assert!(tx.send("r".into()).await);
        }
        assert!(tx.send("one more".into()).now_or_never().is_none());
        let (tx, mut rx) = HostWrites::new();
        assert!(tx.send("x".repeat(PERMIT_BYTES * OUT_QUEUE / 2)).await);
        assert_eq!(tx.budget.available_permits(), OUT_QUEUE / 2 - 1);
        drop(rx.0.recv().await);
        assert_eq!(
            tx.budget.available_permits(),
            OUT_QUEUE,
            "written, its place is given back"
        );
    }

    #[tokio::test]
    async fn the_writer_writes_what_waits_and_ends_when_the_senders_are_gone() {
        let (tx, rx) = HostWrites::new();
        let notices = Arc::new(Notices::default());
        notices.push("n1".into());
        assert!(tx.send("r1".into()).await);
        drop(tx);
        let mut out = Vec::new();
        write_loop(&mut out, rx, notices).await;
        let text = String::from_utf8(out).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        assert_eq!(lines, ["n1", "r1"]);
    }
}
