//! opencode-balancer: an embedded actor runtime that keeps opencode working across rate limits by
//! saving every account, failing requests over to healthy ones and balancing providers.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod actors;
pub mod api;
pub mod balancer;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod continuity;
pub mod dashboard;
pub mod demo;
pub mod doctor;
pub mod format;
pub mod hooks;
pub mod install;
pub mod mock_provider;
pub mod model;
pub mod net;
pub mod oauth;
pub mod opencode2;
pub mod safe_text;
pub mod store;
pub mod usage;
