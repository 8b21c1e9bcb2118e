//! grep's line matching over file contents as they stream out of the
//! container (see `tarstream`): the host holds one line at a time, never a
//! whole file, so a 1 GiB file costs a buffer, not a gigabyte.
//!
//! The rules are those of grep over a whole file (core's `text::lines`
//! and `text::is_binary`): lines split on `\n`, a last line without one
//! counts, a trailing `\r` is dropped, a NUL in the first 8 KiB makes the
//! file binary and skipped. A file with a line longer than
//! [`GREP_LINE_LIMIT`] is skipped too (as `LocalBackend` does), so memory
//! stays bounded by it.

use deepagent_core::text::BINARY_SNIFF_LEN;
use deepagent_core::{GrepMatch, VPath};
use regex::Regex;

use crate::tarstream::FileSink;

/// The longest line grep holds in memory (`LocalBackend`'s default too);
/// a file with a longer line is skipped.
pub(crate) const GREP_LINE_LIMIT: usize = 8 << 20;

/// Collects matching lines from the files of a tar stream.
pub(crate) struct GrepSink<'r> {
    regex: &'r Regex,
    /// Once more than this many matches are in, later files cannot change
    /// the (sorted, capped) result: reading stops.
    max_count: usize,
    /// Matches of finished files.
    pub(crate) matches: Vec<GrepMatch>,
    file: Option<FileScan>,
}

struct FileScan {
    path: VPath,
    /// Bytes of the file seen so far.
    seen: usize,
    line: Vec<u8>,
    line_no: u64,
    matches: Vec<GrepMatch>,
    /// Binary, or a line too long: the file is out of the result.
    skip: bool,
}

impl<'r> GrepSink<'r> {
    /// A sink matching `regex`, wanting at most `max_count` + 1 matches.
    pub(crate) fn new(regex: &'r Regex, max_count: usize) -> Self {
        GrepSink {
            regex,
            max_count,
            matches: Vec::new(),
            file: None,
        }
    }

    /// Whether enough matches are in that nothing later can change the
    /// result.
    pub(crate) fn full(&self) -> bool {
        self.matches.len() > self.max_count
    }

    /// Keeps the whole lines matched so far in a file whose reading
    /// stopped early (the sink was full): past the cap, they only decide
    /// `truncated`.
    pub(crate) fn keep_open_file(&mut self) {
        if let Some(mut file) = self.file.take() {
            if !file.skip {
                self.matches.append(&mut file.matches);
            }
        }
    }
}

impl FileScan {
    fn finish_line(&mut self, regex: &Regex) {
        self.line_no += 1;
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let text = String::from_utf8_lossy(line);
        if regex.is_match(&text) {
            self.matches.push(GrepMatch::new(
                self.path.as_str().to_owned(),
                self.line_no,
                text.into_owned(),
            ));
        }
        self.line.clear();
    }

    fn drop_file(&mut self) {
        self.skip = true;
        self.matches = Vec::new();
        self.line = Vec::new();
    }
}

impl FileSink for GrepSink<'_> {
    fn start(&mut self, path: &[u8]) {
        // As stored: `./dir/file`; a name no virtual path can spell is
        // skipped.
        let path = std::str::from_utf8(path)
            .ok()
            .and_then(|p| VPath::new(p.trim_start_matches("./")).ok());
        self.file = path.map(|path| FileScan {
            path,
            seen: 0,
            line: Vec::new(),
            line_no: 0,
            matches: Vec::new(),
            skip: false,
        });
    }

    fn data(&mut self, bytes: &[u8]) -> bool {
        let Some(file) = &mut self.file else {
            return true;
        };
        if file.skip {
            return true;
        }
        if file.seen < BINARY_SNIFF_LEN {
            let sniff = &bytes[..bytes.len().min(BINARY_SNIFF_LEN - file.seen)];
            if memchr::memchr(0, sniff).is_some() {
                file.drop_file();
                return true;
            }
        }
        file.seen += bytes.len();
        let mut rest = bytes;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            if file.line.len() + nl > GREP_LINE_LIMIT {
                file.drop_file();
                return true;
            }
            file.line.extend_from_slice(&rest[..nl]);
            file.finish_line(self.regex);
            rest = &rest[nl + 1..];
        }
        if file.line.len() + rest.len() > GREP_LINE_LIMIT {
            file.drop_file();
            return true;
        }
        file.line.extend_from_slice(rest);
        // Stop once the matches so far decide the result, but not before
        // the binary sniff is over (a NUL there would drop them).
        !(file.seen >= BINARY_SNIFF_LEN && self.matches.len() + file.matches.len() > self.max_count)
    }

    fn end(&mut self) {
        let Some(mut file) = self.file.take() else {
            return;
        };
        if file.skip {
            return;
        }
        if !file.line.is_empty() {
            file.finish_line(self.regex);
        }
        self.matches.append(&mut file.matches);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepagent_core::text::lines;

    fn grep(regex: &str, content: &[u8], piece: usize) -> Vec<(u64, String)> {
        let regex = Regex::new(regex).unwrap();
        let mut sink = GrepSink::new(&regex, usize::MAX - 1);
        sink.start(b"./f");
        for chunk in content.chunks(piece.max(1)) {
            sink.data(chunk);
        }
        sink.end();
        sink.matches
            .into_iter()
            .map(|m| (m.line_number, m.line))
            .collect()
    }

    /// Streaming in any piece size finds what whole-file matching finds.
    #[test]
    fn agrees_with_whole_file_lines() {
        let samples: &[&[u8]] = &[
            b"",
            b"\n",
            b"a",
            b"a\n",
            b"a\r\nb",
            b"x\n\r",
            b"ab\n\nab\r\n",
        ];
        for content in samples {
            let expected: Vec<(u64, String)> = lines(content)
                .enumerate()
                .map(|(i, l)| (i as u64 + 1, String::from_utf8_lossy(l).into_owned()))
                .collect();
            for piece in [1, 2, 3, 100] {
                assert_eq!(grep("", content, piece), expected, "{content:?} by {piece}");
            }
        }
    }

    #[test]
    fn binary_and_overlong_files_are_skipped() {
        let mut binary = b"match\n".to_vec();
        binary.extend_from_slice(&[0; 10]);
        assert!(grep("match", &binary, 3).is_empty());
        let mut late_nul = b"match\n".repeat(3000);
        late_nul.push(0);
        assert_eq!(grep("match", &late_nul, 4096).len(), 3000);
        let mut long = b"match\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', GREP_LINE_LIMIT + 1));
        assert!(grep("match", &long, 1 << 20).is_empty());
    }
}
