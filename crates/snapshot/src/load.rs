//! Loading a snapshot: verify the whole file first, then read its entries.
//!
//! Owns: the two passes over a file — pass 1 checks the header, the
//! trailer and the whole-file checksum without keeping anything; pass 2
//! parses entries and checks the checksum again as it goes.
//! Must never: hand out an entry from a file whose checksum has not been
//! verified in full.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use daisy_keyspace::Db;

use crate::decode::{RestoredEntry, Source};
use crate::error::{Corruption, LoadError};
use crate::format::{
    u32_at, u64_at, SnapshotHeader, END_MAGIC, END_TAG, HEADER_LEN, TRAILER_LEN,
    TRAILER_UNCHECKED_LEN,
};
use crate::storage::{OsStorage, ReadFile, Storage};

/// Bytes read at a time while checking the whole-file checksum.
const VERIFY_CHUNK_BYTES: usize = 256 * 1024;

/// What to do with entries whose expiry time has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiredOnLoad {
    /// Leave out entries whose expiry is at or before `now_ms` (a primary
    /// loading at startup).
    Drop { now_ms: u64 },
    /// Keep every entry (a replica that waits for its primary's deletes).
    Keep,
}

/// What loading did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub restored: u64,
    pub dropped_expired: u64,
}

/// A snapshot file whose header, trailer and whole-file checksum are
/// verified; its entries are not parsed yet.
pub struct LoadedSnapshot {
    path: PathBuf,
    header: SnapshotHeader,
    entry_count: u64,
    file_len: u64,
    file_crc: u32,
    file: Box<dyn ReadFile>,
}

/// Opens `path` on the operating system's file system and verifies it
/// (pass 1). Nothing can be applied before this returns `Ok`.
pub fn load_snapshot(path: &Path) -> Result<LoadedSnapshot, LoadError> {
    LoadedSnapshot::verify(&OsStorage, path)
}

impl LoadedSnapshot {
    /// Pass 1 on `storage`: header, trailer, whole-file checksum.
    pub fn verify(storage: &dyn Storage, path: &Path) -> Result<LoadedSnapshot, LoadError> {
        let io_error = |offset: u64| {
            move |source| LoadError::Io {
                path: path.to_path_buf(),
                offset,
                source,
            }
        };
        let corrupt = |offset: u64, problem: Corruption| LoadError::Corrupt {
            path: path.to_path_buf(),
            offset,
            problem,
        };
        let mut file = storage.open(path).map_err(io_error(0))?;
        let file_len = file.size_bytes().map_err(io_error(0))?;
        if file_len < (HEADER_LEN + TRAILER_LEN) as u64 {
            return Err(corrupt(0, Corruption::TooShort { file_len }));
        }
        let mut header_bytes = [0u8; HEADER_LEN];
        file.read_exact(&mut header_bytes).map_err(io_error(0))?;
        let header = SnapshotHeader::decode(&header_bytes)
            .map_err(|(offset, problem)| corrupt(offset, problem))?;

        let trailer_at = file_len - TRAILER_LEN as u64;
        let mut trailer = [0u8; TRAILER_LEN];
        file.seek(SeekFrom::Start(trailer_at))
            .and_then(|_| file.read_exact(&mut trailer))
            .map_err(io_error(trailer_at))?;
        if trailer[13..21] != END_MAGIC {
            return Err(corrupt(trailer_at + 13, Corruption::MissingEndMagic));
        }
        if trailer[0] != END_TAG {
            let problem = Corruption::MissingEndTag { found: trailer[0] };
            return Err(corrupt(trailer_at, problem));
        }
        let entry_count = u64_at(&trailer, 1);
        let stored = u32_at(&trailer, 9);

        let checked_len = file_len - TRAILER_UNCHECKED_LEN as u64;
        let computed =
            checksum_prefix(&mut *file, checked_len).map_err(|(offset, source)| LoadError::Io {
                path: path.to_path_buf(),
                offset,
                source,
            })?;
        if stored != computed {
            let problem = Corruption::FileChecksum { stored, computed };
            return Err(corrupt(checked_len, problem));
        }
        Ok(LoadedSnapshot {
            path: path.to_path_buf(),
            header,
            entry_count,
            file_len,
            file_crc: computed,
            file,
        })
    }

    pub fn header(&self) -> &SnapshotHeader {
        &self.header
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of entries the trailer announces.
    pub fn entry_count(&self) -> u64 {
        self.entry_count
    }

    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Pass 2: the entries, parsed as they are read; values' hash tables
    /// use `seed`. The iterator checks each entry's form, the entry count
    /// and the checksum again; it does not detect a key that appears twice
    /// (see [`apply_to`](Self::apply_to)). It stops after the first error.
    pub fn entries(mut self, seed: u64) -> Result<EntryReader, LoadError> {
        self.file
            .seek(SeekFrom::Start(HEADER_LEN as u64))
            .map_err(|source| LoadError::Io {
                path: self.path.clone(),
                offset: HEADER_LEN as u64,
                source,
            })?;
        let header_crc = crc32c::crc32c(&self.header.encode());
        let entries_end = self.file_len - TRAILER_LEN as u64;
        Ok(EntryReader {
            source: Source::new(
                self.path,
                self.file,
                HEADER_LEN as u64,
                entries_end,
                header_crc,
            ),
            seed,
            verified_crc: self.file_crc,
            parsed: 0,
            done: false,
        })
    }

    /// Loads every entry into `db`, which must be empty (a fresh `Db`). On
    /// error `db` holds part of the snapshot: discard it.
    pub fn apply_to(self, db: &mut Db, expired: ExpiredOnLoad) -> Result<LoadStats, LoadError> {
        assert!(
            db.is_empty() && db.expires_len() == 0,
            "a snapshot loads into an empty Db"
        );
        let path = self.path.clone();
        let mut stats = LoadStats::default();
        for entry in self.entries(db.seed())? {
            let entry = entry?;
            let past = match (expired, entry.expire_at_ms) {
                (ExpiredOnLoad::Drop { now_ms }, Some(at_ms)) => at_ms <= now_ms,
                _ => false,
            };
            if past {
                stats.dropped_expired += 1;
                continue;
            }
            if !db.restore(&entry.key, entry.value, entry.expire_at_ms) {
                return Err(LoadError::Corrupt {
                    path,
                    offset: entry.offset,
                    problem: Corruption::DuplicateKey,
                });
            }
            stats.restored += 1;
        }
        Ok(stats)
    }
}

/// The CRC-32C of the first `len` bytes of `file`, or the offset where
/// reading failed.
fn checksum_prefix(file: &mut dyn ReadFile, len: u64) -> Result<u32, (u64, std::io::Error)> {
    file.seek(SeekFrom::Start(0)).map_err(|error| (0, error))?;
    let mut buffer = vec![0u8; VERIFY_CHUNK_BYTES];
    let mut crc = 0u32;
    let mut offset = 0u64;
    while offset < len {
        let want = (len - offset).min(VERIFY_CHUNK_BYTES as u64) as usize;
        file.read_exact(&mut buffer[..want])
            .map_err(|error| (offset, error))?;
        crc = crc32c::crc32c_append(crc, &buffer[..want]);
        offset += want as u64;
    }
    Ok(crc)
}

/// The entries of a verified snapshot, read one at a time.
pub struct EntryReader {
    source: Source,
    seed: u64,
    verified_crc: u32,
    parsed: u64,
    done: bool,
}

impl EntryReader {
    fn next_entry(&mut self) -> Result<Option<RestoredEntry>, LoadError> {
        let at = self.source.offset();
        let at_trailer = at == self.source.entries_end();
        let mut tag = [0u8; 1];
        self.source.read_raw(&mut tag)?;
        match (tag[0], at_trailer) {
            (END_TAG, true) => {
                self.finish()?;
                Ok(None)
            }
            (found, true) => Err(self.source.corrupt(at, Corruption::MissingEndTag { found })),
            (END_TAG, false) => {
                let remaining = self.source.entries_end() - at;
                Err(self
                    .source
                    .corrupt(at, Corruption::EndTagEarly { remaining }))
            }
            (tag, false) => {
                let entry = self.source.entry(at, tag, self.seed)?;
                self.parsed += 1;
                Ok(Some(entry))
            }
        }
    }

    /// Reads the trailer's count and checksum after the end tag.
    fn finish(&mut self) -> Result<(), LoadError> {
        let count_at = self.source.offset();
        let mut count = [0u8; 8];
        self.source.read_raw(&mut count)?;
        let stored = u64::from_le_bytes(count);
        if stored != self.parsed {
            let problem = Corruption::EntryCount {
                stored,
                parsed: self.parsed,
            };
            return Err(self.source.corrupt(count_at, problem));
        }
        let loaded = self.source.crc();
        if loaded != self.verified_crc {
            let problem = Corruption::ChangedWhileLoading {
                verified: self.verified_crc,
                loaded,
            };
            return Err(self.source.corrupt(self.source.offset(), problem));
        }
        Ok(())
    }
}

impl Iterator for EntryReader {
    type Item = Result<RestoredEntry, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}
