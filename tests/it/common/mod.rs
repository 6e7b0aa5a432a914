//! Test harness: starts the real binary, speaks JSON-RPC to it over pipes, runs CLI commands.
#![allow(dead_code)]

pub mod dashboard;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opencode_balancer::runtime::Vars;
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_opencode-balancer");
pub const WAIT: Duration = Duration::from_secs(10);
/// A fixed start for the manual clock (2023-11-14T22:13:20Z).
pub const T0: i64 = 1_700_000_000_000;
/// The proxy variables the outbound client reads: never the developer's own (tests talk to
/// loopback servers; a test that wants a proxy sets one).
pub const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

pub struct Sidecar {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    lines: Receiver<String>,
    /// Every stdout line seen, in order.
    pub seen: Vec<String>,
    /// Notifications not yet taken.
    pub notifications: Vec<Value>,
    next_id: u64,
    pub stderr_path: PathBuf,
}

pub struct Options {
    pub manual_clock: bool,
    pub log: &'static str,
    pub env: Vec<(String, String)>,
    /// Read stdout in the background (false: leave it unread until [`Sidecar::take_stdout`]).
    pub read_stdout: bool,
    /// Arguments after `serve` (`--no-background`).
    pub serve_args: Vec<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            manual_clock: true,
            log: "trace",
            env: vec![],
            read_stdout: true,
            serve_args: vec![],
        }
    }
}

impl Sidecar {
    pub fn start(store: &Path) -> Sidecar {
        Sidecar::start_with(store, Options::default())
    }

    pub fn start_with(store: &Path, opts: Options) -> Sidecar {
        let stderr_path = std::env::temp_dir().join(format!("ocb-test-stderr-{}.log", rand_suffix()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("--store").arg(store).arg("serve").args(&opts.serve_args);
        cmd.env("OPENCODE_BALANCER_LOG", opts.log);
        // Never the developer's own logins: opencode's data folder is private to the test.
        cmd.env("XDG_DATA_HOME", data_home(store));
        cmd.env_remove("OPENCODE_BALANCER_TEST_CLOCK");
        isolate(&mut cmd);
        cmd.envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if opts.manual_clock {
            cmd.env("OPENCODE_BALANCER_TEST_CLOCK", T0.to_string());
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        let (stdout, unread) = match opts.read_stdout {
            true => (Some(stdout), None),
            false => (None, Some(stdout)),
        };
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Sidecar {
            stdin: child.stdin.take(),
            stdout: unread,
            child,
            lines: rx,
            seen: vec![],
            notifications: vec![],
            next_id: 0,
            stderr_path,
        }
    }

    /// Writes raw bytes (a line must end in `\n`).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// The next stdout line that is not a notification (notifications are kept aside).
    pub fn next_reply(&mut self) -> Value {
        loop {
            let line = self.next_line().expect("the sidecar answered");
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {line}"));
            if v.get("method").is_some() && v.get("id").is_none() {
                self.notifications.push(v);
                continue;
            }
            return v;
        }
    }

    pub fn next_line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(WAIT) {
            Ok(l) => {
                self.seen.push(l.clone());
                Some(l)
            }
            Err(RecvTimeoutError::Timeout) => panic!("no answer from the sidecar within {WAIT:?}"),
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Sends a request and returns its whole response object.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(format!("{msg}\n").as_bytes());
        let reply = self.next_reply();
        assert_eq!(
            reply["id"],
            json!(id),
            "unexpected reply while waiting for {id}: {reply}"
        );
        reply
    }

    /// The result of a call that must succeed.
    /// One account as `accounts.list` shows it.
    pub fn account(&mut self, provider: &str, alias: &str) -> Value {
        let list = self.call("accounts.list", json!({"providerID": provider}));
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["alias"] == alias)
            .cloned()
            .unwrap_or_else(|| panic!("{alias} not in {list}"))
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params.clone());
        match r.get("result") {
            Some(v) => v.clone(),
            None => panic!("{method} {params} failed: {r}"),
        }
    }

    /// The error of a call that must fail.
    pub fn call_err(&mut self, method: &str, params: Value) -> Value {
        let r = self.request(method, params.clone());
        r.get("error")
            .cloned()
            .unwrap_or_else(|| panic!("{method} {params} should fail: {r}"))
    }

    /// Waits for a notification matching `pred`.
    pub fn wait_notification(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.notifications.iter().position(&pred) {
                return self.notifications.remove(i);
            }
            assert!(
                Instant::now() < deadline,
                "notification not seen; have {:?}",
                self.notifications
            );
            let line = self.next_line().expect("sidecar alive");
            let v: Value = serde_json::from_str(&line).unwrap();
            self.notifications.push(v);
        }
    }

    pub fn save_api(&mut self, provider: &str, alias: &str, key: &str) -> Value {
        self.call(
            "accounts.save",
            json!({"providerID": provider, "alias": alias, "auth": {"type": "api", "key": key}}),
        )
    }

    /// The sidecar's stdin, for a writer of its own (the harness then writes nothing).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin open")
    }

    /// The unread stdout of a sidecar started with `read_stdout: false`.
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.stdout.take().expect("started with read_stdout: false")
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Closes stdin and waits for the exit; returns (status code, how long it took).
    pub fn finish(mut self) -> (Option<i32>, Duration, Vec<String>, String) {
        self.close_stdin();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > WAIT {
                let _ = self.child.kill();
                panic!("the sidecar did not exit");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = start.elapsed();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        (status.code(), took, self.seen.clone(), stderr)
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst) * 1000 + std::process::id() as u64
}

/// Keeps the developer's own settings from a child: no proxy, no inline logins, no other store or
/// config folder (what a test wants, it passes with `Command::env`).
fn isolate(cmd: &mut Command) {
    for name in PROXY_VARS {
        cmd.env_remove(name);
    }
    for name in [
        "OPENCODE_AUTH_CONTENT",
        "OPENCODE_CONFIG_DIR",
        "OPENCODE_BALANCER_STORE",
    ] {
        cmd.env_remove(name);
    }
}

/// Settings of an in-process runtime on `store` (`Runtime::start_with`): the test clock (so no
/// public host is ever contacted), the opencode data folder the sidecars on `store` see, and `env`
/// over those. Never the process's environment, which every test of this binary shares.
pub fn runtime_vars(store: &Path, env: &[(String, String)]) -> Vars {
    let mut vars = HashMap::from([
        ("OPENCODE_BALANCER_TEST_CLOCK".to_string(), T0.to_string()),
        ("XDG_DATA_HOME".to_string(), data_home(store).display().to_string()),
    ]);
    vars.extend(env.iter().cloned());
    Arc::new(move |name| vars.get(name).cloned())
}

/// Runs the CLI on a store with optional stdin.
pub fn cli(store: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    cli_with(store, args, stdin, &[])
}

/// [`cli`] with more environment variables.
pub fn cli_with(store: &Path, args: &[&str], stdin: Option<&str>, env: &[(String, String)]) -> Output {
    let mut cmd = Command::new(BIN);
    isolate(&mut cmd);
    let mut child = cmd
        .arg("--store")
        .arg(store)
        .args(args)
        .env("OPENCODE_BALANCER_TEST_CLOCK", T0.to_string())
        // The names `accounts add` and `priority model` check: never the developer's models.dev cache.
        .env("XDG_CACHE_HOME", store.with_file_name("xdg-cache"))
        // opencode's data (auth.json, opencode 2's credentials) as the sidecars on `store` see it.
        .env("XDG_DATA_HOME", data_home(store))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child.stdin.as_mut().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// CLI output that must succeed, as text.
pub fn cli_ok(store: &Path, args: &[&str], stdin: Option<&str>) -> String {
    cli_ok_with(store, args, stdin, &[])
}

/// [`cli_ok`] with more environment variables.
pub fn cli_ok_with(store: &Path, args: &[&str], stdin: Option<&str>, env: &[(String, String)]) -> String {
    let out = cli_with(store, args, stdin, env);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn temp_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.sqlite");
    (dir, path)
}

/// Polls `f` until it returns true (for state another process writes), up to 5 s.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The private `XDG_DATA_HOME` of sidecars started on `store`.
pub fn data_home(store: &Path) -> PathBuf {
    store.parent().unwrap().join("xdg-data")
}

/// The auth.json those sidecars watch.
pub fn auth_file(store: &Path) -> PathBuf {
    data_home(store).join("opencode").join("auth.json")
}

/// Points `cmd` at HOME and the XDG config and data folders inside `home` (install tests).
pub fn in_home_env<'a>(cmd: &'a mut Command, home: &Path) -> &'a mut Command {
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("OPENCODE_CONFIG_DIR")
        .env_remove("OPENCODE_BALANCER_STORE")
}

/// Runs the binary with [`in_home_env`].
pub fn in_home_out(home: &Path, args: &[&str]) -> Output {
    in_home_env(Command::new(BIN).args(args), home).output().unwrap()
}

/// [`in_home_out`] that must succeed; its stdout.
pub fn in_home(home: &Path, args: &[&str]) -> String {
    let out = in_home_out(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
