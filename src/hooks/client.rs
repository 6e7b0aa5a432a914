//! A small blocking JSON-RPC client that starts `opencode-balancer serve` as a child process and
//! talks to it over pipes, as the opencode plugin does (used by the demo and the benchmark).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

pub struct RpcClient {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    /// Notifications received while waiting for answers.
    pub notifications: Vec<Value>,
    line: String,
}

impl RpcClient {
    /// Starts `binary --store store serve` with extra environment; stderr is discarded unless
    /// `OPENCODE_BALANCER_LOG` is set.
    pub fn spawn(binary: &Path, store: &Path, env: &[(&str, &str)]) -> std::io::Result<RpcClient> {
        let stderr = if std::env::var_os("OPENCODE_BALANCER_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = Command::new(binary)
            .arg("--store")
            .arg(store)
            .arg("serve")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        Ok(RpcClient {
            stdin: BufWriter::new(child.stdin.take().expect("piped stdin")),
            stdout: BufReader::new(child.stdout.take().expect("piped stdout")),
            child,
            next_id: 0,
            notifications: Vec::new(),
            line: String::new(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Calls a method; `Err` carries the JSON-RPC error object as text.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{msg}").map_err(|e| e.to_string())?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        loop {
            self.line.clear();
            if self.stdout.read_line(&mut self.line).map_err(|e| e.to_string())? == 0 {
                return Err("the sidecar closed its output".into());
            }
            let v: Value = serde_json::from_str(&self.line).map_err(|e| format!("not JSON from the sidecar: {e}"))?;
            if v.get("id").is_none() {
                self.notifications.push(v);
                continue;
            }
            if v["id"] != json!(id) {
                return Err(format!("answer for another request: {v}"));
            }
            return match v.get("result") {
                Some(r) => Ok(r.clone()),
                None => Err(v["error"].to_string()),
            };
        }
    }

    /// Reads until a notification matching `pred` arrives (earlier ones are kept).
    pub fn wait_notification(&mut self, pred: impl Fn(&Value) -> bool) -> Result<Value, String> {
        if let Some(i) = self.notifications.iter().position(&pred) {
            return Ok(self.notifications.remove(i));
        }
        loop {
            self.line.clear();
            if self.stdout.read_line(&mut self.line).map_err(|e| e.to_string())? == 0 {
                return Err("the sidecar closed its output".into());
            }
            let v: Value = serde_json::from_str(&self.line).map_err(|e| format!("not JSON from the sidecar: {e}"))?;
            if pred(&v) {
                return Ok(v);
            }
            self.notifications.push(v);
        }
    }

    /// Asks the sidecar to stop and waits for it.
    pub fn shutdown(mut self) -> std::io::Result<std::process::ExitStatus> {
        let _ = self.call("shutdown", json!({}));
        self.child.wait()
    }
}

impl Drop for RpcClient {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
