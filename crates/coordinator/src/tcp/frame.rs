//! The coordinator's wire format and bounded frame I/O.
//!
//! ```text
//! frame    = length: u32 BE (bytes after this field) | body
//! body     = tag: b"DRFT" | postcard(envelope)
//! request  = RequestEnvelope  { version, cluster, from, request }
//! response = ResponseEnvelope { version, cluster, answer }
//! ```
//!
//! The tag makes a Raft connection recognisable from its first 8 bytes
//! (`TcpStream::peek`), so the peer port can route it here without
//! consuming anything; a replication message starts with a small postcard
//! variant index, never `D`.

use std::io;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::network::{RaftRequest, RaftResponse};
use crate::NodeId;

/// The first bytes of every frame body on a Raft connection.
pub const RAFT_TAG: [u8; 4] = *b"DRFT";

/// The envelope version this code writes and accepts.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest frame body accepted or sent. openraft sends a snapshot in
/// chunks of `snapshot_max_chunk_size` (3 MiB by default) and appends at
/// most `max_payload_entries` (300) small commands at once, so real frames
/// are far smaller; 64 MiB leaves room for a larger chunk size while
/// bounding what a bad length prefix can make a node allocate.
pub const FRAME_BYTES_MAX: u32 = 64 * 1024 * 1024;

/// How many bytes identify a Raft connection: the length and the tag.
pub const RAFT_PREFIX_BYTES: usize = 8;

/// A request as it travels: who sends it, for which cluster.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestEnvelope {
    pub version: u32,
    /// A fingerprint of the cluster's identity; a mismatch is refused.
    pub cluster: u64,
    pub from: NodeId,
    pub request: RaftRequest,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    pub version: u32,
    pub cluster: u64,
    pub answer: Answer,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Answer {
    Response(Box<RaftResponse>),
    /// The request was not handled; the server closes the connection.
    Refused(String),
}

#[derive(Debug)]
pub enum FrameError {
    /// The other side closed the connection between frames.
    Closed,
    Io(io::Error),
    TimedOut,
    TooLarge(u32),
    /// The body does not start with `RAFT_TAG`.
    NotRaft,
    Malformed(postcard::Error),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Closed => f.write_str("connection closed"),
            FrameError::Io(error) => write!(f, "i/o error: {error}"),
            FrameError::TimedOut => f.write_str("timed out"),
            FrameError::TooLarge(bytes) => {
                write!(f, "frame of {bytes} bytes exceeds {FRAME_BYTES_MAX}")
            }
            FrameError::NotRaft => f.write_str("frame without the Raft tag"),
            FrameError::Malformed(error) => write!(f, "malformed frame: {error}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Whether the first bytes of a connection (at least `RAFT_PREFIX_BYTES`)
/// start a Raft frame.
pub fn is_raft_prefix(prefix: &[u8]) -> bool {
    prefix.len() >= RAFT_PREFIX_BYTES && prefix[4..RAFT_PREFIX_BYTES] == RAFT_TAG
}

/// Encodes `message` as one whole frame, length included.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut header = Vec::with_capacity(RAFT_PREFIX_BYTES);
    header.extend_from_slice(&[0; 4]);
    header.extend_from_slice(&RAFT_TAG);
    let mut frame = postcard::to_extend(message, header).expect("postcard encodes into a Vec");
    let body_bytes = u32::try_from(frame.len() - 4).unwrap_or(u32::MAX);
    frame[..4].copy_from_slice(&body_bytes.to_be_bytes());
    frame
}

/// Decodes a frame body read by `read_body`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    let message = body.strip_prefix(&RAFT_TAG).ok_or(FrameError::NotRaft)?;
    postcard::from_bytes(message).map_err(FrameError::Malformed)
}

/// Writes one encoded frame within `timeout`.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    stream: &mut W,
    frame: &[u8],
    timeout: Duration,
) -> Result<(), FrameError> {
    let body_bytes = frame.len().saturating_sub(4);
    if body_bytes > FRAME_BYTES_MAX as usize {
        return Err(FrameError::TooLarge(
            u32::try_from(body_bytes).unwrap_or(u32::MAX),
        ));
    }
    match tokio::time::timeout(timeout, stream.write_all(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(FrameError::Io(error)),
        Err(_) => Err(FrameError::TimedOut),
    }
}

/// Reads one frame body: its length must come within `idle_timeout`, the
/// rest within `body_timeout`.
pub async fn read_body<R: AsyncRead + Unpin>(
    stream: &mut R,
    idle_timeout: Duration,
    body_timeout: Duration,
) -> Result<Vec<u8>, FrameError> {
    let mut length = [0u8; 4];
    match tokio::time::timeout(idle_timeout, stream.read_exact(&mut length)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(FrameError::Closed)
        }
        Ok(Err(error)) => return Err(FrameError::Io(error)),
        Err(_) => return Err(FrameError::TimedOut),
    }
    let body_bytes = u32::from_be_bytes(length);
    if body_bytes > FRAME_BYTES_MAX {
        return Err(FrameError::TooLarge(body_bytes));
    }
    let mut body = vec![0u8; body_bytes as usize];
    match tokio::time::timeout(body_timeout, stream.read_exact(&mut body)).await {
        Ok(Ok(_)) => Ok(body),
        Ok(Err(error)) => Err(FrameError::Io(error)),
        Err(_) => Err(FrameError::TimedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::raft::VoteRequest;
    use openraft::Vote;

    fn vote_request() -> RequestEnvelope {
        RequestEnvelope {
            version: PROTOCOL_VERSION,
            cluster: 7,
            from: 2,
            request: RaftRequest::Vote(VoteRequest::new(Vote::new(3, 2), None)),
        }
    }

    #[tokio::test]
    async fn a_request_survives_the_round_trip() {
        let frame = encode(&vote_request());
        assert!(is_raft_prefix(&frame));
        let mut reader = &frame[..];
        let second = Duration::from_secs(1);
        let body = read_body(&mut reader, second, second).await.expect("body");
        let decoded: RequestEnvelope = decode(&body).expect("decodes");
        assert_eq!((decoded.cluster, decoded.from), (7, 2));
        assert!(matches!(decoded.request, RaftRequest::Vote(_)));
    }

    #[tokio::test]
    async fn an_oversized_length_is_refused_before_allocating() {
        let frame = (FRAME_BYTES_MAX + 1).to_be_bytes();
        let mut reader = &frame[..];
        let second = Duration::from_secs(1);
        let result = read_body(&mut reader, second, second).await;
        assert!(matches!(result, Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn a_body_without_the_tag_is_not_raft() {
        let result: Result<RequestEnvelope, _> = decode(b"XXXXjunk");
        assert!(matches!(result, Err(FrameError::NotRaft)));
        let result: Result<RequestEnvelope, _> = decode(b"DRFT\xff\xff\xff");
        assert!(matches!(result, Err(FrameError::Malformed(_))));
    }
}
