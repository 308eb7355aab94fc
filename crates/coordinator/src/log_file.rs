//! The durable Raft log of one voter: `<dir>/raft.log`.
//!
//! Format (version 1): 8 bytes `DAISYRLG`, u32 BE version, then records,
//! each a u32 BE body length, the body (postcard `LogRecord`), and a u32 BE
//! CRC-32C of the body. Every change (vote, appended entries, truncation,
//! purge, commit index) is one more record, written and fsynced before the
//! call returns; recovery replays them in order. A torn last record (short,
//! or failing its checksum with nothing after it) is cut off; any other bad
//! record is corruption and opening fails with the offset.
//!
//! The file is rewritten (temporary file, fsync, rename, fsync of the
//! directory) once it holds more than `COMPACT_MIN_RECORDS` records and
//! more than twice as many as the live state needs.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::types::{Entry, LogId, Vote};

const MAGIC: &[u8; 8] = b"DAISYRLG";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 12;
/// The largest record body accepted; a command is a few hundred bytes.
pub const RECORD_MAX_BYTES: usize = 16 << 20;
/// Rewrite the file only once it has at least this many records.
pub const COMPACT_MIN_RECORDS: u64 = 4_096;

pub const FILE_NAME: &str = "raft.log";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum LogRecord {
    Vote(Vote),
    Committed(Option<LogId>),
    Entry(Entry),
    /// Entries at this index and after are gone.
    TruncateFrom(u64),
    /// Entries up to and including this one are gone.
    PurgeUpTo(LogId),
}

/// The state the records describe.
#[derive(Clone, Debug, Default)]
pub struct LogState {
    pub vote: Option<Vote>,
    pub committed: Option<LogId>,
    pub last_purged: Option<LogId>,
    pub entries: BTreeMap<u64, Entry>,
}

impl LogState {
    pub fn replay(&mut self, record: LogRecord) {
        match record {
            LogRecord::Vote(vote) => self.vote = Some(vote),
            LogRecord::Committed(committed) => self.committed = committed,
            LogRecord::Entry(entry) => {
                self.entries.insert(entry.log_id.index, entry);
            }
            LogRecord::TruncateFrom(index) => {
                self.entries.split_off(&index);
            }
            LogRecord::PurgeUpTo(log_id) => {
                self.last_purged = Some(log_id);
                self.entries = self.entries.split_off(&(log_id.index + 1));
            }
        }
    }

    /// The records that rebuild this state from nothing.
    fn records(&self) -> Vec<LogRecord> {
        let mut records = Vec::with_capacity(self.entries.len() + 3);
        records.extend(self.vote.map(LogRecord::Vote));
        records.push(LogRecord::Committed(self.committed));
        records.extend(self.last_purged.map(LogRecord::PurgeUpTo));
        records.extend(self.entries.values().cloned().map(LogRecord::Entry));
        records
    }
}

pub struct LogFile {
    dir: PathBuf,
    file: File,
    records: u64,
}

impl LogFile {
    /// Opens (or creates) the log in `dir` and recovers its state.
    pub fn open(dir: &Path) -> io::Result<(LogFile, LogState)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            write_new(dir, &[])?;
        }
        let bytes = fs::read(&path)?;
        let (state, records, valid_len) = parse(&path, &bytes)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        if valid_len < bytes.len() {
            tracing::warn!(path = %path.display(), offset = valid_len, "cutting a torn record off the raft log");
            file.set_len(valid_len as u64)?;
            file.sync_all()?;
        }
        let log = LogFile {
            dir: dir.to_path_buf(),
            file,
            records,
        };
        Ok((log, state))
    }

    /// Appends `records` and fsyncs them. On an error the file is cut back
    /// to where it ended, so that a later append (a retry once the disk
    /// has room) never follows a torn record: recovery would take that for
    /// corruption.
    pub fn append(&mut self, records: &[LogRecord]) -> io::Result<()> {
        let mut buffer = Vec::new();
        for record in records {
            encode(record, &mut buffer)?;
        }
        let end = self.file.metadata()?.len();
        let written = self
            .file
            .write_all(&buffer)
            .and_then(|()| self.file.sync_data());
        if let Err(error) = written {
            if let Err(cut) = self.file.set_len(end).and_then(|()| self.file.sync_data()) {
                return Err(io::Error::other(format!(
                    "{error}; and the torn tail could not be cut off: {cut}"
                )));
            }
            return Err(error);
        }
        self.records += records.len() as u64;
        Ok(())
    }

    /// Rewrites the file to hold only `state`, when it has grown enough.
    pub fn maybe_compact(&mut self, state: &LogState) -> io::Result<()> {
        let live = state.entries.len() as u64 + 3;
        if self.records < COMPACT_MIN_RECORDS || self.records < 2 * live {
            return Ok(());
        }
        let records = state.records();
        write_new(&self.dir, &records)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(self.dir.join(FILE_NAME))?;
        self.records = records.len() as u64;
        Ok(())
    }
}

fn encode(record: &LogRecord, out: &mut Vec<u8>) -> io::Result<()> {
    let body = postcard::to_allocvec(record).map_err(io::Error::other)?;
    if body.len() > RECORD_MAX_BYTES {
        return Err(io::Error::other(format!(
            "raft log record of {} bytes",
            body.len()
        )));
    }
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    Ok(())
}

/// Writes a whole new file through a temporary and a rename.
fn write_new(dir: &Path, records: &[LogRecord]) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(HEADER_BYTES);
    buffer.extend_from_slice(MAGIC);
    buffer.extend_from_slice(&VERSION.to_be_bytes());
    for record in records {
        encode(record, &mut buffer)?;
    }
    crate::snapshot_file::replace_file(dir, FILE_NAME, &buffer)
}

/// Replays every valid record; returns the state, the record count and the
/// length of the valid prefix.
fn parse(path: &Path, bytes: &[u8]) -> io::Result<(LogState, u64, usize)> {
    let corrupt = |offset: usize, what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {what} at byte offset {offset}", path.display()),
        )
    };
    if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
        return Err(corrupt(0, "not a raft log"));
    }
    let version = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(corrupt(8, &format!("unknown version {version}")));
    }
    let mut state = LogState::default();
    let mut records = 0;
    let mut offset = HEADER_BYTES;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let Some(len_bytes) = rest.get(..4) else {
            break;
        };
        let len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        if len > RECORD_MAX_BYTES {
            return Err(corrupt(offset, "record length out of range"));
        }
        let Some(frame) = rest.get(4..4 + len + 4) else {
            break;
        };
        let (body, crc) = frame.split_at(len);
        let crc = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let is_last = offset + 4 + len + 4 == bytes.len();
        if crc32c::crc32c(body) != crc {
            if is_last {
                break;
            }
            return Err(corrupt(offset, "record checksum mismatch"));
        }
        let record: LogRecord =
            postcard::from_bytes(body).map_err(|_| corrupt(offset, "undecodable record"))?;
        state.replay(record);
        records += 1;
        offset += 4 + len + 4;
    }
    Ok((state, records, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("daisy-raft-log-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_log_of_mostly_garbage_is_rewritten_and_recovers_the_same_state() {
        let dir = temp_dir("compact");
        let (mut log, mut state) = LogFile::open(&dir).expect("open");
        for index in 0..COMPACT_MIN_RECORDS + 10 {
            let committed = Some(LogId::new(openraft::CommittedLeaderId::new(1, 1), index));
            let record = LogRecord::Committed(committed);
            log.append(std::slice::from_ref(&record)).expect("append");
            state.replay(record);
            log.maybe_compact(&state).expect("compact");
        }
        assert!(log.records <= 11, "not compacted: {} records", log.records);
        let (_, recovered) = LogFile::open(&dir).expect("reopen");
        assert_eq!(recovered.committed, state.committed);
        let _ = fs::remove_dir_all(&dir);
    }
}
