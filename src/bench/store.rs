//! The benchmark's store section: a new store's readiness (open + migrate + first answer) next
//! to the same measured on an already-migrated store in the same run, both as `serve` started
//! by the plugin sees it and inside the process (`Store::open` alone).

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{call, Stats};
use crate::api::methods::Status;
use crate::api::params::NoParams;
use crate::hooks::client::RpcClient;
use crate::store::Store;

/// Spawn of `serve` on `store` → its first answer (`status`).
fn serve_ready(store: &Path) -> anyhow::Result<Duration> {
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let mut c = RpcClient::spawn(&exe, store, &[("OPENCODE_BALANCER_NO_WATCH", "1")])?;
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

/// (new, current) for `ready`, `rounds` each, interleaved so the machine's noise falls on both.
fn pair(rounds: usize, ready: impl Fn(&Path) -> anyhow::Result<Duration>) -> anyhow::Result<(Stats, Stats)> {
    let dir = tempfile::tempdir()?;
    let current = dir.path().join("current.sqlite");
    drop(Store::open(&current)?);
    let (mut fresh, mut base) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for i in 0..rounds {
        fresh.push(ready(&dir.path().join(format!("new-{i}.sqlite")))?);
        base.push(ready(&current)?);
    }
    Ok((Stats::of(fresh), Stats::of(base)))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The section's Markdown.
pub fn run(rounds: usize) -> anyhow::Result<String> {
    let (serve_new, serve_current) = pair(rounds, serve_ready)?;
    let (open_new, open_current) = pair(rounds, open_ready)?;
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
    Ok(out)
}
