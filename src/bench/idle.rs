//! `bench --idle SECONDS`: what an idle process costs, read from `/proc` over one fixed window
//! with no traffic: wakeups (context switches summed over its threads) per second and CPU time
//! per minute, for `serve` as users run it (the auth watcher on, an auth.json of two logins) on
//! 10 and 10,000 accounts and for `dashboard` (on a pseudo-terminal), beside a process that only
//! sleeps, all measured at the same time; `--baseline BINARY` adds that build's `serve`s to the
//! same run. Then logins written to each idle `serve`'s auth.json are timed until captured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::model::Auth;
use crate::rpc::client::{Notification, RpcClient};

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

/// What keeps a measured process alive; it is ended when dropped.
enum Held {
    Child(Child),
    /// A `serve` spoken to over its pipes (its captures are awaited).
    Client(RpcClient),
}

/// One measured process.
struct Subject {
    name: String,
    build: String,
    held: Held,
    /// The pseudo-terminal's controller side (the dashboard's), drained by a thread.
    _pty: Option<OwnedFd>,
}

impl Subject {
    fn pid(&self) -> u32 {
        match &self.held {
            Held::Child(c) => c.id(),
            Held::Client(c) => c.pid(),
        }
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        if let Held::Child(child) = &mut self.held {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The logins opencode has when `serve` starts: two API keys of providers with no usage reads.
fn first_logins() -> BTreeMap<String, Auth> {
    ["groq", "mistral"]
        .into_iter()
        .map(|p| {
            let key = format!("bench-idle-{p}-FAKE");
            (p.to_string(), Auth::Api { key, metadata: None })
        })
        .collect()
}

/// How a login reaches auth.json.
#[derive(Debug, Clone, Copy)]
pub(super) enum Written {
    /// A new file renamed over it, as opencode and editors do.
    Renamed,
    /// Truncated and written in place.
    InPlace,
}

/// Writes `content` to `auth` (`how`) and times it until `account_saved` for `provider` arrives.
pub(super) fn time_capture(
    c: &mut RpcClient,
    auth: &Path,
    content: &BTreeMap<String, Auth>,
    provider: &str,
    how: Written,
) -> anyhow::Result<Duration> {
    let text = serde_json::to_string(content)?;
    let t = Instant::now();
    match how {
        Written::Renamed => {
            let tmp = auth.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, auth)?;
        }
        Written::InPlace => std::fs::write(auth, text)?,
    }
    c.wait_notification(|n| {
        matches!(n, Notification::Event(e) if e.kind == "account_saved" && e.provider_id.as_deref() == Some(provider))
    })
    .map_err(|e| anyhow!(e))?;
    Ok(t.elapsed())
}

/// A store of `accounts` accounts in `dir`, seeded once and copied for each build (seeding
/// 10,000 accounts one commit at a time takes minutes).
fn seeded(dir: &Path, accounts: usize) -> anyhow::Result<PathBuf> {
    let path = dir.join(format!("seed-{accounts}.sqlite"));
    if !path.exists() {
        super::seed(&path, accounts)?;
    }
    Ok(path)
}

/// `serve` of `exe` on its own copy of a store of `accounts` accounts and its own opencode
/// folder, with an auth.json of two logins, once it has captured them. Returns it and its auth.json.
fn serve(exe: &Path, dir: &Path, build: &str, accounts: usize) -> anyhow::Result<(Subject, PathBuf)> {
    let home = dir.join(format!("{build}-{accounts}"));
    let auth = home.join("data/opencode/auth.json");
    std::fs::create_dir_all(auth.parent().expect("a folder"))?;
    std::fs::write(&auth, serde_json::to_string(&first_logins())?)?;
    let store = home.join("balancer.sqlite");
    // The seeding connection is closed: its last commit is in the main file.
    std::fs::copy(seeded(dir, accounts)?, &store)?;
    let data = home.join("data").display().to_string();
    let mut client = RpcClient::spawn(exe, &store, &[("XDG_DATA_HOME", data.as_str())]).context("starting serve")?;
    for provider in first_logins().keys() {
        client
            .wait_notification(|n| {
                matches!(n, Notification::Event(e) if e.kind == "account_saved" && e.provider_id.as_ref() == Some(provider))
            })
            .map_err(|e| anyhow!("{build} serve did not capture auth.json at start: {e}"))?;
    }
    let subject = Subject {
        name: format!("`serve`, {accounts} accounts, auth.json of 2 logins"),
        build: build.to_string(),
        held: Held::Client(client),
        _pty: None,
    };
    Ok((subject, auth))
}

/// `dashboard` on a new pseudo-terminal of 120×40, its output read and dropped.
fn dashboard(exe: &Path, store: &Path) -> anyhow::Result<Subject> {
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
    let data = store.parent().expect("a folder").join("data");
    let child = Command::new(exe)
        .arg("--store")
        .arg(store)
        .arg("dashboard")
        .env("TERM", "xterm-256color")
        .env("XDG_DATA_HOME", data)
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
        build: "this".into(),
        held: Held::Child(child),
        _pty: Some(controller),
    })
}

/// Logins written to an idle `serve`'s auth.json, each way, 10 times: median and slowest.
const CAPTURES: usize = 10;

/// The capture times after idling of one `serve`, as a table row.
fn captures_after_idling(s: &mut Subject, auth: &Path) -> anyhow::Result<String> {
    let Held::Client(c) = &mut s.held else {
        return Err(anyhow!("not a serve"));
    };
    let mut content = first_logins();
    let mut row = format!("| {} |", s.build);
    for how in [Written::Renamed, Written::InPlace] {
        let mut times = Vec::with_capacity(CAPTURES);
        for i in 0..CAPTURES {
            let provider = format!("late-{how:?}-{i}").to_lowercase();
            let key = format!("bench-idle-{provider}-FAKE");
            content.insert(provider.clone(), Auth::Api { key, metadata: None });
            times.push(time_capture(c, auth, &content, &provider, how)?);
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let _ = write!(
            row,
            " {:.1} ms | {:.1} ms |",
            ms(times[CAPTURES / 2]),
            ms(times[CAPTURES - 1])
        );
    }
    Ok(row)
}

/// Runs every subject at once (`serve` of this build and, given `before`, of that binary too),
/// lets them settle, measures `window`, then times logins written to the idle `serve`s.
pub fn run(window: Duration, before: Option<&Path>) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let mut builds = vec![("this".to_string(), exe.clone())];
    if let Some(b) = before {
        builds.push(("before".to_string(), b.to_path_buf()));
    }
    let mut subjects = vec![Subject {
        name: "baseline: `sleep`".into(),
        build: "-".into(),
        held: Held::Child(Command::new("sleep").arg("100000").spawn().context("starting sleep")?),
        _pty: None,
    }];
    let mut watched = Vec::new();
    for (build, binary) in &builds {
        for accounts in [10, 10_000] {
            let (subject, auth) = serve(binary, dir.path(), build, accounts)?;
            if accounts == 10 {
                watched.push((subjects.len(), auth));
            }
            subjects.push(subject);
        }
    }
    subjects.push(dashboard(&exe, &dir.path().join("this-10/balancer.sqlite"))?);
    // Start-up work (loading, the first usage round, the first draw) is over well within this.
    std::thread::sleep(Duration::from_secs(3));
    let before: Vec<Cost> = subjects.iter().map(|s| cost(s.pid())).collect();
    let started = Instant::now();
    std::thread::sleep(window);
    let elapsed = started.elapsed().as_secs_f64();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Idle cost over {elapsed:.0} s with no traffic (context switches of every thread, and CPU time, from /proc):\n"
    );
    let _ = writeln!(out, "| process | build | threads | wakeups / s | CPU ms / min |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|");
    for (s, b) in subjects.iter().zip(before) {
        let pid = s.pid();
        let a = cost(pid);
        let wakeups = a.switches.saturating_sub(b.switches) as f64 / elapsed;
        let cpu = a.cpu_ns.saturating_sub(b.cpu_ns) as f64 / 1e6 / elapsed * 60.0;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {wakeups:.2} | {cpu:.2} |",
            s.name,
            s.build,
            threads(pid)
        );
    }
    let _ = writeln!(
        out,
        "\nThen a login written to the idle `serve` (10 accounts)'s auth.json → `account_saved`, {CAPTURES} each way (target: median under 100 ms):\n"
    );
    let _ = writeln!(
        out,
        "| build | renamed over: median | slowest | written in place: median | slowest |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (i, auth) in watched {
        let row = captures_after_idling(&mut subjects[i], &auth)?;
        let _ = writeln!(out, "{row}");
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
        // The reading that moved is the one judged: `cost` sums the live threads, and another
        // test's thread that ends takes its CPU time out of a later reading.
        let t = Instant::now();
        let busy = loop {
            let now = cost(std::process::id()).cpu_ns;
            if now > me.cpu_ns || t.elapsed() >= Duration::from_secs(20) {
                break now;
            }
            for _ in 0..100_000 {
                std::hint::black_box(0u64);
            }
        };
        assert!(busy > me.cpu_ns, "CPU time moves while busy");
        assert_eq!(cost(u32::MAX).switches, 0, "a process that is gone costs nothing");
    }
}
