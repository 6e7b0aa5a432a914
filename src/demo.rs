//! `opencode-balancer demo`: a failover shown end to end on this machine only — a temporary
//! store, a mock provider on 127.0.0.1 whose first account answers 429, and the real sidecar
//! driven over its protocol the way the opencode plugin drives it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::methods::{
    AccountsList, AccountsSave, ChatHeaders, ChatMessage, EventsList, FetchBegin, FetchResult, Initialize,
};
use crate::api::Request;
use crate::api::{BeginResult, FetchResultAnswer};
use crate::api::{
    ChatHeadersParams, ChatMessageParams, EventsParams, FetchBeginParams, FetchResultParams, NoParams, ProviderFilter,
    SaveParams,
};
use crate::format::relative;
use crate::mock_provider::{MockProvider, MockReply};
use crate::model::{Auth, ModelRef};
use crate::rpc::client::{Notification, RpcClient};

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

fn rpc<R: Request>(client: &mut RpcClient, params: &R::Params) -> anyhow::Result<R::Result>
where
    R::Params: Serialize,
    R::Result: DeserializeOwned,
{
    client
        .call::<R>(params)
        .map_err(|e| anyhow!("{} failed: {e}", R::METHOD))
}

/// Sends the request to the mock with the headers the sidecar chose; returns status, the
/// rate-limit headers and the body.
fn post(
    http: &reqwest::blocking::Client,
    url: &str,
    headers: &BTreeMap<String, String>,
) -> anyhow::Result<(u16, HashMap<String, String>, String)> {
    let mut req = http.post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = req
        .body(r#"{"model":"m1","messages":[{"role":"user","content":"say hi"}]}"#)
        .send()?;
    let status = res.status().as_u16();
    let mut hs = HashMap::new();
    for (k, v) in res.headers() {
        let name = k.as_str();
        if name == "retry-after" || name.starts_with("x-ratelimit-") || name.starts_with("anthropic-ratelimit-") {
            hs.insert(name.to_string(), v.to_str().unwrap_or_default().to_string());
        }
    }
    Ok((status, hs, res.text()?))
}

/// The mock provider's answer text (provider JSON, not the protocol).
fn answer_text(body: &str) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Completion {
        choices: Vec<Choice>,
    }
    #[derive(Deserialize)]
    struct Choice {
        message: Message,
    }
    #[derive(Deserialize)]
    struct Message {
        content: String,
    }
    let c: Completion = serde_json::from_str(body)?;
    Ok(c.choices
        .into_iter()
        .next()
        .map(|c| c.message.content)
        .unwrap_or_default())
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

    rpc::<Initialize>(&mut sidecar, &NoParams {})?;
    for (alias, key) in [("bravo", BRAVO_KEY), ("alpha", ALPHA_KEY)] {
        let params = SaveParams {
            provider_id: "mock".into(),
            alias: alias.into(),
            auth: Auth::Api {
                key: key.into(),
                metadata: None,
            },
            replace: false,
        };
        rpc::<AccountsSave>(&mut sidecar, &params)?;
    }
    let _ = writeln!(
        out,
        "1. Saved two accounts for provider \"mock\": alpha (active) and bravo."
    );

    let model = ModelRef {
        provider_id: "mock".into(),
        model_id: "m1".into(),
    };
    let session = ChatMessageParams {
        session_id: "demo-session".into(),
        model: Some(model.clone()),
    };
    rpc::<ChatMessage>(&mut sidecar, &session)?;
    let h = rpc::<ChatHeaders>(
        &mut sidecar,
        &ChatHeadersParams {
            session_id: "demo-session".into(),
            provider_id: model.provider_id,
            model_id: model.model_id,
            api: None,
            fetch: None,
        },
    )?;
    let request_id = h.request_id.ok_or_else(|| anyhow!("no request id from chat.headers"))?;
    let begin = rpc::<FetchBegin>(
        &mut sidecar,
        &FetchBeginParams {
            request_id: request_id.clone(),
            url: url.to_string(),
            header_names: vec!["authorization".into(), "content-type".into()],
            authorization: Some("bearer".into()),
        },
    )?;
    let BeginResult::Use {
        account,
        set_headers: mut headers,
        ..
    } = begin
    else {
        bail!("fetch.begin did not put the request on an account: {begin:?}");
    };
    let _ = writeln!(
        out,
        "2. opencode sends a message; the sidecar puts it on {}.",
        account.alias
    );

    let mut attempt = 1;
    let answer = loop {
        let account = name_of(
            headers
                .get("authorization")
                .map_or("", String::as_str)
                .trim_start_matches("Bearer "),
        );
        let (status, res_headers, body) = post(&http, url, &headers)?;
        let retry_after = res_headers
            .get("retry-after")
            .map(|s| format!(" (Retry-After: {s})"))
            .unwrap_or_default();
        let _ = writeln!(out, "   attempt {attempt} as {account}: HTTP {status}{retry_after}");
        let sent_body = if status >= 300 {
            Some(body.chars().take(4096).collect::<String>())
        } else {
            None
        };
        let result = rpc::<FetchResult>(
            &mut sidecar,
            &FetchResultParams {
                request_id: request_id.clone(),
                attempt,
                status,
                headers: res_headers,
                body: sent_body,
                sent: None,
            },
        )?;
        if let FetchResultAnswer::Retry {
            account, set_headers, ..
        } = result
        {
            let _ = writeln!(out, "   sidecar: retry on {}", account.alias);
            headers = set_headers;
            attempt += 1;
            continue;
        }
        if status != 200 {
            bail!("the request ended with HTTP {status}");
        }
        break answer_text(&body)?;
    };
    let _ = writeln!(out, "3. The answer opencode gets: \"{answer}\"");

    let now = crate::clock::SystemClock;
    let now = crate::clock::Clock::now_ms(&now);
    let accounts = rpc::<AccountsList>(&mut sidecar, &ProviderFilter::default())?;
    let _ = writeln!(out, "4. Accounts now:");
    for a in &accounts {
        let state = match a.cooling_down_until {
            Some(until) => format!(
                "cooling down, usable again {} ({})",
                relative(until, now),
                a.cooldown_reason.map(|r| r.as_str()).unwrap_or("")
            ),
            None => "healthy".into(),
        };
        let active = if a.active { ", active" } else { "" };
        let _ = writeln!(out, "   {}/{}: {state}{active}", a.provider_id, a.alias);
    }
    let events = rpc::<EventsList>(
        &mut sidecar,
        &EventsParams {
            limit: Some(10),
            kind: None,
        },
    )?;
    let _ = writeln!(out, "5. Events, oldest first:");
    for e in events.iter().rev() {
        let _ = writeln!(out, "   {:<22} {}", e.kind, e.message);
    }
    for n in &sidecar.notifications {
        if let Notification::Toast(t) = n {
            let _ = writeln!(out, "   toast for the user: \"{}\"", t.message);
        }
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
