//! The replication state a node keeps across restarts: its epoch, the
//! primary it knows of, and the epoch history of its log.
//!
//! File `replication.state` in the data directory: 8 bytes magic
//! `DAISYRST`, u32 BE format version, u32 BE body length, the body
//! (postcard), u32 BE CRC-32C of everything before it. Written to a
//! temporary file, synced, and renamed into place, so it is always the old
//! or the new state, whole.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::history::EpochHistory;

pub const STATE_FILE_NAME: &str = "replication.state";
const MAGIC: &[u8; 8] = b"DAISYRST";
const FORMAT_VERSION: u32 = 1;
/// Largest state file accepted (the history is bounded).
const STATE_BYTES_MAX: u64 = 1024 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// The highest epoch this node has seen.
    pub epoch: u64,
    /// The primary of that epoch, as this node knows it.
    pub primary_id: String,
    pub history: EpochHistory,
    /// Set on a node promoted by hand: the last LSN it had, so records of
    /// the old epoch after it are the ones a 1-safe failover lost.
    pub promoted_at_lsn: Option<u64>,
}

#[derive(Debug)]
pub struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl NodeState {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(STATE_FILE_NAME)
    }

    /// Reads the state; `Ok(None)` when there is no file yet.
    pub fn load(data_dir: &Path) -> Result<Option<NodeState>, StateError> {
        let path = NodeState::path(data_dir);
        let bytes = match fs::metadata(&path) {
            Ok(meta) if meta.len() > STATE_BYTES_MAX => {
                return Err(StateError(format!(
                    "{}: {} bytes is too large for a state file",
                    path.display(),
                    meta.len()
                )))
            }
            Ok(_) => fs::read(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => Err(e),
        }
        .map_err(|e| StateError(format!("cannot read {}: {e}", path.display())))?;
        NodeState::decode(&bytes)
            .map(Some)
            .map_err(|e| StateError(format!("{}: {e}", path.display())))
    }

    pub fn decode(bytes: &[u8]) -> Result<NodeState, String> {
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err("not a DaisyDB replication state file".into());
        }
        let version = u32::from_be_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(format!("unknown state format version {version}"));
        }
        let len = u32::from_be_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
        if bytes.len() != 16 + len + 4 {
            return Err("truncated state file".into());
        }
        let crc = u32::from_be_bytes(bytes[16 + len..].try_into().expect("4 bytes"));
        if crc32c::crc32c(&bytes[..16 + len]) != crc {
            return Err("state file checksum mismatch".into());
        }
        let state: NodeState =
            postcard::from_bytes(&bytes[16..16 + len]).map_err(|e| format!("bad state: {e}"))?;
        EpochHistory::from_entries(state.history.entries().to_vec())?;
        Ok(state)
    }

    pub fn encode(&self) -> Vec<u8> {
        let body = postcard::to_allocvec(self).expect("state always serializes");
        let mut bytes = Vec::with_capacity(body.len() + 20);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&body);
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_be_bytes());
        bytes
    }

    /// Replaces the file atomically and durably.
    pub fn save(&self, data_dir: &Path) -> Result<(), StateError> {
        let path = NodeState::path(data_dir);
        let temp = data_dir.join(format!("{STATE_FILE_NAME}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temp)?;
            file.write_all(&self.encode())?;
            file.sync_all()?;
            fs::rename(&temp, &path)?;
            fs::File::open(data_dir)?.sync_all()
        };
        write().map_err(|e| StateError(format!("cannot write {}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let mut history = EpochHistory::new();
        history.begin(1, 1);
        history.begin(4, 77);
        let state = NodeState {
            epoch: 4,
            primary_id: "b".into(),
            history,
            promoted_at_lsn: Some(76),
        };
        let bytes = state.encode();
        assert_eq!(NodeState::decode(&bytes), Ok(state.clone()));
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(NodeState::decode(&damaged).is_err(), "flip at {i}");
        }
        assert!(NodeState::decode(&bytes[..bytes.len() - 1]).is_err());

        let dir = std::env::temp_dir().join(format!("daisy-state-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        assert_eq!(NodeState::load(&dir).unwrap(), None);
        state.save(&dir).unwrap();
        assert_eq!(NodeState::load(&dir).unwrap(), Some(state));
        fs::remove_dir_all(&dir).unwrap();
    }
}
