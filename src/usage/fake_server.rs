//! A loopback stand-in for the usage APIs (127.0.0.1 only), on its own thread: answers each path
//! with a scripted reply (status, headers, body, delay) and records every request. For the
//! clients' tests and the integration tests; `{{authorization}}` in a body echoes the request's
//! Authorization header, to prove an echoed credential never survives redaction.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::net::loopback::Loopback;

/// A scripted answer.
#[derive(Clone, Debug)]
pub struct FakeReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl FakeReply {
    /// `200` with a JSON body.
    pub fn json(body: impl Into<String>) -> FakeReply {
        FakeReply::status(200, body).header("content-type", "application/json")
    }

    pub fn status(status: u16, body: impl Into<String>) -> FakeReply {
        FakeReply {
            status,
            headers: vec![],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> FakeReply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answers only after `delay` (timeouts).
    pub fn delayed(mut self, delay: Duration) -> FakeReply {
        self.delay = delay;
        self
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub query: String,
    /// Lowercased names.
    pub headers: HashMap<String, String>,
}

type Routes = Arc<Mutex<HashMap<String, FakeReply>>>;

/// The running server; dropping it stops it.
pub struct FakeUsageServer {
    pub addr: SocketAddr,
    routes: Routes,
    seen: Arc<Mutex<Vec<Seen>>>,
    _server: Loopback,
}

impl FakeUsageServer {
    /// Starts on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<FakeUsageServer> {
        let routes: Routes = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (r, s) = (routes.clone(), seen.clone());
        let server = Loopback::start(move |req: Request<Incoming>| {
            let (routes, seen) = (r.clone(), s.clone());
            async move { Ok::<_, Infallible>(answer(&routes, &seen, &req).await) }
        })?;
        Ok(FakeUsageServer {
            addr: server.addr,
            routes,
            seen,
            _server: server,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `path` (without the query) with `reply` from now on.
    pub fn route(&self, path: &str, reply: FakeReply) {
        self.routes.lock().expect("routes").insert(path.to_string(), reply);
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// How many requests `path` got.
    pub fn count(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }
}

async fn answer(routes: &Routes, seen: &Mutex<Vec<Seen>>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let path = req.uri().path().to_string();
    let authorization = headers.get("authorization").cloned().unwrap_or_default();
    seen.lock().expect("seen").push(Seen {
        path: path.clone(),
        query: req.uri().query().unwrap_or("").to_string(),
        headers,
    });
    let reply = routes.lock().expect("routes").get(&path).cloned();
    let reply = reply.unwrap_or_else(|| FakeReply::status(404, r#"{"message":"Not Found"}"#));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut res = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        res = res.header(k, v);
    }
    let body = reply.body.replace("{{authorization}}", &authorization);
    res.body(Full::new(Bytes::from(body))).expect("a valid response")
}

/// What the fake answers at Claude's profile path (`/api/oauth/profile`) for a login of
/// `account`/`org`: as the real endpoint does, with the email.
pub fn claude_profile_reply(account: &str, org: &str, email: &str) -> FakeReply {
    FakeReply::json(
        serde_json::json!({
            "account": {"uuid": account, "email_address": email},
            "organization": {"uuid": org},
        })
        .to_string(),
    )
}

/// A recorded payload under `fixtures/usage/<dir>/<name>`, for the clients' tests.
pub fn fixture(dir: &str, name: &str) -> String {
    let path = format!("{}/fixtures/usage/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Reads one account's usage through the real router pointed at `server` (300 ms timeout).
pub async fn fetch_via(
    server: &FakeUsageServer,
    provider_id: &str,
    alias: &str,
    auth: crate::model::Auth,
    now: crate::model::Millis,
) -> Result<super::Usage, super::FetchError> {
    use super::UsageClient;
    super::Router::new(super::Endpoints::all_at(&server.url(), Duration::from_millis(300)))
        .fetch(super::UsageRequest {
            provider_id: provider_id.into(),
            alias: alias.into(),
            auth,
            now,
        })
        .await
}
