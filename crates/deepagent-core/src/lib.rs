//! # deepagent-core
//!
//! The contract between a deep agent and the storage or sandbox it works
//! through. Everything a backend needs lives here, so every backend behaves
//! the same:
//!
//! - [`Backend`] and [`Sandbox`]: the async, object-safe traits
//!   (`Arc<dyn Backend>` is what an agent holds);
//! - [`VPath`]: the one path normalizer (traversal, NUL, `~` and drive
//!   letters are refused before a backend sees them);
//! - [`BackendError`]: one error type whose messages name the path and say
//!   what to do;
//! - [`edit`], [`text`], [`glob`], [`listing`], [`search`]: the shared edit
//!   logic, line slicing and rendering, glob rules, flat-map listings and
//!   in-memory line search;
//! - [`BackendInfo`]: what a backend is and supports ([`Backend::info`]).
//!
//! The behaviour suite every backend runs lives in the `deepagent-testkit`
//! crate.
//!
//! ## Writing a backend
//!
//! Implement [`Backend`], normalizing each incoming path with
//! [`VPath::new`], then run the suite in your tests:
//!
//! ```ignore
//! // `lacks [..]` names the optional operations (delete, rename,
//! // execute) it does not support: their cases are reported as ignored.
//! deepagent_testkit::conformance_tests!(lacks [execute], || async {
//!     deepagent_testkit::Fixture::new(MyBackend::new())
//! });
//! ```
//!
//! `examples/custom_backend.rs` in the repository is a complete, passing
//! example.
//!
//! ## Reading a file the way a model sees it
//!
//! ```
//! use deepagent_core::{text, ReadSlice};
//! let slice = text::read_slice("/notes.md", b"# Notes\nfirst\nsecond\n", 1, 1)?;
//! assert_eq!(text::render_read(&slice), "     2\tfirst\n... (1 more lines)");
//! # Ok::<(), deepagent_core::BackendError>(())
//! ```

#![warn(missing_docs)]

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod backend;
pub mod edit;
mod error;
pub mod glob;
mod info;
pub mod layers;
pub mod listing;
mod path;
pub mod search;
pub mod text;
mod types;

pub use backend::{Backend, Sandbox};
pub use bytes::Bytes;
pub use error::{BackendError, BoxError, ErrorKind, Result};
pub use info::{BackendInfo, Capabilities, Durability, Limits, Mount};
pub use path::VPath;
pub use types::*;
