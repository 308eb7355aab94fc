//! Sorted sets: members ordered by (score, member bytes), with O(1) score
//! lookup by member and rank queries in O(log n).
//!
//! A sorted set keeps two views of the same entries:
//! - `scores`, a [`Dict`] from member to score, for `ZSCORE`, membership
//!   tests, `ZSCAN` and fair random picks;
//! - `order`, an [`OrderIndex`]: the entries in ascending (score, member)
//!   order, split into sorted chunks of at most [`CHUNK_MAX`] entries, with a
//!   Fenwick tree over the chunk lengths. Rank, select-by-rank and
//!   insert/remove cost O(log n) plus a memmove inside one chunk; a chunk
//!   split or merge rebuilds the Fenwick tree in O(n / CHUNK_MAX), which
//!   happens at most once per CHUNK_MAX / 4 updates.
//!
//! Order: scores compare numerically (so `-0.0 == 0.0`, and each keeps the
//! sign it was stored with), ties break on member bytes. NaN is never
//! stored; callers reject it before inserting.
//!
//! Invariants (checked by `check_invariants` in tests):
//! - `scores` and `order` hold the same (member, score) pairs;
//! - no chunk is empty, no chunk exceeds `CHUNK_MAX`, and the concatenation
//!   of the chunks is strictly ascending;
//! - `fenwick` sums the chunk lengths.

use std::cmp::Ordering;

use crate::{CompactBytes, Dict};

/// Most entries one chunk holds; a chunk that grows past it splits in two.
const CHUNK_MAX: usize = 128;
/// A chunk shorter than this merges with a neighbour. A quarter of the
/// maximum, so a chunk fresh from a split must lose many entries first.
const CHUNK_MIN: usize = CHUNK_MAX / 4;

/// Redis keeps a sorted set in its compact (listpack) encoding while it has
/// at most this many members (`zset-max-listpack-entries`)...
const COMPACT_MAX_LEN: usize = 128;
/// ...and no member longer than this (`zset-max-listpack-value`).
const COMPACT_MAX_MEMBER_BYTES: usize = 64;

/// A score with the order sorted sets use: numeric, so `-0.0 == 0.0`.
/// NaN is never stored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_scores(self.0, other.0)
    }
}

fn compare_scores(a: f64, b: f64) -> Ordering {
    debug_assert!(!a.is_nan() && !b.is_nan());
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// One member with its score, as the ordered view stores it.
#[derive(Clone, Debug)]
struct Entry {
    score: f64,
    member: CompactBytes,
}

impl Entry {
    fn cmp_key(&self, score: f64, member: &[u8]) -> Ordering {
        compare_scores(self.score, score).then_with(|| self.member.as_slice().cmp(member))
    }
}

#[derive(Clone)]
pub struct ZSet {
    scores: Dict<CompactBytes, f64>,
    order: OrderIndex,
    /// Whether Redis would still hold this set in its compact encoding:
    /// true until the set first grows past the compact limits, then false
    /// for good (Redis never converts back).
    compact: bool,
}

impl ZSet {
    pub fn with_seed(seed: u64) -> Self {
        ZSet {
            scores: Dict::with_seed(seed),
            order: OrderIndex::default(),
            compact: true,
        }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.scores.contains_key(member)
    }

    /// Whether Redis 7 would keep this set in its compact (listpack)
    /// encoding. Some replies depend on it: `ZSCAN` returns a compact set
    /// whole, in order, with cursor 0.
    pub fn is_compact(&self) -> bool {
        self.compact
    }

    /// Sets the score of `member`; returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        assert!(!score.is_nan(), "NaN scores are rejected by the caller");
        if let Some(slot) = self.scores.get_mut(member) {
            let old = *slot;
            *slot = score;
            let key = self.order.remove(old, member).expect("views agree");
            self.order.insert(Entry { score, member: key });
            return Some(old);
        }
        let key = CompactBytes::new(member);
        self.scores.insert(key.clone(), score);
        self.order.insert(Entry { score, member: key });
        if self.len() > COMPACT_MAX_LEN || member.len() > COMPACT_MAX_MEMBER_BYTES {
            self.compact = false;
        }
        None
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        self.order.remove(score, member).expect("views agree");
        Some(score)
    }

    /// Members in ascending (score, member) order.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&CompactBytes, f64)> + ExactSizeIterator {
        self.range(0..self.len())
    }

    /// Members at ranks `ranks` (0-based, ascending order), clamped to the
    /// set. Iterate `.rev()` for descending order.
    pub fn range(
        &self,
        ranks: std::ops::Range<usize>,
    ) -> impl DoubleEndedIterator<Item = (&CompactBytes, f64)> + ExactSizeIterator {
        self.order.range(ranks)
    }

    pub fn scores(&self) -> &Dict<CompactBytes, f64> {
        &self.scores
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.order.rank(score, member).expect("views agree"))
    }

    /// The member at `rank` (ascending, 0-based) with its score.
    pub fn get_by_rank(&self, rank: usize) -> Option<(&CompactBytes, f64)> {
        self.order
            .get(rank)
            .map(|entry| (&entry.member, entry.score))
    }

    /// The number of leading entries, in ascending order, for which
    /// `is_before` holds. `is_before` must be true for a prefix of the
    /// order and false after it (e.g. "score < min"); that makes this a
    /// binary search.
    pub fn partition_point(&self, is_before: impl FnMut(f64, &[u8]) -> bool) -> usize {
        self.order.partition_point(is_before)
    }

    /// Removes the members at ranks `ranks` (clamped) and returns them with
    /// their scores, in ascending order.
    pub fn remove_range(&mut self, ranks: std::ops::Range<usize>) -> Vec<(CompactBytes, f64)> {
        let removed = self.order.remove_range(ranks);
        for entry in &removed {
            self.scores.remove(&entry.member);
        }
        removed
            .into_iter()
            .map(|entry| (entry.member, entry.score))
            .collect()
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        self.order.check_invariants();
        assert_eq!(self.order.len, self.scores.len());
        for entry in self.iter() {
            assert_eq!(
                self.score(entry.0).map(f64::to_bits),
                Some(entry.1.to_bits())
            );
        }
    }
}

/// Entries in ascending order, in chunks, with a Fenwick tree over the
/// chunk lengths for rank arithmetic.
#[derive(Clone, Default)]
struct OrderIndex {
    chunks: Vec<Vec<Entry>>,
    /// 1-based Fenwick tree: `fenwick[i]` sums the lengths of the chunks
    /// `(i - lowbit(i))..i`. `fenwick[0]` is unused.
    fenwick: Vec<usize>,
    len: usize,
}

impl OrderIndex {
    /// The chunk where (score, member) is or would go, and the position in
    /// it. `None` when there are no chunks.
    fn locate(&self, score: f64, member: &[u8]) -> Option<(usize, Result<usize, usize>)> {
        if self.chunks.is_empty() {
            return None;
        }
        let after_all = |chunk: &Vec<Entry>| {
            chunk
                .last()
                .is_some_and(|last| last.cmp_key(score, member) == Ordering::Less)
        };
        let chunk = self
            .chunks
            .partition_point(after_all)
            .min(self.chunks.len() - 1);
        let position = self.chunks[chunk].binary_search_by(|entry| entry.cmp_key(score, member));
        Some((chunk, position))
    }

    fn insert(&mut self, entry: Entry) {
        let Some((chunk, position)) = self.locate(entry.score, &entry.member) else {
            self.chunks.push(vec![entry]);
            self.len = 1;
            self.rebuild_fenwick();
            return;
        };
        let position = match position {
            Ok(_) => panic!("entry inserted twice"),
            Err(position) => position,
        };
        self.chunks[chunk].insert(position, entry);
        self.len += 1;
        if self.chunks[chunk].len() > CHUNK_MAX {
            let upper = self.chunks[chunk].split_off(CHUNK_MAX / 2);
            self.chunks.insert(chunk + 1, upper);
            self.rebuild_fenwick();
        } else {
            self.fenwick_add(chunk, 1);
        }
    }

    /// Removes (score, member); returns the stored member bytes.
    fn remove(&mut self, score: f64, member: &[u8]) -> Option<CompactBytes> {
        let (chunk, Ok(position)) = self.locate(score, member)? else {
            return None;
        };
        let entry = self.chunks[chunk].remove(position);
        self.len -= 1;
        if self.chunks[chunk].len() < CHUNK_MIN {
            self.mend(chunk);
            self.rebuild_fenwick();
        } else {
            self.fenwick_add(chunk, -1);
        }
        Some(entry.member)
    }

    fn remove_range(&mut self, ranks: std::ops::Range<usize>) -> Vec<Entry> {
        let end = ranks.end.min(self.len);
        if ranks.start >= end {
            return Vec::new();
        }
        let (first_chunk, first_offset) = self.select(ranks.start);
        let mut removed = Vec::with_capacity(end - ranks.start);
        let mut chunk = first_chunk;
        let mut offset = first_offset;
        while removed.len() < end - ranks.start {
            let take = (self.chunks[chunk].len() - offset).min(end - ranks.start - removed.len());
            removed.extend(self.chunks[chunk].drain(offset..offset + take));
            chunk += 1;
            offset = 0;
        }
        self.len -= removed.len();
        // Chunks strictly between the first and last touched are now empty;
        // drop them, then mend the (at most two) partial chunks at the edges.
        let last_chunk = chunk - 1;
        let emptied_from = first_chunk + 1;
        let emptied_to = last_chunk.max(emptied_from);
        self.chunks.drain(emptied_from..emptied_to);
        if last_chunk > first_chunk {
            self.mend(first_chunk + 1);
        }
        self.mend(first_chunk);
        self.rebuild_fenwick();
        removed
    }

    /// Restores the chunk-size invariants around `chunk` after removals:
    /// drops it if empty, merges it with a neighbour if small (splitting
    /// the result again if that overflows). The caller rebuilds the tree.
    fn mend(&mut self, chunk: usize) {
        if chunk >= self.chunks.len() {
            return;
        }
        if self.chunks[chunk].is_empty() {
            self.chunks.remove(chunk);
            return;
        }
        if self.chunks[chunk].len() >= CHUNK_MIN || self.chunks.len() == 1 {
            return;
        }
        let left = if chunk + 1 < self.chunks.len() {
            chunk
        } else {
            chunk - 1
        };
        let right_entries = self.chunks.remove(left + 1);
        self.chunks[left].extend(right_entries);
        if self.chunks[left].len() > CHUNK_MAX {
            let half = self.chunks[left].len() / 2;
            let upper = self.chunks[left].split_off(half);
            self.chunks.insert(left + 1, upper);
        }
    }

    fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        match self.locate(score, member)? {
            (chunk, Ok(position)) => Some(self.prefix(chunk) + position),
            _ => None,
        }
    }

    fn get(&self, rank: usize) -> Option<&Entry> {
        if rank >= self.len {
            return None;
        }
        let (chunk, offset) = self.select(rank);
        Some(&self.chunks[chunk][offset])
    }

    fn partition_point(&self, mut is_before: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let chunk = self.chunks.partition_point(|chunk| {
            chunk
                .last()
                .is_some_and(|last| is_before(last.score, &last.member))
        });
        if chunk == self.chunks.len() {
            return self.len;
        }
        let within =
            self.chunks[chunk].partition_point(|entry| is_before(entry.score, &entry.member));
        self.prefix(chunk) + within
    }

    fn range(&self, ranks: std::ops::Range<usize>) -> Range<'_> {
        let end = ranks.end.min(self.len);
        let start = ranks.start.min(end);
        if start == end {
            return Range::empty(&self.chunks);
        }
        let front = self.select(start);
        let (last_chunk, last_offset) = self.select(end - 1);
        Range {
            chunks: &self.chunks,
            front,
            back: (last_chunk, last_offset + 1),
            remaining: end - start,
        }
    }

    /// Total length of the chunks before `chunk`.
    fn prefix(&self, chunk: usize) -> usize {
        let mut index = chunk;
        let mut sum = 0;
        while index > 0 {
            sum += self.fenwick[index];
            index &= index - 1;
        }
        sum
    }

    /// The chunk holding `rank` (< len) and the offset in it.
    fn select(&self, rank: usize) -> (usize, usize) {
        debug_assert!(rank < self.len);
        let mut position = 0;
        let mut remaining = rank;
        let mut step = (self.fenwick.len()).next_power_of_two();
        while step > 0 {
            let next = position + step;
            if next < self.fenwick.len() && self.fenwick[next] <= remaining {
                position = next;
                remaining -= self.fenwick[next];
            }
            step >>= 1;
        }
        (position, remaining)
    }

    fn fenwick_add(&mut self, chunk: usize, delta: isize) {
        let mut index = chunk + 1;
        while index < self.fenwick.len() {
            self.fenwick[index] = self.fenwick[index].wrapping_add_signed(delta);
            index += index & index.wrapping_neg();
        }
    }

    fn rebuild_fenwick(&mut self) {
        let count = self.chunks.len();
        self.fenwick.clear();
        self.fenwick.resize(count + 1, 0);
        for (chunk, entries) in self.chunks.iter().enumerate() {
            let index = chunk + 1;
            self.fenwick[index] += entries.len();
            let parent = index + (index & index.wrapping_neg());
            if parent <= count {
                self.fenwick[parent] += self.fenwick[index];
            }
        }
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let mut total = 0;
        let mut previous: Option<&Entry> = None;
        for (index, chunk) in self.chunks.iter().enumerate() {
            assert!(!chunk.is_empty(), "empty chunk");
            assert!(chunk.len() <= CHUNK_MAX, "oversized chunk");
            assert!(
                self.chunks.len() == 1 || chunk.len() >= CHUNK_MIN,
                "undersized chunk"
            );
            assert_eq!(self.prefix(index), total, "fenwick prefix");
            for entry in chunk {
                if let Some(before) = previous {
                    assert_eq!(
                        before.cmp_key(entry.score, &entry.member),
                        Ordering::Less,
                        "order"
                    );
                }
                previous = Some(entry);
            }
            total += chunk.len();
        }
        assert_eq!(total, self.len);
    }
}

/// A run of consecutive entries, front to back in ascending order; both
/// ends can be consumed.
pub struct Range<'a> {
    chunks: &'a [Vec<Entry>],
    /// Next entry from the front: (chunk, offset).
    front: (usize, usize),
    /// One past the next entry from the back: (chunk, offset).
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Range<'a> {
    fn empty(chunks: &'a [Vec<Entry>]) -> Self {
        Range {
            chunks,
            front: (0, 0),
            back: (0, 0),
            remaining: 0,
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a CompactBytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        while self.front.1 >= self.chunks[self.front.0].len() {
            self.front = (self.front.0 + 1, 0);
        }
        let entry = &self.chunks[self.front.0][self.front.1];
        self.front.1 += 1;
        self.remaining -= 1;
        Some((&entry.member, entry.score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        while self.back.1 == 0 {
            self.back.0 -= 1;
            self.back.1 = self.chunks[self.back.0].len();
        }
        self.back.1 -= 1;
        let entry = &self.chunks[self.back.0][self.back.1];
        self.remaining -= 1;
        Some((&entry.member, entry.score))
    }
}

impl ExactSizeIterator for Range<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator for the model test.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % bound
        }
    }

    /// The reference: a plain sorted Vec of (score, member).
    #[derive(Default)]
    struct Model(Vec<(f64, Vec<u8>)>);

    impl Model {
        fn sort(&mut self) {
            self.0
                .sort_by(|a, b| compare_scores(a.0, b.0).then_with(|| a.1.cmp(&b.1)));
        }

        fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
            let old = self.remove(member);
            self.0.push((score, member.to_vec()));
            self.sort();
            old
        }

        fn remove(&mut self, member: &[u8]) -> Option<f64> {
            let index = self.0.iter().position(|(_, m)| m == member)?;
            Some(self.0.remove(index).0)
        }

        fn rank(&self, member: &[u8]) -> Option<usize> {
            self.0.iter().position(|(_, m)| m == member)
        }
    }

    fn member(rng: &mut Lcg, space: u64) -> Vec<u8> {
        format!("m{}", rng.below(space)).into_bytes()
    }

    fn assert_same(zset: &ZSet, model: &Model) {
        zset.check_invariants();
        assert_eq!(zset.len(), model.0.len());
        let ours: Vec<(Vec<u8>, u64)> = zset
            .iter()
            .map(|(m, s)| (m.to_vec(), s.to_bits()))
            .collect();
        let theirs: Vec<(Vec<u8>, u64)> = model
            .0
            .iter()
            .map(|(s, m)| (m.clone(), s.to_bits()))
            .collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn matches_a_sorted_vec_under_random_operations() {
        let mut largest = 0;
        for seed in 0..6u64 {
            let mut rng = Lcg(seed);
            let mut zset = ZSet::with_seed(seed);
            let mut model = Model::default();
            // Small member spaces make collisions and re-scores frequent;
            // large ones make the set grow across many chunks.
            let space = [10, 300, 3_000, 20_000, 600, 50][seed as usize];
            for step in 0..6_000 {
                match rng.below(20) {
                    0..=11 => {
                        let m = member(&mut rng, space);
                        let score = (rng.below(41) as f64 - 20.0) / 4.0;
                        let score = if rng.below(20) == 0 { -0.0 } else { score };
                        assert_eq!(zset.insert(&m, score), model.insert(&m, score));
                    }
                    12..=14 => {
                        let m = member(&mut rng, space);
                        assert_eq!(zset.remove(&m), model.remove(&m));
                    }
                    15 | 16 => {
                        let m = member(&mut rng, space);
                        assert_eq!(zset.rank(&m), model.rank(&m));
                        if let Some(rank) = model.rank(&m) {
                            let (got, score) = zset.get_by_rank(rank).unwrap();
                            assert_eq!(got.as_slice(), m.as_slice());
                            assert_eq!(score.to_bits(), model.0[rank].0.to_bits());
                        }
                    }
                    17 => {
                        let len = model.0.len();
                        let start = rng.below(len as u64 + 2) as usize;
                        let count = if rng.below(50) == 0 { 300 } else { 4 };
                        let count = rng.below(count) as usize;
                        let removed = zset.remove_range(start..start + count);
                        let end = (start + count).min(len);
                        let expected: Vec<_> = if start < end {
                            model.0.drain(start..end).collect()
                        } else {
                            Vec::new()
                        };
                        let removed: Vec<_> =
                            removed.into_iter().map(|(m, s)| (s, m.to_vec())).collect();
                        assert_eq!(removed, expected);
                    }
                    _ => {
                        let min = (rng.below(41) as f64 - 20.0) / 4.0;
                        let count = zset.partition_point(|score, _| score < min);
                        let expected = model.0.iter().filter(|(s, _)| *s < min).count();
                        assert_eq!(count, expected);
                    }
                }
                if step % 97 == 0 {
                    assert_same(&zset, &model);
                }
                largest = largest.max(zset.len());
            }
            assert_same(&zset, &model);
            // Shrink to nothing, so merges happen across many chunks too.
            let mut step = 0;
            while !model.0.is_empty() {
                let index = rng.below(model.0.len() as u64) as usize;
                if rng.below(8) == 0 {
                    let end = index + rng.below(40) as usize;
                    let removed = zset.remove_range(index..end);
                    let end = end.min(model.0.len());
                    assert_eq!(removed.len(), end - index);
                    model.0.drain(index..end);
                } else {
                    let m = model.0[index].1.clone();
                    assert_eq!(zset.remove(&m), model.remove(&m));
                }
                step += 1;
                if step % 31 == 0 {
                    assert_same(&zset, &model);
                }
            }
            assert_same(&zset, &model);
        }
        // The sets must have spanned many chunks for the test to mean much.
        assert!(largest > 8 * CHUNK_MAX, "largest set: {largest}");
    }

    #[test]
    fn ranges_iterate_both_ways() {
        let mut zset = ZSet::with_seed(1);
        for i in 0..1_000 {
            zset.insert(format!("{i:04}").as_bytes(), f64::from(i % 7));
        }
        let all: Vec<_> = zset.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        for (start, end) in [
            (0, 0),
            (0, 1),
            (5, 400),
            (127, 129),
            (990, 2_000),
            (3_000, 4_000),
        ] {
            let expected: Vec<_> = all
                .get(start.min(1_000)..end.min(1_000))
                .unwrap_or(&[])
                .to_vec();
            let forward: Vec<_> = zset
                .range(start..end)
                .map(|(m, s)| (m.to_vec(), s))
                .collect();
            assert_eq!(forward, expected);
            let mut backward: Vec<_> = zset
                .range(start..end)
                .rev()
                .map(|(m, s)| (m.to_vec(), s))
                .collect();
            backward.reverse();
            assert_eq!(backward, expected);
            assert_eq!(zset.range(start..end).len(), expected.len());
        }
        // Mixed consumption from both ends meets in the middle.
        let mut range = zset.range(10..20);
        assert_eq!(range.next().map(|(_, s)| s), Some(all[10].1));
        assert_eq!(
            range.next_back().map(|(m, _)| m.to_vec()),
            Some(all[19].0.clone())
        );
        assert_eq!(range.count(), 8);
    }

    #[test]
    fn negative_zero_sorts_with_zero_and_keeps_its_sign() {
        let mut zset = ZSet::with_seed(1);
        zset.insert(b"b", 0.0);
        zset.insert(b"a", -0.0);
        zset.insert(b"c", -1.0);
        let order: Vec<_> = zset.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(order[0].0, b"c");
        assert_eq!(order[1].0, b"a");
        assert!(order[1].1.is_sign_negative());
        assert_eq!(order[2].0, b"b");
        assert_eq!(
            zset.insert(b"a", 0.0).map(f64::is_sign_negative),
            Some(true)
        );
        zset.check_invariants();
    }

    #[test]
    fn compact_flag_is_sticky() {
        let mut zset = ZSet::with_seed(1);
        for i in 0..COMPACT_MAX_LEN {
            zset.insert(format!("{i}").as_bytes(), 1.0);
        }
        assert!(zset.is_compact());
        zset.insert(b"one-more", 1.0);
        assert!(!zset.is_compact());
        zset.remove(b"one-more");
        assert!(!zset.is_compact());
        let mut long = ZSet::with_seed(1);
        long.insert(&[b'x'; COMPACT_MAX_MEMBER_BYTES + 1], 1.0);
        assert!(!long.is_compact());
    }

    #[test]
    fn removing_everything_leaves_an_empty_index() {
        let mut zset = ZSet::with_seed(1);
        for i in 0..5_000 {
            zset.insert(format!("{i}").as_bytes(), f64::from(i));
        }
        assert_eq!(zset.remove_range(100..4_900).len(), 4_800);
        zset.check_invariants();
        assert_eq!(zset.remove_range(0..usize::MAX).len(), 200);
        assert!(zset.is_empty());
        zset.check_invariants();
        assert_eq!(zset.iter().count(), 0);
        assert!(zset.get_by_rank(0).is_none());
        assert_eq!(zset.partition_point(|_, _| true), 0);
    }
}
