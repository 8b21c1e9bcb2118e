//! A sparse line index so that reading a window of a large stored file
//! costs the window, not the file.
//!
//! `text::read_slice` counts every newline of the content on each call (it
//! needs the line total) and scans from the top to the offset. For a file
//! read page by page that is O(file) per page. The index records the total
//! once plus the byte offset of every [`STRIDE`]-th line start, so a read
//! jumps to the nearest indexed line and scans fewer than `STRIDE` lines.

use std::sync::{Arc, OnceLock};

use deepagent_core::{text, ReadSlice, Result};

/// Lines between two indexed line starts. 1M lines -> ~1K entries.
const STRIDE: usize = 1024;

/// Content smaller than this is sliced with `text::read_slice` directly:
/// one scan of it is cheaper than keeping an index around.
const MIN_INDEXED_LEN: usize = 64 * 1024;

/// Where lines start in one stored content.
#[derive(Debug)]
struct LineIndex {
    /// Line count by the rule of `text::count_lines`.
    total_lines: usize,
    /// `starts[k]` is the byte offset where line `k * STRIDE` starts.
    starts: Vec<usize>,
}

impl LineIndex {
    fn build(content: &[u8]) -> Self {
        let mut starts = vec![0];
        let mut newlines = 0usize;
        for pos in memchr::memchr_iter(b'\n', content) {
            newlines += 1;
            if newlines.is_multiple_of(STRIDE) {
                starts.push(pos + 1);
            }
        }
        let total_lines = if content.is_empty() || content.ends_with(b"\n") {
            newlines
        } else {
            newlines + 1
        };
        LineIndex {
            total_lines,
            starts,
        }
    }

    /// Byte offset where line `offset` starts; `offset < total_lines`.
    fn line_start(&self, content: &[u8], offset: usize) -> usize {
        let base = self.starts[offset / STRIDE];
        let skip = offset % STRIDE;
        if skip == 0 {
            return base;
        }
        memchr::memchr_iter(b'\n', &content[base..])
            .nth(skip - 1)
            .map_or(content.len(), |i| base + i + 1)
    }

    fn read(&self, path: &str, content: &[u8], offset: usize, limit: usize) -> Result<ReadSlice> {
        text::check_offset(path, offset, self.total_lines)?;
        // `check_offset` lets offset 0 of an empty file through; every
        // other offset here names an existing line.
        let start = if offset == 0 {
            0
        } else {
            self.line_start(content, offset)
        };
        let lines = owned_lines(&content[start..], limit);
        Ok(ReadSlice::new(
            path.to_owned(),
            offset,
            lines,
            self.total_lines,
        ))
    }
}

/// The first `limit` lines of `window` by the rule of `text::lines`, as
/// owned strings (invalid UTF-8 replaced).
///
/// The window is cut at its `limit`-th newline with one `memchr` pass and
/// checked for UTF-8 once, so each line then costs only its copy; checking
/// line by line (`from_utf8_lossy`) took most of a 2,000-line read.
fn owned_lines(window: &[u8], limit: usize) -> Vec<String> {
    let end = match limit.checked_sub(1) {
        None => 0,
        Some(last) => memchr::memchr_iter(b'\n', window)
            .nth(last)
            .map_or(window.len(), |i| i + 1),
    };
    let region = &window[..end];
    match std::str::from_utf8(region) {
        Ok(text) if !text.is_empty() => {
            let body = text.strip_suffix('\n').unwrap_or(text);
            body.split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
                .collect()
        }
        Ok(_) => Vec::new(),
        Err(_) => text::lines(region)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect(),
    }
}

/// The lazily built index of one content. A write or edit stores a fresh
/// slot beside the new content, so an index never outlives its content;
/// the slot is shared (`Arc`) so a reader can build or use it after
/// releasing the store's lock.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndexSlot(Arc<OnceLock<LineIndex>>);

impl LineIndexSlot {
    /// `text::read_slice` of `content`, through the index when the content
    /// is large enough to be worth one. `content` must be the content this
    /// slot was created beside.
    pub(crate) fn read_slice(
        &self,
        path: &str,
        content: &[u8],
        offset: usize,
        limit: usize,
    ) -> Result<ReadSlice> {
        if content.len() < MIN_INDEXED_LEN {
            return text::read_slice(path, content, offset, limit);
        }
        self.0
            .get_or_init(|| LineIndex::build(content))
            .read(path, content, offset, limit)
    }

    #[cfg(test)]
    fn is_built(&self) -> bool {
        self.0.get().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic inputs from the testkit's seeded generator.
    struct Rng(deepagent_testkit::rng::Rng);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0.below(n as u64) as usize
        }
    }

    /// Lines of random length (often empty), mixed `\n` / `\r\n`, with or
    /// without a trailing newline.
    fn content(rng: &mut Rng, lines: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..lines {
            let len = match rng.below(4) {
                0 => 0,
                1 => 1,
                _ => rng.below(40),
            };
            out.extend((0..len).map(|_| b"ab\r x"[rng.below(5)]));
            let last = i + 1 == lines;
            if !last || rng.below(2) == 0 {
                if rng.below(3) == 0 {
                    out.extend_from_slice(b"\r\n");
                } else {
                    out.push(b'\n');
                }
            }
        }
        out
    }

    fn assert_same(content: &[u8], offset: usize, limit: usize) {
        let index = LineIndex::build(content);
        let got = index.read("/f", content, offset, limit);
        let want = text::read_slice("/f", content, offset, limit);
        // BackendError has no PartialEq; its Debug form names every field.
        assert_eq!(
            format!("{got:?}"),
            format!("{want:?}"),
            "offset {offset} limit {limit}"
        );
    }

    fn interesting_offsets(total: usize) -> Vec<usize> {
        let mut offsets = vec![0, 1, total, total + 1, total + STRIDE];
        for k in 0..=total / STRIDE + 1 {
            for d in [0, 1, 2] {
                offsets.push((k * STRIDE + d).saturating_sub(1));
                offsets.push(k * STRIDE + d);
            }
        }
        offsets.push(total.saturating_sub(1));
        offsets.push(total.saturating_sub(2));
        offsets
    }

    #[test]
    fn index_reads_equal_read_slice() {
        let mut rng = Rng(deepagent_testkit::rng::Rng::new(0x9E37_79B9_7F4A_7C15));
        for case in 0..60 {
            let lines = match case % 4 {
                0 => rng.below(10),
                1 => STRIDE - 1 + rng.below(3),
                _ => rng.below(5 * STRIDE),
            };
            let content = content(&mut rng, lines);
            let total = text::count_lines(&content);
            assert_eq!(LineIndex::build(&content).total_lines, total);
            let mut offsets = interesting_offsets(total);
            offsets.extend((0..20).map(|_| rng.below(total + 3)));
            for offset in offsets {
                for limit in [0, 1, 2, STRIDE, rng.below(3 * STRIDE), usize::MAX] {
                    assert_same(&content, offset, limit);
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_windows_match_read_slice() {
        let mut content = b"ok\n".repeat(3000);
        content.extend_from_slice(b"bad \xff\xfe line\r\n");
        content.extend_from_slice(&b"after\n".repeat(3000));
        content.extend_from_slice(b"\xf0\x9f\x98");
        for offset in [0, 2999, 3000, 3001, 5999, 6000] {
            for limit in [0, 1, 2, 2000, usize::MAX] {
                assert_same(&content, offset, limit);
            }
        }
    }

    #[test]
    fn edge_contents_match_read_slice() {
        let mut edges: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n".to_vec(),
            b"\r\n".to_vec(),
            b"x".to_vec(),
            b"a\r\nb".to_vec(),
            b"\n\n\n".to_vec(),
        ];
        // Exactly STRIDE lines with and without a final newline: the last
        // indexed start then sits at the end of the content.
        edges.push(b"l\n".repeat(STRIDE));
        edges.push(b"l\r\n".repeat(2 * STRIDE));
        let mut no_trailing = b"l\n".repeat(STRIDE);
        no_trailing.pop();
        edges.push(no_trailing);
        for content in &edges {
            let total = text::count_lines(content);
            for offset in interesting_offsets(total) {
                for limit in [0, 1, 3, STRIDE + 1, usize::MAX] {
                    assert_same(content, offset, limit);
                }
            }
        }
    }

    #[test]
    fn offset_past_end_is_the_read_slice_error() {
        let content = b"a\nb\n".repeat(40_000);
        let slot = LineIndexSlot::default();
        let got = slot.read_slice("/big", &content, 80_000, 1).unwrap_err();
        let want = text::read_slice("/big", &content, 80_000, 1).unwrap_err();
        assert!(matches!(
            got,
            deepagent_core::BackendError::OffsetOutOfRange {
                offset: 80_000,
                total_lines: 80_000,
                ..
            }
        ));
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
    }

    #[test]
    fn small_content_builds_no_index_large_content_does() {
        let small = LineIndexSlot::default();
        let got = small.read_slice("/s", b"a\nb\n", 1, 1).unwrap();
        assert_eq!(got.lines, ["b"]);
        assert!(!small.is_built());

        let content = b"line\n".repeat(MIN_INDEXED_LEN / 5 + 1);
        let big = LineIndexSlot::default();
        let got = big.read_slice("/b", &content, 5_000, 2).unwrap();
        assert!(big.is_built());
        assert_eq!(got, text::read_slice("/b", &content, 5_000, 2).unwrap());
    }
}
