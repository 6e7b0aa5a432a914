//! opencode-balancer: an embedded actor runtime that keeps opencode working across rate limits by
//! saving every account, failing requests over to healthy ones and balancing providers.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod accounts;
pub mod api;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod continuity;
pub mod dashboard;
pub mod demo;
pub mod doctor;
pub mod events;
pub mod failover;
pub mod format;
pub mod install;
pub mod logins;
pub mod mock_provider;
pub mod model;
pub mod net;
pub mod opencode2;
pub mod rpc;
pub mod runtime;
pub mod safe_text;
pub mod store;
pub mod tokens;
pub mod usage;
