//! # deepagent-docker
//!
//! [`DockerSandbox`]: a deepagent [`Sandbox`](deepagent_core::Sandbox) in
//! a Docker container, driven through [bollard]. An agent reads, writes,
//! edits, lists and searches files in the container and runs shell
//! commands there, through the same `Backend` contract (and conformance
//! suite) as every other backend.
//!
//! - **Engine**: per sandbox, session manager or pool engine, an
//!   [`EngineConfig`]: a unix socket, `tcp://` with TLS client
//!   certificates ([`TlsFiles`]), `ssh://` (the system `ssh` running
//!   `docker system dial-stdio` remotely), or the standard environment
//!   (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), with the API
//!   version negotiated down to what the engine speaks (Debian's
//!   docker.io 20.10 speaks 1.41). No engine, the wrong certificates or
//!   the wrong protocol mean a quick error naming the address and the
//!   fix, never a hang. [`EnginePool`] spreads sessions over several
//!   engines (least loaded, weights, caps, health checks, an OCI runtime
//!   per engine).
//! - **Runtimes**: [`RuntimeConfig`] says which image to run, or how to
//!   build one (`base_image` + `packages` + `setup_commands`, built once
//!   from a generated Dockerfile, cached under a content-hash tag).
//!   [`RuntimeConfig::builtin`] knows `python-minimal`,
//!   `python-datascience`, `python-web` and `node-minimal`. Images are
//!   never pulled implicitly.
//! - **Containers** start on first use with the network off (opt in with
//!   [`RuntimeConfig::network`]), hardened by default (every capability
//!   dropped but [`DEFAULT_CAPABILITIES`], `no-new-privileges`, 512
//!   processes, 2 GiB, commands as uid 65534; optional CPU quota,
//!   read-only root and OCI runtime such as gVisor's `runsc`), and the
//!   label `deepagent.sandbox=1` plus an owner and a lease
//!   ([`OWNER_LABEL`], [`LEASE_LABEL`]) that the owner renews
//!   ([`LEASE_FILE`]). No container outlives its owner:
//!   [`DockerSandbox::shutdown`] removes it even while its start is still
//!   in flight (or was cut off by the caller), dropping the last clone
//!   removes it before the drop returns (the end of `main`, a panic), and
//!   [`SessionManager::reap_orphans`] removes what a killed process left,
//!   sparing live owners' sandboxes. [`SessionManager`] keeps one sandbox
//!   per session and reaps idle ones.
//! - **Paths**: paths are container paths, and a relative path is taken
//!   from `/` as on every backend (`src/a.py` is `/src/a.py`); the
//!   runtime's `work_dir` (default `/workspace`) is where commands start.
//!   To give the file tools the work dir as `/`, wrap the sandbox in
//!   [`Scoped`](deepagent_core::layers::Scoped) (see below). Small
//!   files are read and written through a long-lived shell in the
//!   container (a round trip, not an engine call), larger ones as tar
//!   archives; both byte-exact, writes atomic, modes kept by `edit`. `ls`, `glob` and
//!   `grep` list files with busybox-compatible `find`/`stat`, NUL-separated,
//!   paths always passed as arguments, never spliced into a script; grep
//!   matches in Rust with the shared regex syntax.
//! - **The file tools act as the command user**: with
//!   [`RuntimeConfig::run_as_uid`], reads, writes, edits and searches run
//!   as that uid inside the container (the archive API, which acts as
//!   root, is used only when that user is root), so they can touch
//!   exactly what a command can. `write` replaces a symlink at the path
//!   instead of writing through it; `edit` follows one, as that user.
//! - **Nothing the container says is trusted for memory**: counts, sizes
//!   and lengths printed by its `sh`, `find`, `stat` or `tar` are checked
//!   against the bytes that back them, and output is capped, so a hostile
//!   image gets an error naming the container, never an abort of the host.
//!   Large files are never pulled whole: `read` cuts its line slice inside
//!   the container, and grep streams each file's content line by line (a
//!   file with a line over 8 MiB is skipped, as `LocalBackend` does), so
//!   one line of a 1 GiB file costs one line of host memory.
//! - **Commands**: `execute` runs `sh -c` in a long-lived shell inside the
//!   container (one exec per shell, reused; a plain exec per command when
//!   no shell can start), output capped at 100,000 bytes, and a timeout
//!   that kills the command and everything it started (exit code 124),
//!   held together by the kernel rather than by a variable: each command
//!   runs below a root-owned child subreaper (the engine's `docker-init
//!   -s`), so `env -i`, `setsid` and double forks stay in the tree. A
//!   dropped `execute` future kills its command the same way. A command
//!   running as root could kill its own reaper; under gVisor (no
//!   subreaper) a double-forked orphan escapes the kill.
//!   Each command starts fresh in `work_dir`: no `cd`, variable or stdin
//!   carries over. Background jobs (`server &`) keep running.
//!
//! ```no_run
//! use deepagent_core::{Backend, Sandbox};
//! use deepagent_docker::{DockerSandbox, RuntimeConfig};
//!
//! # async fn demo() -> deepagent_core::Result<()> {
//! let sandbox = DockerSandbox::new(RuntimeConfig::builtin("python-minimal")?)?;
//! sandbox.write("/workspace/hello.py", "print('hi')\n".into()).await?;
//! let run = sandbox.execute("python3 hello.py", None).await?; // runs in /workspace
//! assert_eq!(run.output, "hi\n");
//! sandbox.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Cancellation
//!
//! What a dropped future leaves behind:
//!
//! - **Writes and edits** through the in-container shell (small files)
//!   receive the whole content first, then write a temporary file next to
//!   the target and `mv` it over; as a non-root command user, larger files
//!   go the same way through a helper that checks the byte count before
//!   the `mv`. Dropped half-way, nothing is written. Never a torn file.
//! - **Large writes as root** go as a tar archive the engine unpacks in
//!   place. Dropping the future closes the upload, and a file the engine
//!   had started to unpack can be left **truncated**. Keep such writes
//!   under the shell limit ([`DockerSandboxBuilder::shell_file_limits`])
//!   or run commands as a non-root user (the default) when cancelling
//!   them matters.
//! - **Commands**: a dropped `execute` kills its command tree (see
//!   *Commands* above).
//! - Reads, listings and searches change nothing.
//!
//! To show an agent the work dir as its whole filesystem, scope the
//! sandbox to it; commands still start there:
//!
//! ```no_run
//! use std::sync::Arc;
//! use deepagent_core::{layers::Scoped, Backend};
//! use deepagent_docker::{DockerSandbox, RuntimeConfig};
//!
//! # async fn demo() -> deepagent_core::Result<()> {
//! let sandbox = DockerSandbox::new(RuntimeConfig::builtin("python-minimal")?)?;
//! let workspace = Scoped::new(Arc::new(sandbox), "/workspace")?;
//! workspace.write("hello.py", "print('hi')\n".into()).await?; // /workspace/hello.py
//! # Ok(()) }
//! ```
//!
//! The conformance suite passes on the sandbox as it is (its `/` is the
//! container's) and through `Scoped`.
//!
//! [bollard]: https://docs.rs/bollard

#![warn(missing_docs)]

// The README's examples compile and run as doctests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod archive;
mod backend;
mod batch;
mod download;
mod engine;
mod exec;
mod files;
mod grepscan;
mod hash;
mod image;
mod owner;
mod pool;
mod runtime;
mod sandbox;
mod scan;
mod session;
mod shell;
mod shellfs;
mod ssh;
mod tarstream;
mod userfs;

pub use batch::MAX_UPLOAD_BYTES;
pub use engine::{
    connect, engine_address, engine_available, EngineConfig, TlsFiles, DEFAULT_SOCKET,
};
#[allow(deprecated)]
pub use exec::TIMEOUT_EXIT_CODE;
pub use owner::{DEFAULT_LEASE, LEASE_FILE, LEASE_LABEL, OWNER_LABEL};
pub use pool::{EnginePool, EngineSpec, EngineStatus};
pub use runtime::{
    PackageManager, RuntimeConfig, VolumeMount, BUILTIN_RUNTIMES, DEFAULT_CAPABILITIES,
    DEFAULT_MEMORY_BYTES, DEFAULT_PIDS_LIMIT, DEFAULT_UID,
};
pub use sandbox::{
    remove_container_blocking, DockerSandbox, DockerSandboxBuilder, DROP_REMOVE_WAIT,
    RUNTIME_LABEL, SANDBOX_LABEL, SESSION_LABEL,
};
pub use session::SessionManager;
