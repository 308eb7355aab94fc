//! Pops by score: ZPOPMIN, ZPOPMAX, ZMPOP, and the blocking BZPOPMIN,
//! BZPOPMAX and BZMPOP.
//!
//! Effects: ZPOPMIN/ZPOPMAX replay verbatim (the lowest or highest members
//! are determined by the keyspace); ZMPOP and the blocking pops are
//! recorded as the plain pop they performed, `ZPOPMIN key [count]`, as
//! Redis rewrites them for its replicas.
//!
//! Blocking contract: arguments are checked first (in Redis's order); a
//! non-empty key is served at once; inside MULTI nothing blocks and the
//! timeout reply (a null array) is written; otherwise the handler writes
//! nothing and returns `Flow::Block` on its keys.

use bytes::Bytes;
use daisy_keyspace::CompactBytes;

use crate::args::{is, parse_i64_opt, parse_timeout_deadline};
use crate::typed::{get_zset, get_zset_mut};
use crate::zset::zset_blocking_timeout_reply;
use crate::{keys_after_numkeys, CmdError, CmdResult, Ctx, Flow};

/// Which end of the order a pop takes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Min,
    Max,
}

impl End {
    /// The non-blocking command that performs the same pop.
    fn pop_command(self) -> &'static [u8] {
        match self {
            End::Min => b"ZPOPMIN",
            End::Max => b"ZPOPMAX",
        }
    }
}

/// Removes up to `count` members from `key`'s end (which must hold a
/// sorted set), lowest first for `Min`, highest first for `Max`, and
/// deletes the key if it empties.
fn pop_members(ctx: &mut Ctx<'_>, key: &[u8], end: End, count: usize) -> Vec<(CompactBytes, f64)> {
    let mut popped = match get_zset_mut(ctx.db, key) {
        Ok(Some(zset)) => {
            let len = zset.len();
            let count = count.min(len);
            match end {
                End::Min => zset.remove_range(0..count),
                End::Max => zset.remove_range(len - count..len),
            }
        }
        _ => Vec::new(),
    };
    if end == End::Max {
        popped.reverse();
    }
    ctx.db.remove_if_empty(key);
    popped
}

/// The pop as the effect log records it: `ZPOPMIN key [count]`.
fn propagate_pop(ctx: &mut Ctx<'_>, end: End, key: &[u8], count: Option<usize>) {
    let mut effect = vec![
        Bytes::from_static(end.pop_command()),
        Bytes::copy_from_slice(key),
    ];
    if let Some(count) = count {
        effect.push(Bytes::from(count.to_string()));
    }
    ctx.propagate(effect);
}

// ---------------------------------------------------------------------------
// ZPOPMIN / ZPOPMAX

pub(crate) fn zpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Min)
}

pub(crate) fn zpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop_generic(ctx, argv, End::Max)
}

/// A count that must be zero or more (`getPositiveLongFromObjectOrReply`,
/// which gives the same error for a non-number).
fn parse_non_negative(arg: &[u8]) -> Result<usize, CmdError> {
    parse_i64_opt(arg)
        .and_then(|value| usize::try_from(value).ok())
        .ok_or(CmdError::Static(
            "ERR value is out of range, must be positive",
        ))
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = argv.get(2).map(|arg| parse_non_negative(arg)).transpose()?;
    let key = &argv[1];
    if get_zset(ctx.db, key)?.is_none() || count == Some(0) {
        ctx.reply.array(0);
        return Ok(Flow::Done);
    }
    let popped = pop_members(ctx, key, end, count.unwrap_or(1));
    ctx.propagate_verbatim();
    // RESP3 nests [member, score] pairs when a count was given.
    let nested = ctx.reply.is_resp3() && count.is_some();
    ctx.reply.array(if nested {
        popped.len()
    } else {
        popped.len() * 2
    });
    for (member, score) in &popped {
        if nested {
            ctx.reply.array(2);
        }
        ctx.reply.bulk(member);
        ctx.reply.double(*score);
    }
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// ZMPOP / BZMPOP

/// `numkeys key [key ...] MIN|MAX [COUNT count]` as parsed.
struct MultiPop {
    /// Indices of the keys in argv.
    keys: std::ops::Range<usize>,
    end: End,
    count: usize,
}

pub(crate) fn zmpop_keys(argv: &[Bytes]) -> Vec<usize> {
    keys_after_numkeys(argv, 1)
}

pub(crate) fn bzmpop_keys(argv: &[Bytes]) -> Vec<usize> {
    keys_after_numkeys(argv, 2)
}

/// Redis's `zmpopGenericCommand` parsing, with its error texts.
fn parse_multi_pop(argv: &[Bytes], numkeys_index: usize) -> Result<MultiPop, CmdError> {
    let numkeys = parse_i64_opt(&argv[numkeys_index])
        .filter(|&n| n >= 1)
        .ok_or(CmdError::Static("ERR numkeys should be greater than 0"))?;
    let first_key = numkeys_index + 1;
    let where_index = usize::try_from(numkeys)
        .ok()
        .and_then(|n| first_key.checked_add(n))
        .filter(|&index| index < argv.len())
        .ok_or(CmdError::Syntax)?;
    let end = if is(&argv[where_index], "MIN") {
        End::Min
    } else if is(&argv[where_index], "MAX") {
        End::Max
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut index = where_index + 1;
    while index < argv.len() {
        let more_args = index + 1 < argv.len();
        if count.is_none() && is(&argv[index], "COUNT") && more_args {
            let value = parse_i64_opt(&argv[index + 1])
                .filter(|&n| n >= 1)
                .ok_or(CmdError::Static("ERR count should be greater than 0"))?;
            count = Some(usize::try_from(value).unwrap_or(usize::MAX));
            index += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(MultiPop {
        keys: first_key..where_index,
        end,
        count: count.unwrap_or(1),
    })
}

pub(crate) fn zmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let request = parse_multi_pop(argv, 1)?;
    // The first key that exists is the one popped from (or the one whose
    // type is wrong); later keys are not looked at.
    for key in &argv[request.keys.clone()] {
        if get_zset(ctx.db, key)?.is_some() {
            multi_pop_from(ctx, key, request.end, request.count);
            return Ok(Flow::Done);
        }
    }
    ctx.reply.null_array();
    Ok(Flow::Done)
}

/// Pops from `key` for ZMPOP/BZMPOP: replies `[key, [[member, score], ...]]`
/// and records `ZPOPMIN|ZPOPMAX key count`.
fn multi_pop_from(ctx: &mut Ctx<'_>, key: &[u8], end: End, count: usize) {
    let popped = pop_members(ctx, key, end, count);
    propagate_pop(ctx, end, key, Some(popped.len()));
    ctx.reply.array(2);
    ctx.reply.bulk(key);
    ctx.reply.array(popped.len());
    for (member, score) in &popped {
        ctx.reply.array(2);
        ctx.reply.bulk(member);
        ctx.reply.double(*score);
    }
}

pub(crate) fn bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let request = parse_multi_pop(argv, 2)?;
    let deadline_ms = parse_timeout_deadline(&argv[1], ctx.now_ms())?;
    let keys = &argv[request.keys.clone()];
    if let Some(key) = first_non_empty(ctx, keys)? {
        multi_pop_from(ctx, &key, request.end, request.count);
        return Ok(Flow::Done);
    }
    block_or_time_out(ctx, "bzmpop", keys, deadline_ms)
}

// ---------------------------------------------------------------------------
// BZPOPMIN / BZPOPMAX

pub(crate) fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, argv, End::Min, "bzpopmin")
}

pub(crate) fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, argv, End::Max, "bzpopmax")
}

fn blocking_pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, name: &str) -> CmdResult {
    let timeout_index = argv.len() - 1;
    let deadline_ms = parse_timeout_deadline(&argv[timeout_index], ctx.now_ms())?;
    let keys = &argv[1..timeout_index];
    let Some(key) = first_non_empty(ctx, keys)? else {
        return block_or_time_out(ctx, name, keys, deadline_ms);
    };
    let popped = pop_members(ctx, &key, end, 1);
    propagate_pop(ctx, end, &key, None);
    ctx.reply.array(1 + popped.len() * 2);
    ctx.reply.bulk(&key);
    for (member, score) in &popped {
        ctx.reply.bulk(member);
        ctx.reply.double(*score);
    }
    Ok(Flow::Done)
}

/// The first of `keys` holding a non-empty sorted set; `WRONGTYPE` if a
/// key met before it holds another type.
fn first_non_empty(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Option<Bytes>, CmdError> {
    for key in keys {
        if get_zset(ctx.db, key)?.is_some_and(|zset| !zset.is_empty()) {
            return Ok(Some(key.clone()));
        }
    }
    Ok(None)
}

/// Nothing to pop: inside MULTI answer as a timeout, else block.
fn block_or_time_out(
    ctx: &mut Ctx<'_>,
    name: &str,
    keys: &[Bytes],
    deadline_ms: Option<u64>,
) -> CmdResult {
    if ctx.in_multi {
        zset_blocking_timeout_reply(name, ctx.reply);
        return Ok(Flow::Done);
    }
    Ok(Flow::Block {
        keys: keys.to_vec(),
        deadline_ms,
    })
}
