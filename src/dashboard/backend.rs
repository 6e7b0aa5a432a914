//! The runtime side of the dashboard: an actix system on its own thread that reads the store
//! when it changed (the registry signals each commit of another process it loads), runs the
//! actions the keys ask for,
//! and reports over a channel, so the render thread never waits on the store or the network.
//! It also hears SIGINT, SIGTERM and SIGHUP, and then makes sure the process ends.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::action::execute;
use super::app::Command;
use super::data::{load, Snapshot};
use crate::clock::SharedClock;
use crate::runtime::Runtime;

/// What the runtime thread reports.
#[derive(Debug)]
pub enum Update {
    /// The store changed since the last snapshot sent (or this is the first).
    Snapshot(Box<Snapshot>),
    /// The store could not be read this time; the last snapshot stays.
    LoadFailed(String),
    /// The answer to a command.
    Done { id: u64, result: Result<String, String> },
    /// SIGINT, SIGTERM or SIGHUP arrived (its number): quit. The process ends by itself
    /// [`EXIT_GRACE`] later if the terminal side has not ended it by then.
    Interrupted(i32),
    /// The runtime thread has ended (after `stop`, a signal, or a panic).
    Stopped,
}

/// How long a signal leaves for a clean exit (restoring the terminal, writing what the runtime
/// owes the store) before the process exits anyway, with 128 + the signal's number.
pub const EXIT_GRACE: Duration = Duration::from_secs(1);

enum Request {
    Run(Command),
    Quit,
}

/// A running runtime thread.
pub struct Backend {
    requests: UnboundedSender<Request>,
    thread: Option<JoinHandle<()>>,
}

/// Sends [`Update::Stopped`] when the runtime thread ends, however it ends.
struct StoppedOnDrop<T: From<Update>>(mpsc::Sender<T>);

impl<T: From<Update>> Drop for StoppedOnDrop<T> {
    fn drop(&mut self) {
        let _ = self.0.send(Update::Stopped.into());
    }
}

impl Backend {
    /// Starts the runtime on `store`, reporting to `up` (any channel whose messages can carry an
    /// [`Update`]); fails (before anything is drawn) when the store cannot be opened.
    pub fn start<T: From<Update> + Send + 'static>(
        store: PathBuf,
        clock: SharedClock,
        up_tx: mpsc::Sender<T>,
    ) -> Result<Backend, String> {
        let (req_tx, req_rx) = unbounded_channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("dashboard-runtime".into())
            .spawn(move || {
                let _stopped = StoppedOnDrop(up_tx.clone());
                let sys = actix::System::new();
                sys.block_on(async move {
                    let rt = match Runtime::start(&store, clock) {
                        Ok(rt) => rt,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    serve(rt, req_rx, up_tx).await;
                });
            })
            .map_err(|e| format!("cannot start the runtime thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Backend {
                requests: req_tx,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the runtime thread stopped while starting".into()),
        }
    }

    pub fn send(&self, command: Command) {
        let _ = self.requests.send(Request::Run(command));
    }

    /// Stops the runtime after it has written what it owes the store.
    pub fn stop(mut self) {
        let _ = self.requests.send(Request::Quit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Resolves with the number of the first of SIGINT, SIGTERM and SIGHUP to arrive.
async fn interrupted() -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    let kinds = [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()];
    let mut streams: Vec<_> = kinds
        .into_iter()
        .filter_map(|k| signal(k).ok().map(|s| (k.as_raw_value(), s)))
        .collect();
    if streams.is_empty() {
        return futures::future::pending().await;
    }
    let waits = streams.iter_mut().map(|(n, s)| {
        Box::pin(async move {
            match s.recv().await {
                Some(()) => *n,
                // Only when the runtime shuts down: then no signal has arrived.
                None => futures::future::pending().await,
            }
        })
    });
    let (first, _, _) = futures::future::select_all(waits).await;
    first
}

/// Ends the process with 128 + `signal` after [`EXIT_GRACE`], unless it has ended by then: once
/// a signal has arrived nothing may keep the dashboard alive (a terminal that no longer takes
/// output, a store that does not answer), and tokio keeps catching later signals.
fn exit_after_grace(signal: i32) {
    let _ = std::thread::Builder::new()
        .name("dashboard-exit".into())
        .spawn(move || {
            std::thread::sleep(EXIT_GRACE);
            std::process::exit(128 + signal);
        });
}

async fn serve<T: From<Update> + Send + 'static>(
    rt: Runtime,
    mut requests: UnboundedReceiver<Request>,
    up: mpsc::Sender<T>,
) {
    let mut last: Option<Snapshot> = None;
    publish(&rt, &up, &mut last).await;
    let interrupted = interrupted();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            req = requests.recv() => match req {
                None | Some(Request::Quit) => break,
                Some(Request::Run(cmd)) if cmd.action.is_background() => {
                    let (rt, up) = (rt.clone(), up.clone());
                    actix::spawn(async move {
                        let result = execute(&rt, &cmd.action).await;
                        let _ = up.send(Update::Done { id: cmd.id, result }.into());
                    });
                }
                Some(Request::Run(cmd)) => {
                    let result = execute(&rt, &cmd.action).await;
                    let _ = up.send(Update::Done { id: cmd.id, result }.into());
                    publish(&rt, &up, &mut last).await;
                }
            },
            _ = rt.changed.notified() => publish(&rt, &up, &mut last).await,
            signal = &mut interrupted => {
                exit_after_grace(signal);
                let _ = up.send(Update::Interrupted(signal).into());
                break;
            }
        }
    }
    rt.flush().await;
}

/// Sends a snapshot when it differs from the last one sent.
async fn publish<T: From<Update>>(rt: &Runtime, up: &mpsc::Sender<T>, last: &mut Option<Snapshot>) {
    match load(rt).await {
        Ok(snap) if last.as_ref() != Some(&snap) => {
            *last = Some(snap.clone());
            let _ = up.send(Update::Snapshot(Box::new(snap)).into());
        }
        Ok(_) => {}
        Err(e) => {
            // The next good read is sent whatever it holds, so the error line clears.
            *last = None;
            let _ = up.send(Update::LoadFailed(e).into());
        }
    }
}
