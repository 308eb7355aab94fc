//! The openraft type configuration: log entries carry a `Command`, applying
//! one yields an `Outcome`, a Raft node is addressed by its peer address.

use std::io::Cursor;

use crate::command::{Command, Outcome};

openraft::declare_raft_types!(
    /// Types of DaisyDB's coordinator Raft group.
    pub TypeConfig:
        D = Command,
        R = Outcome,
        NodeId = crate::NodeId,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<crate::NodeId>;
pub type Vote = openraft::Vote<crate::NodeId>;
pub type StorageError = openraft::StorageError<crate::NodeId>;
pub type StoredMembership = openraft::StoredMembership<crate::NodeId, openraft::BasicNode>;
pub type SnapshotMeta = openraft::SnapshotMeta<crate::NodeId, openraft::BasicNode>;
