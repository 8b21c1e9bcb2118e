//! Tar archives in and out of the container.
//!
//! The engine's archive API moves files byte-exact with their mode; a
//! download of a directory would stream the whole tree, so [`first_entry`]
//! looks only at the first header and the caller drops the stream once it
//! knows enough. (Archives printed by the container's own `tar` are read
//! by `tarstream`, which trusts none of their sizes.)

use std::time::{SystemTime, UNIX_EPOCH};

use deepagent_core::{BackendError, Result};

/// What kind of thing a path is, from its tar header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Dir,
    Symlink(String),
    Other,
}

/// The first entry of an archive.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    /// Where the entry's data starts in the archive.
    pub data_offset: usize,
}

/// Parses the first entry from the start of an archive, or `None` when
/// more bytes are needed. Extended headers (pax, GNU long names) are left
/// to the `tar` crate once the whole archive is in.
pub(crate) fn first_entry(buf: &[u8], complete: bool) -> Result<Option<Entry>> {
    if buf.len() < 512 {
        return if complete {
            Err(corrupt("archive shorter than one header"))
        } else {
            Ok(None)
        };
    }
    let header = &buf[..512];
    let typeflag = header[156];
    let simple = matches!(
        typeflag,
        b'0' | b'\0' | b'5' | b'2' | b'7' | b'1' | b'3' | b'4' | b'6'
    ) && header[124] & 0x80 == 0;
    if simple {
        let kind = match typeflag {
            b'0' | b'\0' | b'7' => EntryKind::File,
            b'5' => EntryKind::Dir,
            b'2' => EntryKind::Symlink(cstr(&header[157..257])),
            _ => EntryKind::Other,
        };
        return Ok(Some(Entry {
            kind,
            mode: octal(&header[100..108])? as u32,
            uid: octal(&header[108..116])?,
            gid: octal(&header[116..124])?,
            size: octal(&header[124..136])?,
            data_offset: 512,
        }));
    }
    if !complete {
        return Ok(None);
    }
    // Rare: a long name or pax header. Let the tar crate walk it.
    let mut archive = tar::Archive::new(buf);
    let mut entries = archive.entries().map_err(corrupt)?;
    let entry = match entries.next() {
        Some(e) => e.map_err(corrupt)?,
        None => return Err(corrupt("empty archive")),
    };
    let h = entry.header();
    let kind = match h.entry_type() {
        tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => EntryKind::Symlink(
            entry
                .link_name()
                .ok()
                .flatten()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
        _ => EntryKind::Other,
    };
    Ok(Some(Entry {
        kind,
        mode: h.mode().map_err(corrupt)?,
        uid: h.uid().map_err(corrupt)?,
        gid: h.gid().map_err(corrupt)?,
        size: entry.size(),
        data_offset: entry.raw_file_position() as usize,
    }))
}

/// A one-file archive that creates `relative_path` (no leading `/`) with
/// its parents implied, for upload at `/`.
pub(crate) fn single_file(
    relative_path: &str,
    content: &[u8],
    mode: u32,
    uid: u64,
    gid: u64,
) -> Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(mode);
    header.set_uid(uid);
    header.set_gid(gid);
    header.set_entry_type(tar::EntryType::Regular);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    header.set_mtime(now);
    let mut builder = tar::Builder::new(Vec::with_capacity(content.len() + 2048));
    // append_data writes a GNU long-name entry when the path needs one.
    builder
        .append_data(&mut header, relative_path, content)
        .map_err(|e| BackendError::io(format!("/{relative_path}"), e))?;
    builder
        .into_inner()
        .map_err(|e| BackendError::io(format!("/{relative_path}"), e))
}

/// An archive of many files (relative paths, parents implied) for one
/// upload at `/`; `total` is the content size, to allocate once. A later
/// entry for the same path wins when the engine extracts it.
pub(crate) fn many_files<'a>(
    files: impl Iterator<Item = (&'a str, &'a [u8])>,
    mode: u32,
    uid: u64,
    gid: u64,
    total: u64,
) -> Result<Vec<u8>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut builder = tar::Builder::new(Vec::with_capacity(total as usize + 4096));
    for (relative_path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(gid);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(now);
        builder
            .append_data(&mut header, relative_path, content)
            .map_err(|e| BackendError::io(format!("/{relative_path}"), e))?;
    }
    builder.into_inner().map_err(|e| BackendError::io("/", e))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn octal(field: &[u8]) -> Result<u64> {
    let text = cstr(field);
    let digits = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).map_err(|_| corrupt(format!("bad octal field {text:?}")))
}

fn corrupt(e: impl std::fmt::Display) -> BackendError {
    BackendError::other(format!(
        "the Docker engine sent an archive that cannot be read: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_file_round_trips_with_mode_and_long_names() {
        let long = format!("{}/file.bin", "d".repeat(150));
        for path in ["a/b.txt", long.as_str(), "sp ace/'q\"/$(x)\nname"] {
            let content = b"\x00\x01binary\xff";
            let tar = single_file(path, content, 0o751, 1000, 1000).unwrap();
            let first = first_entry(&tar, true).unwrap().unwrap();
            assert_eq!(first.kind, EntryKind::File);
            assert_eq!(first.mode, 0o751);
            assert_eq!(first.uid, 1000);
            let start = first.data_offset;
            assert_eq!(&tar[start..start + first.size as usize], content);
        }
    }

    #[test]
    fn partial_header_asks_for_more() {
        let tar = single_file("x", b"1", 0o644, 0, 0).unwrap();
        assert!(first_entry(&tar[..100], false).unwrap().is_none());
        assert!(first_entry(&tar[..100], true).is_err());
    }
}
