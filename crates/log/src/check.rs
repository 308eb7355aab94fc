//! The offline check behind `daisy check --data-dir DIR`: what a log holds
//! and the first thing wrong with it, without changing a byte.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::disk::Disk;
use crate::error::LogError;
use crate::scan::{list_log_dir, scan_log, Listing, ScanProgress, SegmentInfo, TornTail};

/// What [`check`] found.
#[derive(Debug)]
pub struct Report {
    pub dir: PathBuf,
    /// Segment files in the directory.
    pub segment_files: usize,
    /// The segments read, in order, up to the first problem.
    pub segments: Vec<SegmentInfo>,
    /// Leftovers of an interrupted segment creation (recovery deletes them).
    pub temp_files: Vec<String>,
    /// Files that are not the log's.
    pub other_files: Vec<String>,
    pub fragment_id: Option<u32>,
    pub records: u64,
    /// LSN and epoch of the first and last valid record.
    pub first_record: Option<(u64, u64)>,
    pub last_record: Option<(u64, u64)>,
    /// A torn tail recovery would cut (not a problem).
    pub torn_tail: Option<TornTail>,
    /// The first problem: corruption (with file and offset) or an I/O error.
    pub error: Option<LogError>,
}

impl Report {
    /// True when recovery would succeed (a torn tail is fine).
    pub fn is_healthy(&self) -> bool {
        self.error.is_none()
    }
}

/// Reads every segment in `dir`, checking headers, checksums, LSN order
/// and epochs. Read-only: a torn tail is reported, not cut.
pub fn check(disk: &dyn Disk, dir: &Path) -> Report {
    let mut report = Report {
        dir: dir.to_path_buf(),
        segment_files: 0,
        segments: Vec::new(),
        temp_files: Vec::new(),
        other_files: Vec::new(),
        fragment_id: None,
        records: 0,
        first_record: None,
        last_record: None,
        torn_tail: None,
        error: None,
    };
    let listing = match list_log_dir(disk, dir) {
        Ok(listing) => listing,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let mut progress = ScanProgress::default();
    let outcome = scan_log(disk, dir, &listing, &mut progress, None);
    let Listing {
        segments,
        temps,
        others,
    } = listing;
    report.segment_files = segments.len();
    report.temp_files = temps;
    report.other_files = others;
    report.segments = progress.segments;
    report.fragment_id = progress.fragment_id;
    report.records = progress.records;
    report.first_record = progress.first_record;
    report.last_record = progress.last_record;
    report.torn_tail = progress.torn_tail;
    report.error = outcome.err();
    report
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "log directory: {}", self.dir.display())?;
        if let Some(fragment_id) = self.fragment_id {
            writeln!(f, "fragment: {fragment_id}")?;
        }
        writeln!(
            f,
            "segments: {} ({} read)",
            self.segment_files,
            self.segments.len()
        )?;
        for segment in &self.segments {
            let lsns = match segment.last_lsn {
                Some(last) => format!("LSN {}..={last}", segment.first_lsn),
                None => format!("empty, next LSN {}", segment.first_lsn),
            };
            writeln!(
                f,
                "  {}  {} records, {} bytes, {lsns}",
                segment.path.display(),
                segment.records,
                segment.valid_bytes
            )?;
        }
        writeln!(f, "records: {}", self.records)?;
        if let (Some((first_lsn, first_epoch)), Some((last_lsn, last_epoch))) =
            (self.first_record, self.last_record)
        {
            writeln!(f, "LSN range: {first_lsn}..={last_lsn}")?;
            writeln!(f, "epochs: {first_epoch}..={last_epoch}")?;
        }
        for name in &self.temp_files {
            writeln!(
                f,
                "interrupted segment creation (recovery deletes it): {name}"
            )?;
        }
        for name in &self.other_files {
            writeln!(f, "not a log file (ignored): {name}")?;
        }
        if let Some(torn) = &self.torn_tail {
            writeln!(
                f,
                "torn tail (recovery cuts it): {} at byte {}, {} bytes: {}",
                torn.file.display(),
                torn.offset,
                torn.bytes,
                torn.problem
            )?;
        }
        match &self.error {
            None => writeln!(f, "status: ok"),
            Some(e) => writeln!(f, "status: PROBLEM: {e}"),
        }
    }
}
