//! The storage the log runs on, behind a small trait so that tests can
//! crash it at any byte and make it fail on purpose.
//!
//! Owns: nothing but the contract. [`crate::RealDisk`] implements it over
//! `std::fs`; [`crate::SimDisk`] in memory, with crashes and faults.
//!
//! The contract, which the writer relies on:
//! - bytes appended to a file are durable only after [`DiskFile::sync`]
//!   returns `Ok`; a crash keeps the synced bytes and any prefix of the rest;
//! - a file created, renamed or removed is durable in its directory only
//!   after [`Disk::sync_dir`] on that directory returns `Ok`;
//! - [`DiskFile::append`] may have written part of its bytes when it fails;
//! - after a failed `sync`, the bytes written since the last good sync may
//!   never reach the disk, even if a later `sync` succeeds: write them again.

use std::io;
use std::path::Path;

pub trait Disk: Send + Sync {
    /// Creates `dir` and its parents if they are missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files in `dir` (not paths; order unspecified).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates a new, empty file; fails if `path` exists.
    fn create(&self, path: &Path) -> io::Result<Box<dyn DiskFile>>;
    /// Opens an existing file for reading and appending.
    fn open(&self, path: &Path) -> io::Result<Box<dyn DiskFile>>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// An open file: reads anywhere, writes only at the end.
#[allow(clippy::len_without_is_empty)] // a log file is never asked that
pub trait DiskFile: Send {
    /// The file's current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read
    /// (0 at the end of the file).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Appends `data` at the end of the file.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes the file's bytes durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes; later appends continue from there.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// Fills `buf` from `offset`, or fails with `UnexpectedEof`.
pub fn read_exact_at(file: &dyn DiskFile, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(offset, buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file ended before the bytes expected",
                ))
            }
            Ok(read) => {
                offset += read as u64;
                buf = &mut buf[read..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
