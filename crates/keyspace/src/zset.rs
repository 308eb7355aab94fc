//! Sorted sets: members ordered by (score, member), with O(1) score lookup.

use std::collections::BTreeSet;

use crate::{CompactBytes, Dict};

/// A score with the total order Redis uses (no NaN is ever stored).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Clone)]
pub struct ZSet {
    scores: Dict<CompactBytes, f64>,
    ordered: BTreeSet<(Score, CompactBytes)>,
}

impl ZSet {
    pub fn with_seed(seed: u64) -> Self {
        ZSet {
            scores: Dict::with_seed(seed),
            ordered: BTreeSet::new(),
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

    /// Sets the score of `member`; returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        let member = CompactBytes::new(member);
        let old = self.scores.insert(member.clone(), score);
        if let Some(old_score) = old {
            self.ordered.remove(&(Score(old_score), member.clone()));
        }
        self.ordered.insert((Score(score), member));
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (key, score) = self.scores.remove_entry(member)?;
        self.ordered.remove(&(Score(score), key));
        Some(score)
    }

    /// Members in ascending (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&CompactBytes, f64)> {
        self.ordered.iter().map(|(score, member)| (member, score.0))
    }

    pub fn scores(&self) -> &Dict<CompactBytes, f64> {
        &self.scores
    }
}
