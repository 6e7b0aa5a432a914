//! The terminal side: raw mode and the alternate screen, restored on exit, on panic and on
//! Ctrl+C or a signal (and not waited for when the terminal is gone); and the event loop that
//! draws, takes keys from the input thread and applies runtime updates.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;

use super::app::App;
use super::backend::{Backend, Update};
use super::input::{self, Input};
use super::render;
use super::theme::Theme;
use crate::clock::SharedClock;

/// Without a key or an update, the screen is redrawn only when the clock's second changes
/// (countdowns show seconds): at most this long a wait, at the next whole second.
const FRAME: Duration = Duration::from_millis(1000);

/// What wakes the event loop: the runtime thread or the input thread.
#[derive(Debug)]
pub enum Wake {
    Runtime(Update),
    Input(Input),
}

impl From<Update> for Wake {
    fn from(u: Update) -> Wake {
        Wake::Runtime(u)
    }
}

impl From<Input> for Wake {
    fn from(i: Input) -> Wake {
        Wake::Input(i)
    }
}

/// Why the dashboard ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The user quit (`q`, `Esc`, `Ctrl+C`).
    Quit,
    /// This signal arrived.
    Signal(i32),
    /// The terminal went away (why).
    Lost(String),
}

static RAW: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as it was; safe to call more than once. Errors are ignored: when the
/// terminal is gone, writing to it fails at once, and there is nothing left to restore.
pub fn restore() {
    if RAW.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
    }
}

/// Restores the terminal when dropped (normal exit and unwinding both drop it).
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

fn enter() -> io::Result<(Guard, Terminal<CrosstermBackend<Stdout>>)> {
    install_panic_hook();
    terminal::enable_raw_mode()?;
    RAW.store(true, Ordering::SeqCst);
    let guard = Guard;
    execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
    let term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((guard, term))
}

/// Runs the dashboard until the user quits, a signal arrives or the terminal goes away. `wakes`
/// is the channel the backend reports to; `tx` sends to it too, for the input thread.
pub fn run(
    backend: Backend,
    wakes: Receiver<Wake>,
    tx: Sender<Wake>,
    clock: SharedClock,
    theme: Theme,
) -> io::Result<End> {
    let (guard, mut term) = enter()?;
    let end = input::spawn(tx).map(|()| event_loop(&backend, &wakes, &mut term, &clock, &theme));
    // ratatui's terminal shows the cursor when dropped, and panics (on `eprintln!`) when that
    // fails and stderr is gone too, as when the terminal is: with nothing left to restore, it is
    // not dropped.
    if term.show_cursor().is_err() {
        std::mem::forget(term);
    }
    drop(guard);
    backend.stop();
    end
}

fn event_loop(
    backend: &Backend,
    wakes: &Receiver<Wake>,
    term: &mut Terminal<CrosstermBackend<Stdout>>,
    clock: &SharedClock,
    theme: &Theme,
) -> End {
    let mut app = App::new();
    loop {
        if let Err(e) = term.draw(|f| render::draw(f, &app, clock.now_ms(), theme)) {
            return End::Lost(format!("the terminal cannot be written: {e}"));
        }
        let into_second = Duration::from_millis(clock.now_ms().rem_euclid(1000) as u64);
        let mut wake = match wakes.recv_timeout(FRAME.saturating_sub(into_second).max(Duration::from_millis(1))) {
            Ok(w) => Some(w),
            Err(RecvTimeoutError::Timeout) => None,
            // Both threads have ended; the input thread only ends after saying why.
            Err(RecvTimeoutError::Disconnected) => return End::Lost("the terminal is no longer read".into()),
        };
        // Take everything already waiting (keys typed, updates) before drawing again.
        while let Some(w) = wake {
            if let Some(end) = apply(&mut app, backend, w) {
                return end;
            }
            if app.quit {
                return End::Quit;
            }
            wake = wakes.try_recv().ok();
        }
    }
}

/// Applies one wake; `Some` when it ends the dashboard.
fn apply(app: &mut App, backend: &Backend, wake: Wake) -> Option<End> {
    match wake {
        Wake::Runtime(Update::Snapshot(s)) => app.apply_snapshot(*s),
        Wake::Runtime(Update::LoadFailed(e)) => app.load_failed(e),
        Wake::Runtime(Update::Done { id, result }) => app.on_done(id, result),
        Wake::Runtime(Update::Interrupted(signal)) => return Some(End::Signal(signal)),
        Wake::Runtime(Update::Stopped) => app.load_failed("the runtime thread stopped; press q to quit".into()),
        Wake::Input(Input::Key(key)) => {
            if let Some(cmd) = app.handle_key(key) {
                backend.send(cmd);
            }
        }
        Wake::Input(Input::Lost(why)) => return Some(End::Lost(why)),
    }
    None
}
