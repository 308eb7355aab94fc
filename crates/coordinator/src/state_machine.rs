//! The state machine behind openraft's `RaftStateMachine`: the cluster map,
//! the last applied log id and membership, and the newest snapshot.
//!
//! Applying an entry calls `ClusterMap::apply` and nothing else. When opened
//! on a directory, every snapshot built or installed is also saved there
//! (`snapshot_file`) before openraft may purge the log behind it; a restart
//! loads it and openraft re-applies the committed entries after it, so the
//! map itself needs no other persistence.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::RaftStateMachine;
use openraft::{AnyError, EntryPayload, RaftSnapshotBuilder, Snapshot, StorageIOError};
use tokio::sync::watch;

use crate::command::Outcome;
use crate::map::ClusterMap;
use crate::snapshot_file::{self, SnapshotFile};
use crate::types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

#[derive(Clone)]
pub struct StateMachineStore {
    inner: Arc<Mutex<Inner>>,
    /// The newest applied map, for readers that wait for a change.
    map_tx: watch::Sender<ClusterMap>,
}

struct Inner {
    last_applied: Option<LogId>,
    last_membership: StoredMembership,
    map: ClusterMap,
    snapshot: Option<SnapshotFile>,
    /// Distinguishes snapshots built at the same log id.
    snapshots_built: u64,
    dir: Option<PathBuf>,
}

impl StateMachineStore {
    /// A state machine that lives only in memory.
    pub fn in_memory() -> StateMachineStore {
        StateMachineStore::with(None, None)
    }

    /// A state machine whose snapshots are kept in `dir`; starts from the
    /// snapshot found there.
    pub fn open(dir: &Path) -> std::io::Result<StateMachineStore> {
        std::fs::create_dir_all(dir)?;
        let snapshot = snapshot_file::load(dir)?;
        Ok(StateMachineStore::with(Some(dir.to_path_buf()), snapshot))
    }

    fn with(dir: Option<PathBuf>, snapshot: Option<SnapshotFile>) -> StateMachineStore {
        let (last_applied, last_membership, map) = match &snapshot {
            Some(file) => (
                file.meta.last_log_id,
                file.meta.last_membership.clone(),
                file.map.clone(),
            ),
            None => (None, StoredMembership::default(), ClusterMap::default()),
        };
        let (map_tx, _) = watch::channel(map.clone());
        let inner = Inner {
            last_applied,
            last_membership,
            map,
            snapshot,
            snapshots_built: 0,
            dir,
        };
        StateMachineStore {
            inner: Arc::new(Mutex::new(inner)),
            map_tx,
        }
    }

    /// A copy of the applied map.
    pub fn map(&self) -> ClusterMap {
        self.lock().map.clone()
    }

    /// Follows the applied map as it changes.
    pub fn subscribe(&self) -> watch::Receiver<ClusterMap> {
        self.map_tx.subscribe()
    }

    pub fn last_applied(&self) -> Option<LogId> {
        self.lock().last_applied
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("state machine lock poisoned")
    }

    fn publish(&self, map: ClusterMap) {
        self.map_tx.send_replace(map);
    }
}

impl Inner {
    fn save_snapshot(&mut self, file: SnapshotFile) -> Result<(), StorageError> {
        if let Some(dir) = &self.dir {
            snapshot_file::save(dir, &file).map_err(|error| {
                StorageIOError::write_snapshot(Some(file.meta.signature()), AnyError::new(&error))
            })?;
        }
        self.snapshot = Some(file);
        Ok(())
    }
}

fn to_snapshot(file: &SnapshotFile) -> Result<Snapshot<TypeConfig>, StorageError> {
    let data = postcard::to_allocvec(&file.map).map_err(|error| {
        StorageIOError::read_snapshot(Some(file.meta.signature()), AnyError::new(&error))
    })?;
    Ok(Snapshot {
        meta: file.meta.clone(),
        snapshot: Box::new(Cursor::new(data)),
    })
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let mut inner = self.lock();
        inner.snapshots_built += 1;
        let last_log_id = inner.last_applied;
        let snapshot_id = match last_log_id {
            Some(log_id) => format!(
                "{}-{}-{}",
                log_id.leader_id, log_id.index, inner.snapshots_built
            ),
            None => format!("none-{}", inner.snapshots_built),
        };
        let file = SnapshotFile {
            meta: SnapshotMeta {
                last_log_id,
                last_membership: inner.last_membership.clone(),
                snapshot_id,
            },
            map: inner.map.clone(),
        };
        let snapshot = to_snapshot(&file)?;
        inner.save_snapshot(file)?;
        Ok(snapshot)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let inner = self.lock();
        Ok((inner.last_applied, inner.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut outcomes = Vec::new();
        let map = {
            let mut inner = self.lock();
            for entry in entries {
                assert!(
                    inner.last_applied < Some(entry.log_id),
                    "entries applied out of order"
                );
                inner.last_applied = Some(entry.log_id);
                let epoch = inner.map.fragment.epoch;
                match entry.payload {
                    EntryPayload::Blank => outcomes.push(Ok(epoch)),
                    EntryPayload::Normal(command) => outcomes.push(inner.map.apply(&command)),
                    EntryPayload::Membership(membership) => {
                        inner.last_membership =
                            StoredMembership::new(Some(entry.log_id), membership);
                        outcomes.push(Ok(epoch));
                    }
                }
            }
            inner.map.clone()
        };
        self.publish(map);
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let map: ClusterMap = postcard::from_bytes(snapshot.get_ref()).map_err(|error| {
            StorageIOError::read_snapshot(Some(meta.signature()), AnyError::new(&error))
        })?;
        map.check_invariants();
        {
            let mut inner = self.lock();
            inner.save_snapshot(SnapshotFile {
                meta: meta.clone(),
                map: map.clone(),
            })?;
            inner.last_applied = meta.last_log_id;
            inner.last_membership = meta.last_membership.clone();
            inner.map = map.clone();
        }
        self.publish(map);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let inner = self.lock();
        inner.snapshot.as_ref().map(to_snapshot).transpose()
    }
}
