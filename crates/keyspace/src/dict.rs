//! A chained hash table with incremental rehashing and a resumable cursor.
//!
//! Why not `hashbrown`: `SCAN`, `HSCAN`, `SSCAN` and `ZSCAN` promise that an
//! element present for the whole iteration is returned at least once, even
//! while the table grows or shrinks, with a cursor that is a single integer.
//! Redis keeps that promise with a power-of-two chained table scanned in
//! reverse-binary bucket order; this is the same design. Rehashing moves a
//! few buckets per write so a resize never stalls the executor.
//!
//! Invariants:
//! - bucket counts are powers of two; an entry of table `t` sits in bucket
//!   `hash & (t.len() - 1)`;
//! - while rehashing, buckets of table 0 below `rehash_index` are empty;
//! - `len` is the number of entries in both tables;
//! - while the layout is frozen (a snapshot walks the table), no entry moves
//!   between buckets and no table is allocated, resized or freed: rehashing
//!   pauses and growth and shrinking wait, so chains may grow longer for a
//!   while. Lookups, inserts and removes work as usual.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;

/// Smallest bucket count of a non-empty table.
const INITIAL_BUCKETS: usize = 4;
/// Buckets moved per write while rehashing.
const REHASH_BUCKETS_PER_WRITE: usize = 1;
/// Empty buckets visited per moved bucket before a rehash step gives up.
const REHASH_EMPTY_VISITS: usize = 10;
/// Tries at picking a random non-empty bucket before walking to one.
const RANDOM_BUCKET_TRIES: usize = 100;

struct Node<K, V> {
    next: Option<Box<Node<K, V>>>,
    key: K,
    value: V,
}

type Bucket<K, V> = Option<Box<Node<K, V>>>;

pub struct Dict<K, V> {
    tables: [Vec<Bucket<K, V>>; 2],
    /// `Some(i)` while entries move from `tables[0]` to `tables[1]`.
    rehash_index: Option<usize>,
    len: usize,
    hasher: FixedState,
    /// True while a snapshot walks this table: see the module invariants.
    frozen: bool,
}

impl<K: AsRef<[u8]>, V> Dict<K, V> {
    /// A dictionary hashing with `seed`. The server passes a random seed so
    /// clients cannot choose colliding keys.
    pub fn with_seed(seed: u64) -> Self {
        Dict {
            tables: [Vec::new(), Vec::new()],
            rehash_index: None,
            len: 0,
            hasher: FixedState::with_seed(seed),
            frozen: false,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bucket slots allocated (for memory accounting and tests).
    pub fn bucket_count(&self) -> usize {
        self.tables[0].len() + self.tables[1].len()
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_index.is_some()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn tables_in_use(&self) -> usize {
        if self.rehash_index.is_some() {
            2
        } else {
            1
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.get_key_value(key).map(|(_, value)| value)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&K, &V)> {
        if self.len == 0 {
            return None;
        }
        let hash = self.hash(key);
        for table in &self.tables[..self.tables_in_use()] {
            let mut link = &table[hash as usize & (table.len() - 1)];
            while let Some(node) = link {
                if node.key.as_ref() == key {
                    return Some((&node.key, &node.value));
                }
                link = &node.next;
            }
        }
        None
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.len == 0 {
            return None;
        }
        let hash = self.hash(key);
        let in_use = self.tables_in_use();
        for table in &mut self.tables[..in_use] {
            let mask = table.len() - 1;
            let mut link = &mut table[hash as usize & mask];
            while let Some(node) = link {
                if node.key.as_ref() == key {
                    return Some(&mut node.value);
                }
                link = &mut node.next;
            }
        }
        None
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get_key_value(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(key.as_ref()) {
            return Some(std::mem::replace(slot, value));
        }
        self.insert_new(key, value);
        None
    }

    /// The value for `key`, inserting `make()` (with the key from
    /// `make_key`) first when absent. The flag is true when it was inserted.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        make_key: impl FnOnce() -> K,
        make: impl FnOnce() -> V,
    ) -> (&mut V, bool) {
        if self.contains_key(key) {
            let value = self.get_mut(key).expect("the key is present");
            return (value, false);
        }
        (self.insert_new(make_key(), make()), true)
    }

    /// Inserts a key known to be absent; returns its value slot.
    fn insert_new(&mut self, key: K, value: V) -> &mut V {
        self.rehash_step(REHASH_BUCKETS_PER_WRITE);
        self.expand_if_needed();
        let hash = self.hash(key.as_ref());
        self.len += 1;
        let table = &mut self.tables[self.tables_in_use() - 1];
        let index = hash as usize & (table.len() - 1);
        let next = table[index].take();
        let node = table[index].insert(Box::new(Node { next, key, value }));
        &mut node.value
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.remove_entry(key).map(|(_, value)| value)
    }

    pub fn remove_entry(&mut self, key: &[u8]) -> Option<(K, V)> {
        if self.len == 0 {
            return None;
        }
        self.rehash_step(REHASH_BUCKETS_PER_WRITE);
        let hash = self.hash(key);
        let in_use = self.tables_in_use();
        let mut removed = None;
        for table in &mut self.tables[..in_use] {
            let mask = table.len() - 1;
            let mut link = &mut table[hash as usize & mask];
            while link.as_ref().is_some_and(|node| node.key.as_ref() != key) {
                link = &mut link.as_mut().expect("checked by the loop condition").next;
            }
            if let Some(mut node) = link.take() {
                *link = node.next.take();
                removed = Some((node.key, node.value));
                break;
            }
        }
        if removed.is_some() {
            self.len -= 1;
            self.shrink_if_needed();
        }
        removed
    }

    /// Drops every entry, iteratively (no deep recursion on long chains).
    pub fn clear(&mut self) {
        assert!(!self.frozen, "a frozen table is never cleared");
        for table in &mut self.tables {
            for bucket in table.iter_mut() {
                let mut link = bucket.take();
                while let Some(mut node) = link {
                    link = node.next.take();
                }
            }
            *table = Vec::new();
        }
        self.rehash_index = None;
        self.len = 0;
    }

    fn expand_if_needed(&mut self) {
        if self.rehash_index.is_some() || self.frozen {
            return;
        }
        if self.tables[0].is_empty() {
            self.tables[0] = empty_table(INITIAL_BUCKETS);
        } else if self.len >= self.tables[0].len() {
            self.start_rehash((self.len + 1).saturating_mul(2));
        }
    }

    fn shrink_if_needed(&mut self) {
        if self.rehash_index.is_some() || self.frozen {
            return;
        }
        let buckets = self.tables[0].len();
        if self.len == 0 {
            self.clear();
        } else if buckets > INITIAL_BUCKETS && self.len * 8 < buckets {
            self.start_rehash(self.len);
        }
    }

    fn start_rehash(&mut self, wanted: usize) {
        let buckets = wanted.max(INITIAL_BUCKETS).next_power_of_two();
        if buckets == self.tables[0].len() {
            return;
        }
        self.tables[1] = empty_table(buckets);
        self.rehash_index = Some(0);
    }

    /// Moves up to `buckets` buckets from the old table to the new one.
    /// Returns true while rehashing is still in progress and can go on:
    /// false while the layout is frozen, so a caller looping until it
    /// returns false never spins.
    pub fn rehash_step(&mut self, buckets: usize) -> bool {
        if self.frozen {
            return false;
        }
        let Some(mut index) = self.rehash_index else {
            return false;
        };
        let mut empty_visits = buckets * REHASH_EMPTY_VISITS;
        let mut moved = 0;
        let [old, new] = &mut self.tables;
        let new_mask = new.len() - 1;
        while moved < buckets && index < old.len() {
            let mut link = old[index].take();
            if link.is_none() {
                index += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    break;
                }
                continue;
            }
            while let Some(mut node) = link {
                link = node.next.take();
                let target = self.hasher.hash_one(node.key.as_ref()) as usize & new_mask;
                node.next = new[target].take();
                new[target] = Some(node);
            }
            index += 1;
            moved += 1;
        }
        if index >= old.len() {
            self.tables[0] = std::mem::take(&mut self.tables[1]);
            self.rehash_index = None;
            // Entries may have been removed meanwhile: shrink further if so.
            self.shrink_if_needed();
            self.rehash_index.is_some()
        } else {
            self.rehash_index = Some(index);
            true
        }
    }

    /// Freezes the layout while a snapshot walks the table by bucket
    /// position (see the module invariants). Only a table with buckets is
    /// frozen: an empty one has nothing to walk.
    pub(crate) fn freeze(&mut self) {
        assert!(!self.frozen, "the layout is frozen already");
        assert!(
            !self.tables[0].is_empty(),
            "a table without buckets is never frozen"
        );
        self.frozen = true;
    }

    /// Ends a freeze. A resize that waited for it starts now.
    pub(crate) fn thaw(&mut self) {
        assert!(self.frozen, "the layout is not frozen");
        self.frozen = false;
        self.expand_if_needed();
        self.shrink_if_needed();
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// The number of bucket positions: the buckets of table 0, then, while
    /// rehashing, those of table 1. Constant while the layout is frozen.
    pub(crate) fn positions(&self) -> usize {
        self.tables[0].len() + self.rehash_index.map_or(0, |_| self.tables[1].len())
    }

    /// The positions where `key` is, or would be inserted: one bucket, or
    /// while rehashing its bucket in each table (an old-table bucket already
    /// moved is left out, as it stays empty).
    pub(crate) fn positions_of(&self, key: &[u8]) -> [Option<usize>; 2] {
        let old_len = self.tables[0].len();
        if old_len == 0 {
            return [None, None];
        }
        let hash = self.hash(key) as usize;
        let in_old = hash & (old_len - 1);
        match self.rehash_index {
            None => [Some(in_old), None],
            Some(moved_below) => {
                let in_new = old_len + (hash & (self.tables[1].len() - 1));
                [(in_old >= moved_below).then_some(in_old), Some(in_new)]
            }
        }
    }

    fn bucket_at_mut(&mut self, position: usize) -> &mut Bucket<K, V> {
        let old_len = self.tables[0].len();
        if position < old_len {
            &mut self.tables[0][position]
        } else {
            &mut self.tables[1][position - old_len]
        }
    }

    /// Visits the entries of the bucket at `position` (see [`Dict::positions`]).
    pub(crate) fn for_each_at(&self, position: usize, mut visit: impl FnMut(&K, &V)) {
        let old_len = self.tables[0].len();
        let mut link = if position < old_len {
            &self.tables[0][position]
        } else {
            &self.tables[1][position - old_len]
        };
        while let Some(node) = link {
            visit(&node.key, &node.value);
            link = &node.next;
        }
    }

    /// Removes the entries of the bucket at `position` and hands each one
    /// to `take`. No resize follows, so positions stay valid.
    pub(crate) fn drain_at(&mut self, position: usize, mut take: impl FnMut(K, V)) {
        let mut link = self.bucket_at_mut(position).take();
        while let Some(mut node) = link {
            link = node.next.take();
            self.len -= 1;
            take(node.key, node.value);
        }
    }

    /// Visits every entry, in no particular order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter {
            dict: self,
            table: 0,
            bucket: 0,
            node: None,
        }
    }

    /// Visits the entries of the buckets at `cursor` and returns the next
    /// cursor (0 when the scan is complete), with Redis's guarantee: every
    /// entry present from the first call to the last is visited at least once.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&K, &V)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mut cursor = cursor;
        let mut visit_bucket = |table: &Vec<Bucket<K, V>>, index: usize| {
            let mut link = &table[index];
            while let Some(node) = link {
                visit(&node.key, &node.value);
                link = &node.next;
            }
        };
        if self.rehash_index.is_none() {
            let table = &self.tables[0];
            let mask = (table.len() - 1) as u64;
            visit_bucket(table, (cursor & mask) as usize);
            return next_cursor(cursor, mask);
        }
        let (small, large) = if self.tables[0].len() <= self.tables[1].len() {
            (&self.tables[0], &self.tables[1])
        } else {
            (&self.tables[1], &self.tables[0])
        };
        let small_mask = (small.len() - 1) as u64;
        let large_mask = (large.len() - 1) as u64;
        visit_bucket(small, (cursor & small_mask) as usize);
        loop {
            visit_bucket(large, (cursor & large_mask) as usize);
            cursor = next_cursor(cursor, large_mask);
            if cursor & (small_mask ^ large_mask) == 0 {
                break;
            }
        }
        cursor
    }

    /// A random entry. `random` supplies random numbers, so the caller
    /// decides where randomness comes from.
    pub fn random_entry(&self, mut random: impl FnMut() -> u64) -> Option<(&K, &V)> {
        if self.len == 0 {
            return None;
        }
        let first_live = self.rehash_index.unwrap_or(0);
        let old_span = self.tables[0].len() - first_live;
        let span = old_span
            + if self.rehash_index.is_some() {
                self.tables[1].len()
            } else {
                0
            };
        let bucket_at = |position: usize| -> &Bucket<K, V> {
            if position < old_span {
                &self.tables[0][first_live + position]
            } else {
                &self.tables[1][position - old_span]
            }
        };
        let mut position = random() as usize % span;
        let mut tries = 0;
        while bucket_at(position).is_none() {
            tries += 1;
            position = if tries < RANDOM_BUCKET_TRIES {
                random() as usize % span
            } else {
                (position + 1) % span
            };
        }
        let mut chain_len = 0;
        let mut link = bucket_at(position);
        while let Some(node) = link {
            chain_len += 1;
            link = &node.next;
        }
        let mut pick = random() as usize % chain_len;
        let mut link = bucket_at(position);
        while let Some(node) = link {
            if pick == 0 {
                return Some((&node.key, &node.value));
            }
            pick -= 1;
            link = &node.next;
        }
        unreachable!("pick is below the chain length")
    }
}

impl<K, V> Drop for Dict<K, V> {
    fn drop(&mut self) {
        for table in &mut self.tables {
            for bucket in table.iter_mut() {
                let mut link = bucket.take();
                while let Some(mut node) = link {
                    link = node.next.take();
                }
            }
        }
    }
}

impl<K: AsRef<[u8]> + Clone, V: Clone> Clone for Dict<K, V> {
    fn clone(&self) -> Self {
        let mut copy = Dict {
            tables: [Vec::new(), Vec::new()],
            rehash_index: None,
            len: 0,
            hasher: self.hasher,
            frozen: false,
        };
        for (key, value) in self.iter() {
            copy.insert_new(key.clone(), value.clone());
        }
        copy
    }
}

fn empty_table<K, V>(buckets: usize) -> Vec<Bucket<K, V>> {
    let mut table = Vec::with_capacity(buckets);
    table.resize_with(buckets, || None);
    table
}

/// Redis's reverse-binary cursor increment: set the bits above the mask,
/// then add one to the reversed cursor.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    let mut cursor = cursor | !mask;
    cursor = cursor.reverse_bits();
    cursor = cursor.wrapping_add(1);
    cursor.reverse_bits()
}

pub struct Iter<'a, K, V> {
    dict: &'a Dict<K, V>,
    table: usize,
    bucket: usize,
    node: Option<&'a Node<K, V>>,
}

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(node) = self.node {
                self.node = node.next.as_deref();
                return Some((&node.key, &node.value));
            }
            let table = self.dict.tables.get(self.table)?;
            if self.bucket >= table.len() {
                self.table += 1;
                self.bucket = 0;
                continue;
            }
            self.node = table[self.bucket].as_deref();
            self.bucket += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompactBytes;
    use std::collections::HashSet;

    fn key(i: u64) -> CompactBytes {
        CompactBytes::new(format!("key:{i}").as_bytes())
    }

    #[test]
    fn insert_get_remove_across_resizes() {
        let mut dict = Dict::with_seed(7);
        for i in 0..10_000 {
            assert!(dict.insert(key(i), i).is_none());
        }
        assert_eq!(dict.len(), 10_000);
        for i in 0..10_000 {
            assert_eq!(dict.get(&key(i)), Some(&i));
        }
        for i in 0..9_990 {
            assert_eq!(dict.remove(&key(i)), Some(i));
        }
        assert_eq!(dict.len(), 10);
        assert_eq!(dict.iter().count(), 10);
        while dict.rehash_step(100) {}
        assert!(dict.bucket_count() <= 64);
    }

    #[test]
    fn scan_returns_every_stable_entry_while_the_table_changes() {
        let mut dict = Dict::with_seed(1);
        for i in 0..1_000 {
            dict.insert(key(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0u64;
        loop {
            cursor = dict.scan(cursor, |k, _| {
                seen.insert(k.clone());
            });
            // Grow, then shrink, while the scan is in progress.
            round += 1;
            if round < 200 {
                dict.insert(key(100_000 + round), ());
            } else {
                dict.remove(&key(100_000 + round - 199));
            }
            if cursor == 0 {
                break;
            }
            assert!(round < 1_000_000, "scan must terminate");
        }
        for i in 0..1_000 {
            assert!(seen.contains(&key(i)), "missing key:{i}");
        }
    }

    #[test]
    fn a_frozen_table_keeps_every_entry_in_its_bucket() {
        let mut dict = Dict::with_seed(5);
        for i in 0..1_000 {
            dict.insert(key(i), i);
        }
        // Freeze in the middle of a rehash: both tables stay in place.
        dict.insert(key(5_000), 0);
        while dict.len() < 1_100 && !dict.is_rehashing() {
            dict.insert(key(10_000 + dict.len() as u64), 0);
        }
        dict.freeze();
        let positions = dict.positions();
        let where_before: Vec<_> = (0..1_000).map(|i| dict.positions_of(&key(i))).collect();
        for i in 0..5_000 {
            dict.insert(key(20_000 + i), 1);
        }
        for i in 0..900 {
            dict.remove(&key(i));
        }
        assert!(!dict.rehash_step(100), "no rehashing while frozen");
        assert_eq!(dict.positions(), positions);
        for i in 900..1_000 {
            assert_eq!(dict.positions_of(&key(i)), where_before[i as usize]);
            let mut found = false;
            for position in where_before[i as usize].into_iter().flatten() {
                dict.for_each_at(position, |k, _| found |= *k == key(i));
            }
            assert!(found, "key:{i} is where it was");
            assert_eq!(dict.get(&key(i)), Some(&i));
        }
        dict.thaw();
        // The rehash that was under way finishes; the next insert starts
        // the growth that waited.
        while dict.rehash_step(1_000) {}
        dict.insert(key(99_999), 0);
        while dict.rehash_step(1_000) {}
        assert!(
            dict.bucket_count() > dict.len(),
            "the deferred growth happened"
        );
        assert_eq!(dict.iter().count(), dict.len());
    }

    #[test]
    fn random_entry_finds_something_in_a_sparse_table() {
        let mut dict = Dict::with_seed(3);
        for i in 0..4_096 {
            dict.insert(key(i), i);
        }
        for i in 1..4_096 {
            dict.remove(&key(i));
        }
        let mut state = 12345u64;
        let random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        assert_eq!(dict.random_entry(random).map(|(_, v)| *v), Some(0));
    }
}
