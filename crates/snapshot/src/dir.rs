//! The snapshot directory of one fragment: which snapshots exist, which is
//! the newest that verifies, and removing the ones a newer one replaced.
//!
//! Owns: the naming of files (`snapshot-<lsn>.snap`, `.tmp`) and choosing
//! among them.
//! Must never: choose a snapshot that does not verify, or whose header
//! disagrees with its name; delete a snapshot at or above the LSN it is
//! told to keep.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Corruption, LoadError, StorageError};
use crate::format::{parse_snapshot_file_name, parse_temporary_file_name, SnapshotHeader};
use crate::load::LoadedSnapshot;
use crate::storage::{OsStorage, Storage};
use crate::writer::SnapshotWriter;

/// The result of looking for the newest valid snapshot.
pub struct SnapshotChoice {
    /// The highest-LSN snapshot that verified, ready to load.
    pub newest: Option<LoadedSnapshot>,
    /// Snapshots with a higher LSN than `newest` that failed to verify,
    /// highest first. The caller reports them; they are left on disk for
    /// the operator.
    pub damaged: Vec<LoadError>,
}

/// A fragment's snapshot directory on some storage.
#[derive(Clone)]
pub struct SnapshotDir {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
}

impl SnapshotDir {
    /// `dir` on the operating system's file system.
    pub fn new(dir: impl Into<PathBuf>) -> SnapshotDir {
        SnapshotDir::with_storage(Arc::new(OsStorage), dir)
    }

    pub fn with_storage(storage: Arc<dyn Storage>, dir: impl Into<PathBuf>) -> SnapshotDir {
        SnapshotDir {
            storage,
            dir: dir.into(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Starts writing the snapshot `header` describes.
    pub fn writer(&self, header: &SnapshotHeader) -> Result<SnapshotWriter, StorageError> {
        SnapshotWriter::create_in(self.storage.clone(), &self.dir, header)
    }

    /// Verifies one snapshot file (pass 1).
    pub fn load(&self, path: &Path) -> Result<LoadedSnapshot, LoadError> {
        LoadedSnapshot::verify(&*self.storage, path)
    }

    /// The installed snapshots, by LSN ascending.
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>, StorageError> {
        let mut found: Vec<(u64, PathBuf)> = self
            .names()?
            .into_iter()
            .filter_map(|name| {
                parse_snapshot_file_name(&name).map(|lsn| (lsn, self.dir.join(name)))
            })
            .collect();
        found.sort();
        Ok(found)
    }

    /// The highest-LSN snapshot that verifies (header LSN equal to the
    /// name's, header and file checksums, trailer); the damaged ones above
    /// it are reported, not removed.
    pub fn newest_valid(&self) -> Result<SnapshotChoice, StorageError> {
        let mut damaged = Vec::new();
        for (lsn, path) in self.list()?.into_iter().rev() {
            match self.load(&path) {
                Ok(loaded) if loaded.header().lsn == lsn => {
                    return Ok(SnapshotChoice {
                        newest: Some(loaded),
                        damaged,
                    });
                }
                Ok(loaded) => damaged.push(LoadError::Corrupt {
                    path,
                    offset: 16,
                    problem: Corruption::LsnMismatch {
                        name_lsn: lsn,
                        header_lsn: loaded.header().lsn,
                    },
                }),
                Err(error) => damaged.push(error),
            }
        }
        Ok(SnapshotChoice {
            newest: None,
            damaged,
        })
    }

    /// Removes the installed snapshots with an LSN below `lsn` (call it
    /// once the snapshot at `lsn` is installed); returns their paths.
    pub fn remove_older_than(&self, lsn: u64) -> Result<Vec<PathBuf>, StorageError> {
        let older: Vec<PathBuf> = self
            .list()?
            .into_iter()
            .filter(|(found, _)| *found < lsn)
            .map(|(_, path)| path)
            .collect();
        self.remove_all(older)
    }

    /// Removes every `.tmp` left by a writer that never finished. Only at
    /// startup, before any writer runs.
    pub fn remove_temporaries(&self) -> Result<Vec<PathBuf>, StorageError> {
        let temporaries: Vec<PathBuf> = self
            .names()?
            .into_iter()
            .filter(|name| parse_temporary_file_name(name).is_some())
            .map(|name| self.dir.join(name))
            .collect();
        self.remove_all(temporaries)
    }

    fn remove_all(&self, paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, StorageError> {
        if paths.is_empty() {
            return Ok(paths);
        }
        for path in &paths {
            self.storage.remove(path).map_err(|source| StorageError {
                path: path.clone(),
                action: "remove",
                source,
            })?;
        }
        self.storage
            .sync_dir(&self.dir)
            .map_err(|source| StorageError {
                path: self.dir.clone(),
                action: "sync directory",
                source,
            })?;
        Ok(paths)
    }

    fn names(&self) -> Result<Vec<String>, StorageError> {
        self.storage.list(&self.dir).map_err(|source| StorageError {
            path: self.dir.clone(),
            action: "list",
            source,
        })
    }
}

/// [`SnapshotDir::newest_valid`] on the operating system's file system.
pub fn newest_valid_snapshot(dir: &Path) -> Result<SnapshotChoice, StorageError> {
    SnapshotDir::new(dir).newest_valid()
}

/// [`SnapshotDir::remove_older_than`] on the operating system's file system.
pub fn remove_older_than(dir: &Path, lsn: u64) -> Result<Vec<PathBuf>, StorageError> {
    SnapshotDir::new(dir).remove_older_than(lsn)
}
