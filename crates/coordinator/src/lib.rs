//! DaisyDB's coordinator: a small Raft group (openraft) over the voter nodes
//! that replicates the **cluster map** (DESIGN.md section 6).
//!
//! This crate owns:
//! - the map and `ClusterMap::apply`, the pure, deterministic function that
//!   turns a committed `Command` into a new map (`map`, `fragment`, `event`,
//!   `command`); it is tested without Raft;
//! - the openraft glue: the type configuration (`types`), the log store and
//!   state machine behind openraft's storage-v2 traits (`log_store`,
//!   `state_machine`), with an optional durable directory (`log_file`,
//!   `snapshot_file`);
//! - the network behind a small `Transport` trait (`network`), with an
//!   in-process transport that can drop and partition nodes (`in_process`)
//!   and a TCP transport between processes (`tcp`);
//! - the pure, clock-free protocol logic the coordinator's agent drives:
//!   primary leases granted by a quorum of voters (`lease`), and the
//!   leader's failure detection and failover decisions (`detector`);
//! - `Coordinator`, one voter: start, bootstrap, propose, read the map, stop
//!   (`node`), and every timing knob in one place (`knobs`).
//!
//! It must never: read the clock or the network inside `apply`, `lease` or
//! `detector` (time comes in as `now_ms`); hold a lock
//! across an `.await`; open a socket outside `tcp` (which serves a stream
//! or listener it is handed; routing the peer port is the server's).
//!
//! Invariants: the map's (see `ClusterMap::check_invariants`) hold after
//! every applied entry; a fragment's epoch only grows, by one per promotion;
//! every voter that applied the same log holds an equal map.

// openraft's error types (`StorageError`, `ConfigError`) are large, and its
// traits return them by value; the helpers that build them follow suit.
#![allow(clippy::result_large_err)]

pub mod agent;
pub mod command;
pub mod detector;
pub mod event;
pub mod fragment;
pub mod in_process;
pub mod knobs;
pub mod lease;
pub mod log_file;
pub mod log_store;
pub mod map;
pub mod network;
pub mod node;
pub mod snapshot_file;
pub mod state_machine;
pub mod tcp;
pub mod types;

pub use command::{Command, Outcome, Rejection};
pub use detector::{Decision, Detector, DetectorConfig, Report};
pub use event::{Event, EventKind, LsnRange, PromotionCause, EVENT_LOG_MAX};
pub use fragment::{AsyncRole, Fragment, Model, Role, SafenessLevel};
pub use in_process::InProcessTransport;
pub use knobs::Knobs;
pub use lease::{Denial, Grants, LeaseHolder, DRIFT_PERCENT};
pub use log_store::LogStore;
pub use map::{ClusterMap, NodeInfo, NodeKind};
pub use network::{Network, RaftRequest, RaftResponse, Transport, TransportError};
pub use node::{Coordinator, ProposeError, StartError};
pub use state_machine::StateMachineStore;
pub use tcp::server::{serve_raft, serve_raft_connection};
pub use tcp::transport::TcpTransport;
pub use types::TypeConfig;

/// A node's identity in the coordinator and the map.
pub type NodeId = u64;
