//! Text helpers shared by every backend: line slicing, binary detection,
//! output capping, and the model-facing rendering of reads.

use crate::error::{BackendError, Result};
use crate::types::ReadSlice;

/// Iterates the lines of `content`: split on `\n`, a final line without a
/// terminator counts, an empty file has no lines, and a trailing `\r` is
/// dropped.
///
/// ```
/// use deepagent_core::text::lines;
/// assert_eq!(lines(b"a\r\nb").collect::<Vec<_>>(), vec![&b"a"[..], &b"b"[..]]);
/// assert_eq!(lines(b"a\n").count(), 1);
/// assert_eq!(lines(b"").count(), 0);
/// ```
pub fn lines(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    let empty = content.is_empty();
    body.split(|&b| b == b'\n')
        .filter(move |_| !empty)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Number of lines by the rule of [`lines`].
pub fn count_lines(content: &[u8]) -> usize {
    if content.is_empty() {
        return 0;
    }
    let newlines = memchr::memchr_iter(b'\n', content).count();
    if content.ends_with(b"\n") {
        newlines
    } else {
        newlines + 1
    }
}

/// Cuts lines `offset..offset + limit` out of an in-memory file.
///
/// Reading at an offset past the last line is
/// [`BackendError::OffsetOutOfRange`] naming the line count; offset 0 of an
/// empty file is an empty slice.
pub fn read_slice(path: &str, content: &[u8], offset: usize, limit: usize) -> Result<ReadSlice> {
    let total_lines = count_lines(content);
    check_offset(path, offset, total_lines)?;
    // Jump to the first wanted line with memchr instead of splitting every
    // line before it: reading near the end of a large file costs one scan.
    let start = if offset == 0 {
        0
    } else {
        memchr::memchr_iter(b'\n', content)
            .nth(offset - 1)
            .map_or(content.len(), |i| i + 1)
    };
    let lines = lines(&content[start..])
        .take(limit)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    Ok(ReadSlice {
        path: path.to_owned(),
        offset,
        lines,
        total_lines,
    })
}

/// The offset rule of [`read_slice`], for backends that stream.
pub fn check_offset(path: &str, offset: usize, total_lines: usize) -> Result<()> {
    if offset > 0 && offset >= total_lines {
        return Err(BackendError::OffsetOutOfRange {
            path: path.to_owned(),
            offset,
            total_lines,
        });
    }
    Ok(())
}

/// Renders a read for the model: `{:>6}\t{line}` with 1-based numbers and a
/// `... (N more lines)` tail when the file goes on.
///
/// ```
/// use deepagent_core::{text::render_read, ReadSlice};
/// let slice = ReadSlice::new("/a", 0, vec!["x".into()], 3);
/// assert_eq!(render_read(&slice), "     1\tx\n... (2 more lines)");
/// ```
pub fn render_read(slice: &ReadSlice) -> String {
    // One allocation of the right size, and line numbers written by hand:
    // a `format!` per line was most of the cost of rendering a page.
    let body: usize = slice.lines.iter().map(|l| l.len() + 8).sum();
    let mut out = String::with_capacity(body + 32);
    let mut digits = [0u8; 20];
    for (i, line) in slice.lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let number = decimal(slice.offset + i + 1, &mut digits);
        for _ in number.len()..6 {
            out.push(' ');
        }
        out.push_str(number);
        out.push('\t');
        out.push_str(line);
    }
    let more = slice.remaining();
    if more > 0 {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("... ({more} more lines)"));
    }
    out
}

/// `n` in decimal, written into the end of `buf`.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// True when a read slice shows binary content: a NUL character in the
/// lines it holds of the file's first [`BINARY_SNIFF_LEN`] bytes (the
/// [`is_binary`] rule, as far as a slice can tell), or in any line when the
/// slice starts further in.
pub fn slice_is_binary(slice: &ReadSlice) -> bool {
    let mut seen = 0usize;
    for line in &slice.lines {
        if line.contains('\0') {
            return true;
        }
        seen += line.len() + 1;
        if slice.offset == 0 && seen >= BINARY_SNIFF_LEN {
            return false;
        }
    }
    false
}

/// What a model is told instead of the lines of a binary file: that it is
/// binary, its size when known, and where its bytes are.
///
/// ```
/// use deepagent_core::text::render_binary;
/// assert!(render_binary("/logo.png", Some(2048)).starts_with("/logo.png is a binary file (2048 bytes)"));
/// ```
pub fn render_binary(path: &str, size: Option<u64>) -> String {
    let size = size.map(|n| format!(" ({n} bytes)")).unwrap_or_default();
    format!(
        "{path} is a binary file{size}, not text, so it is not shown. \
         Its exact bytes are available to the program through the backend's read_bytes (download); \
         with execute you can inspect it with a command such as `file` or `xxd | head`."
    )
}

/// How many leading bytes [`is_binary`] looks at.
pub const BINARY_SNIFF_LEN: usize = 8 * 1024;

/// True when the content looks binary: a NUL byte in its first 8 KiB, the
/// same heuristic as git and ripgrep. grep skips binary files.
pub fn is_binary(content: &[u8]) -> bool {
    let head = &content[..content.len().min(BINARY_SNIFF_LEN)];
    memchr::memchr(0, head).is_some()
}

/// Collects command output up to a byte limit, counting what it drops.
///
/// Used by every sandbox so the cap (and the `truncated` flag) means the
/// same thing everywhere; memory stays bounded by `limit` however much the
/// command prints.
///
/// ```
/// use deepagent_core::text::OutputCap;
/// let mut cap = OutputCap::new(4);
/// cap.push(b"hello");
/// let (out, truncated) = cap.finish();
/// assert_eq!(out, "hell");
/// assert!(truncated);
/// ```
#[derive(Debug)]
pub struct OutputCap {
    buf: Vec<u8>,
    limit: usize,
    dropped: u64,
}

impl OutputCap {
    /// A collector keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        OutputCap {
            buf: Vec::with_capacity(limit.min(64 * 1024)),
            limit,
            dropped: 0,
        }
    }

    /// Appends what fits; counts the rest.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = self.limit.saturating_sub(self.buf.len());
        let take = room.min(chunk.len());
        self.buf.extend_from_slice(&chunk[..take]);
        self.dropped += (chunk.len() - take) as u64;
    }

    /// Bytes dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The kept output (lossy UTF-8) and whether anything was dropped.
    pub fn finish(self) -> (String, bool) {
        (
            String::from_utf8_lossy(&self.buf).into_owned(),
            self.dropped > 0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rendering before it wrote numbers by hand.
    fn render_with_format(slice: &ReadSlice) -> String {
        let mut out = String::new();
        for (i, line) in slice.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("{:>6}\t{}", slice.offset + i + 1, line));
        }
        let more = slice.remaining();
        if more > 0 {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("... ({more} more lines)"));
        }
        out
    }

    #[test]
    fn render_read_pads_numbers_as_format_does() {
        for offset in [0, 8, 9, 98, 99_998, 999_990, 12_345_678] {
            for count in [0, 1, 3, 12] {
                let lines: Vec<String> = (0..count).map(|i| format!("l{i} ü\t")).collect();
                for total in [offset + count, offset + count + 5] {
                    let slice = ReadSlice::new("/f", offset, lines.clone(), total);
                    assert_eq!(render_read(&slice), render_with_format(&slice));
                }
            }
        }
    }

    proptest! {
        /// The memchr jump cuts the same slice as skipping line by line.
        #[test]
        fn slice_matches_line_iteration(text in "[ab\r\n]{0,60}", offset in 0usize..20, limit in 0usize..20) {
            let content = text.as_bytes();
            let total = count_lines(content);
            match read_slice("/f", content, offset, limit) {
                Ok(slice) => {
                    let expected: Vec<String> = lines(content).skip(offset).take(limit)
                        .map(|l| String::from_utf8_lossy(l).into_owned()).collect();
                    prop_assert_eq!(slice.lines, expected);
                    prop_assert_eq!(slice.total_lines, total);
                }
                Err(_) => prop_assert!(offset > 0 && offset >= total),
            }
        }
    }
}
