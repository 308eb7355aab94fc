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
        self.record_changes(&effects);
        effects.clear();
        self.effects = effects;
        flow
    }

    /// Accounts for keys a session command's lookups deleted by expiry.
    pub fn note_expired(&mut self) {
        self.record_changes(&[]);
    }

    /// Accounts for the changes of one command: keys deleted by expiry
    /// first (they were already logically gone), then the command's own.
    fn record_changes(&mut self, effects: &[Effect]) {
        if self.db.has_expired() {
            let expired = self.db.take_expired();
            self.stats.expired_keys += expired.len() as u64;
            self.stats.changes += expired.len() as u64;
        }
        self.stats.changes += effects.len() as u64;
    }

    /// Deletes some expired keys; called by the background cycle.
    pub fn active_expire(&mut self) {
        self.db.set_now(now_ms());
        if self.db.active_expire_cycle() > 0 {
            self.record_changes(&[]);
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
