//! Fixture: a tree with no circle, only shapes that are not one.
pub mod p;
mod a;
mod b;
pub const TOP: u8 = 1;
