//! Memory: `AGENTS.md`-style files loaded into the system prompt when
//! each run starts, and kept up to date by the agent with its own file
//! tools.
//!
//! Configure the files with
//! [`DeepAgentBuilder::memory`](crate::DeepAgentBuilder::memory). They live
//! on the run's backend, so where they persist is the backend's choice:
//! with the seed's layout (`/project/` a `LocalBackend` directory,
//! everything else in memory), `/project/AGENTS.md` is a file on disk that
//! the next run, or the next process, loads again; a memory file outside
//! the disk mount lasts as long as the in-memory backend.
//!
//! ```
//! use std::sync::Arc;
//! use deepagent::{create_deep_agent, TestModel};
//! let agent = create_deep_agent()
//!     .model_impl(Arc::new(TestModel::new()))
//!     .memory(["/project/AGENTS.md"])
//!     .build()?;
//! # let _ = agent;
//! # Ok::<(), deepagent::AgentError>(())
//! ```
//!
//! A file that does not exist yet is listed as empty, so the model knows
//! where to write what it learns; one that cannot be read is listed with
//! the error. Files longer than [`MAX_MEMORY_CHARS`] are cut, with a note
//! asking the model to keep them short.

use deepagent_core::Backend;

/// The conventional memory file of a project mounted at `/project/`.
pub const DEFAULT_MEMORY_FILE: &str = "/project/AGENTS.md";

/// The most characters of one memory file put into the prompt.
pub const MAX_MEMORY_CHARS: usize = 20_000;

/// One memory file as a run loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryFile {
    /// Its path on the backend.
    pub path: String,
    /// Its text; `None` when the file does not exist.
    pub content: Option<String>,
    /// Why it could not be read, when it exists but could not be.
    pub error: Option<String>,
}

/// Reads the memory files `paths` from `backend`.
///
/// ```
/// use deepagent::memory::load_memory;
/// use deepagent::{Backend, StateBackend};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let backend = StateBackend::new();
/// backend.write("/AGENTS.md", "- the user prefers tabs\n".into()).await.unwrap();
/// let files = load_memory(&backend, &["/AGENTS.md", "/missing.md"]).await;
/// assert_eq!(files[0].content.as_deref(), Some("- the user prefers tabs\n"));
/// assert_eq!(files[1].content, None);
/// # }
/// ```
pub async fn load_memory<S: AsRef<str>>(backend: &dyn Backend, paths: &[S]) -> Vec<MemoryFile> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let path = path.as_ref().to_owned();
        let file = match backend.read_bytes(&path).await {
            Ok(bytes) => MemoryFile {
                path,
                content: Some(String::from_utf8_lossy(&bytes).into_owned()),
                error: None,
            },
            Err(e) if e.is_not_found() => MemoryFile {
                path,
                content: None,
                error: None,
            },
            Err(e) => MemoryFile {
                path,
                content: None,
                error: Some(e.to_string()),
            },
        };
        files.push(file);
    }
    files
}

/// The system prompt's memory section.
pub(crate) fn prompt_section(files: &[MemoryFile]) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let mut s = String::from(
        "## Memory\n\
These files are your memory: what earlier sessions learned about the user and the project. They \
were read when this run started; follow what they say. When you learn something that should last \
(a preference of the user, a convention of the project, a correction you were given), update the \
right file with edit_file, or write_file when it does not exist yet, before you finish. Keep them \
short and organized, and never store secrets in them.",
    );
    for f in files {
        s.push_str(&format!("\n\n<memory path=\"{}\">\n", f.path));
        match (&f.content, &f.error) {
            (_, Some(e)) => s.push_str(&format!("(could not be read: {e})")),
            (None, None) => s.push_str("(empty: the file does not exist yet)"),
            (Some(text), None) => match text.char_indices().nth(MAX_MEMORY_CHARS) {
                Some((cut, _)) => s.push_str(&format!(
                    "{}\n[cut at {MAX_MEMORY_CHARS} characters: shorten this file]",
                    &text[..cut]
                )),
                None => s.push_str(text.trim_end()),
            },
        }
        s.push_str("\n</memory>");
    }
    Some(s)
}
