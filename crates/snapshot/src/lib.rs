//! DaisyDB's snapshot files: a consistent image of one fragment's keyspace
//! at an LSN, written in the background while clients keep writing.
//!
//! Owns: the snapshot file format (`docs/snapshot-format.md`), encoding
//! entries to bytes, writing and atomically installing a file, verifying
//! and loading one, and choosing among the files of a directory.
//!
//! Must never: apply anything from a file whose whole-file checksum has not
//! been verified; allocate for a length read from disk before checking it
//! against a limit and the bytes left; panic on file contents; install a
//! file under its final name before it is complete and durable.
//!
//! Layout:
//! - `format`: constants, limits, the header, file names;
//! - `encode`: [`SnapshotEncoder`], on the executor: entries to byte chunks;
//! - `writer`: [`SnapshotWriter`], on a background thread: chunks to a file,
//!   then `fsync`, rename, directory `fsync`;
//! - `load`, `decode`: [`load_snapshot`] (pass 1, verify) and
//!   [`LoadedSnapshot::apply_to`] / [`LoadedSnapshot::entries`] (pass 2);
//! - `dir`: [`SnapshotDir`]: newest valid snapshot, removal of older ones;
//! - `storage`: the [`Storage`] trait, the only place that touches files;
//! - `save`: [`save_snapshot`], the whole loop on one thread.
//!
//! How a serving node takes a snapshot at LSN `n`:
//!
//! ```text
//! executor thread                          writer thread
//! db.begin_snapshot()                      SnapshotWriter::create(dir, header{lsn: n})
//! between commands:
//!   more = db.snapshot_step(1000, |e| encoder.push(&e))
//!   send(encoder.take_chunk())  ────────>  writer.write_chunk(&chunk)
//! until !more                              writer.finish()  (trailer, fsync, rename, fsync dir)
//! ```
//!
//! Invariants:
//! - a `.snap` file is complete: it appears only by rename after `fsync`;
//! - a loaded snapshot's bytes matched their checksum before the first
//!   entry was handed out, and again when the last was.

mod decode;
mod dir;
mod encode;
mod error;
mod format;
mod load;
mod save;
mod storage;
mod writer;

pub use decode::RestoredEntry;
pub use dir::{newest_valid_snapshot, remove_older_than, SnapshotChoice, SnapshotDir};
pub use encode::{EncodedChunk, SnapshotEncoder};
pub use error::{Corruption, EncodeError, LoadError, StorageError};
pub use format::{
    parse_snapshot_file_name, snapshot_file_name, temporary_file_name, SnapshotHeader, BYTES_MAX,
    ELEMENTS_MAX, END_MAGIC, END_TAG, HEADER_LEN, MAGIC, TRAILER_LEN, VERSION,
};
pub use load::{load_snapshot, EntryReader, ExpiredOnLoad, LoadStats, LoadedSnapshot};
pub use save::{save_snapshot, SaveError};
pub use storage::{OsStorage, ReadFile, Storage, WriteFile};
pub use writer::SnapshotWriter;
