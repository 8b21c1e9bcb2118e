//! # deepagent-object-store
//!
//! [`ObjectStoreBackend`]: deepagent files kept in an object store (S3 and
//! S3-compatible servers, Google Cloud Storage, Azure Blob Storage, a local
//! directory or memory) through the [`object_store`] crate, so an agent's
//! files outlive the machine it runs on.
//!
//! ```
//! use std::sync::Arc;
//! use deepagent_core::Backend;
//! use deepagent_object_store::ObjectStoreBackend;
//! use object_store::memory::InMemory;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> deepagent_core::Result<()> {
//! let backend = ObjectStoreBackend::new(Arc::new(InMemory::new()));
//! backend.write("/reports/q1.md", "# Q1\nrevenue up\n".into()).await?;
//! backend.edit("/reports/q1.md", "up", "flat", deepagent_core::Replace::Once).await?;
//! assert_eq!(backend.read("/reports/q1.md", 1, 1).await?.lines, ["revenue flat"]);
//! assert!(backend.ls("/").await?[0].is_dir); // `/reports` is implied by the key
//! # Ok(()) }
//! ```
//!
//! ## Choosing a store by URL
//!
//! [`ObjectStoreBackend::from_url`] takes `s3://bucket/prefix`,
//! `gs://bucket/prefix`, `az://container/prefix`, `file:///dir` or
//! `memory://`. Credentials, region and endpoint come from the provider's
//! standard environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`;
//! `GOOGLE_SERVICE_ACCOUNT`; `AZURE_STORAGE_ACCOUNT_NAME`,
//! `AZURE_STORAGE_ACCOUNT_KEY`, ...), overridable per backend with
//! [`StoreConfig`]. The cloud stores are cargo features, off by default:
//! `aws`, `gcp`, `azure`.
//!
//! ## How the file operations map onto objects
//!
//! - A file `/a/b.txt` is the object `a/b.txt` below the URL's prefix;
//!   directories are implied by key prefixes and listed with delimiter
//!   listings. Nothing is stored for a directory.
//! - `read(offset, limit)` fetches the object in byte ranges and stops
//!   once the slice is complete. The file's line count, which every read
//!   reports, is stored with the object as user metadata
//!   (`deepagent-lines`) by `write` and `edit`, so a read of the first
//!   lines of a large file fetches only those lines. Objects written by
//!   other tools have no such metadata; their count is taken by streaming
//!   the rest of the object once (counting newlines, keeping nothing).
//! - `write` is one put (after checking that no parent is a file and the
//!   path is not a directory, see below).
//! - `edit` is get, the shared [`apply_edit`](deepagent_core::edit::apply_edit),
//!   then a put conditional on the ETag it read (`PutMode::Update`),
//!   retried a bounded number of times when another writer got there
//!   first: no update is lost however many processes edit one object.
//!   Edits in one process are also serialized by a per-key lock, so they
//!   never race each other at all. Stores without conditional updates
//!   (object_store's `LocalFileSystem`, an S3 endpoint configured with
//!   `conditional_put=disabled`) fall back to a plain put under that lock:
//!   atomic within the process, last-writer-wins across processes.
//! - `grep` lists the prefix, then fetches up to 16 objects at a time,
//!   skips binary objects and objects over a size cap, and stops fetching
//!   once `max_count` matches are certain. `glob` lists the prefix and
//!   matches keys with the shared [`PathGlob`](deepagent_core::glob::PathGlob).
//!
//! ### What the path checks cannot promise
//!
//! An object store has no directories and no multi-key transactions.
//! `write("/a/b")` checks that no object `a` exists and `write("/a")` that
//! no key starts with `a/`, and refuses with `NotADirectory` /
//! `IsADirectory` as the conformance suite requires; but the check and
//! the put are two requests. Two processes racing to write `/a` and
//! `/a/b` at the same moment can both succeed, leaving a file and a
//! directory of one name: `ls` then shows both, `read("/a")` reads the
//! file. Edits do not have this gap (they are conditional on the object
//! they read).

#![warn(missing_docs)]

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod backend;
mod config;
mod errors;
mod locks;
mod read;
mod search;

pub use backend::{ObjectStoreBackend, LINE_COUNT_METADATA};
pub use config::{RetryOptions, StoreConfig, StoreScheme};

/// The `object_store` crate this backend is built on, for building a store
/// by hand (`ObjectStoreBackend::new(Arc::new(...))`).
pub use object_store;
