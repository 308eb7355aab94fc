//! A cluster of coordinator voters in one process, on the in-process
//! transport, with bounded waits.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use daisy_coordinator::{
    ClusterMap, Command, Coordinator, InProcessTransport, Knobs, LogStore, NodeId, NodeInfo,
    NodeKind, Outcome, ProposeError, StateMachineStore,
};

/// How long any wait in these tests may take before it fails.
pub const WAIT_MAX: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(2);

pub struct Voter {
    pub id: NodeId,
    pub index: usize,
    pub log: LogStore,
    pub state_machine: StateMachineStore,
    pub dir: Option<PathBuf>,
    pub running: Option<Coordinator>,
}

pub struct Cluster {
    pub transport: InProcessTransport,
    pub knobs: Knobs,
    pub voters: Vec<Voter>,
}

pub fn peer_addr(id: NodeId) -> String {
    format!("127.0.0.1:{}", 7100 + id)
}

pub fn node_info(id: NodeId, kind: NodeKind) -> NodeInfo {
    NodeInfo {
        id,
        name: format!("n{id}"),
        client_addr: format!("127.0.0.1:{}", 7000 + id),
        peer_addr: peer_addr(id),
        kind,
    }
}

/// A fresh, empty directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("daisy-coordinator-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

impl Cluster {
    /// `count` voters with ids 1..=count, in memory, group formed.
    pub async fn in_memory(count: usize, knobs: Knobs) -> Cluster {
        let voters = (0..count)
            .map(|index| Voter {
                id: index as NodeId + 1,
                index,
                log: LogStore::in_memory(),
                state_machine: StateMachineStore::in_memory(),
                dir: None,
                running: None,
            })
            .collect();
        Cluster::form(voters, knobs).await
    }

    /// `count` voters with their stores in `root/<id>`, group formed.
    pub async fn durable(count: usize, knobs: Knobs, root: &std::path::Path) -> Cluster {
        let voters = (0..count)
            .map(|index| {
                let id = index as NodeId + 1;
                let dir = root.join(id.to_string());
                Voter {
                    id,
                    index,
                    log: LogStore::open(&dir).expect("open log"),
                    state_machine: StateMachineStore::open(&dir).expect("open state machine"),
                    dir: Some(dir),
                    running: None,
                }
            })
            .collect();
        Cluster::form(voters, knobs).await
    }

    async fn form(voters: Vec<Voter>, knobs: Knobs) -> Cluster {
        let mut cluster = Cluster {
            transport: InProcessTransport::new(),
            knobs,
            voters,
        };
        for id in cluster.ids() {
            cluster.start(id).await;
        }
        let members: Vec<(NodeId, String)> = cluster
            .ids()
            .into_iter()
            .map(|id| (id, peer_addr(id)))
            .collect();
        cluster
            .coordinator(1)
            .bootstrap(&members)
            .await
            .expect("bootstrap");
        cluster
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.voters.iter().map(|voter| voter.id).collect()
    }

    pub fn running_ids(&self) -> Vec<NodeId> {
        self.voters
            .iter()
            .filter(|voter| voter.running.is_some())
            .map(|voter| voter.id)
            .collect()
    }

    fn voter(&mut self, id: NodeId) -> &mut Voter {
        self.voters
            .iter_mut()
            .find(|voter| voter.id == id)
            .expect("known voter")
    }

    pub fn coordinator(&self, id: NodeId) -> &Coordinator {
        let voter = self
            .voters
            .iter()
            .find(|voter| voter.id == id)
            .expect("known voter");
        voter.running.as_ref().expect("voter running")
    }

    /// Starts voter `id` on its stores (as a process restart on its disk).
    pub async fn start(&mut self, id: NodeId) {
        let knobs = self.knobs.clone();
        let transport = self.transport.clone();
        let voter = self.voter(id);
        assert!(voter.running.is_none(), "voter {id} already running");
        let coordinator = Coordinator::start(
            id,
            voter.index,
            &knobs,
            transport.clone(),
            voter.log.clone(),
            voter.state_machine.clone(),
        )
        .await
        .expect("start voter");
        transport.register(id, coordinator.raft().clone());
        voter.running = Some(coordinator);
    }

    /// Reopens voter `id`'s stores from its directory, as a new process would.
    pub fn reopen_stores(&mut self, id: NodeId) {
        let voter = self.voter(id);
        assert!(voter.running.is_none());
        let dir = voter.dir.clone().expect("durable voter");
        voter.log = LogStore::open(&dir).expect("reopen log");
        voter.state_machine = StateMachineStore::open(&dir).expect("reopen state machine");
    }

    /// Stops voter `id` as a crash would: unreachable at once, then shut down.
    pub async fn stop(&mut self, id: NodeId) {
        self.transport.unregister(id);
        let coordinator = self.voter(id).running.take().expect("voter running");
        coordinator.stop().await;
    }

    /// Waits until one of `among` leads and every running voter of `among`
    /// agrees; returns it.
    pub async fn leader_among(&self, among: &[NodeId]) -> NodeId {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            if let Some(leader) = self.agreed_leader(among) {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "no leader agreed among {among:?} within {WAIT_MAX:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn agreed_leader(&self, among: &[NodeId]) -> Option<NodeId> {
        let running: Vec<&Coordinator> = among
            .iter()
            .filter_map(|id| {
                self.voters
                    .iter()
                    .find(|voter| voter.id == *id)?
                    .running
                    .as_ref()
            })
            .collect();
        let leader = running
            .iter()
            .find(|coordinator| coordinator.is_leader())?
            .id();
        running
            .iter()
            .all(|coordinator| coordinator.leader() == Some(leader))
            .then_some(leader)
    }

    pub async fn leader(&self) -> NodeId {
        self.leader_among(&self.running_ids()).await
    }

    /// Proposes through whoever leads, following redirections, within `WAIT_MAX`.
    pub async fn propose(&self, command: Command) -> Outcome {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let leader = self.leader().await;
            match self.coordinator(leader).propose(command.clone()).await {
                Ok(outcome) => return outcome,
                Err(ProposeError::NotLeader { .. }) => {}
                Err(error) => panic!("proposal on {leader} failed: {error}"),
            }
            assert!(Instant::now() < deadline, "no commit within {WAIT_MAX:?}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until every running voter has applied the same map as the leader.
    pub async fn converged(&self) -> ClusterMap {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let leader = self.leader().await;
            let expected = self.coordinator(leader).map();
            let applied = self
                .voters
                .iter()
                .filter_map(|voter| voter.running.as_ref())
                .map(|c| c.map());
            let maps: Vec<ClusterMap> = applied.collect();
            if maps.iter().all(|map| *map == expected) {
                return expected;
            }
            assert!(
                Instant::now() < deadline,
                "maps did not converge within {WAIT_MAX:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn stop_all(&mut self) {
        for id in self.running_ids() {
            self.stop(id).await;
        }
    }
}

/// Two data nodes (1, 2) and an arbiter (3) in the map; 1 primary, 2 in sync.
pub fn pair_commands() -> Vec<Command> {
    use daisy_coordinator::{PromotionCause, Role};
    vec![
        Command::AddNode(node_info(1, NodeKind::Data)),
        Command::AddNode(node_info(2, NodeKind::Data)),
        Command::AddNode(node_info(3, NodeKind::Arbiter)),
        Command::Promote {
            node: 1,
            expected_epoch: 0,
            cause: PromotionCause::Bootstrap,
            lost: None,
        },
        Command::SetRole {
            node: 2,
            role: Role::InSync,
            expected_epoch: 1,
        },
    ]
}
