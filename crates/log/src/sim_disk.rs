//! [`Disk`] in memory, for tests: it remembers which bytes and which
//! directory changes are durable, so a test can crash it at any point, and
//! it fails on request (disk full, I/O error on sync).
//!
//! Model:
//! - each file has its bytes and a synced length: the prefix a crash keeps.
//!   A crash keeps the synced bytes plus a chosen number of the bytes after
//!   them (a torn last write);
//! - a failed sync poisons the unsynced bytes, as Linux may drop dirty pages
//!   after an fsync error: a later sync makes durable only what comes before
//!   the poisoned range, until that range is truncated away and written
//!   again;
//! - truncation takes effect at once, crash or not (simpler than the real
//!   thing; the log only truncates unsynced bytes or a torn tail);
//! - creations, renames and removals are pending until `sync_dir` of their
//!   directory; a crash applies a chosen number of the oldest pending ones,
//!   in order (as a journaling file system does), and drops the rest;
//! - directories themselves are durable as soon as they are created;
//! - a crash makes every open handle stale: it fails from then on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::disk::{Disk, DiskFile};

/// What a crash keeps of what was not yet durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashPlan {
    /// Bytes kept after the synced prefix of every file (at most all).
    pub unsynced_bytes_kept: u64,
    /// Pending directory changes applied, oldest first (at most all).
    pub dir_ops_kept: usize,
}

impl CrashPlan {
    /// Keeps `unsynced_bytes_kept` bytes of each unsynced tail, and no
    /// directory change that was not synced.
    pub fn cut(unsynced_bytes_kept: u64) -> Self {
        CrashPlan {
            unsynced_bytes_kept,
            dir_ops_kept: 0,
        }
    }
}

/// A shared in-memory disk; clones see the same files.
#[derive(Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<SimState>>,
}

#[derive(Clone, Default)]
struct SimState {
    files: HashMap<u64, SimFile>,
    /// What a directory listing shows now.
    names: BTreeMap<PathBuf, u64>,
    /// What a crash finds before any pending change is applied.
    durable_names: BTreeMap<PathBuf, u64>,
    /// Directory changes not yet made durable, oldest first.
    pending: Vec<DirOp>,
    dirs: BTreeSet<PathBuf>,
    next_file_id: u64,
    /// Bumped by a crash; handles from before it are stale.
    generation: u64,
    /// Bytes appends may still write before failing with "disk full".
    write_budget: Option<u64>,
    fail_syncs: bool,
    /// Changes (create, append, sync, truncate, remove, rename, directory
    /// sync) still allowed before the disk stops taking any.
    changes_left: Option<u64>,
    /// Changes made so far.
    changes: u64,
}

#[derive(Clone, Default)]
struct SimFile {
    data: Vec<u8>,
    synced_len: usize,
    /// Start of bytes a failed sync may have dropped.
    poisoned_from: Option<usize>,
}

#[derive(Clone, Debug)]
enum DirOp {
    Link { path: PathBuf, id: u64 },
    Unlink { path: PathBuf },
    Rename { from: PathBuf, to: PathBuf },
}

impl DirOp {
    fn dir(&self) -> Option<&Path> {
        match self {
            DirOp::Link { path, .. } | DirOp::Unlink { path } => path.parent(),
            DirOp::Rename { to, .. } => to.parent(),
        }
    }

    fn apply(&self, names: &mut BTreeMap<PathBuf, u64>) {
        match self {
            DirOp::Link { path, id } => {
                names.insert(path.clone(), *id);
            }
            DirOp::Unlink { path } => {
                names.remove(path);
            }
            DirOp::Rename { from, to } => {
                if let Some(id) = names.remove(from) {
                    names.insert(to.clone(), id);
                }
            }
        }
    }
}

fn disk_full() -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        "No space left on device (simulated)",
    )
}

fn powered_off() -> io::Error {
    io::Error::other("device is powered off (simulated)")
}

fn io_error() -> io::Error {
    io::Error::other("Input/output error (simulated)")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file (simulated)", path.display()),
    )
}

impl SimDisk {
    pub fn new() -> Self {
        SimDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A test that panicked while holding the lock already failed; the
        // state is still usable for its report.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Crashes this disk: what was not durable is lost as `plan` says, and
    /// every open handle becomes stale.
    pub fn crash(&self, plan: CrashPlan) {
        let mut state = self.lock();
        let generation = state.generation + 1;
        *state = state.crash_image(plan);
        state.generation = generation;
    }

    /// A new disk holding what this one would hold after a crash now. This
    /// disk and its handles are untouched, so a running writer goes on.
    pub fn crashed_copy(&self, plan: CrashPlan) -> SimDisk {
        let image = self.lock().crash_image(plan);
        SimDisk {
            state: Arc::new(Mutex::new(image)),
        }
    }

    /// Appends fail with "disk full" once `bytes` more have been written
    /// (part of the failing append is written, as with a real disk).
    pub fn fail_writes_after(&self, bytes: u64) {
        self.lock().write_budget = Some(bytes);
    }

    /// Every file and directory sync fails with an I/O error while set.
    pub fn fail_syncs(&self, fail: bool) {
        self.lock().fail_syncs = fail;
    }

    /// After `changes` more changes (creates, appends, syncs, truncations,
    /// removals, renames, directory syncs) every change fails, as when the
    /// power goes in the middle of whatever the writer was doing. Crash
    /// the disk to see what survived.
    pub fn power_off_after(&self, changes: u64) {
        self.lock().changes_left = Some(changes);
    }

    /// Changes made to this disk so far (see [`SimDisk::power_off_after`]).
    pub fn changes(&self) -> u64 {
        self.lock().changes
    }

    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.write_budget = None;
        state.fail_syncs = false;
        state.changes_left = None;
    }

    /// The current bytes of the file at `path`, synced or not.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.lock();
        let id = state.names.get(path)?;
        Some(state.files.get(id)?.data.clone())
    }

    /// Bytes of the file at `path` that a crash may lose.
    pub fn unsynced_bytes(&self, path: &Path) -> u64 {
        let state = self.lock();
        state
            .names
            .get(path)
            .and_then(|id| state.files.get(id))
            .map_or(0, |file| (file.data.len() - file.synced_len) as u64)
    }

    /// The largest unsynced tail of any file.
    pub fn max_unsynced_bytes(&self) -> u64 {
        let state = self.lock();
        state
            .files
            .values()
            .map(|file| (file.data.len() - file.synced_len) as u64)
            .max()
            .unwrap_or(0)
    }

    /// Directory changes not yet made durable.
    pub fn pending_dir_ops(&self) -> usize {
        self.lock().pending.len()
    }

    /// Replaces the file at `path` with `bytes`, durably (name included).
    /// For tests that build or damage a log by hand.
    pub fn put_file(&self, path: &Path, bytes: Vec<u8>) {
        let mut state = self.lock();
        if let Some(parent) = path.parent() {
            state.dirs.insert(parent.to_path_buf());
        }
        let id = state.next_file_id;
        state.next_file_id += 1;
        let synced_len = bytes.len();
        state.files.insert(
            id,
            SimFile {
                data: bytes,
                synced_len,
                poisoned_from: None,
            },
        );
        state.names.insert(path.to_path_buf(), id);
        state.durable_names.insert(path.to_path_buf(), id);
    }

    /// Removes the file at `path` at once and durably.
    pub fn delete_file(&self, path: &Path) {
        let mut state = self.lock();
        state.names.remove(path);
        state.durable_names.remove(path);
    }

    /// Every file path that exists now, sorted.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.lock().names.keys().cloned().collect()
    }

    fn handle(&self, id: u64, generation: u64) -> Box<dyn DiskFile> {
        Box::new(SimHandle {
            disk: self.clone(),
            id,
            generation,
        })
    }
}

impl SimState {
    fn crash_image(&self, plan: CrashPlan) -> SimState {
        let mut names = self.durable_names.clone();
        for op in self.pending.iter().take(plan.dir_ops_kept) {
            op.apply(&mut names);
        }
        let mut files = HashMap::new();
        for id in names.values() {
            let Some(file) = self.files.get(id) else {
                continue;
            };
            let unsynced = file.data.len() - file.synced_len;
            let kept = usize::try_from(plan.unsynced_bytes_kept)
                .unwrap_or(usize::MAX)
                .min(unsynced);
            let data = file.data[..file.synced_len + kept].to_vec();
            let synced_len = data.len();
            files.insert(
                *id,
                SimFile {
                    data,
                    synced_len,
                    poisoned_from: None,
                },
            );
        }
        SimState {
            files,
            durable_names: names.clone(),
            names,
            pending: Vec::new(),
            dirs: self.dirs.clone(),
            next_file_id: self.next_file_id,
            generation: 0,
            write_budget: self.write_budget,
            fail_syncs: self.fail_syncs,
            changes_left: None,
            changes: 0,
        }
    }

    /// Counts one change, or fails if the power is off.
    fn change(&mut self) -> io::Result<()> {
        if self.changes_left == Some(0) {
            return Err(powered_off());
        }
        if let Some(left) = self.changes_left.as_mut() {
            *left -= 1;
        }
        self.changes += 1;
        Ok(())
    }

    fn check_dir(&self, path: &Path) -> io::Result<()> {
        let parent = path.parent().unwrap_or(Path::new(""));
        if self.dirs.contains(parent) {
            Ok(())
        } else {
            Err(not_found(parent))
        }
    }

    fn file_mut(&mut self, id: u64, generation: u64) -> io::Result<&mut SimFile> {
        if generation != self.generation {
            return Err(io::Error::other("stale file handle after a crash"));
        }
        self.files
            .get_mut(&id)
            .ok_or_else(|| io::Error::other("file handle to a lost file"))
    }
}

impl Disk for SimDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock();
        for ancestor in dir.ancestors() {
            state.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.lock();
        if !state.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(state
            .names
            .keys()
            .filter(|path| path.parent() == Some(dir))
            .filter_map(|path| path.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let mut state = self.lock();
        state.change()?;
        state.check_dir(path)?;
        if state.names.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: file exists (simulated)", path.display()),
            ));
        }
        let id = state.next_file_id;
        state.next_file_id += 1;
        state.files.insert(id, SimFile::default());
        state.names.insert(path.to_path_buf(), id);
        let path = path.to_path_buf();
        state.pending.push(DirOp::Link { path, id });
        let generation = state.generation;
        drop(state);
        Ok(self.handle(id, generation))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let state = self.lock();
        let id = *state.names.get(path).ok_or_else(|| not_found(path))?;
        let generation = state.generation;
        drop(state);
        Ok(self.handle(id, generation))
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.change()?;
        if state.names.remove(path).is_none() {
            return Err(not_found(path));
        }
        let path = path.to_path_buf();
        state.pending.push(DirOp::Unlink { path });
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.change()?;
        state.check_dir(to)?;
        let id = state.names.remove(from).ok_or_else(|| not_found(from))?;
        state.names.insert(to.to_path_buf(), id);
        state.pending.push(DirOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.change()?;
        if state.fail_syncs {
            return Err(io_error());
        }
        let pending = std::mem::take(&mut state.pending);
        let mut kept = Vec::new();
        for op in pending {
            if op.dir() == Some(dir) {
                op.apply(&mut state.durable_names);
            } else {
                kept.push(op);
            }
        }
        state.pending = kept;
        Ok(())
    }
}

struct SimHandle {
    disk: SimDisk,
    id: u64,
    generation: u64,
}

impl DiskFile for SimHandle {
    fn len(&self) -> io::Result<u64> {
        let mut state = self.disk.lock();
        Ok(state.file_mut(self.id, self.generation)?.data.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.disk.lock();
        let file = state.file_mut(self.id, self.generation)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(file.data.len());
        let read = buf.len().min(file.data.len() - start);
        buf[..read].copy_from_slice(&file.data[start..start + read]);
        Ok(read)
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut state = self.disk.lock();
        state.change()?;
        let budget = state.write_budget;
        let written = budget.map_or(data.len(), |left| {
            data.len().min(usize::try_from(left).unwrap_or(usize::MAX))
        });
        if let Some(left) = state.write_budget.as_mut() {
            *left -= written as u64;
        }
        let file = state.file_mut(self.id, self.generation)?;
        file.data.extend_from_slice(&data[..written]);
        if written < data.len() {
            return Err(disk_full());
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.disk.lock();
        state.change()?;
        let fail = state.fail_syncs;
        let file = state.file_mut(self.id, self.generation)?;
        if fail {
            // Poisoned bytes always start at the synced length: a good sync
            // stops there, and truncating there clears the poison.
            if file.data.len() > file.synced_len {
                file.poisoned_from = Some(file.synced_len);
            }
            return Err(io_error());
        }
        file.synced_len = file.poisoned_from.unwrap_or(file.data.len());
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut state = self.disk.lock();
        state.change()?;
        let file = state.file_mut(self.id, self.generation)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > file.data.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the log never extends a file by truncation",
            ));
        }
        file.data.truncate(len);
        file.synced_len = file.synced_len.min(len);
        if file.poisoned_from.is_some_and(|from| from >= len) {
            file.poisoned_from = None;
        }
        Ok(())
    }
}
