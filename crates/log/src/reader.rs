//! Reading records from a live log while the writer appends to it, starts
//! new segments and deletes old ones: how replication streams a secondary
//! the records older than its in-memory backlog, and reads back a suffix
//! of the log before cutting it.
//!
//! Owns: a position in the log (segment, byte offset, LSN) and open handles
//! to the segments from there on. Must never: return a record that is not
//! whole with a matching checksum, skip or repeat a record, return one past
//! the caller's bound, or change a file.
//!
//! What it relies on from the writer (`docs/log-format.md`, "Reading a live
//! log"):
//! - a byte below a file's length keeps its value: an append may be seen in
//!   part (the file ends inside a record), and a tail the writer cuts after
//!   a failed write or fsync is written again with the same bytes;
//! - a segment is complete once a later one exists: the writer writes and
//!   syncs a segment before it creates the next;
//! - segments are deleted oldest first, never the last one, and a deleted
//!   segment stays readable through a handle opened before.
//!
//! Hence, for the record at the reader's position, within the caller's
//! bound (a record past the bound is never read):
//! - in the last segment, a record the file does not hold whole is "not
//!   yet", even one the bound covers: a writer that cut its tail to write
//!   it again still counts those records written (`fsync = everysec/no`);
//! - anything else wrong (a checksum, a length over the limit, an LSN or
//!   epoch out of order, a bad header, a gap between segments, a complete
//!   segment ending inside a record) is corruption, named by file and
//!   offset.
//!
//! Invariants (asserted): the position moves forward one LSN per record
//! read; a batch is dense, starts at [`LogReader::next_lsn`], and ends at or
//! before the bound.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::disk::Disk;
use crate::error::{LogError, Problem, ReadError};
use crate::format::{RecordHeader, SegmentHeader, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use crate::knobs::{LSN_MAX, READER_SEGMENTS_OPEN_MAX};
use crate::record::Record;
use crate::scan::{check_record_order, list_log_dir, read_record, read_segment_header, ReadRecord};
use crate::window::WindowReader;

/// Reads a log's records in LSN order from a chosen LSN on, a bounded
/// batch at a time, following the writer. One reader per stream; it holds
/// at most [`READER_SEGMENTS_OPEN_MAX`] segments open.
pub struct LogReader {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    /// Open segments in LSN order; the front is the one being read.
    segments: VecDeque<OpenSegment>,
    /// Where the record at the position starts in the front segment.
    offset: u64,
    /// The LSN the record at `offset` must have.
    lsn_at_offset: u64,
    /// The first LSN asked for: the records before it in its segment are
    /// checked and skipped.
    from_lsn: u64,
    /// Epoch of the last record read, 0 before the first.
    last_epoch: u64,
    /// From the first segment's header; every later segment must match.
    fragment_id: u32,
    /// The front's length was read after a later segment was seen, so it
    /// is final: the segment cannot grow.
    front_complete: bool,
}

struct OpenSegment {
    path: PathBuf,
    first_lsn: u64,
    file: WindowReader,
}

/// What the reader found at its position.
enum Found {
    /// A whole record, checked; its payload unless it was skipped.
    Record(Option<Record>),
    /// The front segment does not hold the record whole (yet).
    Incomplete(Problem),
}

/// The records of one [`LogReader::read`] call and their on-disk bytes.
struct Batch {
    records: Vec<Record>,
    bytes: u64,
    max_bytes: u64,
}

impl Batch {
    /// The first record always fits, so a record over the budget still
    /// goes out, alone.
    fn has_room_for(&self, record_bytes: u64) -> bool {
        self.records.is_empty() || self.bytes.saturating_add(record_bytes) <= self.max_bytes
    }

    fn push(&mut self, record: Record) {
        self.bytes += RECORD_HEADER_BYTES as u64 + record.payload.len() as u64;
        self.records.push(record);
    }
}

impl LogReader {
    /// Opens the log in `dir` to read the records with an LSN of
    /// `from_lsn` and after.
    ///
    /// Fails with [`ReadError::NotRetained`] when `from_lsn` is before the
    /// first record still on disk (the caller sends a snapshot instead).
    /// `from_lsn` past the end of the log is no error: [`LogReader::read`]
    /// returns nothing until the log reaches it. Opens the segments from
    /// the one holding `from_lsn` on (at most [`READER_SEGMENTS_OPEN_MAX`]),
    /// so that deleting them after a snapshot does not take them away.
    ///
    /// Panics if `from_lsn` is outside `1..=LSN_MAX`: a bug in the caller.
    pub fn open(disk: Arc<dyn Disk>, dir: &Path, from_lsn: u64) -> Result<LogReader, ReadError> {
        assert!(
            (1..=LSN_MAX).contains(&from_lsn),
            "log reader asked to start at LSN {from_lsn}, outside 1..={LSN_MAX}"
        );
        let listing = list_segments(disk.as_ref(), dir)?;
        let start = start_index(dir, &listing, from_lsn)?;
        let mut segments = VecDeque::new();
        for (first_lsn, name) in listing[start..].iter().take(READER_SEGMENTS_OPEN_MAX) {
            let path = dir.join(name);
            match open_segment(disk.as_ref(), path.clone(), *first_lsn) {
                Ok(segment) => segments.push_back(segment),
                Err(e) if e.kind() == io::ErrorKind::NotFound && segments.is_empty() => {
                    // Deleted since the listing: a snapshot now covers
                    // `from_lsn`, which the listing says again.
                    let listing = list_segments(disk.as_ref(), dir)?;
                    start_index(dir, &listing, from_lsn)?;
                    return Err(ReadError::io("open", path, e));
                }
                // A later segment deleted since the listing: reported if
                // the reader gets there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(ReadError::io("open", path, e)),
            }
        }
        let front = segments
            .front_mut()
            .expect("the segment holding from_lsn was opened");
        let header = checked_header(front)?;
        let lsn_at_offset = front.first_lsn;
        Ok(LogReader {
            disk,
            dir: dir.to_path_buf(),
            segments,
            offset: SEGMENT_HEADER_BYTES as u64,
            lsn_at_offset,
            from_lsn,
            last_epoch: 0,
            fragment_id: header.fragment_id,
            front_complete: false,
        })
    }

    /// Reads the next records in LSN order, none past `up_to_lsn`,
    /// stopping before a record that would take the batch past `max_bytes`
    /// (counting each record's on-disk size: its payload plus
    /// [`RECORD_HEADER_BYTES`]). The first record always comes, whatever
    /// its size, so a batch is never empty when a record is readable.
    ///
    /// An empty batch means no record `<= up_to_lsn` is readable yet. Pass
    /// as `up_to_lsn` what the log has written (`durable_lsn`): a record up
    /// to it that is damaged is [`ReadError::Corrupt`]; a record past it is
    /// never looked at, so a write in progress is never mistaken for
    /// damage.
    ///
    /// An error after some records were read returns those records; the
    /// next call meets the error again. On `Err` the reader stays where it
    /// was, so a later call tries the same record again.
    pub fn read(&mut self, up_to_lsn: u64, max_bytes: usize) -> Result<Vec<Record>, ReadError> {
        let first_lsn = self.next_lsn();
        let mut batch = Batch {
            records: Vec::new(),
            bytes: 0,
            max_bytes: u64::try_from(max_bytes).unwrap_or(u64::MAX),
        };
        if first_lsn <= up_to_lsn {
            if let Err(e) = self.read_into(&mut batch, up_to_lsn) {
                if batch.records.is_empty() {
                    return Err(e);
                }
            }
        }
        assert_batch(&batch.records, first_lsn, up_to_lsn);
        assert_eq!(
            self.next_lsn(),
            first_lsn + batch.records.len() as u64,
            "log reader position out of step with the records it returned"
        );
        Ok(batch.records)
    }

    /// The LSN of the record the next [`LogReader::read`] returns first.
    pub fn next_lsn(&self) -> u64 {
        self.lsn_at_offset.max(self.from_lsn)
    }

    /// Fills `batch`. On error, the position is at the record that could
    /// not be read (skipped records before `from_lsn` stay skipped).
    fn read_into(&mut self, batch: &mut Batch, up_to_lsn: u64) -> Result<(), ReadError> {
        self.refresh_front()?;
        // Each pass reads a record (at most up to `up_to_lsn`, within the
        // budget), moves to the next segment (each complete segment holds
        // a record), or looks for more bytes once per segment.
        let mut looked = false;
        while self.lsn_at_offset <= up_to_lsn {
            let want_payload = self.lsn_at_offset >= self.from_lsn;
            if want_payload && !batch.records.is_empty() {
                let next_bytes = self.peek_record_bytes()?;
                if next_bytes.is_some_and(|bytes| !batch.has_room_for(bytes)) {
                    break;
                }
            }
            match self.read_at_position(want_payload)? {
                Found::Record(Some(record)) => batch.push(record),
                Found::Record(None) => {}
                Found::Incomplete(problem) if self.front_complete => {
                    self.next_segment(problem)?;
                    looked = false;
                }
                Found::Incomplete(_) if looked => break,
                Found::Incomplete(_) => {
                    looked = true;
                    self.look_for_more()?;
                }
            }
        }
        Ok(())
    }

    fn front(&self) -> &OpenSegment {
        self.segments
            .front()
            .expect("a reader always has its segment open")
    }

    fn front_mut(&mut self) -> &mut OpenSegment {
        self.segments
            .front_mut()
            .expect("a reader always has its segment open")
    }

    /// Reads the front segment's length again. Read after a later segment
    /// is known, it is final.
    fn refresh_front(&mut self) -> Result<u64, ReadError> {
        if self.front_complete {
            return Ok(self.front().file.file_len());
        }
        let later_known = self.segments.len() >= 2;
        let front = self.front_mut();
        let len = front
            .file
            .refresh_len()
            .map_err(|e| ReadError::io("stat", &front.path, e))?;
        self.front_complete = later_known;
        Ok(len)
    }

    /// The on-disk size of the record at the position, if its header is
    /// in the file; a length over the limit is left for the read to report.
    fn peek_record_bytes(&mut self) -> Result<Option<u64>, ReadError> {
        let offset = self.offset;
        let front = self.front_mut();
        if front.file.file_len().saturating_sub(offset) < RECORD_HEADER_BYTES as u64 {
            return Ok(None);
        }
        let mut bytes = [0u8; RECORD_HEADER_BYTES];
        match front.file.read(offset, &mut bytes) {
            Ok(()) => Ok(Some(RecordHeader::decode(&bytes).record_bytes())),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(ReadError::io("read", &front.path, e)),
        }
    }

    /// Reads and checks the record at the position, and moves past it.
    fn read_at_position(&mut self, want_payload: bool) -> Result<Found, ReadError> {
        let (offset, expected_lsn, last_epoch) = (self.offset, self.lsn_at_offset, self.last_epoch);
        let complete = self.front_complete;
        let front = self.front_mut();
        let read = match read_record(&mut front.file, offset, want_payload) {
            Ok(read) => read,
            // The file was cut back between reading its length and its
            // bytes: the writer is writing the tail again.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !complete => {
                return Ok(Found::Incomplete(Problem::IncompleteRecord {
                    needed_bytes: RECORD_HEADER_BYTES as u64,
                    available_bytes: front.file.file_len().saturating_sub(offset),
                }))
            }
            Err(e) => return Err(ReadError::io("read", &front.path, e)),
        };
        let (header, payload) = match read {
            ReadRecord::Valid(header, payload) => (header, payload),
            ReadRecord::Damaged(problem @ Problem::IncompleteRecord { .. }) => {
                return Ok(Found::Incomplete(problem))
            }
            ReadRecord::Damaged(problem) => {
                return Err(ReadError::corrupt(&front.path, offset, problem))
            }
        };
        check_record_order(&header, expected_lsn, last_epoch)
            .map_err(|problem| ReadError::corrupt(&front.path, offset, problem))?;
        self.offset += header.record_bytes();
        self.lsn_at_offset += 1;
        self.last_epoch = header.epoch;
        Ok(Found::Record(payload.map(|payload| Record {
            lsn: header.lsn,
            epoch: header.epoch,
            payload,
        })))
    }

    /// The front segment does not hold the record at the position whole:
    /// looks for more. Reads the length again; if the file did not grow,
    /// lists the directory for later segments (the front is then complete)
    /// and, with none, checks whether the front's name now points at a new
    /// file.
    fn look_for_more(&mut self) -> Result<(), ReadError> {
        let before = self.front().file.file_len();
        if self.refresh_front()? > before {
            return Ok(());
        }
        if self.segments.len() < 2 {
            self.open_later_segments()?;
        }
        if self.segments.len() >= 2 {
            self.refresh_front()?;
            return Ok(());
        }
        self.reopen_front_if_replaced()
    }

    /// Lists the directory and opens the segments after the last one open,
    /// up to [`READER_SEGMENTS_OPEN_MAX`] in all.
    fn open_later_segments(&mut self) -> Result<(), ReadError> {
        let listing = list_segments(self.disk.as_ref(), &self.dir)?;
        let last_open = self.segments.back().map_or(0, |segment| segment.first_lsn);
        for (first_lsn, name) in listing.iter().filter(|(lsn, _)| *lsn > last_open) {
            if self.segments.len() >= READER_SEGMENTS_OPEN_MAX {
                break;
            }
            let path = self.dir.join(name);
            match open_segment(self.disk.as_ref(), path.clone(), *first_lsn) {
                Ok(segment) => self.segments.push_back(segment),
                // Deleted since the listing: reported if the reader gets
                // there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(ReadError::io("open", path, e)),
            }
        }
        Ok(())
    }

    /// The writer makes a segment again when the directory sync after its
    /// creation failed: the name then points at a new file, with the same
    /// header and the records that follow, while the reader's handle points
    /// at the old one, which never grows. Moves to the new file if it is
    /// longer.
    fn reopen_front_if_replaced(&mut self) -> Result<(), ReadError> {
        let front = self.front();
        let path = front.path.clone();
        let file = match self.disk.open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ReadError::io("open", path, e)),
        };
        let len = file.len().map_err(|e| ReadError::io("stat", &path, e))?;
        if len <= front.file.file_len() {
            return Ok(());
        }
        let mut replacement = OpenSegment {
            path,
            first_lsn: front.first_lsn,
            file: WindowReader::new(file, len),
        };
        let header = checked_header(&mut replacement)?;
        self.check_fragment(&replacement, header.fragment_id)?;
        *self.front_mut() = replacement;
        Ok(())
    }

    /// The front segment is complete and holds no record at the position:
    /// moves to the next segment, which must start at the position's LSN.
    /// Changes nothing on error.
    fn next_segment(&mut self, problem: Problem) -> Result<(), ReadError> {
        let front = self.front();
        if self.offset != front.file.file_len() {
            // A later segment exists, so this one is complete: it cannot
            // end inside a record.
            return Err(ReadError::corrupt(&front.path, self.offset, problem));
        }
        assert!(
            self.segments.len() >= 2,
            "a segment counts as complete only once a later one is open"
        );
        if self.segments[1].first_lsn != self.lsn_at_offset {
            return Err(self.missing_segment());
        }
        // The segments after `next` were known before this length is read:
        // if there are any, it is final.
        let later_known = self.segments.len() >= 3;
        let next = &mut self.segments[1];
        next.file
            .refresh_len()
            .map_err(|e| ReadError::io("stat", &next.path, e))?;
        let header = checked_header(next)?;
        self.check_fragment(&self.segments[1], header.fragment_id)?;
        self.segments.pop_front();
        self.offset = SEGMENT_HEADER_BYTES as u64;
        self.front_complete = later_known;
        Ok(())
    }

    /// The segment after the front does not start where the front ends.
    /// If the front was deleted, a snapshot took the segments after it too
    /// (they go oldest first): the records are no longer retained.
    /// Otherwise the log has a gap or an overlap.
    fn missing_segment(&self) -> ReadError {
        let (front, next) = (&self.segments[0], &self.segments[1]);
        let gap = ReadError::corrupt(
            &next.path,
            0,
            Problem::SegmentGap {
                expected_first_lsn: self.lsn_at_offset,
                found_first_lsn: next.first_lsn,
            },
        );
        if next.first_lsn < self.lsn_at_offset {
            return gap;
        }
        let listing = match list_segments(self.disk.as_ref(), &self.dir) {
            Ok(listing) => listing,
            Err(e) => return e,
        };
        if listing.iter().any(|(lsn, _)| *lsn == front.first_lsn) {
            return gap;
        }
        ReadError::NotRetained {
            wanted_lsn: self.lsn_at_offset,
            first_lsn: listing.first().map_or(next.first_lsn, |(lsn, _)| *lsn),
        }
    }

    fn check_fragment(&self, segment: &OpenSegment, found: u32) -> Result<(), ReadError> {
        if found == self.fragment_id {
            return Ok(());
        }
        Err(ReadError::corrupt(
            &segment.path,
            0,
            Problem::FragmentMismatch {
                expected: self.fragment_id,
                found,
            },
        ))
    }
}

fn open_segment(disk: &dyn Disk, path: PathBuf, first_lsn: u64) -> io::Result<OpenSegment> {
    let file = disk.open(&path)?;
    let len = file.len()?;
    Ok(OpenSegment {
        path,
        first_lsn,
        file: WindowReader::new(file, len),
    })
}

/// Reads and checks a segment's header against its name.
fn checked_header(segment: &mut OpenSegment) -> Result<SegmentHeader, ReadError> {
    read_segment_header(&mut segment.file, segment.first_lsn)
        .map_err(|e| ReadError::io("read", &segment.path, e))?
        .map_err(|problem| ReadError::corrupt(&segment.path, 0, problem))
}

/// The segments in `dir`, `(first_lsn, name)` in LSN order.
fn list_segments(disk: &dyn Disk, dir: &Path) -> Result<Vec<(u64, String)>, ReadError> {
    match list_log_dir(disk, dir) {
        Ok(listing) => Ok(listing.segments),
        Err(LogError::Io { op, path, source }) => Err(ReadError::Io { op, path, source }),
        // Too many segments: the directory cannot be read within bounds.
        Err(other) => Err(ReadError::io(
            "list",
            dir,
            io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        )),
    }
}

/// The index of the segment that holds `from_lsn`: the last one starting
/// at or before it.
fn start_index(dir: &Path, segments: &[(u64, String)], from_lsn: u64) -> Result<usize, ReadError> {
    let Some((first_lsn, _)) = segments.first() else {
        return Err(ReadError::io(
            "find a log segment in",
            dir,
            io::Error::new(io::ErrorKind::NotFound, "no log segment"),
        ));
    };
    if from_lsn < *first_lsn {
        return Err(ReadError::NotRetained {
            wanted_lsn: from_lsn,
            first_lsn: *first_lsn,
        });
    }
    Ok(segments.partition_point(|(lsn, _)| *lsn <= from_lsn) - 1)
}

fn assert_batch(records: &[Record], first_lsn: u64, up_to_lsn: u64) {
    for (index, record) in records.iter().enumerate() {
        assert_eq!(
            record.lsn,
            first_lsn + index as u64,
            "log reader returned records out of order"
        );
    }
    if let Some(last) = records.last() {
        assert!(
            last.lsn <= up_to_lsn,
            "log reader returned LSN {} past the bound {up_to_lsn}",
            last.lsn
        );
    }
}
