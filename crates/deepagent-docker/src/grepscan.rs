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
//!
//! A hard-linked file reached by two names is stored once with content and
//! then as a hard-link entry with none (`tar` without `-h`). Its second
//! name gets the matches of the first, copied under its own path: the
//! matches of every finished file are kept anyway, so this remembers no
//! content and needs no second read.

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

/// A stored name (`./dir/file`) as a virtual path; `None` for a name no
/// virtual path can spell.
fn stored_path(stored: &[u8]) -> Option<VPath> {
    std::str::from_utf8(stored)
        .ok()
        .and_then(|p| VPath::new(p.trim_start_matches("./")).ok())
}

impl FileSink for GrepSink<'_> {
    fn start(&mut self, path: &[u8]) {
        // A name no virtual path can spell is skipped.
        let path = stored_path(path);
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

    /// The second name of a hard-linked file: the same lines match. The
    /// target is an earlier entry of this archive, so its matches (none
    /// when it was binary or skipped) are already in `matches`.
    fn hard_link(&mut self, path: &[u8], target: &[u8]) {
        let (Some(path), Some(target)) = (stored_path(path), stored_path(target)) else {
            return;
        };
        if path == target {
            return;
        }
        let copies: Vec<GrepMatch> = self
            .matches
            .iter()
            .filter(|m| m.path == target.as_str())
            .map(|m| GrepMatch::new(path.as_str().to_owned(), m.line_number, m.line.clone()))
            .collect();
        self.matches.extend(copies);
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

    /// A hard-link entry gets its target's matches under its own name;
    /// a link to a binary (skipped) file gets none. Fails without
    /// `GrepSink::hard_link` (the second name was silently missing).
    #[test]
    fn a_hard_link_is_searched_under_its_own_name() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: &str, content: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, content).unwrap();
        };
        add("./a.txt", b"x\nneedle\n");
        add("./bin", b"needle\0");
        for (path, target) in [("./b.txt", "./a.txt"), ("./c", "./bin")] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, path, target).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let regex = Regex::new("needle").unwrap();
        let mut stream = crate::tarstream::TarStream::new("box-1", GrepSink::new(&regex, 10));
        stream.feed(&tar).unwrap();
        let sink = stream.finish().unwrap();
        let got: Vec<(&str, u64)> = sink
            .matches
            .iter()
            .map(|m| (m.path.as_str(), m.line_number))
            .collect();
        assert_eq!(got, [("/a.txt", 2), ("/b.txt", 2)]);
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
