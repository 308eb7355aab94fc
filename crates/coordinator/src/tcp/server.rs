//! The server side of the coordinator's TCP transport.
//!
//! `serve_raft_connection` answers the requests arriving on one accepted
//! connection, one at a time, until the peer closes it, it stays idle for
//! `CONNECTION_IDLE_MAX`, or something malformed arrives. The node's peer
//! port accepts every connection and peeks at its first
//! `RAFT_PREFIX_BYTES` (a length, then `RAFT_TAG`; see `frame`): if
//! `is_raft_prefix` holds, it hands the stream over unread.
//!
//! A request from another cluster (or another protocol version) gets a
//! `Refused` answer and the connection is closed; it never reaches Raft.

use std::future::Future;
use std::io;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::network::{handle, RaftRequest, RaftResponse};
use crate::tcp::frame::{
    decode, encode, read_body, write_frame, Answer, FrameError, RequestEnvelope, ResponseEnvelope,
    PROTOCOL_VERSION,
};
use crate::tcp::{CONNECTIONS_MAX, CONNECTION_IDLE_MAX, FRAME_IO_MAX};
use crate::types::Raft;
use crate::NodeId;

/// What answers the requests of a connection: a bare `Raft`, or a node's
/// agent, which also answers the agents' own requests.
pub trait Handler: Clone + Send + Sync + 'static {
    fn handle(
        &self,
        from: NodeId,
        request: RaftRequest,
    ) -> impl Future<Output = RaftResponse> + Send;
}

impl Handler for Raft {
    async fn handle(&self, _from: NodeId, request: RaftRequest) -> RaftResponse {
        handle(self, request).await
    }
}

/// Accepts connections on `listener` and serves Raft requests on each, at
/// most `CONNECTIONS_MAX` at once. Runs until dropped (or aborted), which
/// also closes every connection it accepted; returns only if accepting
/// fails.
pub async fn serve_raft<H: Handler>(
    listener: TcpListener,
    handler: H,
    cluster: u64,
) -> io::Result<()> {
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = listener.accept().await?;
        while connections.try_join_next().is_some() {}
        if connections.len() >= CONNECTIONS_MAX {
            tracing::warn!(%peer, "too many Raft connections; closing the new one");
            continue;
        }
        let handler = handler.clone();
        connections.spawn(async move {
            serve_raft_connection(stream, handler, cluster).await;
        });
    }
}

/// Serves the Raft requests on `stream` until it closes. Errors end only
/// this connection; they are logged, not returned.
pub async fn serve_raft_connection<H: Handler>(mut stream: TcpStream, handler: H, cluster: u64) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    match serve(&mut stream, &handler, cluster).await {
        Ok(()) | Err(FrameError::Closed) => {}
        Err(error) => tracing::debug!(?peer, %error, "Raft connection closed"),
    }
}

async fn serve<H: Handler>(
    stream: &mut TcpStream,
    handler: &H,
    cluster: u64,
) -> Result<(), FrameError> {
    loop {
        let body = read_body(stream, CONNECTION_IDLE_MAX, FRAME_IO_MAX).await?;
        let envelope: RequestEnvelope = decode(&body)?;
        if let Some(why) = refusal(&envelope, cluster) {
            tracing::warn!(from = envelope.from, %why, "Raft request refused");
            reply(stream, cluster, Answer::Refused(why)).await?;
            return Ok(());
        }
        let response = handler.handle(envelope.from, envelope.request).await;
        reply(stream, cluster, Answer::Response(Box::new(response))).await?;
    }
}

fn refusal(envelope: &RequestEnvelope, cluster: u64) -> Option<String> {
    if envelope.version != PROTOCOL_VERSION {
        return Some(format!(
            "protocol version {} (this node speaks {PROTOCOL_VERSION})",
            envelope.version
        ));
    }
    if envelope.cluster != cluster {
        return Some(format!(
            "cluster {:#x} (this node belongs to {cluster:#x})",
            envelope.cluster
        ));
    }
    None
}

async fn reply(stream: &mut TcpStream, cluster: u64, answer: Answer) -> Result<(), FrameError> {
    let frame = encode(&ResponseEnvelope {
        version: PROTOCOL_VERSION,
        cluster,
        answer,
    });
    write_frame(stream, &frame, FRAME_IO_MAX).await
}
