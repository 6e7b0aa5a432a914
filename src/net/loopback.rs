//! The one loopback HTTP server (127.0.0.1 only) behind every local stand-in: the mock provider
//! of the demo and bench, and the fake usage and token endpoints of the tests. Each stand-in
//! brings only its handler; accepting, HTTP/1 and stopping when dropped live here.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// An answer; an error closes the connection without one (a dropped connection on purpose).
pub type Answer<E = Infallible> = Result<Response<Full<Bytes>>, E>;

/// A running server; dropping it stops it.
pub struct Loopback {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Loopback {
    /// Starts on a free port, on a thread of its own (so it answers whatever the caller's runtime
    /// is doing).
    pub fn start<F, Fut, E>(handler: F) -> std::io::Result<Loopback>
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer<E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for a loopback server");
            rt.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    serve(listener, stopped, handler).await;
                }
            });
        });
        Ok(Loopback { addr, _stop: stop })
    }

    /// Starts on a free port, in the current tokio runtime.
    pub async fn spawn<F, Fut, E>(handler: F) -> std::io::Result<Loopback>
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Answer<E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(serve(listener, stopped, handler));
        Ok(Loopback { addr, _stop: stop })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve<F, Fut, E>(listener: tokio::net::TcpListener, mut stopped: oneshot::Receiver<()>, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer<E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let handler = Arc::new(handler);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stopped => break,
            conn = listener.accept() => match conn { Ok(c) => c, Err(_) => continue },
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handler(req));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
