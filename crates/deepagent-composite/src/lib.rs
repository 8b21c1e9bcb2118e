//! # deepagent-composite
//!
//! [`CompositeBackend`] puts several backends behind one namespace by path
//! prefix: project files on disk, scratch files in memory, a sandbox for
//! commands. It is the Rust form of the seed example's
//! `CompositeBackend(default=..., routes={...})`, with one difference that
//! matters: the mount prefix is stripped going in and restored coming out,
//! so a `LocalBackend` mounted at `/project/` stores
//! `/project/src/app.py` as `<root>/src/app.py`.
//!
//! ```
//! use deepagent_composite::CompositeBackend;
//! use deepagent_core::{Backend, GlobQuery};
//! use deepagent_state::StateBackend;
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let memory = StateBackend::new();
//! let project = StateBackend::new(); // a LocalBackend in real use
//! let backend = CompositeBackend::builder(memory.clone())
//!     .route("/project/", project.clone())
//!     .build();
//!
//! backend.write("/project/src/app.py", "print('hi')\n".into()).await?;
//! backend.write("/scratch/notes.txt", "temporary\n".into()).await?;
//!
//! // The mounted backend saw the path without its prefix...
//! assert_eq!(project.paths(), ["/src/app.py"]);
//! assert_eq!(memory.paths(), ["/scratch/notes.txt"]);
//! // ...and results come back in composite terms.
//! let found = backend.glob(&GlobQuery::new("**/*.py")).await?;
//! assert_eq!(found.files[0].path, "/project/src/app.py");
//! let root: Vec<_> = backend.ls("/").await?.into_iter().map(|f| f.name).collect();
//! assert_eq!(root, ["project", "scratch"]);
//! # Ok::<(), deepagent_core::BackendError>(())
//! # }).unwrap();
//! ```
//!
//! ## Routing rules
//!
//! - The **longest** matching prefix wins, whatever the order of
//!   [`route`](CompositeBackendBuilder::route) calls; `/foo` and `/foo/x` match
//!   the route `/foo/`, `/foobar` does not.
//! - A route for `/` replaces the default backend.
//! - A path with a mount below it is a directory of the composite, even if
//!   the backend that owns it stores a file there.
//! - `glob`/`grep` across mounts push the pattern down when its leading
//!   components name the mount literally (`project/**/*.py` becomes
//!   `**/*.py` in the backend at `/project/`); otherwise the mount is asked
//!   for every file and the composite applies the original pattern. The
//!   results are identical either way; only the work differs.
//!
//! ## Cancellation
//!
//! The composite adds no state of its own: a dropped call leaves what the
//! mounted backend's call leaves (see each backend's crate docs). A dropped
//! `glob`/`grep` fan-out drops every mount's search with it.

#![warn(missing_docs)]

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod builder;
mod composite;
mod ops;
mod rebase;
mod route;
mod search;

pub use builder::CompositeBackendBuilder;

/// The 0.1 name of [`CompositeBackendBuilder`], renamed to match
/// `LocalBackendBuilder` (`<Type>Builder` for the type it builds).
#[deprecated(since = "0.2.0", note = "renamed CompositeBackendBuilder")]
pub type CompositeBuilder = CompositeBackendBuilder;
pub use composite::{CompositeBackend, Location, MountInfo};
