//! # deepagent-state
//!
//! [`StateBackend`]: an in-memory, ephemeral file store for a deep agent.
//! Use it for scratch files, for tests, or as the default of a
//! `CompositeBackend` so that only the paths you route elsewhere reach a
//! disk.
//!
//! Files are kept byte-exact in a sorted map from path to [`FileData`];
//! directories are implied by file paths. Cloning the handle shares the
//! store, so keep a clone to look at what an agent wrote:
//!
//! ```
//! use deepagent_core::{Backend, GrepQuery};
//! use deepagent_state::StateBackend;
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let memory = StateBackend::new();
//! let agent_view = memory.clone();
//! agent_view.write("/scratch/notes.txt", "use Flask\nkeep it small\n".into()).await?;
//!
//! let hits = agent_view.grep(&GrepQuery::new("Flask")).await?;
//! assert_eq!(hits.matches[0].path, "/scratch/notes.txt");
//! assert_eq!(hits.matches[0].line_number, 1);
//!
//! // The first handle sees what the agent wrote.
//! assert_eq!(memory.paths(), ["/scratch/notes.txt"]);
//! let notes = &memory.files()["/scratch/notes.txt"];
//! assert_eq!(notes.content.as_ref(), b"use Flask\nkeep it small\n");
//! # Ok::<(), deepagent_core::BackendError>(())
//! # }).unwrap();
//! ```
//!
//! The crate depends on no async runtime: every operation completes
//! without waiting.
//!
//! ## Cancellation
//!
//! No operation awaits anything: each runs to completion on its first
//! poll. A future dropped before that poll did nothing; one that was
//! polled is done. Another task sees a file's old content or its new
//! content, never a mix.

#![warn(missing_docs)]

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod backend;
mod line_index;
mod ops;
mod store;

pub use backend::StateBackend;
pub use store::FileData;
