//! Startup: reading the log back after the snapshot, cutting a torn tail,
//! refusing corruption.
//!
//! Owns: the only changes made to a log outside the writer: deleting
//! leftover `.seg.tmp` files and truncating a torn tail. Must never: change
//! anything before the torn tail, or go on past corruption.
//!
//! Records are handed to the caller one at a time as they are read, so a
//! log of many gigabytes needs memory for one record only. The caller may
//! have applied some records when recovery fails on corruption further on:
//! it must then throw its state away (the node refuses to start).

use std::path::{Path, PathBuf};

use crate::disk::Disk;
use crate::error::{Corruption, LogError, Problem, ReplayError};
use crate::knobs::LSN_MAX;
use crate::record::Record;
use crate::scan::{list_log_dir, scan_log, Delivery, ScanProgress, SegmentInfo, TornTail};

/// What recovery found and did. [`crate::LogWriter::open`] continues from
/// it.
#[derive(Debug)]
pub struct Recovery {
    pub dir: PathBuf,
    /// The snapshot's LSN: records after it were handed over.
    pub after_lsn: u64,
    /// The fragment named in the segment headers, if there is a segment.
    pub fragment_id: Option<u32>,
    /// The segments in LSN order, after the torn tail was cut.
    pub segments: Vec<SegmentInfo>,
    /// LSN and epoch of the first and the last record in the log.
    pub first_record: Option<(u64, u64)>,
    pub last_record: Option<(u64, u64)>,
    /// Records with an LSN above `after_lsn`, handed to the callback.
    pub records_replayed: u64,
    /// What was cut from the end of the last segment.
    pub torn_tail: Option<TornTail>,
    /// Segments whose creation a crash interrupted, deleted.
    pub removed_temp_files: Vec<PathBuf>,
}

impl Recovery {
    /// The last LSN the log covers: its last record, or for a log whose
    /// last segment is empty, the LSN before that segment. `None` without
    /// segments.
    pub fn end_lsn(&self) -> Option<u64> {
        self.segments
            .last()
            .map(|segment| segment.last_lsn.unwrap_or(segment.first_lsn - 1))
    }

    /// The epoch of the last record, 0 if there is none.
    pub fn last_epoch(&self) -> u64 {
        self.last_record.map_or(0, |(_, epoch)| epoch)
    }

    /// The LSN the next record must have.
    ///
    /// Panics if the snapshot's LSN is over [`crate::LSN_MAX`].
    pub fn next_lsn(&self) -> u64 {
        let next = self.end_lsn().unwrap_or(0).max(self.after_lsn) + 1;
        assert!(
            next <= LSN_MAX,
            "snapshot LSN {} is over the limit",
            self.after_lsn
        );
        next
    }
}

/// Reads the log in `dir` and hands every record with an LSN above
/// `after_lsn` (the snapshot's) to `on_record`, in order.
///
/// Cuts a torn tail (see `docs/log-format.md`), deletes `.seg.tmp`
/// leftovers, and fails with [`LogError::Corrupt`] naming the file and
/// offset on anything else. A missing directory is an empty log.
pub fn recover(
    disk: &dyn Disk,
    dir: &Path,
    after_lsn: u64,
    mut on_record: impl FnMut(Record) -> Result<(), ReplayError>,
) -> Result<Recovery, LogError> {
    let listing = list_log_dir(disk, dir)?;
    let removed_temp_files = remove_temp_files(disk, dir, &listing.temps)?;
    if let Some((first_lsn, name)) = listing.segments.first() {
        if *first_lsn > after_lsn.saturating_add(1) {
            return Err(LogError::Corrupt(Corruption {
                file: dir.join(name),
                offset: 0,
                problem: Problem::StartsAfterSnapshot {
                    first_lsn: *first_lsn,
                    snapshot_lsn: after_lsn,
                },
                valid_record_after: None,
            }));
        }
    }
    let mut progress = ScanProgress::default();
    let mut records_replayed = 0u64;
    let mut deliver = |record: Record| {
        let lsn = record.lsn;
        records_replayed += 1;
        on_record(record).map_err(|source| LogError::Replay { lsn, source })
    };
    let delivery = Delivery {
        after_lsn,
        on_record: &mut deliver,
    };
    scan_log(disk, dir, &listing, &mut progress, Some(delivery))?;
    if let Some(torn) = &progress.torn_tail {
        cut_torn_tail(disk, torn)?;
    }
    Ok(Recovery {
        dir: dir.to_path_buf(),
        after_lsn,
        fragment_id: progress.fragment_id,
        segments: progress.segments,
        first_record: progress.first_record,
        last_record: progress.last_record,
        records_replayed,
        torn_tail: progress.torn_tail,
        removed_temp_files,
    })
}

fn remove_temp_files(
    disk: &dyn Disk,
    dir: &Path,
    temps: &[String],
) -> Result<Vec<PathBuf>, LogError> {
    let mut removed = Vec::new();
    for name in temps {
        let path = dir.join(name);
        disk.remove(&path)
            .map_err(|e| LogError::io("remove", &path, e))?;
        removed.push(path);
    }
    if !removed.is_empty() {
        disk.sync_dir(dir)
            .map_err(|e| LogError::io("sync directory", dir, e))?;
    }
    Ok(removed)
}

fn cut_torn_tail(disk: &dyn Disk, torn: &TornTail) -> Result<(), LogError> {
    let mut file = disk
        .open(&torn.file)
        .map_err(|e| LogError::io("open", &torn.file, e))?;
    file.truncate(torn.offset)
        .map_err(|e| LogError::io("truncate", &torn.file, e))?;
    file.sync().map_err(|e| LogError::io("sync", &torn.file, e))
}
