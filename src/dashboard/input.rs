//! The terminal's input, read on a thread of its own: keys go to the event loop, and so does the
//! news that the terminal has gone away (a closed pane or window hangs the terminal up: reading
//! it then ends at once, or fails).
//!
//! crossterm is only asked to read once the terminal is known to hold input and not to be hung
//! up: its own reader retries a hung-up terminal in a tight loop and never returns, which kept a
//! dashboard spinning, and deaf to SIGTERM, after its terminal closed.

use std::io;
use std::sync::mpsc::Sender;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyEvent};
use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, Ready};

/// What the input thread reports.
#[derive(Debug)]
pub enum Input {
    Key(KeyEvent),
    /// The terminal is gone: hung up, at its end, or failing to read (why).
    Lost(String),
}

/// Starts reading the terminal (standard input) into `tx`; the thread ends when the terminal is
/// lost or nobody listens any more.
pub fn spawn<T: From<Input> + Send + 'static>(tx: Sender<T>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("dashboard-input".into())
        .spawn(move || {
            if let Err(why) = read_keys(&tx) {
                let _ = tx.send(Input::Lost(why).into());
            }
        })?;
    Ok(())
}

/// Whether readiness `ready` says the terminal is gone rather than holding input.
fn hung_up(ready: Ready) -> bool {
    ready.is_read_closed() || ready.is_error()
}

/// Forwards keys until the terminal is lost (`Err`, why) or the receiver is gone (`Ok`).
fn read_keys<T: From<Input>>(tx: &Sender<T>) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| format!("cannot wait for the terminal: {e}"))?;
    runtime.block_on(async {
        // SAFETY: standard input (the terminal, checked before the dashboard starts) stays open
        // for the life of the process: nothing in it closes descriptor 0.
        let tty = unsafe { AsyncFd::register_with_interest(io::stdin(), Interest::READABLE) }
            .map_err(|e| format!("cannot wait for the terminal: {e}"))?;
        loop {
            let mut guard = tty
                .ready(Interest::READABLE | Interest::ERROR)
                .await
                .map_err(|e| format!("the terminal failed: {e}"))?;
            if hung_up(guard.ready()) {
                return Err("the terminal was closed".into());
            }
            // Cleared before reading: input arriving from now on wakes the loop again.
            guard.clear_ready();
            while event::poll(Duration::ZERO).map_err(read_failed)? {
                if let Event::Key(key) = event::read().map_err(read_failed)? {
                    if tx.send(Input::Key(key).into()).is_err() {
                        return Ok(());
                    }
                }
            }
        }
    })
}

fn read_failed(e: io::Error) -> String {
    format!("the terminal cannot be read: {e}")
}
