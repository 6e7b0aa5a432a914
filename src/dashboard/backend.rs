//! The runtime side of the dashboard: an actix system on its own thread that reads the store
//! every `poll` (catching up with other processes' commits), runs the actions the keys ask for,
//! and reports over a channel, so the render thread never waits on the store or the network.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::action::execute;
use super::app::Command;
use super::data::{load, Snapshot};
use crate::actors::Runtime;
use crate::clock::SharedClock;

/// What the runtime thread reports.
#[derive(Debug)]
pub enum Update {
    /// The store changed since the last snapshot sent (or this is the first).
    Snapshot(Box<Snapshot>),
    /// The store could not be read this time; the last snapshot stays.
    LoadFailed(String),
    /// The answer to a command.
    Done { id: u64, result: Result<String, String> },
    /// SIGINT, SIGTERM or SIGHUP arrived: quit.
    Interrupted,
}

enum Request {
    Run(Command),
    Quit,
}

/// A running runtime thread.
pub struct Backend {
    requests: UnboundedSender<Request>,
    pub updates: mpsc::Receiver<Update>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// Starts the runtime on `store`; fails (before anything is drawn) when the store cannot be
    /// opened.
    pub fn start(store: PathBuf, clock: SharedClock, poll: Duration) -> Result<Backend, String> {
        let (req_tx, req_rx) = unbounded_channel();
        let (up_tx, up_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("dashboard-runtime".into())
            .spawn(move || {
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
                    serve(rt, req_rx, up_tx, poll).await;
                });
            })
            .map_err(|e| format!("cannot start the runtime thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Backend {
                requests: req_tx,
                updates: up_rx,
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

async fn serve(rt: Runtime, mut requests: UnboundedReceiver<Request>, up: mpsc::Sender<Update>, poll: Duration) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last: Option<Snapshot> = None;
    let signals = [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()];
    let mut streams: Vec<_> = signals.into_iter().filter_map(|k| signal(k).ok()).collect();
    let interrupted = async move {
        if streams.is_empty() {
            return futures::future::pending().await;
        }
        let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
        futures::future::select_all(waits).await;
    };
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            req = requests.recv() => match req {
                None | Some(Request::Quit) => break,
                Some(Request::Run(cmd)) if cmd.action.is_background() => {
                    let (rt, up) = (rt.clone(), up.clone());
                    actix::spawn(async move {
                        let result = execute(&rt, &cmd.action).await;
                        let _ = up.send(Update::Done { id: cmd.id, result });
                    });
                }
                Some(Request::Run(cmd)) => {
                    let result = execute(&rt, &cmd.action).await;
                    let _ = up.send(Update::Done { id: cmd.id, result });
                    publish(&rt, &up, &mut last).await;
                }
            },
            _ = tick.tick() => publish(&rt, &up, &mut last).await,
            _ = &mut interrupted => {
                let _ = up.send(Update::Interrupted);
                break;
            }
        }
    }
    rt.flush().await;
}

/// Sends a snapshot when it differs from the last one sent.
async fn publish(rt: &Runtime, up: &mpsc::Sender<Update>, last: &mut Option<Snapshot>) {
    match load(rt).await {
        Ok(snap) if last.as_ref() != Some(&snap) => {
            *last = Some(snap.clone());
            let _ = up.send(Update::Snapshot(Box::new(snap)));
        }
        Ok(_) => {}
        Err(e) => {
            // The next good read is sent whatever it holds, so the error line clears.
            *last = None;
            let _ = up.send(Update::LoadFailed(e));
        }
    }
}
