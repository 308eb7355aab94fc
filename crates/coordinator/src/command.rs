//! Commands: the Raft log entries that change the cluster map, and the
//! outcome of applying one. Commands are small and carry everything their
//! validation needs (such as the epoch the proposer saw), so `apply` decides
//! the same on every voter.

use serde::{Deserialize, Serialize};

use crate::event::{LsnRange, PromotionCause};
use crate::fragment::{Model, Role, SafenessLevel};
use crate::map::NodeInfo;
use crate::NodeId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A node joins the map (with no role in the fragment yet).
    AddNode(NodeInfo),
    /// A node leaves the map; refused while it is the primary.
    RemoveNode {
        node: NodeId,
    },
    /// `node` becomes primary at `expected_epoch + 1`, if the fragment is
    /// still at `expected_epoch`. The old primary keeps no role (it rejoins
    /// through `SetRole` once it has caught up).
    Promote {
        node: NodeId,
        expected_epoch: u64,
        cause: PromotionCause,
        lost: Option<LsnRange>,
    },
    /// Gives `node` a role in the fragment (in-sync, async, spare, none), if
    /// the fragment is still at `expected_epoch`: a deposed primary cannot
    /// shrink the in-sync set of its successor.
    SetRole {
        node: NodeId,
        role: Role,
        expected_epoch: u64,
    },
    SetPreferred {
        node: Option<NodeId>,
    },
    SetSafeness {
        level: SafenessLevel,
    },
    SetModel {
        model: Model,
    },
}

/// Why a command changed nothing. Rejections are ordinary outcomes: the
/// entry is committed, every voter rejects it the same way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    StaleEpoch {
        expected: u64,
        actual: u64,
    },
    UnknownNode(NodeId),
    DuplicateNode(NodeId),
    /// The node is an arbiter: it holds no data.
    NotDataNode(NodeId),
    IsPrimary(NodeId),
    /// Only in-sync secondaries (or, by an operator, `dr` members) may be
    /// promoted once the fragment has a primary.
    NotPromotable(NodeId),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::StaleEpoch { expected, actual } => {
                write!(
                    f,
                    "stale epoch: expected {expected}, fragment is at {actual}"
                )
            }
            Rejection::UnknownNode(node) => write!(f, "unknown node {node}"),
            Rejection::DuplicateNode(node) => write!(f, "node {node} is already in the map"),
            Rejection::NotDataNode(node) => write!(f, "node {node} is an arbiter"),
            Rejection::IsPrimary(node) => write!(f, "node {node} is the primary"),
            Rejection::NotPromotable(node) => write!(f, "node {node} may not be promoted"),
        }
    }
}

impl std::error::Error for Rejection {}

/// What applying one entry produced: the fragment's epoch afterwards, or the
/// rejection.
pub type Outcome = Result<u64, Rejection>;
