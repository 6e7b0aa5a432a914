//! Continuity records on their way to and from the store (docs/continuity.md): the retry
//! balancer hands the registry each changed record (`RecordConversations`, never awaited), they
//! go out with the next sync job like the other bookkeeping, and records any process wrote since
//! the last read go back to the follower (`FollowConversations`, the retry balancer) after each
//! sync. Records merge idempotently (`Continuity::merge`), so one written twice or read back is
//! harmless: a write that failed is simply queued again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix::prelude::*;

use super::AccountRegistry;
use crate::store::Continuity;

/// Changed records of the retry balancer, to be written with the next flush.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RecordConversations(pub Vec<(String, Continuity)>);

/// Records some process wrote to the store, to merge into memory.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConversationsChanged(pub Vec<(String, Continuity)>);

/// From now on, records written after store `seq` (what the follower loaded at start) are sent
/// to `to` as they appear.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FollowConversations {
    pub to: Recipient<ConversationsChanged>,
    pub seq: i64,
}

/// Queued records (merged per session), and those handed to a store job not yet settled.
pub(super) struct ConversationOutbox {
    queued: HashMap<String, Continuity>,
    in_flight: BTreeMap<u64, Vec<(String, Continuity)>>,
    next_id: u64,
    /// The registry's flush signal: queueing schedules a flush like any bookkeeping.
    signal: Arc<tokio::sync::Notify>,
    /// Who is told of records read back, and the highest `seq` read so far.
    pub(super) follower: Option<(Recipient<ConversationsChanged>, i64)>,
}

impl ConversationOutbox {
    pub(super) fn new(signal: Arc<tokio::sync::Notify>) -> Self {
        ConversationOutbox {
            queued: HashMap::new(),
            in_flight: BTreeMap::new(),
            next_id: 0,
            signal,
            follower: None,
        }
    }

    pub(super) fn queue(&mut self, records: Vec<(String, Continuity)>) {
        for (session, record) in records {
            self.queued.entry(session).or_default().merge(&record);
        }
        self.signal.notify_one();
    }

    /// Everything queued, for one store job, as flush `id`; settle it with [`Self::settle`].
    pub(super) fn take(&mut self) -> (u64, Vec<(String, Continuity)>) {
        let id = self.next_id;
        self.next_id += 1;
        let out: Vec<(String, Continuity)> = self.queued.drain().collect();
        if !out.is_empty() {
            self.in_flight.insert(id, out.clone());
        }
        (id, out)
    }

    /// Flush `id` was written, or goes again with the next job.
    pub(super) fn settle(&mut self, id: u64, written: bool) {
        if let Some(records) = self.in_flight.remove(&id) {
            if !written {
                self.queue(records);
            }
        }
    }

    /// The `seq` to read after, when someone follows.
    pub(super) fn read_after(&self) -> Option<i64> {
        self.follower.as_ref().map(|(_, seq)| *seq)
    }

    /// Hands records read up to `seq` to the follower.
    pub(super) fn deliver(&mut self, records: Vec<(String, Continuity)>, seq: i64) {
        let Some((to, seen)) = &mut self.follower else { return };
        *seen = (*seen).max(seq);
        if !records.is_empty() {
            to.do_send(ConversationsChanged(records));
        }
    }
}

impl Handler<RecordConversations> for AccountRegistry {
    type Result = ();
    fn handle(&mut self, msg: RecordConversations, _: &mut Context<Self>) {
        self.conversations.queue(msg.0);
    }
}

impl Handler<FollowConversations> for AccountRegistry {
    type Result = ();
    fn handle(&mut self, msg: FollowConversations, _: &mut Context<Self>) {
        self.conversations.follower = Some((msg.to, msg.seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::continuity::Scope;

    fn edited(scope: Scope) -> Continuity {
        Continuity {
            edited: Some(scope),
            updated_at: 1,
            ..Default::default()
        }
    }

    #[test]
    fn a_flush_not_written_goes_again_merged_with_what_came_since() {
        let mut o = ConversationOutbox::new(Default::default());
        o.queue(vec![("s".into(), edited(Scope::SameProvider))]);
        let (id, first) = o.take();
        assert_eq!(first.len(), 1);
        assert!(o.take().1.is_empty(), "in flight once, not sent again");
        o.queue(vec![("s".into(), edited(Scope::ProviderMove))]);
        o.settle(id, false);
        let (id, again) = o.take();
        assert_eq!(again, [("s".to_string(), edited(Scope::ProviderMove))]);
        o.settle(id, true);
        assert!(o.take().1.is_empty() && o.in_flight.is_empty());
    }
}
