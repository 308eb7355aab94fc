//! `Coordinator`: one voter of the coordinator group. It starts a Raft on a
//! log store, a state machine and a network, forms the group once
//! (`bootstrap`), proposes commands and exposes the applied map.
//!
//! Wiring requests that arrive from peers to `network::handle` is the
//! transport's business (`InProcessTransport::register` in tests).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, ConfigError, ServerState};
use tokio::sync::watch;

use crate::command::{Command, Outcome};
use crate::knobs::Knobs;
use crate::log_store::LogStore;
use crate::map::ClusterMap;
use crate::network::{Network, Transport};
use crate::state_machine::StateMachineStore;
use crate::types::Raft;
use crate::NodeId;

#[derive(Debug)]
pub enum StartError {
    Config(ConfigError),
    /// openraft could not start (for instance, the storage failed).
    Raft(String),
    /// `bootstrap` on a node that already belongs to a group.
    AlreadyInitialized,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(error) => write!(f, "bad coordinator configuration: {error}"),
            StartError::Raft(error) => write!(f, "coordinator failed to start: {error}"),
            StartError::AlreadyInitialized => {
                f.write_str("the coordinator group is already formed")
            }
        }
    }
}

impl std::error::Error for StartError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposeError {
    /// This voter is not the leader; nothing was written. `leader` is the
    /// one it knows of, if any.
    NotLeader { leader: Option<NodeId> },
    /// The command may or may not have been committed (the leader stopped,
    /// or the commit did not come within `propose_timeout_ms`). Read the map
    /// to find out.
    OutcomeUnknown(String),
}

impl std::fmt::Display for ProposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProposeError::NotLeader {
                leader: Some(leader),
            } => write!(f, "not the leader; {leader} is"),
            ProposeError::NotLeader { leader: None } => {
                f.write_str("not the leader; no leader known")
            }
            ProposeError::OutcomeUnknown(why) => write!(f, "outcome unknown: {why}"),
        }
    }
}

impl std::error::Error for ProposeError {}

pub struct Coordinator {
    id: NodeId,
    raft: Raft,
    state_machine: StateMachineStore,
    propose_timeout: Duration,
}

impl Coordinator {
    /// Starts the voter `id`, which is at `voter_index` in the voter list
    /// (this picks its election window, see `knobs`).
    pub async fn start<T: Transport>(
        id: NodeId,
        voter_index: usize,
        knobs: &Knobs,
        transport: T,
        log: LogStore,
        state_machine: StateMachineStore,
    ) -> Result<Coordinator, StartError> {
        let config = knobs.raft_config(voter_index).map_err(StartError::Config)?;
        let backoff = Duration::from_millis(knobs.unreachable_backoff_ms);
        let network = Network::new(id, transport, backoff);
        let raft = Raft::new(id, Arc::new(config), network, log, state_machine.clone())
            .await
            .map_err(|error| StartError::Raft(error.to_string()))?;
        Ok(Coordinator {
            id,
            raft,
            state_machine,
            propose_timeout: Duration::from_millis(knobs.propose_timeout_ms),
        })
    }

    /// Forms the group with these voters (id, peer address). Run once, on
    /// one voter, for a new cluster.
    pub async fn bootstrap(&self, voters: &[(NodeId, String)]) -> Result<(), StartError> {
        let members: BTreeMap<NodeId, BasicNode> = voters
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr.clone())))
            .collect();
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                Err(StartError::AlreadyInitialized)
            }
            Err(error) => Err(StartError::Raft(error.to_string())),
        }
    }

    /// Proposes `command`; on success, its outcome as every voter applied it.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ProposeError> {
        let write = tokio::time::timeout(self.propose_timeout, self.raft.client_write(command));
        match write.await {
            Ok(Ok(response)) => Ok(response.data),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward)))) => {
                Err(ProposeError::NotLeader {
                    leader: forward.leader_id,
                })
            }
            Ok(Err(error)) => Err(ProposeError::OutcomeUnknown(error.to_string())),
            Err(_) => Err(ProposeError::OutcomeUnknown(format!(
                "not committed within {} ms",
                self.propose_timeout.as_millis()
            ))),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The leader this voter knows of.
    pub fn leader(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The highest term this voter has seen.
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// A copy of the map as this voter has applied it.
    pub fn map(&self) -> ClusterMap {
        self.state_machine.map()
    }

    /// Follows the applied map.
    pub fn subscribe(&self) -> watch::Receiver<ClusterMap> {
        self.state_machine.subscribe()
    }

    /// The Raft handle, for a transport to deliver requests to.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Stops the voter as a process exit would; its stores keep what was
    /// written.
    pub async fn stop(self) {
        if let Err(error) = self.raft.shutdown().await {
            tracing::warn!(node = self.id, %error, "coordinator did not stop cleanly");
        }
    }
}
