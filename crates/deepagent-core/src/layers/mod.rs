//! Layers: backends that wrap another backend and change one aspect of
//! it, in the manner of OpenDAL's layers. Wrapping beats flags: any
//! backend, including one you wrote, gets the behaviour unchanged.
//!
//! - [`ReadOnly`]: reads pass, writes, edits and commands are refused;
//! - [`Scoped`]: the inner backend's directory becomes `/`.

mod read_only;
mod scoped;

pub use read_only::{read_only_denial, ReadOnly};
pub use scoped::Scoped;
