//! A loopback stand-in for the token endpoints (127.0.0.1 only), on its own thread: ChatGPT's
//! form endpoint ([`CHATGPT_PATH`]) and a Claude JSON endpoint ([`CLAUDE_PATH`]) on one server.
//! Refresh tokens are single use per token family (reuse answers 400 `invalid_grant` /
//! `refresh_token_reused` and, if the family says so, revokes it); access lifetimes, JWT claims,
//! delays, 5xx, 429 and a connection dropped after the token was consumed are scripted; every
//! request is counted. For the clients' tests, the keeper's and the integration tests.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{json, Value};

use super::fake_tokens::{issue, FamilyState};
pub use super::fake_tokens::{AccountClaims, Family, Flavor};
use crate::model::{Auth, Millis};
use crate::net::loopback::Loopback;

/// ChatGPT's token endpoint (`{issuer}/oauth/token`, form body).
pub const CHATGPT_PATH: &str = super::endpoints::CHATGPT_TOKEN_PATH;
/// The Claude token endpoint (JSON body).
pub const CLAUDE_PATH: &str = super::endpoints::CLAUDE_TOKEN_PATH;

/// What the next request gets instead of (or before) the normal answer; one per request, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Wait, then answer normally.
    Delay(Duration),
    /// This status (a 5xx, say) without consuming the token.
    Status(u16),
    /// This status after consuming the token (the server rotated it and then failed).
    StatusAfterConsume(u16),
    /// 429 with this `Retry-After` (if any), without consuming the token.
    RateLimited(Option<String>),
    /// Consume the token, then close the connection without an answer.
    DropAfterConsume,
    /// 400 `invalid_grant` whose description echoes the refresh token sent (a leak test).
    EchoToken,
}

#[derive(Default)]
struct State {
    families: HashMap<String, FamilyState>,
    /// refresh token → (family, spent).
    tokens: HashMap<String, (String, bool)>,
    per_token: HashMap<String, u64>,
    total: u64,
    steps: VecDeque<Step>,
    delay: Duration,
    now_ms: Option<Millis>,
}

type Shared = Arc<Mutex<State>>;

/// The running server; dropping it stops it.
pub struct FakeTokenServer {
    pub addr: SocketAddr,
    state: Shared,
    _server: Loopback,
}

impl FakeTokenServer {
    /// Starts on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<FakeTokenServer> {
        let state: Shared = Arc::default();
        let shared = state.clone();
        let server = Loopback::start(move |req: Request<Incoming>| {
            let state = shared.clone();
            async move { answer(&state, req).await }
        })?;
        Ok(FakeTokenServer {
            addr: server.addr,
            state,
            _server: server,
        })
    }

    /// `http://127.0.0.1:PORT`: ChatGPT's issuer, and the base of [`Self::claude_url`].
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Claude token URL.
    pub fn claude_url(&self) -> String {
        format!("{}{CLAUDE_PATH}", self.url())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake token server state")
    }

    /// The time tokens are minted at (`iat`, `exp`, `expires`); the wall clock unless set (tests
    /// on the manual clock set it to theirs).
    pub fn set_now(&self, now_ms: Millis) {
        self.lock().now_ms = Some(now_ms);
    }

    /// Every request waits this long before it is answered.
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Scripts the next request (steps are used one per request, in order).
    pub fn then(&self, step: Step) {
        self.lock().steps.push_back(step);
    }

    /// A new family named `name` and its first credential (the Auth to save).
    pub fn mint(&self, name: &str, spec: Family) -> Auth {
        let mut s = self.lock();
        let now = now_of(&s);
        let mut family = FamilyState {
            spec,
            generation: 0,
            revoked: false,
            refreshes: 0,
            requests: 0,
            current: None,
        };
        let (auth, _) = issue(name, &mut family, now);
        if let Auth::Oauth { refresh, .. } = &auth {
            s.tokens.insert(refresh.clone(), (name.to_string(), false));
        }
        s.families.insert(name.to_string(), family);
        auth
    }

    /// The newest credential `family` was given (minted or refreshed).
    pub fn current(&self, family: &str) -> Option<Auth> {
        self.lock().families.get(family).and_then(|f| f.current.clone())
    }

    /// Requests so far, in all.
    pub fn requests(&self) -> u64 {
        self.lock().total
    }

    /// Requests that sent one of `family`'s refresh tokens.
    pub fn family_requests(&self, family: &str) -> u64 {
        self.lock().families.get(family).map_or(0, |f| f.requests)
    }

    /// Successful rotations of `family` (answered or not).
    pub fn refreshes(&self, family: &str) -> u64 {
        self.lock().families.get(family).map_or(0, |f| f.refreshes)
    }

    /// Requests that sent this refresh token.
    pub fn token_requests(&self, refresh_token: &str) -> u64 {
        self.lock().per_token.get(refresh_token).copied().unwrap_or(0)
    }

    /// Whether a reuse revoked `family`.
    pub fn revoked(&self, family: &str) -> bool {
        self.lock().families.get(family).is_some_and(|f| f.revoked)
    }
}

fn now_of(s: &State) -> Millis {
    s.now_ms.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    })
}

fn reply(status: u16, body: Value) -> Result<Response<Full<Bytes>>, Infallible> {
    let res = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    Ok(res
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response"))
}

fn oauth_error(code: &str, description: &str) -> Value {
    json!({"error": code, "error_description": description})
}

/// The refresh token, client id and grant type of a request to `path`.
fn parse(path: &str, body: &[u8]) -> Option<(Flavor, HashMap<String, String>)> {
    match path {
        CHATGPT_PATH => Some((Flavor::ChatGpt, form_urlencoded::parse(body).into_owned().collect())),
        CLAUDE_PATH => {
            let v: Value = serde_json::from_slice(body).ok()?;
            let fields = v
                .as_object()?
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())));
            Some((Flavor::Claude, fields.collect()))
        }
        _ => None,
    }
}

/// An error is how hyper is told to close the connection without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

async fn answer(state: &Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (step, delay) = {
        let mut s = state.lock().expect("state");
        s.total += 1;
        (s.steps.pop_front(), s.delay)
    };
    let wait = delay
        + if let Some(Step::Delay(d)) = &step {
            *d
        } else {
            Duration::ZERO
        };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let ok = |r: Result<_, Infallible>| r.map_err(|e| match e {});
    let Some((flavor, fields)) = parse(&path, &body) else {
        return ok(reply(404, json!({"error": "not_found"})));
    };
    let client_id = match flavor {
        Flavor::ChatGpt => super::chatgpt::CLIENT_ID,
        Flavor::Claude => super::claude::CLIENT_ID,
    };
    if fields.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return ok(reply(
            400,
            oauth_error("unsupported_grant_type", "grant_type must be refresh_token"),
        ));
    }
    if fields.get("client_id").map(String::as_str) != Some(client_id) {
        return ok(reply(401, oauth_error("invalid_client", "unknown client")));
    }
    let token = fields.get("refresh_token").cloned().unwrap_or_default();
    let mut s = state.lock().expect("state");
    *s.per_token.entry(token.clone()).or_default() += 1;
    let known = s.tokens.get(&token).cloned();
    if let Some((family, _)) = &known {
        if let Some(f) = s.families.get_mut(family) {
            f.requests += 1;
        }
    }
    match &step {
        Some(Step::Status(code)) => return ok(reply(*code, json!({"error": "server_error"}))),
        Some(Step::RateLimited(after)) => {
            let mut res = Response::builder()
                .status(429)
                .header("content-type", "application/json");
            if let Some(a) = after {
                res = res.header("retry-after", a.as_str());
            }
            let body = Bytes::from(json!({"error": "rate_limited"}).to_string());
            return Ok(res.body(Full::new(body)).expect("a valid response"));
        }
        Some(Step::EchoToken) => {
            return ok(reply(
                400,
                oauth_error("invalid_grant", &format!("refresh token {token} is not valid")),
            ))
        }
        _ => {}
    }
    let Some((name, spent)) = known else {
        return ok(reply(400, oauth_error("invalid_grant", "refresh token not found")));
    };
    let now = now_of(&s);
    let f = s.families.get_mut(&name).expect("a family for every token");
    if f.spec.flavor != flavor {
        return ok(reply(
            400,
            oauth_error("invalid_grant", "refresh token issued for another client"),
        ));
    }
    if f.revoked {
        return ok(reply(400, oauth_error("invalid_grant", "refresh_token_invalidated")));
    }
    if spent {
        f.revoked |= f.spec.revoke_on_reuse;
        return ok(reply(400, oauth_error("invalid_grant", "refresh_token_reused")));
    }
    let keep_old = f.spec.flavor == Flavor::Claude && f.spec.omit_refresh;
    let (auth, mut body) = issue(&name, f, now);
    f.refreshes += 1;
    if keep_old {
        // The old refresh token stays valid: only the access token is new.
        if let Some(Auth::Oauth { refresh, .. }) = f.current.as_mut() {
            *refresh = token.clone();
        }
        body.as_object_mut().expect("an object").remove("refresh_token");
    } else {
        s.tokens.insert(token, (name.clone(), true));
        if let Auth::Oauth { refresh, .. } = &auth {
            s.tokens.insert(refresh.clone(), (name, false));
        }
    }
    drop(s);
    match step {
        Some(Step::DropAfterConsume) => Err(Dropped),
        Some(Step::StatusAfterConsume(code)) => ok(reply(code, json!({"error": "server_error"}))),
        _ => ok(reply(200, body)),
    }
}
