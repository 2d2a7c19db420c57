//! One layer's entries, read from its compressed tar archive as a stream: nothing is unpacked to
//! disk and memory holds only the list (each entry's path, kind, size, mode, link target and a
//! CRC-32 of its content, so two images can be compared file by file).

use std::io::{self, BufRead, BufReader, Read};

use flate2::CrcReader;
use flate2::read::MultiGzDecoder;
use frontend::types::{FileKind, LayerFile};

/// Entries read from one layer at most; a larger layer is listed up to here and marked
/// truncated (a listing of a million entries is not something a person reads, and the cap
/// bounds the memory one view can take).
pub const MAX_ENTRIES: usize = 200_000;

/// One entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the image without the leading `/` (`usr/bin/env`); for a whiteout, the path it
    /// deletes; for an opaque marker, the directory it empties (`""` for the root).
    pub path: Box<str>,
    /// What it is.
    pub kind: FileKind,
    /// A regular file's size.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// A link's target.
    pub target: Option<Box<str>>,
    /// CRC-32 of a regular file's content (0 otherwise).
    pub crc: u32,
}

impl Entry {
    /// The entry as the API shows it (`/`-rooted path).
    pub fn view(&self) -> LayerFile {
        LayerFile {
            path: format!("/{}", self.path),
            kind: self.kind,
            size: self.size,
            mode: self.mode,
            target: self.target.as_deref().map(str::to_owned),
        }
    }

    /// Rough bytes this entry holds in memory (for the cache's budget).
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.path.len() + self.target.as_ref().map_or(0, |t| t.len())
    }
}

/// A layer's entries in archive order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerIndex {
    /// The entries (at most [`MAX_ENTRIES`]).
    pub entries: Vec<Entry>,
    /// The archive had more entries than were kept.
    pub truncated: bool,
    /// Bytes of regular-file content.
    pub unpacked: u64,
}

impl LayerIndex {
    /// Rough bytes the index holds in memory.
    pub fn weight(&self) -> usize {
        std::mem::size_of::<Self>() + self.entries.iter().map(Entry::weight).sum::<usize>()
    }
}

/// Why a layer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The bytes are not a (gzip- or zstd-compressed) tar archive.
    #[error("not a readable tar archive: {0}")]
    Unreadable(String),
    /// Reading the blob itself failed.
    #[error("reading the layer failed: {0}")]
    Io(io::Error),
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// The prefix OCI and Docker use for whiteout files.
const WHITEOUT: &str = ".wh.";
/// The name of the marker that makes its directory opaque.
const OPAQUE: &str = ".wh..wh..opq";

/// Why an archive is unreadable, as a person can read it: the tar reader quotes the bytes it
/// choked on, which for a damaged layer are binary.
fn unreadable(e: io::Error) -> LayerError {
    let text: String =
        e.to_string().chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(160).collect();
    LayerError::Unreadable(text)
}

/// Reads the entries of the layer `blob` streams, at most `max_entries` of them. The compression
/// is recognised from the first bytes (gzip, zstd or none), not from the media type, which
/// builders do not always set right.
pub fn read(blob: impl Read, max_entries: usize) -> Result<LayerIndex, LayerError> {
    let mut blob = BufReader::with_capacity(256 * 1024, blob);
    let head = blob.fill_buf().map_err(LayerError::Io)?;
    if head.starts_with(GZIP_MAGIC) {
        entries(MultiGzDecoder::new(blob), max_entries)
    } else if head.starts_with(ZSTD_MAGIC) {
        // libzstd's streaming decoder reads every frame (zstd:chunked layers have many).
        let decoder = zstd::stream::read::Decoder::with_buffer(blob).map_err(LayerError::Io)?;
        entries(decoder, max_entries)
    } else {
        entries(blob, max_entries)
    }
}

/// The entries of the plain tar stream `tar`.
fn entries(tar: impl Read, max_entries: usize) -> Result<LayerIndex, LayerError> {
    let mut archive = tar::Archive::new(tar);
    let mut index = LayerIndex::default();
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        if index.entries.len() == max_entries {
            index.truncated = true;
            break;
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                FileKind::File
            }
            tar::EntryType::Directory => FileKind::Dir,
            tar::EntryType::Symlink => FileKind::Symlink,
            tar::EntryType::Link => FileKind::Hardlink,
            tar::EntryType::Char | tar::EntryType::Block => FileKind::Device,
            tar::EntryType::Fifo => FileKind::Fifo,
            // Metadata records (PAX globals, GNU long names) are folded into their entry by the
            // tar crate; anything else is not a file a container sees.
            _ => continue,
        };
        let mode = header.mode().unwrap_or(0) & 0o7777;
        let raw = entry.path().map_err(unreadable)?.to_string_lossy().into_owned();
        let Some(path) = normalize(&raw) else { continue };
        let target = match kind {
            FileKind::Symlink | FileKind::Hardlink => entry.link_name().map_err(unreadable)?.map(|t| {
                let t = t.to_string_lossy();
                // A hard link names another entry of the archive: show it as a path, like `path`.
                if kind == FileKind::Hardlink {
                    format!("/{}", normalize(&t).unwrap_or_default())
                } else {
                    t.into_owned()
                }
            }),
            _ => None,
        };
        let (name_at, name) = path.rsplit_once('/').map_or(("", path.as_str()), |(d, n)| (d, n));
        let (path, kind) = if name == OPAQUE {
            (name_at.to_owned(), FileKind::Opaque)
        } else if let Some(deleted) = name.strip_prefix(WHITEOUT) {
            // Other `.wh..wh.` names are the overlay driver's own bookkeeping (hard-link
            // directories), not files.
            if deleted.starts_with(WHITEOUT) || deleted.is_empty() {
                continue;
            }
            (
                if name_at.is_empty() { deleted.to_owned() } else { format!("{name_at}/{deleted}") },
                FileKind::Whiteout,
            )
        } else {
            (path, kind)
        };
        let (size, crc) = if kind == FileKind::File {
            // The content has to be read (decompressed) to reach the next entry anyway: a
            // checksum of it costs little more and lets a comparison see changed content.
            let mut sum = CrcReader::new(&mut entry);
            let size = io::copy(&mut sum, &mut io::sink()).map_err(unreadable)?;
            (size, sum.crc().sum())
        } else {
            (0, 0)
        };
        index.unpacked += size;
        index.entries.push(Entry {
            path: path.into_boxed_str(),
            kind,
            size,
            mode,
            target: target.map(String::into_boxed_str),
            crc,
        });
    }
    Ok(index)
}

/// `path` as an image path without the leading `/`: `.` and empty parts dropped, `..` never
/// climbing above the root. `None` for the root itself.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What a test layer holds.
    pub enum Item<'a> {
        File(&'a str, &'a [u8]),
        Dir(&'a str),
        Symlink(&'a str, &'a str),
        Hardlink(&'a str, &'a str),
    }

    /// A tar archive of `items`, in order.
    pub fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for item in items {
            let mut header = tar::Header::new_gnu();
            match item {
                Item::File(path, content) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(content.len() as u64);
                    header.set_mode(0o644);
                    builder.append_data(&mut header, path, *content).expect("file");
                }
                Item::Dir(path) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    header.set_mode(0o755);
                    builder.append_data(&mut header, path, io::empty()).expect("dir");
                }
                Item::Symlink(path, target) | Item::Hardlink(path, target) => {
                    let kind = if matches!(item, Item::Symlink(..)) {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    };
                    header.set_entry_type(kind);
                    header.set_size(0);
                    header.set_mode(0o777);
                    builder.append_link(&mut header, path, target).expect("link");
                }
            }
        }
        builder.into_inner().expect("tar")
    }

    /// `bytes` gzip-compressed.
    pub fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).expect("gzip");
        gz.finish().expect("gzip")
    }

    fn sample() -> Vec<u8> {
        tar_of(&[
            Item::Dir("./"),
            Item::Dir("./etc/"),
            Item::File("./etc/os-release", b"ID=wharf\n"),
            Item::Symlink("usr/bin/sh", "/bin/busybox"),
            Item::Hardlink("bin/ls", "./bin/busybox"),
            Item::File("tmp/.wh.cache", b""),
            Item::File("var/lib/.wh..wh..opq", b""),
            Item::File("var/.wh..wh.plnk", b""),
        ])
    }

    #[test]
    fn a_plain_gzip_and_zstd_layer_read_the_same() {
        let tar = sample();
        let plain = read(&tar[..], MAX_ENTRIES).expect("plain");
        assert_eq!(read(&gzip(&tar)[..], MAX_ENTRIES).expect("gzip"), plain);
        let zst = zstd::encode_all(&tar[..], 3).expect("zstd");
        assert_eq!(read(&zst[..], MAX_ENTRIES).expect("zstd"), plain);
        // Two zstd frames one after the other (zstd:chunked writes many) are one archive.
        let (a, b) = tar.split_at(1024);
        let mut two = zstd::encode_all(a, 1).expect("zstd");
        two.extend(zstd::encode_all(b, 1).expect("zstd"));
        assert_eq!(read(&two[..], MAX_ENTRIES).expect("two frames"), plain);
    }

    #[test]
    fn entries_whiteouts_and_links_are_read_as_a_container_sees_them() {
        let index = read(&sample()[..], MAX_ENTRIES).expect("read");
        let shown: Vec<(String, FileKind, u64, Option<String>)> =
            index.entries.iter().map(|e| (e.view().path, e.kind, e.size, e.view().target)).collect();
        assert_eq!(
            shown,
            vec![
                ("/etc".into(), FileKind::Dir, 0, None),
                ("/etc/os-release".into(), FileKind::File, 9, None),
                ("/usr/bin/sh".into(), FileKind::Symlink, 0, Some("/bin/busybox".into())),
                ("/bin/ls".into(), FileKind::Hardlink, 0, Some("/bin/busybox".into())),
                ("/tmp/cache".into(), FileKind::Whiteout, 0, None),
                ("/var/lib".into(), FileKind::Opaque, 0, None),
            ]
        );
        assert_eq!(index.unpacked, 9);
        assert_eq!(index.entries[1].mode, 0o644);
        assert_eq!(index.entries[1].crc, flate2::Crc::new().tap(b"ID=wharf\n"));
        assert!(!index.truncated);
    }

    trait Tap {
        fn tap(self, bytes: &[u8]) -> u32;
    }
    impl Tap for flate2::Crc {
        fn tap(mut self, bytes: &[u8]) -> u32 {
            self.update(bytes);
            self.sum()
        }
    }

    #[test]
    fn a_huge_layer_is_listed_up_to_the_cap() {
        let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
        let items: Vec<Item<'_>> = names.iter().map(|n| Item::File(n, b"x")).collect();
        let index = read(&tar_of(&items)[..], 4).expect("read");
        assert_eq!(index.entries.len(), 4);
        assert!(index.truncated);
    }

    #[test]
    fn garbage_and_a_cut_archive_are_refused_clearly() {
        // A block of text: its header checksum does not add up.
        let text = "not a tar archive ".repeat(64);
        assert!(matches!(read(text.as_bytes(), 10), Err(LayerError::Unreadable(_))));
        let gz = gzip(&sample());
        let cut = &gz[..gz.len() / 2];
        assert!(matches!(read(cut, 10), Err(LayerError::Unreadable(_))));
        let mut bad = gzip(&sample());
        bad[20] ^= 0xff;
        assert!(read(&bad[..], 10).is_err());
    }

    #[test]
    fn paths_never_climb_above_the_root() {
        assert_eq!(normalize("./a/../../b/./c/"), Some("b/c".into()));
        assert_eq!(normalize("/"), None);
        assert_eq!(normalize("./"), None);
    }
}
