//! The exact-replace edit every backend shares.

use memchr::memmem;

use crate::error::{BackendError, Result};
use crate::types::Replace;

/// Replaces `old` with `new` in `content`.
///
/// No occurrence is [`BackendError::EditNotFound`]; more than one with
/// [`Replace::Once`] is [`BackendError::EditAmbiguous`] with the count.
/// Occurrences are counted without overlap, left to right, as
/// [`str::matches`] does. Works on bytes, so files that are not UTF-8 can
/// still be edited around their text.
///
/// **Line endings.** `read` shows lines without their `\r`, so a model
/// copies `old` with plain `\n` line breaks. In a file whose every line
/// break is `\r\n`, the line breaks of `old` and `new` are taken as
/// `\r\n`: the edit finds the text and the file keeps its CRLF endings.
/// Files with `\n` or mixed endings are matched byte for byte.
///
/// ```
/// use deepagent_core::{edit::apply_edit, Replace};
/// let (out, n) = apply_edit("/a.txt", b"a-b-a", "a", "x", Replace::All)?;
/// assert_eq!((out.as_slice(), n), (&b"x-b-x"[..], 2));
/// let err = apply_edit("/a.txt", b"a-b-a", "a", "x", Replace::Once).unwrap_err();
/// assert!(err.to_string().contains("2 times"));
///
/// // A CRLF file, edited with the LF text read_file showed.
/// let (out, _) = apply_edit("/w.txt", b"one\r\ntwo\r\n", "one\ntwo", "1\n2", Replace::Once)?;
/// assert_eq!(out, b"1\r\n2\r\n");
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
pub fn apply_edit(
    path: &str,
    content: &[u8],
    old: &str,
    new: &str,
    replace: Replace,
) -> Result<(Vec<u8>, usize)> {
    validate_edit(old, new)?;
    if uses_crlf(content) && (old.contains('\n') || new.contains('\n')) {
        return replace_exact(path, content, &to_crlf(old), &to_crlf(new), replace);
    }
    replace_exact(path, content, old, new, replace)
}

/// True when `content` has line breaks and every one is `\r\n`.
fn uses_crlf(content: &[u8]) -> bool {
    let mut any = false;
    for i in memchr::memchr_iter(b'\n', content) {
        if i == 0 || content[i - 1] != b'\r' {
            return false;
        }
        any = true;
    }
    any
}

/// Every line break of `text` as `\r\n` (those already `\r\n` stay).
fn to_crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn replace_exact(
    path: &str,
    content: &[u8],
    old: &str,
    new: &str,
    replace: Replace,
) -> Result<(Vec<u8>, usize)> {
    let finder = memmem::Finder::new(old.as_bytes());
    let positions: Vec<usize> = finder.find_iter(content).collect();
    match positions.len() {
        0 => Err(BackendError::EditNotFound {
            path: path.to_owned(),
        }),
        n if n > 1 && replace == Replace::Once => Err(BackendError::EditAmbiguous {
            path: path.to_owned(),
            occurrences: n,
        }),
        n => {
            let mut out =
                Vec::with_capacity(content.len() + n * new.len().saturating_sub(old.len()));
            let mut last = 0;
            for pos in positions {
                out.extend_from_slice(&content[last..pos]);
                out.extend_from_slice(new.as_bytes());
                last = pos + old.len();
            }
            out.extend_from_slice(&content[last..]);
            Ok((out, n))
        }
    }
}

/// Why `old` was not found in `content`, when the reason is one a model
/// cannot see in `read_file` output: line endings, or a final line break.
/// `None` when the text is simply not there.
///
/// The agent's `edit_file` tool adds this to the
/// [`EditNotFound`](BackendError::EditNotFound) message.
///
/// ```
/// use deepagent_core::edit::explain_not_found;
/// let hint = explain_not_found(b"last line", "last line\n").unwrap();
/// assert!(hint.contains("final line break"));
/// assert_eq!(explain_not_found(b"abc", "xyz"), None);
/// ```
pub fn explain_not_found(content: &[u8], old: &str) -> Option<&'static str> {
    let found =
        |needle: &str| !needle.is_empty() && memmem::find(content, needle.as_bytes()).is_some();
    if old.contains("\r\n") && !uses_crlf(content) && found(&old.replace("\r\n", "\n")) {
        return Some(
            "old_string has Windows (\\r\\n) line breaks but the file uses \\n; send old_string with plain \\n line breaks",
        );
    }
    let trimmed = old.trim_end_matches(['\n', '\r']);
    if trimmed.len() < old.len() && (found(trimmed) || found(&to_crlf(trimmed))) {
        return Some(
            "old_string ends with a line break that the file does not have there (its final line has no final line break); leave the final line break out of old_string",
        );
    }
    None
}

/// The argument checks of [`apply_edit`], for backends that edit elsewhere
/// (e.g. inside a container) and must refuse the same inputs.
pub fn validate_edit(old: &str, new: &str) -> Result<()> {
    if old.is_empty() {
        return Err(BackendError::InvalidArgument {
            message: "old_string is empty; give the exact text to replace".into(),
        });
    }
    if old == new {
        return Err(BackendError::InvalidArgument {
            message: "old_string and new_string are identical; nothing would change".into(),
        });
    }
    Ok(())
}

/// Non-overlapping occurrences of `needle` in `haystack`.
pub fn count_occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    memmem::find_iter(haystack, needle).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;

    #[test]
    fn overlapping_counts_like_str_matches() {
        assert_eq!(
            count_occurrences(b"aaaa", b"aa"),
            "aaaa".matches("aa").count()
        );
        let (out, n) = apply_edit("/f", b"aaaa", "aa", "b", Replace::All).unwrap();
        assert_eq!((out, n), (b"bb".to_vec(), 2));
    }

    #[test]
    fn errors_name_the_file() {
        let e = apply_edit("/f.txt", b"abc", "zz", "y", Replace::Once).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::EditNotFound);
        assert!(e.to_string().contains("/f.txt"));
        let e = apply_edit("/f.txt", b"abc", "", "y", Replace::Once).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn crlf_file_keeps_crlf_endings() {
        let file = b"fn main() {\r\n    old();\r\n}\r\n";
        let (out, n) = apply_edit(
            "/m.rs",
            file,
            "{\n    old();\n}",
            "{\n    new();\n    more();\n}",
            Replace::Once,
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(out, b"fn main() {\r\n    new();\r\n    more();\r\n}\r\n");
        // Single-line edits and explicit \r\n work as before.
        let (out, _) = apply_edit("/m.rs", file, "old()", "x()", Replace::Once).unwrap();
        assert_eq!(out, b"fn main() {\r\n    x();\r\n}\r\n");
        let (out, _) = apply_edit("/m.rs", file, "{\r\n", "{ // hi\r\n", Replace::Once).unwrap();
        assert!(out.starts_with(b"fn main() { // hi\r\n"));
    }

    #[test]
    fn mixed_endings_match_bytes() {
        // One LF break: the file is not CRLF, so nothing is translated.
        let file = b"a\r\nb\nc\r\n";
        assert_eq!(
            apply_edit("/f", file, "a\nb", "x", Replace::Once)
                .unwrap_err()
                .kind(),
            ErrorKind::EditNotFound
        );
        let (out, _) = apply_edit("/f", file, "b\nc", "y", Replace::Once).unwrap();
        assert_eq!(out, b"a\r\ny\r\n");
    }

    #[test]
    fn not_found_reasons() {
        assert!(explain_not_found(b"a\nb\n", "a\r\nb")
            .unwrap()
            .contains("Windows"));
        assert!(explain_not_found(b"x\ny", "y\n")
            .unwrap()
            .contains("final line break"));
        assert!(explain_not_found(b"x\r\ny", "x\ny\n")
            .unwrap()
            .contains("final line break"));
        assert_eq!(explain_not_found(b"x\ny\n", "z\n"), None);
        assert_eq!(explain_not_found(b"abc", "abd"), None);
    }

    fn crlf(s: &str) -> String {
        s.replace('\n', "\r\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// An edit of a CRLF file with LF text does exactly what the same
        /// edit does to the LF file, with CRLF line breaks throughout.
        #[test]
        fn crlf_file_edits_like_lf(text in "[ab\n]{0,40}", old in "[ab\n]{1,4}", new in "[xy\n]{0,4}", all: bool) {
            prop_assume!(text.contains('\n'));
            let lf = apply_edit("/f", text.as_bytes(), &old, &new, Replace::all_if(all));
            let cr = apply_edit("/f", crlf(&text).as_bytes(), &old, &new, Replace::all_if(all));
            match (lf, cr) {
                (Ok((lf_out, n)), Ok((cr_out, m))) => {
                    prop_assert_eq!(n, m);
                    prop_assert_eq!(crlf(&String::from_utf8(lf_out).unwrap()).into_bytes(), cr_out);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.kind(), b.kind()),
                (a, b) => prop_assert!(false, "LF {:?} vs CRLF {:?}", a.map(|x| x.1), b.map(|x| x.1)),
            }
        }

        /// replace_all reports exactly the count that was there, and leaves
        /// none behind when `new` cannot recreate `old`.
        #[test]
        fn replace_all_count_agrees(text in "[ab\n]{0,40}", old in "[ab]{1,3}", new in "[xy]{0,3}") {
            let expected = text.matches(old.as_str()).count();
            match apply_edit("/f", text.as_bytes(), &old, &new, Replace::All) {
                Ok((out, n)) => {
                    prop_assert_eq!(n, expected);
                    prop_assert_eq!(String::from_utf8(out).unwrap(), text.replace(old.as_str(), &new));
                }
                Err(e) => {
                    prop_assert_eq!(expected, 0);
                    prop_assert_eq!(e.kind(), ErrorKind::EditNotFound);
                }
            }
        }

        #[test]
        fn single_edit_only_when_unique(text in "[ab\n]{0,40}", old in "[ab]{1,3}") {
            let expected = text.matches(old.as_str()).count();
            let res = apply_edit("/f", text.as_bytes(), &old, "Z", Replace::Once);
            match expected {
                0 => prop_assert_eq!(res.unwrap_err().kind(), ErrorKind::EditNotFound),
                1 => prop_assert_eq!(res.unwrap().0, text.replacen(old.as_str(), "Z", 1).into_bytes()),
                n => match res.unwrap_err() {
                    BackendError::EditAmbiguous { occurrences, .. } => prop_assert_eq!(occurrences, n),
                    other => prop_assert!(false, "unexpected {other}"),
                },
            }
        }
    }
}
