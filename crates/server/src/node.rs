//! The state one node's executor owns: the keyspace, the clients, pub/sub,
//! blocked clients and watched keys. There is one `Node` per process, used
//! from one thread; connection tasks borrow it for the length of a batch of
//! commands and never across an `.await`.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use daisy_command::{execute, Ctx, DataFn, Effect, Flow, Rng, Settings};
use daisy_keyspace::{CompactBytes, Db, ValueKind};
use daisy_protocol::Reply;
use hashbrown::HashMap;

use crate::client::{Blocked, ClientHandle, ClientId};
use crate::journal::{Journal, JournalSignals};
use crate::persistence::SnapshotJob;
use crate::pubsub::PubSub;
use crate::Config;

/// Most wake-ups of blocked clients one write may cause (a BLMOVE chain
/// can make more keys ready); a bound so a cycle cannot spin.
const BLOCKED_SERVES_PER_WRITE_MAX: usize = 100_000;

/// Counters reported by INFO stats.
#[derive(Default)]
pub struct Stats {
    pub connections_received: u64,
    pub connections_rejected: u64,
    pub commands_processed: u64,
    pub expired_keys: u64,
    /// Changes since start (the effects recorded).
    pub changes: u64,
    pub pubsub_messages: u64,
}

pub struct Node {
    pub config: Config,
    pub db: Db,
    pub rng: Rng,
    pub settings: Settings,
    pub clients: HashMap<ClientId, Rc<ClientHandle>>,
    next_client_id: ClientId,
    pub pubsub: PubSub,
    /// Clients blocked on each key, in the order they blocked.
    blocked_on: HashMap<Bytes, VecDeque<ClientId>>,
    /// Clients watching each key.
    watchers: HashMap<CompactBytes, Vec<ClientId>>,
    pub stats: Stats,
    pub started_ms: u64,
    pub shutdown_requested: bool,
    effects: Vec<Effect>,
    /// The transaction log, when persistence is on.
    pub journal: Option<Journal>,
    pub signals: JournalSignals,
    /// Replication, when the node has members.
    pub repl: Option<crate::replication::Replication>,
    pub snapshots: Snapshots,
}

/// Snapshot bookkeeping, reported by INFO persistence and LASTSAVE.
#[derive(Default)]
pub struct Snapshots {
    pub job: Option<SnapshotJob>,
    /// LSN of the newest installed snapshot.
    pub lsn: u64,
    /// When it was made (Unix ms); startup time if there is none.
    pub saved_ms: u64,
    /// The outcome of the last background snapshot.
    pub last_error: Option<String>,
    /// When the last attempt ended, for retry pacing (Unix ms).
    pub last_attempt_ms: u64,
    /// The journal's byte count when the running / last snapshot started.
    pub logged_bytes_at_start: u64,
    pub logged_bytes_at_snapshot: u64,
    /// `Stats::changes` when the last snapshot was installed.
    pub changes_at_snapshot: u64,
}

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Node {
    pub fn new(config: Config, seed: u64) -> Node {
        let settings = Settings {
            max_string_bytes: config.proto_max_bulk_len,
        };
        Node {
            config,
            db: Db::new(seed),
            rng: Rng::new(seed ^ 0x9E37_79B9_7F4A_7C15),
            settings,
            clients: HashMap::new(),
            next_client_id: 1,
            pubsub: PubSub::default(),
            blocked_on: HashMap::new(),
            watchers: HashMap::new(),
            stats: Stats::default(),
            started_ms: now_ms(),
            shutdown_requested: false,
            effects: Vec::new(),
            journal: None,
            signals: JournalSignals::new(),
            repl: None,
            snapshots: Snapshots::default(),
        }
    }

    pub fn next_client_id(&mut self) -> ClientId {
        let id = self.next_client_id;
        self.next_client_id += 1;
        id
    }

    pub fn client(&self, id: ClientId) -> Option<Rc<ClientHandle>> {
        self.clients.get(&id).cloned()
    }

    /// Keeps the settings derived from the config in step after CONFIG SET.
    pub fn config_changed(&mut self) {
        self.settings.max_string_bytes = self.config.proto_max_bulk_len;
        if let Some(repl) = &mut self.repl {
            if let Ok(level) = self.config.safeness_level() {
                repl.safeness = level;
            }
            repl.tracker
                .set_sync_timeout_ms(self.config.sync_timeout_ms);
            repl.changed.notify_waiters();
        }
    }

    /// Runs a data command and records its effects. The caller has set the
    /// clock with `db.set_now`.
    pub fn run_data(
        &mut self,
        handler: DataFn,
        argv: &[Bytes],
        reply: &mut Reply,
        in_multi: bool,
    ) -> Flow {
        let mut effects = std::mem::take(&mut self.effects);
        let flow = {
            let mut ctx = Ctx {
                db: &mut self.db,
                reply,
                effects: &mut effects,
                rng: &mut self.rng,
                settings: &self.settings,
                in_multi,
            };
            execute(&mut ctx, handler, argv)
        };
        self.record_changes(argv, &effects);
        effects.clear();
        self.effects = effects;
        flow
    }

    /// Accounts for keys a session command's lookups deleted by expiry.
    pub fn note_expired(&mut self) {
        self.record_changes(&[], &[]);
    }

    /// Accounts for the changes of one command: keys deleted by expiry
    /// first (they were already logically gone), then the command's own,
    /// into the unit of work the next record will hold.
    fn record_changes(&mut self, argv: &[Bytes], effects: &[Effect]) {
        if self.db.has_expired() {
            let expired = self.db.take_expired();
            self.stats.expired_keys += expired.len() as u64;
            self.stats.changes += expired.len() as u64;
            if let Some(journal) = &mut self.journal {
                for key in expired {
                    journal.push(vec![
                        Bytes::from_static(b"DEL"),
                        Bytes::copy_from_slice(&key),
                    ]);
                }
            }
        }
        self.stats.changes += effects.len() as u64;
        if let Some(journal) = &mut self.journal {
            for effect in effects {
                journal.push(match effect {
                    Effect::Verbatim => argv.to_vec(),
                    Effect::Command(command) => command.clone(),
                });
            }
        }
    }

    /// Ends a unit of work (a command, an EXEC, an expiry cycle): what it
    /// changed becomes one log record.
    pub fn end_unit(&mut self) {
        if let Some(journal) = &mut self.journal {
            journal.end_unit(self.db.now_ms());
        }
    }

    /// The LSN every reply produced so far depends on at most.
    pub fn last_lsn(&self) -> u64 {
        self.journal.as_ref().map_or(0, Journal::last_lsn)
    }

    /// Starts a background snapshot of the state after the last record.
    pub fn start_snapshot(&mut self) -> Result<(), String> {
        if self.snapshots.job.is_some() {
            return Err("Background save already in progress".into());
        }
        self.end_unit();
        if self.holds_no_data() {
            return Err("a warm standby holds no applied data to snapshot".into());
        }
        let Some(journal) = &self.journal else {
            return Err("persistence is off (persistence = false)".into());
        };
        let header = daisy_snapshot::SnapshotHeader {
            fragment_id: 0,
            lsn: journal.last_lsn(),
            epoch: journal.last_record_epoch(),
            created_ms: now_ms(),
        };
        let job = SnapshotJob::start(&mut self.db, &self.config.data_dir, header)?;
        self.snapshots.job = Some(job);
        self.snapshots.logged_bytes_at_start = journal.logged_bytes();
        Ok(())
    }

    /// One bounded step of a running snapshot; true while more are wanted.
    pub fn snapshot_step(&mut self) -> bool {
        match &mut self.snapshots.job {
            Some(job) => job.step(&mut self.db),
            None => false,
        }
    }

    /// Notices a finished snapshot: on success the log before it goes.
    pub fn poll_snapshot(&mut self) {
        let Some(job) = &mut self.snapshots.job else {
            return;
        };
        let Some(result) = job.poll(&mut self.db) else {
            return;
        };
        let lsn = job.lsn;
        self.snapshots.job = None;
        self.snapshot_finished(lsn, result);
    }

    /// SAVE: takes a snapshot now, blocking the executor until installed.
    pub fn save_now(&mut self) -> Result<(), String> {
        self.start_snapshot()?;
        let mut job = self.snapshots.job.take().expect("just started");
        let result = job.finish_now(&mut self.db);
        let outcome = result.as_ref().map(|_| ()).map_err(Clone::clone);
        self.snapshot_finished(job.lsn, result);
        outcome
    }

    fn snapshot_finished(&mut self, lsn: u64, result: crate::persistence::SnapshotResult) {
        self.snapshots.last_attempt_ms = now_ms();
        match result {
            Ok(path) => {
                tracing::info!("snapshot at LSN {lsn} installed: {}", path.display());
                self.snapshots.lsn = lsn;
                self.snapshots.saved_ms = now_ms();
                self.snapshots.last_error = None;
                self.snapshots.logged_bytes_at_snapshot = self.snapshots.logged_bytes_at_start;
                self.snapshots.changes_at_snapshot = self.stats.changes;
                if let Some(journal) = &self.journal {
                    journal.remove_through(lsn);
                }
                let dir = daisy_snapshot::SnapshotDir::new(crate::persistence::snapshot_dir(
                    &self.config.data_dir,
                ));
                if let Err(error) = dir.remove_older_than(lsn) {
                    tracing::warn!("cannot remove old snapshots: {error}");
                }
            }
            Err(error) => {
                tracing::warn!("snapshot at LSN {lsn} failed: {error}");
                self.snapshots.last_error = Some(error);
            }
        }
    }

    /// Starts a snapshot when the log has grown enough or enough time has
    /// passed with changes; a failed one is retried after a pause.
    pub fn maybe_snapshot(&mut self) {
        const RETRY_AFTER_FAILURE_MS: u64 = 5_000;
        let Some(journal) = &self.journal else {
            return;
        };
        if self.snapshots.job.is_some() || self.holds_no_data() {
            return;
        }
        let now = now_ms();
        if self.snapshots.last_error.is_some()
            && now.saturating_sub(self.snapshots.last_attempt_ms) < RETRY_AFTER_FAILURE_MS
        {
            return;
        }
        let grown = journal.logged_bytes() - self.snapshots.logged_bytes_at_snapshot;
        let changed = self.stats.changes != self.snapshots.changes_at_snapshot;
        let by_size = self.config.snapshot_log_bytes > 0 && grown >= self.config.snapshot_log_bytes;
        let by_time = self.config.snapshot_interval_secs > 0
            && changed
            && now.saturating_sub(self.snapshots.saved_ms.max(self.started_ms))
                >= self.config.snapshot_interval_secs * 1000;
        if by_size || by_time {
            if let Err(error) = self.start_snapshot() {
                tracing::warn!("cannot start a snapshot: {error}");
                self.snapshots.last_error = Some(error);
                self.snapshots.last_attempt_ms = now;
            }
        }
    }

    /// Why writes are refused now (the log cannot be written), if they are.
    pub fn write_refusal(&self) -> Option<String> {
        let failure = self.journal.as_ref()?.failure()?;
        Some(format!(
            "MISCONF Errors writing to the transaction log: {failure}. Writes are refused until it can be written; reads go on."
        ))
    }

    /// Deletes some expired keys; called by the background cycle.
    pub fn active_expire(&mut self) {
        self.db.set_now(now_ms());
        if self.db.active_expire_cycle() > 0 {
            self.record_changes(&[], &[]);
            self.end_unit();
            self.after_changes(&[]);
        }
    }

    /// After a command (or a whole EXEC) changed keys: fail the
    /// transactions that watched them and serve clients blocked on them.
    pub fn after_changes(&mut self, written_keys: &[Bytes]) {
        if self.db.has_touched_watched() {
            for key in self.db.take_touched_watched() {
                for id in self.watchers.get(&key).into_iter().flatten() {
                    if let Some(client) = self.clients.get(id) {
                        client.state.borrow_mut().watch_dirty = true;
                    }
                }
            }
        }
        if !self.blocked_on.is_empty() && !written_keys.is_empty() {
            self.serve_blocked(written_keys);
        }
    }

    pub fn watch(&mut self, client: &ClientHandle, key: &Bytes) {
        let mut state = client.state.borrow_mut();
        if state.watched.iter().any(|k| k == key) {
            return;
        }
        state.watched.push(key.clone());
        self.db.watch(key);
        self.watchers
            .entry(CompactBytes::new(key))
            .or_default()
            .push(client.id);
    }

    pub fn unwatch_all(&mut self, client: &ClientHandle) {
        let mut state = client.state.borrow_mut();
        for key in state.watched.drain(..) {
            self.db.unwatch(&key);
            if let Some(ids) = self.watchers.get_mut(key.as_ref()) {
                ids.retain(|&id| id != client.id);
                if ids.is_empty() {
                    self.watchers.remove(key.as_ref());
                }
            }
        }
        state.watch_dirty = false;
    }

    pub fn block(&mut self, client: &ClientHandle, blocked: Blocked) {
        for key in &blocked.keys {
            let queue = self.blocked_on.entry(key.clone()).or_default();
            if !queue.contains(&client.id) {
                queue.push_back(client.id);
            }
        }
        client.state.borrow_mut().blocked = Some(blocked);
    }

    /// Takes the client out of every wait queue; returns what it was
    /// blocked in, if anything.
    pub fn unblock(&mut self, client: &ClientHandle) -> Option<Blocked> {
        let blocked = client.state.borrow_mut().blocked.take()?;
        for key in &blocked.keys {
            if let Some(queue) = self.blocked_on.get_mut(key) {
                queue.retain(|&id| id != client.id);
                if queue.is_empty() {
                    self.blocked_on.remove(key);
                }
            }
        }
        Some(blocked)
    }

    pub fn has_blocked_clients(&self) -> bool {
        !self.blocked_on.is_empty()
    }

    pub fn blocked_client_count(&self) -> usize {
        self.clients
            .values()
            .filter(|c| c.state.borrow().blocked.is_some())
            .count()
    }

    /// Re-runs the commands of clients blocked on `keys`, oldest first, as
    /// Redis does after each write; a served client gets its reply through
    /// its outbox.
    fn serve_blocked(&mut self, keys: &[Bytes]) {
        let mut ready: VecDeque<Bytes> = keys
            .iter()
            .filter(|key| self.blocked_on.contains_key(*key))
            .cloned()
            .collect();
        let mut serves = 0;
        while let Some(key) = ready.pop_front() {
            let waiters: Vec<ClientId> = match self.blocked_on.get(&key) {
                Some(queue) => queue.iter().copied().collect(),
                None => continue,
            };
            for id in waiters {
                serves += 1;
                if serves > BLOCKED_SERVES_PER_WRITE_MAX {
                    return;
                }
                let Some(client) = self.client(id) else {
                    continue;
                };
                let Some(blocked) = client.state.borrow().blocked.clone() else {
                    continue;
                };
                // A key recreated with another type does not wake the
                // client: Redis keeps it waiting (until its timeout).
                if !holds_awaited_kind(&mut self.db, &blocked.argv[0], &key) {
                    break;
                }
                let mut reply = Reply::new(client.state.borrow().protocol);
                self.db.set_now(now_ms());
                match self.run_data(blocked.handler, &blocked.argv, &mut reply, false) {
                    Flow::Done => {
                        self.end_unit();
                        self.unblock(&client);
                        client.deliver(reply.buffer());
                        // A served command may have written other keys
                        // (BLMOVE's destination): clients may wait there.
                        if let Some(spec) = daisy_command::lookup(&blocked.argv[0]) {
                            for index in spec.key_indices(&blocked.argv) {
                                let written = &blocked.argv[index];
                                if written != &key && self.blocked_on.contains_key(written) {
                                    ready.push_back(written.clone());
                                }
                            }
                        }
                    }
                    Flow::Block { .. } => {
                        if !self.db.contains(&key) {
                            break;
                        }
                    }
                }
            }
        }
        if self.db.has_touched_watched() {
            self.after_changes(&[]);
        }
    }

    /// Forgets everything about a client that disconnected.
    pub fn remove_client(&mut self, client: &ClientHandle) {
        self.unblock(client);
        self.unwatch_all(client);
        let (channels, patterns): (Vec<Bytes>, Vec<Bytes>) = {
            let mut state = client.state.borrow_mut();
            (
                state.channels.drain().collect(),
                state.patterns.drain().collect(),
            )
        };
        for channel in channels {
            self.pubsub.unsubscribe(&channel, client.id);
        }
        for pattern in patterns {
            self.pubsub.punsubscribe(&pattern, client.id);
        }
        self.clients.remove(&client.id);
    }
}

/// Whether `key` now holds what the blocking `command` pops from: a sorted
/// set for BZPOPMIN, BZPOPMAX and BZMPOP, a list for the others.
fn holds_awaited_kind(db: &mut Db, command: &[u8], key: &[u8]) -> bool {
    let wanted = if command.len() > 2 && command[..2].eq_ignore_ascii_case(b"bz") {
        ValueKind::ZSet
    } else {
        ValueKind::List
    };
    db.get(key).is_some_and(|value| value.kind() == wanted)
}
