//! The primary's side: the peer listener, one sender and one
//! acknowledgement reader per secondary, and the watch for a newer epoch.

use std::cell::{Cell, RefCell};
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use daisy_log::{LogReader, RealDisk};
use daisy_replication::message::{
    Hello, Start, ToPrimary, ToSecondary, Welcome, WireRecord, FRAME_BYTES_MAX,
    HANDSHAKE_FRAME_BYTES_MAX, PROTOCOL_VERSION,
};
use daisy_replication::{Continuation, EpochHistory};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use super::{
    current, pause, probe_all, wire, EPOCH_WATCH_INTERVAL, HEARTBEAT_INTERVAL, LINK_TIMEOUT,
};
use crate::node::{now_ms, Node};
use crate::persistence;

/// Payload bytes per records message.
const BATCH_BYTES: usize = 256 * 1024;
/// Bytes per snapshot chunk.
const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;
/// How long a moved commit watermark waits to ride on records before it
/// is sent alone.
const COMMIT_ALONE_AFTER: Duration = Duration::from_millis(2);
/// Most peer connections open at once (secondaries, probes, and anything
/// else that connects); more are closed at once.
const PEER_CONNECTIONS_MAX: usize = 256;
/// Pause after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

pub async fn peer_listener(listener: TcpListener, node: Rc<RefCell<Node>>) {
    let open = Rc::new(std::cell::Cell::new(0usize));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if open.get() >= PEER_CONNECTIONS_MAX {
                    tracing::warn!(%peer, "too many peer connections; closing this one");
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let node = node.clone();
                let open = open.clone();
                open.set(open.get() + 1);
                tokio::task::spawn_local(async move {
                    if let Err(error) = serve_peer(&node, stream).await {
                        tracing::info!(%peer, %error, "peer connection ended");
                    }
                    open.set(open.get() - 1);
                });
            }
            Err(error) => {
                tracing::warn!(%error, "peer accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

async fn serve_peer(node: &Rc<RefCell<Node>>, stream: TcpStream) -> io::Result<()> {
    let agent = node
        .borrow()
        .repl
        .as_ref()
        .and_then(|r| r.coordination.as_ref())
        .map(|c| c.agent.clone());
    if let Some(agent) = agent {
        if starts_with_raft_frame(&stream).await? {
            agent.take_connection(stream.into_std()?);
            return Ok(());
        }
    }
    let (mut reader, mut writer) = stream.into_split();
    let first: ToPrimary =
        wire::read_message(&mut reader, HANDSHAKE_FRAME_BYTES_MAX, LINK_TIMEOUT).await?;
    let hello = match first {
        ToPrimary::Probe { .. } => {
            let view = node.borrow().view();
            return wire::write_message(&mut writer, &ToSecondary::View(view), LINK_TIMEOUT).await;
        }
        ToPrimary::Ack { .. } => return Err(invalid("an acknowledgement before the handshake")),
        ToPrimary::Hello(hello) => hello,
    };
    let admitted = admit(node, &hello);
    let (welcome, session, generation, snapshot) = match admitted {
        Ok(admitted) => admitted,
        Err(refused) => {
            tracing::info!(secondary = %hello.node_id, "handshake refused: {refused:?}");
            return wire::write_message(&mut writer, &refused, LINK_TIMEOUT).await;
        }
    };
    tracing::info!(secondary = %hello.node_id, start = ?welcome.start, "secondary connected");
    let id = hello.node_id.clone();
    let from_lsn = match welcome.start {
        Start::Resume { from_lsn } => from_lsn,
        Start::Truncate { keep_through } => keep_through + 1,
        Start::FullSync { snapshot_lsn, .. } => snapshot_lsn + 1,
    };
    // The newest LSN written to this secondary's connection, shared with
    // the task that reads its acknowledgements.
    let sent_lsn = Rc::new(Cell::new(from_lsn.saturating_sub(1)));
    let acks = tokio::task::spawn_local(read_acks(
        node.clone(),
        reader,
        id.clone(),
        session,
        sent_lsn.clone(),
    ));
    let result = async {
        wire::write_message(&mut writer, &ToSecondary::Welcome(welcome), LINK_TIMEOUT).await?;
        if let Some(path) = snapshot {
            send_snapshot(&mut writer, &path).await?;
            if let Some(p) = node
                .borrow_mut()
                .repl
                .as_mut()
                .and_then(|r| r.tracker.get_mut(&id))
            {
                p.syncing = false;
            }
        }
        send_records(
            node,
            &mut writer,
            from_lsn,
            &id,
            session,
            generation,
            &sent_lsn,
        )
        .await
    }
    .await;
    acks.abort();
    disconnect(node, &id, session);
    result
}

/// Whether the connection's first bytes are a coordinator frame (waits,
/// bounded, until enough of them arrived to tell).
async fn starts_with_raft_frame(stream: &TcpStream) -> io::Result<bool> {
    let mut prefix = [0u8; daisy_coordinator::tcp::frame::RAFT_PREFIX_BYTES];
    let deadline = tokio::time::Instant::now() + LINK_TIMEOUT;
    loop {
        let seen = stream.peek(&mut prefix).await?;
        if seen == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        if seen == prefix.len() {
            return Ok(daisy_coordinator::tcp::frame::is_raft_prefix(&prefix));
        }
        // A whole replication frame shorter than a Raft prefix (a probe).
        if seen >= 4 {
            let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
            if 4 + len < prefix.len() {
                return Ok(false);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

type Admitted = (Welcome, u64, u64, Option<PathBuf>);

/// Checks a secondary's handshake and decides where it starts.
fn admit(node: &Rc<RefCell<Node>>, hello: &Hello) -> Result<Admitted, ToSecondary> {
    let mut node_ref = node.borrow_mut();
    let refuse = |node: &Node, reason: String| {
        let repl = node.repl.as_ref().expect("replication");
        ToSecondary::Refused {
            reason,
            epoch: repl.state.epoch,
            primary_id: (!repl.state.primary_id.is_empty()).then(|| repl.state.primary_id.clone()),
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        return Err(refuse(
            &node_ref,
            format!("peer protocol {} is not {PROTOCOL_VERSION}", hello.protocol),
        ));
    }
    let repl = node_ref.repl.as_ref().expect("replication");
    if hello.cluster != repl.cluster {
        let reason = format!(
            "'{}' has another membership (--members differ): it belongs to another cluster or is misconfigured",
            hello.node_id
        );
        return Err(refuse(&node_ref, reason));
    }
    if hello.node_id == repl.node_id || repl.member(&hello.node_id).is_none() {
        let reason = format!("'{}' is not a member of this cluster", hello.node_id);
        return Err(refuse(&node_ref, reason));
    }
    if hello.epoch > repl.state.epoch {
        node_ref.step_down(hello.epoch, None);
        return Err(refuse(&node_ref, "this node's epoch is older".into()));
    }
    if !repl.is_primary() {
        return Err(refuse(&node_ref, "this node is not the primary".into()));
    }
    let theirs = EpochHistory::from_entries(hello.history.clone())
        .map_err(|e| refuse(&node_ref, format!("bad epoch history: {e}")))?;
    let last_lsn = node_ref.last_lsn();
    let mut continuation = repl
        .state
        .history
        .continuation(last_lsn, hello.last_lsn, &theirs);
    // Records shipped before this primary restarted and lost with its
    // unsynced tail: the secondary holds them at this epoch, and this
    // node reuses their LSNs for other records.
    if let Some(floor) = repl.restart_floor {
        let beyond = hello.last_lsn > floor && !repl.rebased.contains(&hello.node_id);
        continuation = match continuation {
            Continuation::Prefix if beyond => Continuation::Diverged {
                keep_through: floor,
            },
            Continuation::Diverged { keep_through } if beyond => Continuation::Diverged {
                keep_through: keep_through.min(floor),
            },
            other => other,
        };
    }
    let journal = node_ref
        .journal
        .as_ref()
        .expect("replication needs persistence");
    let from_lsn = hello.last_lsn + 1;
    let resumable = continuation == Continuation::Prefix
        && (journal
            .backlog()
            .first_lsn()
            .is_some_and(|first| first <= from_lsn)
            || from_lsn > last_lsn
            || log_holds(&node_ref, from_lsn));
    let can_send_from = |lsn: u64| {
        journal
            .backlog()
            .first_lsn()
            .is_some_and(|first| first <= lsn)
            || lsn > last_lsn
            || log_holds(&node_ref, lsn)
    };
    let cut_back = match continuation {
        Continuation::Diverged { keep_through }
            if hello.snapshot_lsn <= keep_through && can_send_from(keep_through + 1) =>
        {
            Some(keep_through)
        }
        _ => None,
    };
    let (start, snapshot) = if resumable {
        (Start::Resume { from_lsn }, None)
    } else if let Some(keep_through) = cut_back {
        (Start::Truncate { keep_through }, None)
    } else {
        let Some((snapshot_lsn, path)) = newest_snapshot(&node_ref) else {
            // None yet: take one; the secondary retries meanwhile.
            if node_ref.snapshots.job.is_none() {
                if let Err(error) = node_ref.start_snapshot() {
                    tracing::warn!("cannot start a snapshot for a full sync: {error}");
                }
            }
            return Err(refuse(
                &node_ref,
                "a snapshot for the full sync is being taken".into(),
            ));
        };
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let keep_through = match continuation {
            Continuation::Diverged { keep_through } => Some(keep_through),
            _ => None,
        };
        (
            Start::FullSync {
                snapshot_lsn,
                bytes,
                keep_through,
            },
            Some(path),
        )
    };
    let client_addr = node_ref.config.client_addr.to_string();
    let repl = node_ref.repl.as_mut().expect("replication");
    let session = repl.new_session();
    let generation = repl.generation;
    let welcome = Welcome {
        epoch: repl.state.epoch,
        primary_id: repl.node_id.clone(),
        client_addr,
        history: repl.state.history.entries().to_vec(),
        start,
    };
    repl.rebased.insert(hello.node_id.clone());
    let progress = repl.tracker.get_mut(&hello.node_id).expect("a member");
    progress.connected = true;
    progress.syncing = snapshot.is_some();
    // What it holds durably is known from its first Ack (at its next
    // fsync, or within 100 ms): its log may end with records not yet
    // durable.
    progress.received_lsn = 0;
    progress.applied_lsn = 0;
    progress.last_ack_ms = now_ms();
    progress.client_addr = hello.client_addr.clone();
    progress.applies = hello.applies;
    progress.session = session;
    repl.changed.notify_waiters();
    Ok((welcome, session, generation, snapshot))
}

/// True when the log on disk still holds `lsn`.
fn log_holds(node: &Node, lsn: u64) -> bool {
    let dir = persistence::log_dir(&node.config.data_dir);
    LogReader::open(Arc::new(RealDisk::new()), &dir, lsn).is_ok()
}

/// The newest installed snapshot whose log after it is still on disk.
fn newest_snapshot(node: &Node) -> Option<(u64, PathBuf)> {
    let dir = daisy_snapshot::SnapshotDir::new(persistence::snapshot_dir(&node.config.data_dir));
    let (lsn, path) = dir.list().ok()?.pop()?;
    (log_holds(node, lsn + 1) || lsn == node.last_lsn()).then_some((lsn, path))
}

async fn send_snapshot(writer: &mut OwnedWriteHalf, path: &PathBuf) -> io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut chunk = vec![0u8; SNAPSHOT_CHUNK_BYTES];
    loop {
        let n = std::io::Read::read(&mut file, &mut chunk)?;
        if n == 0 {
            break;
        }
        let message = ToSecondary::SnapshotChunk(chunk[..n].to_vec());
        wire::write_message(writer, &message, LINK_TIMEOUT).await?;
    }
    wire::write_message(writer, &ToSecondary::SnapshotEnd, LINK_TIMEOUT).await
}

/// Streams records from `next` on, from memory when the backlog holds
/// them and from the log on disk otherwise; heartbeats when idle.
async fn send_records(
    node: &Rc<RefCell<Node>>,
    writer: &mut OwnedWriteHalf,
    mut next: u64,
    id: &str,
    session: u64,
    generation: u64,
    sent_lsn: &Cell<u64>,
) -> io::Result<()> {
    let mut disk_reader: Option<LogReader> = None;
    let mut last_sent = tokio::time::Instant::now();
    let mut sent_commit = 0;
    loop {
        if !current(node, generation) || !is_session(node, id, session) {
            return Ok(());
        }
        let (batch, appended, changed, epoch, last_lsn, commit_lsn, handover) = {
            let node_ref = node.borrow();
            let journal = node_ref
                .journal
                .as_ref()
                .expect("replication needs persistence");
            let backlog = journal.backlog();
            let in_memory = backlog.first_lsn().is_some_and(|first| first <= next);
            let batch: Vec<WireRecord> = if in_memory {
                disk_reader = None;
                backlog
                    .read(next, BATCH_BYTES)
                    .into_iter()
                    .map(|r| WireRecord {
                        lsn: r.lsn,
                        epoch: r.epoch,
                        payload: r.payload.to_vec(),
                    })
                    .collect()
            } else if next <= journal.last_lsn() {
                if disk_reader.is_none() {
                    let dir = persistence::log_dir(&node_ref.config.data_dir);
                    disk_reader = Some(
                        LogReader::open(Arc::new(RealDisk::new()), &dir, next)
                            .map_err(|e| io::Error::other(e.to_string()))?,
                    );
                }
                let reader = disk_reader.as_mut().expect("just opened");
                reader
                    .read(journal.durable_lsn(), BATCH_BYTES)
                    .map_err(|e| io::Error::other(e.to_string()))?
                    .into_iter()
                    .map(|r| WireRecord {
                        lsn: r.lsn,
                        epoch: r.epoch,
                        payload: r.payload,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let repl = node_ref.repl.as_ref().expect("replication");
            // A switchover to this secondary: once it has been sent every
            // record (no new ones come while writes are paused).
            // A switchover to this secondary: once it holds (and, hot,
            // applied) every record; no new ones come while writes pause,
            // and every write already made is acknowledged first.
            let caught_up = repl.tracker.secondaries().iter().any(|p| {
                p.id == id
                    && p.received_lsn == journal.last_lsn()
                    && (!p.applies || p.applied_lsn == journal.last_lsn())
            });
            let handover = repl
                .switchover
                .as_ref()
                .filter(|s| s.target == id && !s.handed_over && batch.is_empty())
                .filter(|_| next > journal.last_lsn() && caught_up)
                .map(|_| (repl.state.epoch + 1, journal.last_lsn()));
            (
                batch,
                journal.appended(),
                repl.changed.clone(),
                repl.state.epoch,
                journal.last_lsn(),
                node_ref.commit_lsn(repl.safeness),
                handover,
            )
        };
        if let Some((epoch, last_lsn)) = handover {
            // With a coordinator the map hands over (complete_switchover);
            // without, this message does.
            let coordinated = node
                .borrow()
                .repl
                .as_ref()
                .is_some_and(|r| r.coordination.is_some());
            if !coordinated {
                let message = ToSecondary::Handover { epoch, last_lsn };
                wire::write_message(writer, &message, LINK_TIMEOUT).await?;
            }
            if let Some(s) = node
                .borrow_mut()
                .repl
                .as_mut()
                .and_then(|r| r.switchover.as_mut())
            {
                s.handed_over = true;
            }
            tracing::info!(secondary = %id, "handed over at LSN {last_lsn} for epoch {epoch}");
            continue;
        }
        if let Some(last) = batch.last() {
            if batch[0].lsn != next {
                return Err(io::Error::other(format!(
                    "record {} where {next} was due",
                    batch[0].lsn
                )));
            }
            next = last.lsn + 1;
            let limit = Duration::from_secs(30).max(LINK_TIMEOUT);
            let records = ToSecondary::Records {
                commit_lsn,
                records: batch,
            };
            wire::write_message(writer, &records, limit).await?;
            sent_lsn.set(next - 1);
            last_sent = tokio::time::Instant::now();
            sent_commit = commit_lsn;
            continue;
        }
        // A watermark that moved rides on the next records; alone it is sent
        // once the link has been quiet for a moment, so a busy link does not
        // carry an extra message per round.
        let commit_pending = commit_lsn != sent_commit;
        let due = last_sent
            + if commit_pending {
                COMMIT_ALONE_AFTER
            } else {
                HEARTBEAT_INTERVAL
            };
        if tokio::time::Instant::now() >= due {
            let beat = ToSecondary::Heartbeat {
                epoch,
                last_lsn,
                commit_lsn,
            };
            wire::write_message(writer, &beat, LINK_TIMEOUT).await?;
            last_sent = tokio::time::Instant::now();
            sent_commit = commit_lsn;
            continue;
        }
        let notified = appended.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let acknowledged = changed.notified();
        tokio::pin!(acknowledged);
        acknowledged.as_mut().enable();
        if node.borrow().last_lsn() >= next {
            if disk_reader.is_some() {
                // The log thread may not have written the tail yet.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            continue;
        }
        tokio::select! {
            _ = notified => {}
            _ = acknowledged, if !commit_pending => {}
            _ = tokio::time::sleep_until(due) => {}
        }
    }
}

/// Records the secondary's acknowledgements. An acknowledgement that adds
/// nothing while records sent to it wait is no sign of life: a secondary
/// whose disk refuses writes (full, failing) goes on acknowledging its old
/// LSN every heartbeat, and if that counted, the primary would never find
/// it silent nor drop it from the in-sync set, and 2-safe writes would
/// wait for its disk for as long as the disk refuses.
async fn read_acks(
    node: Rc<RefCell<Node>>,
    mut reader: OwnedReadHalf,
    id: String,
    session: u64,
    sent_lsn: Rc<Cell<u64>>,
) {
    loop {
        let message: io::Result<ToPrimary> =
            wire::read_message(&mut reader, FRAME_BYTES_MAX, LINK_TIMEOUT).await;
        match message {
            Ok(ToPrimary::Ack {
                epoch,
                received_lsn,
                applied_lsn,
            }) => {
                let mut node = node.borrow_mut();
                let Some(repl) = node.repl.as_mut() else {
                    return;
                };
                if epoch > repl.state.epoch {
                    node.step_down(epoch, None);
                    break;
                }
                if repl
                    .tracker
                    .get_mut(&id)
                    .is_none_or(|p| p.session != session)
                {
                    return;
                }
                let before = repl
                    .tracker
                    .get_mut(&id)
                    .map(|p| (p.received_lsn, p.last_ack_ms));
                repl.tracker
                    .acknowledge(&id, received_lsn, applied_lsn, now_ms());
                let stuck = before.is_some_and(|(received_before, _)| {
                    received_lsn <= received_before && received_lsn < sent_lsn.get()
                });
                if let (true, Some((_, last_ack_ms)), Some(p)) =
                    (stuck, before, repl.tracker.get_mut(&id))
                {
                    p.last_ack_ms = last_ack_ms;
                }
                repl.changed.notify_waiters();
            }
            Ok(other) => {
                tracing::warn!(secondary = %id, "unexpected message {other:?}");
                break;
            }
            Err(error) => {
                tracing::info!(secondary = %id, %error, "secondary link lost");
                break;
            }
        }
    }
    disconnect(&node, &id, session);
}

fn is_session(node: &Rc<RefCell<Node>>, id: &str, session: u64) -> bool {
    let mut node = node.borrow_mut();
    node.repl
        .as_mut()
        .and_then(|r| r.tracker.get_mut(id))
        .is_some_and(|p| p.session == session && p.connected)
}

fn disconnect(node: &Rc<RefCell<Node>>, id: &str, session: u64) {
    let mut node = node.borrow_mut();
    let Some(repl) = node.repl.as_mut() else {
        return;
    };
    if let Some(p) = repl.tracker.get_mut(id) {
        if p.session == session && p.connected {
            p.connected = false;
            p.syncing = false;
            repl.changed.notify_waiters();
        }
    }
}

/// While primary: every so often, ask the members that are not connected
/// whether one knows a newer epoch; if so, this node was deposed.
pub async fn watch_epochs(node: &Rc<RefCell<Node>>, generation: u64) {
    while current(node, generation) {
        let (members, my_id, epoch, cluster) = {
            let node = node.borrow();
            let repl = node.repl.as_ref().expect("replication");
            let absent: Vec<_> = repl
                .dial
                .iter()
                .filter(|m| {
                    m.id == repl.node_id
                        || !repl
                            .tracker
                            .secondaries()
                            .iter()
                            .any(|p| p.id == m.id && p.connected)
                })
                .cloned()
                .collect();
            (absent, repl.node_id.clone(), repl.state.epoch, repl.cluster)
        };
        if members.len() > 1 {
            let views = probe_all(&members, &my_id, cluster).await;
            if let Some(newer) = views
                .iter()
                .filter(|v| v.epoch > epoch)
                .max_by_key(|v| v.epoch)
            {
                if current(node, generation) {
                    let primary_id =
                        (!newer.primary_id.is_empty()).then(|| newer.primary_id.clone());
                    node.borrow_mut().step_down(newer.epoch, primary_id);
                    return;
                }
            }
        }
        pause(node, EPOCH_WATCH_INTERVAL).await;
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}
