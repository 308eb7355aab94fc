//! The bytes on disk: segment file names, the segment header and the record
//! header, as documented in `docs/log-format.md`.
//!
//! Owns: encoding and decoding, and the checksums. Must never: do I/O or
//! decide what a damaged byte means (the scanner does). Every integer is
//! little-endian with the size written next to it.

use crate::knobs::MAX_PAYLOAD_BYTES;

/// The segment header's size in bytes.
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// A record's header size in bytes (the payload follows).
pub const RECORD_HEADER_BYTES: usize = 24;
/// The first 8 bytes of every segment.
pub const MAGIC: [u8; 8] = *b"DAISYLOG";
/// The format version this crate writes and the only one it reads.
pub const FORMAT_VERSION: u16 = 1;

const SEGMENT_PREFIX: &str = "log-";
const SEGMENT_SUFFIX: &str = ".seg";
const TEMP_SUFFIX: &str = ".tmp";
/// Digits of the LSN in a segment name: `u64::MAX` has 20.
const NAME_LSN_DIGITS: usize = 20;

/// The file name of the segment whose first LSN is `first_lsn`.
pub fn segment_file_name(first_lsn: u64) -> String {
    format!("{SEGMENT_PREFIX}{first_lsn:020}{SEGMENT_SUFFIX}")
}

/// The name a segment has while it is being created.
pub fn temp_file_name(first_lsn: u64) -> String {
    format!("{}{TEMP_SUFFIX}", segment_file_name(first_lsn))
}

/// What a file name in a log directory says about the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Segment { first_lsn: u64 },
    Temp,
    Other,
}

pub fn classify_file_name(name: &str) -> FileKind {
    if let Some(base) = name.strip_suffix(TEMP_SUFFIX) {
        if parse_segment_name(base).is_some() {
            return FileKind::Temp;
        }
        return FileKind::Other;
    }
    match parse_segment_name(name) {
        Some(first_lsn) => FileKind::Segment { first_lsn },
        None => FileKind::Other,
    }
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != NAME_LSN_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The decoded segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub fragment_id: u32,
    pub first_lsn: u64,
}

/// Why a segment header was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFault {
    BadMagic,
    BadChecksum { stored: u32, computed: u32 },
    UnsupportedVersion(u16),
    UnsupportedFlags(u16),
    NonZeroReserved,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut out = [0u8; SEGMENT_HEADER_BYTES];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[10..12].copy_from_slice(&0u16.to_le_bytes());
        out[12..16].copy_from_slice(&self.fragment_id.to_le_bytes());
        out[16..24].copy_from_slice(&self.first_lsn.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..24]);
        out[24..28].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a header; the checksum is checked first, so a damaged
    /// version field reads as damage rather than as a future format.
    pub fn decode(bytes: &[u8; SEGMENT_HEADER_BYTES]) -> Result<SegmentHeader, HeaderFault> {
        if bytes[0..8] != MAGIC {
            return Err(HeaderFault::BadMagic);
        }
        let stored = u32_at(bytes, 24);
        let computed = crc32c::crc32c(&bytes[0..24]);
        if stored != computed {
            return Err(HeaderFault::BadChecksum { stored, computed });
        }
        let version = u16_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderFault::UnsupportedVersion(version));
        }
        let flags = u16_at(bytes, 10);
        if flags != 0 {
            return Err(HeaderFault::UnsupportedFlags(flags));
        }
        if bytes[28..32] != [0u8; 4] {
            return Err(HeaderFault::NonZeroReserved);
        }
        Ok(SegmentHeader {
            fragment_id: u32_at(bytes, 12),
            first_lsn: u64_at(bytes, 16),
        })
    }
}

/// A record's header as read from disk, before its checksum is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub payload_len: u32,
    pub crc: u32,
    pub lsn: u64,
    pub epoch: u64,
}

impl RecordHeader {
    pub fn decode(bytes: &[u8; RECORD_HEADER_BYTES]) -> RecordHeader {
        RecordHeader {
            payload_len: u32_at(bytes, 0),
            crc: u32_at(bytes, 4),
            lsn: u64_at(bytes, 8),
            epoch: u64_at(bytes, 16),
        }
    }

    /// Bytes the whole record takes on disk.
    pub fn record_bytes(&self) -> u64 {
        RECORD_HEADER_BYTES as u64 + u64::from(self.payload_len)
    }

    /// The checksum state after the covered header fields (`len`, `lsn`,
    /// `epoch`); continue it over the payload with [`crc32c::crc32c_append`].
    pub fn crc_of_header_fields(&self) -> u32 {
        header_fields_crc(self.payload_len, self.lsn, self.epoch)
    }
}

fn header_fields_crc(payload_len: u32, lsn: u64, epoch: u64) -> u32 {
    let mut fields = [0u8; 20];
    fields[0..4].copy_from_slice(&payload_len.to_le_bytes());
    fields[4..12].copy_from_slice(&lsn.to_le_bytes());
    fields[12..20].copy_from_slice(&epoch.to_le_bytes());
    crc32c::crc32c(&fields)
}

/// Appends one encoded record to `out`.
///
/// Panics if the payload is over [`MAX_PAYLOAD_BYTES`]: callers check the
/// size before they accept a record.
pub fn encode_record(out: &mut Vec<u8>, lsn: u64, epoch: u64, payload: &[u8]) {
    let payload_len = u32::try_from(payload.len())
        .ok()
        .filter(|len| *len <= MAX_PAYLOAD_BYTES)
        .unwrap_or_else(|| {
            panic!(
                "record payload of {} bytes is over the limit",
                payload.len()
            )
        });
    let crc = crc32c::crc32c_append(header_fields_crc(payload_len, lsn, epoch), payload);
    out.reserve(RECORD_HEADER_BYTES + payload.len());
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Bytes a record with this payload takes on disk.
pub fn record_bytes(payload_len: usize) -> u64 {
    RECORD_HEADER_BYTES as u64 + payload_len as u64
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_by_lsn_and_parse_back() {
        let names: Vec<String> = [1, 9, 10, u64::MAX].map(segment_file_name).to_vec();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names[0], "log-00000000000000000001.seg");
        assert_eq!(
            classify_file_name(&names[3]),
            FileKind::Segment {
                first_lsn: u64::MAX
            }
        );
        assert_eq!(classify_file_name(&temp_file_name(7)), FileKind::Temp);
        assert_eq!(classify_file_name("log-1.seg"), FileKind::Other);
        assert_eq!(
            classify_file_name("log-0000000000000000000x.seg"),
            FileKind::Other
        );
        assert_eq!(classify_file_name("snapshot.rdb"), FileKind::Other);
    }

    #[test]
    fn header_round_trips_and_names_each_fault() {
        let header = SegmentHeader {
            fragment_id: 7,
            first_lsn: 4097,
        };
        let bytes = header.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(header));

        let mut bad = bytes;
        bad[0] = b'X';
        assert_eq!(SegmentHeader::decode(&bad), Err(HeaderFault::BadMagic));

        let mut bad = bytes;
        bad[17] ^= 1;
        assert!(matches!(
            SegmentHeader::decode(&bad),
            Err(HeaderFault::BadChecksum { .. })
        ));

        let mut bad = bytes;
        bad[8] = 2;
        let crc = crc32c::crc32c(&bad[0..24]);
        bad[24..28].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            SegmentHeader::decode(&bad),
            Err(HeaderFault::UnsupportedVersion(2))
        );

        let mut bad = bytes;
        bad[31] = 1;
        assert_eq!(
            SegmentHeader::decode(&bad),
            Err(HeaderFault::NonZeroReserved)
        );
    }

    #[test]
    fn record_layout_is_little_endian_with_the_documented_checksum() {
        let mut out = Vec::new();
        encode_record(&mut out, 0x0102, 3, b"abc");
        assert_eq!(out.len(), RECORD_HEADER_BYTES + 3);
        assert_eq!(&out[0..4], &[3, 0, 0, 0]);
        assert_eq!(&out[8..16], &[0x02, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&out[16..24], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&out[24..], b"abc");
        let mut covered = out[0..4].to_vec();
        covered.extend_from_slice(&out[8..]);
        let header = RecordHeader::decode(out[0..24].try_into().expect("24 bytes"));
        assert_eq!(header.crc, crc32c::crc32c(&covered));
        assert_eq!(
            crc32c::crc32c_append(header.crc_of_header_fields(), b"abc"),
            header.crc
        );
    }
}
