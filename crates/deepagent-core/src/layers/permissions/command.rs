//! Finding the paths a shell command names.
//!
//! This is a tripwire, not a shell: quotes and backslashes are undone and
//! every word is treated as a possible path, but variables, globs
//! (`cat *.pem` is caught only because `*.pem` itself matches), `cd`, and
//! tools that walk directories (`grep -r`) are not followed, and links are
//! not resolved. Keep secrets out of a sandbox's reach when the rule must
//! hold against a determined model (see `SECURITY.md`).

use crate::VPath;

/// Splits `command` into shell words: quotes removed, backslash escapes
/// undone, operators (`; & | < > ( ) \``) separating words.
pub(crate) fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    if n != '\n' {
                        word.push(n);
                    }
                }
            }
            c if c.is_whitespace() || ";&|<>()`".contains(c) => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Characters that cannot be part of a path a model would name, but often
/// sit next to one inside a shell word (`key=value`, code in `-c` scripts).
const FRAGMENT_SEPARATORS: &[char] = &[
    '=', ':', ',', '\'', '"', '(', ')', '[', ']', '{', '}', '$', '`', ';', '<', '>', ' ', '\t',
    '\n',
];

/// Every path `command` might name, normalized: each word, and each
/// fragment of a word split at [`FRAGMENT_SEPARATORS`]. Relative words
/// are taken from `/`; a leading `~/` and `..` that would climb above `/`
/// are dropped rather than refused, because the point is to recognise the
/// file, not to open it.
pub(crate) fn path_candidates(command: &str) -> Vec<VPath> {
    let mut out = Vec::new();
    for word in shell_words(command) {
        match url_path(&word) {
            Some(Some(path)) => {
                push_candidate(&mut out, path);
                continue;
            }
            // A remote URL names no local file, whatever its last segment.
            Some(None) => continue,
            None => {}
        }
        push_candidate(&mut out, &word);
        // Paths hide inside words too: `of=/dev/sda`, `--file=.env`,
        // `open('.env')` in a `python -c` script.
        if word.contains(FRAGMENT_SEPARATORS) {
            for fragment in word.split(FRAGMENT_SEPARATORS) {
                push_candidate(&mut out, fragment);
            }
        }
    }
    out
}

fn push_candidate(out: &mut Vec<VPath>, word: &str) {
    let word = match word.strip_prefix('~') {
        // `~/x` and `~user/x`: the rest is what a home-relative rule sees.
        Some(rest) => match rest.split_once('/') {
            Some((_, tail)) => tail,
            None => return,
        },
        None => word,
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in word.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    if parts.is_empty() {
        return;
    }
    if let Ok(path) = VPath::new(&parts.join("/")) {
        if !out.contains(&path) {
            out.push(path);
        }
    }
}

/// `Some(Some(path))` for a `file://` URL, `Some(None)` for any other URL
/// (it names no local file), `None` for a word that is not a URL.
fn url_path(word: &str) -> Option<Option<&str>> {
    let (scheme, rest) = word.split_once("://")?;
    let is_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    if !is_scheme {
        return None;
    }
    Some(scheme.eq_ignore_ascii_case("file").then_some(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(cmd: &str) -> Vec<String> {
        path_candidates(cmd)
            .into_iter()
            .map(VPath::into_string)
            .collect()
    }

    #[test]
    fn words_undo_quotes_and_escapes() {
        assert_eq!(
            shell_words(r#"cat '.e'nv "a b" c\ d x|y;z"#),
            ["cat", ".env", "a b", "c d", "x", "y", "z"]
        );
        assert_eq!(
            shell_words("echo $(cat .env)"),
            ["echo", "$", "cat", ".env"]
        );
        assert_eq!(shell_words("a<.env>out"), ["a", ".env", "out"]);
        assert_eq!(shell_words("x ''"), ["x", ""]);
    }

    #[test]
    fn candidates_are_normalized() {
        assert_eq!(cands("cat ./a/../.env"), ["/cat", "/.env"]);
        assert!(cands("cat ~/.ssh/id_rsa").contains(&"/.ssh/id_rsa".to_owned()));
        assert!(cands("cat ../../etc/x.pem").contains(&"/etc/x.pem".to_owned()));
        assert!(cands("dd of=/dev/sda").contains(&"/dev/sda".to_owned()));
        assert!(cands("tool --config=.env.prod").contains(&"/.env.prod".to_owned()));
        assert!(cands(r"type conf\\.env").contains(&"/conf/.env".to_owned()));
        assert!(cands(r#"python -c "print(open('.env').read())""#).contains(&"/.env".to_owned()));
        assert!(cands("scp host:.ssh/id_rsa .").contains(&"/.ssh/id_rsa".to_owned()));
    }

    #[test]
    fn urls_name_no_local_file_except_file_urls() {
        assert_eq!(cands("curl https://example.com/a.pem"), ["/curl"]);
        assert!(cands("open file:///home/u/.env").contains(&"/home/u/.env".to_owned()));
    }
}
