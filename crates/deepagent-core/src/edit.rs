//! The exact-replace edit every backend shares.

use memchr::memmem;

use crate::error::{BackendError, Result};

/// Replaces `old` with `new` in `content`.
///
/// No occurrence is [`BackendError::EditNotFound`]; more than one without
/// `replace_all` is [`BackendError::EditAmbiguous`] with the count.
/// Occurrences are counted without overlap, left to right, as
/// [`str::matches`] does. Works on bytes, so files that are not UTF-8 can
/// still be edited around their text.
///
/// ```
/// use deepagent_core::edit::apply_edit;
/// let (out, n) = apply_edit("/a.txt", b"a-b-a", "a", "x", true)?;
/// assert_eq!((out.as_slice(), n), (&b"x-b-x"[..], 2));
/// let err = apply_edit("/a.txt", b"a-b-a", "a", "x", false).unwrap_err();
/// assert!(err.to_string().contains("2 times"));
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
pub fn apply_edit(
    path: &str,
    content: &[u8],
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(Vec<u8>, usize)> {
    validate_edit(old, new)?;
    let finder = memmem::Finder::new(old.as_bytes());
    let positions: Vec<usize> = finder.find_iter(content).collect();
    match positions.len() {
        0 => Err(BackendError::EditNotFound {
            path: path.to_owned(),
        }),
        n if n > 1 && !replace_all => Err(BackendError::EditAmbiguous {
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
        let (out, n) = apply_edit("/f", b"aaaa", "aa", "b", true).unwrap();
        assert_eq!((out, n), (b"bb".to_vec(), 2));
    }

    #[test]
    fn errors_name_the_file() {
        let e = apply_edit("/f.txt", b"abc", "zz", "y", false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::EditNotFound);
        assert!(e.to_string().contains("/f.txt"));
        let e = apply_edit("/f.txt", b"abc", "", "y", false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// replace_all reports exactly the count that was there, and leaves
        /// none behind when `new` cannot recreate `old`.
        #[test]
        fn replace_all_count_agrees(text in "[ab\n]{0,40}", old in "[ab]{1,3}", new in "[xy]{0,3}") {
            let expected = text.matches(old.as_str()).count();
            match apply_edit("/f", text.as_bytes(), &old, &new, true) {
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
            let res = apply_edit("/f", text.as_bytes(), &old, "Z", false);
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
