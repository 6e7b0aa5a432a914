//! The integration tests, one binary (issue 31): a module per area, the shared harness in
//! `common`. Every test here runs beside all the others in one process, so none sets the process's
//! environment, changes its directory or relies on a fixed port, path or name: what a child needs
//! it gets through `Command::env`, and an in-process runtime gets its settings as arguments.

mod common;

mod accounts;
mod cli;
mod continuity;
mod dashboard;
mod failover;
mod fuzz;
mod install;
mod logins;
mod rpc;
mod secrets;
mod store;
mod tokens;
mod usage;
