//! The log's error values. Operating errors (I/O, damage on disk, a full
//! queue) are values; broken invariants (an LSN out of order from the
//! caller) are panics.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::format::HeaderFault;

/// What the replay callback may return to stop recovery.
pub type ReplayError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
pub enum LogError {
    /// A disk operation failed.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The log on disk is damaged or inconsistent; nothing is changed.
    Corrupt(Corruption),
    /// The log on disk belongs to another fragment than the writer's.
    WrongFragment {
        path: PathBuf,
        expected: u32,
        found: u32,
    },
    /// The directory holds more segments than [`crate::SEGMENTS_MAX`].
    TooManySegments {
        dir: PathBuf,
        count: usize,
        max: usize,
    },
    /// The replay callback refused the record with this LSN.
    Replay { lsn: u64, source: ReplayError },
    /// [`crate::truncate_after`] was asked to make the log end at `lsn`,
    /// which is before the log starts: it holds LSNs `first_lsn..=end_lsn`
    /// (none if `end_lsn < first_lsn`), a snapshot replaced the ones
    /// before, and it can end at `first_lsn - 1` at the earliest. Nothing
    /// was changed.
    CutBeforeStart {
        lsn: u64,
        first_lsn: u64,
        end_lsn: u64,
    },
    /// `close` gave up on a failing disk: records up to `appended_lsn` were
    /// accepted but only those up to `durable_lsn` are durable.
    NotDurable {
        durable_lsn: u64,
        appended_lsn: u64,
        last_error: String,
    },
}

impl LogError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> LogError {
        LogError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The damage report, if this is corruption.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            LogError::Corrupt(corruption) => Some(corruption),
            _ => None,
        }
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Io { op, path, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
            LogError::Corrupt(corruption) => write!(f, "log corrupt: {corruption}"),
            LogError::WrongFragment {
                path,
                expected,
                found,
            } => write!(
                f,
                "{} belongs to fragment {found}, not fragment {expected}",
                path.display()
            ),
            LogError::TooManySegments { dir, count, max } => write!(
                f,
                "{} holds {count} log segments, more than the limit of {max}",
                dir.display()
            ),
            LogError::Replay { lsn, source } => {
                write!(f, "replaying log record {lsn} failed: {source}")
            }
            LogError::CutBeforeStart {
                lsn,
                first_lsn,
                end_lsn,
            } => {
                write!(f, "cannot cut the log after LSN {lsn}: ")?;
                if end_lsn < first_lsn {
                    write!(f, "it holds no record and starts at LSN {first_lsn}")?;
                } else {
                    write!(f, "it holds LSNs {first_lsn}..={end_lsn} only")?;
                }
                write!(
                    f,
                    " (a snapshot replaced the records before), so it can end at LSN {} \
                     at the earliest",
                    first_lsn - 1
                )
            }
            LogError::NotDurable {
                durable_lsn,
                appended_lsn,
                last_error,
            } => write!(
                f,
                "log closed with records {}..={appended_lsn} not durable: {last_error}",
                durable_lsn + 1
            ),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Io { source, .. } => Some(source),
            LogError::Replay { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// Damage found in a log: where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    pub file: PathBuf,
    /// Byte offset in `file` of the header or record that is wrong.
    pub offset: u64,
    pub problem: Problem,
    /// Offset of a valid record found after damage in the last segment:
    /// the reason the damage is not taken for a torn tail.
    pub valid_record_after: Option<u64>,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.file.display(),
            self.offset,
            self.problem
        )?;
        if let Some(after) = self.valid_record_after {
            write!(
                f,
                " (a valid record follows at byte {after}, so this is not a torn tail)"
            )?;
        }
        Ok(())
    }
}

/// What is wrong at a [`Corruption`]'s offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The file is shorter than a segment header.
    ShortHeader {
        len: u64,
    },
    BadHeader(HeaderFault),
    /// The header's first LSN is 0 or above [`crate::LSN_MAX`].
    FirstLsnOutOfRange {
        first_lsn: u64,
    },
    /// The header's first LSN is not the one in the file name.
    NameMismatch {
        name_lsn: u64,
        header_lsn: u64,
    },
    /// The segment belongs to another fragment than the segments before it.
    FragmentMismatch {
        expected: u32,
        found: u32,
    },
    /// The segment does not start right after the previous one ends: a
    /// segment is missing or truncated, or two overlap.
    SegmentGap {
        expected_first_lsn: u64,
        found_first_lsn: u64,
    },
    /// The log starts after the record that follows the snapshot.
    StartsAfterSnapshot {
        first_lsn: u64,
        snapshot_lsn: u64,
    },
    /// A record length over the limit.
    RecordTooLarge {
        payload_len: u32,
    },
    /// The file ends inside a record.
    IncompleteRecord {
        needed_bytes: u64,
        available_bytes: u64,
    },
    /// The record's checksum does not match its bytes.
    BadChecksum {
        stored: u32,
        computed: u32,
    },
    /// A record with a valid checksum but not the next LSN.
    LsnOutOfOrder {
        expected: u64,
        found: u64,
    },
    /// A record whose epoch is lower than the one before it.
    EpochDecreased {
        previous: u64,
        found: u64,
    },
}

impl Problem {
    /// True for the damage a crash in the middle of a write leaves at the
    /// end of the log; everything else can only be corruption.
    pub(crate) fn may_be_torn_write(&self) -> bool {
        matches!(
            self,
            Problem::RecordTooLarge { .. }
                | Problem::IncompleteRecord { .. }
                | Problem::BadChecksum { .. }
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ShortHeader { len } => {
                write!(f, "file of {len} bytes is too short for a segment header")
            }
            Problem::BadHeader(HeaderFault::BadMagic) => write!(f, "bad magic in segment header"),
            Problem::BadHeader(HeaderFault::BadChecksum { stored, computed }) => write!(
                f,
                "segment header checksum {stored:#010x} does not match {computed:#010x}"
            ),
            Problem::BadHeader(HeaderFault::UnsupportedVersion(version)) => {
                write!(f, "unsupported log format version {version}")
            }
            Problem::BadHeader(HeaderFault::UnsupportedFlags(flags)) => {
                write!(f, "unsupported segment flags {flags:#06x}")
            }
            Problem::BadHeader(HeaderFault::NonZeroReserved) => {
                write!(f, "reserved header bytes are not zero")
            }
            Problem::FirstLsnOutOfRange { first_lsn } => {
                write!(f, "first LSN {first_lsn} is outside 1..={}", crate::LSN_MAX)
            }
            Problem::NameMismatch {
                name_lsn,
                header_lsn,
            } => write!(
                f,
                "header says first LSN {header_lsn}, file name says {name_lsn}"
            ),
            Problem::FragmentMismatch { expected, found } => write!(
                f,
                "segment of fragment {found} among segments of fragment {expected}"
            ),
            Problem::SegmentGap {
                expected_first_lsn,
                found_first_lsn,
            } => write!(
                f,
                "segment starts at LSN {found_first_lsn}, expected {expected_first_lsn} \
                 (a segment is missing, truncated or duplicated)"
            ),
            Problem::StartsAfterSnapshot {
                first_lsn,
                snapshot_lsn,
            } => write!(
                f,
                "log starts at LSN {first_lsn}, after the snapshot at LSN {snapshot_lsn} \
                 (records {}..{first_lsn} are missing)",
                snapshot_lsn + 1
            ),
            Problem::RecordTooLarge { payload_len } => {
                write!(f, "record length {payload_len} is over the limit")
            }
            Problem::IncompleteRecord {
                needed_bytes,
                available_bytes,
            } => write!(
                f,
                "incomplete record: {needed_bytes} bytes needed, {available_bytes} left in the file"
            ),
            Problem::BadChecksum { stored, computed } => write!(
                f,
                "record checksum {stored:#010x} does not match {computed:#010x}"
            ),
            Problem::LsnOutOfOrder { expected, found } => {
                write!(f, "record has LSN {found}, expected {expected}")
            }
            Problem::EpochDecreased { previous, found } => write!(
                f,
                "record epoch {found} is lower than the previous epoch {previous}"
            ),
        }
    }
}

/// Why [`crate::LogReader`] could not open or read. Nothing was skipped:
/// the reader is still at the record it could not read, and a later call
/// tries that record again.
#[derive(Debug)]
pub enum ReadError {
    /// Record `wanted_lsn` is no longer on disk: a snapshot replaced the
    /// log up to `first_lsn - 1` (the caller sends that snapshot instead).
    NotRetained { wanted_lsn: u64, first_lsn: u64 },
    /// A record the caller's bound says is written is damaged, or the log
    /// is inconsistent (a gap, a bad header, an LSN or epoch out of order).
    Corrupt(Corruption),
    /// A disk operation failed.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl ReadError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> ReadError {
        ReadError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(file: impl Into<PathBuf>, offset: u64, problem: Problem) -> ReadError {
        ReadError::Corrupt(Corruption {
            file: file.into(),
            offset,
            problem,
            valid_record_after: None,
        })
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRetained {
                wanted_lsn,
                first_lsn,
            } => write!(
                f,
                "log record {wanted_lsn} is no longer retained: the log now starts at LSN \
                 {first_lsn} (a snapshot replaced the records before it)"
            ),
            ReadError::Corrupt(corruption) => write!(f, "log corrupt: {corruption}"),
            ReadError::Io { op, path, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why [`crate::LogHandle::append`] did not queue a record. Nothing was
/// queued; the caller may offer the same record again later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// The queue holds `queued_bytes` not yet durable, and this record
    /// would take it past `limit`.
    Backpressure { queued_bytes: u64, limit: u64 },
    /// The payload is over [`crate::MAX_PAYLOAD_BYTES`].
    TooLarge { payload_len: usize, max: u32 },
    /// The log is closing or its thread has stopped.
    Closed,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::Backpressure {
                queued_bytes,
                limit,
            } => write!(
                f,
                "log queue full: {queued_bytes} bytes waiting to be durable (limit {limit})"
            ),
            AppendError::TooLarge { payload_len, max } => {
                write!(
                    f,
                    "log record of {payload_len} bytes is over the limit of {max}"
                )
            }
            AppendError::Closed => write!(f, "log is closed"),
        }
    }
}

impl std::error::Error for AppendError {}
