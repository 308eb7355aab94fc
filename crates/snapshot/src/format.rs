//! The constants and the header of the snapshot format, version 1.
//!
//! `docs/snapshot-format.md` is the specification; this module is its
//! transcription. Every integer is little-endian with the size written here.

use crate::error::Corruption;

/// First 8 bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"DAISYSNP";
/// Last 8 bytes of every complete snapshot file.
pub const END_MAGIC: [u8; 8] = *b"DAISYEND";
/// The version this code writes, and the only one it reads.
pub const VERSION: u16 = 1;

/// magic 8 + version 2 + flags 2 + fragment 4 + lsn 8 + epoch 8 +
/// created_ms 8 + header crc 4.
pub const HEADER_LEN: usize = 44;
/// end tag 1 + entry count 8 + file crc 4 + end magic 8.
pub const TRAILER_LEN: usize = 21;
/// The part of the trailer after the file checksum's coverage: crc + magic.
pub(crate) const TRAILER_UNCHECKED_LEN: usize = 12;
/// Offset of the header checksum.
const HEADER_CRC_AT: usize = HEADER_LEN - 4;

/// The tag that ends the entry stream; no entry type uses it.
pub const END_TAG: u8 = 0xFF;
pub(crate) const TYPE_STRING: u8 = 1;
pub(crate) const TYPE_LIST: u8 = 2;
pub(crate) const TYPE_SET: u8 = 3;
pub(crate) const TYPE_HASH: u8 = 4;
pub(crate) const TYPE_ZSET: u8 = 5;

/// Entry flag: an `expire_at_ms: u64` follows the key.
pub(crate) const ENTRY_HAS_EXPIRY: u8 = 1;

/// Longest byte string (key, string value, item, member, field, field
/// value): what a `u32` length can say. The server may let strings grow
/// past Redis's 512 MiB default (`proto_max_bulk_len`), and a snapshot
/// must hold whatever the keyspace holds.
pub const BYTES_MAX: u64 = u32::MAX as u64;
/// Most elements in one list, set, hash or sorted set.
pub const ELEMENTS_MAX: u64 = u32::MAX as u64;
/// Elements preallocated for one value, whatever its count says; the rest
/// grows as elements are actually read.
pub(crate) const PREALLOCATE_ELEMENTS_MAX: usize = 1_024;

/// Smallest encoding of one element, by value type: a length-prefixed
/// item; a field and a value; a member and a score.
pub(crate) const MIN_ITEM_BYTES: u64 = 4;
pub(crate) const MIN_HASH_PAIR_BYTES: u64 = 8;
pub(crate) const MIN_ZSET_MEMBER_BYTES: u64 = 12;

/// What a snapshot file says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub fragment_id: u32,
    /// The last log record the image contains.
    pub lsn: u64,
    /// The fragment's epoch at `lsn`.
    pub epoch: u64,
    /// Unix ms when the snapshot began; information only.
    pub created_ms: u64,
}

impl SnapshotHeader {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..8].copy_from_slice(&MAGIC);
        bytes[8..10].copy_from_slice(&VERSION.to_le_bytes());
        bytes[10..12].copy_from_slice(&0u16.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.fragment_id.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.lsn.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.epoch.to_le_bytes());
        bytes[32..40].copy_from_slice(&self.created_ms.to_le_bytes());
        let crc = crc32c::crc32c(&bytes[..HEADER_CRC_AT]);
        bytes[HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Checks magic, version, flags and checksum; returns the problem and
    /// its offset in the header otherwise.
    pub(crate) fn decode(bytes: &[u8; HEADER_LEN]) -> Result<SnapshotHeader, (u64, Corruption)> {
        if bytes[0..8] != MAGIC {
            return Err((0, Corruption::BadMagic));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != VERSION {
            return Err((8, Corruption::UnsupportedVersion { version }));
        }
        let flags = u16::from_le_bytes([bytes[10], bytes[11]]);
        if flags != 0 {
            return Err((10, Corruption::UnknownHeaderFlags { flags }));
        }
        let stored = u32_at(bytes, HEADER_CRC_AT);
        let computed = crc32c::crc32c(&bytes[..HEADER_CRC_AT]);
        if stored != computed {
            return Err((
                HEADER_CRC_AT as u64,
                Corruption::HeaderChecksum { stored, computed },
            ));
        }
        Ok(SnapshotHeader {
            fragment_id: u32_at(bytes, 12),
            lsn: u64_at(bytes, 16),
            epoch: u64_at(bytes, 24),
            created_ms: u64_at(bytes, 32),
        })
    }
}

/// The `u32` at `at` (little-endian); `at + 4 <= bytes.len()` by the
/// caller's fixed layout.
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// The `u64` at `at` (little-endian); `at + 8 <= bytes.len()` by the
/// caller's fixed layout.
pub(crate) fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// `snapshot-<lsn in 20 digits>.snap`: names sort in LSN order.
pub fn snapshot_file_name(lsn: u64) -> String {
    format!("snapshot-{lsn:020}.snap")
}

/// `snapshot-<lsn in 20 digits>.tmp`, the name while being written.
pub fn temporary_file_name(lsn: u64) -> String {
    format!("snapshot-{lsn:020}.tmp")
}

/// The LSN in a name made by [`snapshot_file_name`], if it is one.
pub fn parse_snapshot_file_name(name: &str) -> Option<u64> {
    parse_name(name, ".snap")
}

pub(crate) fn parse_temporary_file_name(name: &str) -> Option<u64> {
    parse_name(name, ".tmp")
}

fn parse_name(name: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_names_sort_by_lsn() {
        let header = SnapshotHeader {
            fragment_id: 7,
            lsn: u64::MAX,
            epoch: 3,
            created_ms: 1_700_000_000_000,
        };
        assert_eq!(SnapshotHeader::decode(&header.encode()), Ok(header));
        assert_eq!(snapshot_file_name(42), "snapshot-00000000000000000042.snap");
        assert_eq!(
            parse_snapshot_file_name(&snapshot_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_snapshot_file_name("snapshot-42.snap"), None);
        assert_eq!(parse_snapshot_file_name(&temporary_file_name(42)), None);
        assert!(snapshot_file_name(9) < snapshot_file_name(10));
    }
}
