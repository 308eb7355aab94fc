//! Every timing knob of the coordinator, with its default beside it.
//!
//! Election timeouts: openraft 0.9 draws a node's election timeout once,
//! when the node starts, from `[election_timeout_min,
//! election_timeout_max)`. If two surviving voters happened to draw close
//! values they could keep starting elections at the same moments and split
//! their votes for ever. So each voter gets its own window, derived from its
//! position in the voter list, and the windows do not overlap:
//!
//! ```text
//! voter i: [election_base_ms + i * election_window_ms,
//!           election_base_ms + (i + 1) * election_window_ms)
//! ```
//!
//! Two voters therefore never share a timeout, and the one with the shorter
//! window wins the race unless it is the one that is down.
//!
//! A second openraft 0.9 rule sets how fast a dead leader is replaced: a
//! follower that had a leader stands only `election_timeout_max` (its
//! "leader lease", during which it also refuses to vote) plus its drawn
//! timeout after the leader's last message. So voter i stands about
//! `2 * base + (2i + 1) * window` after the leader dies, and its vote
//! requests are granted by every voter j whose `base + (j + 1) * window`
//! has passed by then (`base > 2 * window` covers every j of a 3-voter
//! group). The node picks its knobs accordingly (`coordination.rs`).

use openraft::{Config, ConfigError, SnapshotPolicy};

#[derive(Clone, Debug)]
pub struct Knobs {
    /// A name shared by every voter of one cluster.
    pub cluster_name: String,
    /// How often the leader sends heartbeats (append-entries).
    pub heartbeat_ms: u64,
    /// The start of voter 0's election window; must exceed `heartbeat_ms`.
    pub election_base_ms: u64,
    /// The width of each voter's election window.
    pub election_window_ms: u64,
    /// How long a proposal may wait for its commit before its outcome is
    /// reported unknown.
    pub propose_timeout_ms: u64,
    /// How long to wait before retrying a peer that was unreachable.
    pub unreachable_backoff_ms: u64,
    /// Build a snapshot (and purge the log before it) after this many entries.
    pub snapshot_every_entries: u64,
    /// Entries kept in the log behind the newest snapshot, so a follower
    /// that is a little behind needs no snapshot.
    pub log_kept_after_snapshot: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            cluster_name: "daisy".to_string(),
            heartbeat_ms: 50,
            election_base_ms: 150,
            election_window_ms: 50,
            propose_timeout_ms: 2_000,
            unreachable_backoff_ms: 100,
            snapshot_every_entries: 1_000,
            log_kept_after_snapshot: 100,
        }
    }
}

impl Knobs {
    /// Short timings for in-process tests.
    pub fn for_tests() -> Knobs {
        Knobs {
            heartbeat_ms: 10,
            election_base_ms: 40,
            election_window_ms: 20,
            propose_timeout_ms: 1_000,
            unreachable_backoff_ms: 20,
            ..Knobs::default()
        }
    }

    /// The election window `[min, max)` of the voter at `voter_index`.
    pub fn election_window_ms(&self, voter_index: usize) -> (u64, u64) {
        let index = voter_index as u64;
        let min = self.election_base_ms + index * self.election_window_ms;
        (min, min + self.election_window_ms)
    }

    /// The openraft configuration of the voter at `voter_index`.
    pub fn raft_config(&self, voter_index: usize) -> Result<Config, ConfigError> {
        let (election_timeout_min, election_timeout_max) = self.election_window_ms(voter_index);
        Config {
            cluster_name: self.cluster_name.clone(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min,
            election_timeout_max,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every_entries),
            max_in_snapshot_log_to_keep: self.log_kept_after_snapshot,
            ..Config::default()
        }
        .validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn election_windows_do_not_overlap() {
        let knobs = Knobs::default();
        for index in 0..5 {
            let (min, max) = knobs.election_window_ms(index);
            let (next_min, _) = knobs.election_window_ms(index + 1);
            assert!(min < max);
            assert_eq!(max, next_min);
            assert!(min > knobs.heartbeat_ms);
            knobs.raft_config(index).expect("valid config");
        }
    }
}
