//! `cargo xtask fuzz` (not yet built).

pub fn fuzz(_args: &[String]) -> crate::Result {
    Err("`cargo xtask fuzz` is not implemented yet".into())
}
