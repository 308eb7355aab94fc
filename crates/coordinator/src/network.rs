//! The coordinator's network: openraft's `RaftNetworkFactory` over a small
//! `Transport` trait, so the same code runs over in-process channels in
//! tests (`in_process`) and, later, over the peer port.
//!
//! A transport moves one `RaftRequest` to a node and brings back its
//! `RaftResponse`; both are serde types, ready to be framed on a socket.
//! The receiving side hands the request to `handle`, which calls the local
//! Raft. A transport never retries: openraft does, after `backoff`.

use std::future::Future;
use std::io;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode, RaftNetwork, RaftNetworkFactory};
use serde::{Deserialize, Serialize};

use crate::agent::message::{AgentRequest, AgentResponse};
use crate::types::{Raft, TypeConfig};
use crate::NodeId;

#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRequest {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// Not Raft: the agents' own traffic (heartbeats, leases, forwarded
    /// proposals), on the same frames and connections.
    Agent(AgentRequest),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum RaftResponse {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    Agent(AgentResponse),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The target could not be reached (down, partitioned, refused).
    Unreachable(String),
    /// No answer within the time limit; the request may have been handled.
    Timeout,
    /// The answer was not the response to the request sent.
    Garbled(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Unreachable(why) => write!(f, "unreachable: {why}"),
            TransportError::Timeout => f.write_str("timed out"),
            TransportError::Garbled(why) => write!(f, "garbled response: {why}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// Carries Raft requests from one voter to another.
pub trait Transport: Clone + Send + Sync + 'static {
    /// Sends `request` from `from` to `to` and waits at most `timeout` for the answer.
    fn call(
        &self,
        from: NodeId,
        to: NodeId,
        request: RaftRequest,
        timeout: Duration,
    ) -> impl Future<Output = Result<RaftResponse, TransportError>> + Send;
}

/// Handles one request that arrived for the local voter.
pub async fn handle(raft: &Raft, request: RaftRequest) -> RaftResponse {
    match request {
        RaftRequest::AppendEntries(rpc) => {
            RaftResponse::AppendEntries(raft.append_entries(rpc).await)
        }
        RaftRequest::Vote(rpc) => RaftResponse::Vote(raft.vote(rpc).await),
        RaftRequest::InstallSnapshot(rpc) => {
            RaftResponse::InstallSnapshot(raft.install_snapshot(rpc).await)
        }
        RaftRequest::Agent(_) => RaftResponse::Agent(AgentResponse::Unsupported),
    }
}

/// openraft's network factory for one voter.
#[derive(Clone)]
pub struct Network<T: Transport> {
    local: NodeId,
    transport: T,
    backoff: Duration,
}

impl<T: Transport> Network<T> {
    pub fn new(local: NodeId, transport: T, backoff: Duration) -> Network<T> {
        Network {
            local,
            transport,
            backoff,
        }
    }
}

/// A connection to one peer.
pub struct Connection<T: Transport> {
    network: Network<T>,
    target: NodeId,
}

impl<T: Transport> RaftNetworkFactory<TypeConfig> for Network<T> {
    type Network = Connection<T>;

    async fn new_client(&mut self, target: NodeId, _node: &BasicNode) -> Connection<T> {
        Connection {
            network: self.clone(),
            target,
        }
    }
}

type RpcError<E = openraft::error::Infallible> = RPCError<NodeId, BasicNode, RaftError<NodeId, E>>;

impl<T: Transport> Connection<T> {
    async fn call(
        &self,
        request: RaftRequest,
        option: &RPCOption,
    ) -> Result<RaftResponse, TransportError> {
        let network = &self.network;
        network
            .transport
            .call(network.local, self.target, request, option.hard_ttl())
            .await
    }

    fn failed<E: std::error::Error>(
        error: TransportError,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        match error {
            TransportError::Unreachable(_) => {
                let io_error = io::Error::new(io::ErrorKind::NotConnected, error.to_string());
                RPCError::Unreachable(Unreachable::new(&io_error))
            }
            TransportError::Timeout | TransportError::Garbled(_) => {
                RPCError::Network(NetworkError::new(&AnyError::error(error.to_string())))
            }
        }
    }

    fn remote<E: std::error::Error>(
        &self,
        error: RaftError<NodeId, E>,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        RPCError::RemoteError(RemoteError::new(self.target, error))
    }
}

fn garbled() -> TransportError {
    TransportError::Garbled("response of another kind".to_string())
}

impl<T: Transport> RaftNetwork<TypeConfig> for Connection<T> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcError> {
        match self.call(RaftRequest::AppendEntries(rpc), &option).await {
            Ok(RaftResponse::AppendEntries(result)) => result.map_err(|error| self.remote(error)),
            Ok(_) => Err(Self::failed(garbled())),
            Err(error) => Err(Self::failed(error)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcError<InstallSnapshotError>> {
        match self.call(RaftRequest::InstallSnapshot(rpc), &option).await {
            Ok(RaftResponse::InstallSnapshot(result)) => result.map_err(|error| self.remote(error)),
            Ok(_) => Err(Self::failed(garbled())),
            Err(error) => Err(Self::failed(error)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcError> {
        match self.call(RaftRequest::Vote(rpc), &option).await {
            Ok(RaftResponse::Vote(result)) => result.map_err(|error| self.remote(error)),
            Ok(_) => Err(Self::failed(garbled())),
            Err(error) => Err(Self::failed(error)),
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(self.network.backoff))
    }
}
