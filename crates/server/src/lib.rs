//! DaisyDB's server layer: the only part of a node that knows sockets.
//!
//! Layout:
//! - [`config`]: every setting with its default;
//! - `node`: the state the executor owns (keyspace, clients, pub/sub,
//!   blocked clients, watched keys) and the running of data commands;
//! - `connection`: one task per client: parse, dispatch, reply;
//! - `session`: connection and server commands (AUTH, HELLO, MULTI, CLIENT,
//!   SUBSCRIBE, CONFIG, COMMAND, ...); `info`: the INFO text; `debug`:
//!   DEBUG DIGEST and DIGEST-VALUE, for checking replicas agree;
//! - `pubsub`, `client`: subscriptions and the client registry;
//! - [`memory`]: the counting allocator behind `maxmemory` and INFO.
//!
//! Threading: the whole node runs on one thread (a current-thread tokio
//! runtime), like Redis's event loop, so the keyspace has exactly one owner
//! and needs no locks. State is shared between tasks through `Rc<RefCell>`,
//! and no borrow is ever held across an `.await`.

mod client;
pub mod config;
mod connection;
mod debug;
mod info;
mod journal;
pub mod memory;
mod node;
mod persistence;
mod pubsub;
mod replication;
mod session;

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::LocalSet;

pub use config::Config;
pub use persistence::{check_data_dir, CheckReport};

use client::ClientHandle;
use connection::Connection;
use node::{now_ms, Node};

/// Pause after a failed accept (e.g. out of file descriptors) before trying
/// again, so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// Active expiry cycles per background tick.
const EXPIRE_CYCLES_PER_TICK: usize = 4;
/// Hash-table buckets moved per background tick while a table resizes.
const REHASH_BUCKETS_PER_TICK: usize = 1_000;
/// How often the snapshot walker looks for work when none is running.
const SNAPSHOT_IDLE_POLL: Duration = Duration::from_millis(10);

/// Runs a node until SIGINT, SIGTERM or SHUTDOWN.
pub fn run(config: Config) -> io::Result<()> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if config.arbiter {
        return runtime.block_on(arbitrate(config));
    }
    let local = LocalSet::new();
    local.block_on(&runtime, serve(config))
}

/// An arbiter: a coordinator voter on the peer port, nothing else.
async fn arbitrate(config: Config) -> io::Result<()> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidInput, e);
    let members = config.member_list().map_err(invalid)?;
    let mut agent_config = replication::coordination::agent_config(&config, &members)
        .map_err(invalid)?
        .ok_or_else(|| invalid("an arbiter needs a cluster of at least three voters".into()))?;
    let addr = config
        .peer_address()
        .map_err(invalid)?
        .ok_or_else(|| invalid("an arbiter needs a peer_addr".into()))?;
    agent_config.listener = Some(std::net::TcpListener::bind(addr)?);
    let _agent = daisy_coordinator::agent::spawn(agent_config)?;
    tracing::info!(%addr, node = %config.node_id, "arbiter ready");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down on SIGINT"),
        _ = terminate.recv() => tracing::info!("shutting down on SIGTERM"),
    }
    Ok(())
}

async fn serve(config: Config) -> io::Result<()> {
    let listener = TcpListener::bind(config.client_addr).await?;
    let seed = if config.seed != 0 {
        config.seed
    } else {
        std::collections::hash_map::RandomState::new().hash_one(now_ms())
    };
    tracing::info!(
        addr = %listener.local_addr()?,
        "DaisyDB {} ready to accept connections",
        env!("CARGO_PKG_VERSION")
    );
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut node = Node::new(config, seed);
    node.repl = replication::Replication::from_config(&node.config).map_err(invalid)?;
    if node.config.persistence {
        let apply = !node.holds_no_data();
        let Node {
            config,
            db,
            rng,
            settings,
            signals,
            ..
        } = &mut node;
        let recovered = persistence::recover_node(config, db, rng, settings, apply, signals)
            .map_err(invalid)?;
        node.snapshots.lsn = recovered.snapshot_lsn;
        node.snapshots.saved_ms = recovered.snapshot_created_ms;
        node.journal = Some(recovered.journal);
    }
    let last_lsn = node.last_lsn();
    if let Some(repl) = node.repl.as_mut().filter(|r| r.is_primary()) {
        repl.restart_floor = Some(last_lsn);
        repl.tracker.heard_all_at(node::now_ms());
        if let Some(coordination) = &mut repl.coordination {
            coordination.restarted = true;
            node.db.set_delete_expired(false);
        }
    }
    let peer_listener = match node.config.peer_address().map_err(invalid)? {
        Some(addr) if node.repl.is_some() => Some(TcpListener::bind(addr).await?),
        _ => None,
    };
    let node = Rc::new(RefCell::new(node));
    if let Some(listener) = peer_listener {
        replication::check_epoch_before_serving(&node).await;
        replication::start(&node).map_err(invalid)?;
        tracing::info!(addr = %listener.local_addr()?, "peer port ready");
        tokio::task::spawn_local(replication::peer_listener(listener, node.clone()));
    }
    tokio::task::spawn_local(accept_loop(listener, node.clone()));
    tokio::task::spawn_local(snapshot_walker(node.clone()));
    if node.borrow().journal.is_some() {
        let signal = node.borrow().signals.commit.clone();
        tokio::task::spawn_local(committer(node.clone(), signal));
    }
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = background(node.clone()) => tracing::info!("shutting down on SHUTDOWN"),
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down on SIGINT"),
        _ = terminate.recv() => tracing::info!("shutting down on SIGTERM"),
    }
    shut_down(&node)
}

/// Makes everything acknowledged (and everything logged) durable.
fn shut_down(node: &Rc<RefCell<Node>>) -> io::Result<()> {
    let mut node = node.borrow_mut();
    node.end_unit();
    if let Some(mut job) = node.snapshots.job.take() {
        let Node { db, .. } = &mut *node;
        let _ = job.poll(db);
        if db.snapshot_in_progress() {
            db.abort_snapshot();
        }
    }
    if let Some(journal) = node.journal.take() {
        match journal.close() {
            Ok(lsn) => tracing::info!("log closed, durable through LSN {lsn}"),
            Err(error) => {
                tracing::error!("log could not be closed cleanly: {error}");
                return Err(io::Error::other(error.to_string()));
            }
        }
    }
    Ok(())
}

/// Commits the log once per round of work: woken by the first record of a
/// round, it yields so every client task already ready runs first (their
/// records join the same commit), then asks the log to write and sync, as
/// Redis writes its AOF once per event-loop iteration.
async fn committer(node: Rc<RefCell<Node>>, signal: Rc<tokio::sync::Notify>) {
    loop {
        signal.notified().await;
        tokio::task::yield_now().await;
        if let Some(journal) = &mut node.borrow_mut().journal {
            journal.commit();
        }
    }
}

/// Walks a running snapshot in small steps, yielding to client requests
/// between steps so a snapshot never stalls them for long.
async fn snapshot_walker(node: Rc<RefCell<Node>>) {
    loop {
        let more = node.borrow_mut().snapshot_step();
        if more {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(SNAPSHOT_IDLE_POLL).await;
        }
    }
}

async fn accept_loop(listener: TcpListener, node: Rc<RefCell<Node>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => accept(stream, &node),
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
}

fn accept(stream: TcpStream, node_rc: &Rc<RefCell<Node>>) {
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let mut node = node_rc.borrow_mut();
    node.stats.connections_received += 1;
    if node.clients.len() >= node.config.maxclients {
        node.stats.connections_rejected += 1;
        tokio::task::spawn_local(async move {
            let mut stream = stream;
            let _ = stream
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
        });
        return;
    }
    let id = node.next_client_id();
    let authenticated = node.config.requirepass.is_empty();
    let client = Rc::new(ClientHandle::new(id, peer, local, now_ms(), authenticated));
    node.clients.insert(id, client.clone());
    drop(node);
    let connection = Connection::new(node_rc.clone(), client, stream);
    tokio::task::spawn_local(connection.run());
}

/// Background work, `hz` times a second: active expiry, incremental
/// rehashing, idle-client timeouts. Returns when SHUTDOWN was requested.
async fn background(node: Rc<RefCell<Node>>) {
    loop {
        let hz = node.borrow().config.hz.max(1);
        tokio::time::sleep(Duration::from_millis(1000 / u64::from(hz))).await;
        let mut node = node.borrow_mut();
        if node.shutdown_requested {
            return;
        }
        for _ in 0..EXPIRE_CYCLES_PER_TICK {
            node.active_expire();
        }
        node.db.rehash_step(REHASH_BUCKETS_PER_TICK);
        close_idle_clients(&node);
        node.poll_snapshot();
        node.maybe_snapshot();
    }
}

fn close_idle_clients(node: &Node) {
    let timeout_s = node.config.timeout;
    if timeout_s == 0 {
        return;
    }
    let now = now_ms();
    for client in node.clients.values() {
        let state = client.state.borrow();
        let exempt = state.blocked.is_some() || state.subscription_count() > 0;
        if !exempt && now.saturating_sub(state.last_active_ms) > timeout_s * 1000 {
            tracing::debug!(client = client.id, "closing idle client");
            client.kill();
        }
    }
}
