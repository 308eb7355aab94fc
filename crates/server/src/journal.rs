//! The executor's side of the transaction log: it turns the effects of each
//! command (or EXEC) into one record with the next LSN, hands it to the
//! log's group-commit thread, and tracks the commit watermark that gates
//! replies.
//!
//! Invariants:
//! - LSNs are assigned densely, one per unit of work that changed
//!   something, in the order the changes were made;
//! - `durable_lsn <= last_lsn`; a reply leaves only once `durable_lsn`
//!   covers every change it may depend on (see `Connection::wait_durable`);
//! - a record the log could not take (back-pressure) is kept, in order,
//!   and writes are refused until it has been handed over.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use daisy_command::record;
use daisy_log::{AppendError, LogHandle};
use tokio::sync::Notify;

/// The commit watermark, shared with the log thread, which advances it.
pub struct Durable {
    lsn: AtomicU64,
    advanced: Notify,
}

impl Durable {
    pub fn new(lsn: u64) -> Arc<Durable> {
        Arc::new(Durable {
            lsn: AtomicU64::new(lsn),
            advanced: Notify::new(),
        })
    }

    pub fn lsn(&self) -> u64 {
        self.lsn.load(Ordering::Acquire)
    }

    /// Called by the log thread after each group commit.
    pub fn advance(&self, lsn: u64) {
        self.lsn.fetch_max(lsn, Ordering::AcqRel);
        self.advanced.notify_waiters();
    }

    /// Waits until the watermark reaches `lsn`.
    pub async fn wait_for(&self, lsn: u64) {
        loop {
            let advanced = self.advanced.notified();
            tokio::pin!(advanced);
            advanced.as_mut().enable();
            if self.lsn() >= lsn {
                return;
            }
            advanced.await;
        }
    }
}

/// Most records kept for the read gate; past it, reads wait for the
/// newest record dropped (conservative, and bounded memory).
const IN_FLIGHT_MAX: usize = 100_000;

/// A recent record kept in memory for secondaries.
#[derive(Clone)]
pub struct BacklogRecord {
    pub lsn: u64,
    pub epoch: u64,
    pub payload: Bytes,
}

/// The newest records, up to a byte budget: a secondary that reconnects
/// within it resumes from memory; an older one reads the log on disk.
pub struct Backlog {
    records: VecDeque<BacklogRecord>,
    bytes: usize,
    max_bytes: usize,
}

impl Backlog {
    fn new(max_bytes: usize) -> Backlog {
        Backlog {
            records: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    fn push(&mut self, record: BacklogRecord) {
        if self.max_bytes == 0 {
            return;
        }
        self.bytes += record.payload.len();
        self.records.push_back(record);
        while self.bytes > self.max_bytes && self.records.len() > 1 {
            let old = self.records.pop_front().expect("not empty");
            self.bytes -= old.payload.len();
        }
    }

    /// The oldest LSN held, if any.
    pub fn first_lsn(&self) -> Option<u64> {
        self.records.front().map(|r| r.lsn)
    }

    /// Records from `from_lsn` on, about `max_bytes` of payload at most
    /// (at least one). Empty if `from_lsn` is not held.
    pub fn read(&self, from_lsn: u64, max_bytes: usize) -> Vec<BacklogRecord> {
        let Some(first) = self.first_lsn() else {
            return Vec::new();
        };
        if from_lsn < first || from_lsn - first >= self.records.len() as u64 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        for record in self.records.range((from_lsn - first) as usize..) {
            if !out.is_empty() && bytes + record.payload.len() > max_bytes {
                break;
            }
            bytes += record.payload.len();
            out.push(record.clone());
        }
        out
    }

    /// Payload bytes of the records after `lsn` that are held.
    pub fn bytes_after(&self, lsn: u64) -> u64 {
        self.records
            .iter()
            .rev()
            .take_while(|r| r.lsn > lsn)
            .map(|r| r.payload.len() as u64)
            .sum()
    }
}

/// One record not yet known durable: its LSN and its effect commands,
/// kept so that, while the disk fails, reads can tell whether they touch
/// data that could still be lost.
struct InFlight {
    lsn: u64,
    commands: Vec<Vec<Bytes>>,
}

/// Wake-ups that outlive one journal (a full sync replaces the journal;
/// the tasks waiting on these stay).
#[derive(Clone)]
pub struct JournalSignals {
    /// Wakes the committer task once records wait for a commit.
    pub commit: Rc<Notify>,
    /// Wakes the replication senders on every new record.
    pub appended: Rc<Notify>,
}

impl JournalSignals {
    pub fn new() -> JournalSignals {
        JournalSignals {
            commit: Rc::new(Notify::new()),
            appended: Rc::new(Notify::new()),
        }
    }
}

pub struct Journal {
    log: LogHandle,
    durable: Arc<Durable>,
    epoch: u64,
    last_lsn: u64,
    /// The epoch of the record at `last_lsn` (0 if there is none).
    last_record_epoch: u64,
    /// Reads wait at least for this LSN: newer in-flight records than it
    /// were dropped for the bound.
    in_flight_floor: u64,
    backlog: Backlog,
    /// Woken for every new record, for the replication senders.
    appended: Rc<Notify>,
    /// Effects of the unit of work in progress, in order.
    unit: Vec<Vec<Bytes>>,
    in_flight: VecDeque<InFlight>,
    /// Records the log refused for back-pressure, oldest first.
    overflow: VecDeque<(u64, Vec<u8>)>,
    /// The log's failure text, refreshed once per batch of requests.
    failure: Option<String>,
    /// Payload bytes handed to the log since start (snapshot trigger).
    logged_bytes: u64,
    /// Wakes the committer task once records wait for a commit.
    commit_signal: Rc<Notify>,
    commit_pending: bool,
}

impl Journal {
    pub fn new(
        log: LogHandle,
        durable: Arc<Durable>,
        last_lsn: u64,
        last_record_epoch: u64,
        epoch: u64,
        backlog_bytes: usize,
        signals: &JournalSignals,
    ) -> Journal {
        Journal {
            log,
            durable,
            epoch,
            last_lsn,
            last_record_epoch,
            in_flight_floor: 0,
            backlog: Backlog::new(backlog_bytes),
            appended: signals.appended.clone(),
            unit: Vec::new(),
            in_flight: VecDeque::new(),
            overflow: VecDeque::new(),
            failure: None,
            logged_bytes: 0,
            commit_signal: signals.commit.clone(),
            commit_pending: false,
        }
    }

    pub fn durable(&self) -> &Arc<Durable> {
        &self.durable
    }

    pub fn last_lsn(&self) -> u64 {
        self.last_lsn
    }

    pub fn durable_lsn(&self) -> u64 {
        self.durable.lsn()
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The epoch new records are written under (on promotion).
    pub fn set_epoch(&mut self, epoch: u64) {
        assert!(epoch >= self.epoch, "epoch {epoch} after {}", self.epoch);
        self.epoch = epoch;
    }

    pub fn last_record_epoch(&self) -> u64 {
        self.last_record_epoch
    }

    pub fn backlog(&self) -> &Backlog {
        &self.backlog
    }

    pub fn appended(&self) -> Rc<Notify> {
        self.appended.clone()
    }

    /// Appends a record received from the primary, with its own LSN and
    /// epoch. Returns false when the log cannot take it now
    /// (back-pressure or failure); the caller offers it again later.
    pub fn append_replicated(&mut self, lsn: u64, epoch: u64, payload: &[u8]) -> bool {
        assert_eq!(lsn, self.last_lsn + 1, "replicated records are dense");
        if !self.overflow.is_empty() || self.failure.is_some() {
            return false;
        }
        match self.log.append(lsn, epoch, payload.to_vec()) {
            Ok(()) => {}
            Err(AppendError::Backpressure { .. }) => return false,
            Err(error) => panic!("the log refused record {lsn}: {error}"),
        }
        self.last_lsn = lsn;
        self.last_record_epoch = epoch;
        self.logged_bytes += payload.len() as u64;
        self.remember(lsn, epoch, Bytes::copy_from_slice(payload));
        if !self.commit_pending {
            self.commit_pending = true;
            self.commit_signal.notify_one();
        }
        true
    }

    fn remember(&mut self, lsn: u64, epoch: u64, payload: Bytes) {
        self.backlog.push(BacklogRecord {
            lsn,
            epoch,
            payload,
        });
        self.appended.notify_waiters();
    }

    pub fn logged_bytes(&self) -> u64 {
        self.logged_bytes
    }

    /// Adds one effect command to the unit of work in progress.
    pub fn push(&mut self, command: Vec<Bytes>) {
        self.unit.push(command);
    }

    /// Ends the unit of work: if it changed anything, it becomes the record
    /// with the next LSN.
    pub fn end_unit(&mut self, timestamp_ms: u64) {
        if self.unit.is_empty() {
            return;
        }
        let commands = std::mem::take(&mut self.unit);
        let payload = record::encode(timestamp_ms, &commands);
        self.logged_bytes += payload.len() as u64;
        self.last_lsn += 1;
        self.last_record_epoch = self.epoch;
        let lsn = self.last_lsn;
        if self.backlog.max_bytes > 0 {
            self.remember(lsn, self.epoch, Bytes::copy_from_slice(&payload));
        }
        self.in_flight.push_back(InFlight { lsn, commands });
        if self.in_flight.len() > IN_FLIGHT_MAX {
            let dropped = self.in_flight.pop_front().expect("not empty");
            self.in_flight_floor = dropped.lsn;
        }
        if !self.commit_pending {
            self.commit_pending = true;
            self.commit_signal.notify_one();
        }
        if self.overflow.is_empty() {
            if let Err(payload) = self.hand_over(lsn, payload) {
                self.overflow.push_back((lsn, payload));
            }
        } else {
            self.overflow.push_back((lsn, payload));
        }
    }

    fn hand_over(&self, lsn: u64, payload: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.log.append(lsn, self.epoch, payload.clone()) {
            Ok(()) => Ok(()),
            Err(AppendError::Backpressure { .. }) => Err(payload),
            Err(error) => panic!("the log refused record {lsn}: {error}"),
        }
    }

    /// Once per batch: drops what became committed (durable, and below
    /// `committed_lsn`, the strictest replication watermark), retries
    /// held-back records, and refreshes the failure state.
    pub fn refresh(&mut self, committed_lsn: u64) {
        let durable = self.durable.lsn().min(committed_lsn);
        while self.in_flight.front().is_some_and(|r| r.lsn <= durable) {
            self.in_flight.pop_front();
        }
        while let Some((lsn, payload)) = self.overflow.pop_front() {
            if let Err(payload) = self.hand_over(lsn, payload) {
                self.overflow.push_front((lsn, payload));
                break;
            }
        }
        let status = self.log.status();
        self.failure = match status.failure {
            Some(failure) => Some(failure.message),
            None if !self.overflow.is_empty() => {
                Some(format!("the log is {} bytes behind", status.queued_bytes))
            }
            None => None,
        };
    }

    /// Why writes are refused now, if they are.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The LSN a read of `keys` must wait for while the log fails: the
    /// newest record not yet durable that changed one of them (0 if none).
    pub fn read_gate(&self, keys: &[&[u8]]) -> u64 {
        let mut gate = self.in_flight_floor;
        for record in &self.in_flight {
            let touches = record.commands.iter().any(|command| {
                command.first().is_some_and(|name| {
                    is_flush(name) || command_keys(command).any(|key| keys.contains(&key))
                })
            });
            if touches {
                gate = record.lsn;
            }
        }
        gate
    }

    /// Ends a round of work: the log writes (and syncs) everything queued,
    /// so one fsync covers every client served in the round.
    pub fn commit(&mut self) {
        self.commit_pending = false;
        self.log.commit();
    }

    pub fn remove_through(&self, lsn: u64) {
        self.log.remove_through(lsn);
    }

    /// Writes and syncs everything, for a clean shutdown.
    pub fn close(self) -> Result<u64, daisy_log::LogError> {
        self.log.close()
    }
}

fn is_flush(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"FLUSHALL") || name.eq_ignore_ascii_case(b"FLUSHDB")
}

fn command_keys(command: &[Bytes]) -> impl Iterator<Item = &[u8]> {
    daisy_command::lookup(&command[0])
        .map(|spec| spec.key_indices(command))
        .unwrap_or_default()
        .into_iter()
        .map(move |index| &command[index][..])
}
