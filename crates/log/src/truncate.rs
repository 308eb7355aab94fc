//! Cutting the end off a closed log, so that its last record is a chosen
//! LSN: how a former primary that rejoins after a failover drops the
//! records the new primary does not have, once it has saved them
//! elsewhere. It then replays snapshot and log and follows the new primary
//! from the next LSN.
//!
//! Owns: the only removal of whole records from the end of a log (recovery
//! cuts torn bytes only). Must never: run while a writer has the log open,
//! change anything in a log that recovery would refuse or when the cut is
//! before the log's start, or leave, after a crash at any point, a log that
//! recovery refuses or that ends before the cut.
//!
//! Crash order. The segment that ends up last is synced first, so the
//! records kept are durable before anything goes. The segments after it
//! are deleted newest first, the directory synced after each, so the log
//! on disk is always a run of whole segments from the first: it only gets
//! shorter, never gains a gap. That segment is truncated last, once no
//! segment follows it: truncated earlier, a crash could leave it short
//! with its successor still there, a gap recovery refuses. Hence after a
//! crash anywhere the log ends between the cut and its old end, and
//! calling again finishes the cut.

use std::path::{Path, PathBuf};

use crate::disk::Disk;
use crate::error::LogError;
use crate::format::SEGMENT_HEADER_BYTES;
use crate::scan::{list_log_dir, scan_log, ScanProgress};

/// Cuts the log in `dir` so its last record is `lsn`: later segments are
/// deleted, the segment holding `lsn + 1` is truncated at that record's
/// offset (or deleted if `lsn + 1` is its first record), then synced
/// (files and directory). The log must be closed (no `LogWriter` open on
/// it). Returns how many records were removed.
///
/// The whole log is read first, every header and checksum checked as
/// recovery does: damage recovery would refuse, before the cut or after
/// it, is [`LogError::Corrupt`] naming the file and offset, and nothing is
/// changed (the records after the cut are the ones the caller saved; damage
/// there means some could not be). A torn tail is fine: it goes with the
/// rest. `lsn` at or after the last record changes nothing and returns 0
/// (a torn tail is left for recovery to cut). With `first` the LSN the log
/// starts at (a snapshot replaced the records before), an `lsn` below
/// `first - 1` is [`LogError::CutBeforeStart`], naming the LSNs the log
/// holds, and changes nothing; `lsn = first - 1` cuts every record and
/// keeps the first segment, empty, so the log still says it ends at `lsn`.
///
/// On an error partway, the log is valid and ends between `lsn` and its
/// old end; calling again finishes the cut. `.seg.tmp` leftovers are left
/// for recovery to delete.
pub fn truncate_after(disk: &dyn Disk, dir: &Path, lsn: u64) -> Result<u64, LogError> {
    let listing = list_log_dir(disk, dir)?;
    let mut progress = ScanProgress {
        locate_lsn: lsn.checked_add(1),
        ..ScanProgress::default()
    };
    scan_log(disk, dir, &listing, &mut progress, None)?;
    let Some(cut) = plan_cut(&progress, lsn)? else {
        return Ok(0);
    };
    cut.apply(disk, dir)?;
    Ok(cut.records_removed)
}

/// What a cut changes, decided before anything is.
#[derive(Debug)]
struct Cut {
    /// The segment that ends up last: its last record is `lsn` after the
    /// cut (or it is empty and starts at `lsn + 1`).
    kept_last: PathBuf,
    /// Where `kept_last` is truncated; `None` when it already ends at
    /// `lsn`.
    truncate_at: Option<u64>,
    /// The segments after `kept_last`, newest first.
    removed_newest_first: Vec<PathBuf>,
    records_removed: u64,
}

/// Decides the cut from a clean scan of the whole log; `None` when there
/// is nothing to cut.
fn plan_cut(progress: &ScanProgress, lsn: u64) -> Result<Option<Cut>, LogError> {
    let segments = &progress.segments;
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return Ok(None);
    };
    // An empty last segment ends the log at the LSN before its first.
    let end_lsn = last.last_lsn.unwrap_or(last.first_lsn - 1);
    if lsn < first.first_lsn - 1 {
        return Err(LogError::CutBeforeStart {
            lsn,
            first_lsn: first.first_lsn,
            end_lsn,
        });
    }
    if lsn >= end_lsn {
        return Ok(None);
    }
    let at = progress
        .located
        .expect("a clean scan reads every record from the first segment's start to the end");
    let holder = &segments[at.segment];
    assert!(
        holder.first_lsn <= lsn + 1 && holder.last_lsn >= Some(lsn + 1),
        "record {} located in {}, which holds another range",
        lsn + 1,
        holder.path.display()
    );
    let starts_segment = at.offset == SEGMENT_HEADER_BYTES as u64;
    // A segment starting with `lsn + 1` goes whole, unless it is the first:
    // emptied instead, it keeps saying where the log ends.
    let kept_index = if starts_segment && at.segment > 0 {
        at.segment - 1
    } else {
        at.segment
    };
    let truncate_at = (kept_index == at.segment).then_some(at.offset);
    if truncate_at.is_none() {
        assert_eq!(
            segments[kept_index].last_lsn,
            Some(lsn),
            "the segment before one starting at LSN {} must end right before it",
            lsn + 1
        );
    }
    Ok(Some(Cut {
        kept_last: segments[kept_index].path.clone(),
        truncate_at,
        removed_newest_first: segments[kept_index + 1..]
            .iter()
            .rev()
            .map(|segment| segment.path.clone())
            .collect(),
        records_removed: end_lsn - lsn,
    }))
}

impl Cut {
    /// Carries the cut out in the crash order the module doc explains.
    fn apply(&self, disk: &dyn Disk, dir: &Path) -> Result<(), LogError> {
        let path = &self.kept_last;
        let mut kept = disk.open(path).map_err(|e| LogError::io("open", path, e))?;
        // A writer dropped without a sync may have left records that only
        // the page cache holds: make them durable before anything goes.
        kept.sync().map_err(|e| LogError::io("sync", path, e))?;
        sync_dir(disk, dir)?;
        for removed in &self.removed_newest_first {
            disk.remove(removed)
                .map_err(|e| LogError::io("remove", removed, e))?;
            sync_dir(disk, dir)?;
        }
        if let Some(offset) = self.truncate_at {
            kept.truncate(offset)
                .map_err(|e| LogError::io("truncate", path, e))?;
            kept.sync().map_err(|e| LogError::io("sync", path, e))?;
        }
        Ok(())
    }
}

fn sync_dir(disk: &dyn Disk, dir: &Path) -> Result<(), LogError> {
    disk.sync_dir(dir)
        .map_err(|e| LogError::io("sync directory", dir, e))
}
