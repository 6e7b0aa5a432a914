//! The benchmark's registry section (issue 28): a user's `accounts.save`, the 429 failover's
//! spread, and `serve`'s memory once loaded, right after 2,000 failovers and after a quiet moment
//! (`QUIET_READ`: what stays resident once the burst is over), at each store size; for this build
//! and, given one, a baseline build measured in the same run on copies of the same store,
//! alternating.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{call, failover_round, rss_kib, seed, status_kib, us};
use crate::api::methods::{AccountsSave, Status};
use crate::api::{NoParams, SaveParams};
use crate::model::Auth;
use crate::rpc::client::RpcClient;

/// Failovers before the memory is read again (after `WARM_UP` more).
const FAILOVERS: usize = 2_000;
const WARM_UP: usize = 100;
/// New accounts saved, one `accounts.save` each.
const SAVES: usize = 50;
/// How long the host stays quiet before memory is read again: the trim comes between one and two
/// `rpc::trim::QUIET` after the last line.
const QUIET_READ: Duration = Duration::from_millis(2_500);

/// One build's numbers at one store size.
struct Row {
    save_median: Duration,
    save_max: Duration,
    /// Sorted failover times.
    failovers: Vec<Duration>,
    rss_loaded: u64,
    rss_failed_over: u64,
    /// (anonymous: the heap and stacks, file-backed: the binary and libraries) after the failovers.
    parts_failed_over: (u64, u64),
    /// RSS once the host was quiet for `QUIET_READ` after the failovers.
    rss_quiet: u64,
}

/// Copies the store file (closed, so whole) into a new folder.
fn copy_store(seeded: &Path) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let to = dir.path().join("balancer.sqlite");
    std::fs::copy(seeded, &to)?;
    Ok((dir, to))
}

fn measure(exe: &Path, seeded: &Path, n: usize) -> anyhow::Result<Row> {
    let (_dir, store) = copy_store(seeded)?;
    let env = [
        ("OPENCODE_BALANCER_TEST_CLOCK", "1700000000000"),
        ("OPENCODE_BALANCER_NO_WATCH", "1"),
    ];
    let mut c = RpcClient::spawn(exe, &store, &env)?;
    call::<Status>(&mut c, &NoParams {})?;
    let rss_loaded = rss_kib(c.pid());
    let mut failovers = Vec::with_capacity(FAILOVERS);
    for i in 0..WARM_UP + FAILOVERS {
        let took = failover_round(&mut c, n)?;
        if i >= WARM_UP {
            failovers.push(took);
        }
    }
    let rss_failed_over = rss_kib(c.pid());
    let parts_failed_over = (status_kib(c.pid(), "RssAnon:"), status_kib(c.pid(), "RssFile:"));
    std::thread::sleep(QUIET_READ);
    let rss_quiet = rss_kib(c.pid());
    let mut saves = Vec::with_capacity(SAVES);
    for i in 0..SAVES {
        let params = SaveParams {
            provider_id: "mock".into(),
            alias: format!("saved-{i:03}"),
            auth: Auth::Api {
                key: format!("bench-saved-{i:03}-FAKE"),
                metadata: None,
            },
            replace: false,
        };
        let t = Instant::now();
        call::<AccountsSave>(&mut c, &params)?;
        saves.push(t.elapsed());
    }
    let _ = c.shutdown();
    saves.sort();
    failovers.sort();
    Ok(Row {
        save_median: saves[saves.len() / 2],
        save_max: saves[saves.len() - 1],
        failovers,
        rss_loaded,
        rss_failed_over,
        parts_failed_over,
        rss_quiet,
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The registry section of the report, for each store size in `sizes`.
pub fn run(sizes: &[usize], baseline: Option<&Path>) -> anyhow::Result<String> {
    let this = std::env::current_exe()?;
    let mut builds: Vec<(String, PathBuf)> = Vec::new();
    if let Some(b) = baseline {
        builds.push((format!("baseline `{}`", b.display()), b.to_path_buf()));
    }
    builds.push(("this build".into(), this));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nRegistry and store (issue 28): {SAVES} `accounts.save` of new accounts; {FAILOVERS} 429 failovers \
         (after {WARM_UP} more), min / median / p99 / max; memory once loaded, right after the failovers \
         (that, anonymous + file-backed) and after {} ms with no request.\n",
        QUIET_READ.as_millis()
    );
    let _ = writeln!(
        out,
        "| build | accounts | save median | save max | failover min | median | p99 | max | RSS loaded | RSS after failovers | RSS quiet |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let seeded_dir = tempfile::tempdir()?;
        let seeded = seeded_dir.path().join("balancer.sqlite");
        seed(&seeded, n)?;
        for (name, exe) in &builds {
            let r = measure(exe, &seeded, n)?;
            let f = &r.failovers;
            let at = |q: f64| f[((f.len() - 1) as f64 * q).round() as usize];
            let _ = writeln!(
                out,
                "| {name} | {n} | {} | {} | {} | {} | {} | {} | {} | {} ({} + {}) | {} |",
                ms(r.save_median),
                ms(r.save_max),
                us(at(0.0)),
                us(at(0.5)),
                us(at(0.99)),
                us(at(1.0)),
                mib(r.rss_loaded),
                mib(r.rss_failed_over),
                mib(r.parts_failed_over.0),
                mib(r.parts_failed_over.1),
                mib(r.rss_quiet)
            );
        }
    }
    Ok(out)
}
