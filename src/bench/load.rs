//! The benchmark's load section: batch cost at N and 4N elements next to the same requests sent
//! one per line, and `serve`'s memory while its host writes 500,000 requests without reading.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use super::Stats;

fn spawn_serve(store: &std::path::Path) -> anyhow::Result<(Child, ChildStdin, BufReader<ChildStdout>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--store")
        .arg(store)
        .arg("serve")
        .env("OPENCODE_BALANCER_NO_WATCH", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting serve")?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    Ok((child, stdin, stdout))
}

fn status_request(id: usize) -> String {
    format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"status\"}}")
}

/// Time from writing one batch line of `n` `status` requests to reading its answer, `rounds` times.
fn batch_times(
    stdin: &mut ChildStdin,
    stdout: &mut BufReader<ChildStdout>,
    n: usize,
    rounds: usize,
) -> anyhow::Result<Stats> {
    let line = format!("[{}]\n", (0..n).map(status_request).collect::<Vec<_>>().join(","));
    let mut answer = String::new();
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        stdin.write_all(line.as_bytes())?;
        answer.clear();
        stdout.read_line(&mut answer)?;
        times.push(t.elapsed());
        if answer.matches("\"result\":").count() != n {
            return Err(anyhow!("a batch of {n} was not answered whole"));
        }
    }
    Ok(Stats::of(times))
}

/// The same `n` requests one per line, all written (from a thread) while answers are read.
fn lines_time(stdin: &mut ChildStdin, stdout: &mut BufReader<ChildStdout>, n: usize) -> anyhow::Result<Duration> {
    let text: String = (0..n).map(|i| status_request(i) + "\n").collect();
    let t = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        s.spawn(|| stdin.write_all(text.as_bytes()));
        let mut answer = String::new();
        for _ in 0..n {
            answer.clear();
            stdout.read_line(&mut answer)?;
        }
        Ok(())
    })?;
    Ok(t.elapsed())
}

/// (VmRSS, VmHWM) in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Writes `total` requests from a thread without reading; reports memory once the writer is
/// blocked (no progress for 500 ms), then reads every answer and reports memory again.
fn unread_host(total: usize) -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let (mut child, mut stdin, mut stdout) = spawn_serve(&dir.path().join("balancer.sqlite"))?;
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let writer = std::thread::spawn(move || -> std::io::Result<ChildStdin> {
        for start in (0..total).step_by(1000) {
            let chunk: String = (start..(start + 1000).min(total))
                .map(|i| status_request(i) + "\n")
                .collect();
            stdin.write_all(chunk.as_bytes())?;
            counter.store((start + 1000).min(total), Ordering::SeqCst);
        }
        Ok(stdin)
    });
    let started = Instant::now();
    let mut last = (0, Instant::now());
    while last.1.elapsed() < Duration::from_millis(500) && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
        let now = written.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    let (rss, hwm) = memory_kib(child.id());
    let t = Instant::now();
    let mut answer = String::new();
    for _ in 0..total {
        answer.clear();
        if stdout.read_line(&mut answer)? == 0 {
            return Err(anyhow!("serve closed its output early"));
        }
    }
    let read_all = t.elapsed();
    let (rss_after, hwm_after) = memory_kib(child.id());
    drop(writer.join().map_err(|_| anyhow!("the writer panicked"))??);
    let _ = child.wait();
    Ok(format!(
        "Host writing {total} `status` requests without reading: blocked after {} written; serve then at VmRSS {}, VmHWM {}. \
         After reading all {total} answers ({:.1} s): VmRSS {}, VmHWM {}.",
        last.0,
        mib(rss),
        mib(hwm),
        read_all.as_secs_f64(),
        mib(rss_after),
        mib(hwm_after)
    ))
}

/// The load section of the report.
pub fn run(batch: usize) -> anyhow::Result<String> {
    let mut out = String::new();
    let dir = tempfile::tempdir()?;
    let (mut child, mut stdin, mut stdout) = spawn_serve(&dir.path().join("balancer.sqlite"))?;
    let small = batch_times(&mut stdin, &mut stdout, batch / 4, 9)?;
    let large = batch_times(&mut stdin, &mut stdout, batch, 9)?;
    let lines = lines_time(&mut stdin, &mut stdout, batch)?;
    drop(stdin);
    let _ = child.wait();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let _ = writeln!(
        out,
        "\nBatches of `status` (one line, answered as one array; median of 9): {} elements {}, {batch} elements {} \
         ({:.2}× for 4× the elements; linear is 4×). Baseline, the same {batch} requests one per line, pipelined: {}.",
        batch / 4,
        ms(small.median),
        ms(large.median),
        large.median.as_secs_f64() / small.median.as_secs_f64(),
        ms(lines)
    );
    let _ = writeln!(out, "\n{}", unread_host(500_000)?);
    Ok(out)
}
