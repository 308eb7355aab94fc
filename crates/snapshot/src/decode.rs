//! Parses the entry stream of a snapshot file, treating every byte as
//! untrusted.
//!
//! Owns: reading entries back into keyspace values, with the limits of
//! `docs/snapshot-format.md`.
//! Must never: allocate for a length before checking it against its limit
//! and against the bytes left before the trailer; read past the trailer's
//! start for an entry; panic on any input.
//! Invariant: `crc` is the CRC-32C of every byte consumed from offset 0,
//! and `offset` counts them.

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use daisy_keyspace::{CompactBytes, Dict, StrValue, Value, ZSet};

use crate::error::{Corruption, LoadError};
use crate::format::{
    BYTES_MAX, ELEMENTS_MAX, ENTRY_HAS_EXPIRY, MIN_HASH_PAIR_BYTES, MIN_ITEM_BYTES,
    MIN_ZSET_MEMBER_BYTES, PREALLOCATE_ELEMENTS_MAX, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING,
    TYPE_ZSET,
};
use crate::storage::ReadFile;

/// Read buffer for the entry stream.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// One key read back from a snapshot.
pub struct RestoredEntry {
    /// Where the entry starts in the file.
    pub offset: u64,
    pub key: CompactBytes,
    pub value: Value,
    pub expire_at_ms: Option<u64>,
}

/// A reader of the file's bytes that knows where it is and where the
/// entries end.
pub(crate) struct Source {
    path: PathBuf,
    reader: BufReader<Box<dyn ReadFile>>,
    offset: u64,
    /// Offset of the trailer's end tag.
    entries_end: u64,
    crc: u32,
    /// Reused for members and fields, which are copied into their value.
    scratch: Vec<u8>,
}

impl Source {
    /// A source positioned at `offset`, whose bytes before it had checksum
    /// `crc`.
    pub(crate) fn new(
        path: PathBuf,
        file: Box<dyn ReadFile>,
        offset: u64,
        entries_end: u64,
        crc: u32,
    ) -> Source {
        Source {
            path,
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            offset,
            entries_end,
            crc,
            scratch: Vec::new(),
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn crc(&self) -> u32 {
        self.crc
    }

    pub(crate) fn entries_end(&self) -> u64 {
        self.entries_end
    }

    /// Bytes left for entries.
    fn remaining(&self) -> u64 {
        self.entries_end.saturating_sub(self.offset)
    }

    pub(crate) fn corrupt(&self, offset: u64, problem: Corruption) -> LoadError {
        LoadError::Corrupt {
            path: self.path.clone(),
            offset,
            problem,
        }
    }

    /// Fills `buf` from the file, without regard to where entries end: for
    /// the trailer.
    pub(crate) fn read_raw(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        self.reader
            .read_exact(buf)
            .map_err(|source| LoadError::Io {
                path: self.path.clone(),
                offset: self.offset,
                source,
            })?;
        self.offset += buf.len() as u64;
        self.crc = crc32c::crc32c_append(self.crc, buf);
        Ok(())
    }

    /// Fills `buf` with bytes of the current entry.
    fn read_entry_bytes(&mut self, buf: &mut [u8]) -> Result<(), LoadError> {
        let needed = buf.len() as u64;
        let remaining = self.remaining();
        if needed > remaining {
            return Err(self.corrupt(
                self.offset,
                Corruption::PastEndOfEntries { needed, remaining },
            ));
        }
        self.read_raw(buf)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, LoadError> {
        let mut byte = [0u8; 1];
        self.read_entry_bytes(&mut byte)?;
        Ok(byte[0])
    }

    fn u32(&mut self) -> Result<u32, LoadError> {
        let mut word = [0u8; 4];
        self.read_entry_bytes(&mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, LoadError> {
        let mut word = [0u8; 8];
        self.read_entry_bytes(&mut word)?;
        Ok(u64::from_le_bytes(word))
    }

    /// A byte string's length, checked against the limit and the bytes left.
    fn length(&mut self, what: &'static str) -> Result<usize, LoadError> {
        let at = self.offset;
        let len = u64::from(self.u32()?);
        if len > BYTES_MAX {
            let problem = Corruption::LengthOverLimit {
                what,
                len,
                limit: BYTES_MAX,
            };
            return Err(self.corrupt(at, problem));
        }
        let remaining = self.remaining();
        if len > remaining {
            let problem = Corruption::LengthPastEnd {
                what,
                len,
                remaining,
            };
            return Err(self.corrupt(at, problem));
        }
        usize::try_from(len).map_err(|_| {
            let problem = Corruption::LengthOverLimit {
                what,
                len,
                limit: usize::MAX as u64,
            };
            self.corrupt(at, problem)
        })
    }

    /// An element count: at least one, at most the limit, and no more than
    /// the bytes left could hold at `min_element_bytes` each.
    fn count(&mut self, what: &'static str, min_element_bytes: u64) -> Result<usize, LoadError> {
        let at = self.offset;
        let count = self.u64()?;
        if count == 0 {
            return Err(self.corrupt(at, Corruption::EmptyAggregate));
        }
        if count > ELEMENTS_MAX {
            let problem = Corruption::LengthOverLimit {
                what,
                len: count,
                limit: ELEMENTS_MAX,
            };
            return Err(self.corrupt(at, problem));
        }
        let remaining = self.remaining();
        if count.saturating_mul(min_element_bytes) > remaining {
            let problem = Corruption::LengthPastEnd {
                what,
                len: count,
                remaining,
            };
            return Err(self.corrupt(at, problem));
        }
        // count <= ELEMENTS_MAX = u32::MAX fits a usize on 32 and 64 bits.
        Ok(count as usize)
    }

    /// A byte string, owned.
    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, LoadError> {
        let len = self.length(what)?;
        let mut bytes = vec![0u8; len];
        self.read_entry_bytes(&mut bytes)?;
        Ok(bytes)
    }

    /// A byte string, read into the scratch buffer.
    fn scratch_bytes(&mut self, what: &'static str) -> Result<(), LoadError> {
        let len = self.length(what)?;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(len, 0);
        let read = self.read_entry_bytes(&mut scratch);
        self.scratch = scratch;
        read
    }

    fn compact(&mut self, what: &'static str) -> Result<CompactBytes, LoadError> {
        self.scratch_bytes(what)?;
        Ok(CompactBytes::new(&self.scratch))
    }

    /// The entry after the type tag (already read at `at`).
    pub(crate) fn entry(
        &mut self,
        at: u64,
        tag: u8,
        seed: u64,
    ) -> Result<RestoredEntry, LoadError> {
        if !matches!(
            tag,
            TYPE_STRING | TYPE_LIST | TYPE_SET | TYPE_HASH | TYPE_ZSET
        ) {
            return Err(self.corrupt(at, Corruption::UnknownType { tag }));
        }
        let flags_at = self.offset;
        let flags = self.u8()?;
        if flags & !ENTRY_HAS_EXPIRY != 0 {
            return Err(self.corrupt(flags_at, Corruption::UnknownEntryFlags { flags }));
        }
        let key = self.compact("key")?;
        let expire_at_ms = if flags & ENTRY_HAS_EXPIRY != 0 {
            Some(self.u64()?)
        } else {
            None
        };
        let value = match tag {
            TYPE_STRING => Value::Str(StrValue::from_vec(self.bytes("string value")?)),
            TYPE_LIST => self.list()?,
            TYPE_SET => self.set(seed)?,
            TYPE_HASH => self.hash(seed)?,
            _ => self.zset(seed)?,
        };
        Ok(RestoredEntry {
            offset: at,
            key,
            value,
            expire_at_ms,
        })
    }

    fn list(&mut self) -> Result<Value, LoadError> {
        let count = self.count("list", MIN_ITEM_BYTES)?;
        let mut list = VecDeque::with_capacity(count.min(PREALLOCATE_ELEMENTS_MAX));
        for _ in 0..count {
            list.push_back(self.compact("list item")?);
        }
        Ok(Value::List(Box::new(list)))
    }

    fn set(&mut self, seed: u64) -> Result<Value, LoadError> {
        let count = self.count("set", MIN_ITEM_BYTES)?;
        let mut set = Dict::with_seed(seed);
        for _ in 0..count {
            let at = self.offset;
            let member = self.compact("set member")?;
            if set.insert(member, ()).is_some() {
                return Err(self.corrupt(at, Corruption::DuplicateElement));
            }
        }
        Ok(Value::Set(Box::new(set)))
    }

    fn hash(&mut self, seed: u64) -> Result<Value, LoadError> {
        let count = self.count("hash", MIN_HASH_PAIR_BYTES)?;
        let mut hash = Dict::with_seed(seed);
        for _ in 0..count {
            let at = self.offset;
            let field = self.compact("hash field")?;
            let value = self.compact("hash value")?;
            if hash.insert(field, value).is_some() {
                return Err(self.corrupt(at, Corruption::DuplicateElement));
            }
        }
        Ok(Value::Hash(Box::new(hash)))
    }

    fn zset(&mut self, seed: u64) -> Result<Value, LoadError> {
        let count = self.count("sorted set", MIN_ZSET_MEMBER_BYTES)?;
        let mut zset = ZSet::with_seed(seed);
        for _ in 0..count {
            let at = self.offset;
            self.scratch_bytes("sorted set member")?;
            let score_at = self.offset;
            let score = f64::from_bits(self.u64()?);
            if score.is_nan() {
                return Err(self.corrupt(score_at, Corruption::NanScore));
            }
            if zset.contains(&self.scratch) {
                return Err(self.corrupt(at, Corruption::DuplicateElement));
            }
            zset.insert(&self.scratch, score);
        }
        Ok(Value::ZSet(Box::new(zset)))
    }
}
