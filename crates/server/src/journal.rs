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

/// One record not yet known durable: its LSN and its effect commands,
/// kept so that, while the disk fails, reads can tell whether they touch
/// data that could still be lost.
struct InFlight {
    lsn: u64,
    commands: Vec<Vec<Bytes>>,
}

pub struct Journal {
    log: LogHandle,
    durable: Arc<Durable>,
    epoch: u64,
    last_lsn: u64,
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
    pub fn new(log: LogHandle, durable: Arc<Durable>, last_lsn: u64, epoch: u64) -> Journal {
        Journal {
            log,
            durable,
            epoch,
            last_lsn,
            unit: Vec::new(),
            in_flight: VecDeque::new(),
            overflow: VecDeque::new(),
            failure: None,
            logged_bytes: 0,
            commit_signal: Rc::new(Notify::new()),
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
        let lsn = self.last_lsn;
        self.in_flight.push_back(InFlight { lsn, commands });
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

    /// Once per batch: drops what became durable, retries held-back
    /// records, and refreshes the failure state.
    pub fn refresh(&mut self) {
        let durable = self.durable.lsn();
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
        let mut gate = 0;
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

    /// What the committer task waits on.
    pub fn commit_signal(&self) -> Rc<Notify> {
        self.commit_signal.clone()
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
