//! Outbound networking: the one HTTP client of the process, shared by the usage clients and the
//! token refreshes (TLS by rustls with ring and the webpki roots; proxies from the environment).

pub mod env;
pub mod http;
pub mod loopback;

pub use http::{send, NetError, Reply, Request, MAX_BODY};
