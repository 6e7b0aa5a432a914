//! The edge: JSON-RPC wire types, NDJSON framing, the method table, the `/balancer` command and
//! the serve loop. The only place that sees untyped JSON from the host.

pub mod command;
pub mod dispatch;
pub mod framing;
pub mod outbox;
pub(crate) mod params;
pub mod server;
pub mod stdio;
pub mod turn;
pub mod wire;
