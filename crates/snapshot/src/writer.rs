//! Writes one snapshot file and installs it atomically; meant to run on a
//! background thread that receives [`EncodedChunk`]s from the executor.
//!
//! Owns: the temporary file, the running file checksum and entry count,
//! the trailer, and installation (`fsync`, rename, directory `fsync`).
//! Must never: leave a `.snap` that is incomplete: the final name appears
//! only by rename after the file is durable.
//! Invariant: `crc` is the CRC-32C of every byte written so far, and
//! `entries` the sum of the chunks' counts.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::encode::EncodedChunk;
use crate::error::StorageError;
use crate::format::{snapshot_file_name, temporary_file_name, SnapshotHeader, END_MAGIC, END_TAG};
use crate::storage::{OsStorage, Storage, WriteFile};

/// Bytes buffered before a write to the file.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// One snapshot being written. Dropping it before [`finish`](Self::finish)
/// removes the temporary file (best effort), as [`abort`](Self::abort) does.
pub struct SnapshotWriter {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    lsn: u64,
    temporary: PathBuf,
    /// `None` once finished or aborted.
    file: Option<BufWriter<Box<dyn WriteFile>>>,
    crc: u32,
    entries: u64,
    bytes_written: u64,
}

impl SnapshotWriter {
    /// Creates `snapshot-<lsn>.tmp` in `dir` on the operating system's file
    /// system and writes the header.
    pub fn create(dir: &Path, header: &SnapshotHeader) -> Result<SnapshotWriter, StorageError> {
        SnapshotWriter::create_in(Arc::new(OsStorage), dir, header)
    }

    /// As [`create`](Self::create), on `storage`.
    pub fn create_in(
        storage: Arc<dyn Storage>,
        dir: &Path,
        header: &SnapshotHeader,
    ) -> Result<SnapshotWriter, StorageError> {
        let temporary = dir.join(temporary_file_name(header.lsn));
        let file = storage.create(&temporary).map_err(|source| StorageError {
            path: temporary.clone(),
            action: "create",
            source,
        })?;
        let mut writer = SnapshotWriter {
            storage,
            dir: dir.to_path_buf(),
            lsn: header.lsn,
            temporary,
            file: Some(BufWriter::with_capacity(WRITE_BUFFER_BYTES, file)),
            crc: 0,
            entries: 0,
            bytes_written: 0,
        };
        writer.write_checked(&header.encode())?;
        Ok(writer)
    }

    /// Appends the entries of `chunk`.
    pub fn write_chunk(&mut self, chunk: &EncodedChunk) -> Result<(), StorageError> {
        self.write_checked(&chunk.bytes)?;
        self.entries += chunk.entries;
        Ok(())
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Writes the trailer, makes the file durable, renames it to
    /// `snapshot-<lsn>.snap` and makes the rename durable. Returns the
    /// final path. On error the temporary file is removed; if only the
    /// directory sync failed, the `.snap` stays (it is complete) but the
    /// caller must not count on it surviving a crash.
    pub fn finish(mut self) -> Result<PathBuf, StorageError> {
        let mut counted = [0u8; 9];
        counted[0] = END_TAG;
        counted[1..].copy_from_slice(&self.entries.to_le_bytes());
        self.write_checked(&counted)?;
        let crc = self.crc;
        self.write_unchecked(&crc.to_le_bytes())?;
        self.write_unchecked(&END_MAGIC)?;
        let mut file = self
            .file
            .take()
            .expect("a writer is finished once")
            .into_inner()
            .map_err(|error| self.error("write", error.into_error()))?;
        file.sync().map_err(|source| self.error("sync", source))?;
        drop(file);
        let path = self.dir.join(snapshot_file_name(self.lsn));
        self.storage
            .rename(&self.temporary, &path)
            .map_err(|source| self.error("rename", source))?;
        // Renamed: there is no temporary file left to remove on error.
        self.temporary = PathBuf::new();
        self.storage
            .sync_dir(&self.dir)
            .map_err(|source| StorageError {
                path: self.dir.clone(),
                action: "sync directory",
                source,
            })?;
        Ok(path)
    }

    /// Abandons the snapshot and removes the temporary file.
    pub fn abort(mut self) -> Result<(), StorageError> {
        self.file = None;
        let temporary = std::mem::take(&mut self.temporary);
        self.storage
            .remove(&temporary)
            .map_err(|source| StorageError {
                path: temporary,
                action: "remove",
                source,
            })
    }

    /// Writes bytes the file checksum covers.
    fn write_checked(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.write_unchecked(bytes)?;
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        Ok(())
    }

    fn write_unchecked(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let file = self.file.as_mut().expect("writing to an open snapshot");
        file.write_all(bytes).map_err(|source| StorageError {
            path: self.temporary.clone(),
            action: "write",
            source,
        })?;
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }

    fn error(&self, action: &'static str, source: std::io::Error) -> StorageError {
        StorageError {
            path: self.temporary.clone(),
            action,
            source,
        }
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        // Unfinished (an error, or dropped): the temporary file must go.
        // Errors here have nowhere to go; a leftover `.tmp` is never read
        // and `remove_temporaries` clears it at the next start.
        self.file = None;
        if !self.temporary.as_os_str().is_empty() {
            let _ = self.storage.remove(&self.temporary);
        }
    }
}
