//! The real dashboard under tmux ends when its terminal goes away (the tmux server killed, with or
//! without a SIGHUP reaching it) and on SIGTERM, SIGHUP and SIGINT, with the documented status,
//! the terminal restored when it still exists, and without spinning meanwhile.
//!
//! Skipped, saying so, only when tmux is not installed (CI installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{temp_store, BIN};

/// How soon the dashboard must be gone once its terminal or a signal says so.
const GONE_WITHIN: Duration = Duration::from_secs(2);

fn tmux_missing() -> bool {
    let missing = Command::new("tmux").arg("-V").output().is_err();
    if missing {
        eprintln!("SKIPPED: tmux is not installed; the dashboard's terminal tests need it");
    }
    missing
}

/// A dashboard run by a shell script in a tmux pane of a private tmux server, on a temporary
/// store with private HOME and XDG folders. After the dashboard ends, the script writes its
/// status to a file and then, on the (normal) screen, the status, the terminal's modes and a
/// line saying the shell is back.
struct Pane {
    _dir: tempfile::TempDir,
    root: PathBuf,
    socket: PathBuf,
    /// The dashboard's pid, unless it had ended before it was looked up.
    pid: Option<u32>,
}

impl Pane {
    /// Starts `dashboard` with the script's `redirect` (e.g. `</dev/null`), under `setsid -w`
    /// when `own_session` (then a hang-up of the terminal sends no signal to it).
    fn start(redirect: &str, own_session: bool) -> Pane {
        let (dir, store) = temp_store();
        let root = dir.path().to_path_buf();
        for d in ["home", "xdg-data", "xdg-config", "xdg-state", "xdg-cache"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let script = root.join("run.sh");
        std::fs::write(
            &script,
            format!(
                r#"#!/bin/sh
export HOME="{root}/home" XDG_DATA_HOME="{root}/xdg-data" XDG_CONFIG_HOME="{root}/xdg-config"
export XDG_STATE_HOME="{root}/xdg-state" XDG_CACHE_HOME="{root}/xdg-cache"
export TERM=xterm-256color NO_COLOR=1 OPENCODE_BALANCER_LOG=off
unset OPENCODE_AUTH_CONTENT OPENCODE_BALANCER_TEST_CLOCK
echo $$ > "{root}/shell.pid"
# Outlive a hang-up to record the dashboard's status (a trapped signal is not inherited as ignored).
trap : HUP
"{bin}" --store "{store}" dashboard {redirect}
status=$?
echo "$status" > "{root}/status"
echo "dashboard exited with $status"
echo "modes: $(stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\n' ' ')"
echo "shell is back"
exec cat
"#,
                root = root.display(),
                bin = BIN,
                store = store.display(),
            ),
        )
        .unwrap();
        let socket = root.join("tmux.sock");
        let mut command = vec![];
        if own_session {
            command.extend(["setsid", "-w"]);
        }
        let script = script.to_str().unwrap();
        command.extend(["sh", script]);
        let mut args = vec![
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "dash",
            "-x",
            "100",
            "-y",
            "30",
        ];
        args.extend(command);
        let out = tmux(&socket, &args);
        assert!(out.status.success(), "tmux: {}", String::from_utf8_lossy(&out.stderr));
        let shell = read_when_written(&root.join("shell.pid"));
        let pid = within(Duration::from_secs(10), "the dashboard to start", || {
            match child_of(&shell) {
                Some(pid) => Some(Some(pid)),
                None => root.join("status").exists().then_some(None),
            }
        });
        Pane {
            _dir: dir,
            root,
            socket,
            pid,
        }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        tmux(&self.socket, args)
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "dash"]).stdout).into_owned()
    }

    fn pane_format(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "dash", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn await_screen(&self, text: &str) {
        within(Duration::from_secs(10), &format!("{text:?} on screen"), || {
            self.screen().contains(text).then_some(())
        });
    }

    /// The status the script recorded.
    fn status(&self) -> String {
        read_when_written(&self.root.join("status"))
    }

    fn pid(&self) -> u32 {
        self.pid.expect("the dashboard was running")
    }

    /// Waits at most [`GONE_WITHIN`] for the dashboard to end (an unreaped zombie has ended).
    fn assert_gone_soon(&self, after: &str) {
        let since = Instant::now();
        within(GONE_WITHIN, &format!("the dashboard to end after {after}"), || {
            (!running(self.pid())).then_some(())
        });
        eprintln!("the dashboard ended {} ms after {after}", since.elapsed().as_millis());
    }

    /// After the dashboard ended with the terminal alive: the normal screen is back with the
    /// shell on it, the cursor shown and raw mode off.
    fn assert_terminal_restored(&self, status: &str) {
        self.await_screen("shell is back");
        let screen = self.screen();
        assert!(screen.contains(&format!("dashboard exited with {status}")), "{screen}");
        assert!(
            !screen.contains("┌ Accounts"),
            "the dashboard is still on screen:\n{screen}"
        );
        assert!(screen.contains("modes: icanon echo"), "raw mode is still on:\n{screen}");
        assert_eq!(self.pane_format("#{alternate_on}"), "0", "the alternate screen is left");
        assert_eq!(self.pane_format("#{cursor_flag}"), "1", "the cursor is shown");
    }

    fn kill(&self, signal: &str) {
        let out = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kill -{signal}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        // A dashboard that failed to end is not left running.
        if let Some(pid) = self.pid.filter(|&p| running(p)) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

fn tmux(socket: &Path, args: &[&str]) -> Output {
    Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(args)
        .env_remove("TMUX")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Polls `f` every 20 ms until it gives a value, failing after `limit`.
fn within<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A file's content once it is written whole (the script writes a line).
fn read_when_written(path: &Path) -> String {
    within(Duration::from_secs(10), &format!("{}", path.display()), || {
        let text = std::fs::read_to_string(path).ok()?;
        text.ends_with('\n').then(|| text.trim().to_string())
    })
}

/// The dashboard started by shell `pid` (its child running our binary).
fn child_of(pid: &str) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .find(|c: &u32| {
            std::fs::read_link(format!("/proc/{c}/exe")).is_ok_and(|exe| exe.ends_with("opencode-balancer"))
        })
}

/// `/proc/<pid>/stat`'s fields after the command name (state first).
fn stat(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(rest.split_whitespace().map(String::from).collect())
}

/// Whether `pid` still runs (not gone, not a zombie waiting to be reaped).
fn running(pid: u32) -> bool {
    stat(pid).is_some_and(|f| f[0] != "Z")
}

/// User plus system CPU time of `pid`.
fn cpu_time(pid: u32) -> Duration {
    let fields = stat(pid).expect("the dashboard runs");
    // utime and stime are fields 14 and 15 of the stat line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100);
    Duration::from_millis(ticks * 1000 / per_second)
}

/// The CPU the idle dashboard uses over a second of wall time stays well under a busy loop's.
fn assert_idle_is_cheap(pane: &Pane) {
    let (cpu, wall) = (cpu_time(pane.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_time(pane.pid()) - cpu;
    let share = used.as_secs_f64() / wall.elapsed().as_secs_f64();
    assert!(
        share < 0.25,
        "the idle dashboard used {used:?} of CPU in {:?}",
        wall.elapsed()
    );
}

#[test]
fn a_dashboard_whose_tmux_server_is_killed_is_gone_within_two_seconds_without_spinning() {
    if tmux_missing() {
        return;
    }
    let pane = Pane::start("", false);
    pane.await_screen("Accounts");
    assert_idle_is_cheap(&pane);
    assert!(pane.tmux(&["kill-server"]).status.success());
    pane.assert_gone_soon("tmux kill-server");
    assert_eq!(pane.status(), "129");
}

/// In a session of its own the dashboard gets no SIGHUP from the closing terminal: it must
/// notice the hang-up on its input by itself.
#[test]
fn a_hung_up_terminal_ends_the_dashboard_without_a_signal_with_status_129() {
    if tmux_missing() {
        return;
    }
    let pane = Pane::start("", true);
    pane.await_screen("Accounts");
    assert!(pane.tmux(&["kill-server"]).status.success());
    pane.assert_gone_soon("tmux kill-server");
    assert_eq!(pane.status(), "129");
}

fn assert_signal_ends_and_restores(signal: &str, status: &str) {
    let pane = Pane::start("", false);
    pane.await_screen("Accounts");
    pane.kill(signal);
    pane.assert_gone_soon(&format!("SIG{signal}"));
    assert_eq!(pane.status(), status);
    pane.assert_terminal_restored(status);
}

#[test]
fn sigterm_ends_the_dashboard_with_status_143_and_restores_the_terminal() {
    if tmux_missing() {
        return;
    }
    assert_signal_ends_and_restores("TERM", "143");
}

#[test]
fn sighup_ends_the_dashboard_with_status_129_and_restores_the_terminal() {
    if tmux_missing() {
        return;
    }
    assert_signal_ends_and_restores("HUP", "129");
}

#[test]
fn sigint_ends_the_dashboard_with_status_130_and_restores_the_terminal() {
    if tmux_missing() {
        return;
    }
    assert_signal_ends_and_restores("INT", "130");
}

#[test]
fn q_quits_with_status_0_and_restores_the_terminal() {
    if tmux_missing() {
        return;
    }
    let pane = Pane::start("", false);
    pane.await_screen("Accounts");
    assert!(pane.tmux(&["send-keys", "-t", "dash", "q"]).status.success());
    pane.assert_gone_soon("q");
    assert_eq!(pane.status(), "0");
    pane.assert_terminal_restored("0");
}

/// Input at its end from the start (stdin from /dev/null, the screen a terminal): a clear refusal,
/// at once, instead of a loop reading nothing.
#[test]
fn a_dashboard_whose_input_is_at_its_end_refuses_at_once() {
    if tmux_missing() {
        return;
    }
    let started = Instant::now();
    let pane = Pane::start("</dev/null", false);
    let status = within(GONE_WITHIN, "the dashboard to end", || {
        std::fs::read_to_string(pane.root.join("status"))
            .ok()
            .filter(|s| s.ends_with('\n'))
    });
    eprintln!(
        "the dashboard ended {} ms after the pane started",
        started.elapsed().as_millis()
    );
    assert_eq!(status.trim(), "1");
    pane.await_screen("needs a terminal");
    pane.assert_terminal_restored("1");
}
