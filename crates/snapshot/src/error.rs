//! Errors of writing, listing and loading snapshots. They are operating
//! conditions (a full disk, a damaged file), never panics: a snapshot file
//! is untrusted input.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why the bytes of a snapshot file are not a valid snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// Shorter than a header and a trailer.
    TooShort {
        file_len: u64,
    },
    BadMagic,
    UnsupportedVersion {
        version: u16,
    },
    UnknownHeaderFlags {
        flags: u16,
    },
    HeaderChecksum {
        stored: u32,
        computed: u32,
    },
    /// No `DAISYEND` at the end: truncated, or never finished.
    MissingEndMagic,
    /// The byte before the trailer's count is not the end tag.
    MissingEndTag {
        found: u8,
    },
    FileChecksum {
        stored: u32,
        computed: u32,
    },
    /// The file's bytes changed between verifying and loading.
    ChangedWhileLoading {
        verified: u32,
        loaded: u32,
    },
    /// The header's LSN is not the one in the file's name.
    LsnMismatch {
        name_lsn: u64,
        header_lsn: u64,
    },
    UnknownType {
        tag: u8,
    },
    UnknownEntryFlags {
        flags: u8,
    },
    /// An entry runs into the trailer.
    PastEndOfEntries {
        needed: u64,
        remaining: u64,
    },
    /// The entries end before the trailer does begin.
    EndTagEarly {
        remaining: u64,
    },
    LengthOverLimit {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    LengthPastEnd {
        what: &'static str,
        len: u64,
        remaining: u64,
    },
    EmptyAggregate,
    DuplicateKey,
    DuplicateElement,
    NanScore,
    EntryCount {
        stored: u64,
        parsed: u64,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::TooShort { file_len } => {
                write!(f, "{file_len} bytes is too short for a snapshot")
            }
            Corruption::BadMagic => write!(f, "not a snapshot file (bad magic)"),
            Corruption::UnsupportedVersion { version } => {
                write!(f, "unsupported snapshot version {version}")
            }
            Corruption::UnknownHeaderFlags { flags } => {
                write!(f, "unknown header flags {flags:#06x}")
            }
            Corruption::HeaderChecksum { stored, computed } => write!(
                f,
                "header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Corruption::MissingEndMagic => {
                write!(f, "no end magic: the file is truncated or unfinished")
            }
            Corruption::MissingEndTag { found } => {
                write!(f, "expected the end tag 0xff, found {found:#04x}")
            }
            Corruption::FileChecksum { stored, computed } => write!(
                f,
                "file checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Corruption::ChangedWhileLoading { verified, loaded } => write!(
                f,
                "the file changed while loading (checksum {verified:#010x}, then {loaded:#010x})"
            ),
            Corruption::LsnMismatch {
                name_lsn,
                header_lsn,
            } => write!(f, "named for LSN {name_lsn} but holds LSN {header_lsn}"),
            Corruption::UnknownType { tag } => write!(f, "unknown entry type {tag}"),
            Corruption::UnknownEntryFlags { flags } => {
                write!(f, "unknown entry flags {flags:#04x}")
            }
            Corruption::PastEndOfEntries { needed, remaining } => write!(
                f,
                "entry needs {needed} more bytes but only {remaining} remain before the trailer"
            ),
            Corruption::EndTagEarly { remaining } => {
                write!(f, "end tag found {remaining} bytes before the trailer")
            }
            Corruption::LengthOverLimit { what, len, limit } => {
                write!(f, "{what} length {len} is over the limit {limit}")
            }
            Corruption::LengthPastEnd {
                what,
                len,
                remaining,
            } => write!(
                f,
                "{what} length {len} is more than the {remaining} bytes left"
            ),
            Corruption::EmptyAggregate => write!(f, "empty list, set, hash or sorted set"),
            Corruption::DuplicateKey => write!(f, "key appears twice"),
            Corruption::DuplicateElement => write!(f, "member or field appears twice"),
            Corruption::NanScore => write!(f, "NaN score"),
            Corruption::EntryCount { stored, parsed } => {
                write!(f, "trailer counts {stored} entries but {parsed} were read")
            }
        }
    }
}

/// A snapshot file could not be read, or is not valid. Names the file and
/// the byte offset.
#[derive(Debug)]
pub enum LoadError {
    Io {
        path: PathBuf,
        offset: u64,
        source: io::Error,
    },
    Corrupt {
        path: PathBuf,
        offset: u64,
        problem: Corruption,
    },
}

impl LoadError {
    pub fn path(&self) -> &std::path::Path {
        match self {
            LoadError::Io { path, .. } | LoadError::Corrupt { path, .. } => path,
        }
    }

    pub fn offset(&self) -> u64 {
        match self {
            LoadError::Io { offset, .. } | LoadError::Corrupt { offset, .. } => *offset,
        }
    }

    /// The corruption found, if the error is one.
    pub fn corruption(&self) -> Option<&Corruption> {
        match self {
            LoadError::Corrupt { problem, .. } => Some(problem),
            LoadError::Io { .. } => None,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io {
                path,
                offset,
                source,
            } => write!(
                f,
                "snapshot {}: I/O error at byte {offset}: {source}",
                path.display()
            ),
            LoadError::Corrupt {
                path,
                offset,
                problem,
            } => write!(
                f,
                "snapshot {}: corrupt at byte {offset}: {problem}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { source, .. } => Some(source),
            LoadError::Corrupt { .. } => None,
        }
    }
}

/// A file-system operation on the snapshot directory failed (creating,
/// writing, syncing, renaming, listing, removing).
#[derive(Debug)]
pub struct StorageError {
    pub path: PathBuf,
    pub action: &'static str,
    pub source: io::Error,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot storage: cannot {} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// An entry the format cannot hold: a byte string or an element count
/// beyond what its length field can say. Nothing was encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    pub key: Vec<u8>,
    pub what: &'static str,
    pub len: u64,
    pub limit: u64,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot snapshot key {:?}: {} length {} is over the format's limit {}",
            String::from_utf8_lossy(&self.key),
            self.what,
            self.len,
            self.limit
        )
    }
}

impl std::error::Error for EncodeError {}
