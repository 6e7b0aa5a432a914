//! b imports a's item through a grouped use.
use crate::{a::A, q};
pub struct B;
pub fn take(_: A) {}
pub fn via() { q::deep::helper() }
