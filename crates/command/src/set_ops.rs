//! Set algebra over several keys: `SINTER`, `SINTERCARD`, `SINTERSTORE`,
//! `SUNION`, `SUNIONSTORE`, `SDIFF`, `SDIFFSTORE`.
//!
//! Every command checks the type of every source key before it computes
//! anything, so one key of another type is a `WRONGTYPE` error whatever
//! the other keys hold, and an error changes nothing. A missing key is an
//! empty set. The `STORE` forms overwrite the destination whatever its
//! type (and drop its TTL), delete it when the result is empty, and are
//! logged verbatim: given the same source keys they compute the same
//! result.
//!
//! The keyspace lends one value at a time, so a result is built by copying
//! members out of one source and filtering it against the others; memory
//! stays proportional to the result (the smallest set for intersections).

use bytes::Bytes;
use daisy_keyspace::{CompactBytes, Dict, Set, Value};

use crate::args::{is, parse_i64};
use crate::set_intset::members_in_order;
use crate::typed::get_set;
use crate::{CmdError, CmdResult, Ctx, Flow};

pub(crate) fn sinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = intersection(ctx, &argv[1..])?;
    ctx.reply.set(members.len());
    for member in &members {
        ctx.reply.bulk(member);
    }
    Ok(Flow::Done)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the
/// intersection, at most `limit` when it is not 0. Arguments are checked
/// before any key.
pub(crate) fn sintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let numkeys = parse_i64(&argv[1])
        .ok()
        .filter(|numkeys| *numkeys >= 1)
        .ok_or(CmdError::Static("ERR numkeys should be greater than 0"))?;
    let key_count = usize::try_from(numkeys)
        .ok()
        .filter(|count| *count <= argv.len() - 2)
        .ok_or(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ))?;
    let keys = &argv[2..2 + key_count];
    let mut limit = 0;
    let mut options = argv[2 + key_count..].iter();
    while let Some(option) = options.next() {
        match options.as_slice().first() {
            Some(value) if is(option, "LIMIT") => {
                options.next();
                limit = parse_i64(value)
                    .ok()
                    .filter(|limit| *limit >= 0)
                    .ok_or(CmdError::Static("ERR LIMIT can't be negative"))?
                    .unsigned_abs();
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    let size = intersection(ctx, keys)?.len() as u64;
    let size = if limit == 0 { size } else { size.min(limit) };
    ctx.reply.int(size as i64);
    Ok(Flow::Done)
}

pub(crate) fn sinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let members = intersection(ctx, &argv[2..])?;
    let mut result = Dict::with_seed(ctx.db.seed());
    for member in members {
        result.insert(member, ());
    }
    store(ctx, &argv[1], result);
    Ok(Flow::Done)
}

pub(crate) fn sunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let result = union(ctx, &argv[1..])?;
    reply_set(ctx, &result);
    Ok(Flow::Done)
}

pub(crate) fn sunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let result = union(ctx, &argv[2..])?;
    store(ctx, &argv[1], result);
    Ok(Flow::Done)
}

pub(crate) fn sdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let result = difference(ctx, &argv[1..])?;
    reply_set(ctx, &result);
    Ok(Flow::Done)
}

pub(crate) fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let result = difference(ctx, &argv[2..])?;
    store(ctx, &argv[1], result);
    Ok(Flow::Done)
}

/// Checks that every key is a set or missing; returns the size of each
/// (`None` when missing).
fn source_sizes(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<Option<usize>>, CmdError> {
    keys.iter()
        .map(|key| Ok(get_set(ctx.db, key)?.map(|set| set.len())))
        .collect()
}

/// The members common to every key, in the order Redis lists them: that of
/// the smallest set.
fn intersection(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<CompactBytes>, CmdError> {
    let sizes = source_sizes(ctx, keys)?;
    if sizes.iter().any(Option::is_none) {
        return Ok(Vec::new());
    }
    let Some(smallest) = (0..keys.len()).min_by_key(|&index| sizes[index]) else {
        return Ok(Vec::new());
    };
    let mut members: Vec<CompactBytes> = match get_set(ctx.db, &keys[smallest])? {
        Some(set) => members_in_order(set).cloned().collect(),
        None => Vec::new(),
    };
    for key in keys {
        if members.is_empty() {
            break;
        }
        if *key == keys[smallest] {
            continue;
        }
        if let Some(set) = get_set(ctx.db, key)? {
            members.retain(|member| set.contains_key(member));
        }
    }
    Ok(members)
}

/// Every member of any key.
fn union(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Set, CmdError> {
    source_sizes(ctx, keys)?;
    let mut result = Dict::with_seed(ctx.db.seed());
    for key in keys {
        if let Some(set) = get_set(ctx.db, key)? {
            for (member, _) in set.iter() {
                if !result.contains_key(member) {
                    result.insert(member.clone(), ());
                }
            }
        }
    }
    Ok(result)
}

/// The members of the first key that no other key holds.
fn difference(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Set, CmdError> {
    source_sizes(ctx, keys)?;
    let first = &keys[0];
    let mut result = match get_set(ctx.db, first)? {
        Some(set) => set.clone(),
        None => return Ok(Dict::with_seed(ctx.db.seed())),
    };
    for key in &keys[1..] {
        if result.is_empty() {
            break;
        }
        if key == first {
            result.clear();
            break;
        }
        let Some(other) = get_set(ctx.db, key)? else {
            continue;
        };
        // Walk whichever side is smaller.
        let doomed: Vec<CompactBytes> = if other.len() < result.len() {
            other.iter().map(|(member, _)| member.clone()).collect()
        } else {
            result
                .iter()
                .filter(|(member, _)| other.contains_key(member))
                .map(|(member, _)| member.clone())
                .collect()
        };
        for member in &doomed {
            result.remove(member);
        }
    }
    Ok(result)
}

/// A computed set as a RESP3 set reply, in Redis's listing order.
fn reply_set(ctx: &mut Ctx<'_>, result: &Set) {
    ctx.reply.set(result.len());
    for member in members_in_order(result) {
        ctx.reply.bulk(member);
    }
}

/// Stores a computed set in `destination` (any previous value and TTL are
/// dropped) and replies with its size; an empty result deletes the
/// destination. Logged verbatim whenever the keyspace changed.
fn store(ctx: &mut Ctx<'_>, destination: &[u8], result: Set) {
    let size = result.len();
    let changed = if size == 0 {
        ctx.db.remove(destination).is_some()
    } else {
        ctx.db.set(destination, Value::Set(Box::new(result)), false);
        true
    };
    if changed {
        ctx.propagate_verbatim();
    }
    ctx.reply.int(size as i64);
}
