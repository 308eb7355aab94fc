//! DaisyDB's keyspace: the data one fragment holds, and nothing else.
//!
//! Owns: the value types ([`Value`]), the hash table behind the keyspace and
//! the aggregate types ([`Dict`]), expiry times, the bookkeeping the
//! session layer needs (which watched keys changed, which keys expired),
//! and point-in-time snapshots taken while writes go on
//! ([`Db::begin_snapshot`], [`SnapshotEntry`]), and the digest of the
//! logical content that replicas compare ([`Db::digest`], [`Digest`]).
//!
//! Must never: read a clock, draw random numbers, or do I/O. The current
//! time comes from the caller through [`Db::set_now`], randomness through
//! closures passed in. Given the same calls, a `Db` ends in the same state.
//!
//! Invariants:
//! - a key never holds an empty aggregate (list, hash, set or zset);
//! - a key in the expiry index is in the main table;
//! - a key whose expiry time is at or before `now_ms` is never returned;
//! - a snapshot emits exactly the keyspace as it was when it began;
//! - the digest depends only on keys, types, values and expiry times, never
//!   on seeds, encodings, insertion order or table layout.

mod compact;
mod db;
mod dict;
mod digest;
mod snapshot;
mod value;
mod zset;

pub use compact::{CompactBytes, StrValue};
pub use db::{Db, Rejected};
pub use dict::Dict;
pub use digest::{Digest, DIGEST_BYTES};
pub use snapshot::SnapshotEntry;
pub use value::{Hash, List, Set, Value, ValueKind};
pub use zset::{Score, ZSet};
