//! Group commit: one OS thread per log that takes every record queued
//! since its last pass, writes them with one write, makes them durable with
//! one fsync (under `FsyncPolicy::Always`), and then reports the new
//! `durable_lsn`.
//!
//! Owns: the [`LogWriter`] while it runs, the queue, and `durable_lsn`.
//! Must never: block the caller of [`LogHandle::append`] (a full queue is
//! an error value), report a record durable before it is written (and,
//! under `Always`, synced), or lose or reorder a record after a disk error:
//! it keeps them, reports the failure in [`LogHandle::status`], and tries
//! again every `retry_backoff` until the disk takes them.
//!
//! Invariants: `durable_lsn` only grows and never passes the last LSN
//! appended; `queued_bytes` counts the records appended and not yet
//! durable, and stays under `queued_bytes_max` (except for a single
//! record larger than the limit, accepted when nothing else waits).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{AppendError, LogError};
use crate::format::record_bytes;
use crate::knobs::{
    FsyncPolicy, ServiceConfig, EVERYSEC_INTERVAL, GROUP_COMMIT_QUIET, IDLE_WAIT, MAX_PAYLOAD_BYTES,
};
use crate::record::Record;
use crate::writer::LogWriter;

/// Called on the log thread with the new `durable_lsn` each time it grows.
pub type OnDurable = Box<dyn Fn(u64) + Send>;

/// A disk error the log thread is retrying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFailure {
    /// The error, with the file and operation (e.g. for a `-MISCONF` reply).
    pub message: String,
    /// Failed attempts in a row so far.
    pub attempts: u64,
}

/// A picture of the log service for status pages and for refusing writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogStatus {
    pub appended_lsn: u64,
    pub durable_lsn: u64,
    /// Bytes appended and not yet durable.
    pub queued_bytes: u64,
    /// Set while writes or syncs fail; cleared by the first success.
    pub failure: Option<LogFailure>,
    /// The last failure to delete old segments, if the last attempt failed.
    pub remove_error: Option<String>,
    /// The log thread has stopped (closed, or gave up while closing).
    pub stopped: bool,
}

pub struct LogService;

impl LogService {
    /// Starts the log thread with the default limits for `fsync`.
    pub fn start(
        writer: LogWriter,
        fsync: FsyncPolicy,
        on_durable: OnDurable,
    ) -> Result<LogHandle, LogError> {
        LogService::start_with(writer, ServiceConfig::new(fsync), on_durable)
    }

    pub fn start_with(
        writer: LogWriter,
        config: ServiceConfig,
        on_durable: OnDurable,
    ) -> Result<LogHandle, LogError> {
        let durable = writer.synced_lsn();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: Vec::new(),
                queued_bytes: 0,
                appended_lsn: writer.appended_lsn(),
                appended_epoch: writer.appended_epoch(),
                closing: false,
                stopped: false,
                remove_through: None,
                failure: None,
                remove_error: None,
                commit_requested: false,
            }),
            work: Condvar::new(),
            durable_changed: Condvar::new(),
            durable_lsn: AtomicU64::new(durable),
        });
        let dir = writer.dir().to_path_buf();
        let log_thread = LogThread {
            writer,
            config: config.clone(),
            shared: Arc::clone(&shared),
            on_durable,
            batch: VecDeque::new(),
            in_flight: VecDeque::new(),
            acked_lsn: durable,
            last_sync: Instant::now(),
            close_deadline: None,
            last_error: None,
        };
        let thread = std::thread::Builder::new()
            .name("daisy-log".to_owned())
            .spawn(move || log_thread.run())
            .map_err(|e| LogError::io("start log thread for", dir, e))?;
        Ok(LogHandle {
            shared,
            queued_bytes_max: config.queued_bytes_max,
            wake_on_append: config.wake_on_append,
            thread: Some(thread),
        })
    }
}

struct Shared {
    state: Mutex<State>,
    /// The log thread waits here for records or requests.
    work: Condvar,
    /// Waiters for `durable_lsn` wait here.
    durable_changed: Condvar,
    durable_lsn: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every unlock; a panic elsewhere does
        // not make it unusable.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

struct State {
    /// Appended, not yet taken by the log thread.
    queue: Vec<Record>,
    queued_bytes: u64,
    appended_lsn: u64,
    appended_epoch: u64,
    closing: bool,
    stopped: bool,
    remove_through: Option<u64>,
    failure: Option<LogFailure>,
    remove_error: Option<String>,
    /// The executor asked for the queue to be written now (see
    /// [`LogHandle::commit`]).
    commit_requested: bool,
}

/// The executor's side of the log.
pub struct LogHandle {
    shared: Arc<Shared>,
    queued_bytes_max: u64,
    wake_on_append: bool,
    thread: Option<JoinHandle<Result<(), LogError>>>,
}

impl LogHandle {
    /// Queues a record for the log thread; never blocks on the disk.
    ///
    /// On `Err` nothing was queued. Records are queued while the disk
    /// fails (up to the byte limit); check [`LogHandle::status`] to refuse
    /// writes meanwhile.
    ///
    /// Panics if `lsn` is not the one after the last appended, or `epoch`
    /// is lower than the last: a bug in the caller.
    pub fn append(&self, lsn: u64, epoch: u64, payload: Vec<u8>) -> Result<(), AppendError> {
        if payload.len() > MAX_PAYLOAD_BYTES as usize {
            return Err(AppendError::TooLarge {
                payload_len: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let bytes = record_bytes(payload.len());
        let mut state = self.shared.lock();
        if state.closing || state.stopped {
            return Err(AppendError::Closed);
        }
        let (last_lsn, last_epoch) = (state.appended_lsn, state.appended_epoch);
        if lsn != last_lsn + 1 || epoch < last_epoch {
            drop(state);
            panic!(
                "log append out of order: LSN {lsn} epoch {epoch} after LSN {last_lsn} epoch {last_epoch}"
            );
        }
        if state.queued_bytes > 0 && state.queued_bytes + bytes > self.queued_bytes_max {
            return Err(AppendError::Backpressure {
                queued_bytes: state.queued_bytes,
                limit: self.queued_bytes_max,
            });
        }
        let was_empty = state.queue.is_empty();
        state.queue.push(Record {
            lsn,
            epoch,
            payload,
        });
        state.queued_bytes += bytes;
        state.appended_lsn = lsn;
        state.appended_epoch = epoch;
        drop(state);
        if was_empty && self.wake_on_append {
            self.shared.work.notify_one();
        }
        Ok(())
    }

    /// Asks the log thread to write (and, under `Always`, sync) what is
    /// queued now. Needed only with `wake_on_append = false`, where the
    /// executor commits once per round of work so one fsync covers every
    /// client served in that round.
    pub fn commit(&self) {
        let mut state = self.shared.lock();
        state.commit_requested = true;
        drop(state);
        // Always wake: the flag may already be set from a commit that found
        // the queue empty, with the thread asleep since.
        self.shared.work.notify_one();
    }

    /// The highest LSN durable under the fsync policy.
    pub fn durable_lsn(&self) -> u64 {
        self.shared.durable_lsn.load(Ordering::Acquire)
    }

    /// Waits until `durable_lsn >= lsn`, at most `timeout`. Returns whether
    /// it got there.
    pub fn wait_durable(&self, lsn: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if self.durable_lsn() >= lsn {
                return true;
            }
            let now = Instant::now();
            if state.stopped || now >= deadline {
                return false;
            }
            state = self
                .shared
                .durable_changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
    }

    pub fn status(&self) -> LogStatus {
        let state = self.shared.lock();
        LogStatus {
            appended_lsn: state.appended_lsn,
            durable_lsn: self.durable_lsn(),
            queued_bytes: state.queued_bytes,
            failure: state.failure.clone(),
            remove_error: state.remove_error.clone(),
            stopped: state.stopped,
        }
    }

    /// Asks the log thread to delete the segments whose records all have
    /// an LSN `<= lsn` (after a snapshot at `lsn` is installed). A failure
    /// shows in [`LogStatus::remove_error`].
    pub fn remove_through(&self, lsn: u64) {
        let mut state = self.shared.lock();
        state.remove_through = Some(state.remove_through.map_or(lsn, |queued| queued.max(lsn)));
        drop(state);
        self.shared.work.notify_one();
    }

    /// Writes and syncs everything appended, whatever the policy, stops the
    /// thread and returns the final `durable_lsn`. Keeps retrying a failing
    /// disk for `close_timeout`, then reports what is not durable.
    pub fn close(mut self) -> Result<u64, LogError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<u64, LogError> {
        let Some(thread) = self.thread.take() else {
            return Ok(self.durable_lsn());
        };
        self.shared.lock().closing = true;
        self.shared.work.notify_one();
        match thread.join() {
            Ok(result) => result.map(|()| self.durable_lsn()),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for LogHandle {
    fn drop(&mut self) {
        if self.thread.is_none() {
            return;
        }
        if std::thread::panicking() {
            // Unwinding: tell the thread to finish, but do not wait for a
            // disk that may be failing.
            self.shared.lock().closing = true;
            self.shared.work.notify_one();
            return;
        }
        // Dropping without close still flushes; the result is lost.
        let _ = self.stop();
    }
}

/// The log thread's own state.
struct LogThread {
    writer: LogWriter,
    config: ServiceConfig,
    shared: Arc<Shared>,
    on_durable: OnDurable,
    /// Taken from the queue, not yet accepted by the writer.
    batch: VecDeque<Record>,
    /// `(lsn, bytes)` accepted by the writer, not yet durable.
    in_flight: VecDeque<(u64, u64)>,
    acked_lsn: u64,
    last_sync: Instant,
    close_deadline: Option<Instant>,
    last_error: Option<String>,
}

/// Marks the service stopped when the thread ends, however it ends.
struct StoppedOnExit(Arc<Shared>);

impl Drop for StoppedOnExit {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.durable_changed.notify_all();
    }
}

impl LogThread {
    fn run(mut self) -> Result<(), LogError> {
        let _stopped = StoppedOnExit(Arc::clone(&self.shared));
        loop {
            let (closing, remove_through) = self.wait_for_work();
            if closing && self.close_deadline.is_none() {
                self.close_deadline = Some(Instant::now() + self.config.close_timeout);
            }
            // Deleting old segments touches only finished segments, so it
            // need not wait for the active one to be healthy.
            if let Some(lsn) = remove_through {
                self.remove_through(lsn);
            }
            match self.write_pass(closing) {
                Ok(()) => self.clear_failure(),
                Err(e) => {
                    self.report_failure(&e);
                    if self.close_deadline.is_some_and(|at| Instant::now() >= at) {
                        return Err(self.not_durable());
                    }
                    std::thread::sleep(self.config.retry_backoff);
                    continue;
                }
            }
            if closing && self.batch.is_empty() && self.acked_lsn == self.writer.appended_lsn() {
                return Ok(());
            }
        }
    }

    /// Sleeps until there is something to do, then takes the queue.
    fn wait_for_work(&mut self) -> (bool, Option<u64>) {
        let shared = Arc::clone(&self.shared);
        let mut state = shared.lock();
        loop {
            // Records not yet handed over, acknowledged, or (after a failed
            // sync) written again.
            let unfinished = !self.batch.is_empty()
                || self.acked_lsn < self.writer.appended_lsn()
                || self.writer.written_lsn() < self.writer.appended_lsn();
            let queue_ready =
                !state.queue.is_empty() && (self.config.wake_on_append || state.commit_requested);
            if queue_ready
                || state.closing
                || state.remove_through.is_some()
                || unfinished
                || self.sync_due()
            {
                break;
            }
            let wait = self.idle_wait();
            state = shared
                .work
                .wait_timeout(state, wait)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
        }
        if !state.queue.is_empty() && !state.closing {
            state = self.gather_burst(&shared, state);
        }
        state.commit_requested = false;
        self.batch.extend(state.queue.drain(..));
        (state.closing, state.remove_through.take())
    }

    /// Under `Always`, lets a burst of appends finish before the fsync
    /// that will cover them: waits while the queue keeps growing, up to
    /// the group-commit window.
    fn gather_burst<'a>(
        &self,
        shared: &'a Shared,
        mut state: MutexGuard<'a, State>,
    ) -> MutexGuard<'a, State> {
        let window = self.config.group_commit_window;
        if self.config.fsync != FsyncPolicy::Always || window.is_zero() {
            return state;
        }
        let started = Instant::now();
        loop {
            let seen = state.queue.len();
            drop(state);
            std::thread::sleep(GROUP_COMMIT_QUIET);
            state = shared.lock();
            if state.queue.len() == seen || state.closing || started.elapsed() >= window {
                return state;
            }
        }
    }

    /// With `EverySec`: records are written but the last sync is a second
    /// old.
    fn sync_due(&self) -> bool {
        self.config.fsync == FsyncPolicy::EverySec
            && self.writer.synced_lsn() < self.writer.written_lsn()
            && self.last_sync.elapsed() >= EVERYSEC_INTERVAL
    }

    fn idle_wait(&self) -> Duration {
        if self.config.fsync == FsyncPolicy::EverySec
            && self.writer.synced_lsn() < self.writer.written_lsn()
        {
            EVERYSEC_INTERVAL
                .saturating_sub(self.last_sync.elapsed())
                .clamp(Duration::from_millis(1), IDLE_WAIT)
        } else {
            IDLE_WAIT
        }
    }

    /// Hands the batch to the writer, writes it, syncs per policy, and
    /// acknowledges what became durable. On error, whatever was not
    /// accepted stays in the batch and the writer keeps the rest.
    fn write_pass(&mut self, closing: bool) -> Result<(), LogError> {
        while let Some(record) = self.batch.front() {
            self.writer
                .append(record.lsn, record.epoch, &record.payload)?;
            self.in_flight
                .push_back((record.lsn, record_bytes(record.payload.len())));
            self.batch.pop_front();
        }
        if self.config.fsync == FsyncPolicy::Always || closing {
            self.sync()?;
            self.acknowledge(self.writer.synced_lsn());
            return Ok(());
        }
        self.writer.flush()?;
        self.acknowledge(self.writer.written_lsn());
        if self.sync_due() {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), LogError> {
        self.writer.sync()?;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn acknowledge(&mut self, lsn: u64) {
        if lsn <= self.acked_lsn {
            return;
        }
        self.acked_lsn = lsn;
        let mut freed = 0;
        while self.in_flight.front().is_some_and(|(at, _)| *at <= lsn) {
            if let Some((_, bytes)) = self.in_flight.pop_front() {
                freed += bytes;
            }
        }
        let mut state = self.shared.lock();
        assert!(
            lsn <= state.appended_lsn,
            "durable LSN {lsn} ahead of the log"
        );
        state.queued_bytes -= freed;
        // Progress ends a failure: a caller that sees the new durable LSN
        // sees the failure gone with it.
        if self.last_error.take().is_some() {
            state.failure = None;
        }
        self.shared.durable_lsn.store(lsn, Ordering::Release);
        drop(state);
        self.shared.durable_changed.notify_all();
        (self.on_durable)(lsn);
    }

    fn report_failure(&mut self, e: &LogError) {
        let message = e.to_string();
        self.last_error = Some(message.clone());
        let mut state = self.shared.lock();
        let attempts = state.failure.as_ref().map_or(0, |f| f.attempts) + 1;
        state.failure = Some(LogFailure { message, attempts });
    }

    fn clear_failure(&mut self) {
        if self.last_error.take().is_some() {
            self.shared.lock().failure = None;
        }
    }

    fn remove_through(&mut self, lsn: u64) {
        let outcome = self.writer.remove_through(lsn);
        self.shared.lock().remove_error = outcome.err().map(|e| e.to_string());
    }

    fn not_durable(&self) -> LogError {
        LogError::NotDurable {
            durable_lsn: self.acked_lsn,
            appended_lsn: self.shared.lock().appended_lsn,
            last_error: self
                .last_error
                .clone()
                .unwrap_or_else(|| "unknown error".to_owned()),
        }
    }
}
