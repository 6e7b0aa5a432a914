//! Event bus actor: stores every published event, then pushes it to subscribers; also carries the
//! sidecar's other notifications (toasts, auth syncs) to them.
//!
//! Events are written in batches: one write in flight at a time, the rest queue behind it; each
//! batch's transaction also prunes the table to its bounds.

use actix::prelude::*;
use tokio::sync::oneshot;

use crate::clock::SharedClock;
use crate::model::{Auth, Millis, NewEvent, StoredEvent};
use crate::store::worker::StoreHandle;

/// How a toast looks to the user; on the wire `success`, `warning`, `error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToastVariant {
    Success,
    Warning,
    Error,
}

/// What subscribers receive.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum Notice {
    /// An event, after it was stored.
    Event(StoredEvent),
    /// A message for the user.
    Toast { message: String, variant: ToastVariant },
    /// The host should write this credential as its own for the provider.
    AuthSync { provider_id: String, auth: Auth },
    /// Another process committed to the store; what this sidecar answers has been reloaded.
    StoreChanged,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish(pub NewEvent);

#[derive(Message)]
#[rtype(result = "()")]
pub struct Notify(pub Notice);

/// Every notice goes to this recipient.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub Recipient<Notice>);

/// Only the notices `wants` picks go to this recipient: an actor on another thread is then not
/// woken for the others (a failover's events and toasts, which only the host reads).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscribeTo(pub Recipient<Notice>, pub Wants);

/// Which notices a subscriber is sent.
pub type Wants = fn(&Notice) -> bool;

#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

pub struct EventBus {
    store: StoreHandle,
    clock: SharedClock,
    /// Each with the notices it wants.
    subscribers: Vec<(Recipient<Notice>, Wants)>,
    queue: Vec<(NewEvent, Millis)>,
    writing: bool,
    waiters: Vec<oneshot::Sender<()>>,
    /// Event writes failing in a row (a read-only or full disk), logged sparingly.
    write_failures: crate::runtime::repeated::Repeated,
}

impl EventBus {
    pub fn new(store: StoreHandle, clock: SharedClock) -> Self {
        EventBus {
            store,
            clock,
            subscribers: Vec::new(),
            queue: Vec::new(),
            writing: false,
            waiters: Vec::new(),
            write_failures: Default::default(),
        }
    }

    fn fan_out(&mut self, notice: Notice) {
        self.subscribers.retain(|(s, _)| s.connected());
        for (s, wants) in &self.subscribers {
            if wants(&notice) {
                s.do_send(notice.clone());
            }
        }
    }

    fn write_queue(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        if self.queue.is_empty() {
            for w in self.waiters.drain(..) {
                let _ = w.send(());
            }
            return;
        }
        self.writing = true;
        let batch = std::mem::take(&mut self.queue);
        // The store prunes to the event bounds in the same transaction.
        let now = self.clock.now_ms();
        let store = self.store.clone();
        let fut = async move { store.run(move |s| s.append_events(&batch, now)).await };
        ctx.spawn(fut.into_actor(self).map(|result, bus, ctx| {
            bus.writing = false;
            match result {
                Ok(stored) => {
                    bus.write_failures.recovered("storing events");
                    for e in stored {
                        bus.fan_out(Notice::Event(e));
                    }
                }
                Err(e) => {
                    let now = bus.clock.now_ms();
                    bus.write_failures
                        .warn(now, "could not store events; they are dropped", &e)
                }
            }
            bus.write_queue(ctx);
        }));
    }
}

impl Actor for EventBus {
    type Context = Context<Self>;
}

impl Handler<Publish> for EventBus {
    type Result = ();
    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) {
        tracing::debug!(kind = msg.0.kind.as_str(), message = %msg.0.message, "event");
        self.queue.push((msg.0, self.clock.now_ms()));
        self.write_queue(ctx);
    }
}

impl Handler<Notify> for EventBus {
    type Result = ();
    fn handle(&mut self, msg: Notify, _: &mut Context<Self>) {
        self.fan_out(msg.0);
    }
}

impl Handler<Subscribe> for EventBus {
    type Result = ();
    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.subscribers.push((msg.0, |_| true));
    }
}

impl Handler<SubscribeTo> for EventBus {
    type Result = ();
    fn handle(&mut self, msg: SubscribeTo, _: &mut Context<Self>) {
        self.subscribers.push((msg.0, msg.1));
    }
}

impl Handler<Flush> for EventBus {
    type Result = ResponseFuture<()>;
    fn handle(&mut self, _: Flush, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.waiters.push(tx);
        self.write_queue(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

/// Forwards the notices it receives to a channel (the tests of every subscriber).
#[cfg(test)]
pub(crate) struct Collector(pub tokio::sync::mpsc::UnboundedSender<Notice>);

#[cfg(test)]
impl Actor for Collector {
    type Context = Context<Self>;
}

#[cfg(test)]
impl Handler<Notice> for Collector {
    type Result = ();
    fn handle(&mut self, n: Notice, _: &mut Context<Self>) {
        let _ = self.0.send(n);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc::unbounded_channel;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::EventKind;
    use crate::store::Store;

    fn kind(n: &Notice) -> String {
        match n {
            Notice::Event(e) => e.kind.clone(),
            Notice::Toast { .. } => "toast".into(),
            Notice::AuthSync { .. } => "auth.sync".into(),
            Notice::StoreChanged => "store.changed".into(),
        }
    }

    #[actix_rt::test]
    async fn a_subscriber_with_a_filter_is_sent_only_the_notices_it_wants_and_others_get_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreHandle::start(Store::open(&dir.path().join("balancer.sqlite")).unwrap());
        let bus = EventBus::new(store, Arc::new(ManualClock::new(1_700_000_000_000))).start();
        let (all_tx, mut all) = unbounded_channel();
        let (some_tx, mut some) = unbounded_channel();
        bus.do_send(Subscribe(Collector(all_tx).start().recipient()));
        bus.do_send(SubscribeTo(
            Collector(some_tx).start().recipient(),
            crate::usage::refresher::wants,
        ));
        bus.do_send(Publish(NewEvent::new(EventKind::FailoverPerformed, "p: a → b")));
        bus.do_send(Notify(Notice::Toast {
            message: "p: a is limited".into(),
            variant: ToastVariant::Warning,
        }));
        bus.do_send(Publish(NewEvent::new(EventKind::AccountSaved, "p/c saved")));
        bus.do_send(Notify(Notice::StoreChanged));
        bus.send(Flush).await.unwrap();
        let mut got_all = Vec::new();
        while got_all.len() < 4 {
            got_all.push(kind(&all.recv().await.unwrap()));
        }
        got_all.sort();
        assert_eq!(
            got_all,
            ["account_saved", "failover_performed", "store.changed", "toast"]
        );
        let mut got_some = vec![kind(&some.recv().await.unwrap()), kind(&some.recv().await.unwrap())];
        got_some.sort();
        assert_eq!(got_some, ["account_saved", "store.changed"]);
        // Whatever was sent to both has arrived at both by now (one mailbox each, sent in turn).
        bus.send(Notify(Notice::StoreChanged)).await.unwrap();
        assert_eq!(kind(&some.recv().await.unwrap()), "store.changed");
        assert!(
            some.try_recv().is_err(),
            "no failover event or toast reached the filtered one"
        );
    }

    #[test]
    fn the_token_keeper_wants_account_events_alone() {
        let event = |k: EventKind| {
            Notice::Event(StoredEvent {
                id: 1,
                kind: k.as_str().into(),
                provider_id: None,
                alias: None,
                message: String::new(),
                created_at: 0,
                metadata: Default::default(),
            })
        };
        let wants = crate::tokens::wants;
        assert!(wants(&event(EventKind::AccountSaved)));
        assert!(!wants(&event(EventKind::FailoverPerformed)));
        assert!(!wants(&event(EventKind::RateLimitDetected)));
        assert!(!wants(&Notice::StoreChanged));
    }
}
