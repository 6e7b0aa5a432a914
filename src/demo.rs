//! `opencode-balancer demo`: a failover shown end to end on this machine only — a temporary
//! store, a mock provider on 127.0.0.1 whose first account answers 429, and the real sidecar
//! driven over its protocol the way the opencode plugin drives it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use crate::format::relative;
use crate::hooks::client::RpcClient;
use crate::mock_provider::{MockProvider, MockReply};

const ALPHA_KEY: &str = "demo-key-alpha-FAKE";
const BRAVO_KEY: &str = "demo-key-bravo-FAKE";
const ANSWER: &str = "Hello from the mock provider, answered on the second account.";

/// Runs the demo and returns its report; an error when the scenario did not go as designed.
pub fn run() -> anyhow::Result<String> {
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let store = dir.path().join("balancer.sqlite");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let rules = HashMap::from([
        (ALPHA_KEY.to_string(), MockReply::rate_limited(30)),
        (BRAVO_KEY.to_string(), MockReply::ok(ANSWER)),
    ]);
    let mock = rt.block_on(MockProvider::start(rules, MockReply::rate_limited(30)))?;
    let url = format!("{}/chat/completions", mock.base_url());
    // Serve the mock from a thread while this one drives the sidecar.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            mock.seen_keys()
        })
    });
    let report = scenario(&store, &url);
    let _ = stop_tx.send(());
    let seen = server.join().map_err(|_| anyhow!("the mock provider thread failed"))?;
    let mut out = report?;
    let names: Vec<&str> = seen.iter().map(|k| name_of(k)).collect();
    if names != ["alpha", "bravo"] {
        bail!("the mock saw {names:?}, expected alpha then bravo");
    }
    let _ = writeln!(out, "\nThe mock provider saw the keys of: {}.", names.join(" → "));
    let _ = writeln!(
        out,
        "Done: the request succeeded on bravo while alpha rests; in opencode the user sees one toast."
    );
    Ok(out)
}

fn name_of(key: &str) -> &'static str {
    match key {
        ALPHA_KEY => "alpha",
        BRAVO_KEY => "bravo",
        _ => "unknown",
    }
}

fn rpc(client: &mut RpcClient, method: &str, params: Value) -> anyhow::Result<Value> {
    client.call(method, params).map_err(|e| anyhow!("{method} failed: {e}"))
}

/// Sends the request to the mock with the headers the sidecar chose; returns status, headers, body.
fn post(http: &reqwest::blocking::Client, url: &str, headers: &Value) -> anyhow::Result<(u16, Value, String)> {
    let mut req = http.post(url).header("content-type", "application/json");
    for (k, v) in headers.as_object().into_iter().flatten() {
        req = req.header(k.as_str(), v.as_str().unwrap_or_default());
    }
    let res = req
        .body(r#"{"model":"m1","messages":[{"role":"user","content":"say hi"}]}"#)
        .send()?;
    let status = res.status().as_u16();
    let mut hs = serde_json::Map::new();
    for (k, v) in res.headers() {
        let name = k.as_str();
        if name == "retry-after" || name.starts_with("x-ratelimit-") || name.starts_with("anthropic-ratelimit-") {
            hs.insert(name.to_string(), json!(v.to_str().unwrap_or_default()));
        }
    }
    Ok((status, Value::Object(hs), res.text()?))
}

fn scenario(store: &Path, url: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    let exe = std::env::current_exe().context("finding this program")?;
    let mut sidecar =
        RpcClient::spawn(&exe, store, &[("OPENCODE_BALANCER_NO_WATCH", "1")]).context("starting the sidecar")?;
    // The mock provider is on 127.0.0.1: never through a proxy.
    let http = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(crate::net::http::tls_config())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let _ = writeln!(
        out,
        "opencode-balancer demo: a rate-limited account, and the request carries on elsewhere.\n"
    );
    let _ = writeln!(out, "  store          {} (temporary)", store.display());
    let _ = writeln!(out, "  mock provider  {url} (127.0.0.1 only)");
    let _ = writeln!(
        out,
        "  sidecar        opencode-balancer serve, pid {}, JSON-RPC over pipes\n",
        sidecar.pid()
    );

    rpc(
        &mut sidecar,
        "initialize",
        json!({"client": {"name": "demo", "version": crate::hooks::dispatch::VERSION}}),
    )?;
    for (alias, key) in [("bravo", BRAVO_KEY), ("alpha", ALPHA_KEY)] {
        rpc(
            &mut sidecar,
            "accounts.save",
            json!({"providerID": "mock", "alias": alias, "auth": {"type": "api", "key": key}}),
        )?;
    }
    let _ = writeln!(
        out,
        "1. Saved two accounts for provider \"mock\": alpha (active) and bravo."
    );

    let session = json!({"sessionID": "demo-session", "model": {"providerID": "mock", "modelID": "m1"}});
    rpc(&mut sidecar, "chat.message", session)?;
    let h = rpc(
        &mut sidecar,
        "chat.headers",
        json!({"sessionID": "demo-session", "providerID": "mock", "modelID": "m1"}),
    )?;
    let request_id = h["requestID"]
        .as_str()
        .ok_or_else(|| anyhow!("no request id from chat.headers"))?
        .to_string();
    let begin = rpc(
        &mut sidecar,
        "fetch.begin",
        json!({"requestID": request_id, "url": url, "method": "POST", "headerNames": ["authorization", "content-type"], "authorization": "bearer"}),
    )?;
    let _ = writeln!(
        out,
        "2. opencode sends a message; the sidecar puts it on {}.",
        begin["account"]["alias"].as_str().unwrap_or("?")
    );

    let mut headers = begin["setHeaders"].clone();
    let mut attempt = 1;
    let answer = loop {
        let account = name_of(
            headers["authorization"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("Bearer "),
        );
        let (status, res_headers, body) = post(&http, url, &headers)?;
        let retry_after = res_headers
            .get("retry-after")
            .and_then(Value::as_str)
            .map(|s| format!(" (Retry-After: {s})"))
            .unwrap_or_default();
        let _ = writeln!(out, "   attempt {attempt} as {account}: HTTP {status}{retry_after}");
        let sent_body = if status >= 300 {
            Some(body.chars().take(4096).collect::<String>())
        } else {
            None
        };
        let result = rpc(
            &mut sidecar,
            "fetch.result",
            json!({"requestID": request_id, "attempt": attempt, "status": status, "headers": res_headers, "body": sent_body}),
        )?;
        if result["action"] == "retry" {
            let _ = writeln!(
                out,
                "   sidecar: retry on {}",
                result["account"]["alias"].as_str().unwrap_or("?")
            );
            headers = result["setHeaders"].clone();
            attempt += 1;
            continue;
        }
        if status != 200 {
            bail!("the request ended with HTTP {status}");
        }
        let v: Value = serde_json::from_str(&body)?;
        break v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    };
    let _ = writeln!(out, "3. The answer opencode gets: \"{answer}\"");

    let now = crate::clock::SystemClock;
    let now = crate::clock::Clock::now_ms(&now);
    let accounts = rpc(&mut sidecar, "accounts.list", json!({}))?;
    let _ = writeln!(out, "4. Accounts now:");
    for a in accounts.as_array().into_iter().flatten() {
        let state = match a["coolingDownUntil"].as_i64() {
            Some(until) => format!(
                "cooling down, usable again {} ({})",
                relative(until, now),
                a["cooldownReason"].as_str().unwrap_or("")
            ),
            None => "healthy".into(),
        };
        let active = if a["active"] == json!(true) { ", active" } else { "" };
        let _ = writeln!(
            out,
            "   {}/{}: {state}{active}",
            a["providerID"].as_str().unwrap_or(""),
            a["alias"].as_str().unwrap_or("")
        );
    }
    let events = rpc(&mut sidecar, "events.list", json!({"limit": 10}))?;
    let _ = writeln!(out, "5. Events, oldest first:");
    for e in events.as_array().into_iter().flatten().rev() {
        let _ = writeln!(
            out,
            "   {:<22} {}",
            e["type"].as_str().unwrap_or(""),
            e["message"].as_str().unwrap_or("")
        );
    }
    let toasts: Vec<&str> = sidecar
        .notifications
        .iter()
        .filter(|n| n["method"] == "toast")
        .filter_map(|n| n["params"]["message"].as_str())
        .collect();
    for t in toasts {
        let _ = writeln!(out, "   toast for the user: \"{t}\"");
    }
    let status = sidecar.shutdown()?;
    if !status.success() {
        bail!("the sidecar exited with {status}");
    }
    if attempt != 2 {
        bail!("expected exactly one failover, saw {} attempts", attempt);
    }
    Ok(out)
}
