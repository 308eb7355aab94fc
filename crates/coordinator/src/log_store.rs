//! The Raft log store behind openraft's `RaftLogStorage`: the entries, the
//! vote and the commit index, in memory, and, when opened on a directory,
//! also in `log_file` (every change fsynced before openraft is told it is
//! done).
//!
//! A `LogStore` is a cheap handle; clones share one log. In tests a voter
//! "restarts" by starting a new Raft on a clone of its old store, as a
//! process would on its old disk.
//!
//! The lock is a std mutex held only for in-memory work and the fsync of
//! the coordinator's few, small records, never across an `.await`.
//!
//! A write that fails (a full disk) is retried every
//! `WRITE_RETRY_PAUSE` for up to `WRITE_RETRY_FOR` before openraft hears
//! of it: openraft stops a Raft for good on any storage error, so a voter
//! that gave up at the first ENOSPC would never vote again, even once its
//! disk has room. Meanwhile this voter's Raft waits, as on a slow disk.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogState, RaftLogReader, StorageIOError};

use crate::log_file::{LogFile, LogRecord, LogState as Persisted};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// How long a failing write of the Raft log is retried before the error
/// stops this voter's Raft.
const WRITE_RETRY_FOR: Duration = Duration::from_secs(600);
/// The pause between two attempts.
const WRITE_RETRY_PAUSE: Duration = Duration::from_millis(100);

#[derive(Clone, Default)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    state: Persisted,
    file: Option<LogFile>,
}

impl LogStore {
    /// A log that lives only in memory.
    pub fn in_memory() -> LogStore {
        LogStore::default()
    }

    /// A log persisted in `dir`, recovered from what is there.
    pub fn open(dir: &Path) -> std::io::Result<LogStore> {
        let (file, state) = LogFile::open(dir)?;
        let inner = Inner {
            state,
            file: Some(file),
        };
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    /// The vote this voter last saved.
    pub fn vote(&self) -> Option<Vote> {
        self.lock().state.vote
    }

    /// The newest entry's log id (or the last purged one).
    pub fn last_log_id(&self) -> Option<LogId> {
        let inner = self.lock();
        let last = inner
            .state
            .entries
            .values()
            .next_back()
            .map(|entry| entry.log_id);
        last.or(inner.state.last_purged)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("log store lock poisoned")
    }

    /// Persists and applies `records`, retrying while the disk refuses
    /// them (see the module doc).
    async fn commit_retrying(&self, records: Vec<LogRecord>) -> std::io::Result<()> {
        let deadline = Instant::now() + WRITE_RETRY_FOR;
        let mut failed_attempts = 0u64;
        loop {
            let result = self.lock().commit(records.clone());
            match result {
                Ok(()) => {
                    if failed_attempts > 0 {
                        tracing::info!(failed_attempts, "the raft log is written again");
                    }
                    return Ok(());
                }
                Err(error) if Instant::now() < deadline => {
                    if failed_attempts == 0 {
                        tracing::error!(%error, "cannot write the raft log; retrying until the disk takes it");
                    }
                    failed_attempts += 1;
                    tokio::time::sleep(WRITE_RETRY_PAUSE).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl Inner {
    /// Persists `records` (if durable), then applies them in memory. Once
    /// they are durable the commit has happened: a failed compaction is
    /// only logged (the next commit tries again), so that a retry never
    /// writes the records twice.
    fn commit(&mut self, records: Vec<LogRecord>) -> std::io::Result<()> {
        if let Some(file) = &mut self.file {
            file.append(&records)?;
        }
        for record in records {
            self.state.replay(record);
        }
        if let Some(file) = &mut self.file {
            if let Err(error) = file.maybe_compact(&self.state) {
                tracing::warn!(%error, "cannot compact the raft log; trying again later");
            }
        }
        Ok(())
    }
}

fn write_error(error: std::io::Error) -> StorageError {
    StorageIOError::write_logs(AnyError::new(&error)).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let inner = self.lock();
        Ok(inner
            .state
            .entries
            .range(range)
            .map(|(_, entry)| entry.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id = self.lock().state.last_purged;
        let last_log_id = self.last_log_id();
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        self.commit_retrying(vec![LogRecord::Vote(*vote)])
            .await
            .map_err(|error| StorageIOError::write_vote(AnyError::new(&error)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.lock().state.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.commit_retrying(vec![LogRecord::Committed(committed)])
            .await
            .map_err(write_error)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.lock().state.committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let records: Vec<LogRecord> = entries.into_iter().map(LogRecord::Entry).collect();
        let result = self.commit_retrying(records).await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                let storage_error =
                    write_error(std::io::Error::new(error.kind(), error.to_string()));
                callback.log_io_completed(Err(error));
                Err(storage_error)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.commit_retrying(vec![LogRecord::TruncateFrom(log_id.index)])
            .await
            .map_err(write_error)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let last_purged = self.lock().state.last_purged;
        assert!(
            last_purged.is_none_or(|purged| purged <= log_id),
            "purge went backwards"
        );
        self.commit_retrying(vec![LogRecord::PurgeUpTo(log_id)])
            .await
            .map_err(write_error)
    }
}
