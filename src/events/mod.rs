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

#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub Recipient<Notice>);

#[derive(Message)]
#[rtype(result = "()")]
pub struct Flush;

pub struct EventBus {
    store: StoreHandle,
    clock: SharedClock,
    subscribers: Vec<Recipient<Notice>>,
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
        self.subscribers.retain(|s| s.connected());
        for s in &self.subscribers {
            s.do_send(notice.clone());
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
        self.subscribers.push(msg.0);
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
