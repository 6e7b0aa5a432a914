//! The serve loop in-process over an in-memory pipe (`tokio::io::duplex`), on a temp store with
//! a manual clock: the JSON-RPC lines a host sends and what it gets back, no child process.

use std::sync::Arc;

use crate::common::runtime_vars;
use opencode_balancer::clock::ManualClock;
use opencode_balancer::rpc::server::{serve, Backend};
use opencode_balancer::runtime::Runtime;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const T0: i64 = 1_800_000_000_000;

/// A host on the other end of the pipe: sends one request a line, reads until its answer.
struct Host {
    to_sidecar: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    from_sidecar: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
    next_id: u64,
}

impl Host {
    async fn send_line(&mut self, line: &str) {
        self.to_sidecar.write_all(format!("{line}\n").as_bytes()).await.unwrap();
    }

    /// The next response line (notifications are skipped), as text and parsed.
    async fn answer(&mut self) -> (String, Value) {
        loop {
            let line = self
                .from_sidecar
                .next_line()
                .await
                .unwrap()
                .expect("the sidecar answers");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v.get("id").is_some() {
                return (line, v);
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send_line(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string())
            .await;
        let (_, v) = self.answer().await;
        assert_eq!(v["id"], id);
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }
}

#[test]
fn serve_answers_a_host_over_an_in_memory_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("balancer.sqlite");
    actix::System::new().block_on(async move {
        let rt = Runtime::start_with(&store, Arc::new(ManualClock::new(T0)), runtime_vars(&store, &[])).unwrap();
        let (host_end, sidecar_end) = tokio::io::duplex(64 * 1024);
        let (sidecar_read, sidecar_write) = tokio::io::split(sidecar_end);
        let server = tokio::task::spawn_local(serve(
            Backend::Live(rt),
            BufReader::new(sidecar_read),
            sidecar_write,
        ));
        let (host_read, host_write) = tokio::io::split(host_end);
        let mut host = Host {
            to_sidecar: host_write,
            from_sidecar: BufReader::new(host_read).lines(),
            next_id: 0,
        };

        // The handshake, byte for byte.
        host.send_line(r#"{"jsonrpc":"2.0","id":"h","method":"initialize","params":{"client":{"name":"t"}}}"#)
            .await;
        let (line, _) = host.answer().await;
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            line,
            format!(
                r#"{{"jsonrpc":"2.0","id":"h","result":{{"protocolVersion":1,"server":{{"name":"opencode-balancer","version":"{version}"}}}}}}"#
            )
        );

        for alias in ["b", "a"] {
            let saved = host
                .call(
                    "accounts.save",
                    json!({"providerID": "p", "alias": alias, "auth": {"type": "api", "key": format!("sk-test-{alias}-FAKE")}}),
                )
                .await;
            assert_eq!(saved["alias"], alias);
        }

        // A 429 on the active account fails over to the other one, without the state the
        // first account may have produced (with no owner known, the account the session's first
        // request went to stands for it: docs/continuity.md).
        let h = host
            .call("chat.headers", json!({"sessionID": "s1", "providerID": "p", "modelID": "m1"}))
            .await;
        let id = h["requestID"].as_str().expect("a managed provider gets a request id").to_string();
        let begin = host
            .call(
                "fetch.begin",
                json!({"requestID": id, "url": "http://127.0.0.1:9/v1", "headerNames": ["authorization"], "authorization": "bearer"}),
            )
            .await;
        assert_eq!(begin["account"], json!({"providerID": "p", "alias": "a"}));
        assert_eq!(begin["setHeaders"], json!({"authorization": "Bearer sk-test-a-FAKE"}));
        let retry = host
            .call(
                "fetch.result",
                json!({"requestID": id, "attempt": 1, "status": 429, "headers": {"retry-after": "120"}}),
            )
            .await;
        assert_eq!(
            retry,
            json!({"action": "retry", "account": {"providerID": "p", "alias": "b"},
                   "setHeaders": {"authorization": "Bearer sk-test-b-FAKE"}, "stripState": {"scope": "same-provider"}})
        );
        let done = host
            .call("fetch.result", json!({"requestID": id, "attempt": 2, "status": 200}))
            .await;
        assert_eq!(done, json!({"action": "return"}));
        let accounts = host.call("accounts.list", json!({"providerID": "p"})).await;
        let a = accounts.as_array().unwrap().iter().find(|a| a["alias"] == "a").unwrap();
        assert_eq!(a["coolingDownUntil"], T0 + 120_000, "the manual clock dates the cooldown");

        // An unknown method is -32601 naming it.
        host.send_line(r#"{"jsonrpc":"2.0","id":7,"method":"no.such"}"#).await;
        let (line, _) = host.answer().await;
        assert_eq!(
            line,
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"method not found: no.such"}}"#
        );

        host.send_line(r#"{"jsonrpc":"2.0","id":8,"method":"shutdown"}"#).await;
        let (line, _) = host.answer().await;
        assert_eq!(line, r#"{"jsonrpc":"2.0","id":8,"result":{}}"#);
        server.await.unwrap().unwrap();
    });
}
