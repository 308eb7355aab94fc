//! An in-process transport for tests: every voter registers its Raft in a
//! shared hub, and a call is delivered by handing the request to the
//! target's Raft on a task of its own, its answer coming back over a
//! oneshot channel.
//!
//! Faults: a node can be isolated (nothing reaches it, nothing leaves it),
//! the voters can be split into partitions (calls cross no boundary), and a
//! stopped node is simply unregistered. Faults are checked when a call is
//! made and again when its answer arrives, so a partition also swallows
//! answers already in flight.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::network::{handle, RaftRequest, RaftResponse, Transport, TransportError};
use crate::types::Raft;
use crate::NodeId;

#[derive(Clone, Default)]
pub struct InProcessTransport {
    hub: Arc<Mutex<Hub>>,
}

#[derive(Default)]
struct Hub {
    nodes: HashMap<NodeId, Raft>,
    isolated: BTreeSet<NodeId>,
    /// When set, a call crosses only within one of these groups.
    partitions: Option<Vec<BTreeSet<NodeId>>>,
}

impl Hub {
    fn reachable(&self, from: NodeId, to: NodeId) -> Result<Raft, TransportError> {
        let unreachable = |why: &str| {
            Err(TransportError::Unreachable(format!(
                "{from} -> {to}: {why}"
            )))
        };
        if self.isolated.contains(&from) || self.isolated.contains(&to) {
            return unreachable("isolated");
        }
        if let Some(groups) = &self.partitions {
            let together = groups
                .iter()
                .any(|group| group.contains(&from) && group.contains(&to));
            if !together {
                return unreachable("partitioned");
            }
        }
        match self.nodes.get(&to) {
            Some(raft) => Ok(raft.clone()),
            None => unreachable("not running"),
        }
    }
}

impl InProcessTransport {
    pub fn new() -> InProcessTransport {
        InProcessTransport::default()
    }

    fn lock(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().expect("transport hub lock poisoned")
    }

    /// Makes `node`'s Raft reachable.
    pub fn register(&self, node: NodeId, raft: Raft) {
        self.lock().nodes.insert(node, raft);
    }

    /// Makes `node` unreachable as a stopped process is.
    pub fn unregister(&self, node: NodeId) {
        self.lock().nodes.remove(&node);
    }

    /// Cuts `node` off from every other node.
    pub fn isolate(&self, node: NodeId) {
        self.lock().isolated.insert(node);
    }

    /// Splits the nodes into groups that cannot reach each other; a node in
    /// no group reaches nobody.
    pub fn partition(&self, groups: &[&[NodeId]]) {
        let groups = groups
            .iter()
            .map(|group| group.iter().copied().collect())
            .collect();
        self.lock().partitions = Some(groups);
    }

    /// Removes every isolation and partition.
    pub fn heal(&self) {
        let mut hub = self.lock();
        hub.isolated.clear();
        hub.partitions = None;
    }
}

impl Transport for InProcessTransport {
    async fn call(
        &self,
        from: NodeId,
        to: NodeId,
        request: RaftRequest,
        timeout: Duration,
    ) -> Result<RaftResponse, TransportError> {
        let raft = self.lock().reachable(from, to)?;
        let (answer_tx, answer_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = answer_tx.send(handle(&raft, request).await);
        });
        let response = match tokio::time::timeout(timeout, answer_rx).await {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => {
                return Err(TransportError::Unreachable(format!(
                    "{to} dropped the request"
                )))
            }
            Err(_) => return Err(TransportError::Timeout),
        };
        self.lock().reachable(to, from)?;
        Ok(response)
    }
}
