//! # deepagent-docker
//!
//! [`DockerSandbox`]: a deepagent [`Sandbox`](deepagent_core::Sandbox) in
//! a Docker container, driven through [bollard]. An agent reads, writes,
//! edits, lists and searches files in the container and runs shell
//! commands there, through the same `Backend` contract (and conformance
//! suite) as every other backend.
//!
//! - **Engine**: bollard's defaults (`DOCKER_HOST`, else the local
//!   socket), with the API version negotiated down to what the engine
//!   speaks (Debian's docker.io 20.10 speaks 1.41). No engine means a
//!   quick error naming the address, never a hang.
//! - **Runtimes**: [`RuntimeConfig`] says which image to run, or how to
//!   build one (`base_image` + `packages` + `setup_commands`, built once
//!   from a generated Dockerfile, cached under a content-hash tag).
//!   [`RuntimeConfig::builtin`] knows `python-minimal`,
//!   `python-datascience`, `python-web` and `node-minimal`. Images are
//!   never pulled implicitly.
//! - **Containers** start on first use with the network off (opt in with
//!   [`RuntimeConfig::network`]), optional memory / CPU / pids limits and
//!   volumes, and the label `deepagent.sandbox=1`. [`DockerSandbox::shutdown`]
//!   removes them; [`SessionManager`] keeps one per session and reaps idle
//!   ones and orphans.
//! - **Paths**: relative paths resolve against the runtime's `work_dir`
//!   (default `/workspace`); absolute paths are container paths. Small
//!   files are read and written through a long-lived shell in the
//!   container (a round trip, not an engine call), larger ones as tar
//!   archives; both byte-exact, writes atomic, modes kept by `edit`. `ls`, `glob` and
//!   `grep` list files with busybox-compatible `find`/`stat`, NUL-separated,
//!   paths always passed as arguments, never spliced into a script; grep
//!   matches in Rust with the shared regex syntax.
//! - **Commands**: `execute` runs `sh -c` in a long-lived shell inside the
//!   container (one exec per shell, reused; a plain exec per command when
//!   no shell can start), output capped at 100,000 bytes, and a timeout
//!   that kills the command and everything it started (exit code 124).
//!   Each command starts fresh in `work_dir`: no `cd`, variable or stdin
//!   carries over. Background jobs (`server &`) keep running.
//!
//! ```no_run
//! use deepagent_core::{Backend, Sandbox};
//! use deepagent_docker::{DockerSandbox, RuntimeConfig};
//!
//! # async fn demo() -> deepagent_core::Result<()> {
//! let sandbox = DockerSandbox::new(RuntimeConfig::builtin("python-minimal")?)?;
//! sandbox.write("hello.py", "print('hi')\n".into()).await?; // /workspace/hello.py
//! let run = sandbox.execute("python3 hello.py", None).await?;
//! assert_eq!(run.output, "hi\n");
//! sandbox.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Cancellation
//!
//! What a dropped future leaves behind:
//!
//! - **Small writes and edits** (up to the shell limits, 4 MiB by default)
//!   send the whole content to the in-container shell first; only then
//!   does the shell write a temporary file next to the target and `mv` it
//!   over. Dropped before the content is complete, nothing is written (the
//!   shell is discarded); after, the `mv` happens or not. Never a torn
//!   file.
//! - **Large writes** go as a tar archive the engine unpacks in place.
//!   Dropping the future closes the upload; a file the engine had started
//!   to unpack can be left **truncated**. Cancel large writes only when
//!   the file may be rewritten afterwards, or keep them under the shell
//!   limit with [`DockerSandboxBuilder::shell_file_limits`].
//! - **Commands**: dropping an `execute` future stops reading its output;
//!   the command keeps running in the container until it exits or its
//!   in-container `timeout` (a little after the caller's) kills it.
//! - Reads, listings and searches change nothing.
//!
//! To run the conformance suite (which works from `/`) against a
//! container, scope it to a fresh directory with
//! [`Scoped`](deepagent_core::layers::Scoped).
//!
//! [bollard]: https://docs.rs/bollard

#![warn(missing_docs)]

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod archive;
mod backend;
mod engine;
mod exec;
mod files;
mod hash;
mod image;
mod runtime;
mod sandbox;
mod scan;
mod session;
mod shell;
mod shellfs;

pub use engine::{connect, engine_address, engine_available};
#[allow(deprecated)]
pub use exec::TIMEOUT_EXIT_CODE;
pub use runtime::{PackageManager, RuntimeConfig, VolumeMount, BUILTIN_RUNTIMES};
pub use sandbox::{
    remove_container_blocking, DockerSandbox, DockerSandboxBuilder, RUNTIME_LABEL, SANDBOX_LABEL,
    SESSION_LABEL,
};
pub use session::SessionManager;
