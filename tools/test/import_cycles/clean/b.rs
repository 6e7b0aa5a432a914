//! b: "crate::a::f" in a comment or a string is not an import. See crate::a::f.
pub struct B;
/* use crate::a::f; */
pub const NAME: &str = "crate::a::f";
pub const RAW: &str = r#"use crate::a::f;"#;
pub fn g<'a>(x: &'a str) -> char { let _ = x; '"' }
#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn t() { let _ = B; }
}
