//! The coordinator's TCP transport: Raft requests between voters in
//! different processes, over the node's peer port.
//!
//! - `frame`: the wire format (length-prefixed, tagged, versioned postcard
//!   envelopes) and bounded reads and writes;
//! - `transport`: `TcpTransport`, the client side, one pooled connection
//!   per peer;
//! - `server`: `serve_raft_connection`, which answers the requests arriving
//!   on one accepted connection, and `serve_raft`, a listener loop for
//!   tests and for a node that gives Raft a port of its own.
//!
//! The byte layout is documented in docs/architecture.md ("Coordinator
//! transport"). It must never: let one peer's failure or slowness delay
//! calls to another; read or allocate beyond `FRAME_BYTES_MAX` on a length
//! that came off the network; wait on a socket without a time limit.
//! Malformed input closes the connection it came on, nothing more.
//!
//! Invariant: a connection carries one request at a time, so the next frame
//! read on it is the answer to the request just written; a connection whose
//! call failed in any way (including a timeout) is dropped, never reused.

pub mod frame;
pub mod server;
pub mod transport;

use std::time::Duration;

/// The most connections one Raft server keeps open; more are closed at
/// once. A group has 3 or 5 voters, each with one pooled connection.
pub const CONNECTIONS_MAX: usize = 64;

/// A server closes a connection on which no request started for this long.
pub const CONNECTION_IDLE_MAX: Duration = Duration::from_secs(60);

/// A client does not reuse a pooled connection idle for this long (shorter
/// than `CONNECTION_IDLE_MAX`, so it never writes to one the server is
/// closing) and connects afresh instead.
pub const POOLED_IDLE_MAX: Duration = Duration::from_secs(30);

/// The longest the server may take to read the rest of a frame once its
/// length arrived, or to write an answer.
pub const FRAME_IO_MAX: Duration = Duration::from_secs(10);
