//! q::deep (inline) leans on b: circle b → q::deep → b.
pub mod deep {
    pub fn helper() {
        let _ = super::super::b::B;
    }
}
