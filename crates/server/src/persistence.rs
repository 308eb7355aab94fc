//! Durability of a node: startup recovery (newest valid snapshot, then the
//! log after it) and snapshots taken in the background.
//!
//! Files under `data_dir`: `log/` (segments, `docs/log-format.md`) and
//! `snapshots/` (`docs/snapshot-format.md`).
//!
//! Snapshots: the executor starts one at a unit boundary (so it is the
//! image of the keyspace after exactly `last_lsn`), then a local task walks
//! the keyspace in small steps between client requests, encoding entries;
//! a background thread writes the chunks, fsyncs and installs the file by
//! rename. Once installed, the log before it is deleted. Writes go on the
//! whole time; the keyspace keeps the image point-in-time by copying a key
//! before its first change during the walk.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use daisy_command::{record, Rng, Settings};
use daisy_keyspace::Db;
use daisy_log::{recover, LogConfig, LogService, LogWriter, RealDisk, ServiceConfig};
use daisy_snapshot::{
    EncodedChunk, ExpiredOnLoad, SnapshotDir, SnapshotEncoder, SnapshotHeader, SnapshotWriter,
};

use crate::journal::{Durable, Journal, JournalSignals};
use crate::Config;

/// Entries one snapshot step emits before the executor serves clients again.
pub const SNAPSHOT_STEP_ENTRIES: usize = 1_000;
/// Encoded bytes gathered before a chunk goes to the writer thread.
const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;
/// Chunks queued for the writer thread at most (bounds memory).
const SNAPSHOT_QUEUE_CHUNKS: usize = 16;

pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("log")
}

pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

/// What startup recovered.
pub struct Recovered {
    pub journal: Journal,
    pub snapshot_lsn: u64,
    pub snapshot_created_ms: u64,
}

/// Loads the newest valid snapshot into `db`, replays the log after it,
/// and starts the log service. With `apply` false (a warm standby) the
/// keyspace is left alone: the log is only read to find where it ends.
/// An error is a message for the operator naming the file and offset at
/// fault.
pub fn recover_node(
    config: &Config,
    db: &mut Db,
    rng: &mut Rng,
    settings: &Settings,
    apply: bool,
    signals: &JournalSignals,
) -> Result<Recovered, String> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", data_dir.display()))?;
    let snapshots = SnapshotDir::new(snapshot_dir(data_dir));
    std::fs::create_dir_all(snapshots.path())
        .map_err(|e| format!("cannot create {}: {e}", snapshots.path().display()))?;
    snapshots
        .remove_temporaries()
        .map_err(|e| format!("cannot clean {}: {e}", snapshots.path().display()))?;
    let choice = snapshots
        .newest_valid()
        .map_err(|e| format!("cannot list snapshots: {e}"))?;
    for damaged in &choice.damaged {
        tracing::warn!("skipping a damaged snapshot: {damaged}");
    }
    let (mut snapshot_lsn, mut snapshot_epoch, mut snapshot_created_ms) = (0, 0, 0);
    if let Some(snapshot) = choice.newest {
        let header = *snapshot.header();
        let path = snapshot.path().to_path_buf();
        if apply {
            // Expired keys stay: the log after the snapshot replays at its
            // own times, when they may still have been alive.
            let stats = snapshot
                .apply_to(db, ExpiredOnLoad::Keep)
                .map_err(|e| e.to_string())?;
            tracing::info!(
                "loaded snapshot {} at LSN {} ({} keys)",
                path.display(),
                header.lsn,
                stats.restored
            );
        }
        (snapshot_lsn, snapshot_epoch, snapshot_created_ms) =
            (header.lsn, header.epoch, header.created_ms);
    }

    let disk = Arc::new(RealDisk::new());
    let log_dir = log_dir(data_dir);
    let recovery = recover(disk.as_ref(), &log_dir, snapshot_lsn, |record| {
        if !apply {
            return Ok(());
        }
        record::replay(db, &record.payload, rng, settings).map_err(|e| e.into())
    })
    .map_err(|e| {
        format!(
            "{e}\nThe log cannot be read past this point; `daisy check --data-dir {}` reports what is on disk.",
            data_dir.display()
        )
    })?;
    if let Some(torn) = &recovery.torn_tail {
        tracing::warn!(
            "cut a torn record at the end of the log: {} bytes at offset {} of {} ({:?})",
            torn.bytes,
            torn.offset,
            torn.file.display(),
            torn.problem
        );
    }
    let replayed_records = recovery.records_replayed;
    let last_lsn = recovery.next_lsn() - 1;
    let last_record_epoch = if recovery.records_replayed > 0 {
        recovery.last_epoch()
    } else {
        snapshot_epoch
    };
    let epoch = last_record_epoch.max(1);
    let mut log_config = LogConfig::new(0);
    log_config.segment_bytes = config.log_segment_bytes;
    let writer = LogWriter::open(disk, log_config, &recovery).map_err(|e| e.to_string())?;
    let durable = Durable::new(last_lsn);
    let on_durable = {
        let durable = durable.clone();
        Box::new(move |lsn| durable.advance(lsn))
    };
    let policy = config.fsync_policy()?;
    let mut service = ServiceConfig::new(policy);
    service.group_commit_window = Duration::from_micros(config.group_commit_window_us);
    // Under `always` the executor commits once per round of work (see the
    // committer task), so an fsync covers every client served in a round.
    service.wake_on_append = policy != daisy_log::FsyncPolicy::Always;
    let log = LogService::start_with(writer, service, on_durable).map_err(|e| e.to_string())?;
    tracing::info!(
        "recovered to LSN {last_lsn} (snapshot at {snapshot_lsn}, {replayed_records} log records replayed), epoch {epoch}"
    );
    Ok(Recovered {
        journal: Journal::new(
            log,
            durable,
            last_lsn,
            last_record_epoch,
            epoch,
            // A standalone node has no secondaries to keep records for.
            if config.members.is_empty() {
                0
            } else {
                config.repl_backlog_bytes as usize
            },
            signals,
        ),
        snapshot_lsn,
        snapshot_created_ms,
    })
}

/// The outcome of a background snapshot, reported by the writer thread.
pub type SnapshotResult = Result<PathBuf, String>;

/// A snapshot in progress: the executor side.
pub struct SnapshotJob {
    pub lsn: u64,
    encoder: SnapshotEncoder,
    chunks: Option<SyncSender<EncodedChunk>>,
    /// A chunk the writer could not take yet (its queue was full).
    held: Option<EncodedChunk>,
    done: Receiver<SnapshotResult>,
    thread: Option<JoinHandle<()>>,
    walk_finished: bool,
    failed: Option<String>,
}

impl SnapshotJob {
    /// Starts the writer thread and the walk. The caller has ended the
    /// current unit of work, so the image is the state after `lsn`.
    pub fn start(db: &mut Db, data_dir: &Path, header: SnapshotHeader) -> Result<Self, String> {
        let dir = SnapshotDir::new(snapshot_dir(data_dir));
        let writer = dir.writer(&header).map_err(|e| e.to_string())?;
        let (chunk_tx, chunk_rx) = sync_channel::<EncodedChunk>(SNAPSHOT_QUEUE_CHUNKS);
        let (done_tx, done_rx) = sync_channel::<SnapshotResult>(1);
        let thread = std::thread::Builder::new()
            .name("daisy-snapshot".into())
            .spawn(move || {
                let _ = done_tx.send(write_chunks(writer, chunk_rx));
            })
            .map_err(|e| format!("cannot start the snapshot thread: {e}"))?;
        db.begin_snapshot();
        Ok(SnapshotJob {
            lsn: header.lsn,
            encoder: SnapshotEncoder::new(),
            chunks: Some(chunk_tx),
            held: None,
            done: done_rx,
            thread: Some(thread),
            walk_finished: false,
            failed: None,
        })
    }

    /// One bounded step of the walk. Returns false once nothing is left for
    /// the executor to do (the writer may still be finishing).
    pub fn step(&mut self, db: &mut Db) -> bool {
        if self.failed.is_some() || self.chunks.is_none() {
            return false;
        }
        if !self.send_held() {
            return true; // the writer is busy: try again later
        }
        if !self.walk_finished {
            let mut error = None;
            let encoder = &mut self.encoder;
            let more = db.snapshot_step(SNAPSHOT_STEP_ENTRIES, &mut |entry| {
                if error.is_none() {
                    error = encoder.push(&entry).err();
                }
            });
            if let Some(error) = error {
                db.abort_snapshot();
                self.fail(error.to_string());
                return false;
            }
            self.walk_finished = !more;
        }
        if self.walk_finished || self.encoder.buffered_bytes() >= SNAPSHOT_CHUNK_BYTES {
            self.held = Some(self.encoder.take_chunk());
            if !self.send_held() {
                return true;
            }
        }
        if self.walk_finished && self.held.is_none() {
            // Closing the channel tells the writer to finish the file.
            self.chunks = None;
            return false;
        }
        true
    }

    fn send_held(&mut self) -> bool {
        let (Some(chunk), Some(sender)) = (self.held.take(), &self.chunks) else {
            return true;
        };
        match sender.try_send(chunk) {
            Ok(()) => true,
            Err(TrySendError::Full(chunk)) => {
                self.held = Some(chunk);
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                // The writer stopped early: its result says why.
                self.chunks = None;
                false
            }
        }
    }

    fn fail(&mut self, error: String) {
        self.failed = Some(error);
        self.chunks = None;
    }

    /// The result once the job is over, `None` while it runs.
    pub fn poll(&mut self, db: &mut Db) -> Option<SnapshotResult> {
        if let Some(error) = self.failed.take() {
            self.join();
            return Some(Err(error));
        }
        match self.done.try_recv() {
            Ok(result) => {
                if db.snapshot_in_progress() {
                    db.abort_snapshot();
                }
                self.join();
                Some(result)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.join();
                Some(Err("the snapshot thread stopped".into()))
            }
        }
    }

    /// Blocks until the job is over (SAVE): walks the rest of the keyspace
    /// on this thread and waits for the file to be installed.
    pub fn finish_now(&mut self, db: &mut Db) -> SnapshotResult {
        loop {
            if !self.step(db) {
                if let Some(result) = self.poll(db) {
                    return result;
                }
                if self.chunks.is_none() {
                    break;
                }
            }
        }
        let result = self
            .done
            .recv()
            .unwrap_or_else(|_| Err("the snapshot thread stopped".into()));
        self.join();
        result
    }

    fn join(&mut self) {
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_chunks(mut writer: SnapshotWriter, chunks: Receiver<EncodedChunk>) -> SnapshotResult {
    for chunk in chunks.iter() {
        if let Err(error) = writer.write_chunk(&chunk) {
            let _ = writer.abort();
            return Err(error.to_string());
        }
    }
    writer.finish().map_err(|e| e.to_string())
}

/// What `daisy check` found in a data directory.
pub struct CheckReport {
    pub text: String,
    pub healthy: bool,
}

/// Reads a data directory without changing it: the log (segments, records,
/// LSN range, the first problem with its file and offset) and every
/// snapshot (verified end to end).
pub fn check_data_dir(data_dir: &Path) -> CheckReport {
    use std::fmt::Write;
    let mut text = String::new();
    let mut healthy = true;
    let _ = writeln!(text, "data directory: {}", data_dir.display());
    let snapshots = SnapshotDir::new(snapshot_dir(data_dir));
    match snapshots.list() {
        Ok(list) if list.is_empty() => {
            let _ = writeln!(text, "snapshots: none");
        }
        Ok(list) => {
            let _ = writeln!(text, "snapshots:");
            for (lsn, path) in list {
                match snapshots.load(&path) {
                    Ok(loaded) => {
                        let _ = writeln!(
                            text,
                            "  {}: LSN {lsn}, {} keys, {} bytes, ok",
                            path.display(),
                            loaded.entry_count(),
                            loaded.file_len()
                        );
                    }
                    Err(error) => {
                        healthy = false;
                        let _ = writeln!(text, "  {}: DAMAGED: {error}", path.display());
                    }
                }
            }
        }
        Err(error) => {
            healthy = false;
            let _ = writeln!(text, "snapshots: cannot list: {error}");
        }
    }
    let report = daisy_log::check(&RealDisk::new(), &log_dir(data_dir));
    healthy &= report.is_healthy();
    let _ = write!(text, "log:\n{report}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = writeln!(text, "{}", if healthy { "healthy" } else { "DAMAGED" });
    CheckReport { text, healthy }
}
