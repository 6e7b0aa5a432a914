//! The benchmark's turn section: from a provider's refusal (its only key answers 429 with
//! `Retry-After: 120`) to the next provider's answer, over real HTTP to the loopback mock and the
//! real sidecar's `switch`, next to the same request sent straight to the second provider in the
//! same run (the floor: the answer cannot come sooner than that request takes).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{call, Stats};
use crate::api::methods::{
    AccountsResetCooldown, BalancingSet, ChatHeaders, FetchBegin, FetchResult, PrioritySetModel, ProvidersDescribe,
};
use crate::api::{
    AccountKey, ApiParams, ChatHeadersParams, DescribeParams, DescribedProvider, EnabledParams, FetchBeginParams,
    FetchResultParams, PriorityModelParams,
};
use crate::api::{BeginResult, BodyEdit, FetchResultAnswer};
use crate::mock_provider::{MockProvider, MockReply};
use crate::model::Auth;
use crate::rpc::client::RpcClient;
use crate::store::Store;
use anyhow::{anyhow, bail};

const KEY_A: &str = "bench-turn-a-FAKE";
const KEY_B: &str = "bench-turn-b-FAKE";
const BODY: &str = r#"{"model":"ma","reasoning_effort":"high","messages":[{"role":"user","content":"say hi"}]}"#;

/// POSTs `body` to `url` with `headers`; (status, retry-after header or "").
fn post(
    http: &reqwest::blocking::Client,
    url: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut req = http.post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = req.body(body.to_string()).send()?;
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    res.text()?;
    Ok((status, retry_after))
}

/// The body (provider JSON, not the protocol) as the plugin rewrites it for a `switch`.
fn rewrite(body: &str, edit: &BodyEdit) -> anyhow::Result<String> {
    let mut obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body)?;
    for k in &edit.remove {
        obj.remove(k);
    }
    for (k, val) in &edit.set {
        obj.insert(k.clone(), val.clone());
    }
    Ok(serde_json::to_string(&obj)?)
}

/// (refusal → second provider's answer, the straight request to the second provider).
fn measure(base: &str, rounds: usize) -> anyhow::Result<(Stats, Stats)> {
    let dir = tempfile::tempdir()?;
    let store_path = dir.path().join("balancer.sqlite");
    {
        let mut store = Store::open(&store_path)?;
        for (provider, alias, key) in [("pa", "alpha", KEY_A), ("pb", "bravo", KEY_B)] {
            let auth = Auth::Api {
                key: key.into(),
                metadata: None,
            };
            store.save_account(provider, alias, &auth, 0)?;
        }
    }
    let exe = std::env::current_exe()?;
    let mut c = RpcClient::spawn(&exe, &store_path, &[("OPENCODE_BALANCER_NO_WATCH", "1")])?;
    for (provider, model) in [("pa", "ma"), ("pb", "mb")] {
        call::<PrioritySetModel>(
            &mut c,
            &PriorityModelParams {
                provider_id: provider.into(),
                model_id: Some(model.into()),
            },
        )?;
    }
    call::<BalancingSet>(&mut c, &EnabledParams { enabled: true })?;
    let (url_a, url_b) = (format!("{base}/a/v1"), format!("{base}/b/v1"));
    let described = |provider: &str, url: &str| DescribedProvider {
        provider_id: provider.into(),
        api: ApiParams {
            npm: Some("@ai-sdk/openai-compatible".into()),
            base_url: Some(url.into()),
            headers: Default::default(),
        },
    };
    call::<ProvidersDescribe>(
        &mut c,
        &DescribeParams {
            providers: vec![described("pa", &url_a), described("pb", &url_b)],
        },
    )?;
    // The mock provider is on 127.0.0.1: never through a proxy.
    let http = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(crate::net::http::tls_config())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?;
    let (mut moved, mut straight) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let request_a = format!("{url_a}/chat/completions");
    for i in 0..rounds + 20 {
        let session = format!("bench-{i}");
        let h = call::<ChatHeaders>(
            &mut c,
            &ChatHeadersParams {
                session_id: session,
                provider_id: "pa".into(),
                model_id: "ma".into(),
                api: None,
                fetch: None,
            },
        )?;
        let id = h
            .request_id
            .ok_or_else(|| anyhow!("chat.headers handed out no request id"))?;
        let b = call::<FetchBegin>(
            &mut c,
            &FetchBeginParams {
                request_id: id.clone(),
                url: request_a.clone(),
                header_names: vec!["authorization".into(), "content-type".into()],
                authorization: Some("bearer".into()),
            },
        )?;
        let BeginResult::Use { set_headers, .. } = b else {
            bail!("fetch.begin did not put the request on an account: {b:?}");
        };
        let (status, retry_after) = post(&http, &request_a, &set_headers, BODY)?;
        // The clock starts when the refusal is in the host's hands.
        let t = Instant::now();
        let r = call::<FetchResult>(
            &mut c,
            &FetchResultParams {
                request_id: id.clone(),
                attempt: 1,
                status,
                headers: HashMap::from([("retry-after".to_string(), retry_after)]),
                body: None,
                sent: None,
            },
        )?;
        let FetchResultAnswer::Switch(r) = r else {
            bail!("no switch after the refusal: {r:?}");
        };
        let body = rewrite(BODY, &r.body)?;
        let (status, _) = post(&http, &r.url, &r.set_headers, &body)?;
        call::<FetchResult>(
            &mut c,
            &FetchResultParams {
                request_id: id,
                attempt: 2,
                status,
                headers: HashMap::new(),
                body: None,
                sent: None,
            },
        )?;
        let took = t.elapsed();
        if status != 200 {
            bail!("the second provider answered {status}");
        }
        let t = Instant::now();
        post(&http, &r.url, &r.set_headers, &body)?;
        let floor = t.elapsed();
        if i >= 20 {
            moved.push(took);
            straight.push(floor);
        }
        call::<AccountsResetCooldown>(
            &mut c,
            &AccountKey {
                provider_id: "pa".into(),
                alias: "alpha".into(),
            },
        )?;
    }
    let _ = c.shutdown();
    Ok((Stats::of(moved), Stats::of(straight)))
}

/// Runs the section and returns its Markdown.
pub fn run(rounds: usize) -> anyhow::Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let rules = HashMap::from([
        (KEY_A.to_string(), MockReply::rate_limited(120)),
        (KEY_B.to_string(), MockReply::ok("hi")),
    ]);
    let mock = rt.block_on(MockProvider::start(rules, MockReply::rate_limited(120)))?;
    let base = format!("http://{}", mock.addr);
    // Serve the mock from a thread while this one drives the sidecar and the requests.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            drop(mock);
        })
    });
    let measured = measure(&base, rounds);
    let _ = stop_tx.send(());
    server.join().map_err(|_| anyhow!("the mock provider thread failed"))?;
    let (moved, straight) = measured?;
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nA dry provider mid-turn ({rounds} rounds, loopback mock): from the refusal (429, `Retry-After: 120`, the provider's only key) to the second provider's answer via `switch`: median {}, p99 {}; the same request sent straight to the second provider: median {}, p99 {} (the floor). Without the move, opencode waits out `Retry-After` before each of its 5 retries: about 10 minutes, then an error.",
        ms(moved.median),
        ms(moved.p99),
        ms(straight.median),
        ms(straight.p99),
    );
    Ok(out)
}
