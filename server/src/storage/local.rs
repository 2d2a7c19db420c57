//! Streaming writes to a local directory, and upload sessions staged in one file.
//!
//! object_store's local multipart upload writes each part from a fresh blocking task and
//! flushes the whole file only at the end, so a durable 1 GiB push spent a third of its time in
//! that last `fsync`. Here one blocking thread per write takes batches of the request's own
//! buffers through a bounded channel while the request task hashes the next ones. With fsync
//! on, the thread writes around the page cache (`O_DIRECT`, see [`write_direct`]): the bytes
//! must reach the disk before the answer anyway. With fsync off, it writes through the page
//! cache (no copy of the request's buffers), where the push can end before the disk has it.
//!
//! Upload sessions append every chunk to one staging file (`uploads/<id>.data`) instead of one
//! object per chunk that completion then copies, so each byte reaches the disk once. The file
//! is `flock`ed while a chunk is written or the session is published, which keeps appends and
//! completion apart across processes sharing the directory; a published file (hard-linked to
//! the blob's key) is never written again.

use std::fs::File;
use std::io::{self, IoSlice, Seek, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use super::{StorageError, StorageKey};

/// Bytes the request task gathers before handing them to the writing thread.
const BATCH: usize = 1024 * 1024;
/// Batches queued for the writing thread; bounds the memory one write holds.
const BATCHES_IN_FLIGHT: usize = 4;
/// With fsync on, written bytes between two background `fdatasync`s.
const WRITEBACK_EVERY: u64 = 16 * 1024 * 1024;

/// A directory of objects, named as object_store's `LocalFileSystem` names them (the keys Wharf
/// spells need no escaping), so both read and list the same files.
#[derive(Debug, Clone)]
pub(super) struct LocalDir {
    root: PathBuf,
    fsync: bool,
}

enum Batch {
    Data(Vec<Bytes>),
    End,
}

impl LocalDir {
    pub(super) fn new(root: PathBuf, fsync: bool) -> Self {
        Self { root, fsync }
    }

    pub(super) fn path(&self, key: &StorageKey) -> PathBuf {
        self.root.join(key.to_string())
    }

    /// Streams `body` into a new file that replaces `key` atomically once complete; on any
    /// error, or when the future is dropped, nothing is left.
    pub(super) async fn write_new<S, E>(
        &self,
        key: &StorageKey,
        body: S,
        observe: impl FnMut(&[u8]),
    ) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let dest = self.path(key);
        let fsync = self.fsync;
        let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
        let writer = tokio::task::spawn_blocking(move || -> io::Result<u64> {
            let (file, staging) = create_staging(&dest, fsync)?;
            let file = Arc::new(file);
            let written = if fsync && set_direct(&file, true) {
                write_direct(&file, rx, 0)
            } else {
                write_from(&file, rx, fsync)
            };
            let written = written.and_then(|n| {
                if fsync {
                    file.sync_data()?;
                }
                std::fs::rename(&staging, &dest)?;
                if fsync {
                    sync_parent(&dest)?;
                }
                Ok(n)
            });
            if written.is_err() {
                std::fs::remove_file(&staging).ok();
            }
            written
        });
        finish(feed(tx, body, observe).await, writer).await
    }

    /// Locks the staging file of `key` for appending, creating it if needed. Fails with
    /// [`StorageError::Busy`] while another request holds it, and with `NotFound` once it was
    /// published or removed (the session is over).
    pub(super) async fn stage(&self, key: &StorageKey) -> Result<Staged, StorageError> {
        let path = self.path(key);
        let key_name = key.to_string();
        let fsync = self.fsync;
        let at = path.clone();
        let file = tokio::task::spawn_blocking(move || -> Result<File, StorageError> {
            let file = open_staged(&at, fsync)?;
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => return Err(StorageError::Busy(key_name)),
                Err(e) => return Err(io::Error::from(e).into()),
            }
            // Checked under the lock: the holder before us may have published or removed it, and
            // a published file shares its bytes with a blob.
            if file.metadata()?.nlink() != 1 || !still_at(&file, &at)? {
                return Err(StorageError::NotFound(key_name));
            }
            Ok(file)
        })
        .await
        .map_err(join_error)??;
        Ok(Staged { file: Arc::new(file), path, key: key.clone(), fsync })
    }

    /// Waits for the lock on the staging file of `key` (which must exist) and returns it, for
    /// publishing.
    pub(super) async fn stage_existing(&self, key: &StorageKey) -> Result<Staged, StorageError> {
        let path = self.path(key);
        let key_name = key.to_string();
        let at = path.clone();
        let file = tokio::task::spawn_blocking(move || -> Result<File, StorageError> {
            let file = match std::fs::OpenOptions::new().read(true).write(true).open(&at) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StorageError::NotFound(key_name));
                }
                Err(e) => return Err(e.into()),
            };
            rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(io::Error::from)?;
            if !still_at(&file, &at)? {
                return Err(StorageError::NotFound(key_name));
            }
            Ok(file)
        })
        .await
        .map_err(join_error)??;
        Ok(Staged { file: Arc::new(file), path, key: key.clone(), fsync: self.fsync })
    }
}

/// A locked staging file; the lock goes with the last handle.
pub struct Staged {
    file: Arc<File>,
    path: PathBuf,
    key: StorageKey,
    fsync: bool,
}

impl Staged {
    /// Writes `body` at `offset`, dropping whatever an earlier failed append left past it, and
    /// with fsync on makes it durable before returning; a failed append leaves the file at
    /// `offset`. Returns the bytes written.
    pub(super) async fn append<S, E>(
        &self,
        offset: u64,
        body: S,
        observe: impl FnMut(&[u8]),
    ) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let file = Arc::clone(&self.file);
        let fsync = self.fsync;
        let key = self.key.to_string();
        let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
        let writer = tokio::task::spawn_blocking(move || -> io::Result<u64> {
            let len = file.metadata()?.len();
            if len < offset {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{key} holds {len} bytes, the session recorded {offset}"),
                ));
            }
            let written = if fsync && set_direct(&file, true) {
                write_direct(&file, rx, offset).map(|end| end - offset)
            } else {
                if len > offset {
                    file.set_len(offset)?;
                }
                (&*file).seek(io::SeekFrom::Start(offset))?;
                write_from(&file, rx, fsync)
            };
            let written = written.and_then(|n| {
                if fsync {
                    file.sync_data()?;
                }
                Ok(n)
            });
            if written.is_err() {
                // Give back what the failed chunk took (a full disk most of all); the next
                // append would drop it anyway.
                file.set_len(offset).ok();
            }
            written
        });
        finish(feed(tx, body, observe).await, writer).await
    }

    /// Publishes the first `len` bytes as `to` (a hard link, replacing `to` atomically); the
    /// staging file stays, so a commit that must write again can.
    pub(super) async fn publish(&self, len: u64, to: PathBuf) -> Result<(), StorageError> {
        let file = Arc::clone(&self.file);
        let fsync = self.fsync;
        let from = self.key.to_string();
        // Linking by the staging file's path is linking this file: the path was checked to be
        // it under the lock, and nothing renames a staging file.
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StorageError> {
            let have = file.metadata()?.len();
            if have < len {
                return Err(StorageError::NotFound(from));
            }
            if have > len {
                file.set_len(len)?;
                if fsync {
                    file.sync_data()?;
                }
            }
            let staging = staging_name(&to);
            let link = || std::fs::hard_link(&path, &staging);
            match link() {
                Err(e) if e.kind() == io::ErrorKind::NotFound && path.exists() => {
                    create_parents(&to, fsync)?;
                    link()?;
                }
                other => other?,
            }
            if let Err(e) = std::fs::rename(&staging, &to) {
                std::fs::remove_file(&staging).ok();
                return Err(e.into());
            }
            if fsync {
                sync_parent(&to)?;
            }
            Ok(())
        })
        .await
        .map_err(join_error)?
    }
}

/// Sends `body` to the writing thread in batches, calling `observe` on every chunk in order.
async fn feed<S, E>(
    tx: mpsc::Sender<Batch>,
    body: S,
    mut observe: impl FnMut(&[u8]),
) -> Result<(), StorageError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut batch = Vec::new();
    let mut batched = 0;
    // A send fails only when the writer stopped; its own error is the one to report.
    let writer_stopped = || StorageError::Io(io::Error::other("the writer stopped"));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StorageError::Body(e.to_string()))?;
        observe(&chunk);
        batched += chunk.len();
        batch.push(chunk);
        if batched >= BATCH {
            tx.send(Batch::Data(std::mem::take(&mut batch))).await.map_err(|_| writer_stopped())?;
            batched = 0;
        }
    }
    if !batch.is_empty() {
        tx.send(Batch::Data(batch)).await.map_err(|_| writer_stopped())?;
    }
    tx.send(Batch::End).await.map_err(|_| writer_stopped())
}

/// The write's outcome: the body's failure if it failed, else the writer's.
async fn finish(
    fed: Result<(), StorageError>,
    writer: tokio::task::JoinHandle<io::Result<u64>>,
) -> Result<u64, StorageError> {
    let written = writer.await.map_err(join_error)?;
    match fed {
        Err(e @ StorageError::Body(_)) => Err(e),
        _ => Ok(written?),
    }
}

fn join_error(e: tokio::task::JoinError) -> StorageError {
    StorageError::Io(io::Error::other(format!("a storage task failed: {e}")))
}

/// Writes every batch from `rx` at the file's position until `End`; a closed channel without
/// `End` (the request went away) is an error. With `fsync`, starts writeback behind itself.
fn write_from(file: &Arc<File>, mut rx: mpsc::Receiver<Batch>, fsync: bool) -> io::Result<u64> {
    let syncing = Arc::new(AtomicBool::new(false));
    let mut written = 0u64;
    let mut unsynced = 0u64;
    loop {
        match rx.blocking_recv() {
            Some(Batch::Data(bufs)) => {
                let n = write_all_vectored(&mut &**file, &bufs)?;
                written += n;
                unsynced += n;
                if fsync && unsynced >= WRITEBACK_EVERY && !syncing.swap(true, Ordering::AcqRel) {
                    unsynced = 0;
                    let (file, syncing) = (Arc::clone(file), Arc::clone(&syncing));
                    // A failure here is seen again by the final, awaited sync.
                    tokio::runtime::Handle::current().spawn_blocking(move || {
                        file.sync_data().ok();
                        syncing.store(false, Ordering::Release);
                    });
                }
            }
            Some(Batch::End) => return Ok(written),
            None => return Err(io::Error::new(io::ErrorKind::Interrupted, "the write was abandoned")),
        }
    }
}

fn write_all_vectored(out: &mut impl Write, bufs: &[Bytes]) -> io::Result<u64> {
    let total: usize = bufs.iter().map(Bytes::len).sum();
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total as u64)
}

/// A name beside `dest` that object_store's listing skips (`#` and digits).
fn staging_name(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(format!("#{}", rand::random::<u64>()));
    name.into()
}

/// Whether `path` still names the file `file` has open.
fn still_at(file: &File, path: &Path) -> io::Result<bool> {
    let open = file.metadata()?;
    Ok(std::fs::metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == (open.dev(), open.ino())))
}

fn create_staging(dest: &Path, fsync: bool) -> io::Result<(File, PathBuf)> {
    let staging = staging_name(dest);
    let open = || std::fs::OpenOptions::new().write(true).create_new(true).open(&staging);
    let file = match open() {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_parents(dest, fsync)?;
            open()?
        }
        Err(e) => return Err(e),
    };
    Ok((file, staging))
}

/// The alignment direct writes keep (in memory and in the file): the page size, a multiple of
/// any block size Linux file systems use below it.
const ALIGN: usize = 4096;
/// Bytes one direct write hands the disk.
const DIRECT_BUF: usize = 4 * 1024 * 1024;

/// Turns direct I/O on or off for `file`; false when the file system does not do it (tmpfs
/// before Linux 6.6, some FUSE ones), which then gets the page cache.
fn set_direct(file: &File, on: bool) -> bool {
    let Ok(flags) = rustix::fs::fcntl_getfl(file) else { return false };
    let flags = if on { flags | rustix::fs::OFlags::DIRECT } else { flags - rustix::fs::OFlags::DIRECT };
    rustix::fs::fcntl_setfl(file, flags).is_ok()
}

/// Writes every batch from `rx` into `file` from offset `start` (the bytes before it kept) until
/// `End`, bypassing the page cache, and cuts the file there; returns the file's new length.
///
/// With fsync on, every byte must reach the disk before the push is answered anyway; written
/// through the page cache, each new page first had to be allocated and copied into, which on
/// the development VM cost more than the disk itself (61 % of a push's server time in the
/// kernel's copy; a buffered 1 GiB write with `fdatasync` took 1.6–4.5 s, a direct one 0.8 s).
/// The bytes are gathered into one aligned buffer (a copy in cache, far cheaper than the
/// kernel's into fresh pages) and written in [`DIRECT_BUF`] blocks; the last block is padded to
/// [`ALIGN`] and the file cut back to its length. An unaligned `start` re-reads its block's head.
fn write_direct(file: &File, mut rx: mpsc::Receiver<Batch>, start: u64) -> io::Result<u64> {
    let mut raw = vec![0u8; DIRECT_BUF + ALIGN];
    let at = raw.as_ptr().align_offset(ALIGN);
    let buf = &mut raw[at..at + DIRECT_BUF];
    let mut direct = true;
    let mut pos = start - start % ALIGN as u64;
    let mut fill = (start - pos) as usize;
    if fill > 0 {
        read_head(file, &mut buf[..ALIGN], pos, fill, &mut direct)?;
    }
    loop {
        match rx.blocking_recv() {
            Some(Batch::Data(bufs)) => {
                for b in &bufs {
                    let mut src = &b[..];
                    while !src.is_empty() {
                        let n = src.len().min(DIRECT_BUF - fill);
                        buf[fill..fill + n].copy_from_slice(&src[..n]);
                        fill += n;
                        src = &src[n..];
                        if fill == DIRECT_BUF {
                            write_block(file, buf, pos, &mut direct)?;
                            pos += DIRECT_BUF as u64;
                            fill = 0;
                        }
                    }
                }
            }
            Some(Batch::End) => {
                if fill > 0 {
                    let padded = fill.next_multiple_of(ALIGN);
                    buf[fill..padded].fill(0);
                    write_block(file, &buf[..padded], pos, &mut direct)?;
                }
                let end = pos + fill as u64;
                file.set_len(end)?;
                return Ok(end);
            }
            None => return Err(io::Error::new(io::ErrorKind::Interrupted, "the write was abandoned")),
        }
    }
}

/// Reads the `need` bytes of the block at `pos` that precede an unaligned append.
fn read_head(file: &File, block: &mut [u8], pos: u64, need: usize, direct: &mut bool) -> io::Result<()> {
    let mut got = 0;
    while got < need {
        // Direct reads need an aligned offset: the block is read whole from its start again.
        match file.read_at(&mut block[..], pos) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got = n,
            Err(e) if *direct && e.raw_os_error() == Some(libc::EINVAL) => {
                *direct = false;
                set_direct(file, false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `data` at `pos`; if the file system refuses the direct write (a block size above
/// [`ALIGN`]), this and every later block go through the page cache.
fn write_block(file: &File, data: &[u8], pos: u64, direct: &mut bool) -> io::Result<()> {
    match file.write_all_at(data, pos) {
        Err(e) if *direct && e.raw_os_error() == Some(libc::EINVAL) => {
            *direct = false;
            set_direct(file, false);
            file.write_all_at(data, pos)
        }
        other => other,
    }
}

/// Opens the staging file at `path`, creating it (durably, with `fsync`) when missing.
fn open_staged(path: &Path, fsync: bool) -> io::Result<File> {
    let mut existing = std::fs::OpenOptions::new();
    existing.read(true).write(true);
    let mut new = existing.clone();
    new.create_new(true);
    let created = match new.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return existing.open(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_parents(path, fsync)?;
            new.open(path)?
        }
        Err(e) => return Err(e),
    };
    if fsync {
        sync_parent(path)?;
    }
    Ok(created)
}

/// Creates the missing directories above `path`; with `fsync`, makes each new entry durable.
fn create_parents(path: &Path, fsync: bool) -> io::Result<()> {
    let Some(parent) = path.parent() else { return Ok(()) };
    let mut missing = Vec::new();
    let mut dir = parent;
    while !dir.exists() {
        missing.push(dir);
        match dir.parent() {
            Some(up) => dir = up,
            None => break,
        }
    }
    std::fs::create_dir_all(parent)?;
    if fsync {
        for created in missing.iter().rev() {
            sync_parent(created)?;
        }
    }
    Ok(())
}

/// Makes `path`'s directory entry durable.
fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `data` in uneven chunks to [`write_direct`] from `start` and returns the file.
    fn direct_write(path: &Path, start: u64, data: &[u8]) -> io::Result<(u64, Vec<u8>)> {
        let file = std::fs::OpenOptions::new().read(true).write(true).open(path)?;
        // Where the file system does not do direct I/O, the same code runs through the cache.
        set_direct(&file, true);
        let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
        let chunks: Vec<Bytes> = data.chunks(777_777).map(Bytes::copy_from_slice).collect();
        let feeder = std::thread::spawn(move || {
            for c in chunks.chunks(3) {
                tx.blocking_send(Batch::Data(c.to_vec())).expect("send");
            }
            tx.blocking_send(Batch::End).expect("send end");
        });
        let end = write_direct(&file, rx, start)?;
        feeder.join().expect("feeder");
        Ok((end, std::fs::read(path)?))
    }

    #[test]
    fn direct_writes_keep_the_bytes_before_and_cut_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let old: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
        let new: Vec<u8> = (0..(DIRECT_BUF as u32 * 2 + 5)).map(|i| (i % 239) as u8 ^ 0x5A).collect();
        let starts = [0, 1, 4095, 4096, 3_000_000, 9_000_000];
        for start in starts {
            for len in [0, 1, 4097, DIRECT_BUF, new.len()] {
                std::fs::write(&path, &old).expect("old bytes");
                let (end, got) = direct_write(&path, start as u64, &new[..len]).expect("write");
                let mut want = old[..start].to_vec();
                want.extend_from_slice(&new[..len]);
                assert_eq!(end, want.len() as u64, "start {start}, len {len}");
                assert!(got == want, "start {start}, len {len}: the file differs");
            }
        }
        // The writer going away before the end is an error, not a short file taken for whole.
        std::fs::write(&path, &old).expect("old bytes");
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).expect("open");
        let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
        tx.blocking_send(Batch::Data(vec![Bytes::from_static(b"partial")])).expect("send");
        drop(tx);
        assert!(write_direct(&file, rx, 10).is_err());
    }

    #[test]
    fn direct_io_is_on_where_the_file_system_does_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = File::create(dir.path().join("f")).expect("create");
        let on = set_direct(&file, true);
        let flags = rustix::fs::fcntl_getfl(&file).expect("flags");
        assert_eq!(on, flags.contains(rustix::fs::OFlags::DIRECT));
        if on {
            assert!(set_direct(&file, false));
            let flags = rustix::fs::fcntl_getfl(&file).expect("flags");
            assert!(!flags.contains(rustix::fs::OFlags::DIRECT));
        }
    }
}
