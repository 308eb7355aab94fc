//! Writing a whole snapshot on the calling thread: for tests, tools and a
//! node that saves while it does nothing else (e.g. at shutdown). A serving
//! node instead calls `Db::snapshot_step` between commands, encodes with a
//! [`SnapshotEncoder`] and hands the chunks to a [`SnapshotWriter`] on a
//! background thread; this function is that loop without the thread.

use std::fmt;
use std::path::PathBuf;

use daisy_keyspace::Db;

use crate::dir::SnapshotDir;
use crate::encode::SnapshotEncoder;
use crate::error::{EncodeError, StorageError};
use crate::format::SnapshotHeader;

/// Entries per `snapshot_step`.
const STEP_ENTRIES: usize = 1_000;

#[derive(Debug)]
pub enum SaveError {
    Encode(EncodeError),
    Storage(StorageError),
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveError::Encode(error) => error.fmt(f),
            SaveError::Storage(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SaveError {}

impl From<EncodeError> for SaveError {
    fn from(error: EncodeError) -> Self {
        SaveError::Encode(error)
    }
}

impl From<StorageError> for SaveError {
    fn from(error: StorageError) -> Self {
        SaveError::Storage(error)
    }
}

/// Snapshots `db` now into `dir` and installs the file; returns its path.
/// On error the snapshot is aborted and no `.snap` is installed.
pub fn save_snapshot(
    db: &mut Db,
    dir: &SnapshotDir,
    header: &SnapshotHeader,
) -> Result<PathBuf, SaveError> {
    let mut writer = dir.writer(header)?;
    let mut encoder = SnapshotEncoder::new();
    db.begin_snapshot();
    loop {
        let mut failed = None;
        let more = db.snapshot_step(STEP_ENTRIES, &mut |entry| {
            if failed.is_none() {
                failed = encoder.push(&entry).err();
            }
        });
        let written = match failed {
            Some(error) => Err(SaveError::from(error)),
            None => writer
                .write_chunk(&encoder.take_chunk())
                .map_err(SaveError::from),
        };
        if let Err(error) = written {
            db.abort_snapshot();
            return Err(error);
        }
        if !more {
            return Ok(writer.finish()?);
        }
    }
}
