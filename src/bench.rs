//! `opencode-balancer bench`: the hot path measured over real pipes against the real sidecar,
//! next to a bare pipe echo (`cat`) measured in the same run, for several store sizes; then
//! batches and a host that does not read (see [`load`]), and a dry provider's turn moving to the
//! next provider over the loopback mock (see [`turn`]), the registry's store work and memory
//! (see [`registry`]), and the continuity edit on 1 MiB bodies ([`continuity`]). `--idle` measures
//! idle cost instead ([`idle`]), `--registry` only the registry section, `--continuity` only the edit.

mod continuity;
mod idle;
mod load;
mod registry;
mod store;
mod turn;

pub use continuity::run as continuity;
pub use idle::run as idle;
pub use registry::run as registry;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::methods::{ChatHeaders, ChatMessage, FetchBegin, FetchResult, Status, TestAdvanceClock};
use crate::api::Request;
use crate::api::{
    AdvanceClockParams, ChatHeadersParams, ChatMessageParams, FetchBeginParams, FetchResultParams, NoParams,
};
use crate::model::{Auth, ModelRef};
use crate::rpc::client::RpcClient;
use crate::store::Store;

/// Median and 99th percentile of a set of durations.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Stats {
            median: at(0.5),
            p99: at(0.99),
        }
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// One round trip through `cat`: the floor any pipe protocol pays.
fn echo_round_trips(iterations: usize) -> anyhow::Result<Stats> {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cat")?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let line =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"fetch.result\",\"params\":{\"requestID\":\"x\",\"status\":200}}\n";
    let mut buf = String::new();
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations + 200 {
        let t = Instant::now();
        stdin.write_all(line.as_bytes())?;
        stdin.flush()?;
        buf.clear();
        stdout.read_line(&mut buf)?;
        if i >= 200 {
            samples.push(t.elapsed());
        }
    }
    drop(stdin);
    let _ = child.wait();
    Ok(Stats::of(samples))
}

/// A store with `n` accounts of provider `mock` (the first is active), written directly.
fn seed(path: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let mut store = Store::open(path)?;
    for i in (0..n).rev() {
        let auth = Auth::Api {
            key: format!("bench-key-{i:05}-FAKE"),
            metadata: None,
        };
        store.save_account("mock", &format!("acct-{i:05}"), &auth, 0)?;
    }
    Ok(())
}

fn call<R: Request>(c: &mut RpcClient, params: &R::Params) -> anyhow::Result<R::Result>
where
    R::Params: Serialize,
    R::Result: DeserializeOwned,
{
    c.call::<R>(params).map_err(|e| anyhow!("{}: {e}", R::METHOD))
}

/// `chat.headers` for `session` on mock/m1; the request id it hands out.
fn headers_for(c: &mut RpcClient, session: &str) -> anyhow::Result<String> {
    let h = call::<ChatHeaders>(
        c,
        &ChatHeadersParams {
            session_id: session.to_string(),
            provider_id: "mock".into(),
            model_id: "m1".into(),
            api: None,
            fetch: None,
        },
    )?;
    h.request_id
        .ok_or_else(|| anyhow!("chat.headers handed out no request id"))
}

fn begin_params(request_id: String) -> FetchBeginParams {
    FetchBeginParams {
        request_id,
        url: String::new(),
        header_names: vec!["authorization".into(), "content-type".into()],
        authorization: Some("bearer".into()),
    }
}

fn result_params(request_id: &str, attempt: u32, status: u16, headers: HashMap<String, String>) -> FetchResultParams {
    FetchResultParams {
        request_id: request_id.to_string(),
        attempt,
        status,
        headers,
        body: None,
        sent: None,
    }
}

/// One 429 failover: `chat.headers` → `fetch.begin` → `fetch.result(429)` answered `retry` →
/// `fetch.result(200)`, timed; then the clock is moved on (untimed) so the cooldown passes and
/// every round fails over the same way. `n`: the store's accounts, for the error.
fn failover_round(c: &mut RpcClient, n: usize) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let id = headers_for(c, "f")?;
    call::<FetchBegin>(c, &begin_params(id.clone()))?;
    let refused = HashMap::from([("retry-after".to_string(), "1".to_string())]);
    let r = call::<FetchResult>(c, &result_params(&id, 1, 429, refused))?;
    if !r.is_retry() {
        return Err(anyhow!("no failover with {n} accounts: {r:?}"));
    }
    call::<FetchResult>(c, &result_params(&id, 2, 200, HashMap::new()))?;
    let took = t.elapsed();
    call::<TestAdvanceClock>(c, &AdvanceClockParams { ms: 2_000 })?;
    Ok(took)
}

/// Resident memory of a process in KiB (Linux), 0 when unknown.
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A KiB figure of `/proc/PID/status` (`VmRSS:`, `RssAnon:`, `RssFile:`…); 0 when unreadable.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// (ok sequence, 429 failover sequence, ready after start, RSS in KiB) for `n` accounts.
fn measure(n: usize, iterations: usize) -> anyhow::Result<(Stats, Stats, Duration, u64)> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("balancer.sqlite");
    seed(&store, n)?;
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let env = [
        ("OPENCODE_BALANCER_TEST_CLOCK", "1700000000000"),
        ("OPENCODE_BALANCER_NO_WATCH", "1"),
    ];
    let mut c = RpcClient::spawn(&exe, &store, &env)?;
    call::<Status>(&mut c, &NoParams {})?;
    let ready = started.elapsed();
    let mut ok = Vec::with_capacity(iterations);
    for i in 0..iterations + 200 {
        let session = format!("s{}", i % 50);
        let t = Instant::now();
        call::<ChatMessage>(
            &mut c,
            &ChatMessageParams {
                session_id: session.clone(),
                model: Some(ModelRef {
                    provider_id: "mock".into(),
                    model_id: "m1".into(),
                }),
            },
        )?;
        let id = headers_for(&mut c, &session)?;
        call::<FetchBegin>(&mut c, &begin_params(id.clone()))?;
        call::<FetchResult>(&mut c, &result_params(&id, 1, 200, HashMap::new()))?;
        if i >= 200 {
            ok.push(t.elapsed());
        }
    }
    let mut failover = Vec::with_capacity(iterations);
    for i in 0..iterations + 200 {
        let took = failover_round(&mut c, n)?;
        if i >= 200 {
            failover.push(took);
        }
    }
    let rss = rss_kib(c.pid());
    let _ = c.shutdown();
    Ok((Stats::of(ok), Stats::of(failover), ready, rss))
}

/// From a login written to auth.json (atomic replace, as opencode does) to the
/// `account_saved` notification, `samples` times.
fn capture_latency(samples: usize) -> anyhow::Result<Stats> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("balancer.sqlite");
    let data = dir.path().join("data");
    let auth = data.join("opencode/auth.json");
    std::fs::create_dir_all(auth.parent().expect("a folder"))?;
    let exe = std::env::current_exe()?;
    let data_str = data.display().to_string();
    let mut c = RpcClient::spawn(&exe, &store, &[("XDG_DATA_HOME", data_str.as_str())])?;
    call::<Status>(&mut c, &NoParams {})?;
    // opencode's auth.json, not the protocol.
    let mut content = std::collections::BTreeMap::new();
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let provider = format!("p{i}");
        content.insert(
            provider.clone(),
            Auth::Api {
                key: format!("bench-login-{i}-FAKE"),
                metadata: None,
            },
        );
        times.push(idle::time_capture(
            &mut c,
            &auth,
            &content,
            &provider,
            idle::Written::Renamed,
        )?);
        std::thread::sleep(Duration::from_millis(30));
    }
    let _ = c.shutdown();
    Ok(Stats::of(times))
}

/// Edits timed per body in the continuity section.
pub const CONTINUITY_ROUNDS: usize = 50;

/// Runs the benchmark and returns a Markdown report; `baseline`, another build measured next to
/// this one in the new-store and registry sections.
pub fn run(iterations: usize, sizes: &[usize], baseline: Option<&std::path::Path>) -> anyhow::Result<String> {
    let iterations = iterations.max(100);
    let mut out = String::new();
    let echo = echo_round_trips(iterations)?;
    let _ = writeln!(
        out,
        "Bare pipe echo (cat), one round trip: median {}, p99 {}\n",
        us(echo.median),
        us(echo.p99)
    );
    let _ = writeln!(
        out,
        "Each sequence is 4 round trips; the target is 3× the bare-pipe cost of those 4 ({} median).\n",
        us(echo.median * 12)
    );
    let _ = writeln!(
        out,
        "| accounts | sequence 200: median | p99 | × bare pipe | 429 failover: median | p99 | × bare pipe | ready after start | RSS |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut first: Option<(Duration, Duration)> = None;
    for &n in sizes {
        let (ok, fo, ready, rss) = measure(n, iterations)?;
        let ratio = |d: Duration| d.as_secs_f64() / (echo.median.as_secs_f64() * 4.0);
        let _ = writeln!(
            out,
            "| {n} | {} | {} | {:.2} | {} | {} | {:.2} | {:.1} ms | {:.1} MiB |",
            us(ok.median),
            us(ok.p99),
            ratio(ok.median),
            us(fo.median),
            us(fo.p99),
            ratio(fo.median),
            ready.as_secs_f64() * 1e3,
            rss as f64 / 1024.0
        );
        first.get_or_insert((ok.median, fo.median));
    }
    out.push_str(&store::run(20, baseline)?);
    let capture = capture_latency(30)?;
    let _ = writeln!(
        out,
        "\nLogin capture, auth.json written → `account_saved` received (30 logins): median {:.1} ms, p99 {:.1} ms (target: median under 100 ms; the predecessor polled every second, median about 500 ms).",
        capture.median.as_secs_f64() * 1e3,
        capture.p99.as_secs_f64() * 1e3
    );
    if let (Some((ok0, fo0)), Some(&last)) = (first, sizes.last()) {
        let (ok, fo, _, _) = measure(last, iterations)?;
        let _ = writeln!(
            out,
            "\nGrowth from {} to {last} accounts (re-measured): sequence {:.2}×, failover {:.2}× (target ≤ 1.5×).",
            sizes[0],
            ok.median.as_secs_f64() / ok0.as_secs_f64(),
            fo.median.as_secs_f64() / fo0.as_secs_f64()
        );
    }
    out.push_str(&turn::run(200)?);
    let ends: Vec<usize> = sizes.first().into_iter().chain(sizes.last()).copied().collect();
    out.push_str(&registry::run(&ends, baseline)?);
    out.push_str(&load::run(crate::rpc::wire::MAX_BATCH)?);
    out.push_str(&continuity::run(CONTINUITY_ROUNDS)?);
    Ok(out)
}
