//! p uses its child c; c leans on p's own item (parent/child is not a circle).
mod c;
pub struct Shared;
pub fn run() { c::go(Shared) }
