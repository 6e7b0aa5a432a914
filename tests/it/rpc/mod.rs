//! The sidecar's JSON-RPC edge: the protocol, backpressure, `session.get`, the serve loop.

mod backpressure;
mod protocol;
mod serve_in_memory;
mod session_get;
mod tui_sidecar;
