//! Connected clients: what other parts of the node may see or change of a
//! connection (its name, its blocked state, pending pushes), and the
//! registry that `CLIENT LIST` and `CLIENT KILL` walk.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use daisy_command::DataFn;
use daisy_protocol::Protocol;
use hashbrown::HashSet;
use tokio::sync::Notify;

pub type ClientId = u64;

/// A command a client is blocked in, waiting for one of `keys`.
#[derive(Clone)]
pub struct Blocked {
    pub argv: Vec<Bytes>,
    pub handler: DataFn,
    pub keys: Vec<Bytes>,
    pub deadline_ms: Option<u64>,
}

/// The parts of a client's state the rest of the node reads or changes.
pub struct ClientState {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_version: Option<Bytes>,
    pub protocol: Protocol,
    pub authenticated: bool,
    pub last_command: &'static str,
    pub last_active_ms: u64,
    pub channels: HashSet<Bytes>,
    pub patterns: HashSet<Bytes>,
    /// `Some(queued command count)` inside MULTI.
    pub multi: Option<usize>,
    pub watched: Vec<Bytes>,
    /// A watched key changed: the next EXEC must fail.
    pub watch_dirty: bool,
    pub blocked: Option<Blocked>,
    pub query_buffer_bytes: usize,
    pub readonly: bool,
}

impl ClientState {
    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// True when RESP2 restricts the client to subscription commands.
    pub fn in_resp2_pubsub(&self) -> bool {
        self.protocol == Protocol::Resp2 && self.subscription_count() > 0
    }
}

pub struct ClientHandle {
    pub id: ClientId,
    pub peer_addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub created_ms: u64,
    pub state: RefCell<ClientState>,
    /// Replies and pushes produced outside the client's own command (pub/sub
    /// messages, the reply of a blocked command that was served), in order.
    pub outbox: RefCell<BytesMut>,
    /// Wakes the connection task: outbox has data, or it was unblocked or
    /// killed.
    pub notify: Notify,
    pub killed: Cell<bool>,
}

impl ClientHandle {
    pub fn new(
        id: ClientId,
        peer_addr: SocketAddr,
        local_addr: SocketAddr,
        now_ms: u64,
        authenticated: bool,
    ) -> Self {
        ClientHandle {
            id,
            peer_addr,
            local_addr,
            created_ms: now_ms,
            state: RefCell::new(ClientState {
                name: None,
                lib_name: None,
                lib_version: None,
                protocol: Protocol::Resp2,
                authenticated,
                last_command: "NULL",
                last_active_ms: now_ms,
                channels: HashSet::new(),
                patterns: HashSet::new(),
                multi: None,
                watched: Vec::new(),
                watch_dirty: false,
                blocked: None,
                query_buffer_bytes: 0,
                readonly: false,
            }),
            outbox: RefCell::new(BytesMut::new()),
            notify: Notify::new(),
            killed: Cell::new(false),
        }
    }

    /// Appends bytes for the client and wakes its connection.
    pub fn deliver(&self, bytes: &[u8]) {
        self.outbox.borrow_mut().extend_from_slice(bytes);
        self.notify.notify_one();
    }

    pub fn kill(&self) {
        self.killed.set(true);
        self.notify.notify_one();
    }

    /// One line of `CLIENT LIST` / `CLIENT INFO`.
    pub fn describe(&self, now_ms: u64) -> String {
        let state = self.state.borrow();
        let name = state
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let lib = |value: &Option<Bytes>| {
            value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let mut flags = String::new();
        if state.blocked.is_some() {
            flags.push('b');
        }
        if state.watch_dirty {
            flags.push('d');
        }
        if state.subscription_count() > 0 {
            flags.push('P');
        }
        if state.multi.is_some() {
            flags.push('x');
        }
        if state.readonly {
            flags.push('r');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.peer_addr,
            self.local_addr,
            name,
            now_ms.saturating_sub(self.created_ms) / 1000,
            now_ms.saturating_sub(state.last_active_ms) / 1000,
            flags,
            state.channels.len(),
            state.patterns.len(),
            state.multi.map_or(-1, |n| n as i64),
            state.query_buffer_bytes,
            self.outbox.borrow().len(),
            state.last_command,
            if state.protocol == Protocol::Resp3 { 3 } else { 2 },
            lib(&state.lib_name),
            lib(&state.lib_version),
        )
    }
}
