//! Every limit and default of the log in one place, with its reason.
//!
//! A simulation varies these through [`LogConfig`] and [`ServiceConfig`];
//! the constants are the defaults and the hard bounds.

use std::time::Duration;

/// Largest payload one record may carry: Redis's 512 MiB bulk limit plus
/// room for the rest of one command's effects. A larger length read from
/// disk is damage, never a size to allocate.
pub const MAX_PAYLOAD_BYTES: u32 = 520 * 1024 * 1024;

/// Largest LSN the log accepts (and the largest `first_lsn` it reads):
/// `i64::MAX`, so an LSN fits any signed 64-bit field and the next LSN
/// never overflows. LSNs start at 1.
pub const LSN_MAX: u64 = i64::MAX as u64;

/// Default size at which the writer starts a new segment.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// Smallest allowed segment size: a header and one record header.
pub const SEGMENT_BYTES_MIN: u64 =
    crate::format::SEGMENT_HEADER_BYTES as u64 + crate::format::RECORD_HEADER_BYTES as u64;
/// Largest allowed segment size (a record larger than this still gets a
/// segment of its own).
pub const SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// Most segment files one log may have; recovery and `check` refuse more
/// rather than scan an unbounded directory.
pub const SEGMENTS_MAX: usize = 100_000;

/// Bytes read from a segment at a time while scanning.
pub const READ_WINDOW_BYTES: usize = 1024 * 1024;

/// Most segments a [`crate::LogReader`] keeps open ahead of the one it
/// reads. An open segment stays readable when a snapshot deletes it, so a
/// reader behind the snapshot still finishes what it opened; a segment
/// past this many is opened when the reader gets there, and if a snapshot
/// deleted it first, the reader reports it no longer retained. Bounds the
/// file handles (and deleted files kept alive) per reader.
pub const READER_SEGMENTS_OPEN_MAX: usize = 32;

/// Default bound on the bytes appended but not yet acknowledged durable;
/// past it `append` reports back-pressure instead of queueing more.
pub const QUEUED_BYTES_MAX_DEFAULT: u64 = 256 * 1024 * 1024;

/// Default pause between two attempts after a write or sync error.
pub const RETRY_BACKOFF_DEFAULT: Duration = Duration::from_millis(100);

/// With `FsyncPolicy::EverySec`, the longest time written records stay
/// without an fsync.
pub const EVERYSEC_INTERVAL: Duration = Duration::from_secs(1);

/// Longest time the log thread sleeps with nothing to do before it looks
/// again (it is woken on every append; this only bounds the wait).
pub const IDLE_WAIT: Duration = Duration::from_millis(500);

/// Default time `close` keeps retrying a failing disk before it gives up
/// and reports what was not made durable.
pub const CLOSE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// Settings of one fragment's log writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// The fragment whose log this is; written in every segment header.
    pub fragment_id: u32,
    /// Size at which a new segment is started, in bytes.
    /// Default [`SEGMENT_BYTES_DEFAULT`]; bounded by [`SEGMENT_BYTES_MIN`]
    /// and [`SEGMENT_BYTES_MAX`].
    pub segment_bytes: u64,
}

impl LogConfig {
    pub fn new(fragment_id: u32) -> Self {
        LogConfig {
            fragment_id,
            segment_bytes: SEGMENT_BYTES_DEFAULT,
        }
    }

    /// Panics if a setting is out of its bounds: a configuration bug.
    pub(crate) fn assert_valid(&self) {
        assert!(
            (SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&self.segment_bytes),
            "segment_bytes {} outside {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX}",
            self.segment_bytes
        );
    }
}

/// When the log thread calls fsync, and so when a record counts as durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Durable after fsync; one fsync covers every record written since the
    /// last one (group commit).
    Always,
    /// Durable after write(2); fsync at most once per [`EVERYSEC_INTERVAL`].
    EverySec,
    /// Durable after write(2); no explicit fsync (the writer still fsyncs
    /// a segment before starting the next, and on close).
    No,
}

/// Longest a batch waits for more records before its fsync (see
/// [`ServiceConfig::group_commit_window`]); 0 disables the wait.
pub const GROUP_COMMIT_WINDOW_DEFAULT: Duration = Duration::from_micros(0);
/// A gap this long with no new record ends the group-commit wait.
pub const GROUP_COMMIT_QUIET: Duration = Duration::from_micros(20);

/// Settings of the group-commit service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub fsync: FsyncPolicy,
    /// Default [`QUEUED_BYTES_MAX_DEFAULT`].
    pub queued_bytes_max: u64,
    /// Default [`RETRY_BACKOFF_DEFAULT`].
    pub retry_backoff: Duration,
    /// Default [`CLOSE_TIMEOUT_DEFAULT`].
    pub close_timeout: Duration,
    /// Group commit under `Always`: after the first record of a batch
    /// arrives, wait while more keep coming (a gap of
    /// [`GROUP_COMMIT_QUIET`] ends the wait), at most this long, so one
    /// fsync covers a whole burst of clients rather than a few. Zero
    /// syncs at once. Default [`GROUP_COMMIT_WINDOW_DEFAULT`].
    pub group_commit_window: Duration,
    /// True: the log thread starts writing as soon as a record is queued.
    /// False: it waits for [`crate::LogHandle::commit`] (or closing), so
    /// the executor decides when a round of work is complete, as Redis
    /// writes its AOF once per event-loop iteration. Default true.
    pub wake_on_append: bool,
}

impl ServiceConfig {
    pub fn new(fsync: FsyncPolicy) -> Self {
        ServiceConfig {
            fsync,
            queued_bytes_max: QUEUED_BYTES_MAX_DEFAULT,
            retry_backoff: RETRY_BACKOFF_DEFAULT,
            close_timeout: CLOSE_TIMEOUT_DEFAULT,
            group_commit_window: GROUP_COMMIT_WINDOW_DEFAULT,
            wake_on_append: true,
        }
    }
}
