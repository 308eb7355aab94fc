//! One logical database: keys to values, with expiry.
//!
//! Every method that may change a key calls `Db::before_change` first, so
//! that a snapshot in progress copies the key's old state before it changes
//! (see `snapshot.rs`). A new method that changes keys must do the same.

use hashbrown::HashMap;

use crate::digest::{key_digest, value_digest};
use crate::snapshot::Snapshot;
use crate::{CompactBytes, Dict, Digest, SnapshotEntry, Value};

/// Expired keys the active expiry cycle may delete per call, at most.
pub const ACTIVE_EXPIRE_KEYS_PER_CYCLE: usize = 200;
/// Buckets of the expiry index one active cycle may look at, at most.
const ACTIVE_EXPIRE_BUCKETS_PER_CYCLE: usize = 2_000;

/// A key holds a value of a kind the caller did not accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected;

/// Records a change to `key` if some client watches it.
fn note_changed(
    watched: &HashMap<CompactBytes, usize>,
    touched: &mut Vec<CompactBytes>,
    key: &[u8],
) {
    if !watched.is_empty() && watched.contains_key(key) {
        touched.push(CompactBytes::new(key));
    }
}

pub struct Db {
    keys: Dict<CompactBytes, Value>,
    /// Absolute expiry time (Unix ms) of each key that has one.
    expires: Dict<CompactBytes, u64>,
    now_ms: u64,
    seed: u64,
    /// Keys some client WATCHes, with the number of watchers.
    watched: HashMap<CompactBytes, usize>,
    /// Watched keys changed since the session layer last looked.
    touched_watched: Vec<CompactBytes>,
    /// Keys deleted because they expired, since the caller last looked.
    expired: Vec<CompactBytes>,
    /// Where the active expiry cycle resumes.
    expire_cursor: u64,
    /// Whether reads delete expired keys. A replica sets this to false: it
    /// hides expired keys but waits for the primary's deletes.
    delete_expired: bool,
    /// The snapshot in progress, if any.
    snapshot: Option<Box<Snapshot>>,
    /// True while a snapshot walks `keys` itself: writes must copy first.
    /// Mirrors `snapshot.reads_live()` so the write path tests one flag.
    snapshot_reads_live: bool,
}

impl Db {
    pub fn new(seed: u64) -> Self {
        Db {
            keys: Dict::with_seed(seed),
            expires: Dict::with_seed(seed.rotate_left(17)),
            now_ms: 0,
            seed,
            watched: HashMap::new(),
            touched_watched: Vec::new(),
            expired: Vec::new(),
            expire_cursor: 0,
            delete_expired: true,
            snapshot: None,
            snapshot_reads_live: false,
        }
    }

    /// Lets a snapshot in progress save `key`'s old state before it may
    /// change. The only cost when no snapshot walks the table: one branch.
    #[inline]
    fn before_change(&mut self, key: &[u8]) {
        if self.snapshot_reads_live {
            self.copy_before_change(key);
        }
    }

    #[cold]
    #[inline(never)]
    fn copy_before_change(&mut self, key: &[u8]) {
        let snapshot = self
            .snapshot
            .as_mut()
            .expect("snapshot_reads_live implies a snapshot");
        snapshot.copy_before_change(key, &self.keys, &self.expires);
    }

    /// Sets the time every following command sees as "now" (Unix ms).
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Seed for the hash tables of new aggregate values.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn set_delete_expired(&mut self, delete: bool) {
        self.delete_expired = delete;
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// True when `key` has an expiry time that has passed.
    fn is_expired(&self, key: &[u8]) -> bool {
        !self.expires.is_empty() && expired_at(self.expires.get(key).copied(), self.now_ms)
    }

    /// Deletes `key` if it has expired. Returns true if the key is
    /// logically absent because of its expiry.
    fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        if !self.is_expired(key) {
            return false;
        }
        if self.delete_expired {
            self.remove_expired(key);
        }
        true
    }

    fn remove_expired(&mut self, key: &[u8]) {
        self.before_change(key);
        if let Some((name, _)) = self.keys.remove_entry(key) {
            self.expires.remove(key);
            self.note_changed(key);
            self.expired.push(name);
        }
    }

    fn note_changed(&mut self, key: &[u8]) {
        note_changed(&self.watched, &mut self.touched_watched, key);
    }

    /// The value of `key`, if it exists and has not expired.
    pub fn get(&mut self, key: &[u8]) -> Option<&Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.keys.get(key)
    }

    /// The value of `key` for changing it. Call this only when the value
    /// will change: it counts as a modification for WATCH.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.get_mut_checked(key, |_| true).ok().flatten()
    }

    /// The value of `key` for changing it, if `accept` takes it; `Err` (and
    /// nothing counts as changed) when the key holds a value `accept`
    /// rejects. One lookup in the common case.
    pub fn get_mut_checked(
        &mut self,
        key: &[u8],
        accept: impl FnOnce(&Value) -> bool,
    ) -> Result<Option<&mut Value>, Rejected> {
        if self.expire_if_needed(key) {
            return Ok(None);
        }
        // Copies even if `accept` then refuses: copying more is harmless.
        self.before_change(key);
        let Some(value) = self.keys.get_mut(key) else {
            return Ok(None);
        };
        if !accept(value) {
            return Err(Rejected);
        }
        note_changed(&self.watched, &mut self.touched_watched, key);
        Ok(Some(value))
    }

    /// The value of `key` for changing it, created with `make` when absent
    /// (the flag says so); `Err` when it holds a value `accept` rejects.
    pub fn get_or_insert_checked(
        &mut self,
        key: &[u8],
        accept: impl FnOnce(&Value) -> bool,
        make: impl FnOnce() -> Value,
    ) -> Result<(&mut Value, bool), Rejected> {
        self.expire_if_needed(key);
        if let Some(existing) = self.keys.get(key) {
            if !accept(existing) {
                return Err(Rejected);
            }
        }
        self.before_change(key);
        note_changed(&self.watched, &mut self.touched_watched, key);
        Ok(self
            .keys
            .get_or_insert_with(key, || CompactBytes::new(key), make))
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// The value of `key`, created with `make` when absent (the flag says
    /// so). Counts as a modification.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> Value,
    ) -> (&mut Value, bool) {
        self.expire_if_needed(key);
        self.before_change(key);
        self.note_changed(key);
        self.keys
            .get_or_insert_with(key, || CompactBytes::new(key), make)
    }

    /// Sets `key` to `value`. Its expiry is cleared unless `keep_ttl`.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        self.expire_if_needed(key);
        self.before_change(key);
        self.note_changed(key);
        match self.keys.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.keys.insert(CompactBytes::new(key), value);
            }
        }
        if !keep_ttl && !self.expires.is_empty() {
            self.expires.remove(key);
        }
    }

    /// Removes `key`; returns its value if it existed (and had not expired).
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.before_change(key);
        let value = self.keys.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        self.note_changed(key);
        Some(value)
    }

    /// Removes `key` if it holds an empty aggregate. Commands call this after
    /// taking elements out of a list, hash, set or sorted set.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = self
            .keys
            .get(key)
            .is_some_and(|value| value.is_empty_aggregate());
        if empty {
            self.before_change(key);
            self.keys.remove(key);
            if !self.expires.is_empty() {
                self.expires.remove(key);
            }
        }
        empty
    }

    /// The expiry time of `key` (Unix ms), if it exists and has one.
    pub fn expire_at(&mut self, key: &[u8]) -> Option<u64> {
        if self.expire_if_needed(key) {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Sets the expiry of an existing key. A time at or before now deletes
    /// the key at once (and it is reported as expired, so the caller can
    /// log the delete). Returns false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) -> bool {
        if !self.contains(key) {
            return false;
        }
        self.before_change(key);
        self.note_changed(key);
        match self.expires.get_mut(key) {
            Some(slot) => *slot = at_ms,
            None => {
                self.expires.insert(CompactBytes::new(key), at_ms);
            }
        }
        true
    }

    /// Removes the expiry of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        if self.expire_if_needed(key) {
            return false;
        }
        self.before_change(key);
        let had = self.expires.remove(key).is_some();
        if had {
            self.note_changed(key);
        }
        had
    }

    /// Deletes every key and returns the old table, so the caller may drop
    /// it where it likes. While a snapshot walks the table, the snapshot
    /// takes the old tables over instead (it frees them as it goes) and the
    /// table returned is empty.
    pub fn flush(&mut self) -> Dict<CompactBytes, Value> {
        for (key, _) in self.watched.iter() {
            if self.keys.contains_key(key) {
                self.touched_watched.push(key.clone());
            }
        }
        self.expire_cursor = 0;
        let keys = std::mem::replace(&mut self.keys, Dict::with_seed(self.seed));
        if self.snapshot_reads_live {
            let expires = std::mem::replace(
                &mut self.expires,
                Dict::with_seed(self.seed.rotate_left(17)),
            );
            let snapshot = self
                .snapshot
                .as_mut()
                .expect("snapshot_reads_live implies a snapshot");
            snapshot.detach(keys, expires);
            self.snapshot_reads_live = false;
            return Dict::with_seed(self.seed);
        }
        self.expires.clear();
        keys
    }

    /// Inserts `key` with `value` and its absolute expiry, as a snapshot
    /// recorded them; replaces any value it had. Returns true if the key
    /// was new. `value` must not be an empty aggregate.
    pub fn restore(&mut self, key: &[u8], value: Value, expire_at_ms: Option<u64>) -> bool {
        assert!(
            !value.is_empty_aggregate(),
            "a key never holds an empty aggregate"
        );
        self.before_change(key);
        self.note_changed(key);
        let is_new = self.keys.insert(CompactBytes::new(key), value).is_none();
        match expire_at_ms {
            Some(at_ms) => {
                self.expires.insert(CompactBytes::new(key), at_ms);
            }
            None if !self.expires.is_empty() => {
                self.expires.remove(key);
            }
            None => {}
        }
        is_new
    }

    /// Starts a point-in-time snapshot: the entries [`Db::snapshot_step`]
    /// emits from now on are exactly the keys, values and expiry times the
    /// `Db` holds at this call, whatever is written meanwhile. One snapshot
    /// at a time.
    ///
    /// While the snapshot walks the key table, that table neither rehashes
    /// nor resizes (chains grow longer if many keys are added), and each
    /// first write to a bucket the walk has not reached deep-copies the
    /// bucket's values.
    pub fn begin_snapshot(&mut self) {
        assert!(self.snapshot.is_none(), "a snapshot is already in progress");
        let snapshot = Snapshot::begin(&mut self.keys);
        self.snapshot_reads_live = snapshot.reads_live();
        self.snapshot = Some(Box::new(snapshot));
    }

    /// Emits up to about `max_entries` more entries of the snapshot (a
    /// bucket's chain is never split, so a step may emit a few more; a step
    /// over empty buckets may emit none). Returns true while the snapshot
    /// has more to do; after it returns false the snapshot is over.
    ///
    /// Cost: the entries emitted plus at most `16 * max_entries` bucket
    /// positions walked; a single value of n elements is one entry and
    /// costs O(n) in `emit`. The step that ends the walk of the live table
    /// lets a resize that waited start, which allocates the new table.
    pub fn snapshot_step(
        &mut self,
        max_entries: usize,
        emit: &mut impl FnMut(SnapshotEntry<'_>),
    ) -> bool {
        let snapshot = self
            .snapshot
            .as_mut()
            .expect("snapshot_step needs begin_snapshot first");
        snapshot.step(&self.keys, &self.expires, max_entries, emit);
        if self.snapshot_reads_live && !snapshot.reads_live() {
            self.snapshot_reads_live = false;
            self.keys.thaw();
        }
        if snapshot.is_complete() {
            self.snapshot = None;
            return false;
        }
        true
    }

    /// Abandons the snapshot in progress, if any (e.g. its file could not
    /// be written). The key table resumes rehashing and resizing.
    pub fn abort_snapshot(&mut self) {
        if self.snapshot.take().is_some() && self.snapshot_reads_live {
            self.snapshot_reads_live = false;
            self.keys.thaw();
        }
    }

    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Visits the keys of one scan step, skipping expired ones (without
    /// deleting them); returns the next cursor.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&CompactBytes, &Value)) -> u64 {
        self.keys.scan(cursor, |key, value| {
            if !self.is_expired(key) {
                visit(key, value);
            }
        })
    }

    /// Every live key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&CompactBytes, &Value)> {
        self.keys.iter().filter(|(key, _)| !self.is_expired(key))
    }

    /// The digest of every key live at `now_ms` (see `digest.rs` for the
    /// scheme): equal on two nodes that hold the same keys, values and
    /// expiry times, however each stores them; zeros when no key is live.
    /// Keys whose expiry time is at or before `now_ms` are left out, so
    /// nodes that differ only in expired keys not yet deleted agree.
    ///
    /// Cost: O(keys + elements), with no step limit, like Redis's
    /// `DEBUG DIGEST`; meant for tests and checks, not for serving.
    pub fn digest(&self, now_ms: u64) -> Digest {
        let mut total = Digest::ZERO;
        for (key, value) in self.keys.iter() {
            let expire_at_ms = self.expires.get(key).copied();
            if !expired_at(expire_at_ms, now_ms) {
                total.xor(&key_digest(key, value, expire_at_ms));
            }
        }
        total
    }

    /// The digest of `key`'s type, value and expiry time, without its
    /// name; zeros when the key is absent or expired at `now_ms`.
    pub fn value_digest(&self, key: &[u8], now_ms: u64) -> Digest {
        let expire_at_ms = self.expires.get(key).copied();
        match self.keys.get(key) {
            Some(value) if !expired_at(expire_at_ms, now_ms) => value_digest(value, expire_at_ms),
            _ => Digest::ZERO,
        }
    }

    /// A random live key.
    pub fn random_key(&mut self, mut random: impl FnMut() -> u64) -> Option<CompactBytes> {
        const TRIES: usize = 100;
        for _ in 0..TRIES {
            let (key, _) = self.keys.random_entry(&mut random)?;
            let key = key.clone();
            if !self.expire_if_needed(&key) {
                return Some(key);
            }
        }
        // Nearly every key is expired: answer with one anyway, as Redis does
        // after its own bounded search, but never a key that has expired.
        self.iter().next().map(|(key, _)| key.clone())
    }

    /// Deletes up to [`ACTIVE_EXPIRE_KEYS_PER_CYCLE`] expired keys, resuming
    /// where the previous cycle stopped. Returns how many were deleted; the
    /// keys themselves are reported through [`Db::take_expired`].
    pub fn active_expire_cycle(&mut self) -> usize {
        if self.expires.is_empty() || !self.delete_expired {
            return 0;
        }
        let mut due = Vec::new();
        let mut buckets = 0;
        loop {
            let now_ms = self.now_ms;
            self.expire_cursor = self.expires.scan(self.expire_cursor, |key, &at_ms| {
                if at_ms <= now_ms {
                    due.push(key.clone());
                }
            });
            buckets += 1;
            if self.expire_cursor == 0
                || buckets >= ACTIVE_EXPIRE_BUCKETS_PER_CYCLE
                || due.len() >= ACTIVE_EXPIRE_KEYS_PER_CYCLE
            {
                break;
            }
        }
        for key in &due {
            self.remove_expired(key);
        }
        due.len()
    }

    /// Keys deleted by expiry since the last call.
    pub fn take_expired(&mut self) -> Vec<CompactBytes> {
        std::mem::take(&mut self.expired)
    }

    pub fn has_expired(&self) -> bool {
        !self.expired.is_empty()
    }

    pub fn watch(&mut self, key: &[u8]) {
        *self.watched.entry(CompactBytes::new(key)).or_insert(0) += 1;
    }

    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(count) = self.watched.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// Watched keys changed since the last call.
    pub fn take_touched_watched(&mut self) -> Vec<CompactBytes> {
        std::mem::take(&mut self.touched_watched)
    }

    pub fn has_touched_watched(&self) -> bool {
        !self.touched_watched.is_empty()
    }

    /// Moves a few buckets of any table that is being resized.
    pub fn rehash_step(&mut self, buckets: usize) -> bool {
        let keys = self.keys.rehash_step(buckets);
        let expires = self.expires.rehash_step(buckets);
        keys || expires
    }
}

/// True when an expiry time `expire_at_ms` has passed at `now_ms`.
fn expired_at(expire_at_ms: Option<u64>, now_ms: u64) -> bool {
    expire_at_ms.is_some_and(|at_ms| at_ms <= now_ms)
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod snapshot_tests;

#[cfg(test)]
#[path = "digest_tests.rs"]
mod digest_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StrValue;

    fn string(text: &str) -> Value {
        Value::Str(StrValue::new(text.as_bytes()))
    }

    #[test]
    fn expiry_hides_then_deletes() {
        let mut db = Db::new(1);
        db.set_now(1_000);
        db.set(b"a", string("1"), false);
        assert!(db.set_expire(b"a", 1_500));
        assert!(db.contains(b"a"));
        db.set_now(1_500);
        assert!(db.get(b"a").is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.take_expired(), vec![CompactBytes::new(b"a")]);
    }

    #[test]
    fn replica_hides_expired_keys_without_deleting() {
        let mut db = Db::new(1);
        db.set_delete_expired(false);
        db.set(b"a", string("1"), false);
        db.set_expire(b"a", 10);
        db.set_now(20);
        assert!(db.get(b"a").is_none());
        assert_eq!(db.len(), 1);
        assert!(db.take_expired().is_empty());
    }

    #[test]
    fn active_expiry_deletes_due_keys_only() {
        let mut db = Db::new(2);
        for i in 0..1_000u64 {
            let key = format!("k{i}");
            db.set(key.as_bytes(), string("v"), false);
            db.set_expire(key.as_bytes(), if i % 2 == 0 { 100 } else { 10_000 });
        }
        db.set_now(200);
        let mut deleted = 0;
        for _ in 0..100 {
            deleted += db.active_expire_cycle();
        }
        assert_eq!(deleted, 500);
        assert_eq!(db.len(), 500);
        assert_eq!(db.expires_len(), 500);
    }

    #[test]
    fn watched_keys_report_changes() {
        let mut db = Db::new(3);
        db.watch(b"w");
        db.set(b"other", string("1"), false);
        assert!(!db.has_touched_watched());
        db.set(b"w", string("1"), false);
        assert_eq!(db.take_touched_watched(), vec![CompactBytes::new(b"w")]);
        db.unwatch(b"w");
        db.set(b"w", string("2"), false);
        assert!(!db.has_touched_watched());
    }

    #[test]
    fn set_clears_ttl_unless_kept() {
        let mut db = Db::new(4);
        db.set(b"a", string("1"), false);
        db.set_expire(b"a", 5_000);
        db.set(b"a", string("2"), true);
        assert_eq!(db.expire_at(b"a"), Some(5_000));
        db.set(b"a", string("3"), false);
        assert_eq!(db.expire_at(b"a"), None);
    }
}
