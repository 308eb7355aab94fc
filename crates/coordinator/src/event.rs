//! The cluster map's event log: what failovers and promotions happened,
//! under which epoch, and what they lost. Append-only and bounded: the
//! oldest events fall off once `EVENT_LOG_MAX` are held.

use serde::{Deserialize, Serialize};

use crate::NodeId;

/// How many events the map keeps.
pub const EVENT_LOG_MAX: usize = 256;

/// An inclusive range of LSNs a failover lost (only at 1-safe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LsnRange {
    pub first_lsn: u64,
    pub last_lsn: u64,
}

/// Why a node became primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionCause {
    /// The first primary of the fragment.
    Bootstrap,
    /// The coordinator replaced a primary it found dead.
    Failover,
    /// A planned switchover (or switch back to the preferred primary).
    Switchover,
    /// An operator's `promote`.
    Operator,
    /// The primary itself, again, at the next epoch: it restarted, and the
    /// records it shipped but had not made durable before the crash must
    /// not share an epoch with the ones it writes now.
    Restart,
    /// The primary itself, again, at the next epoch, after a switchover
    /// whose commit it could not learn: committing this proves the
    /// switchover's promotion did not commit, and fences it off for good.
    Reclaim,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Promotion {
        from: Option<NodeId>,
        to: NodeId,
        cause: PromotionCause,
        /// The records the old primary had that the new one does not.
        lost: Option<LsnRange>,
    },
    /// A node that came back from an older epoch set aside the `records`
    /// it had that the primary of epoch `against` does not (in
    /// `divergent/` on that node). At 1-safe these are exactly the
    /// acknowledged writes a failover lost; `Promotion::lost` is only an
    /// estimate from the last heartbeats. Above 1-safe none of them was
    /// acknowledged. Recorded at the epoch the map is at when it commits.
    SetAside {
        node: NodeId,
        against: u64,
        records: LsnRange,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Dense, starting at 1; survives the oldest events being dropped.
    pub seq: u64,
    /// The fragment's epoch after the event.
    pub epoch: u64,
    pub kind: EventKind,
}
