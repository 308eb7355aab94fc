//! Commands: the Raft log entries that change the cluster map, and the
//! outcome of applying one. Commands are small and carry everything their
//! validation needs (such as the epoch the proposer saw), so `apply` decides
//! the same on every voter.

use serde::{Deserialize, Serialize};

use crate::event::{LsnRange, PromotionCause};
use crate::fragment::{AsyncRole, Model, Role, SafenessLevel};
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
    /// Forms the whole map in one entry: the nodes and the fragment's
    /// members, primary and epoch. Only an empty map (no nodes) may be
    /// formed; everything is validated before anything changes. Records a
    /// `Bootstrap` promotion of `primary` at `epoch` (at least 1).
    Form {
        nodes: Vec<NodeInfo>,
        primary: NodeId,
        in_sync: Vec<NodeId>,
        async_members: Vec<(NodeId, AsyncRole)>,
        spares: Vec<NodeId>,
        epoch: u64,
        preferred: Option<NodeId>,
        safeness: SafenessLevel,
        model: Model,
    },
    /// A spare takes the place of a failed secondary, if the fragment is
    /// still at `expected_epoch`: `dead` (in sync, or a data node with no
    /// role) becomes a spare and `spare` gets `Role::None`, that is, it
    /// starts following the primary; the primary puts it in the in-sync set
    /// (`SetRole InSync`) once it has caught up. The epoch does not change.
    ReplaceWithSpare {
        dead: NodeId,
        spare: NodeId,
        expected_epoch: u64,
    },
    /// Records in the event log that `node` set aside `records` when it
    /// rejoined at `epoch` (`EventKind::SetAside`); changes nothing else.
    RecordSetAside {
        node: NodeId,
        epoch: u64,
        records: LsnRange,
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
    /// `Form` on a map that already has nodes.
    AlreadyFormed,
    /// The command contradicts itself (such as a node holding two roles).
    Invalid(String),
    /// `ReplaceWithSpare` names a `spare` that is not a spare.
    NotSpare(NodeId),
    /// `ReplaceWithSpare` names a `dead` node that is an async member or a
    /// spare: only in-sync and catching-up secondaries are replaced.
    NotReplaceable(NodeId),
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
            Rejection::AlreadyFormed => write!(f, "the map is already formed"),
            Rejection::Invalid(why) => write!(f, "invalid command: {why}"),
            Rejection::NotSpare(node) => write!(f, "node {node} is not a spare"),
            Rejection::NotReplaceable(node) => {
                write!(f, "node {node} is not a secondary a spare may replace")
            }
        }
    }
}

impl std::error::Error for Rejection {}

/// What applying one entry produced: the fragment's epoch afterwards, or the
/// rejection.
pub type Outcome = Result<u64, Rejection>;
