//! `read` of a line slice without loading the file.
//!
//! The file streams through a buffer once: lines before the slice are only
//! counted, lines in it are kept, lines after it are counted with `memchr`
//! for the total. Memory stays near the size of the slice, whatever the
//! size of the file. The line rules are core's (`text::lines` and
//! `text::count_lines`): split on `\n`, a last line without a terminator
//! counts, one trailing `\r` is dropped, invalid UTF-8 is replaced.

use std::io::{BufRead, BufReader, Read};

use deepagent_core::{text, ReadSlice, Result, VPath};

use crate::config::Config;
use crate::files::open_file;
use crate::jail::io_error;

/// Lines `offset..offset + limit` of `path` and its line count.
pub(crate) fn read(cfg: &Config, path: &VPath, offset: usize, limit: usize) -> Result<ReadSlice> {
    let (file, _) = open_file(cfg, path)?;
    let slice = slice_lines(file, offset, limit).map_err(|e| io_error(path, e))?;
    text::check_offset(path.as_str(), offset, slice.total_lines)?;
    Ok(ReadSlice::new(
        path.as_str().to_owned(),
        offset,
        slice.lines,
        slice.total_lines,
    ))
}

/// What one pass over a reader yields.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Sliced {
    pub(crate) lines: Vec<String>,
    pub(crate) total_lines: usize,
}

/// One pass over `reader`: keeps lines `offset..offset + limit`, counts all.
pub(crate) fn slice_lines(
    reader: impl Read,
    offset: usize,
    limit: usize,
) -> std::io::Result<Sliced> {
    let end = offset.saturating_add(limit);
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut lines = Vec::new();
    // Index of the line the next byte belongs to (= newlines seen so far).
    let mut line_no = 0usize;
    // Bytes of the current line seen so far (whether kept or not).
    let mut partial_len = 0usize;
    let mut current: Vec<u8> = Vec::new();
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        if line_no >= end {
            // Past the slice: only the count matters.
            let newlines = memchr::memchr_iter(b'\n', chunk).count();
            line_no += newlines;
            partial_len = match memchr::memrchr(b'\n', chunk) {
                Some(last) => n - last - 1,
                None => partial_len + n,
            };
        } else {
            let mut start = 0;
            for nl in memchr::memchr_iter(b'\n', chunk) {
                if line_no >= offset && line_no < end {
                    current.extend_from_slice(&chunk[start..nl]);
                    lines.push(finish_line(&mut current));
                }
                line_no += 1;
                start = nl + 1;
            }
            if line_no >= offset && line_no < end {
                current.extend_from_slice(&chunk[start..]);
            }
            partial_len = if start == 0 {
                partial_len + n
            } else {
                n - start
            };
        }
        reader.consume(n);
    }
    // A last line without a terminator still counts.
    if partial_len > 0 {
        if line_no >= offset && line_no < end {
            lines.push(finish_line(&mut current));
        }
        line_no += 1;
    }
    Ok(Sliced {
        lines,
        total_lines: line_no,
    })
}

fn finish_line(buf: &mut Vec<u8>) -> String {
    let line = buf.strip_suffix(b"\r").unwrap_or(buf);
    let out = String::from_utf8_lossy(line).into_owned();
    buf.clear();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streaming slice agrees with core's in-memory rules on every
    /// split of the input into buffer-sized pieces.
    #[test]
    fn agrees_with_core_rules() {
        let samples: &[&[u8]] = &[
            b"",
            b"\n",
            b"a",
            b"a\n",
            b"a\nb",
            b"a\r\nb\r\n",
            b"\r",
            b"a\n\r",
            b"one\ntwo\n\nfour\nfive",
            b"x\xffy\nz\n",
        ];
        for content in samples {
            for offset in 0..6 {
                for limit in 0..6 {
                    let expected = text::read_slice("/f", content, offset, limit);
                    let got = slice_lines(*content, offset, limit).unwrap();
                    match expected {
                        Ok(e) => {
                            assert_eq!(got.lines, e.lines, "{content:?} {offset} {limit}");
                            assert_eq!(got.total_lines, e.total_lines, "{content:?}");
                        }
                        Err(_) => assert!(offset > 0 && offset >= got.total_lines),
                    }
                }
            }
        }
    }

    /// Lines that straddle buffer boundaries are reassembled.
    #[test]
    fn lines_across_buffers() {
        let mut content = Vec::new();
        for i in 0..50_000 {
            content.extend_from_slice(format!("line number {i}\n").as_bytes());
        }
        let got = slice_lines(&content[..], 40_000, 3).unwrap();
        assert_eq!(got.total_lines, 50_000);
        assert_eq!(
            got.lines,
            [
                "line number 40000",
                "line number 40001",
                "line number 40002"
            ]
        );
        let expected = text::read_slice("/f", &content, 12_345, 2000).unwrap();
        let got = slice_lines(&content[..], 12_345, 2000).unwrap();
        assert_eq!(got.lines, expected.lines);
    }
}
