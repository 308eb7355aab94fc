//! DaisyDB's replication logic, free of sockets, threads and clocks, so a
//! test (or a deterministic simulation) can drive it directly.
//!
//! Layout:
//! - [`Safeness`]: the four acknowledgement levels;
//! - [`Member`], [`MemberKind`]: the static membership of a fragment;
//! - [`EpochHistory`]: where each epoch starts in the log, and the
//!   divergence point of a replica that comes back from an older epoch;
//! - [`Tracker`]: what each secondary has acknowledged, the commit
//!   watermark of each level, and whether the in-sync set is complete;
//! - [`message`]: the peer protocol's messages and their framing;
//! - [`NodeState`]: the epoch, the primary and the history, saved in the
//!   data directory.
//!
//! The wire and file formats are in `docs/replication.md`.

mod history;
mod members;
pub mod message;
mod safeness;
mod state;
mod tracker;

pub use history::{Continuation, EpochHistory, HISTORY_ENTRIES_MAX};
pub use members::{check_node_id, fingerprint, parse_members, Member, MemberKind};
pub use safeness::Safeness;
pub use state::{NodeState, StateError, STATE_FILE_NAME};
pub use tracker::{Progress, Tracker};
