//! The process's one outbound HTTP client (reqwest over rustls with the ring provider and the
//! webpki roots; no OpenSSL, no aws-lc): one request at a time with a timeout and a size limit,
//! answers reduced to what callers read. Proxies come from `HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY` and `NO_PROXY` (either case) as curl reads them, once, when the client is built.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

/// The largest answer read (usage and token answers are a few KiB).
pub const MAX_BODY: usize = 1024 * 1024;
const USER_AGENT: &str = concat!("opencode-balancer/", env!("CARGO_PKG_VERSION"));

/// An answer: status, the headers callers use, and the body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Why no answer arrived. Never holds a header value or a body.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NetError {
    #[error("it is not a valid http(s) URL")]
    BadUrl,
    #[error("the credential contains characters an HTTP header cannot carry")]
    BadHeader,
    /// Connection refused, DNS, TLS, proxy: the innermost cause.
    #[error("{host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("the answer from {0} is larger than 1 MiB")]
    TooLarge(String),
    /// The connection closed before the whole answer arrived.
    #[error("the answer from {0} was cut off")]
    CutOff(String),
}

/// One request. Header values may be secrets: they are marked sensitive and never reach an error.
pub struct Request<'a> {
    pub method: reqwest::Method,
    pub url: &'a str,
    pub headers: &'a [(&'a str, String)],
    /// Content type and bytes.
    pub body: Option<(&'static str, Vec<u8>)>,
    pub timeout: Duration,
}

impl<'a> Request<'a> {
    pub fn get(url: &'a str, headers: &'a [(&'a str, String)], timeout: Duration) -> Request<'a> {
        Request {
            method: reqwest::Method::GET,
            url,
            headers,
            body: None,
            timeout,
        }
    }

    pub fn post(url: &'a str, content_type: &'static str, body: Vec<u8>, timeout: Duration) -> Request<'a> {
        Request {
            method: reqwest::Method::POST,
            url,
            headers: &[],
            body: Some((content_type, body)),
            timeout,
        }
    }
}

/// rustls with ring and the webpki roots (also for the demo's blocking client).
pub fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The client, built on first use (so a process that never calls out never pays for the roots).
pub fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .user_agent(USER_AGENT)
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client builds with a preconfigured rustls")
    })
}

/// Sends `req` and reads the whole answer (at most [`MAX_BODY`]) within `req.timeout`.
pub async fn send(req: Request<'_>) -> Result<Reply, NetError> {
    let url = reqwest::Url::parse(req.url).map_err(|_| NetError::BadUrl)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NetError::BadUrl);
    }
    let host = url.host_str().unwrap_or("the endpoint").to_string();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("accept", reqwest::header::HeaderValue::from_static("application/json"));
    for (name, value) in req.headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| NetError::BadHeader)?;
        let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| NetError::BadHeader)?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let mut builder = client().request(req.method, url).headers(headers);
    if let Some((content_type, body)) = req.body {
        builder = builder.header("content-type", content_type).body(body);
    }
    let timeout_ms = req.timeout.as_millis() as u64;
    let exchange = async {
        let mut res = builder.send().await.map_err(|e| NetError::Connect {
            host: host.clone(),
            reason: describe(&e),
        })?;
        let header = |n: &str| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(200).collect::<String>())
        };
        let (retry_after, content_type) = (header("retry-after"), header("content-type"));
        let status = res.status().as_u16();
        let mut body = BytesMut::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > MAX_BODY => return Err(NetError::TooLarge(host.clone())),
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(_) => return Err(NetError::CutOff(host.clone())),
            }
        }
        Ok(Reply {
            status,
            retry_after,
            content_type,
            body: body.freeze(),
        })
    };
    match tokio::time::timeout(req.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(NetError::Timeout(timeout_ms)),
    }
}

/// The innermost cause of a transport error (connection refused, DNS, TLS, proxy), never a header
/// or the URL (reqwest's own text names it).
fn describe(e: &reqwest::Error) -> String {
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut text = String::new();
    while let Some(c) = cause {
        text = c.to_string();
        cause = c.source();
    }
    if text.is_empty() {
        "connection failed".into()
    } else {
        text.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server that reads one request and writes `answer` raw, then closes.
    async fn raw_server(answer: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer).await;
        });
        format!("http://{addr}/x")
    }

    #[tokio::test]
    async fn an_answer_cut_off_midway_is_named_not_returned() {
        let url = raw_server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"access_token\":").await;
        let got = send(Request::get(&url, &[], Duration::from_secs(2))).await;
        assert_eq!(got.unwrap_err(), NetError::CutOff("127.0.0.1".into()));
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_bad_url_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let got = send(Request::get(&url, &[], Duration::from_millis(100))).await;
        assert_eq!(got.unwrap_err(), NetError::Timeout(100));
        let got = send(Request::get("file:///etc/passwd", &[], Duration::from_millis(100))).await;
        assert_eq!(got.unwrap_err(), NetError::BadUrl);
    }

    #[tokio::test]
    async fn a_header_a_request_cannot_carry_is_refused_without_quoting_it() {
        let got = send(Request::get(
            "http://127.0.0.1:9/x",
            &[("authorization", "Bearer FAKE\nsecret".into())],
            Duration::from_millis(100),
        ))
        .await;
        assert_eq!(got.unwrap_err(), NetError::BadHeader);
    }
}
