//! `download` as one tar in one request: the container's `tar` reads every
//! file asked for and the host reads the archive as it streams past
//! ([`TarStream`]), never trusting a size the container sends.

use std::collections::HashMap;

use bytes::Bytes;
use deepagent_core::{BackendError, FileDownload, Result, VPath};

use crate::batch::MAX_UPLOAD_BYTES;
use crate::exec::stream_as;
use crate::files::helper_argv;
use crate::shellfs::not_regular;
use crate::tarstream::{FileSink, TarStream};
use crate::DockerSandbox;

/// Argument bytes per `tar` run (well under the kernel's limit): a longer
/// list of paths is read in more than one request.
const ARG_BYTES: usize = 96 * 1024;

/// Prints one status letter per path `$@` then a newline (`F` a readable
/// regular file, `D` a directory, `R` a file it may not read, `O` anything
/// else, `N` nothing there; links followed), then the `F` files as one tar
/// with links followed, so each is stored under the name asked for.
/// Paths are positional parameters, never part of the script.
const DOWNLOAD_SCRIPT: &str = r#"n=$#; s=
for p do
  if [ -d "$p" ]; then s=${s}D
  elif [ -f "$p" ]; then
    if [ -r "$p" ]; then s=${s}F; set -- "$@" ".$p"; else s=${s}R; fi
  elif [ -e "$p" ]; then s=${s}O
  else s=${s}N; fi
done
shift "$n"
printf '%s\n' "$s"
[ "$#" -gt 0 ] || exit 0
cd / || exit 1
exec tar -chf - "$@""#;

/// What one run's archive holds, by the path asked for.
struct Collect<'a> {
    /// The paths the status line promised as files, with what arrived.
    wanted: HashMap<&'a str, Option<Vec<u8>>>,
    /// The file streaming past, when it is one of `wanted`.
    open: Option<(&'a str, Vec<u8>)>,
    /// Bytes of content held so far (all runs of one `download`).
    total: u64,
    /// The file whose content crossed [`MAX_UPLOAD_BYTES`].
    over: Option<&'a str>,
}

impl<'a> Collect<'a> {
    /// The wanted path an entry stored as `./dir/file` is for, when it
    /// has not arrived yet.
    fn awaited(&self, stored: &[u8]) -> Option<&'a str> {
        let name = VPath::new(std::str::from_utf8(stored).ok()?.trim_start_matches("./")).ok()?;
        let (key, slot) = self.wanted.get_key_value(name.as_str())?;
        slot.is_none().then_some(*key)
    }
}

impl<'a> FileSink for Collect<'a> {
    fn start(&mut self, path: &[u8]) {
        self.open = self.awaited(path).map(|key| (key, Vec::new()));
    }

    /// GNU `tar -h` stores a file it already archived (a link to it, or
    /// a real hard link) as a hard link: the content is the target's.
    fn hard_link(&mut self, path: &[u8], target: &[u8]) {
        let Some(key) = self.awaited(path) else {
            return;
        };
        let content = std::str::from_utf8(target)
            .ok()
            .and_then(|t| VPath::new(t.trim_start_matches("./")).ok())
            .and_then(|t| self.wanted.get(t.as_str()).cloned().flatten());
        let Some(content) = content else {
            return;
        };
        self.total = self.total.saturating_add(content.len() as u64);
        if self.total > MAX_UPLOAD_BYTES {
            self.over = Some(key);
            return;
        }
        self.wanted.insert(key, Some(content));
    }

    fn data(&mut self, bytes: &[u8]) -> bool {
        let Some((key, content)) = &mut self.open else {
            return true;
        };
        self.total = self.total.saturating_add(bytes.len() as u64);
        if self.total > MAX_UPLOAD_BYTES {
            self.over = Some(key);
            self.open = None;
            return false;
        }
        content.extend_from_slice(bytes);
        true
    }

    fn end(&mut self) {
        if let Some((key, content)) = self.open.take() {
            self.wanted.insert(key, Some(content));
        }
    }
}

impl DockerSandbox {
    /// Every file in one tar read in one request (more only when the
    /// paths do not fit one argument list), as the command user. Each
    /// path gets its own result; the whole call fails only when the
    /// container cannot be reached. At most [`MAX_UPLOAD_BYTES`] of
    /// content in all: files past that get a `TooLarge` error of their
    /// own (read them one at a time with `read_bytes`).
    pub(crate) async fn download_archive(&self, paths: &[&str]) -> Result<Vec<FileDownload>> {
        let resolved: Vec<Result<VPath>> = paths.iter().map(|p| self.resolve(p)).collect();
        let valid: Vec<&str> = resolved.iter().flatten().map(VPath::as_str).collect();
        let mut results: Vec<Result<Bytes>> = Vec::with_capacity(valid.len());
        let mut total = 0;
        let mut start = 0;
        while start < valid.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < valid.len() && (end == start || bytes + valid[end].len() < ARG_BYTES) {
                bytes += valid[end].len() + 1;
                end += 1;
            }
            match self.download_run(&valid[start..end], total).await {
                Ok((got, t)) => {
                    total = t;
                    results.extend(got);
                }
                Err(e) => return Err(self.explain(e).await),
            }
            start = end;
        }
        let mut results = results.into_iter();
        Ok(paths
            .iter()
            .zip(resolved)
            .map(|(asked, p)| match p {
                Err(e) => FileDownload {
                    path: (*asked).to_owned(),
                    content: Err(e),
                },
                Ok(p) => FileDownload {
                    content: results
                        .next()
                        .unwrap_or_else(|| Err(BackendError::not_found(p.as_str()))),
                    path: p.into_string(),
                },
            })
            .collect())
    }

    /// One `tar` run over `run`, `total` bytes already held by earlier
    /// runs. Answers each path's result, in order, and the new total. A
    /// path asked for twice is archived twice but read once.
    async fn download_run(&self, run: &[&str], total: u64) -> Result<(Vec<Result<Bytes>>, u64)> {
        let name = &self.inner.name;
        let target = self.target().await?;
        let mut status: Vec<u8> = Vec::with_capacity(run.len() + 1);
        let mut status_done = false;
        let mut tar = TarStream::new(
            name,
            Collect {
                wanted: HashMap::new(),
                open: None,
                total,
                over: None,
            },
        );
        let mut failed: Option<BackendError> = None;
        let garbled = |what: &str| {
            BackendError::other(format!(
                "download from sandbox container {name} got {what}; its `sh` does not behave as expected (replaced or broken?)"
            ))
        };
        let finished = stream_as(
            &target,
            helper_argv(DOWNLOAD_SCRIPT, run),
            self.file_user().as_deref(),
            |mut chunk| {
                if !status_done {
                    // The status line: exactly one letter per path.
                    let room = run.len() + 1 - status.len();
                    let take = match chunk.iter().position(|&b| b == b'\n') {
                        Some(i) if i < room => i + 1,
                        _ if chunk.len() < room => chunk.len(),
                        _ => {
                            failed = Some(garbled("a status line too long"));
                            return false;
                        }
                    };
                    status.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    if status.last() != Some(&b'\n') {
                        return true;
                    }
                    status_done = true;
                    status.pop();
                    if status.len() != run.len() {
                        failed = Some(garbled("a status line that does not match its paths"));
                        return false;
                    }
                    let sink = tar.sink_mut();
                    for (p, s) in run.iter().zip(&status) {
                        if *s == b'F' {
                            sink.wanted.insert(p, None);
                        }
                    }
                }
                match tar.feed(chunk) {
                    Ok(more) => more,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            },
        )
        .await?;
        if let Some(e) = failed {
            return Err(e);
        }
        let (sink, stderr) = match finished {
            Some((code, stderr)) => {
                if !status_done {
                    return Err(garbled(&format!(
                        "no status line (exit {code}: {})",
                        stderr.trim()
                    )));
                }
                (tar.finish()?, stderr)
            }
            // Stopped at the byte cap.
            None => (tar.into_sink(), String::new()),
        };
        let new_total = sink.total.min(MAX_UPLOAD_BYTES);
        let got: HashMap<&str, Bytes> = sink
            .wanted
            .into_iter()
            .filter_map(|(p, c)| Some((p, Bytes::from(c?))))
            .collect();
        let out = run
            .iter()
            .zip(&status)
            .map(|(p, s)| {
                let vp = || VPath::new(p).unwrap_or_else(|_| VPath::root());
                let result = match s {
                    b'F' => match got.get(p) {
                        Some(c) => Ok(c.clone()),
                        None if sink.over.is_some() => Err(BackendError::TooLarge {
                            path: (*p).to_owned(),
                            size: sink.total,
                            limit: MAX_UPLOAD_BYTES,
                        }),
                        // Gone between the check and `tar`.
                        None => Err(BackendError::other(format!(
                            "{p} in sandbox container {name} was not in the archive its `tar` sent ({}); it may have been removed meanwhile",
                            stderr.trim()
                        ))),
                    },
                    b'D' => Err(BackendError::IsADirectory {
                        path: (*p).to_owned(),
                    }),
                    b'R' => Err(BackendError::permission_denied(
                        *p,
                        "the sandbox's command user may not read it",
                    )),
                    b'O' => Err(not_regular(&vp())),
                    b'N' => Err(BackendError::not_found(*p)),
                    _ => Err(garbled("an unknown status letter")),
                };
                result
            })
            .collect();
        Ok((out, new_total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tarstream::tests::archive;

    fn collect(total: u64, wanted: &[&'static str]) -> Collect<'static> {
        Collect {
            wanted: wanted.iter().map(|p| (*p, None)).collect(),
            open: None,
            total,
            over: None,
        }
    }

    /// Only wanted paths are kept, each once; an entry nobody asked for
    /// (a lying `tar`) is dropped.
    #[test]
    fn keeps_only_wanted_files() {
        let tar = archive(&[("./a", b"1"), ("./x", b"junk"), ("./a", b"2")]);
        let mut t = TarStream::new("c", collect(0, &["/a", "/b"]));
        assert!(t.feed(&tar).unwrap());
        let sink = t.finish().unwrap();
        assert_eq!(sink.wanted["/a"].as_deref(), Some(&b"1"[..]));
        assert_eq!(sink.wanted["/b"], None);
        assert_eq!(sink.total, 1);
    }

    /// Content past the batch cap stops the stream and names the file
    /// that crossed it; nothing of it is kept.
    #[test]
    fn cap_stops_the_stream() {
        let tar = archive(&[("./a", b"12345"), ("./b", &[7u8; 20]), ("./c", b"z")]);
        let mut t = TarStream::new("c", collect(MAX_UPLOAD_BYTES - 10, &["/a", "/b", "/c"]));
        assert!(!t.feed(&tar).unwrap(), "the sink must stop the stream");
        let sink = t.into_sink();
        assert_eq!(sink.over, Some("/b"));
        assert_eq!(sink.wanted["/a"].as_deref(), Some(&b"12345"[..]));
        assert_eq!(sink.wanted["/b"], None);
        assert_eq!(sink.wanted["/c"], None);
    }
}
