//! The file system as the snapshot code sees it: a handful of operations
//! behind a trait, so tests and a deterministic simulation can put another
//! disk underneath (one that fails, fills up or loses unsynced writes).
//!
//! Owns: every file-system call of this crate; nothing else in the crate
//! touches `std::fs`.
//! Must never: hide an error (each one is returned to the caller), or
//! report a write or rename durable before its `sync`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

/// A file open for writing.
pub trait WriteFile: Write + Send {
    /// Makes everything written so far durable (`fsync`).
    fn sync(&mut self) -> io::Result<()>;
}

/// A file open for reading.
pub trait ReadFile: Read + Seek + Send {
    fn size_bytes(&mut self) -> io::Result<u64>;
}

/// The operations the snapshot code needs from a file system.
pub trait Storage: Send + Sync {
    /// Creates `path`, truncating any file already there.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>>;
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadFile>>;
    /// Replaces `to` by `from` atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files in `dir` (names that are not UTF-8 are left out).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// The operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsStorage;

impl WriteFile for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

impl ReadFile for File {
    fn size_bytes(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl Storage for OsStorage {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(file))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        Ok(Box::new(File::open(path)?))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
}
