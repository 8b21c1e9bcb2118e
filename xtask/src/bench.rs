//! `cargo xtask bench` (not yet built).

pub fn bench(_args: &[String]) -> crate::Result {
    Err("`cargo xtask bench` is not implemented yet".into())
}
