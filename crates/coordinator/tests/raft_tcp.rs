//! The coordinator group over real TCP on loopback: each voter has its own
//! `TcpTransport` and its own listener, as voters in separate processes do.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{node_info, pair_commands};
use daisy_coordinator::network::Transport;
use daisy_coordinator::{
    serve_raft, Command, Coordinator, Knobs, LogStore, NodeId, NodeKind, ProposeError, RaftRequest,
    StateMachineStore, TcpTransport, TransportError,
};
use openraft::raft::VoteRequest;
use openraft::Vote;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const CLUSTER: u64 = 0xDA15_7001;
/// How long any wait in these tests may take before it fails.
const WAIT_MAX: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);

struct TcpVoter {
    id: NodeId,
    addr: SocketAddr,
    coordinator: Option<Coordinator>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

struct TcpCluster {
    voters: Vec<TcpVoter>,
}

impl TcpCluster {
    /// Three voters (ids 1..=3) on free loopback ports, group formed.
    async fn start() -> TcpCluster {
        let mut listeners = Vec::new();
        let mut addrs = HashMap::new();
        for id in 1..=3 {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addrs.insert(id, listener.local_addr().expect("local addr"));
            listeners.push((id, listener));
        }
        let mut voters = Vec::new();
        for (index, (id, listener)) in listeners.into_iter().enumerate() {
            let transport = TcpTransport::new(CLUSTER, addrs.clone());
            let coordinator = Coordinator::start(
                id,
                index,
                &Knobs::for_tests(),
                transport,
                LogStore::in_memory(),
                StateMachineStore::in_memory(),
            )
            .await
            .expect("start voter");
            let server = tokio::spawn(serve_raft(listener, coordinator.raft().clone(), CLUSTER));
            voters.push(TcpVoter {
                id,
                addr: addrs[&id],
                coordinator: Some(coordinator),
                server: Some(server),
            });
        }
        let members: Vec<(NodeId, String)> = voters
            .iter()
            .map(|voter| (voter.id, voter.addr.to_string()))
            .collect();
        let cluster = TcpCluster { voters };
        cluster
            .coordinator(1)
            .bootstrap(&members)
            .await
            .expect("bootstrap");
        cluster
    }

    fn coordinator(&self, id: NodeId) -> &Coordinator {
        self.voter(id).coordinator.as_ref().expect("voter running")
    }

    fn voter(&self, id: NodeId) -> &TcpVoter {
        self.voters
            .iter()
            .find(|voter| voter.id == id)
            .expect("known voter")
    }

    fn running(&self) -> impl Iterator<Item = &Coordinator> {
        self.voters
            .iter()
            .filter_map(|voter| voter.coordinator.as_ref())
    }

    /// Waits until a running voter leads and every running voter agrees.
    async fn leader(&self) -> NodeId {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let leader = self.running().find(|c| c.is_leader()).map(|c| c.id());
            if let Some(leader) = leader {
                if self.running().all(|c| c.leader() == Some(leader)) {
                    return leader;
                }
            }
            assert!(Instant::now() < deadline, "no leader within {WAIT_MAX:?}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Proposes through whoever leads until it commits, within `WAIT_MAX`.
    async fn commit(&self, command: Command) {
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            let leader = self.leader().await;
            match self.coordinator(leader).propose(command.clone()).await {
                Ok(outcome) => {
                    assert!(outcome.is_ok(), "{command:?} rejected: {outcome:?}");
                    return;
                }
                Err(ProposeError::NotLeader { .. }) => {}
                Err(error) => panic!("proposal on {leader} failed: {error}"),
            }
            assert!(Instant::now() < deadline, "no commit within {WAIT_MAX:?}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until every running voter has applied `node`.
    async fn everyone_knows(&self, node: NodeId) {
        let deadline = Instant::now() + WAIT_MAX;
        while !self.running().all(|c| c.map().nodes.contains_key(&node)) {
            assert!(Instant::now() < deadline, "{node} not applied everywhere");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops voter `id` as a process exit would: its listener and every
    /// connection it accepted close, then its Raft stops.
    async fn stop(&mut self, id: NodeId) {
        let voter = self
            .voters
            .iter_mut()
            .find(|voter| voter.id == id)
            .expect("known voter");
        let server = voter.server.take().expect("server running");
        server.abort();
        let _ = server.await;
        let coordinator = voter.coordinator.take().expect("voter running");
        coordinator.stop().await;
    }

    async fn stop_all(&mut self) {
        let ids: Vec<NodeId> = self.running().map(|c| c.id()).collect();
        for id in ids {
            self.stop(id).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_over_tcp_elect_commit_and_survive_the_leader() {
    let mut cluster = TcpCluster::start().await;

    // Phase 1: over real sockets, a leader is elected and commands commit
    // on every voter.
    for command in pair_commands() {
        cluster.commit(command).await;
    }
    cluster.everyone_knows(3).await;

    // Phase 2: the leader's process dies (listener, connections, Raft);
    // the two survivors elect another and it commits.
    let old_leader = cluster.leader().await;
    cluster.stop(old_leader).await;
    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, old_leader);
    cluster
        .commit(Command::AddNode(node_info(40, NodeKind::Data)))
        .await;
    cluster.everyone_knows(40).await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_cluster_is_refused() {
    let mut cluster = TcpCluster::start().await;
    cluster
        .commit(Command::AddNode(node_info(1, NodeKind::Data)))
        .await;
    let leader = cluster.leader().await;
    let term = cluster.coordinator(leader).term();

    // A voter configured for another cluster asks for votes at a far higher
    // term. Were it heard, the leader would step down to that term.
    let stranger = TcpTransport::new(CLUSTER + 1, [(leader, cluster.voter(leader).addr)].into());
    let vote = RaftRequest::Vote(VoteRequest::new(Vote::new(term + 100, 9), None));
    let answer = stranger.call(9, leader, vote, Duration::from_secs(2)).await;
    match answer {
        Err(TransportError::Unreachable(why)) => assert!(why.contains("refused"), "{why}"),
        other => panic!("a foreign cluster's vote was not refused: {other:?}"),
    }
    assert!(cluster.coordinator(leader).term() < term + 100);

    // The group itself is undisturbed.
    cluster
        .commit(Command::AddNode(node_info(2, NodeKind::Data)))
        .await;
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_its_own_connection() {
    let mut cluster = TcpCluster::start().await;
    cluster
        .commit(Command::AddNode(node_info(1, NodeKind::Data)))
        .await;
    let leader = cluster.leader().await;
    let addr = cluster.voter(leader).addr;

    // Three kinds of garbage, each on its own connection: a body without
    // the Raft tag, a tagged body that is no envelope, an absurd length.
    let garbage: [&[u8]; 3] = [
        b"\x00\x00\x00\x05hello",
        b"\x00\x00\x00\x07DRFT\xff\xff\xff",
        b"\xff\xff\xff\xffDRFT",
    ];
    for bytes in garbage {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(bytes).await.expect("write garbage");
        let mut rest = Vec::new();
        let read = tokio::time::timeout(WAIT_MAX, stream.read_to_end(&mut rest)).await;
        match read {
            Ok(Ok(_)) | Ok(Err(_)) => assert!(rest.is_empty(), "garbage got an answer"),
            Err(_) => panic!("connection not closed after garbage {bytes:?}"),
        }
    }

    // The pooled connections between voters were untouched: the same
    // leader keeps committing.
    cluster
        .commit(Command::AddNode(node_info(2, NodeKind::Data)))
        .await;
    assert_eq!(cluster.leader().await, leader);
    cluster.stop_all().await;
}
