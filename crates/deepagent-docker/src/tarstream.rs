//! Reading a tar stream that a container's `tar` prints, one piece at a
//! time, without trusting a byte of it.
//!
//! grep reads file contents as `tar -cf - FILES` run in the container. The
//! `tar` crate wants the whole archive (or a blocking reader) and sizes
//! long names and pax records by their headers, so a `tar` that lies about
//! a size can make the host reserve or read without end. [`TarStream`]
//! instead is fed the bytes as they arrive and hands each regular file's
//! content on to a [`FileSink`] as it streams past: the host holds one
//! header and one piece of content at a time, whatever the headers claim.
//! A size the stream does not back up (the archive ends first) is an error
//! naming the container.

use deepagent_core::{BackendError, Result};

/// The most bytes a GNU long name or a pax header may hold: real ones are
/// a path (at most a few KiB); a bigger claim is a lying `tar`.
const MAX_META: u64 = 64 * 1024;

const BLOCK: usize = 512;

/// Receives the regular files of an archive as they stream past.
pub(crate) trait FileSink {
    /// A regular file named `path` (as stored, e.g. `./src/a.py`) starts.
    fn start(&mut self, path: &[u8]);
    /// The next piece of its content; false when the sink wants nothing
    /// more of the whole archive.
    fn data(&mut self, bytes: &[u8]) -> bool;
    /// The file ended with all the bytes its header promised.
    fn end(&mut self);
    /// A hard link `path` to the earlier entry `target` (GNU `tar -h`
    /// stores a file reached twice, by a link or by asking twice, this
    /// way, with no content of its own).
    fn hard_link(&mut self, _path: &[u8], _target: &[u8]) {}
}

enum State {
    /// Collecting a 512-byte header in `header`.
    Header,
    /// A long name (`L`), long link name (`K`) or pax header (`x`) being
    /// collected into `meta`.
    Meta { kind: u8, left: u64, pad: u64 },
    /// A file's content (handed to the sink when `active`), then padding.
    Data { left: u64, pad: u64, active: bool },
    /// Padding after an entry.
    Pad { left: u64 },
    /// The end-of-archive block was seen; the rest is ignored.
    End,
}

/// A tar stream being read (see the module docs).
pub(crate) struct TarStream<'a, S: FileSink> {
    container: &'a str,
    state: State,
    header: Vec<u8>,
    meta: Vec<u8>,
    /// The name a long-name or pax header gave the next entry.
    next_name: Option<Vec<u8>>,
    /// The link target a long-link-name header gave the next entry.
    next_link: Option<Vec<u8>>,
    /// The file being streamed, for the error when the archive ends early.
    current: Option<(Vec<u8>, u64)>,
    sink: S,
}

impl<'a, S: FileSink> TarStream<'a, S> {
    /// A reader of the archive that `container`'s `tar` prints.
    pub(crate) fn new(container: &'a str, sink: S) -> Self {
        TarStream {
            container,
            state: State::Header,
            header: Vec::with_capacity(BLOCK),
            meta: Vec::new(),
            next_name: None,
            next_link: None,
            current: None,
            sink,
        }
    }

    /// Feeds the next bytes of the stream. `Ok(false)` when the sink wants
    /// no more.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<bool> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::End => return Ok(true),
                State::Header => {
                    let take = (BLOCK - self.header.len()).min(bytes.len());
                    self.header.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.header.len() == BLOCK {
                        self.header_done()?;
                        self.header.clear();
                    }
                }
                State::Meta { kind, left, pad } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    self.meta.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    *left -= take as u64;
                    if *left == 0 {
                        if *kind == b'K' {
                            self.next_link = Some(cstr(&self.meta).to_vec());
                        } else {
                            let name = if *kind == b'x' {
                                pax_path(&self.meta)
                            } else {
                                Some(cstr(&self.meta).to_vec())
                            };
                            if name.is_some() {
                                self.next_name = name;
                            }
                        }
                        self.meta.clear();
                        self.state = State::Pad { left: *pad };
                    }
                }
                State::Data { left, pad, active } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    let more = !*active || self.sink.data(&bytes[..take]);
                    bytes = &bytes[take..];
                    *left -= take as u64;
                    if !more {
                        return Ok(false);
                    }
                    if *left == 0 {
                        if *active {
                            self.sink.end();
                        }
                        self.current = None;
                        self.state = State::Pad { left: *pad };
                    }
                }
                State::Pad { left } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    bytes = &bytes[take..];
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::Header;
                    }
                }
            }
        }
        // Empty padding or an empty file is done without more bytes.
        if let State::Pad { left: 0 } = self.state {
            self.state = State::Header;
        }
        Ok(true)
    }

    /// The stream ended: an error when it ended inside an entry whose size
    /// its header claimed.
    pub(crate) fn finish(self) -> Result<S> {
        match (&self.state, &self.current) {
            (State::Data { left, .. }, Some((name, size))) if *left > 0 => {
                Err(BackendError::other(format!(
                    "tar in container {} claimed {} holds {size} bytes but its archive ended {left} bytes short; the container's `tar` does not behave as expected (replaced or broken?), or the file shrank while it was read",
                    self.container,
                    String::from_utf8_lossy(name)
                )))
            }
            (State::Meta { .. }, _) => Err(self.garbled("the archive ended inside a header")),
            _ => Ok(self.sink),
        }
    }

    /// The sink, to prepare it before the archive's bytes arrive.
    pub(crate) fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// The sink, when reading stopped before the stream ended.
    pub(crate) fn into_sink(self) -> S {
        self.sink
    }

    fn header_done(&mut self) -> Result<()> {
        let h = &self.header[..];
        if h.iter().all(|&b| b == 0) {
            self.state = State::End;
            return Ok(());
        }
        let stored: u64 =
            octal(&h[148..156]).ok_or_else(|| self.garbled("a bad checksum field"))?;
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if sum != stored {
            return Err(self.garbled("a header whose checksum does not match"));
        }
        let size = size_field(&h[124..136]).ok_or_else(|| self.garbled("a bad size field"))?;
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let typeflag = h[156];
        match typeflag {
            b'L' | b'K' | b'x' => {
                if size > MAX_META {
                    return Err(BackendError::other(format!(
                        "tar in container {} sent a {size}-byte name header (at most {MAX_META}); the container's `tar` does not behave as expected (replaced or broken?)",
                        self.container
                    )));
                }
                self.state = State::Meta {
                    kind: typeflag,
                    left: size,
                    pad,
                };
            }
            b'1' => {
                let name = self.entry_name();
                let target = match self.next_link.take() {
                    Some(t) => t,
                    None => cstr(&self.header[157..257]).to_vec(),
                };
                self.sink.hard_link(&name, &target);
                self.state = State::Data {
                    left: size,
                    pad,
                    active: false,
                };
            }
            b'0' | b'\0' | b'7' => {
                self.next_link = None;
                let name = self.entry_name();
                self.sink.start(&name);
                self.current = Some((name, size));
                self.state = State::Data {
                    left: size,
                    pad,
                    active: true,
                };
            }
            _ => {
                self.next_name = None;
                self.next_link = None;
                self.state = State::Data {
                    left: size,
                    pad,
                    active: false,
                };
            }
        }
        if let State::Data {
            left: 0,
            active: true,
            ..
        } = self.state
        {
            self.sink.end();
            self.current = None;
            self.state = State::Pad { left: pad };
        } else if let State::Data { left: 0, .. } = self.state {
            self.state = State::Pad { left: pad };
        }
        Ok(())
    }

    /// The entry's name: from a long-name or pax header, else the
    /// header's own (with its ustar prefix).
    fn entry_name(&mut self) -> Vec<u8> {
        if let Some(n) = self.next_name.take() {
            return n;
        }
        let h = &self.header[..];
        let name = cstr(&h[0..100]);
        let prefix = cstr(&h[345..500]);
        if &h[257..262] == b"ustar" && !prefix.is_empty() {
            [prefix, b"/", name].concat()
        } else {
            name.to_vec()
        }
    }

    fn garbled(&self, what: &str) -> BackendError {
        BackendError::other(format!(
            "tar in container {} sent {what}; the container's `tar` does not behave as expected (replaced or broken?)",
            self.container
        ))
    }
}

/// The `path` record of a pax header (`<len> path=<value>\n` records).
fn pax_path(mut records: &[u8]) -> Option<Vec<u8>> {
    while !records.is_empty() {
        let space = records.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&records[..space]).ok()?.parse().ok()?;
        if len <= space || len > records.len() {
            return None;
        }
        let record = &records[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(value) = record.strip_prefix(b"path=") {
            return Some(value.to_vec());
        }
        records = &records[len..];
    }
    None
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(cstr(field)).ok()?;
    let digits = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// A size field: octal, or GNU base-256 for sizes past 8 GiB.
fn size_field(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(n);
    }
    octal(field)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        files: Vec<(String, Vec<u8>)>,
        open: Option<(String, Vec<u8>)>,
        stop_after: Option<usize>,
        links: Vec<(String, String)>,
    }

    impl FileSink for Collect {
        fn start(&mut self, path: &[u8]) {
            self.open = Some((String::from_utf8_lossy(path).into_owned(), Vec::new()));
        }
        fn data(&mut self, bytes: &[u8]) -> bool {
            if let Some((_, c)) = &mut self.open {
                c.extend_from_slice(bytes);
            }
            self.stop_after
                .is_none_or(|n| self.open.as_ref().is_some_and(|(_, c)| c.len() < n))
        }
        fn end(&mut self) {
            self.files.extend(self.open.take());
        }
        fn hard_link(&mut self, path: &[u8], target: &[u8]) {
            self.links.push((
                String::from_utf8_lossy(path).into_owned(),
                String::from_utf8_lossy(target).into_owned(),
            ));
        }
    }

    /// A plain tar of regular files, for the tests of this parser and its sinks.
    pub(crate) fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *content).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn read_in_pieces(bytes: &[u8], piece: usize) -> Result<Vec<(String, Vec<u8>)>> {
        let mut t = TarStream::new("box-1", Collect::default());
        for chunk in bytes.chunks(piece) {
            t.feed(chunk)?;
        }
        Ok(t.finish()?.files)
    }

    #[test]
    fn reads_files_and_long_names_in_any_piece_size() {
        let long = format!("{}/f.txt", "d".repeat(200));
        let big = vec![b'x'; 3000];
        let tar = archive(&[("a.txt", b"one\n"), (&long, b""), ("b", &big)]);
        for piece in [1, 7, 511, 512, 513, 4096, tar.len()] {
            let files = read_in_pieces(&tar, piece).unwrap();
            assert_eq!(files.len(), 3, "piece {piece}");
            assert_eq!(files[0], ("a.txt".to_owned(), b"one\n".to_vec()));
            assert_eq!(files[1], (long.clone(), Vec::new()));
            assert_eq!(files[2].1, big);
        }
    }

    /// GNU `tar -h` stores a file reached twice as a hard link: the sink
    /// hears of it, with a long (`K` header) target too, and the file
    /// after it is read normally.
    #[test]
    fn hard_links_reach_the_sink() {
        let long = format!("./{}/t", "k".repeat(150));
        let mut b = tar::Builder::new(Vec::new());
        for (path, target) in [("./l1", "./a"), ("./l2", long.as_str())] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, path, target).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "./after", &b"z"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        for piece in [1, 512, tar.len()] {
            let mut t = TarStream::new("c", Collect::default());
            for chunk in tar.chunks(piece) {
                t.feed(chunk).unwrap();
            }
            let sink = t.finish().unwrap();
            assert_eq!(
                sink.links,
                [
                    ("l1".to_owned(), "./a".to_owned()),
                    ("l2".to_owned(), long.clone())
                ]
            );
            assert_eq!(sink.files, [("after".to_owned(), b"z".to_vec())]);
        }
    }

    #[test]
    fn pax_path_is_used() {
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("path", &b"./pax name"[..])])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "short", &b"hi"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let files = read_in_pieces(&tar, 100).unwrap();
        assert_eq!(files, vec![("./pax name".to_owned(), b"hi".to_vec())]);
    }

    /// A header claiming 1 TiB that the stream does not back is an error
    /// naming the container, and nothing of that size is ever reserved.
    #[test]
    fn lying_sizes_are_errors_naming_the_container() {
        let mut tar = archive(&[("./big", b"abc")]);
        let mut h = tar::Header::new_gnu();
        h.set_path("./big").unwrap();
        h.set_size(1 << 40);
        h.set_mode(0o644);
        h.set_cksum();
        tar[..512].copy_from_slice(h.as_bytes());
        let err = read_in_pieces(&tar, 1000).unwrap_err().to_string();
        assert!(
            err.contains("box-1") && err.contains("1099511627776"),
            "{err}"
        );

        let mut h = tar::Header::new_gnu();
        h.set_path("././@LongLink").unwrap();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(1 << 40);
        h.set_cksum();
        let err = read_in_pieces(h.as_bytes(), 512).unwrap_err().to_string();
        assert!(
            err.contains("box-1") && err.contains("name header"),
            "{err}"
        );

        let err = read_in_pieces(&[7u8; 512], 512).unwrap_err().to_string();
        assert!(err.contains("box-1") && err.contains("checksum"), "{err}");
    }

    #[test]
    fn sink_can_stop_early() {
        let tar = archive(&[("./a", &[b'a'; 5000]), ("./b", b"b")]);
        let mut t = TarStream::new(
            "c",
            Collect {
                stop_after: Some(1000),
                ..Default::default()
            },
        );
        let mut stopped = false;
        for chunk in tar.chunks(600) {
            if !t.feed(chunk).unwrap() {
                stopped = true;
                break;
            }
        }
        assert!(stopped);
    }
}
