//! A local mock LLM provider on 127.0.0.1 for the demo, tests and the benchmark: answers each
//! API key with a scripted reply and records which keys it saw, in order.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::net::loopback::Loopback;

/// A scripted answer.
#[derive(Clone, Debug)]
pub struct MockReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl MockReply {
    /// An OpenAI-style chat completion saying `text`.
    pub fn ok(text: &str) -> Self {
        let body = serde_json::json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "model": "m1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
        });
        MockReply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// A 429 with `Retry-After: secs`.
    pub fn rate_limited(secs: u32) -> Self {
        MockReply {
            status: 429,
            headers: vec![("retry-after".into(), secs.to_string()), ("content-type".into(), "application/json".into())],
            body: r#"{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}"#.into(),
        }
    }
}

/// The running mock. Dropping it stops the server.
pub struct MockProvider {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    _server: Loopback,
}

impl MockProvider {
    /// Starts on 127.0.0.1 (a free port) in the current tokio runtime.
    pub async fn start(by_key: HashMap<String, MockReply>, otherwise: MockReply) -> std::io::Result<MockProvider> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new((by_key, otherwise));
        let seen2 = seen.clone();
        let server = Loopback::spawn(move |req: Request<Incoming>| {
            let key = request_key(&req);
            seen2.lock().expect("seen").push(key.clone());
            let reply = rules.0.get(&key).unwrap_or(&rules.1).clone();
            async move { Ok::<_, Infallible>(respond(reply)) }
        })
        .await?;
        Ok(MockProvider {
            addr: server.addr,
            seen,
            _server: server,
        })
    }

    /// The base URL clients use (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every key seen so far, in order.
    pub fn seen_keys(&self) -> Vec<String> {
        self.seen.lock().expect("seen").clone()
    }
}

fn request_key<B>(req: &Request<B>) -> String {
    let h = req.headers();
    if let Some(v) = h.get("authorization").and_then(|v| v.to_str().ok()) {
        return v.strip_prefix("Bearer ").unwrap_or(v).to_string();
    }
    h.get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn respond(reply: MockReply) -> Response<Full<Bytes>> {
    let mut res = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        res = res.header(k, v);
    }
    res.body(Full::new(Bytes::from(reply.body))).expect("a valid response")
}
