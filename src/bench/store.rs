//! The benchmark's store section: a new store's readiness (open + migrate + first answer) next
//! to the same measured on an already-migrated store in the same run, both as `serve` started
//! by the plugin sees it and inside the process (`Store::open` alone); given another build, its
//! new store's readiness too, interleaved with this build's.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{call, Stats};
use crate::api::methods::Status;
use crate::api::NoParams;
use crate::rpc::client::RpcClient;
use crate::store::Store;

/// Spawn of `exe serve` on `store` → its first answer (`status`).
fn serve_ready(exe: &Path, store: &Path) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let mut c = RpcClient::spawn(exe, store, &[("OPENCODE_BALANCER_NO_WATCH", "1")])?;
    call::<Status>(&mut c, &NoParams {})?;
    let ready = t.elapsed();
    let _ = c.shutdown();
    Ok(ready)
}

/// `Store::open` and one read (the schema version), `store` new or current.
fn open_ready(store: &Path) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let s = Store::open(store)?;
    s.schema_version()?;
    let ready = t.elapsed();
    drop(s);
    Ok(ready)
}

/// One start timed on the store at the path given.
type Ready<'a> = &'a dyn Fn(&Path) -> anyhow::Result<Duration>;

/// (new, current) for `ready`, `rounds` each, interleaved so the machine's noise falls on both;
/// and, given `other`, `other`'s time on a new store of its own each round.
fn pair(
    rounds: usize,
    ready: impl Fn(&Path) -> anyhow::Result<Duration>,
    other: Option<Ready<'_>>,
) -> anyhow::Result<(Stats, Stats, Option<Stats>)> {
    let dir = tempfile::tempdir()?;
    let current = dir.path().join("current.sqlite");
    drop(Store::open(&current)?);
    let (mut fresh, mut base, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        fresh.push(ready(&dir.path().join(format!("new-{i}.sqlite")))?);
        base.push(ready(&current)?);
        if let Some(other) = other {
            others.push(other(&dir.path().join(format!("other-{i}.sqlite")))?);
        }
    }
    let others = other.map(|_| Stats::of(others));
    Ok((Stats::of(fresh), Stats::of(base), others))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The section's Markdown; `baseline`, another build whose new store is timed in the same rounds.
pub fn run(rounds: usize, baseline: Option<&Path>) -> anyhow::Result<String> {
    let this = std::env::current_exe()?;
    let other = baseline.map(|b| move |store: &Path| serve_ready(b, store));
    let other = other.as_ref().map(|f| f as Ready<'_>);
    let (serve_new, serve_current, baseline_new) = pair(rounds, |s| serve_ready(&this, s), other)?;
    let (open_new, open_current, _) = pair(rounds, open_ready, None)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nNew store ready (spawn of `serve` → first answer, {rounds} runs): median {}, p99 {} (target: under 20 ms); \
         baseline in the same run, an already-migrated store: median {}, p99 {}. \
         `Store::open` + one read alone: new store median {}, already-migrated store median {}.",
        ms(serve_new.median),
        ms(serve_new.p99),
        ms(serve_current.median),
        ms(serve_current.p99),
        ms(open_new.median),
        ms(open_current.median),
    );
    if let (Some(b), Some(stats)) = (baseline, baseline_new) {
        let _ = writeln!(
            out,
            "The baseline `{}` on a new store in the same rounds: median {}, p99 {}.",
            b.display(),
            ms(stats.median),
            ms(stats.p99)
        );
    }
    Ok(out)
}
