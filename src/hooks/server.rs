//! The sidecar loop: read NDJSON requests, answer them concurrently, forward bus notices, and
//! shut down cleanly (within a second) on end of input or `shutdown`.

use std::time::Duration;

use actix::prelude::*;
use futures::future::join_all;
use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::dispatch::{dispatch, offline_answer};
use super::framing::{write_all, Frame, LineReader, MAX_LINE};
use super::wire::*;
use crate::actors::event_bus::{Notice, Subscribe};
use crate::actors::Runtime;

/// How long in-flight requests may still finish after input ends.
const DRAIN: Duration = Duration::from_millis(400);
/// How long the final store flush may take.
const FLUSH: Duration = Duration::from_millis(250);

/// Forwards bus notices to the host as notifications.
struct Forwarder(mpsc::UnboundedSender<String>);

impl Actor for Forwarder {
    type Context = Context<Self>;
}

impl Handler<Notice> for Forwarder {
    type Result = ();
    fn handle(&mut self, notice: Notice, _: &mut Context<Self>) {
        let msg = match notice {
            Notice::Event(e) => notification("event", json!(e)),
            Notice::Toast { message, variant } => {
                notification("toast", json!({"message": message, "variant": variant}))
            }
            Notice::AuthSync { provider_id, auth } => {
                notification("auth.sync", json!({"providerID": provider_id, "auth": auth}))
            }
        };
        let _ = self.0.send(msg.to_string());
    }
}

/// Answers one line: `None` when nothing is owed (notifications only). `shutdown` is set when
/// the line asked for it.
async fn handle_line(rt: Backend, line: Vec<u8>, shutdown: &mut bool) -> Option<Value> {
    let value: Value = match serde_json::from_slice(&line) {
        Ok(v) => v,
        Err(e) => {
            let what = if std::str::from_utf8(&line).is_err() {
                "the line is not UTF-8".to_string()
            } else {
                safe_serde_message(&e)
            };
            return Some(error_response(
                Value::Null,
                RpcError::new(PARSE_ERROR, format!("parse error: {what}")),
            ));
        }
    };
    match value {
        Value::Array(items) if items.is_empty() => Some(error_response(
            Value::Null,
            RpcError::new(INVALID_REQUEST, "an empty batch is not a request"),
        )),
        Value::Array(items) => {
            *shutdown |= items
                .iter()
                .any(|i| i.get("method").and_then(Value::as_str) == Some("shutdown"));
            let answers = join_all(items.into_iter().map(|item| handle_one(rt.clone(), item))).await;
            let answers: Vec<Value> = answers.into_iter().flatten().collect();
            (!answers.is_empty()).then_some(Value::Array(answers))
        }
        single => {
            *shutdown |= single.get("method").and_then(Value::as_str) == Some("shutdown");
            handle_one(rt, single).await
        }
    }
}

async fn handle_one(rt: Backend, value: Value) -> Option<Value> {
    match decode(value) {
        Incoming::Invalid(id, e) => Some(error_response(id.unwrap_or(Value::Null), e)),
        Incoming::Request(req) => {
            let span = tracing::debug_span!("request", method = %req.method.chars().take(64).collect::<String>());
            let result = rt.dispatch(&req.method, req.params).instrument(span).await;
            if let Err(e) = &result {
                tracing::debug!(code = e.code, message = %e.message, "request failed");
            }
            req.id.map(|id| response(id, result))
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
pub async fn serve<R, W>(backend: Backend, reader: R, mut writer: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + 'static,
{
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    // Writes every message waiting as one write: one syscall per burst, not per line.
    let writer_task = tokio::task::spawn_local(async move {
        let mut buf = String::new();
        let mut done = false;
        while !done {
            let Some(first) = out_rx.recv().await else { break };
            buf.clear();
            let mut next = Some(first);
            while let Some(line) = next {
                if line.is_empty() {
                    done = true; // the end-of-output marker
                    break;
                }
                buf.push_str(&line);
                buf.push('\n');
                next = out_rx.try_recv().ok();
            }
            if let Err(e) = write_all(&mut writer, buf.as_bytes()).await {
                tracing::warn!(error = %e, "cannot write to the host; stopping output");
                break;
            }
        }
    });
    let forwarder = Forwarder(out_tx.clone()).start();
    if let Backend::Live(rt) = &backend {
        rt.bus.do_send(Subscribe(forwarder.clone().recipient()));
    }

    let mut lines = LineReader::new(reader, MAX_LINE);
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
                let _ = out_tx.send(error_response(Value::Null, e).to_string());
            }
            Ok(Some(Frame::Line(line))) if line.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Some(Frame::Line(line))) => {
                let (rt, out, stop) = (backend.clone(), out_tx.clone(), stop_tx.clone());
                tasks.spawn_local(async move {
                    let mut shutdown = false;
                    if let Some(answer) = handle_line(rt, line, &mut shutdown).await {
                        let _ = out.send(answer.to_string());
                    }
                    if shutdown {
                        let _ = stop.send(());
                    }
                });
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    if let Backend::Live(rt) = &backend {
        if tokio::time::timeout(FLUSH, rt.flush()).await.is_err() {
            tracing::warn!("the store flush did not finish in time");
        }
    }
    let _ = out_tx.send(String::new());
    let _ = tokio::time::timeout(Duration::from_millis(50), writer_task).await;
    drop(forwarder);
    Ok(())
}
