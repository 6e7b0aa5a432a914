//! The cooldown door: everything that decides whether an account cools down and until when.
//!
//! - Decided here: [`classify`] turns a provider's answer (status, headers, body) into an outcome
//!   (rate limited, quota exhausted, auth failure, …); [`reset`] reads when the limit resets from
//!   headers and bodies; [`hint`] clamps and words the wait shown to the user.
//! - Recorded by the registry actor: `accounts/outcome.rs` (`RecordOutcome`, the hot path) and
//!   `accounts/usage.rs` (a usage read that shows a window spent) set `cooldown_until` in memory.
//! - Stored by `store/bookkeeping.rs` (the runtime columns, written with the next bookkeeping job,
//!   `accounts/bookkeeping.rs`); the domain type is `model::Account`'s cooldown fields.

pub mod classify;
pub mod hint;
pub mod reset;
