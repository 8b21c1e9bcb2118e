//! `cargo xtask docker` (not yet built).

pub fn test_docker(_args: &[String]) -> crate::Result {
    Err("`cargo xtask test-docker` is not implemented yet".into())
}
