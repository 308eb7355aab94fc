//! The Redis wire protocol (RESP2 and RESP3), without I/O.
//!
//! This crate owns two things:
//! - [`RequestParser`]: an incremental parser that turns the bytes a client
//!   sent into commands (`argv`), in both the multibulk and the inline form.
//!   It keeps its state between calls, so a large command that arrives in
//!   many reads is scanned once, and it enforces [`Limits`] so a hostile
//!   client cannot make the server allocate without bound.
//! - [`Reply`]: the encoder that writes replies in the protocol version the
//!   connection negotiated with `HELLO`.
//!
//! It must never touch sockets, clocks or the keyspace, and it must never
//! panic on any input: every malformed request is a [`ProtocolError`].

mod limits;
mod parser;
mod reply;

pub use limits::Limits;
pub use parser::{parse_i64, split_args, ProtocolError, RequestParser};
pub use reply::{format_double, Protocol, Reply};
