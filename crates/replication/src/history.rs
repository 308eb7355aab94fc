//! Where each epoch starts in the log.
//!
//! Only one primary writes per epoch and it numbers its records densely, so
//! a record is named by `(lsn, epoch)` across the whole cluster. A replica
//! coming back from an older epoch may hold records the current primary
//! never had; the history tells how far the two logs agree (as Kafka's
//! leader-epoch cache does).

use serde::{Deserialize, Serialize};

/// Most epochs remembered; the oldest are forgotten first.
pub const HISTORY_ENTRIES_MAX: usize = 1024;

/// `(epoch, first LSN)` for each epoch a primary took office in, oldest
/// first. Epoch `e` covers LSNs from its start up to the next entry's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochHistory {
    entries: Vec<(u64, u64)>,
}

/// How a secondary's log relates to the primary's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuation {
    /// Its log is a prefix of the primary's: send from the next LSN.
    Prefix,
    /// It holds records after `keep_through` that the primary does not
    /// have (or has with another epoch): they must be set aside.
    Diverged { keep_through: u64 },
    /// The history is too short to tell: a full copy settles it.
    Unknown,
}

impl EpochHistory {
    pub fn new() -> EpochHistory {
        EpochHistory::default()
    }

    pub fn entries(&self) -> &[(u64, u64)] {
        &self.entries
    }

    pub fn from_entries(entries: Vec<(u64, u64)>) -> Result<EpochHistory, String> {
        if entries.len() > HISTORY_ENTRIES_MAX {
            return Err(format!("more than {HISTORY_ENTRIES_MAX} epochs"));
        }
        for pair in entries.windows(2) {
            if pair[1].0 <= pair[0].0 || pair[1].1 < pair[0].1 {
                return Err(format!(
                    "epochs out of order: {:?} then {:?}",
                    pair[0], pair[1]
                ));
            }
        }
        Ok(EpochHistory { entries })
    }

    pub fn last_epoch(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.0)
    }

    /// Records that `epoch` starts at `start_lsn`. Panics if it does not
    /// come after the last entry.
    pub fn begin(&mut self, epoch: u64, start_lsn: u64) {
        if let Some(&(last_epoch, last_start)) = self.entries.last() {
            assert!(
                epoch > last_epoch && start_lsn >= last_start,
                "epoch {epoch} at {start_lsn} after epoch {last_epoch} at {last_start}"
            );
        }
        self.entries.push((epoch, start_lsn));
        if self.entries.len() > HISTORY_ENTRIES_MAX {
            self.entries.remove(0);
        }
    }

    /// The epoch the record at `lsn` was written in, if known.
    pub fn epoch_at(&self, lsn: u64) -> Option<u64> {
        let index = self.entries.partition_point(|&(_, start)| start <= lsn);
        if index == 0 {
            return None;
        }
        Some(self.entries[index - 1].0)
    }

    /// The last LSN written in `epoch` or earlier, given the log ends at
    /// `last_lsn`: the LSN before the first later epoch starts.
    pub fn end_of(&self, epoch: u64, last_lsn: u64) -> u64 {
        self.entries
            .iter()
            .find(|&&(e, _)| e > epoch)
            .map_or(last_lsn, |&(_, start)| (start - 1).min(last_lsn))
    }

    /// How a replica whose log ends at `their_last_lsn`, written under
    /// `theirs`, relates to this log, which ends at `my_last_lsn`: the two
    /// agree up to the first LSN where the histories name different epochs.
    pub fn continuation(
        &self,
        my_last_lsn: u64,
        their_last_lsn: u64,
        theirs: &EpochHistory,
    ) -> Continuation {
        if their_last_lsn == 0 {
            return Continuation::Prefix;
        }
        let mut points: Vec<u64> = self
            .entries
            .iter()
            .chain(&theirs.entries)
            .map(|&(_, start)| start)
            .filter(|&start| start <= their_last_lsn)
            .collect();
        points.push(1);
        points.sort_unstable();
        points.dedup();
        for point in points {
            match (self.epoch_at(point), theirs.epoch_at(point)) {
                (Some(mine), Some(their)) if mine == their => {}
                (Some(_), Some(_)) => {
                    return Continuation::Diverged {
                        keep_through: point - 1,
                    }
                }
                _ => return Continuation::Unknown,
            }
        }
        if their_last_lsn > my_last_lsn {
            return Continuation::Diverged {
                keep_through: my_last_lsn,
            };
        }
        Continuation::Prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(entries: &[(u64, u64)]) -> EpochHistory {
        EpochHistory::from_entries(entries.to_vec()).unwrap()
    }

    #[test]
    fn epoch_at_follows_the_starts() {
        let h = history(&[(1, 1), (2, 50), (4, 50), (5, 90)]);
        assert_eq!(h.epoch_at(1), Some(1));
        assert_eq!(h.epoch_at(49), Some(1));
        assert_eq!(h.epoch_at(50), Some(4));
        assert_eq!(h.epoch_at(1000), Some(5));
        assert_eq!(h.end_of(1, 200), 49);
        assert_eq!(h.end_of(2, 200), 49);
        assert_eq!(h.end_of(4, 200), 89);
        assert_eq!(h.end_of(5, 200), 200);
        assert_eq!(history(&[(3, 10)]).epoch_at(9), None);
    }

    #[test]
    fn a_prefix_resumes() {
        let h = history(&[(1, 1), (2, 50)]);
        let old = history(&[(1, 1)]);
        assert_eq!(
            h.continuation(100, 0, &EpochHistory::new()),
            Continuation::Prefix
        );
        assert_eq!(h.continuation(100, 30, &old), Continuation::Prefix);
        assert_eq!(h.continuation(100, 49, &old), Continuation::Prefix);
        assert_eq!(h.continuation(100, 100, &h), Continuation::Prefix);
    }

    #[test]
    fn an_old_primary_tail_diverges_where_the_new_epoch_began() {
        // The old primary wrote 1..=60 in epoch 1; the new one took over at 50.
        let new = history(&[(1, 1), (2, 50)]);
        let old = history(&[(1, 1)]);
        assert_eq!(
            new.continuation(100, 60, &old),
            Continuation::Diverged { keep_through: 49 }
        );
        // It is ahead of a primary of the same epoch.
        assert_eq!(
            old.continuation(10, 60, &old),
            Continuation::Diverged { keep_through: 10 }
        );
        // It took office in an epoch this primary never saw.
        let theirs = history(&[(1, 1), (2, 40)]);
        let mine = history(&[(1, 1), (3, 50)]);
        assert_eq!(
            mine.continuation(100, 70, &theirs),
            Continuation::Diverged { keep_through: 39 }
        );
    }

    #[test]
    fn beyond_the_remembered_history_is_unknown() {
        let h = history(&[(7, 1000)]);
        assert_eq!(
            h.continuation(2000, 10, &history(&[(1, 1)])),
            Continuation::Unknown
        );
        assert_eq!(
            EpochHistory::new().continuation(5, 3, &history(&[(1, 1)])),
            Continuation::Unknown
        );
    }

    #[test]
    fn bounded_and_ordered() {
        let mut h = EpochHistory::new();
        for epoch in 1..=(HISTORY_ENTRIES_MAX as u64 + 10) {
            h.begin(epoch, epoch * 2);
        }
        assert_eq!(h.entries().len(), HISTORY_ENTRIES_MAX);
        assert!(EpochHistory::from_entries(vec![(2, 1), (1, 5)]).is_err());
        assert!(EpochHistory::from_entries(vec![(1, 5), (2, 1)]).is_err());
    }
}
