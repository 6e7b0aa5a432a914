//! c takes its parent's item.
use super::Shared;
pub fn go(_: Shared) { let _ = crate::p::Shared; }
