//! y uses Foo through its parent's re-export.
use super::Foo;
pub struct Bar;
pub fn f(_: Foo) {}
