//! p re-exports x's Foo; y takes it via super, hiding the circle x ↔ y behind the parent.
mod x;
mod y;
pub use self::x::Foo;
