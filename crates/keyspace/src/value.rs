//! The value types a key can hold.

use std::collections::VecDeque;

use crate::{CompactBytes, Dict, StrValue, ZSet};

pub type List = VecDeque<CompactBytes>;
pub type Hash = Dict<CompactBytes, CompactBytes>;
pub type Set = Dict<CompactBytes, ()>;

pub enum Value {
    Str(StrValue),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
}

/// The names `TYPE` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Str,
    List,
    Hash,
    Set,
    ZSet,
}

impl ValueKind {
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Str => "string",
            ValueKind::List => "list",
            ValueKind::Hash => "hash",
            ValueKind::Set => "set",
            ValueKind::ZSet => "zset",
        }
    }

    /// Parses a `TYPE` name as `SCAN ... TYPE` accepts it (case-insensitive).
    pub fn from_name(name: &[u8]) -> Option<ValueKind> {
        [
            ValueKind::Str,
            ValueKind::List,
            ValueKind::Hash,
            ValueKind::Set,
            ValueKind::ZSet,
        ]
        .into_iter()
        .find(|kind| kind.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

impl Value {
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Str(_) => ValueKind::Str,
            Value::List(_) => ValueKind::List,
            Value::Hash(_) => ValueKind::Hash,
            Value::Set(_) => ValueKind::Set,
            Value::ZSet(_) => ValueKind::ZSet,
        }
    }

    /// True for an aggregate with no elements; such a key must not exist.
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(list) => list.is_empty(),
            Value::Hash(hash) => hash.is_empty(),
            Value::Set(set) => set.is_empty(),
            Value::ZSet(zset) => zset.is_empty(),
        }
    }

    /// Number of elements (1 for a string); used to decide whether a value
    /// is big enough to drop on a background thread.
    pub fn element_count(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(list) => list.len(),
            Value::Hash(hash) => hash.len(),
            Value::Set(set) => set.len(),
            Value::ZSet(zset) => zset.len(),
        }
    }

    /// The `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(StrValue::Inline { .. }) => "embstr",
            Value::Str(StrValue::Heap(_)) => "raw",
            Value::List(_) => "quicklist",
            Value::Hash(_) => "hashtable",
            Value::Set(_) => "hashtable",
            Value::ZSet(_) => "skiplist",
        }
    }

    pub fn new_list() -> Value {
        Value::List(Box::default())
    }

    pub fn new_hash(seed: u64) -> Value {
        Value::Hash(Box::new(Dict::with_seed(seed)))
    }

    pub fn new_set(seed: u64) -> Value {
        Value::Set(Box::new(Dict::with_seed(seed)))
    }

    pub fn new_zset(seed: u64) -> Value {
        Value::ZSet(Box::new(ZSet::with_seed(seed)))
    }
}

impl Clone for Value {
    fn clone(&self) -> Self {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(list) => Value::List(list.clone()),
            Value::Hash(hash) => Value::Hash(hash.clone()),
            Value::Set(set) => Value::Set(set.clone()),
            Value::ZSet(zset) => Value::ZSet(zset.clone()),
        }
    }
}
