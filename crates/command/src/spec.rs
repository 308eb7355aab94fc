//! Command metadata: arity, flags, key positions, and the handler.

use bytes::Bytes;

use crate::{CmdResult, Ctx};

/// Command flags, as `COMMAND INFO` reports them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const ALLOW_BUSY: u32 = 1 << 12;

    /// Flag names in the order `COMMAND INFO` lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// What a handler asks the executor to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// The reply is written.
    Done,
    /// Nothing was written: block the client on `keys` until one of them
    /// changes or `deadline_ms` (absolute, `None` = forever) passes, then
    /// run the command again. Never returned when `Ctx::in_multi`.
    Block {
        keys: Vec<Bytes>,
        deadline_ms: Option<u64>,
    },
}

pub type DataFn = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

#[derive(Clone, Copy)]
pub enum Handler {
    /// A pure keyspace command, run by the executor.
    Data(DataFn),
    /// A connection or server command, run by the session layer.
    Session,
}

/// Where the keys are in argv.
#[derive(Clone, Copy)]
pub enum KeySpec {
    None,
    /// `first..=last` (negative `last` counts from the end) every `step`.
    Range {
        first: i32,
        last: i32,
        step: i32,
    },
    /// Keys found by a function (commands with a `numkeys` argument).
    Find(fn(&[Bytes]) -> Vec<usize>),
}

#[derive(Clone, Copy)]
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// Argument count including the name; negative means "at least".
    pub arity: i32,
    pub flags: u32,
    pub keys: KeySpec,
    /// Redis's command group (`string`, `list`, `generic`, ...).
    pub group: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn is_write(&self) -> bool {
        self.has(flags::WRITE)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity as i64;
        let argc = argc as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Indices of the key arguments in `argv`.
    pub fn key_indices(&self, argv: &[Bytes]) -> Vec<usize> {
        match self.keys {
            KeySpec::None => Vec::new(),
            KeySpec::Range { first, last, step } => {
                let len = argv.len() as i32;
                let last = if last < 0 { len + last } else { last };
                let mut out = Vec::new();
                let mut index = first;
                while index <= last && index < len && step > 0 {
                    out.push(index as usize);
                    index += step;
                }
                out
            }
            KeySpec::Find(find) => find(argv),
        }
    }

    /// `(first, last, step)` as `COMMAND INFO` reports them.
    pub fn legacy_key_range(&self) -> (i64, i64, i64) {
        match self.keys {
            KeySpec::None | KeySpec::Find(_) => (0, 0, 0),
            KeySpec::Range { first, last, step } => (first as i64, last as i64, step as i64),
        }
    }
}

/// Builds a [`CommandSpec`] with one key range; the common case.
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    (first, last, step): (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
    handler: DataFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: if step == 0 {
            KeySpec::None
        } else {
            KeySpec::Range { first, last, step }
        },
        group,
        summary,
        handler: Handler::Data(handler),
    }
}

/// Keys of a command shaped `CMD numkeys key [key ...] ...` where `numkeys`
/// is at `index`. Returns no keys when `numkeys` is malformed; the handler
/// reports the error.
pub fn keys_after_numkeys(argv: &[Bytes], index: usize) -> Vec<usize> {
    let Some(count) = argv
        .get(index)
        .and_then(|arg| crate::args::parse_i64_opt(arg))
    else {
        return Vec::new();
    };
    if count <= 0 {
        return Vec::new();
    }
    let first = index + 1;
    let end = first.saturating_add(count as usize).min(argv.len());
    (first..end).collect()
}
