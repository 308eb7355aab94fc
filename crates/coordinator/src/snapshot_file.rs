//! The durable snapshot of one voter's state machine: `<dir>/map.snapshot`,
//! and the replace-by-rename helper the coordinator's files share.
//!
//! Format (version 1): 8 bytes `DAISYRSN`, u32 BE version, u32 BE body
//! length, the body (postcard `SnapshotFile`), u32 BE CRC-32C of the body.
//! Written to a temporary file, fsynced, renamed over the old one, and the
//! directory fsynced: a crash leaves the old snapshot or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::map::ClusterMap;
use crate::types::SnapshotMeta;

const MAGIC: &[u8; 8] = b"DAISYRSN";
const VERSION: u32 = 2;
pub const FILE_NAME: &str = "map.snapshot";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotFile {
    pub meta: SnapshotMeta,
    pub map: ClusterMap,
}

pub fn save(dir: &Path, snapshot: &SnapshotFile) -> io::Result<()> {
    let body = postcard::to_allocvec(snapshot).map_err(io::Error::other)?;
    let mut bytes = Vec::with_capacity(body.len() + 20);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_be_bytes());
    bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    replace_file(dir, FILE_NAME, &bytes)
}

/// Loads the snapshot in `dir`; `None` when there is none yet.
pub fn load(dir: &Path) -> io::Result<Option<SnapshotFile>> {
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err(bad("not a map snapshot"));
    }
    let version = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(bad(&format!("unknown version {version}")));
    }
    let len = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    if bytes.len() != 16 + len + 4 {
        return Err(bad("length mismatch"));
    }
    let body = &bytes[16..16 + len];
    let crc = &bytes[16 + len..];
    if crc32c::crc32c(body).to_be_bytes() != crc {
        return Err(bad("checksum mismatch"));
    }
    postcard::from_bytes(body)
        .map(Some)
        .map_err(|_| bad("undecodable body"))
}

/// Replaces `dir/name` with `bytes` atomically and durably.
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}
