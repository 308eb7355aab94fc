//! Reading a log directory: which files are segments, and walking their
//! records in order while checking every rule of `docs/log-format.md`.
//!
//! Owns: telling a torn tail from corruption, and the checks of one
//! segment header and one record that [`crate::LogReader`] shares. Must
//! never: change a file (recovery acts on what the scan reports; `check`
//! only prints it).
//!
//! Invariants checked across the whole log: LSNs dense from the first
//! segment's first LSN, epochs never decreasing, one fragment id.

use std::io;
use std::path::{Path, PathBuf};

use crate::disk::Disk;
use crate::error::{Corruption, LogError, Problem};
use crate::format::{
    classify_file_name, FileKind, RecordHeader, SegmentHeader, RECORD_HEADER_BYTES,
    SEGMENT_HEADER_BYTES,
};
use crate::knobs::{LSN_MAX, MAX_PAYLOAD_BYTES, SEGMENTS_MAX};
use crate::record::Record;
use crate::window::WindowReader;

/// The files of a log directory, sorted.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// `(first_lsn, file name)` in LSN order.
    pub segments: Vec<(u64, String)>,
    /// Segments whose creation a crash interrupted.
    pub temps: Vec<String>,
    /// Anything else.
    pub others: Vec<String>,
}

/// Lists `dir`; a missing directory is an empty log.
pub(crate) fn list_log_dir(disk: &dyn Disk, dir: &Path) -> Result<Listing, LogError> {
    let names = match disk.list(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(LogError::io("list", dir, e)),
    };
    let mut listing = Listing::default();
    for name in names {
        match classify_file_name(&name) {
            FileKind::Segment { first_lsn } => listing.segments.push((first_lsn, name)),
            FileKind::Temp => listing.temps.push(name),
            FileKind::Other => listing.others.push(name),
        }
    }
    if listing.segments.len() > SEGMENTS_MAX {
        return Err(LogError::TooManySegments {
            dir: dir.to_path_buf(),
            count: listing.segments.len(),
            max: SEGMENTS_MAX,
        });
    }
    listing.segments.sort();
    listing.temps.sort();
    listing.others.sort();
    Ok(listing)
}

/// One segment as the scan found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub path: PathBuf,
    pub first_lsn: u64,
    /// Bytes up to the end of the last valid record (after a torn tail is
    /// cut, the file's length).
    pub valid_bytes: u64,
    pub records: u64,
    /// LSN of the last record, if the segment has any.
    pub last_lsn: Option<u64>,
}

/// A torn tail: the bytes after the last valid record of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    /// Where the damaged record starts; the file is cut here.
    pub offset: u64,
    /// Bytes from `offset` to the end of the file.
    pub bytes: u64,
    /// What was wrong with the record at `offset`.
    pub problem: Problem,
}

/// What the scan learned, kept up to date as it goes so a caller still has
/// it when the scan stops on corruption.
#[derive(Debug, Default)]
pub(crate) struct ScanProgress {
    pub segments: Vec<SegmentInfo>,
    pub fragment_id: Option<u32>,
    /// LSN the next record must have.
    pub next_lsn: Option<u64>,
    pub first_record: Option<(u64, u64)>,
    pub last_record: Option<(u64, u64)>,
    pub records: u64,
    pub torn_tail: Option<TornTail>,
    /// Set by the caller before the scan: an LSN whose record to locate.
    pub locate_lsn: Option<u64>,
    /// Where that record starts, if the scan read it whole and valid.
    pub located: Option<RecordPosition>,
}

/// Where a record starts: the segment (an index into
/// [`ScanProgress::segments`]) and the byte offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordPosition {
    pub segment: usize,
    pub offset: u64,
}

impl ScanProgress {
    fn last_epoch(&self) -> u64 {
        self.last_record.map_or(0, |(_, epoch)| epoch)
    }
}

/// Which records to hand over, and to whom.
pub(crate) struct Delivery<'a> {
    /// Records with an LSN above this are delivered.
    pub after_lsn: u64,
    pub on_record: &'a mut dyn FnMut(Record) -> Result<(), LogError>,
}

/// Scans every segment of `listing` in order. Stops at the first
/// corruption; a torn tail of the last segment is reported in `progress`.
pub(crate) fn scan_log(
    disk: &dyn Disk,
    dir: &Path,
    listing: &Listing,
    progress: &mut ScanProgress,
    mut delivery: Option<Delivery<'_>>,
) -> Result<(), LogError> {
    let count = listing.segments.len();
    for (index, (name_lsn, name)) in listing.segments.iter().enumerate() {
        let segment = SegmentScan {
            path: dir.join(name),
            name_lsn: *name_lsn,
            is_last: index + 1 == count,
        };
        segment.scan(disk, progress, delivery.as_mut())?;
    }
    Ok(())
}

struct SegmentScan {
    path: PathBuf,
    name_lsn: u64,
    is_last: bool,
}

/// The outcome of reading one record.
pub(crate) enum ReadRecord {
    /// Whole, with a matching checksum; the payload if it was asked for.
    Valid(RecordHeader, Option<Vec<u8>>),
    /// Damage of the kind a torn write leaves (or, in a live segment, a
    /// record not yet written whole).
    Damaged(Problem),
}

impl SegmentScan {
    fn corrupt(&self, offset: u64, problem: Problem) -> LogError {
        LogError::Corrupt(Corruption {
            file: self.path.clone(),
            offset,
            problem,
            valid_record_after: None,
        })
    }

    fn io(&self, op: &'static str, e: std::io::Error) -> LogError {
        LogError::io(op, &self.path, e)
    }

    fn scan(
        &self,
        disk: &dyn Disk,
        progress: &mut ScanProgress,
        mut delivery: Option<&mut Delivery<'_>>,
    ) -> Result<(), LogError> {
        let file = disk.open(&self.path).map_err(|e| self.io("open", e))?;
        let file_len = file.len().map_err(|e| self.io("stat", e))?;
        let mut reader = WindowReader::new(file, file_len);
        let header = self.read_header(&mut reader, progress)?;
        progress.segments.push(SegmentInfo {
            path: self.path.clone(),
            first_lsn: header.first_lsn,
            valid_bytes: SEGMENT_HEADER_BYTES as u64,
            records: 0,
            last_lsn: None,
        });
        let mut offset = SEGMENT_HEADER_BYTES as u64;
        while offset < file_len {
            // Only the payloads that will be handed over are kept; the
            // rest are checksummed a window at a time.
            let expected_lsn = progress.next_lsn.unwrap_or(self.name_lsn);
            let deliver = delivery
                .as_ref()
                .is_some_and(|delivery| expected_lsn > delivery.after_lsn);
            let read = read_record(&mut reader, offset, deliver).map_err(|e| self.io("read", e))?;
            let (record_header, payload) = match read {
                ReadRecord::Valid(record_header, payload) => (record_header, payload),
                ReadRecord::Damaged(problem) => {
                    return self.damaged(&mut reader, offset, file_len, problem, progress)
                }
            };
            self.check_order(offset, &record_header, progress)?;
            offset += record_header.record_bytes();
            note_record(progress, &record_header, offset);
            if let (Some(delivery), Some(payload)) = (delivery.as_mut(), payload) {
                if record_header.lsn > delivery.after_lsn {
                    (delivery.on_record)(Record {
                        lsn: record_header.lsn,
                        epoch: record_header.epoch,
                        payload,
                    })?;
                }
            }
        }
        Ok(())
    }

    fn read_header(
        &self,
        reader: &mut WindowReader,
        progress: &mut ScanProgress,
    ) -> Result<SegmentHeader, LogError> {
        let header = read_segment_header(reader, self.name_lsn)
            .map_err(|e| self.io("read", e))?
            .map_err(|problem| self.corrupt(0, problem))?;
        match progress.fragment_id {
            Some(expected) if expected != header.fragment_id => {
                return Err(self.corrupt(
                    0,
                    Problem::FragmentMismatch {
                        expected,
                        found: header.fragment_id,
                    },
                ))
            }
            _ => progress.fragment_id = Some(header.fragment_id),
        }
        match progress.next_lsn {
            Some(expected) if expected != header.first_lsn => {
                return Err(self.corrupt(
                    0,
                    Problem::SegmentGap {
                        expected_first_lsn: expected,
                        found_first_lsn: header.first_lsn,
                    },
                ))
            }
            _ => progress.next_lsn = Some(header.first_lsn),
        }
        Ok(header)
    }

    fn check_order(
        &self,
        offset: u64,
        header: &RecordHeader,
        progress: &ScanProgress,
    ) -> Result<(), LogError> {
        let expected = progress.next_lsn.unwrap_or(self.name_lsn);
        check_record_order(header, expected, progress.last_epoch())
            .map_err(|problem| self.corrupt(offset, problem))
    }

    /// Decides whether damage at `offset` is a torn tail (last segment,
    /// nothing valid after it) or corruption.
    fn damaged(
        &self,
        reader: &mut WindowReader,
        offset: u64,
        file_len: u64,
        problem: Problem,
        progress: &mut ScanProgress,
    ) -> Result<(), LogError> {
        debug_assert!(problem.may_be_torn_write());
        if !self.is_last {
            return Err(self.corrupt(offset, problem));
        }
        let expected_lsn = progress.next_lsn.unwrap_or(self.name_lsn);
        let valid_after = find_valid_record_after(
            reader,
            offset,
            file_len,
            expected_lsn,
            progress.last_epoch(),
        )
        .map_err(|e| self.io("read", e))?;
        if let Some(valid_at) = valid_after {
            return Err(LogError::Corrupt(Corruption {
                file: self.path.clone(),
                offset,
                problem,
                valid_record_after: Some(valid_at),
            }));
        }
        progress.torn_tail = Some(TornTail {
            file: self.path.clone(),
            offset,
            bytes: file_len - offset,
            problem,
        });
        Ok(())
    }
}

/// Reads the header of the segment whose name says `name_lsn` and checks
/// it against the format. `Err` is an I/O error; `Ok(Err(problem))` is
/// damage at offset 0. The checks that need the segments before it (the
/// fragment, the LSN following on) are the caller's.
pub(crate) fn read_segment_header(
    reader: &mut WindowReader,
    name_lsn: u64,
) -> io::Result<Result<SegmentHeader, Problem>> {
    let file_len = reader.file_len();
    if file_len < SEGMENT_HEADER_BYTES as u64 {
        return Ok(Err(Problem::ShortHeader { len: file_len }));
    }
    let mut bytes = [0u8; SEGMENT_HEADER_BYTES];
    reader.read(0, &mut bytes)?;
    let header = match SegmentHeader::decode(&bytes) {
        Ok(header) => header,
        Err(fault) => return Ok(Err(Problem::BadHeader(fault))),
    };
    if !(1..=LSN_MAX).contains(&header.first_lsn) {
        return Ok(Err(Problem::FirstLsnOutOfRange {
            first_lsn: header.first_lsn,
        }));
    }
    if header.first_lsn != name_lsn {
        return Ok(Err(Problem::NameMismatch {
            name_lsn,
            header_lsn: header.first_lsn,
        }));
    }
    Ok(Ok(header))
}

/// Reads the record at `offset`, verifying its length and checksum
/// against the file's length as `reader` last read it; with
/// `want_payload`, keeps the payload. A length over the limit or past the
/// end of the file is reported, never allocated.
pub(crate) fn read_record(
    reader: &mut WindowReader,
    offset: u64,
    want_payload: bool,
) -> io::Result<ReadRecord> {
    // A live file may have been cut back below `offset` for a rewrite.
    let available_bytes = reader.file_len().saturating_sub(offset);
    if available_bytes < RECORD_HEADER_BYTES as u64 {
        return Ok(ReadRecord::Damaged(Problem::IncompleteRecord {
            needed_bytes: RECORD_HEADER_BYTES as u64,
            available_bytes,
        }));
    }
    let mut bytes = [0u8; RECORD_HEADER_BYTES];
    reader.read(offset, &mut bytes)?;
    let header = RecordHeader::decode(&bytes);
    if header.payload_len > MAX_PAYLOAD_BYTES {
        return Ok(ReadRecord::Damaged(Problem::RecordTooLarge {
            payload_len: header.payload_len,
        }));
    }
    if header.record_bytes() > available_bytes {
        return Ok(ReadRecord::Damaged(Problem::IncompleteRecord {
            needed_bytes: header.record_bytes(),
            available_bytes,
        }));
    }
    let payload_at = offset + RECORD_HEADER_BYTES as u64;
    let (computed, payload) = if want_payload {
        // The length is within the limit and within the file: safe to
        // allocate.
        let mut payload = vec![0u8; header.payload_len as usize];
        reader.read(payload_at, &mut payload)?;
        let crc = crc32c::crc32c_append(header.crc_of_header_fields(), &payload);
        (crc, Some(payload))
    } else {
        let crc = reader.crc_append(
            header.crc_of_header_fields(),
            payload_at,
            u64::from(header.payload_len),
        )?;
        (crc, None)
    };
    if computed != header.crc {
        return Ok(ReadRecord::Damaged(Problem::BadChecksum {
            stored: header.crc,
            computed,
        }));
    }
    Ok(ReadRecord::Valid(header, payload))
}

/// A record with a valid checksum must still be the next LSN, with an
/// epoch no lower than the last: otherwise it is corruption, never a torn
/// write.
pub(crate) fn check_record_order(
    header: &RecordHeader,
    expected_lsn: u64,
    previous_epoch: u64,
) -> Result<(), Problem> {
    if header.lsn != expected_lsn {
        return Err(Problem::LsnOutOfOrder {
            expected: expected_lsn,
            found: header.lsn,
        });
    }
    if header.epoch < previous_epoch {
        return Err(Problem::EpochDecreased {
            previous: previous_epoch,
            found: header.epoch,
        });
    }
    Ok(())
}

fn note_record(progress: &mut ScanProgress, header: &RecordHeader, end_offset: u64) {
    if progress.locate_lsn == Some(header.lsn) {
        progress.located = Some(RecordPosition {
            segment: progress.segments.len() - 1,
            offset: end_offset - header.record_bytes(),
        });
    }
    progress.next_lsn = Some(header.lsn + 1);
    progress.records += 1;
    if progress.first_record.is_none() {
        progress.first_record = Some((header.lsn, header.epoch));
    }
    progress.last_record = Some((header.lsn, header.epoch));
    if let Some(segment) = progress.segments.last_mut() {
        segment.valid_bytes = end_offset;
        segment.records += 1;
        segment.last_lsn = Some(header.lsn);
    }
}

/// Searches the bytes after damaged data at `damaged_at` for a whole,
/// valid record that could follow in the log: an LSN at or after
/// `expected_lsn` (and no further than the bytes allow), an epoch no lower
/// than `last_epoch`, a length that fits, a matching checksum. Costs one
/// pass over the tail, through the window.
fn find_valid_record_after(
    reader: &mut WindowReader,
    damaged_at: u64,
    file_len: u64,
    expected_lsn: u64,
    last_epoch: u64,
) -> std::io::Result<Option<u64>> {
    let header_bytes = RECORD_HEADER_BYTES as u64;
    let lsn_max = expected_lsn.saturating_add((file_len - damaged_at) / header_bytes + 1);
    let mut bytes = [0u8; RECORD_HEADER_BYTES];
    let mut at = damaged_at + 1;
    while at + header_bytes <= file_len {
        reader.read(at, &mut bytes)?;
        let header = RecordHeader::decode(&bytes);
        let plausible = (expected_lsn..=lsn_max).contains(&header.lsn)
            && header.epoch >= last_epoch
            && header.payload_len <= MAX_PAYLOAD_BYTES
            && at + header.record_bytes() <= file_len;
        if plausible {
            let crc = reader.crc_append(
                header.crc_of_header_fields(),
                at + header_bytes,
                u64::from(header.payload_len),
            )?;
            if crc == header.crc {
                return Ok(Some(at));
            }
        }
        at += 1;
    }
    Ok(None)
}
