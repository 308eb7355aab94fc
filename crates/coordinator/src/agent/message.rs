//! The agents' own requests, carried on the coordinator's frames beside
//! Raft's (`RaftRequest::Agent`). Each is answered by the receiving agent;
//! none is forwarded further.

use serde::{Deserialize, Serialize};

use crate::command::{Command, Outcome};
use crate::detector::Report;
use crate::lease::Denial;
use crate::map::ClusterMap;
use crate::NodeId;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AgentRequest {
    /// A data node's heartbeat, sent to every voter. `lease` asks for a
    /// grant of the lease round `(round, epoch)`; `map_version` lets the
    /// voter answer with its map when it holds a newer one.
    Heartbeat {
        report: Report,
        lease: Option<(u64, u64)>,
        map_version: u64,
    },
    /// The leader is about to replace `primary`: stop granting its lease at
    /// `epoch` and say how long the newest grant may still be in force.
    Revoke {
        primary: NodeId,
        epoch: u64,
        term: u64,
    },
    /// The leader of `term` gave up the failover it revoked for, before
    /// proposing anything.
    Unrevoke { epoch: u64, term: u64 },
    /// Propose a command; only a leader accepts.
    Propose(Command),
    /// The leader's map after a commit, so members act on it at once.
    Map(Box<ClusterMap>),
    /// The leader asks the primary to hand over to `to` (switch back).
    Switchover { to: NodeId },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AgentResponse {
    Heartbeat {
        /// The answer to the lease request, if there was one.
        grant: Option<Result<(), Denial>>,
        map: Option<Box<ClusterMap>>,
    },
    Revoked {
        remaining_ms: u64,
    },
    Proposed(Result<Outcome, String>),
    Done,
    /// The receiver runs no agent (a bare Raft voter).
    Unsupported,
}
