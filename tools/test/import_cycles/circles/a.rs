//! a names b's item by a path in code (no `use`).
pub struct A;
pub fn make() -> crate::b::B {
    crate::b::B
}
