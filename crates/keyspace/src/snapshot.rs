//! Point-in-time snapshots of a [`Db`](crate::Db), taken in bounded steps
//! while writes go on.
//!
//! Owns: the state of one snapshot walk — a cursor over the key table's
//! bucket positions, a bitmap of positions copied ahead of the cursor, the
//! pending copies, and a table handed over by `FLUSHALL`.
//!
//! Must never: do I/O (the caller encodes what is emitted and hands it to a
//! writer), read a clock, or emit anything that was written after the
//! snapshot began.
//!
//! How: the walk visits the key table's bucket positions in index order
//! (table 0, then table 1 while a rehash is in progress) with the table's
//! layout frozen: no rehash step, growth or shrink moves an entry to another
//! position until the walk has passed the last one (`Dict::freeze`). Before
//! any change to a key, the `Db` calls [`Snapshot::copy_before_change`],
//! which deep-copies every not-yet-walked bucket the key is in or would be
//! inserted into, and marks it copied; the walk emits the copies and skips
//! the copied buckets. When no snapshot reads the live table, the cost is
//! one predictable branch per write (`Db::snapshot_reads_live`).
//!
//! Invariants (asserted, and checked by the property test in
//! `snapshot_tests.rs`):
//! - S1: while the walk reads the live table, the table is frozen and has
//!   exactly the positions it had at the start;
//! - S2: each position is in exactly one state: *walked* (below the
//!   cursor), *copied* (its bit set: its start-time entries are in
//!   `pending` or were emitted from there), or *untouched* (holds exactly
//!   its start-time entries, unchanged);
//! - S3: before any change to a key, the untouched positions among the
//!   key's positions become copied; so a key created after the start is
//!   never in an untouched position, and an untouched position is never
//!   changed;
//! - S4: a completed snapshot emitted as many entries as there were keys at
//!   the start, each start-time key once.

use crate::{CompactBytes, Dict, Value};

/// Bucket positions one step may walk per entry of its budget, so a step's
/// duration stays bounded in a sparse table (a table may be 1/8 full before
/// it shrinks, and while rehashing half of its positions are empty).
const WALK_POSITIONS_PER_ENTRY: usize = 16;

/// One key of the snapshot, as it was when the snapshot began.
#[derive(Clone, Copy)]
pub struct SnapshotEntry<'a> {
    pub key: &'a [u8],
    pub value: &'a Value,
    /// Absolute expiry time (Unix ms). A key that had already expired but
    /// was not yet deleted is emitted too, with its expiry; a loader drops
    /// what is past.
    pub expire_at_ms: Option<u64>,
}

/// A start-time entry copied before a write changed its bucket.
struct CopiedEntry {
    key: CompactBytes,
    value: Value,
    expire_at_ms: Option<u64>,
}

impl CopiedEntry {
    fn as_entry(&self) -> SnapshotEntry<'_> {
        SnapshotEntry {
            key: &self.key,
            value: &self.value,
            expire_at_ms: self.expire_at_ms,
        }
    }
}

/// The tables `FLUSHALL` took out of the `Db` while the walk read them:
/// nothing changes them any more, so the walk finishes on them, freeing
/// each bucket once it is emitted.
struct Detached {
    keys: Dict<CompactBytes, Value>,
    expires: Dict<CompactBytes, u64>,
}

pub(crate) struct Snapshot {
    /// Bucket positions of the frozen layout.
    positions: usize,
    /// Positions below it have been walked.
    cursor: usize,
    /// One bit per position: set when a write copied the bucket first.
    copied: Vec<u64>,
    /// Copies not emitted yet.
    pending: Vec<CopiedEntry>,
    detached: Option<Box<Detached>>,
    keys_at_start: usize,
    emitted: usize,
}

impl Snapshot {
    /// Starts a walk over `keys`, freezing its layout if it has buckets.
    pub(crate) fn begin(keys: &mut Dict<CompactBytes, Value>) -> Snapshot {
        let positions = keys.positions();
        if positions > 0 {
            keys.freeze();
        }
        assert!(positions > 0 || keys.is_empty());
        Snapshot {
            positions,
            cursor: 0,
            copied: vec![0; positions.div_ceil(64)],
            pending: Vec::new(),
            detached: None,
            keys_at_start: keys.len(),
            emitted: 0,
        }
    }

    /// True while the walk reads the `Db`'s own key table, so writes to it
    /// must copy first.
    pub(crate) fn reads_live(&self) -> bool {
        self.detached.is_none() && self.cursor < self.positions
    }

    /// Copies waiting to be emitted (for tests that check coverage).
    #[cfg(test)]
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.cursor == self.positions && self.pending.is_empty()
    }

    fn is_copied(&self, position: usize) -> bool {
        self.copied[position / 64] & (1 << (position % 64)) != 0
    }

    fn mark_copied(&mut self, position: usize) {
        self.copied[position / 64] |= 1 << (position % 64);
    }

    /// Copies the untouched buckets `key` is in or would go to (S3). Called
    /// before anything that may change `key` while the walk reads `keys`.
    pub(crate) fn copy_before_change(
        &mut self,
        key: &[u8],
        keys: &Dict<CompactBytes, Value>,
        expires: &Dict<CompactBytes, u64>,
    ) {
        debug_assert!(self.reads_live() && keys.is_frozen());
        debug_assert_eq!(keys.positions(), self.positions, "S1");
        for position in keys.positions_of(key).into_iter().flatten() {
            if position < self.cursor || self.is_copied(position) {
                continue;
            }
            self.mark_copied(position);
            let pending = &mut self.pending;
            keys.for_each_at(position, |key, value| {
                pending.push(CopiedEntry {
                    key: key.clone(),
                    value: value.clone(),
                    expire_at_ms: expiry_of(expires, key),
                });
            });
        }
    }

    /// Takes over the tables `FLUSHALL` removes from the `Db` while the walk
    /// reads them; the walk goes on over them.
    pub(crate) fn detach(
        &mut self,
        keys: Dict<CompactBytes, Value>,
        expires: Dict<CompactBytes, u64>,
    ) {
        assert!(self.reads_live(), "only the table being walked is detached");
        assert!(keys.is_frozen() && keys.positions() == self.positions, "S1");
        self.detached = Some(Box::new(Detached { keys, expires }));
    }

    /// Emits up to about `max_entries` entries: pending copies first, then
    /// whole buckets from the cursor on (a bucket is never split, so a step
    /// may pass the budget by less than one chain). Walks at most
    /// `max_entries * WALK_POSITIONS_PER_ENTRY` positions.
    pub(crate) fn step(
        &mut self,
        keys: &Dict<CompactBytes, Value>,
        expires: &Dict<CompactBytes, u64>,
        max_entries: usize,
        emit: &mut impl FnMut(SnapshotEntry<'_>),
    ) {
        assert!(max_entries > 0, "a snapshot step emits at least one entry");
        if self.reads_live() {
            assert!(
                keys.is_frozen() && keys.positions() == self.positions,
                "S1: the walked table keeps its layout"
            );
        }
        let mut budget = max_entries;
        while budget > 0 {
            let Some(copy) = self.pending.pop() else {
                break;
            };
            emit(copy.as_entry());
            self.emitted += 1;
            budget -= 1;
        }
        let mut walks_left = max_entries.saturating_mul(WALK_POSITIONS_PER_ENTRY);
        while budget > 0 && walks_left > 0 && self.cursor < self.positions {
            let position = self.cursor;
            self.cursor += 1;
            walks_left -= 1;
            let emitted = self.walk(position, keys, expires, emit);
            self.emitted += emitted;
            budget = budget.saturating_sub(emitted);
        }
        if self.is_complete() {
            assert_eq!(
                self.emitted, self.keys_at_start,
                "S4: a snapshot emits exactly the keys present at its start"
            );
        }
    }

    /// Emits the bucket at `position` unless it was copied; returns how
    /// many entries it emitted.
    fn walk(
        &mut self,
        position: usize,
        live_keys: &Dict<CompactBytes, Value>,
        live_expires: &Dict<CompactBytes, u64>,
        emit: &mut impl FnMut(SnapshotEntry<'_>),
    ) -> usize {
        let copied = self.is_copied(position);
        let mut emitted = 0;
        match self.detached.as_deref_mut() {
            None if copied => {}
            None => live_keys.for_each_at(position, |key, value| {
                emit(SnapshotEntry {
                    key,
                    value,
                    expire_at_ms: expiry_of(live_expires, key),
                });
                emitted += 1;
            }),
            Some(Detached { keys, expires }) => keys.drain_at(position, |key, value| {
                let expire_at_ms = expires.remove(&key);
                if !copied {
                    emit(SnapshotEntry {
                        key: &key,
                        value: &value,
                        expire_at_ms,
                    });
                    emitted += 1;
                }
            }),
        }
        emitted
    }
}

fn expiry_of(expires: &Dict<CompactBytes, u64>, key: &[u8]) -> Option<u64> {
    if expires.is_empty() {
        return None;
    }
    expires.get(key).copied()
}
