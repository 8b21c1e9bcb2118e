//! `cargo xtask msrv-check`: the workspace's `rust-version` must be at
//! least the highest `rust-version` any locked dependency declares.
//!
//! Only one toolchain is installed where CI runs, so building with the
//! declared minimum is not possible; the lockfile is the next best witness.
//! A dependency that needs a newer compiler than we claim makes our claim
//! false for anyone who builds from this lockfile.

use std::process::Command;

use serde_json::Value;

use crate::Result;

/// A `rust-version` as comparable numbers: `1.88` is `[1, 88, 0]`.
fn parse(version: &str) -> Option<[u64; 3]> {
    let mut out = [0u64; 3];
    let mut parts = version.trim().split('.');
    for slot in &mut out {
        match parts.next() {
            Some(p) => *slot = p.parse().ok()?,
            None => break,
        }
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

pub fn msrv_check(args: &[String]) -> Result {
    if !args.is_empty() {
        return Err(format!("msrv-check takes no arguments, got {args:?}"));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))?;
    check(&meta)
}

/// The comparison, apart from running cargo, so it can be tested.
fn check(meta: &Value) -> Result {
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .ok_or("cargo metadata: no workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;

    // The highest rust-version among locked dependencies, with who needs it.
    let mut needed: Option<([u64; 3], String)> = None;
    for p in packages {
        let id = p["id"].as_str().unwrap_or_default();
        if members.contains(&id) {
            continue;
        }
        let Some(rv) = p["rust_version"].as_str() else {
            continue;
        };
        let parsed =
            parse(rv).ok_or_else(|| format!("{}: unreadable rust-version {rv:?}", p["name"]))?;
        if needed.as_ref().is_none_or(|(max, _)| parsed > *max) {
            needed = Some((
                parsed,
                format!(
                    "{} {} (rust-version {rv})",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                ),
            ));
        }
    }
    let Some((needed, who)) = needed else {
        println!("msrv-check: no locked dependency declares a rust-version");
        return Ok(());
    };

    let mut low = Vec::new();
    for p in packages {
        let id = p["id"].as_str().unwrap_or_default();
        if !members.contains(&id) {
            continue;
        }
        let name = p["name"].as_str().unwrap_or("?");
        match p["rust_version"].as_str() {
            // xtask and other unpublished tools may leave it out.
            None => {}
            Some(rv) => {
                let parsed =
                    parse(rv).ok_or_else(|| format!("{name}: unreadable rust-version {rv:?}"))?;
                if parsed < needed {
                    low.push(format!("{name} declares rust-version {rv}"));
                }
            }
        }
    }
    if low.is_empty() {
        println!(
            "msrv-check: ok, the highest locked requirement is {}.{}.{} from {who}",
            needed[0], needed[1], needed[2]
        );
        Ok(())
    } else {
        Err(format!(
            "rust-version too low: {}; the lockfile needs {}.{}.{} ({who}). \
             Raise `rust-version` in [workspace.package] of Cargo.toml.",
            low.join(", "),
            needed[0],
            needed[1],
            needed[2]
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(ours: &str, theirs: &str) -> Value {
        json!({
            "workspace_members": ["ours 0.1.0"],
            "packages": [
                {"id": "ours 0.1.0", "name": "ours", "version": "0.1.0", "rust_version": ours},
                {"id": "dep 1.0.0", "name": "dep", "version": "1.0.0", "rust_version": theirs},
                {"id": "old 1.0.0", "name": "old", "version": "1.0.0", "rust_version": "1.60"},
                {"id": "none 1.0.0", "name": "none", "version": "1.0.0", "rust_version": null},
            ]
        })
    }

    #[test]
    fn lower_than_a_dependency_fails_and_names_it() {
        let err = check(&meta("1.80", "1.88")).unwrap_err();
        assert!(err.contains("ours declares rust-version 1.80"), "{err}");
        assert!(err.contains("dep 1.0.0"), "{err}");
    }

    #[test]
    fn equal_or_higher_passes() {
        check(&meta("1.88", "1.88.0")).unwrap();
        check(&meta("1.90", "1.88")).unwrap();
    }

    #[test]
    fn versions_compare_as_numbers() {
        assert!(parse("1.9").unwrap() < parse("1.10").unwrap());
        assert_eq!(parse("1.88"), parse("1.88.0"));
        assert_eq!(parse("x"), None);
    }
}
