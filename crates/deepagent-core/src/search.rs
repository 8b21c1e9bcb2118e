//! Line search over whole in-memory buffers, for every backend that greps
//! files it holds in memory (`StateBackend`, `ObjectStoreBackend`).
//!
//! Running a regex once per line costs a call (and a UTF-8 conversion) per
//! line; most lines do not match. Instead a multi-line copy of the regex
//! scans the whole buffer, and only the lines it lands on are checked with
//! the real, line-wise regex. The buffer regex matches wherever the line
//! regex would (`^`/`$` are per line, `\r\n` counts as a line end), so it
//! only ever proposes extra candidates, which the check rejects.

use crate::{text, GrepQuery, Result};
use regex::{Regex, RegexBuilder};

/// A compiled grep pattern.
///
/// ```
/// use deepagent_core::{search::Searcher, GrepQuery};
/// let searcher = Searcher::new(&GrepQuery::new("^fn "))?;
/// let mut hits = Vec::new();
/// searcher.search(b"fn a() {}\nlet x;\nfn b() {}\n", |n, line| {
///     hits.push((n, line.to_owned()));
///     true // keep going
/// });
/// assert_eq!(hits, [(1, "fn a() {}".to_owned()), (3, "fn b() {}".to_owned())]);
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Searcher {
    line: Regex,
    /// `None` when the pattern uses something whose meaning changes
    /// between a line and a buffer (`\A`, `\z`, turning multi-line or CRLF
    /// mode off), so only the line-by-line path is exact.
    buffer: Option<Regex>,
}

impl Searcher {
    /// Compiles the query's pattern ([`GrepQuery::regex`] decides the
    /// syntax and reports `InvalidPattern`).
    pub fn new(query: &GrepQuery) -> Result<Self> {
        let line = query.regex()?;
        let unsafe_for_buffer = !query.fixed_strings
            && ["\\A", "\\z", "-m", "-R"]
                .iter()
                .any(|s| query.pattern.contains(s));
        let buffer = if unsafe_for_buffer {
            None
        } else {
            RegexBuilder::new(line.as_str())
                .case_insensitive(query.case_insensitive)
                .multi_line(true)
                .crlf(true)
                .build()
                .ok()
        };
        Ok(Searcher { line, buffer })
    }

    /// Calls `emit(line_number, line)` for each matching line, in order,
    /// until it returns `false`. Lines follow [`text::lines`]; invalid
    /// UTF-8 is replaced.
    pub fn search(&self, content: &[u8], mut emit: impl FnMut(u64, &str) -> bool) {
        match (&self.buffer, std::str::from_utf8(content)) {
            (Some(buffer), Ok(text)) => self.search_buffer(buffer, text, emit),
            _ => {
                for (i, raw) in text::lines(content).enumerate() {
                    let line = String::from_utf8_lossy(raw);
                    if self.line.is_match(&line) && !emit(i as u64 + 1, &line) {
                        return;
                    }
                }
            }
        }
    }

    fn search_buffer(&self, buffer: &Regex, text: &str, mut emit: impl FnMut(u64, &str) -> bool) {
        let bytes = text.as_bytes();
        let len = bytes.len();
        // `pos` is always the start of line number `line_no`.
        let mut pos = 0;
        let mut line_no: u64 = 1;
        while pos < len {
            let Some(found) = buffer.find_at(text, pos) else {
                return;
            };
            let skipped = &bytes[pos..found.start()];
            line_no += memchr::memchr_iter(b'\n', skipped).count() as u64;
            let start = memchr::memrchr(b'\n', skipped).map_or(pos, |i| pos + i + 1);
            if start >= len {
                // A match after the final newline is not on any line.
                return;
            }
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(len, |i| start + i);
            let line = &text[start..end];
            let line = line.strip_suffix('\r').unwrap_or(line);
            if self.line.is_match(line) && !emit(line_no, line) {
                return;
            }
            pos = end + 1;
            line_no += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the line regex on every line.
    fn naive(query: &GrepQuery, content: &[u8]) -> Vec<(u64, String)> {
        let re = query.regex().unwrap();
        text::lines(content)
            .enumerate()
            .filter_map(|(i, l)| {
                let l = String::from_utf8_lossy(l);
                re.is_match(&l).then(|| (i as u64 + 1, l.into_owned()))
            })
            .collect()
    }

    fn fast(query: &GrepQuery, content: &[u8]) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        Searcher::new(query).unwrap().search(content, |n, l| {
            out.push((n, l.to_owned()));
            true
        });
        out
    }

    #[test]
    fn buffer_search_agrees_with_line_search() {
        let contents: [&[u8]; 7] = [
            b"",
            b"foo\nbar\nfoo bar\n",
            b"foo\r\nbar\r\n\r\nfoo",
            b"\n\n\nx\n",
            b"def a():\n    pass\ndef b():\n",
            b"no newline at end foo",
            b"caf\xc3\xa9\nbad \xff byte foo\n",
        ];
        let patterns = [
            "foo",
            "^foo",
            "foo$",
            "^$",
            "bar$",
            "o\\s+b",
            "\\bdef\\b",
            "",
            "x*",
            "(?i)FOO",
            "\\Afoo",
            "foo\\z",
            "(?-m)^bar",
            ".",
            "[^a]+",
            "caf.",
        ];
        for content in contents {
            for pattern in patterns {
                let q = GrepQuery::new(pattern);
                assert_eq!(
                    fast(&q, content),
                    naive(&q, content),
                    "pattern {pattern:?} on {:?}",
                    String::from_utf8_lossy(content)
                );
            }
        }
    }

    #[test]
    fn stops_when_told() {
        let q = GrepQuery::new("x");
        let mut seen = 0;
        Searcher::new(&q).unwrap().search(b"x\nx\nx\n", |_, _| {
            seen += 1;
            seen < 2
        });
        assert_eq!(seen, 2);
    }
}
