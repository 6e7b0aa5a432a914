//! Hot-path bookkeeping on its way to the store: queued, then in flight with exactly one store
//! job, then settled: dropped once that job wrote it, or put back (as older than anything queued
//! since) to go with the next job. A change goes out in one job at a time, so a failure counted
//! as "one more" is added once, however many jobs run meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::store::{ActivePatch, RuntimePatch};

/// Runtime changes handed to one store job; [`Outbox::settle`] says what became of them.
pub(super) struct Flush {
    pub(super) patches: Vec<RuntimePatch>,
    pub(super) actives: Vec<ActivePatch>,
    pub(super) id: u64,
}

#[derive(Default)]
struct Batch {
    patches: Vec<RuntimePatch>,
    actives: Vec<ActivePatch>,
}

#[derive(Default)]
pub(super) struct Outbox {
    queued: HashMap<(String, String), RuntimePatch>,
    queued_active: HashMap<String, ActivePatch>,
    in_flight: BTreeMap<u64, Batch>,
    next_id: u64,
    /// Raised whenever something is queued, so a flush is scheduled only when one is owed.
    signal: Arc<tokio::sync::Notify>,
}

impl Outbox {
    /// Queues a change to one account, merged with what is queued for it already.
    pub(super) fn queue(&mut self, patch: RuntimePatch) {
        let key = (patch.provider_id.clone(), patch.alias.clone());
        let merged = match self.queued.remove(&key) {
            Some(older) => merge(older, patch),
            None => patch,
        };
        self.queued.insert(key, merged);
        self.signal.notify_one();
    }

    pub(super) fn queue_active(&mut self, patch: ActivePatch) {
        self.queued_active.insert(patch.provider_id.clone(), patch);
        self.signal.notify_one();
    }

    /// Notified once something is queued (a permit is kept when nobody waits).
    pub(super) fn signal(&self) -> Arc<tokio::sync::Notify> {
        self.signal.clone()
    }

    /// Everything queued, for one store job; in flight until [`Outbox::settle`].
    pub(super) fn take(&mut self) -> Flush {
        let id = self.next_id;
        self.next_id += 1;
        let patches: Vec<RuntimePatch> = self.queued.drain().map(|(_, p)| p).collect();
        let actives: Vec<ActivePatch> = self.queued_active.drain().map(|(_, a)| a).collect();
        if !patches.is_empty() || !actives.is_empty() {
            let batch = Batch {
                patches: patches.clone(),
                actives: actives.clone(),
            };
            self.in_flight.insert(id, batch);
        }
        Flush { patches, actives, id }
    }

    /// The job that took flush `id` wrote it, or did not (it goes with the next job). `false`
    /// when that flush was empty.
    pub(super) fn settle(&mut self, id: u64, written: bool) -> bool {
        let Some(batch) = self.in_flight.remove(&id) else {
            return false;
        };
        if written {
            return true;
        }
        for older in batch.patches {
            let key = (older.provider_id.clone(), older.alias.clone());
            let merged = match self.queued.remove(&key) {
                Some(newer) => merge(older, newer),
                None => older,
            };
            self.queued.insert(key, merged);
        }
        for older in batch.actives {
            self.queued_active.entry(older.provider_id.clone()).or_insert(older);
        }
        // Owed again: the next flush is scheduled like any other.
        self.signal.notify_one();
        true
    }

    /// Changes not in the store yet, oldest first: to be laid over a snapshot read before them.
    pub(super) fn unwritten(&self) -> impl Iterator<Item = &RuntimePatch> {
        self.in_flight
            .values()
            .flat_map(|b| &b.patches)
            .chain(self.queued.values())
    }

    /// Failover choices not in the store yet, oldest first.
    pub(super) fn unwritten_actives(&self) -> impl Iterator<Item = &ActivePatch> {
        self.in_flight
            .values()
            .flat_map(|b| &b.actives)
            .chain(self.queued_active.values())
    }

    /// Something is queued, so a flush (which also looks for other processes' commits) is
    /// scheduled within `SYNC_INTERVAL`: the signal was raised when it was queued.
    pub(super) fn is_owed(&self) -> bool {
        !self.queued.is_empty() || !self.queued_active.is_empty()
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.queued.is_empty() && self.queued_active.is_empty() && self.in_flight.is_empty()
    }
}

/// `older`, then `newer`, as one change. A newer epoch (a user's reset came between) keeps only
/// the older last use.
fn merge(older: RuntimePatch, newer: RuntimePatch) -> RuntimePatch {
    let last_used_at = match (older.last_used_at, newer.last_used_at) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if older.epoch != newer.epoch {
        return RuntimePatch { last_used_at, ..newer };
    }
    let failures = match (older.failures, newer.failures) {
        (Some(a), Some(b)) => Some(a.then(b)),
        (a, b) => b.or(a),
    };
    RuntimePatch {
        last_used_at,
        cooldown: newer.cooldown.or(older.cooldown),
        failures,
        auth_failed: newer.auth_failed.or(older.auth_failed),
        ..newer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Account;
    use crate::store::FailureCount;

    fn failure(epoch: u32) -> RuntimePatch {
        RuntimePatch {
            failures: Some(FailureCount::ONE_MORE),
            epoch,
            ..RuntimePatch::for_account(&Account::for_test("p", "a"))
        }
    }

    fn failures_out(flush: &Flush) -> Vec<FailureCount> {
        flush.patches.iter().filter_map(|p| p.failures).collect()
    }

    #[test]
    fn a_change_in_flight_is_not_sent_again_by_the_next_job() {
        let mut o = Outbox::default();
        o.queue(failure(0));
        let first = o.take();
        o.queue(failure(0));
        let second = o.take();
        assert_eq!(failures_out(&first), [FailureCount::ONE_MORE]);
        assert_eq!(failures_out(&second), [FailureCount::ONE_MORE], "only the new one");
        o.settle(second.id, true);
        o.settle(first.id, true);
        assert!(o.is_empty());
    }

    #[test]
    fn a_flush_not_written_goes_with_the_next_job_before_what_came_since() {
        let mut o = Outbox::default();
        o.queue(failure(0));
        let lost = o.take();
        o.queue(RuntimePatch {
            failures: Some(FailureCount::RESET),
            ..failure(0)
        });
        o.settle(lost.id, false);
        let next = o.take();
        assert_eq!(
            failures_out(&next),
            [FailureCount::RESET],
            "one more, then a success: reset"
        );
        o.queue(failure(0));
        let lost = o.take();
        o.queue(failure(0));
        o.settle(lost.id, false);
        assert_eq!(failures_out(&o.take()), [FailureCount { reset: false, add: 2 }]);
    }

    #[test]
    fn what_is_not_written_yet_is_listed_oldest_first_and_a_newer_epoch_drops_the_older_counts() {
        let mut o = Outbox::default();
        o.queue(failure(0));
        let flight = o.take();
        o.queue(failure(0));
        assert_eq!(o.unwritten().count(), 2);
        o.queue(RuntimePatch {
            last_used_at: Some(7),
            ..failure(1)
        });
        let queued: Vec<_> = o.unwritten().skip(1).collect();
        assert_eq!((queued[0].epoch, queued[0].failures), (1, Some(FailureCount::ONE_MORE)));
        o.settle(flight.id, true);
        assert_eq!(o.unwritten().count(), 1);
    }
}
