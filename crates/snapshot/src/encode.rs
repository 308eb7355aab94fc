//! Turns snapshot entries into bytes, on the executor thread.
//!
//! Owns: the entry encoding of `docs/snapshot-format.md`.
//! Must never: do I/O or block: the executor calls it between commands and
//! hands the chunks to the writer thread.
//! Invariant: a chunk holds whole entries only, and `entries` counts them.

use daisy_keyspace::{SnapshotEntry, Value};

use crate::error::EncodeError;
use crate::format::{
    BYTES_MAX, ELEMENTS_MAX, ENTRY_HAS_EXPIRY, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING,
    TYPE_ZSET,
};

/// Bytes of a key quoted in an [`EncodeError`].
const KEY_QUOTE_BYTES: usize = 64;

/// Encoded entries, ready for [`SnapshotWriter::write_chunk`](crate::SnapshotWriter::write_chunk).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncodedChunk {
    pub bytes: Vec<u8>,
    /// Entries in `bytes`.
    pub entries: u64,
}

/// Accumulates encoded entries until the caller takes them as a chunk.
#[derive(Default)]
pub struct SnapshotEncoder {
    buffer: Vec<u8>,
    entries: u64,
}

impl SnapshotEncoder {
    pub fn new() -> SnapshotEncoder {
        SnapshotEncoder::default()
    }

    /// Appends one entry. On error nothing is appended; the snapshot cannot
    /// hold this key, and the caller aborts it.
    pub fn push(&mut self, entry: &SnapshotEntry<'_>) -> Result<(), EncodeError> {
        let start = self.buffer.len();
        match encode_entry(&mut self.buffer, entry) {
            Ok(()) => {
                self.entries += 1;
                Ok(())
            }
            Err((what, len, limit)) => {
                self.buffer.truncate(start);
                let quoted = entry.key.len().min(KEY_QUOTE_BYTES);
                Err(EncodeError {
                    key: entry.key[..quoted].to_vec(),
                    what,
                    len,
                    limit,
                })
            }
        }
    }

    /// Bytes encoded since the last [`take_chunk`](Self::take_chunk).
    pub fn buffered_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Everything encoded since the last call. The next buffer starts with
    /// the capacity this one reached, so steady steps do not regrow it.
    pub fn take_chunk(&mut self) -> EncodedChunk {
        let capacity = self.buffer.len();
        EncodedChunk {
            bytes: std::mem::replace(&mut self.buffer, Vec::with_capacity(capacity)),
            entries: std::mem::take(&mut self.entries),
        }
    }
}

/// (field name, length, limit) of a length the format cannot hold.
type TooLong = (&'static str, u64, u64);

fn encode_entry(out: &mut Vec<u8>, entry: &SnapshotEntry<'_>) -> Result<(), TooLong> {
    let tag = match entry.value {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST,
        Value::Set(_) => TYPE_SET,
        Value::Hash(_) => TYPE_HASH,
        Value::ZSet(_) => TYPE_ZSET,
    };
    let flags = if entry.expire_at_ms.is_some() {
        ENTRY_HAS_EXPIRY
    } else {
        0
    };
    out.push(tag);
    out.push(flags);
    put_bytes(out, "key", entry.key)?;
    if let Some(at_ms) = entry.expire_at_ms {
        out.extend_from_slice(&at_ms.to_le_bytes());
    }
    match entry.value {
        Value::Str(value) => put_bytes(out, "string value", value)?,
        Value::List(list) => {
            put_count(out, "list", list.len())?;
            for item in list.iter() {
                put_bytes(out, "list item", item)?;
            }
        }
        Value::Set(set) => {
            put_count(out, "set", set.len())?;
            for (member, ()) in set.iter() {
                put_bytes(out, "set member", member)?;
            }
        }
        Value::Hash(hash) => {
            put_count(out, "hash", hash.len())?;
            for (field, value) in hash.iter() {
                put_bytes(out, "hash field", field)?;
                put_bytes(out, "hash value", value)?;
            }
        }
        Value::ZSet(zset) => {
            put_count(out, "sorted set", zset.len())?;
            for (member, score) in zset.iter() {
                put_bytes(out, "sorted set member", member)?;
                out.extend_from_slice(&score.to_bits().to_le_bytes());
            }
        }
    }
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, what: &'static str, bytes: &[u8]) -> Result<(), TooLong> {
    let len = u32::try_from(bytes.len()).map_err(|_| (what, bytes.len() as u64, BYTES_MAX))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_count(out: &mut Vec<u8>, what: &'static str, count: usize) -> Result<(), TooLong> {
    let count = count as u64;
    if count > ELEMENTS_MAX {
        return Err((what, count, ELEMENTS_MAX));
    }
    out.extend_from_slice(&count.to_le_bytes());
    Ok(())
}
