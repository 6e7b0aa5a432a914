//! The sidecar loop: read NDJSON requests, answer them concurrently, forward bus notices, and
//! shut down cleanly (within a second) on end of input or `shutdown`.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::dispatch::{dispatch, offline_answer};
use super::framing::{Frame, LineReader, MAX_LINE};
use super::host_writes::{cost, write_loop, HostWrites, Notices};
use super::trim::{release_free_memory, trim_when_quiet, Activity, QUIET};
use super::wire::*;
use crate::events::{Notice, Subscribe};
use crate::runtime::Runtime;

/// How long in-flight requests may still finish after input ends.
const DRAIN: Duration = Duration::from_millis(400);
/// How long the final store flush may take.
const FLUSH: Duration = Duration::from_millis(250);

/// Requests in flight at once (read, their answer not yet queued for output), counted in
/// permits: a line costs one per 16 KiB started ([`super::host_writes::PERMIT_BYTES`]), so a few
/// large lines weigh as much as many small ones. When all are taken the reader stops reading.
pub const MAX_IN_FLIGHT: u32 = 64;
/// Elements of one batch run at once (in order, answered as one array).
const BATCH_CONCURRENCY: usize = 16;

/// Forwards bus notices to the host as notifications, through the bounded [`Notices`].
struct Forwarder(Arc<Notices>);

impl Actor for Forwarder {
    type Context = Context<Self>;
}

impl Handler<Notice> for Forwarder {
    type Result = ();
    fn handle(&mut self, notice: Notice, _: &mut Context<Self>) {
        match notice {
            Notice::Event(e) => self.0.push(notification("event", json!(e))),
            Notice::Toast { message, variant } => self
                .0
                .push(notification("toast", json!({"message": message, "variant": variant}))),
            Notice::AuthSync { provider_id, auth } => {
                let line = notification("auth.sync", json!({"providerID": provider_id, "auth": auth}));
                self.0.push_auth(provider_id, line);
            }
            Notice::StoreChanged => self.0.push_store_changed(notification("store.changed", json!({}))),
        }
    }
}

/// Answers one line: `None` when nothing is owed (notifications only). `shutdown` is set when
/// the line asked for it.
async fn handle_line(rt: Backend, line: Vec<u8>, shutdown: &mut bool) -> Option<String> {
    match parse_line(&line) {
        Err(e) => Some(error_response(None, e)),
        Ok(Parsed::Single(raw)) => {
            let incoming = decode(raw);
            *shutdown |= incoming.is_shutdown();
            answer(rt, incoming).await
        }
        Ok(Parsed::Batch(items)) => {
            let incoming: Vec<Incoming> = items.into_iter().map(decode).collect();
            *shutdown |= incoming.iter().any(Incoming::is_shutdown);
            // Answers are appended as they come, in order: linear in the batch's size.
            let mut out = String::from("[");
            let mut answers = futures::stream::iter(incoming)
                .map(|i| answer(rt.clone(), i))
                .buffered(BATCH_CONCURRENCY);
            while let Some(a) = answers.next().await {
                if let Some(a) = a {
                    if out.len() > 1 {
                        out.push(',');
                    }
                    out.push_str(&a);
                }
            }
            out.push(']');
            (out.len() > 2).then_some(out)
        }
    }
}

async fn answer(rt: Backend, incoming: Incoming) -> Option<String> {
    match incoming {
        Incoming::Invalid(id, e) => Some(error_response(id.as_deref(), e)),
        Incoming::Request(req) => {
            let span = tracing::debug_span!("request", method = %req.method.chars().take(64).collect::<String>());
            let result = rt.dispatch(&req.method, req.params).instrument(span).await;
            if let Err(e) = &result {
                tracing::debug!(code = e.code, message = %e.message, "request failed");
            }
            req.id.map(|id| response(Some(&id), &result))
        }
    }
}

/// What answers the methods: the live runtime, or — when the store could not be opened — a
/// stand-in that keeps the host working (hooks pass through) and answers the rest with -32005.
#[derive(Clone)]
pub enum Backend {
    Live(Runtime),
    StoreUnavailable(String),
}

impl Backend {
    async fn dispatch(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        match self {
            Backend::Live(rt) => dispatch(rt, method, params).await,
            Backend::StoreUnavailable(why) => match method {
                "initialize" | "shutdown" | "chat.message" | "chat.headers" => Ok(offline_answer(method)),
                _ => Err(RpcError::new(STORE_UNAVAILABLE, format!("store unavailable: {why}"))),
            },
        }
    }
}

/// Serves the protocol on `reader`/`writer` until end of input or `shutdown`, then flushes the
/// store. Run inside an actix system.
///
/// Bounded throughout: at most [`MAX_IN_FLIGHT`] permits of requests run and their answers wait
/// in an output budget of [`super::host_writes::OUT_QUEUE`] permits. A host that does not read
/// spends that budget; answered requests then wait for room with their permits held, and the
/// reader stops reading stdin, so the pipe pushes back.
pub async fn serve<R, W>(backend: Backend, reader: R, writer: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + 'static,
{
    let (out_tx, out_rx) = HostWrites::new();
    let notices = Arc::new(Notices::default());
    let writer_task = tokio::task::spawn_local(write_loop(writer, out_rx, notices.clone()));
    let forwarder = Forwarder(notices).start();
    if let Backend::Live(rt) = &backend {
        rt.bus.do_send(Subscribe(forwarder.clone().recipient()));
    }

    // Loaded: what loading freed goes back to the system, and so do the mappings of the code
    // only start-up ran (`code_pages`), before the first line.
    if let Backend::Live(_) = &backend {
        release_free_memory();
        let released = super::code_pages::release_start_up_code();
        tracing::debug!(bytes = released, "start-up code pages released");
    }
    // Freed heap memory goes back to the system once a burst of lines is over.
    let activity = Arc::new(Activity::default());
    let trimmer = tokio::task::spawn_local(trim_when_quiet(
        activity.clone(),
        || tokio::time::sleep(QUIET),
        release_free_memory,
    ));

    let mut lines = LineReader::new(reader, MAX_LINE);
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT as usize));
    let mut tasks = JoinSet::new();
    let (stop_tx, mut stop_rx) = mpsc::unbounded_channel::<()>();
    loop {
        let frame = tokio::select! {
            biased;
            _ = stop_rx.recv() => break,
            f = lines.next() => f,
        };
        match frame {
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read from the host");
                break;
            }
            Ok(Some(Frame::TooLong)) => {
                let e = RpcError::new(INVALID_REQUEST, format!("line longer than {MAX_LINE} bytes"));
                if !out_tx.send(error_response(None, e)).await {
                    break;
                }
            }
            Ok(Some(Frame::Line(line))) if line.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Some(Frame::Line(line))) => {
                activity.seen();
                let cost = cost(line.len(), MAX_IN_FLIGHT as usize);
                let permit = tokio::select! {
                    biased;
                    _ = stop_rx.recv() => break,
                    p = permits.clone().acquire_many_owned(cost) => p.expect("the semaphore is never closed"),
                };
                let (rt, out, stop) = (backend.clone(), out_tx.clone(), stop_tx.clone());
                tasks.spawn_local(async move {
                    let mut shutdown = false;
                    if let Some(answer) = handle_line(rt, line, &mut shutdown).await {
                        // Waits while the host is not reading; the permit is held until then.
                        out.send(answer).await;
                    }
                    drop(permit);
                    if shutdown {
                        let _ = stop.send(());
                    }
                });
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    trimmer.abort();
    let _ = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    if let Backend::Live(rt) = &backend {
        if tokio::time::timeout(FLUSH, rt.flush()).await.is_err() {
            tracing::warn!("the store flush did not finish in time");
        }
    }
    // The writer ends once every response sender is gone and what waits is written.
    drop(out_tx);
    let _ = tokio::time::timeout(Duration::from_millis(50), writer_task).await;
    drop(forwarder);
    Ok(())
}
