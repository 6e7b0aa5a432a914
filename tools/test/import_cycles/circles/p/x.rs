//! x defines Foo and uses y's Bar.
use super::y::Bar;
pub struct Foo(pub Bar);
