//! The edge: JSON-RPC wire types, NDJSON framing, the method table and the serve loop. The only place that sees untyped JSON from the host.

pub mod client;
mod code_pages;
pub mod dispatch;
pub mod framing;
pub mod host_writes;
pub mod server;
pub mod stdio;
pub mod trim;
pub mod wire;
