//! The secondary's side: find the primary, hand-shake, take a snapshot if
//! told to, then append (and, hot, apply) every record and acknowledge.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use daisy_replication::message::{
    Hello, Start, ToPrimary, ToSecondary, Welcome, FRAME_BYTES_MAX, HANDSHAKE_FRAME_BYTES_MAX,
    PROTOCOL_VERSION,
};
use daisy_replication::{EpochHistory, NodeState};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::{current, pause, probe_all, wire, CONNECT_TIMEOUT, LINK_TIMEOUT, RETRY_PAUSE};
use crate::node::{now_ms, Node};
use crate::persistence;

/// A secondary acknowledges at least this often, so the primary can tell
/// a quiet link from a dead one.
const ACK_INTERVAL: Duration = Duration::from_millis(100);
/// Pause when the local log cannot take a record yet.
const LOG_BUSY_PAUSE: Duration = Duration::from_millis(5);

/// Follows the primary until the node's role changes.
pub async fn follow(node: &Rc<RefCell<Node>>, generation: u64) {
    let mut target: Option<String> = None;
    while current(node, generation) {
        let spare = node
            .borrow()
            .repl
            .as_ref()
            .and_then(|r| r.coordination.as_ref())
            .is_some_and(|c| c.is_spare());
        if spare {
            // A spare holds no replica until the map gives it one.
            pause(node, RETRY_PAUSE).await;
            continue;
        }
        let (members, my_id, known) = {
            let node = node.borrow();
            let repl = node.repl.as_ref().expect("replication");
            (
                repl.dial.clone(),
                repl.node_id.clone(),
                repl.state.primary_id.clone(),
            )
        };
        let primary = target.take().unwrap_or(known);
        let Some(member) = members.iter().find(|m| m.id == primary && m.id != my_id) else {
            target = discover(node, &members, &my_id).await;
            if target.is_none() {
                pause(node, RETRY_PAUSE).await;
            }
            continue;
        };
        match session(node, member.peer_addr, generation).await {
            Ok(Next::Try(other)) => {
                target = Some(other);
                pause(node, RETRY_PAUSE).await;
            }
            Ok(Next::Retry) => {
                target = discover(node, &members, &my_id).await;
                pause(node, RETRY_PAUSE).await;
            }
            Err(error) => {
                tracing::info!(primary = %member.id, %error, "link to the primary lost");
                target = discover(node, &members, &my_id).await;
                pause(node, RETRY_PAUSE).await;
            }
        }
        set_link_down(node);
    }
}

enum Next {
    /// Another member is the primary.
    Try(String),
    /// Nobody to follow right now.
    Retry,
}

/// Asks every member who the primary is: the one with the highest epoch
/// that says it is primary.
async fn discover(
    node: &Rc<RefCell<Node>>,
    members: &[daisy_replication::Member],
    my_id: &str,
) -> Option<String> {
    let cluster = node.borrow().repl.as_ref().map_or(0, |r| r.cluster);
    let views = probe_all(members, my_id, cluster).await;
    let best = views
        .iter()
        .filter(|v| v.is_primary)
        .max_by_key(|v| v.epoch)?;
    let known_epoch = node.borrow().repl.as_ref().map_or(0, |r| r.state.epoch);
    (best.epoch >= known_epoch).then(|| best.node_id.clone())
}

fn set_link_down(node: &Rc<RefCell<Node>>) {
    if let Some(repl) = node.borrow_mut().repl.as_mut() {
        repl.link.up = false;
        repl.link.syncing = false;
    }
}

async fn session(
    node: &Rc<RefCell<Node>>,
    addr: std::net::SocketAddr,
    generation: u64,
) -> io::Result<Next> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let hello = {
        let node = node.borrow();
        let repl = node.repl.as_ref().expect("replication");
        let journal = node
            .journal
            .as_ref()
            .expect("replication needs persistence");
        Hello {
            protocol: PROTOCOL_VERSION,
            cluster: repl.cluster,
            node_id: repl.node_id.clone(),
            client_addr: node.config.client_addr.to_string(),
            epoch: repl.state.epoch,
            last_lsn: journal.last_lsn(),
            snapshot_lsn: node.snapshots.lsn,
            history: repl.state.history.entries().to_vec(),
            applies: !repl.warm,
        }
    };
    wire::write_message(&mut writer, &ToPrimary::Hello(hello), LINK_TIMEOUT).await?;
    let answer: ToSecondary =
        wire::read_message(&mut reader, HANDSHAKE_FRAME_BYTES_MAX, LINK_TIMEOUT).await?;
    let welcome = match answer {
        ToSecondary::Welcome(welcome) => welcome,
        ToSecondary::Refused {
            reason,
            epoch,
            primary_id,
        } => {
            tracing::info!(%reason, epoch, "the primary refused the handshake");
            let my_epoch = node.borrow().repl.as_ref().map_or(0, |r| r.state.epoch);
            return Ok(match primary_id {
                Some(id) if epoch >= my_epoch => Next::Try(id),
                _ => Next::Retry,
            });
        }
        other => return Err(invalid(&format!("unexpected handshake answer {other:?}"))),
    };
    if !adopt(node, &welcome)? {
        return Ok(Next::Retry);
    }
    let mut next = match welcome.start {
        Start::Resume { from_lsn } => from_lsn,
        Start::Truncate { keep_through } => {
            let mut node = node.borrow_mut();
            let cut = close_and_set_aside(&mut node, Some(keep_through), welcome.epoch)
                .and_then(|()| cut_back(&mut node, keep_through));
            reopen_after_failure(&mut node, cut)
                .map_err(|e| io::Error::other(format!("cannot cut the log back: {e}")))?;
            keep_through + 1
        }
        Start::FullSync {
            snapshot_lsn,
            bytes,
            keep_through,
        } => {
            receive_snapshot(
                node,
                &mut reader,
                snapshot_lsn,
                bytes,
                keep_through,
                &welcome,
            )
            .await?;
            snapshot_lsn + 1
        }
    };
    {
        let mut node = node.borrow_mut();
        let last = node.last_lsn();
        if next != last + 1 {
            return Err(invalid(&format!(
                "the primary starts at {next} but this log ends at {last}"
            )));
        }
        let repl = node.repl.as_mut().expect("replication");
        repl.link.up = true;
        repl.link.verified = true;
        repl.link.applied_lsn = if repl.warm { 0 } else { last };
    }
    let acker = tokio::task::spawn_local(acknowledge(node.clone(), writer, generation));
    let result = receive_records(node, &mut reader, &mut next, welcome.epoch, generation).await;
    acker.abort();
    result.map(|()| Next::Retry)
}

/// Takes the primary's epoch and history. False if the primary is from an
/// older epoch than this node has seen (it was deposed): refuse it.
fn adopt(node: &Rc<RefCell<Node>>, welcome: &Welcome) -> io::Result<bool> {
    let mut node = node.borrow_mut();
    let data_dir = node.config.data_dir.clone();
    let repl = node.repl.as_mut().expect("replication");
    if welcome.epoch < repl.state.epoch {
        tracing::warn!(
            "refusing primary {} at epoch {}: this node has seen epoch {}",
            welcome.primary_id,
            welcome.epoch,
            repl.state.epoch
        );
        return Ok(false);
    }
    let history = EpochHistory::from_entries(welcome.history.clone()).map_err(|e| invalid(&e))?;
    let state = NodeState {
        epoch: welcome.epoch,
        primary_id: welcome.primary_id.clone(),
        history,
        promoted_at_lsn: repl.state.promoted_at_lsn,
    };
    if state != repl.state {
        state
            .save(&data_dir)
            .map_err(|e| io::Error::other(e.to_string()))?;
        repl.state = state;
    }
    repl.link.primary_client_addr = welcome.client_addr.clone();
    repl.link.last_contact_ms = now_ms();
    if let Some(journal) = &mut node.journal {
        journal.set_epoch(welcome.epoch.max(journal.epoch()));
    }
    Ok(true)
}

async fn receive_snapshot(
    node: &Rc<RefCell<Node>>,
    reader: &mut OwnedReadHalf,
    snapshot_lsn: u64,
    bytes: u64,
    keep_through: Option<u64>,
    welcome: &Welcome,
) -> io::Result<()> {
    let (dir, data_dir) = {
        let mut node = node.borrow_mut();
        let repl = node.repl.as_mut().expect("replication");
        repl.link.syncing = true;
        repl.link.sync_bytes_total = bytes;
        repl.link.sync_bytes_received = 0;
        let data_dir = node.config.data_dir.clone();
        (persistence::snapshot_dir(&data_dir), data_dir)
    };
    tracing::info!(
        "full sync from {}: snapshot at LSN {snapshot_lsn}, {bytes} bytes",
        welcome.primary_id
    );
    std::fs::create_dir_all(&dir)?;
    let temp = dir.join(daisy_snapshot::temporary_file_name(snapshot_lsn));
    let mut file = std::fs::File::create(&temp)?;
    let mut received = 0u64;
    let mut reported = 0u64;
    loop {
        let message: ToSecondary =
            wire::read_message(reader, FRAME_BYTES_MAX, LINK_TIMEOUT).await?;
        match message {
            ToSecondary::SnapshotChunk(chunk) => {
                received += chunk.len() as u64;
                if received > bytes {
                    return Err(invalid("the snapshot is longer than announced"));
                }
                file.write_all(&chunk)?;
                if bytes > 0 && received * 4 / bytes > reported {
                    reported = received * 4 / bytes;
                    tracing::info!("full sync: {received} of {bytes} snapshot bytes received");
                }
                if let Some(repl) = node.borrow_mut().repl.as_mut() {
                    repl.link.sync_bytes_received = received;
                    repl.link.last_contact_ms = now_ms();
                }
            }
            ToSecondary::SnapshotEnd => break,
            ToSecondary::Heartbeat { .. } => {}
            other => {
                return Err(invalid(&format!(
                    "unexpected message in a snapshot: {other:?}"
                )))
            }
        }
    }
    if received != bytes {
        return Err(invalid(&format!(
            "snapshot of {received} bytes, {bytes} announced"
        )));
    }
    file.sync_all()?;
    drop(file);
    let loaded = daisy_snapshot::SnapshotDir::new(&dir)
        .load(&temp)
        .map_err(|e| invalid(&format!("the received snapshot is damaged: {e}")))?;
    if loaded.header().lsn != snapshot_lsn {
        return Err(invalid("the received snapshot has another LSN"));
    }
    drop(loaded);
    let mut node = node.borrow_mut();
    let installed = close_and_set_aside(&mut node, keep_through, welcome.epoch)
        .and_then(|()| install_snapshot(&mut node, &data_dir, &temp, snapshot_lsn));
    reopen_after_failure(&mut node, installed)
        .map_err(|e| io::Error::other(format!("cannot install the snapshot: {e}")))?;
    let repl = node.repl.as_mut().expect("replication");
    repl.link.syncing = false;
    repl.link.full_syncs += 1;
    tracing::info!("full sync done at LSN {snapshot_lsn}");
    Ok(())
}

/// Writes the records after `keep_through` as RESP commands to
/// `divergent/`, for the operator: the new primary does not have them.
/// Stops any snapshot and closes the log (so every record is on disk);
/// then, when the log diverged after `keep_through`, sets its records after
/// that point aside. The caller replaces the data next.
fn close_and_set_aside(
    node: &mut Node,
    keep_through: Option<u64>,
    new_epoch: u64,
) -> Result<(), String> {
    stop_snapshot(node);
    let last = node.last_lsn();
    if let Some(journal) = node.journal.take() {
        journal.close().map_err(|e| e.to_string())?;
    }
    if let Some(keep_through) = keep_through {
        set_aside_divergent(node, keep_through, last, new_epoch);
    }
    Ok(())
}

fn set_aside_divergent(node: &Node, keep_through: u64, last: u64, new_epoch: u64) {
    if last <= keep_through {
        return;
    }
    let data_dir = &node.config.data_dir;
    let dir = data_dir.join("divergent");
    let path = dir.join(format!(
        "epoch-{new_epoch}-lsn-{}-{last}-{}.aof",
        keep_through + 1,
        now_ms()
    ));
    let result = (|| -> Result<u64, String> {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut count = 0u64;
        let disk = Arc::new(daisy_log::RealDisk::new());
        let mut reader =
            daisy_log::LogReader::open(disk, &persistence::log_dir(data_dir), keep_through + 1)
                .map_err(|e| e.to_string())?;
        loop {
            let records = reader.read(last, 1 << 20).map_err(|e| e.to_string())?;
            if records.is_empty() {
                break;
            }
            for record in records {
                let decoded =
                    daisy_command::record::decode(&record.payload).map_err(|e| e.to_string())?;
                for command in &decoded.commands {
                    encode_command(&mut out, command);
                }
                count += 1;
            }
        }
        let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        file.write_all(&out).map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        Ok(count)
    })();
    match result {
        Ok(count) => {
            tracing::warn!(
                "this node had {count} records (LSN {} to {last}) that the primary of epoch {new_epoch} does not have; they are saved as commands in {}",
                keep_through + 1,
                path.display()
            );
            node.record_set_aside(new_epoch, keep_through + 1, last);
        }
        Err(error) => tracing::error!(
            "records LSN {} to {last} are not on the new primary and could not be saved: {error}",
            keep_through + 1
        ),
    }
}

fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for arg in argv {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Cuts this node's log after `keep_through` (its records after it were
/// set aside) and rebuilds the keyspace from the snapshot and the log that
/// remains, so it holds exactly the primary's prefix.
fn cut_back(node: &mut Node, keep_through: u64) -> Result<(), String> {
    let data_dir = node.config.data_dir.clone();
    // A snapshot taken after the divergence point holds divergent data.
    let dir = daisy_snapshot::SnapshotDir::new(persistence::snapshot_dir(&data_dir));
    for (lsn, path) in dir.list().map_err(|e| e.to_string())? {
        if lsn > keep_through {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let disk = daisy_log::RealDisk::new();
    let removed = daisy_log::truncate_after(&disk, &persistence::log_dir(&data_dir), keep_through)
        .map_err(|e| e.to_string())?;
    tracing::warn!(
        "cut {removed} divergent records from the log; it now ends at LSN {keep_through}"
    );
    reload(node)
}

/// After a failed change of the data on disk: reopens what is there, so the
/// node keeps a log to retry with. A node that cannot even do that stops.
fn reopen_after_failure(node: &mut Node, outcome: Result<(), String>) -> Result<(), String> {
    let Err(error) = outcome else {
        return Ok(());
    };
    if node.journal.is_none() {
        if let Err(reopen) = reload(node) {
            panic!("cannot reopen the data directory after a failed resync ({error}): {reopen}");
        }
    }
    Err(error)
}

/// Drops a snapshot in progress (its image is about to be replaced).
fn stop_snapshot(node: &mut Node) {
    if let Some(mut job) = node.snapshots.job.take() {
        let _ = job.poll(&mut node.db);
        if node.db.snapshot_in_progress() {
            node.db.abort_snapshot();
        }
    }
}

/// Rebuilds the keyspace and the journal from what is on disk.
fn reload(node: &mut Node) -> Result<(), String> {
    let apply = !node.holds_no_data();
    node.db = daisy_keyspace::Db::new(node.rng.next_u64());
    node.db.set_delete_expired(false);
    let recovered = persistence::recover_node(
        &node.config,
        &mut node.db,
        &mut node.rng,
        &node.settings,
        apply,
        &node.signals,
    )?;
    node.snapshots.lsn = recovered.snapshot_lsn;
    node.snapshots.saved_ms = recovered.snapshot_created_ms;
    node.journal = Some(recovered.journal);
    Ok(())
}

/// Replaces this node's data with the received snapshot: closes the log,
/// deletes it and the older snapshots, installs the snapshot, and starts
/// over from it.
fn install_snapshot(node: &mut Node, data_dir: &Path, temp: &Path, lsn: u64) -> Result<(), String> {
    close_and_set_aside(node, None, 0)?;
    let log_dir = persistence::log_dir(data_dir);
    if log_dir.exists() {
        std::fs::remove_dir_all(&log_dir)
            .map_err(|e| format!("cannot clear {}: {e}", log_dir.display()))?;
    }
    let snapshot_dir = persistence::snapshot_dir(data_dir);
    for entry in std::fs::read_dir(&snapshot_dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path != temp {
            std::fs::remove_file(&path).map_err(|e| e.to_string())?;
        }
    }
    let installed: PathBuf = snapshot_dir.join(daisy_snapshot::snapshot_file_name(lsn));
    std::fs::rename(temp, &installed).map_err(|e| e.to_string())?;
    std::fs::File::open(&snapshot_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| e.to_string())?;
    reload(node)
}

/// Appends and applies records as they come.
async fn receive_records(
    node: &Rc<RefCell<Node>>,
    reader: &mut OwnedReadHalf,
    next: &mut u64,
    epoch: u64,
    generation: u64,
) -> io::Result<()> {
    loop {
        let message: ToSecondary =
            wire::read_message(reader, FRAME_BYTES_MAX, LINK_TIMEOUT).await?;
        if !current(node, generation) {
            return Ok(());
        }
        match message {
            ToSecondary::Records {
                commit_lsn,
                records,
            } => {
                note_commit(node, commit_lsn);
                for record in records {
                    if record.lsn != *next {
                        return Err(invalid(&format!(
                            "record {} where {} was due",
                            record.lsn, *next
                        )));
                    }
                    if record.epoch > epoch {
                        return Err(invalid("a record from a newer epoch than its primary"));
                    }
                    loop {
                        let appended = {
                            let mut node = node.borrow_mut();
                            node.apply_replicated(record.lsn, record.epoch, &record.payload)
                        };
                        match appended {
                            Ok(true) => break,
                            Ok(false) => tokio::time::sleep(LOG_BUSY_PAUSE).await,
                            Err(error) => return Err(invalid(&error)),
                        }
                        if !current(node, generation) {
                            return Ok(());
                        }
                    }
                    *next += 1;
                }
            }
            ToSecondary::Heartbeat {
                epoch: beat,
                commit_lsn,
                ..
            } if beat == epoch => note_commit(node, commit_lsn),
            ToSecondary::Handover {
                epoch: next_epoch,
                last_lsn,
            } => {
                let mut node = node.borrow_mut();
                return match node.accept_handover(next_epoch, last_lsn) {
                    Ok(()) => Ok(()),
                    Err(error) => Err(invalid(&format!("handover refused: {error}"))),
                };
            }
            other => return Err(invalid(&format!("unexpected message {other:?}"))),
        }
        if let Some(repl) = node.borrow_mut().repl.as_mut() {
            repl.link.last_contact_ms = now_ms();
        }
    }
}

/// The primary's commit watermark moved: readers may see up to it.
fn note_commit(node: &Rc<RefCell<Node>>, commit_lsn: u64) {
    let node = node.borrow_mut();
    if let Some(repl) = node.repl.as_ref() {
        if commit_lsn > repl.link.primary_commit_lsn.get() {
            repl.link.primary_commit_lsn.set(commit_lsn);
            repl.changed.notify_waiters();
        }
    }
}

/// Sends what this node holds durably and has applied, when it changes
/// and at least every [`ACK_INTERVAL`].
async fn acknowledge(node: Rc<RefCell<Node>>, mut writer: OwnedWriteHalf, generation: u64) {
    let mut sent = (u64::MAX, u64::MAX);
    loop {
        if !current(&node, generation) {
            return;
        }
        let (durable, ack) = {
            let node = node.borrow();
            let Some(journal) = node.journal.as_ref() else {
                return;
            };
            let repl = node.repl.as_ref().expect("replication");
            let received = journal.durable_lsn();
            let applied = if repl.warm {
                0
            } else {
                repl.link.applied_lsn.min(received)
            };
            (journal.durable().clone(), (received, applied))
        };
        if ack != sent {
            let epoch = node.borrow().repl.as_ref().map_or(0, |r| r.state.epoch);
            let message = ToPrimary::Ack {
                epoch,
                received_lsn: ack.0,
                applied_lsn: ack.1,
            };
            if wire::write_message(&mut writer, &message, LINK_TIMEOUT)
                .await
                .is_err()
            {
                return;
            }
            sent = ack;
        }
        // Wake on new durability, or every interval (applied progress and
        // the keep-alive).
        tokio::select! {
            _ = durable.wait_for(ack.0 + 1) => {}
            _ = tokio::time::sleep(ACK_INTERVAL) => { sent = (u64::MAX, u64::MAX); }
        }
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl Node {
    /// Appends a record from the primary to the log and, on a hot standby,
    /// applies it. `Ok(false)`: the log cannot take it yet.
    pub fn apply_replicated(
        &mut self,
        lsn: u64,
        epoch: u64,
        payload: &[u8],
    ) -> Result<bool, String> {
        let journal = self
            .journal
            .as_mut()
            .expect("replication needs persistence");
        if !journal.append_replicated(lsn, epoch, payload) {
            journal.refresh(u64::MAX);
            return Ok(false);
        }
        let repl = self.repl.as_mut().expect("replication");
        if !repl.warm {
            daisy_command::record::replay(&mut self.db, payload, &mut self.rng, &self.settings)
                .map_err(|e| format!("record {lsn} cannot be applied: {e}"))?;
            repl.link.applied_lsn = lsn;
            self.stats.changes += 1;
        }
        Ok(true)
    }
}
