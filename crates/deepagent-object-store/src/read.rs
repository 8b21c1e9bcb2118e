//! `read(offset, limit)` in byte ranges: a first bounded range, then (only
//! when the slice goes on past it) one open range consumed chunk by chunk
//! and dropped as soon as the slice is complete and the line count known.

use deepagent_core::{text, BackendError, ReadSlice, Result, VPath};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{Attribute, GetOptions, GetRange};

use crate::backend::{ObjectStoreBackend, LINE_COUNT_METADATA};
use crate::errors::{self, Failure};

/// Collects lines `offset..offset + limit` from a byte stream fed in
/// chunks, counting every line, keeping only the wanted ones.
struct LineCollector {
    offset: usize,
    limit: usize,
    /// Index of the line the next byte belongs to.
    line: usize,
    /// The bytes of the current line so far, when it is a wanted one.
    current: Vec<u8>,
    lines: Vec<String>,
    /// Bytes seen, and whether the last one was a newline.
    seen: u64,
    ends_with_newline: bool,
}

impl LineCollector {
    fn new(offset: usize, limit: usize) -> Self {
        LineCollector {
            offset,
            limit,
            line: 0,
            current: Vec::new(),
            lines: Vec::new(),
            seen: 0,
            ends_with_newline: false,
        }
    }

    fn wanted(&self, line: usize) -> bool {
        line >= self.offset && line - self.offset < self.limit
    }

    /// All wanted lines are in (the next line is past the slice).
    fn complete(&self) -> bool {
        self.line >= self.offset.saturating_add(self.limit)
    }

    fn push_line(&mut self) {
        let raw = std::mem::take(&mut self.current);
        let raw = raw.strip_suffix(b"\r").unwrap_or(&raw);
        self.lines.push(String::from_utf8_lossy(raw).into_owned());
    }

    fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        self.seen += chunk.len() as u64;
        self.ends_with_newline = chunk.last() == Some(&b'\n');
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', chunk) {
            if self.wanted(self.line) {
                self.current.extend_from_slice(&chunk[start..nl]);
                self.push_line();
            }
            self.line += 1;
            start = nl + 1;
        }
        if self.wanted(self.line) {
            self.current.extend_from_slice(&chunk[start..]);
        }
    }

    /// The line count of everything fed, by the rule of
    /// [`text::count_lines`].
    fn total(&self) -> usize {
        if self.seen == 0 || self.ends_with_newline {
            self.line
        } else {
            self.line + 1
        }
    }

    /// Ends the stream: an unterminated last line counts.
    fn finish(&mut self) {
        if self.seen > 0 && !self.ends_with_newline && self.wanted(self.line) {
            self.push_line();
        }
    }
}

/// Why one attempt at a read stopped short.
enum Stop {
    Failed(BackendError),
    /// The object was replaced between two range requests; start over.
    Changed,
}

pub(crate) async fn read_slice(
    backend: &ObjectStoreBackend,
    vpath: &VPath,
    key: &Path,
    offset: usize,
    limit: usize,
    first_bytes: u64,
) -> Result<ReadSlice> {
    // A few restarts cover a writer replacing the object mid-read; each
    // restart sees a newer version, so this ends unless the object is
    // rewritten continuously.
    for _ in 0..4 {
        match attempt(backend, vpath, key, offset, limit, first_bytes).await {
            Ok(slice) => return Ok(slice),
            Err(Stop::Failed(e)) => return Err(e),
            Err(Stop::Changed) => continue,
        }
    }
    Err(BackendError::other(format!(
        "read of {} on {} failed: the object kept changing while it was read; try again",
        vpath.as_str(),
        backend.url()
    )))
}

async fn attempt(
    backend: &ObjectStoreBackend,
    vpath: &VPath,
    key: &Path,
    offset: usize,
    limit: usize,
    first_bytes: u64,
) -> std::result::Result<ReadSlice, Stop> {
    let path = vpath.as_str();
    let store = backend.store();
    let first = store
        .get_opts(
            key,
            GetOptions {
                range: Some(GetRange::Bounded(0..first_bytes)),
                ..Default::default()
            },
        )
        .await;
    let first = match first {
        Ok(first) => first,
        Err(e) => return first_failure(backend, vpath, key, offset, e).await,
    };
    let size = first.meta.size;
    let e_tag = first.meta.e_tag.clone();
    let version = first.meta.version.clone();
    let stored_total: Option<usize> = first
        .attributes
        .get(&Attribute::Metadata(LINE_COUNT_METADATA.into()))
        .and_then(|v| v.as_ref().trim().parse().ok());
    let data = first
        .bytes()
        .await
        .map_err(|e| Stop::Failed(backend.error(path, "get", e)))?;

    let mut lines = LineCollector::new(offset, limit);
    lines.feed(&data);
    let mut pos = data.len() as u64;

    // A stored count says how far to go: once the slice is complete, or
    // at once when the offset is past the end.
    let done = |lines: &LineCollector| match stored_total {
        Some(total) => lines.complete() || (offset > 0 && offset >= total),
        None => false,
    };
    if pos < size && !done(&lines) {
        // The rest as one open range, conditional on the version read
        // first so the slice never mixes two versions of the object.
        let rest = store
            .get_opts(
                key,
                GetOptions {
                    range: Some(GetRange::Offset(pos)),
                    if_match: e_tag,
                    version,
                    ..Default::default()
                },
            )
            .await;
        let rest = match rest {
            Ok(rest) => rest,
            Err(e) => {
                return Err(match errors::classify(&e) {
                    Failure::Conflict | Failure::NotFound => Stop::Changed,
                    _ => Stop::Failed(backend.error(path, "get", e)),
                })
            }
        };
        let mut stream = rest.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => return Err(Stop::Failed(backend.error(path, "get", e))),
            };
            lines.feed(&chunk);
            pos += chunk.len() as u64;
            if done(&lines) {
                // Dropping the stream ends the request: the bytes past
                // the slice are never fetched.
                break;
            }
        }
    }
    let total = if pos >= size {
        lines.finish();
        lines.total()
    } else {
        stored_total.unwrap_or_else(|| lines.total())
    };
    text::check_offset(path, offset, total).map_err(Stop::Failed)?;
    Ok(ReadSlice::new(path.to_owned(), offset, lines.lines, total))
}

/// The first range failed. A missing key may be a directory; a range on an
/// empty object is refused by some stores (there is no byte 0 to start
/// from), which `head` tells apart.
async fn first_failure(
    backend: &ObjectStoreBackend,
    vpath: &VPath,
    key: &Path,
    offset: usize,
    e: object_store::Error,
) -> std::result::Result<ReadSlice, Stop> {
    let path = vpath.as_str();
    match errors::classify(&e) {
        Failure::NotFound => Err(Stop::Failed(backend.missing(vpath, key).await)),
        Failure::Other => match backend.store().head(key).await {
            Ok(meta) if meta.size == 0 => {
                text::check_offset(path, offset, 0).map_err(Stop::Failed)?;
                Ok(ReadSlice::new(path.to_owned(), offset, Vec::new(), 0))
            }
            _ => Err(Stop::Failed(backend.error(path, "get", e))),
        },
        _ => Err(Stop::Failed(backend.error(path, "get", e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest_lite::cases;

    /// The collector cuts the same slice and count as the in-memory
    /// helper, however the bytes are split into chunks.
    #[test]
    fn collector_agrees_with_read_slice() {
        for (content, offset, limit) in cases() {
            let expected = text::read_slice("/f", content.as_bytes(), offset, limit);
            for chunk_size in [1, 2, 3, 7, 1000] {
                let mut c = LineCollector::new(offset, limit);
                for chunk in content.as_bytes().chunks(chunk_size) {
                    c.feed(chunk);
                }
                c.finish();
                let total = c.total();
                match &expected {
                    Ok(slice) => {
                        assert_eq!(c.lines, slice.lines, "{content:?} {offset} {limit}");
                        assert_eq!(total, slice.total_lines, "{content:?}");
                    }
                    Err(_) => assert!(text::check_offset("/f", offset, total).is_err()),
                }
            }
        }
    }

    mod proptest_lite {
        /// Small contents with every mix of `\n`, `\r\n` and unterminated
        /// last lines, and offsets and limits around their line counts.
        pub fn cases() -> Vec<(String, usize, usize)> {
            let contents = [
                "",
                "a",
                "a\n",
                "a\nb",
                "a\nb\n",
                "\n",
                "\n\n",
                "a\r\nb\r\n",
                "a\r\nb",
                "line 1\nline 2\nline 3\n",
                "x\n\ny\n\n",
            ];
            let mut out = Vec::new();
            for c in contents {
                for offset in 0..5 {
                    for limit in 0..5 {
                        out.push((c.to_owned(), offset, limit));
                    }
                }
            }
            out
        }
    }
}
