//! The peer protocol between a primary and its secondaries (and probes
//! between any two members). `docs/replication.md` describes the exchange.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of a
//! postcard-encoded message. Messages are versioned by the handshake's
//! `protocol` field.

use serde::{Deserialize, Serialize};

/// The peer protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame before the other side has identified itself.
pub const HANDSHAKE_FRAME_BYTES_MAX: u32 = 256 * 1024;
/// Largest frame at all: one record of the largest payload the log takes,
/// with room for the framing.
pub const FRAME_BYTES_MAX: u32 = 530 * 1024 * 1024;

/// From a secondary (or a prober) to the node it connected to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToPrimary {
    /// The first message of a secondary.
    Hello(Hello),
    /// What the secondary holds durably and has applied, and the newest
    /// epoch it knows.
    Ack {
        epoch: u64,
        received_lsn: u64,
        applied_lsn: u64,
    },
    /// Asks for the node's [`View`]; the answer is the only reply.
    Probe { node_id: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    /// The membership's [`crate::fingerprint`]: it must match.
    pub cluster: u64,
    pub node_id: String,
    /// Where clients reach the secondary (for INFO and ROLE).
    pub client_addr: String,
    /// The highest epoch the secondary knows of.
    pub epoch: u64,
    /// The last LSN in its log.
    pub last_lsn: u64,
    /// The LSN of its newest snapshot (0 if none): a log can be cut back
    /// only to a point at or after it.
    pub snapshot_lsn: u64,
    /// The epoch history its log was written under: `(epoch, start_lsn)`.
    pub history: Vec<(u64, u64)>,
    /// A hot standby applies what it receives; a warm one does not.
    pub applies: bool,
}

/// From the primary (or a probed node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToSecondary {
    Welcome(Welcome),
    /// The next piece of the snapshot file announced by the welcome.
    SnapshotChunk(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The snapshot is complete; records from its LSN + 1 follow.
    SnapshotEnd,
    /// Consecutive records, and the primary's commit watermark at the
    /// cluster's level: a secondary shows its readers nothing above it.
    Records {
        commit_lsn: u64,
        records: Vec<WireRecord>,
    },
    /// Sent when the commit watermark moved or there was nothing to send
    /// for a while, so a silent link is noticed.
    Heartbeat {
        epoch: u64,
        last_lsn: u64,
        commit_lsn: u64,
    },
    /// A planned switchover: the secondary has every record up to
    /// `last_lsn`; it takes office at `epoch` (the primary's epoch + 1).
    Handover {
        epoch: u64,
        last_lsn: u64,
    },
    /// The handshake was refused; `primary_id` names the primary this node
    /// knows of, if any.
    Refused {
        reason: String,
        epoch: u64,
        primary_id: Option<String>,
    },
    /// The answer to a probe.
    View(View),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub epoch: u64,
    pub primary_id: String,
    pub client_addr: String,
    /// The primary's epoch history, which the secondary adopts.
    pub history: Vec<(u64, u64)>,
    pub start: Start,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Start {
    /// The secondary's log is a prefix: records from `from_lsn` follow.
    Resume { from_lsn: u64 },
    /// The secondary's log diverged after `keep_through`: it sets the rest
    /// aside, cuts its log there, and records from `keep_through + 1`
    /// follow.
    Truncate { keep_through: u64 },
    /// A snapshot at `snapshot_lsn` of `bytes` bytes follows, then records.
    /// `keep_through`: when the secondary's log diverged, the last LSN it
    /// shares with the primary (what follows must be set aside).
    FullSync {
        snapshot_lsn: u64,
        bytes: u64,
        keep_through: Option<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRecord {
    pub lsn: u64,
    pub epoch: u64,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// The membership's [`crate::fingerprint`]; a prober ignores a view
    /// from another cluster.
    pub cluster: u64,
    pub node_id: String,
    pub epoch: u64,
    pub is_primary: bool,
    /// The primary this node follows (itself when primary; empty if none).
    pub primary_id: String,
    pub last_lsn: u64,
}

/// Encodes one frame: length, then the message.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let frame = vec![0u8; 4];
    let body = postcard::to_extend(message, frame).expect("messages always serialize");
    let mut frame = body;
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame
}

/// Decodes a frame body (without its length).
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(body).map_err(|e| format!("malformed peer message: {e}"))
}

/// Reads a frame length and checks it against `limit`.
pub fn frame_len(header: [u8; 4], limit: u32) -> Result<usize, String> {
    let len = u32::from_be_bytes(header);
    if len > limit {
        return Err(format!(
            "peer frame of {len} bytes is over the limit of {limit}"
        ));
    }
    Ok(len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let messages = vec![
            ToSecondary::Records {
                commit_lsn: 6,
                records: vec![WireRecord {
                    lsn: 7,
                    epoch: 2,
                    payload: vec![1, 2, 3],
                }],
            },
            ToSecondary::Welcome(Welcome {
                epoch: 3,
                primary_id: "a".into(),
                client_addr: "127.0.0.1:7001".into(),
                history: vec![(1, 1), (3, 90)],
                start: Start::FullSync {
                    snapshot_lsn: 80,
                    bytes: 1 << 20,
                    keep_through: Some(70),
                },
            }),
            ToSecondary::SnapshotChunk(vec![9; 1000]),
            ToSecondary::Heartbeat {
                epoch: 1,
                last_lsn: 2,
                commit_lsn: 1,
            },
        ];
        for message in messages {
            let frame = encode(&message);
            let len = frame_len(frame[..4].try_into().unwrap(), FRAME_BYTES_MAX).unwrap();
            assert_eq!(len, frame.len() - 4);
            assert_eq!(decode::<ToSecondary>(&frame[4..]), Ok(message));
        }
        let ack = ToPrimary::Ack {
            epoch: 3,
            received_lsn: u64::MAX,
            applied_lsn: 0,
        };
        assert_eq!(decode::<ToPrimary>(&encode(&ack)[4..]), Ok(ack));
    }

    #[test]
    fn bad_frames_are_errors() {
        assert!(frame_len(
            (HANDSHAKE_FRAME_BYTES_MAX + 1).to_be_bytes(),
            HANDSHAKE_FRAME_BYTES_MAX
        )
        .is_err());
        assert!(decode::<ToPrimary>(&[0xff, 0xff, 0xff]).is_err());
        assert!(decode::<ToSecondary>(&[]).is_err());
    }
}
