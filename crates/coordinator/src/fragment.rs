//! One fragment's entry in the cluster map: who is primary, who is in sync,
//! who follows asynchronously, who waits as a spare, and under which epoch.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::NodeId;

/// The redundancy model the operator chose (DESIGN.md section 1). Only the
/// models the coordinator handles so far are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Model {
    Single,
    ActiveStandby,
    ActiveSpare,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::Single => "single",
            Model::ActiveStandby => "active-standby",
            Model::ActiveSpare => "active-spare",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "single" => Ok(Model::Single),
            "active-standby" => Ok(Model::ActiveStandby),
            "active-spare" => Ok(Model::ActiveSpare),
            other => Err(format!(
                "unknown model '{other}' (single, active-standby, active-spare)"
            )),
        }
    }
}

/// The safeness level as the map stores it. It mirrors
/// `daisy_replication::Safeness`, which has no serde form, and converts to
/// and from it, so there is one vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SafenessLevel {
    OneSafe,
    TwoSafe,
    TwoSafeCommitted,
    VerySafe,
}

impl From<daisy_replication::Safeness> for SafenessLevel {
    fn from(level: daisy_replication::Safeness) -> Self {
        use daisy_replication::Safeness;
        match level {
            Safeness::OneSafe => SafenessLevel::OneSafe,
            Safeness::TwoSafe => SafenessLevel::TwoSafe,
            Safeness::TwoSafeCommitted => SafenessLevel::TwoSafeCommitted,
            Safeness::VerySafe => SafenessLevel::VerySafe,
        }
    }
}

impl From<SafenessLevel> for daisy_replication::Safeness {
    fn from(level: SafenessLevel) -> Self {
        use daisy_replication::Safeness;
        match level {
            SafenessLevel::OneSafe => Safeness::OneSafe,
            SafenessLevel::TwoSafe => Safeness::TwoSafe,
            SafenessLevel::TwoSafeCommitted => Safeness::TwoSafeCommitted,
            SafenessLevel::VerySafe => Safeness::VerySafe,
        }
    }
}

/// What an asynchronous member of a fragment is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AsyncRole {
    /// Disaster recovery: promoted only by an operator.
    Dr,
    /// A read-only copy for reports; never promoted.
    Reporting,
}

/// The role a node has in a fragment, besides primary (which changes only
/// by promotion).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// A secondary whose acknowledgement every write at 2-safe and above waits for.
    InSync,
    Async(AsyncRole),
    Spare,
    /// None of the above. For a data node this means it follows the
    /// primary but is not (yet) in the in-sync set: a catching-up secondary
    /// (such as a deposed primary rejoining, or a spare that replaced a
    /// failed secondary). The primary adds it to the in-sync set with
    /// `SetRole InSync` once it has caught up. At 1-safe it may be promoted
    /// by a failover (its missing tail is reported as lost). For an arbiter
    /// it means nothing: arbiters hold no data.
    None,
}

/// A fragment: the unit of replication and failover.
///
/// Invariants (checked by `ClusterMap::check_invariants`): the primary is in
/// none of the other sets; `in_sync`, `async_members` and `spares` are
/// disjoint; every member is a data node of the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragment {
    pub id: u32,
    pub primary: Option<NodeId>,
    /// Secondaries in the in-sync set (the primary is never in it).
    pub in_sync: BTreeSet<NodeId>,
    pub async_members: BTreeMap<NodeId, AsyncRole>,
    pub spares: BTreeSet<NodeId>,
    /// Bumped by every promotion; fences deposed primaries.
    pub epoch: u64,
    pub preferred_primary: Option<NodeId>,
    pub safeness: SafenessLevel,
    pub model: Model,
}

impl Fragment {
    pub fn new(id: u32, model: Model, safeness: SafenessLevel) -> Fragment {
        Fragment {
            id,
            primary: None,
            in_sync: BTreeSet::new(),
            async_members: BTreeMap::new(),
            spares: BTreeSet::new(),
            epoch: 0,
            preferred_primary: None,
            safeness,
            model,
        }
    }

    /// The role `node` has here, primary aside.
    pub fn role_of(&self, node: NodeId) -> Role {
        if self.in_sync.contains(&node) {
            Role::InSync
        } else if let Some(role) = self.async_members.get(&node) {
            Role::Async(*role)
        } else if self.spares.contains(&node) {
            Role::Spare
        } else {
            Role::None
        }
    }

    /// Removes `node` from every set (not from `primary`).
    pub(crate) fn clear_role(&mut self, node: NodeId) {
        self.in_sync.remove(&node);
        self.async_members.remove(&node);
        self.spares.remove(&node);
    }

    pub(crate) fn set_role(&mut self, node: NodeId, role: Role) {
        self.clear_role(node);
        match role {
            Role::InSync => {
                self.in_sync.insert(node);
            }
            Role::Async(async_role) => {
                self.async_members.insert(node, async_role);
            }
            Role::Spare => {
                self.spares.insert(node);
            }
            Role::None => {}
        }
    }
}
