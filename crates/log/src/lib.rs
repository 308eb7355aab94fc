//! DaisyDB's transaction log (write-ahead log), one per fragment.
//!
//! Owns: the log's files. Records `{lsn, epoch, payload}` go in, in order;
//! they come back out, in order, after a restart. The payload is opaque:
//! this crate knows nothing of commands or the keyspace. The byte layout
//! and the recovery rules are in `docs/log-format.md`.
//!
//! Layout:
//! - `knobs` ([`LogConfig`], [`ServiceConfig`]): every limit and default;
//! - `format`: segment names, header and record encoding, checksums;
//! - [`Disk`], [`RealDisk`], [`SimDisk`]: the storage trait, the real file
//!   system, and an in-memory disk that crashes at any byte and fails on
//!   request;
//! - [`LogWriter`]: appends, segment rotation, sync, deleting old segments;
//! - [`LogService`] / [`LogHandle`]: the group-commit thread the executor
//!   appends to without blocking, and `durable_lsn`;
//! - [`recover`]: startup, streaming the records after the snapshot; [`check`]:
//!   the read-only report behind `daisy check`;
//! - [`LogReader`]: reading a live log from any retained LSN while the
//!   writer appends and deletes old segments (replication's catch-up);
//! - [`truncate_after`]: cutting a closed log back to an LSN (a former
//!   primary dropping the records the new primary does not have).
//!
//! Must never: acknowledge a record that a crash could take back under the
//! chosen fsync policy, skip or reorder a record, or guess past damage.
//! A torn tail is cut; anything else wrong is corruption, reported with the
//! file and byte offset.
//!
//! Invariants (asserted): LSNs are dense and increase by one; a record's
//! epoch never decreases along the log; `synced <= written <= appended`;
//! `durable_lsn` only grows.

mod check;
mod disk;
mod error;
mod format;
mod knobs;
mod reader;
mod real_disk;
mod record;
mod recovery;
mod scan;
mod service;
mod sim_disk;
mod truncate;
mod window;
mod writer;

pub use check::{check, Report};
pub use disk::{read_exact_at, Disk, DiskFile};
pub use error::{AppendError, Corruption, LogError, Problem, ReadError, ReplayError};
pub use format::{
    segment_file_name, HeaderFault, FORMAT_VERSION, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
pub use knobs::{
    FsyncPolicy, LogConfig, ServiceConfig, CLOSE_TIMEOUT_DEFAULT, EVERYSEC_INTERVAL,
    GROUP_COMMIT_QUIET, GROUP_COMMIT_WINDOW_DEFAULT, LSN_MAX, MAX_PAYLOAD_BYTES,
    QUEUED_BYTES_MAX_DEFAULT, READER_SEGMENTS_OPEN_MAX, RETRY_BACKOFF_DEFAULT, SEGMENTS_MAX,
    SEGMENT_BYTES_DEFAULT, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN,
};
pub use reader::LogReader;
pub use real_disk::RealDisk;
pub use record::Record;
pub use recovery::{recover, Recovery};
pub use scan::{SegmentInfo, TornTail};
pub use service::{LogFailure, LogHandle, LogService, LogStatus, OnDurable};
pub use sim_disk::{CrashPlan, SimDisk};
pub use truncate::truncate_after;
pub use writer::LogWriter;
