//! Fuzzes `VPath`, the one path normalizer every backend trusts.
//!
//! For any UTF-8 input the normalizer must agree with a naive statement of
//! the rules (below), and what it accepts must be a fixed point that no
//! path operation can move above the root.

#![no_main]

use deepagent_core::VPath;
use libfuzzer_sys::fuzz_target;

/// The rules, stated naively: `None` when refused, else the normal form.
fn reference(input: &str) -> Option<String> {
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

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let got = VPath::new(input);
    let want = reference(input);
    match (&got, &want) {
        (Ok(p), Some(w)) => assert_eq!(p.as_str(), w, "input {input:?}"),
        (Err(_), None) => {}
        _ => panic!("input {input:?}: VPath {got:?}, reference {want:?}"),
    }
    let Ok(p) = got else { return };
    // A fixed point with clean components.
    assert_eq!(VPath::new(p.as_str()).ok().as_ref(), Some(&p));
    for c in p.components() {
        assert!(!c.is_empty() && c != "." && c != "..", "{p:?}");
    }
    // Joins never climb above the root; prefix round trips hold.
    let base = VPath::new("/mnt/base").expect("valid base");
    if let Ok(joined) = base.join(input.trim_start_matches('/')) {
        assert!(joined.starts_with(&VPath::root()));
        if let Some(inner) = joined.strip_prefix(&base) {
            assert_eq!(inner.under(&base), joined);
        }
    }
    if let Some(parent) = p.parent() {
        assert!(p.starts_with(&parent));
        let name = p.file_name().expect("non-root has a name");
        assert_eq!(parent.child(name), p);
    }
});
