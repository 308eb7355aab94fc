//! The agent: a node's part in the coordinator, on a thread of its own.
//!
//! Every voter (data node or arbiter) runs one. It holds the node's Raft
//! voter and, on the node's peer port, answers both Raft and the agents'
//! own requests (`message`). It does four jobs:
//!
//! - **Map.** It publishes the newest map it knows (applied by its Raft,
//!   pushed by the leader after a commit, or answered by any voter to a
//!   heartbeat), so the node follows it within a heartbeat.
//! - **Heartbeats and the lease** (data nodes). Every `heartbeat_ms` it
//!   sends the node's report to every voter; while the node is the
//!   primary, the heartbeat also asks for a lease grant (`lease`), and
//!   the node serves only while `LeaseView::holds` says so.
//! - **Voting on leases.** It grants, revokes and settles leases for the
//!   primary (`Grants`), and observes every heartbeat (`Detector`).
//! - **Leading.** While its Raft is the leader: it forms the map on a
//!   first start, and carries out the detector's decisions: failover
//!   (revoke the old primary's lease at a majority, wait out the longest
//!   remaining grant, propose the promotion, push the map), replacing a
//!   lost secondary with a spare, and switching back to the preferred
//!   primary (by asking the primary for a planned switchover).
//!
//! The node talks to its agent through `AgentHandle` only: channels and a
//! lock-free read of the lease, so neither ever waits for the other.
//!
//! It must never: hold `Inner`'s lock across an `.await`; promote before a
//! majority of voters has revoked the old primary's lease and the longest
//! remaining grant has run out; answer a request from another cluster (the
//! frames carry the cluster fingerprint).

pub mod message;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::command::{Command, Outcome};
use crate::detector::{Decision, Detector, DetectorConfig, Report};
use crate::event::{LsnRange, PromotionCause};
use crate::fragment::Role;
use crate::knobs::Knobs;
use crate::lease::{Denial, Grants, LeaseHolder, DRIFT_PERCENT};
use crate::log_store::LogStore;
use crate::map::ClusterMap;
use crate::network::{handle, RaftRequest, RaftResponse, Transport};
use crate::node::{Coordinator, ProposeError, StartError};
use crate::state_machine::StateMachineStore;
use crate::tcp::server::{serve_raft_connection, Handler};
use crate::tcp::transport::TcpTransport;
use crate::NodeId;
use message::{AgentRequest, AgentResponse};

/// How long a revocation round may wait for a majority of answers.
const REVOKE_TIMEOUT: Duration = Duration::from_millis(200);
/// Added to the longest remaining grant before a promotion is proposed.
const PROMOTE_MARGIN_MS: u64 = 2;
/// How long a forwarded proposal may take.
const PROPOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long pushing a map to one member may take.
const PUSH_TIMEOUT: Duration = Duration::from_millis(500);
/// The most peer connections an agent serves at once.
const CONNECTIONS_MAX: usize = 64;

/// The agent's timings.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How often a data node heartbeats (and a primary renews its lease).
    pub heartbeat_ms: u64,
    /// How long a lease round stays in force once a majority granted it.
    pub lease_ms: u64,
    pub detector: DetectorConfig,
}

pub struct AgentConfig {
    pub me: NodeId,
    /// Every voter and its peer address, in the order that gives each its
    /// election window (`Knobs`).
    pub voters: Vec<(NodeId, SocketAddr)>,
    /// The cluster's fingerprint, carried by every frame.
    pub cluster: u64,
    /// Where the Raft log and the map snapshot live.
    pub dir: PathBuf,
    pub knobs: Knobs,
    pub timing: Timing,
    /// The map to form on the cluster's first start (a `Command::Form`),
    /// computed alike on every voter from the shared configuration.
    pub form: Command,
    /// False on an arbiter: no data, no heartbeats of its own.
    pub data_node: bool,
    /// An arbiter's peer port, which the agent serves itself; a data
    /// node's peer port is the node's, which hands Raft connections over.
    pub listener: Option<std::net::TcpListener>,
}

/// What a data node tells its agent about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalState {
    pub epoch: u64,
    pub is_primary: bool,
    pub last_lsn: u64,
    pub applied_lsn: u64,
    /// The node's log cannot be written.
    pub log_failing: bool,
}

/// What the coordinator asks of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// Hand over to `to` by a planned switchover.
    Switchover { to: NodeId },
}

/// The lease as the node reads it on every command.
pub struct LeaseView {
    base: Instant,
    /// (epoch, valid until in ms since `base`).
    lease: Mutex<(u64, u64)>,
}

impl LeaseView {
    /// Whether the node, primary at `epoch`, holds its lease now.
    pub fn holds(&self, epoch: u64) -> bool {
        let now = elapsed_ms(self.base);
        let (lease_epoch, until) = *self.lease.lock().unwrap_or_else(|e| e.into_inner());
        lease_epoch == epoch && now < until
    }

    /// Milliseconds the lease at `epoch` is still in force (0: none).
    pub fn remaining_ms(&self, epoch: u64) -> u64 {
        let now = elapsed_ms(self.base);
        let (lease_epoch, until) = *self.lease.lock().unwrap_or_else(|e| e.into_inner());
        if lease_epoch == epoch {
            until.saturating_sub(now)
        } else {
            0
        }
    }

    fn set(&self, epoch: u64, until: u64) {
        *self.lease.lock().unwrap_or_else(|e| e.into_inner()) = (epoch, until);
    }
}

type Proposal = (Command, oneshot::Sender<Result<Outcome, String>>);

/// The node's side of its agent.
pub struct AgentHandle {
    pub me: NodeId,
    map: watch::Receiver<ClusterMap>,
    lease: Arc<LeaseView>,
    local: watch::Sender<LocalState>,
    proposals: mpsc::UnboundedSender<Proposal>,
    connections: mpsc::UnboundedSender<std::net::TcpStream>,
    orders: Mutex<Option<mpsc::UnboundedReceiver<Order>>>,
    leader: watch::Receiver<Option<NodeId>>,
}

impl AgentHandle {
    /// The newest map the agent knows.
    pub fn map(&self) -> watch::Receiver<ClusterMap> {
        self.map.clone()
    }

    pub fn lease(&self) -> &LeaseView {
        &self.lease
    }

    /// The coordinator's leader as this voter knows it.
    pub fn leader(&self) -> Option<NodeId> {
        *self.leader.borrow()
    }

    /// Tells the agent the node's state; a change of role or epoch is
    /// heartbeated at once.
    pub fn report(&self, state: LocalState) {
        self.local.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }

    /// Proposes `command` through the leader.
    pub async fn propose(&self, command: Command) -> Result<Outcome, String> {
        let (reply, answer) = oneshot::channel();
        self.proposals
            .send((command, reply))
            .map_err(|_| "the coordinator agent has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the coordinator agent has stopped".to_string())?
    }

    /// Hands a peer connection that starts with a Raft frame to the agent.
    pub fn take_connection(&self, stream: std::net::TcpStream) {
        let _ = self.connections.send(stream);
    }

    /// The coordinator's orders; taken once, by the node.
    pub fn orders(&self) -> Option<mpsc::UnboundedReceiver<Order>> {
        self.orders.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Starts the agent on a thread of its own; returns once its Raft runs.
pub fn spawn(config: AgentConfig) -> io::Result<AgentHandle> {
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("coordinator".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready.send(Err(error.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                match Agent::start(config).await {
                    Ok((agent, handle, inputs)) => {
                        let _ = ready.send(Ok(handle));
                        agent.run(inputs).await;
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error.to_string()));
                    }
                }
            });
        })?;
    match started.recv() {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(error)) => Err(io::Error::other(error)),
        Err(_) => Err(io::Error::other(
            "the coordinator thread died while starting",
        )),
    }
}

/// The channels the agent reads, handed to `run`.
struct Inputs {
    proposals: mpsc::UnboundedReceiver<Proposal>,
    connections: mpsc::UnboundedReceiver<std::net::TcpStream>,
    local: watch::Receiver<LocalState>,
    listener: Option<std::net::TcpListener>,
}

struct Inner {
    grants: Grants,
    detector: Detector,
    holder: LeaseHolder,
    /// The epoch for which "no candidate" was last logged.
    no_candidate_logged: Option<u64>,
}

struct Agent {
    me: NodeId,
    data_node: bool,
    voters: Vec<NodeId>,
    coordinator: Coordinator,
    /// The agents' own connections, apart from Raft's.
    peers: TcpTransport,
    cluster: u64,
    base: Instant,
    timing: Timing,
    form: Command,
    inner: Mutex<Inner>,
    map: watch::Sender<ClusterMap>,
    lease: Arc<LeaseView>,
    orders: mpsc::UnboundedSender<Order>,
    leader: watch::Sender<Option<NodeId>>,
    /// Where the revocation this voter holds is saved.
    revocation_file: PathBuf,
    /// A failover, spare replacement or switch back is under way.
    busy: AtomicBool,
}

impl Agent {
    async fn start(config: AgentConfig) -> Result<(Arc<Agent>, AgentHandle, Inputs), StartError> {
        let AgentConfig {
            me,
            voters,
            cluster,
            dir,
            knobs,
            timing,
            form,
            data_node,
            listener,
        } = config;
        let voter_index = voters.iter().position(|(id, _)| *id == me).unwrap_or(0);
        let addrs: HashMap<NodeId, SocketAddr> = voters.iter().cloned().collect();
        std::fs::create_dir_all(&dir).map_err(|e| StartError::Raft(e.to_string()))?;
        let log = LogStore::open(&dir).map_err(|e| StartError::Raft(e.to_string()))?;
        let state_machine =
            StateMachineStore::open(&dir).map_err(|e| StartError::Raft(e.to_string()))?;
        let raft_transport = TcpTransport::new(cluster, addrs.clone());
        let coordinator =
            Coordinator::start(me, voter_index, &knobs, raft_transport, log, state_machine).await?;
        let members: Vec<(NodeId, String)> = voters
            .iter()
            .map(|(id, addr)| (*id, addr.to_string()))
            .collect();
        match coordinator.bootstrap(&members).await {
            Ok(()) | Err(StartError::AlreadyInitialized) => {}
            Err(error) => return Err(error),
        }
        let base = Instant::now();
        let voter_ids: Vec<NodeId> = voters.iter().map(|(id, _)| *id).collect();
        let (map, map_receiver) = watch::channel(coordinator.map());
        let lease = Arc::new(LeaseView {
            base,
            lease: Mutex::new((0, 0)),
        });
        let (local_sender, local) = watch::channel(LocalState::default());
        let (proposal_sender, proposals) = mpsc::unbounded_channel();
        let (connection_sender, connections) = mpsc::unbounded_channel();
        let (order_sender, order_receiver) = mpsc::unbounded_channel();
        let (leader, leader_receiver) = watch::channel(None);
        let mut grants = Grants::new(timing.lease_ms, 0);
        if let Some((primary, epoch, term)) = load_revocation(&dir.join(REVOCATION_FILE)) {
            grants.revoke(primary, epoch, term, 0);
        }
        let inner = Inner {
            grants,
            detector: Detector::new(timing.detector.clone(), 0),
            holder: LeaseHolder::new(voter_ids.clone(), timing.lease_ms),
            no_candidate_logged: None,
        };
        let agent = Arc::new(Agent {
            me,
            data_node,
            voters: voter_ids,
            coordinator,
            peers: TcpTransport::new(cluster, addrs),
            cluster,
            base,
            timing,
            form,
            inner: Mutex::new(inner),
            map,
            lease: lease.clone(),
            orders: order_sender,
            leader,
            revocation_file: dir.join(REVOCATION_FILE),
            busy: AtomicBool::new(false),
        });
        let handle = AgentHandle {
            me,
            map: map_receiver,
            lease,
            local: local_sender,
            proposals: proposal_sender,
            connections: connection_sender,
            orders: Mutex::new(Some(order_receiver)),
            leader: leader_receiver,
        };
        let inputs = Inputs {
            proposals,
            connections,
            local,
            listener,
        };
        Ok((agent, handle, inputs))
    }

    async fn run(self: Arc<Self>, inputs: Inputs) {
        let Inputs {
            proposals,
            connections,
            local,
            listener,
        } = inputs;
        let mut tasks = JoinSet::new();
        tasks.spawn(self.clone().follow_applied_map());
        tasks.spawn(self.clone().serve_connections(connections));
        tasks.spawn(self.clone().serve_proposals(proposals));
        tasks.spawn(self.clone().lead());
        if self.data_node {
            tasks.spawn(self.clone().heartbeats(local));
        }
        if let Some(listener) = listener {
            tasks.spawn(self.clone().accept(listener));
        }
        while let Some(result) = tasks.join_next().await {
            if let Err(error) = result {
                tracing::error!(%error, "a coordinator task failed");
            }
        }
    }

    fn now_ms(&self) -> u64 {
        elapsed_ms(self.base)
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current_map(&self) -> ClusterMap {
        self.map.borrow().clone()
    }

    fn majority(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    /// Keeps the newest map by version.
    fn publish_map(&self, map: ClusterMap) {
        self.map.send_if_modified(|current| {
            let newer = map.version > current.version;
            if newer {
                *current = map;
            }
            newer
        });
    }

    fn publish_lease(&self, inner: &Inner) {
        self.lease
            .set(inner.holder.epoch(), inner.holder.valid_until_ms());
    }

    async fn follow_applied_map(self: Arc<Self>) {
        let mut applied = self.coordinator.subscribe();
        let mut metrics = self.coordinator.raft().metrics();
        loop {
            let map = applied.borrow_and_update().clone();
            self.publish_map(map);
            let (leader, running) = {
                let metrics = metrics.borrow_and_update();
                (metrics.current_leader, metrics.running_state.clone())
            };
            if let Err(fatal) = running {
                tracing::error!(%fatal, "the coordinator's Raft stopped; this node no longer votes");
                return;
            }
            self.leader.send_if_modified(|current| {
                let changed = *current != leader;
                *current = leader;
                changed
            });
            tokio::select! {
                changed = applied.changed() => if changed.is_err() { return },
                changed = metrics.changed() => if changed.is_err() { return },
            }
        }
    }

    async fn accept(self: Arc<Self>, listener: std::net::TcpListener) {
        let listener = match listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener))
        {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%error, "cannot serve the peer port");
                return;
            }
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(self.clone().serve_connections(receiver));
        loop {
            match listener.accept().await {
                Ok((stream, _)) => match stream.into_std() {
                    Ok(stream) => {
                        let _ = sender.send(stream);
                    }
                    Err(error) => tracing::warn!(%error, "peer connection lost"),
                },
                Err(error) => {
                    tracing::warn!(%error, "peer accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn serve_connections(
        self: Arc<Self>,
        mut connections: mpsc::UnboundedReceiver<std::net::TcpStream>,
    ) {
        let mut open = JoinSet::new();
        while let Some(stream) = connections.recv().await {
            while open.try_join_next().is_some() {}
            if open.len() >= CONNECTIONS_MAX {
                tracing::warn!("too many coordinator connections; closing the new one");
                continue;
            }
            let stream = match stream
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpStream::from_std(stream))
            {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!(%error, "cannot take a coordinator connection");
                    continue;
                }
            };
            let server = AgentServer(self.clone());
            let cluster = self.cluster;
            open.spawn(serve_raft_connection(stream, server, cluster));
        }
    }

    async fn serve_proposals(self: Arc<Self>, mut proposals: mpsc::UnboundedReceiver<Proposal>) {
        while let Some((command, reply)) = proposals.recv().await {
            let agent = self.clone();
            tokio::spawn(async move {
                let _ = reply.send(agent.propose(command).await);
            });
        }
    }

    /// Proposes `command` here if this voter leads, else at the leader.
    async fn propose(self: &Arc<Self>, command: Command) -> Result<Outcome, String> {
        if self.coordinator.is_leader() {
            return self.propose_here(command).await;
        }
        let Some(leader) = self.coordinator.leader() else {
            return Err("the coordinator has no leader".into());
        };
        match self
            .call(leader, AgentRequest::Propose(command), PROPOSE_TIMEOUT)
            .await
        {
            Some(AgentResponse::Proposed(result)) => result,
            Some(other) => Err(format!("the leader answered {other:?}")),
            None => Err(format!("the leader {leader} did not answer")),
        }
    }

    async fn propose_here(self: &Arc<Self>, command: Command) -> Result<Outcome, String> {
        match self.coordinator.propose(command).await {
            Ok(outcome) => {
                self.publish_map(self.coordinator.map());
                if outcome.is_ok() {
                    tokio::spawn(self.clone().push_map());
                }
                Ok(outcome)
            }
            Err(error) => Err(error.to_string()),
        }
    }

    /// Sends the leader's map to every other voter.
    async fn push_map(self: Arc<Self>) {
        let map = Box::new(self.coordinator.map());
        self.publish_map((*map).clone());
        let mut calls = JoinSet::new();
        for &voter in self.voters.iter().filter(|&&v| v != self.me) {
            let agent = self.clone();
            let request = AgentRequest::Map(map.clone());
            calls.spawn(async move { agent.call(voter, request, PUSH_TIMEOUT).await });
        }
        while calls.join_next().await.is_some() {}
    }

    /// Sends `request` to the agent of `to` (answered here when `to` is
    /// this node); `None` if no answer came in time.
    async fn call(
        self: &Arc<Self>,
        to: NodeId,
        request: AgentRequest,
        timeout: Duration,
    ) -> Option<AgentResponse> {
        if to == self.me {
            return Some(self.answer(self.me, request).await);
        }
        match self
            .peers
            .call(self.me, to, RaftRequest::Agent(request), timeout)
            .await
        {
            Ok(RaftResponse::Agent(response)) => Some(response),
            Ok(_) => None,
            Err(error) => {
                tracing::trace!(to, %error, "agent call failed");
                None
            }
        }
    }

    /// Answers one request from the agent of `from`. Boxed: answering may
    /// call other agents in turn, and a call may be answered here.
    fn answer(
        self: &Arc<Self>,
        from: NodeId,
        request: AgentRequest,
    ) -> Pin<Box<dyn Future<Output = AgentResponse> + Send + '_>> {
        Box::pin(self.answer_now(from, request))
    }

    async fn answer_now(self: &Arc<Self>, from: NodeId, request: AgentRequest) -> AgentResponse {
        match request {
            AgentRequest::Heartbeat {
                report,
                lease,
                map_version,
            } => {
                let map = self.current_map();
                let now = self.now_ms();
                let mut inner = self.inner();
                // A node reports only for itself, and only a voter's report
                // is kept (the detector's table stays bounded). Not "a
                // member of the map": before the map is formed that would
                // drop the primary's heartbeats, and the first leader would
                // find it silent.
                if report.node == from && self.voters.contains(&from) {
                    inner.detector.observe(report, now);
                }
                let grant = lease.map(|(_, epoch)| inner.grants.request(&map, from, epoch, now));
                drop(inner);
                let map = (map.version > map_version).then(|| Box::new(map));
                AgentResponse::Heartbeat { grant, map }
            }
            AgentRequest::Revoke {
                primary,
                epoch,
                term,
            } => {
                let now = self.now_ms();
                let (remaining_ms, held) = {
                    let mut inner = self.inner();
                    let remaining = inner.grants.revoke(primary, epoch, term, now);
                    (remaining, inner.grants.revoked_with_term())
                };
                // Saved before the answer: a voter that restarts must not
                // grant the old primary again.
                if let Some(held) = held {
                    if let Err(error) = save_revocation(&self.revocation_file, held) {
                        tracing::error!(%error, "cannot save the revocation; not answering");
                        return AgentResponse::Done;
                    }
                }
                tracing::info!(
                    primary,
                    epoch,
                    term,
                    remaining_ms,
                    "revoked the primary's lease"
                );
                AgentResponse::Revoked { remaining_ms }
            }
            AgentRequest::Unrevoke { epoch, term } => {
                self.inner().grants.unrevoke(epoch, term);
                AgentResponse::Done
            }
            AgentRequest::Propose(command) => {
                if self.coordinator.is_leader() {
                    AgentResponse::Proposed(self.propose_here(command).await)
                } else {
                    AgentResponse::Proposed(Err(ProposeError::NotLeader {
                        leader: self.coordinator.leader(),
                    }
                    .to_string()))
                }
            }
            AgentRequest::Map(map) => {
                self.publish_map(*map);
                AgentResponse::Done
            }
            AgentRequest::Switchover { to } => {
                if self.data_node {
                    let _ = self.orders.send(Order::Switchover { to });
                }
                AgentResponse::Done
            }
        }
    }

    /// Heartbeats every voter; renews the lease while primary.
    async fn heartbeats(self: Arc<Self>, mut local: watch::Receiver<LocalState>) {
        let period = Duration::from_millis(self.timing.heartbeat_ms.max(1));
        loop {
            let state = local.borrow_and_update().clone();
            self.heartbeat(&state);
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                changed = local.changed() => if changed.is_err() { return },
            }
        }
    }

    fn heartbeat(self: &Arc<Self>, state: &LocalState) {
        let map = self.current_map();
        let now = self.now_ms();
        let lease = {
            let mut inner = self.inner();
            let primary_here = state.is_primary
                && map.fragment.primary == Some(self.me)
                && map.fragment.epoch == state.epoch;
            if primary_here {
                Some((inner.holder.start_round(state.epoch, now), state.epoch))
            } else {
                inner.holder.relinquish();
                self.publish_lease(&inner);
                None
            }
        };
        let report = Report {
            node: self.me,
            epoch: state.epoch,
            is_primary: state.is_primary,
            last_lsn: state.last_lsn,
            applied_lsn: state.applied_lsn,
            log_failing: state.log_failing,
        };
        let timeout = Duration::from_millis(self.timing.lease_ms.max(10));
        for &voter in &self.voters {
            let agent = self.clone();
            let request = AgentRequest::Heartbeat {
                report: report.clone(),
                lease,
                map_version: map.version,
            };
            tokio::spawn(async move {
                let answer = agent.call(voter, request, timeout).await;
                agent.heard(voter, lease, answer);
            });
        }
    }

    fn heard(&self, voter: NodeId, lease: Option<(u64, u64)>, answer: Option<AgentResponse>) {
        let Some(AgentResponse::Heartbeat { grant, map }) = answer else {
            return;
        };
        if let Some(map) = map {
            self.publish_map(*map);
        }
        let mut inner = self.inner();
        match (lease, grant) {
            (Some((round, _)), Some(Ok(()))) => inner.holder.granted(round, voter),
            (Some(_), Some(Err(Denial::Revoked { epoch }))) => {
                tracing::warn!(
                    voter,
                    epoch,
                    "the coordinator is replacing this primary; giving up the lease"
                );
                inner.holder.relinquish();
            }
            _ => {}
        }
        self.publish_lease(&inner);
    }

    /// The leader's loop: forms the map, then acts on the detector.
    async fn lead(self: Arc<Self>) {
        let period = Duration::from_millis((self.timing.heartbeat_ms / 2).max(2));
        let mut forming = false;
        loop {
            tokio::time::sleep(period).await;
            let map = self.current_map();
            let applied_term = self
                .coordinator
                .raft()
                .metrics()
                .borrow()
                .last_applied
                .map_or(0, |log_id| log_id.leader_id.term);
            self.inner().grants.settle(map.fragment.epoch, applied_term);
            if !self.coordinator.is_leader() {
                continue;
            }
            if map.nodes.is_empty() {
                if !forming {
                    forming = true;
                    let agent = self.clone();
                    let form = self.form.clone();
                    tokio::spawn(async move {
                        match agent.propose_here(form).await {
                            Ok(Ok(_)) => tracing::info!("formed the cluster map"),
                            Ok(Err(rejection)) => tracing::info!(%rejection, "map not formed"),
                            Err(error) => tracing::warn!(%error, "forming the map failed"),
                        }
                    });
                }
                continue;
            }
            forming = false;
            if self.busy.load(Ordering::Acquire) {
                continue;
            }
            let decision = self.inner().detector.decide(&map, self.now_ms());
            self.act(decision, &map);
        }
    }

    fn act(self: &Arc<Self>, decision: Decision, map: &ClusterMap) {
        match decision {
            Decision::Nothing => {}
            Decision::Failover {
                dead,
                candidate,
                expected_epoch,
                lost,
            } => {
                self.busy.store(true, Ordering::Release);
                let agent = self.clone();
                tokio::spawn(async move {
                    agent.fail_over(dead, candidate, expected_epoch, lost).await;
                    agent.busy.store(false, Ordering::Release);
                });
            }
            Decision::NoCandidate { dead, why } => {
                let mut inner = self.inner();
                if inner.no_candidate_logged != Some(map.fragment.epoch) {
                    inner.no_candidate_logged = Some(map.fragment.epoch);
                    tracing::error!(
                        primary = map.name_of(dead).unwrap_or("?"),
                        %why,
                        "the primary is unreachable and no member can replace it without losing acknowledged writes"
                    );
                }
            }
            Decision::ReplaceWithSpare {
                dead,
                spare,
                expected_epoch,
            } => {
                self.busy.store(true, Ordering::Release);
                let agent = self.clone();
                let (dead_name, spare_name) = (name(map, dead), name(map, spare));
                tokio::spawn(async move {
                    let command = Command::ReplaceWithSpare {
                        dead,
                        spare,
                        expected_epoch,
                    };
                    match agent.propose_here(command).await {
                        Ok(Ok(_)) => tracing::warn!(
                            "{dead_name} has been unreachable too long: spare {spare_name} replaces it"
                        ),
                        Ok(Err(rejection)) => tracing::info!(%rejection, "spare not taken"),
                        Err(error) => tracing::warn!(%error, "replacing with a spare failed"),
                    }
                    agent.busy.store(false, Ordering::Release);
                });
            }
            Decision::SwitchBack { from, to } => {
                tracing::info!(
                    "the preferred primary {} has caught up: asking {} to switch back",
                    name(map, to),
                    name(map, from)
                );
                let agent = self.clone();
                tokio::spawn(async move {
                    agent
                        .call(from, AgentRequest::Switchover { to }, PUSH_TIMEOUT)
                        .await;
                });
            }
        }
    }

    /// Replaces the dead primary: revoke its lease at a majority, wait
    /// until no grant can still be in force, then propose the promotion.
    async fn fail_over(
        self: &Arc<Self>,
        dead: NodeId,
        candidate: NodeId,
        expected_epoch: u64,
        lost: Option<LsnRange>,
    ) {
        let started = Instant::now();
        let term = self.coordinator.term();
        let revoke = AgentRequest::Revoke {
            primary: dead,
            epoch: expected_epoch,
            term,
        };
        let Some(remaining_ms) = self.revoke_at_majority(revoke).await else {
            tracing::warn!("failover abandoned: a majority of voters did not revoke the lease");
            self.unrevoke(expected_epoch, term).await;
            return;
        };
        let wait = remaining_ms + self.timing.lease_ms * DRIFT_PERCENT / 100 + PROMOTE_MARGIN_MS;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if !self.coordinator.is_leader() || self.current_map().fragment.epoch != expected_epoch {
            self.unrevoke(expected_epoch, term).await;
            return;
        }
        let map = self.current_map();
        // The test-only break: record the candidate as in sync, which it
        // is not, so that the map accepts its promotion.
        if self.timing.detector.break_promote_outside_in_sync
            && map.fragment.role_of(candidate) != Role::InSync
        {
            let lie = Command::SetRole {
                node: candidate,
                role: Role::InSync,
                expected_epoch,
            };
            if !matches!(self.coordinator.propose(lie).await, Ok(Ok(_))) {
                self.unrevoke(expected_epoch, term).await;
                return;
            }
        }
        let command = Command::Promote {
            node: candidate,
            expected_epoch,
            cause: PromotionCause::Failover,
            lost,
        };
        match self.coordinator.propose(command).await {
            Ok(Ok(epoch)) => {
                tracing::warn!(
                    "failover: {} replaced {} as primary at epoch {epoch} ({} ms after the decision, lease wait {wait} ms){}",
                    name(&map, candidate),
                    name(&map, dead),
                    started.elapsed().as_millis(),
                    lost.map_or(String::new(), |l| format!(
                        "; records {}..={} of the old primary are lost (1-safe)",
                        l.first_lsn, l.last_lsn
                    ))
                );
                self.clone().push_map().await;
            }
            Ok(Err(rejection)) => {
                tracing::warn!(%rejection, "failover rejected");
                self.unrevoke(expected_epoch, term).await;
            }
            Err(ProposeError::NotLeader { .. }) => self.unrevoke(expected_epoch, term).await,
            Err(ProposeError::OutcomeUnknown(why)) => {
                tracing::warn!(%why, "failover outcome unknown; the next leader settles it");
            }
        }
    }

    /// Revokes at every voter; the longest remaining grant among the first
    /// majority to answer, or `None` if no majority answered.
    async fn revoke_at_majority(self: &Arc<Self>, revoke: AgentRequest) -> Option<u64> {
        let mut calls = JoinSet::new();
        for &voter in &self.voters {
            let agent = self.clone();
            let request = revoke.clone();
            calls.spawn(async move { agent.call(voter, request, REVOKE_TIMEOUT).await });
        }
        let mut answered = 0;
        let mut longest = 0;
        while let Some(result) = calls.join_next().await {
            if let Ok(Some(AgentResponse::Revoked { remaining_ms })) = result {
                answered += 1;
                longest = longest.max(remaining_ms);
                if answered >= self.majority() {
                    return Some(longest);
                }
            }
        }
        None
    }

    async fn unrevoke(self: &Arc<Self>, epoch: u64, term: u64) {
        let mut calls = JoinSet::new();
        for &voter in &self.voters {
            let agent = self.clone();
            calls.spawn(async move {
                agent
                    .call(voter, AgentRequest::Unrevoke { epoch, term }, PUSH_TIMEOUT)
                    .await
            });
        }
        while calls.join_next().await.is_some() {}
    }
}

/// The file in the coordinator's directory that holds a revocation.
const REVOCATION_FILE: &str = "revocation";

/// Reads a saved revocation: `primary epoch term` on one line. A missing
/// or unreadable file holds none (a torn write never answered a revoke).
fn load_revocation(path: &std::path::Path) -> Option<(NodeId, u64, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().ok());
    let (primary, epoch, term) = (numbers.next()??, numbers.next()??, numbers.next()??);
    Some((primary, epoch, term))
}

fn save_revocation(
    path: &std::path::Path,
    (primary, epoch, term): (NodeId, u64, u64),
) -> io::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp)?;
    io::Write::write_all(&mut file, format!("{primary} {epoch} {term}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn name(map: &ClusterMap, node: NodeId) -> String {
    map.name_of(node)
        .map_or_else(|| node.to_string(), str::to_string)
}

fn elapsed_ms(base: Instant) -> u64 {
    base.elapsed().as_millis() as u64
}

/// Serves one peer connection for the agent: Raft's requests go to Raft,
/// the agents' own to the agent.
#[derive(Clone)]
struct AgentServer(Arc<Agent>);

impl Handler for AgentServer {
    async fn handle(&self, from: NodeId, request: RaftRequest) -> RaftResponse {
        match request {
            RaftRequest::Agent(request) => RaftResponse::Agent(self.0.answer(from, request).await),
            raft => handle(self.0.coordinator.raft(), raft).await,
        }
    }
}
