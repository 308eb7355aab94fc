//! Appending records to the log's segments, and starting, syncing and
//! deleting segments.
//!
//! Owns: the active segment and the bytes written to it since its last
//! good sync. Must never: write a record out of order, leave a torn or
//! doubled record in the middle of a segment, or call a record synced that
//! a failed sync may have dropped.
//!
//! Invariants (asserted):
//! - LSNs are dense: each appended LSN is the previous one plus one;
//! - epochs never decrease;
//! - `synced_lsn <= written_lsn <= appended_lsn`, and
//!   `synced_len <= written_len <= synced_len + unsynced.len()`;
//! - every segment but the active one is complete and synced: the writer
//!   syncs a segment before it creates the next.
//!
//! Failures: the bytes since the last good sync stay in memory (at most
//! about one segment). After a failed write the file is cut back to the
//! last whole record before the next try; after a failed sync it is cut
//! back to the last good sync and everything after is written again, since
//! the kernel may have dropped those pages.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::disk::{Disk, DiskFile};
use crate::error::LogError;
use crate::format::{
    encode_record, record_bytes, segment_file_name, temp_file_name, SegmentHeader,
    SEGMENT_HEADER_BYTES,
};
use crate::knobs::{LogConfig, LSN_MAX, MAX_PAYLOAD_BYTES};
use crate::recovery::Recovery;

/// Capacity of the unsynced-bytes buffer kept after a sync empties it;
/// a larger buffer is freed rather than held.
const UNSYNCED_CAPACITY_KEPT: usize = 4 * 1024 * 1024;

/// The segments a writer starts with, the active file and its length.
type OpenedLog = (VecDeque<LiveSegment>, Box<dyn DiskFile>, u64);

/// A segment that exists on disk.
#[derive(Clone, Debug)]
struct LiveSegment {
    path: PathBuf,
    first_lsn: u64,
}

pub struct LogWriter {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    config: LogConfig,
    /// Oldest first; the last is the active segment.
    segments: VecDeque<LiveSegment>,
    active: Box<dyn DiskFile>,
    /// Bytes of the active segment made durable by a good sync.
    synced_len: u64,
    /// Bytes of the active segment written whole.
    written_len: u64,
    /// The active segment's bytes from `synced_len` on: first the written
    /// ones, then those not written yet.
    unsynced: Vec<u8>,
    /// The file may hold bytes past this length that must go before the
    /// next write (a partial append, or pages a failed sync dropped).
    truncate_to: Option<u64>,
    appended_lsn: u64,
    appended_epoch: u64,
    written_lsn: u64,
    synced_lsn: u64,
}

impl LogWriter {
    /// Opens the log that `recovery` just read, ready to append the record
    /// after `recovery.next_lsn() - 1`.
    ///
    /// Continues in the last segment when the log reaches the snapshot;
    /// when the snapshot is newer than the whole log, deletes the segments
    /// (the snapshot holds all their records) and starts a new one. Syncs
    /// what it keeps once, so no record read back from the page cache is
    /// reported durable by mistake.
    pub fn open(
        disk: Arc<dyn Disk>,
        config: LogConfig,
        recovery: &Recovery,
    ) -> Result<LogWriter, LogError> {
        config.assert_valid();
        let dir = recovery.dir.clone();
        disk.create_dir_all(&dir)
            .map_err(|e| LogError::io("create directory", &dir, e))?;
        if let (Some(found), Some(first)) = (recovery.fragment_id, recovery.segments.first()) {
            if found != config.fragment_id {
                return Err(LogError::WrongFragment {
                    path: first.path.clone(),
                    expected: config.fragment_id,
                    found,
                });
            }
        }
        let next_lsn = recovery.next_lsn();
        let reaches_snapshot = recovery.end_lsn().is_some_and(|end| end + 1 == next_lsn);
        let (segments, active, len) = if reaches_snapshot {
            continue_last_segment(disk.as_ref(), &dir, recovery)?
        } else {
            start_over(disk.as_ref(), &dir, &config, recovery, next_lsn)?
        };
        let last_lsn = next_lsn - 1;
        Ok(LogWriter {
            disk,
            dir,
            config,
            segments,
            active,
            synced_len: len,
            written_len: len,
            unsynced: Vec::new(),
            truncate_to: None,
            appended_lsn: last_lsn,
            appended_epoch: recovery.last_epoch(),
            written_lsn: last_lsn,
            synced_lsn: last_lsn,
        })
    }

    /// Accepts a record into the active segment's buffer; [`flush`] writes
    /// it and [`sync`] makes it durable. Starts a new segment first when
    /// this record would take the active one past its size (then the
    /// finished segment is written and synced).
    ///
    /// On `Err` nothing was accepted; offer the same record again.
    ///
    /// Panics if `lsn` is not the next LSN, if `epoch` is lower than the
    /// last, or if the payload is over [`MAX_PAYLOAD_BYTES`].
    ///
    /// [`flush`]: LogWriter::flush
    /// [`sync`]: LogWriter::sync
    pub fn append(&mut self, lsn: u64, epoch: u64, payload: &[u8]) -> Result<(), LogError> {
        assert_eq!(
            lsn,
            self.appended_lsn + 1,
            "log LSNs must be dense: {lsn} after {}",
            self.appended_lsn
        );
        assert!(lsn <= LSN_MAX, "LSN {lsn} is over the limit {LSN_MAX}");
        assert!(
            epoch >= self.appended_epoch,
            "log epochs never decrease: {epoch} after {}",
            self.appended_epoch
        );
        assert!(
            payload.len() <= MAX_PAYLOAD_BYTES as usize,
            "record payload of {} bytes is over the limit",
            payload.len()
        );
        let segment_len = self.synced_len + self.unsynced.len() as u64;
        let has_records = segment_len > SEGMENT_HEADER_BYTES as u64;
        if has_records && segment_len + record_bytes(payload.len()) > self.config.segment_bytes {
            self.rotate(lsn)?;
        }
        encode_record(&mut self.unsynced, lsn, epoch, payload);
        self.appended_lsn = lsn;
        self.appended_epoch = epoch;
        Ok(())
    }

    /// Writes every accepted record to the file (write(2), no fsync).
    pub fn flush(&mut self) -> Result<(), LogError> {
        if let Some(len) = self.truncate_to {
            self.active
                .truncate(len)
                .map_err(|e| self.io("truncate", e))?;
            self.truncate_to = None;
        }
        let from = (self.written_len - self.synced_len) as usize;
        if from < self.unsynced.len() {
            if let Err(e) = self.active.append(&self.unsynced[from..]) {
                // Part of the bytes may be in the file: cut them before the
                // next try so no record is torn or doubled.
                self.truncate_to = Some(self.written_len);
                return Err(self.io("write", e));
            }
            self.written_len = self.synced_len + self.unsynced.len() as u64;
        }
        self.written_lsn = self.appended_lsn;
        self.check_invariants();
        Ok(())
    }

    /// Writes and fsyncs every accepted record.
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.flush()?;
        if self.synced_len == self.written_len {
            self.synced_lsn = self.written_lsn;
            return Ok(());
        }
        if let Err(e) = self.active.sync() {
            // The kernel may have dropped the written pages: write them
            // again before the next sync can count.
            self.truncate_to = Some(self.synced_len);
            self.written_len = self.synced_len;
            self.written_lsn = self.synced_lsn;
            return Err(self.io("sync", e));
        }
        self.synced_len = self.written_len;
        self.synced_lsn = self.written_lsn;
        self.unsynced.clear();
        if self.unsynced.capacity() > UNSYNCED_CAPACITY_KEPT {
            self.unsynced = Vec::new();
        }
        self.check_invariants();
        Ok(())
    }

    /// Deletes the segments whose records all have an LSN `<= lsn` (after
    /// a snapshot at `lsn`), oldest first, then syncs the directory. The
    /// active segment stays. Returns how many were deleted.
    pub fn remove_through(&mut self, lsn: u64) -> Result<usize, LogError> {
        let mut removed = 0;
        while self.segments.len() >= 2 && self.segments[1].first_lsn <= lsn.saturating_add(1) {
            let path = self.segments[0].path.clone();
            if let Err(e) = self.disk.remove(&path) {
                if removed > 0 {
                    // Best effort: the failure below is the one reported.
                    let _ = self.disk.sync_dir(&self.dir);
                }
                return Err(LogError::io("remove", path, e));
            }
            self.segments.pop_front();
            removed += 1;
        }
        if removed > 0 {
            self.disk
                .sync_dir(&self.dir)
                .map_err(|e| LogError::io("sync directory", &self.dir, e))?;
        }
        Ok(removed)
    }

    /// The last LSN accepted.
    pub fn appended_lsn(&self) -> u64 {
        self.appended_lsn
    }

    /// The last LSN written to the file (may still be lost in a crash).
    pub fn written_lsn(&self) -> u64 {
        self.written_lsn
    }

    /// The last LSN made durable by a sync.
    pub fn synced_lsn(&self) -> u64 {
        self.synced_lsn
    }

    /// The epoch of the last record accepted.
    pub fn appended_epoch(&self) -> u64 {
        self.appended_epoch
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment files, oldest first; the last is the one being written.
    pub fn segment_paths(&self) -> Vec<PathBuf> {
        self.segments.iter().map(|s| s.path.clone()).collect()
    }

    /// Closes the active segment and starts the one whose first record is
    /// `first_lsn`. On error the writer is still on the old segment.
    fn rotate(&mut self, first_lsn: u64) -> Result<(), LogError> {
        self.sync()?;
        let active = create_segment(
            self.disk.as_ref(),
            &self.dir,
            self.config.fragment_id,
            first_lsn,
        )?;
        self.active = active;
        self.segments.push_back(LiveSegment {
            path: self.dir.join(segment_file_name(first_lsn)),
            first_lsn,
        });
        self.synced_len = SEGMENT_HEADER_BYTES as u64;
        self.written_len = SEGMENT_HEADER_BYTES as u64;
        self.check_invariants();
        Ok(())
    }

    fn io(&self, op: &'static str, e: std::io::Error) -> LogError {
        let path = self
            .segments
            .back()
            .map_or_else(|| self.dir.clone(), |s| s.path.clone());
        LogError::io(op, path, e)
    }

    fn check_invariants(&self) {
        assert!(self.synced_lsn <= self.written_lsn && self.written_lsn <= self.appended_lsn);
        assert!(self.synced_len <= self.written_len);
        assert!(self.written_len <= self.synced_len + self.unsynced.len() as u64);
    }
}

fn continue_last_segment(
    disk: &dyn Disk,
    dir: &Path,
    recovery: &Recovery,
) -> Result<OpenedLog, LogError> {
    let segments: VecDeque<LiveSegment> = recovery
        .segments
        .iter()
        .map(|s| LiveSegment {
            path: s.path.clone(),
            first_lsn: s.first_lsn,
        })
        .collect();
    let last = recovery
        .segments
        .last()
        .expect("a log that reaches the snapshot has a segment");
    let mut file = disk
        .open(&last.path)
        .map_err(|e| LogError::io("open", &last.path, e))?;
    let len = file
        .len()
        .map_err(|e| LogError::io("stat", &last.path, e))?;
    assert_eq!(
        len,
        last.valid_bytes,
        "{} changed between recovery and opening the writer",
        last.path.display()
    );
    file.sync()
        .map_err(|e| LogError::io("sync", &last.path, e))?;
    disk.sync_dir(dir)
        .map_err(|e| LogError::io("sync directory", dir, e))?;
    Ok((segments, file, len))
}

/// The snapshot holds every record in the log: delete the segments, then
/// start a new one at `next_lsn`. Deleting first means a crash in between
/// leaves old segments or none, never a gap.
fn start_over(
    disk: &dyn Disk,
    dir: &Path,
    config: &LogConfig,
    recovery: &Recovery,
    next_lsn: u64,
) -> Result<OpenedLog, LogError> {
    for segment in &recovery.segments {
        disk.remove(&segment.path)
            .map_err(|e| LogError::io("remove", &segment.path, e))?;
    }
    if !recovery.segments.is_empty() {
        disk.sync_dir(dir)
            .map_err(|e| LogError::io("sync directory", dir, e))?;
    }
    let file = create_segment(disk, dir, config.fragment_id, next_lsn)?;
    let segments = VecDeque::from([LiveSegment {
        path: dir.join(segment_file_name(next_lsn)),
        first_lsn: next_lsn,
    }]);
    Ok((segments, file, SEGMENT_HEADER_BYTES as u64))
}

/// Creates a segment so that it exists under its name only complete and
/// durable: header into a temporary file, sync, rename, sync the directory.
fn create_segment(
    disk: &dyn Disk,
    dir: &Path,
    fragment_id: u32,
    first_lsn: u64,
) -> Result<Box<dyn DiskFile>, LogError> {
    let temp = dir.join(temp_file_name(first_lsn));
    let path = dir.join(segment_file_name(first_lsn));
    match disk.remove(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(LogError::io("remove", &temp, e)),
    }
    let mut file = disk
        .create(&temp)
        .map_err(|e| LogError::io("create", &temp, e))?;
    let header = SegmentHeader {
        fragment_id,
        first_lsn,
    };
    file.append(&header.encode())
        .map_err(|e| LogError::io("write", &temp, e))?;
    file.sync().map_err(|e| LogError::io("sync", &temp, e))?;
    disk.rename(&temp, &path)
        .map_err(|e| LogError::io("rename", &temp, e))?;
    disk.sync_dir(dir)
        .map_err(|e| LogError::io("sync directory", dir, e))?;
    Ok(file)
}
