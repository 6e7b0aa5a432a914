//! `bench --idle SECONDS`: what an idle process costs, read from `/proc` over one fixed window
//! with no traffic: wakeups (context switches summed over its threads) per second and CPU time
//! per minute, for `serve` on 10 and 10,000 accounts and for `dashboard` (on a pseudo-terminal),
//! beside a process that only sleeps, all measured at the same time.

use std::fmt::Write as _;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

/// Context switches and nanoseconds on a CPU, summed over a process's threads.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    switches: u64,
    cpu_ns: u64,
}

fn field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The cost so far of every live thread of `pid`.
fn cost(pid: u32) -> Cost {
    let mut total = Cost::default();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return total;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
            total.switches += field(&status, "voluntary_ctxt_switches:");
            total.switches += field(&status, "nonvoluntary_ctxt_switches:");
        }
        if let Ok(sched) = std::fs::read_to_string(dir.join("schedstat")) {
            total.cpu_ns += sched
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
    }
    total
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

/// One measured process, ended when dropped.
struct Subject {
    name: String,
    child: Child,
    /// The pseudo-terminal's controller side (the dashboard's), drained by a thread.
    _pty: Option<OwnedFd>,
}

impl Drop for Subject {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(exe: &std::path::Path, dir: &std::path::Path, accounts: usize) -> anyhow::Result<Subject> {
    let store = dir.join(format!("idle-{accounts}.sqlite"));
    super::seed(&store, accounts)?;
    let child = Command::new(exe)
        .arg("--store")
        .arg(&store)
        .arg("serve")
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting serve")?;
    Ok(Subject {
        name: format!("`serve`, {accounts} accounts"),
        child,
        _pty: None,
    })
}

/// `dashboard` on a new pseudo-terminal of 120×40, its output read and dropped.
fn dashboard(exe: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<Subject> {
    let store = dir.join("idle-10.sqlite");
    let (mut controller, mut terminal) = (-1, -1);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors into the given integers.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        return Err(anyhow!("openpty: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just opened by openpty and are owned here alone.
    let (controller, terminal) = unsafe { (OwnedFd::from_raw_fd(controller), OwnedFd::from_raw_fd(terminal)) };
    let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
    let child = Command::new(exe)
        .arg("--store")
        .arg(&store)
        .arg("dashboard")
        .env("TERM", "xterm-256color")
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdin(stdio(&terminal)?)
        .stdout(stdio(&terminal)?)
        .stderr(stdio(&terminal)?)
        .spawn()
        .context("starting dashboard")?;
    drop(terminal);
    let mut reader = std::fs::File::from(controller.try_clone()?);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    Ok(Subject {
        name: "`dashboard`, 10 accounts".into(),
        child,
        _pty: Some(controller),
    })
}

/// Runs every subject at once, lets them settle, then measures `window`.
pub fn run(window: Duration) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("data/opencode"))?;
    let exe = std::env::current_exe()?;
    let sleeper = Subject {
        name: "baseline: `sleep`".into(),
        child: Command::new("sleep").arg("100000").spawn().context("starting sleep")?,
        _pty: None,
    };
    let subjects = [
        sleeper,
        serve(&exe, dir.path(), 10)?,
        serve(&exe, dir.path(), 10_000)?,
        dashboard(&exe, dir.path())?,
    ];
    // Start-up work (loading, the first usage round, the first draw) is over well within this.
    std::thread::sleep(Duration::from_secs(3));
    let before: Vec<Cost> = subjects.iter().map(|s| cost(s.child.id())).collect();
    let started = Instant::now();
    std::thread::sleep(window);
    let elapsed = started.elapsed().as_secs_f64();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Idle cost over {elapsed:.0} s with no traffic (context switches of every thread, and CPU time, from /proc):\n"
    );
    let _ = writeln!(out, "| process | threads | wakeups / s | CPU ms / min |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (s, b) in subjects.iter().zip(before) {
        let pid = s.child.id();
        let a = cost(pid);
        let wakeups = a.switches.saturating_sub(b.switches) as f64 / elapsed;
        let cpu = a.cpu_ns.saturating_sub(b.cpu_ns) as f64 / 1e6 / elapsed * 60.0;
        let _ = writeln!(out, "| {} | {} | {wakeups:.2} | {cpu:.2} |", s.name, threads(pid));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_are_read_from_each_status_line_and_cpu_time_moves_while_busy() {
        let status = "Name:\tx\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(field(status, "voluntary_ctxt_switches:"), 12);
        assert_eq!(field(status, "nonvoluntary_ctxt_switches:"), 3);
        assert_eq!(field(status, "missing:"), 0);
        let me = cost(std::process::id());
        assert!(me.switches > 0 && threads(std::process::id()) >= 1);
        // Spin until the kernel's tick-grained counter moves; on a loaded machine 50 ms of wall
        // time can be less than one tick of CPU time, so wait for the event with a generous bound.
        let t = Instant::now();
        while cost(std::process::id()).cpu_ns <= me.cpu_ns && t.elapsed() < Duration::from_secs(20) {
            for _ in 0..100_000 {
                std::hint::black_box(0u64);
            }
        }
        assert!(cost(std::process::id()).cpu_ns > me.cpu_ns, "CPU time moves while busy");
        assert_eq!(cost(u32::MAX).switches, 0, "a process that is gone costs nothing");
    }
}
