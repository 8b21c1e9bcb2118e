//! Generators of hostile virtual paths, and the rules they are judged by.
//!
//! The generators mix the spellings that mean "up" or "elsewhere" to some
//! layer (a shell, a URL decoder, a unicode normalizer, a C string) with
//! ordinary names, so a property sees every hostile piece in every
//! position. [`reference_normalize`] is a deliberately naive statement of
//! the path rules; the real normalizer must agree with it exactly.

use proptest::prelude::*;

/// The name of the sentinel file outside the root; generators use it so a
/// path that escaped would actually hit something.
pub const SENTINEL_NAME: &str = "secret.txt";
/// The name of the directory beside the root that holds the sentinel.
pub const OUTSIDE_DIR: &str = "outside";

/// One path component that is hostile to some layer, or a plain name.
pub fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        // Climbing and no-ops, weighted up: they are the point.
        4 => Just("..".to_owned()),
        2 => Just(".".to_owned()),
        2 => Just(String::new()),
        // Names that reach the sentinel if anything climbs out.
        2 => Just(OUTSIDE_DIR.to_owned()),
        2 => Just(SENTINEL_NAME.to_owned()),
        // Percent-encoded forms: literal names, never decoded.
        1 => Just("%2e%2e".to_owned()),
        1 => Just("%2E%2E".to_owned()),
        1 => Just("..%2f..".to_owned()),
        1 => Just("%2e%2e%2f%2e%2e".to_owned()),
        1 => Just("%252e%252e".to_owned()),
        1 => Just("%00".to_owned()),
        // Unicode look-alikes of `..` and `/`: fullwidth full stops, the
        // two-dot leader, fullwidth and division solidus.
        1 => Just("\u{FF0E}\u{FF0E}".to_owned()),
        1 => Just("\u{2025}".to_owned()),
        1 => Just("..\u{FF0F}..".to_owned()),
        1 => Just("\u{FF0F}".to_owned()),
        1 => Just("\u{2215}".to_owned()),
        1 => Just("\u{2024}\u{2024}".to_owned()),
        // Dots that are only names.
        1 => Just("...".to_owned()),
        1 => Just("a..b".to_owned()),
        1 => Just("..a".to_owned()),
        // Forms other hosts treat specially: refused, not interpreted.
        1 => Just("~".to_owned()),
        1 => Just("C:".to_owned()),
        1 => Just("..\\..".to_owned()),
        1 => Just("a\0b".to_owned()),
        1 => Just("\0".to_owned()),
        // Over-long names (> 255 bytes: ENAMETOOLONG on most filesystems).
        1 => (256usize..400).prop_map(|n| "n".repeat(n)),
        1 => (86usize..120).prop_map(|n| "\u{00e9}\u{00e9}".repeat(n)),
        // Plain and arbitrary names.
        3 => "[a-z]{1,6}",
        2 => "\\PC{1,4}",
    ]
}

/// A whole hostile path: segments joined by `/`, sometimes absolute,
/// sometimes with a doubled or trailing slash.
pub fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(segment(), 0..10),
        prop_oneof![Just(""), Just("/"), Just("//"), Just("/./"), Just("./")],
        prop_oneof![Just(""), Just("/"), Just("/."), Just("//")],
    )
        .prop_map(|(segs, lead, tail)| format!("{lead}{}{tail}", segs.join("/")))
}

/// `..` inserted at every depth of a path that would otherwise end at the
/// sentinel: `../outside/secret.txt`, `a/../../outside/secret.txt`, ...
pub fn dotdot_everywhere() -> impl Strategy<Value = String> {
    (0usize..6, 1usize..5, any::<bool>()).prop_map(|(names, ups, abs)| {
        let mut segs: Vec<String> = (0..names).map(|i| format!("d{i}")).collect();
        segs.extend(std::iter::repeat_n("..".to_owned(), ups + names));
        segs.push(OUTSIDE_DIR.to_owned());
        segs.push(SENTINEL_NAME.to_owned());
        format!("{}{}", if abs { "/" } else { "" }, segs.join("/"))
    })
}

/// A path longer than `PATH_MAX` (4096 bytes) made of valid names.
pub fn very_long_path() -> impl Strategy<Value = String> {
    (21usize..40, 200usize..255).prop_map(|(count, len)| {
        let name = "L".repeat(len);
        vec![name; count].join("/")
    })
}

/// The path rules, stated naively: `None` when the input must be refused
/// (NUL, backslash, leading `~`, a drive letter, or `..` above the root),
/// otherwise the normalized absolute path.
pub fn reference_normalize(input: &str) -> Option<String> {
    let b = input.as_bytes();
    if input.contains('\0')
        || input.contains('\\')
        || input.starts_with('~')
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
    {
        return None;
    }
    let mut stack: Vec<&str> = Vec::new();
    for part in input.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                stack.pop()?;
            }
            name => stack.push(name),
        }
    }
    Some(format!("/{}", stack.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_rules() {
        assert_eq!(reference_normalize("").as_deref(), Some("/"));
        assert_eq!(reference_normalize("a//./b/").as_deref(), Some("/a/b"));
        assert_eq!(reference_normalize("a/.."), Some("/".to_owned()));
        assert_eq!(reference_normalize(".."), None);
        assert_eq!(reference_normalize("x\0"), None);
        assert_eq!(reference_normalize("c:/x"), None);
        assert_eq!(
            reference_normalize("\u{FF0E}\u{FF0E}").as_deref(),
            Some("/\u{FF0E}\u{FF0E}")
        );
    }
}
