//! The terminal side: raw mode and the alternate screen, restored on exit, on panic and on
//! Ctrl+C or a signal; and the event loop that draws, reads keys and applies runtime updates.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::TryRecvError;
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;

use super::app::App;
use super::backend::{Backend, Update};
use super::render;
use super::theme::Theme;
use crate::clock::SharedClock;

/// How long the loop waits for a key before it redraws (countdowns tick, updates land).
const FRAME: Duration = Duration::from_millis(100);

static RAW: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as it was; safe to call more than once.
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

/// Runs the dashboard until the user quits or a signal arrives.
pub fn run(backend: Backend, clock: SharedClock, theme: Theme) -> io::Result<()> {
    let (guard, mut term) = enter()?;
    let mut app = App::new();
    let result = (|| -> io::Result<()> {
        loop {
            loop {
                match backend.updates.try_recv() {
                    Ok(Update::Snapshot(s)) => app.apply_snapshot(*s),
                    Ok(Update::LoadFailed(e)) => app.load_failed(e),
                    Ok(Update::Done { id, result }) => app.on_done(id, result),
                    Ok(Update::Interrupted) => app.quit = true,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        app.load_failed("the runtime thread stopped; press q to quit".into());
                        break;
                    }
                }
            }
            if app.quit {
                return Ok(());
            }
            term.draw(|f| render::draw(f, &app, clock.now_ms(), &theme))?;
            if event::poll(FRAME)? {
                // Take every key already typed before drawing again.
                loop {
                    if let Event::Key(key) = event::read()? {
                        if let Some(cmd) = app.handle_key(key) {
                            backend.send(cmd);
                        }
                    }
                    if app.quit || !event::poll(Duration::ZERO)? {
                        break;
                    }
                }
            }
        }
    })();
    drop(guard);
    backend.stop();
    result
}
