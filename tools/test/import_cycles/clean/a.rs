//! a uses b; b only mentions a in comments and strings.
use crate::b::B;
pub fn f(_: B) -> u8 {
    crate::TOP
}
