//! `TcpTransport`: the client side of the coordinator's TCP transport.
//!
//! One pooled connection per peer, behind a lock of its own: calls to one
//! peer are serialized on its connection, and a dead or slow peer holds
//! only its own lock, so calls to the others go on. Any failure drops the
//! connection; the next call connects again. Every call (waiting for the
//! lock, connecting, writing, reading) is bounded by the timeout openraft
//! passes. The transport never retries: openraft does, after its backoff.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::Mutex as AsyncMutex;

use crate::network::{RaftRequest, RaftResponse, Transport, TransportError};
use crate::tcp::frame::{
    decode, encode, read_body, write_frame, Answer, FrameError, RequestEnvelope, ResponseEnvelope,
    PROTOCOL_VERSION,
};
use crate::tcp::POOLED_IDLE_MAX;
use crate::NodeId;

#[derive(Clone)]
pub struct TcpTransport {
    cluster: u64,
    peers: Arc<HashMap<NodeId, Peer>>,
}

struct Peer {
    addr: SocketAddr,
    connection: AsyncMutex<Option<Pooled>>,
}

struct Pooled {
    stream: TcpStream,
    last_used: Instant,
}

impl TcpTransport {
    /// A transport for a voter of the cluster `cluster_fingerprint`, able to
    /// reach the peers at `addrs`.
    pub fn new(cluster_fingerprint: u64, addrs: HashMap<NodeId, SocketAddr>) -> TcpTransport {
        let peers = addrs
            .into_iter()
            .map(|(id, addr)| {
                let connection = AsyncMutex::new(None);
                (id, Peer { addr, connection })
            })
            .collect();
        TcpTransport {
            cluster: cluster_fingerprint,
            peers: Arc::new(peers),
        }
    }

    async fn exchange(
        &self,
        peer: &Peer,
        to: NodeId,
        frame: &[u8],
        deadline: Instant,
    ) -> Result<RaftResponse, TransportError> {
        let mut slot = peer.connection.lock().await;
        let mut pooled = match slot.take() {
            Some(pooled) if pooled.last_used.elapsed() < POOLED_IDLE_MAX => pooled,
            _ => connect(peer.addr, to).await?,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        write_frame(&mut pooled.stream, frame, left)
            .await
            .map_err(|error| failed(to, error))?;
        let left = deadline.saturating_duration_since(Instant::now());
        let body = read_body(&mut pooled.stream, left, left)
            .await
            .map_err(|error| failed(to, error))?;
        let envelope: ResponseEnvelope = decode(&body).map_err(|error| failed(to, error))?;
        match envelope.answer {
            // A refusal names the server's cluster, which is not ours.
            Answer::Refused(why) => {
                Err(TransportError::Unreachable(format!("{to} refused: {why}")))
            }
            Answer::Response(_)
                if envelope.version != PROTOCOL_VERSION || envelope.cluster != self.cluster =>
            {
                Err(TransportError::Garbled(format!(
                    "{to} answered for version {} cluster {:#x}",
                    envelope.version, envelope.cluster
                )))
            }
            Answer::Response(response) => {
                pooled.last_used = Instant::now();
                *slot = Some(pooled);
                Ok(*response)
            }
        }
    }
}

async fn connect(addr: SocketAddr, to: NodeId) -> Result<Pooled, TransportError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|error| TransportError::Unreachable(format!("{to} at {addr}: {error}")))?;
    // Raft messages are small and latency-bound.
    let _ = stream.set_nodelay(true);
    Ok(Pooled {
        stream,
        last_used: Instant::now(),
    })
}

fn failed(to: NodeId, error: FrameError) -> TransportError {
    match error {
        FrameError::TimedOut => TransportError::Timeout,
        FrameError::Closed | FrameError::Io(_) => {
            TransportError::Unreachable(format!("{to}: {error}"))
        }
        FrameError::TooLarge(_) | FrameError::NotRaft | FrameError::Malformed(_) => {
            TransportError::Garbled(format!("{to}: {error}"))
        }
    }
}

impl Transport for TcpTransport {
    async fn call(
        &self,
        from: NodeId,
        to: NodeId,
        request: RaftRequest,
        timeout: Duration,
    ) -> Result<RaftResponse, TransportError> {
        let peer = self
            .peers
            .get(&to)
            .ok_or_else(|| TransportError::Unreachable(format!("{to}: no known address")))?;
        let frame = encode(&RequestEnvelope {
            version: PROTOCOL_VERSION,
            cluster: self.cluster,
            from,
            request,
        });
        let deadline = Instant::now() + timeout;
        // A timeout drops the connection with the future: a late answer can
        // never be read as the answer to the next request.
        match tokio::time::timeout(timeout, self.exchange(peer, to, &frame, deadline)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout),
        }
    }
}
