//! Set commands: unordered collections of distinct members under one key.
//!
//! This module owns the single-key commands and the command table; the
//! multi-key algebra (`SINTER`, `SUNION`, `SDIFF` and their `STORE` and
//! `CARD` forms) lives in `set_ops`, the sampling in `set_random`, and the
//! listing order Redis uses for integer sets in `set_intset`.
//!
//! Replies follow Redis 7.0: `SMEMBERS`, `SPOP count` and the algebra
//! answer RESP3 sets; `SRANDMEMBER count` answers an array. `SPOP` is
//! logged as `SREM` of the members it chose (or `DEL` when it takes the
//! whole set), so replaying the log never draws random numbers.

use bytes::Bytes;
use daisy_keyspace::{CompactBytes, Set, Value};

use crate::args::parse_i64;
use crate::flags::*;
use crate::scan_util::{parse_cursor, reply_scan, scan_dict, ScanOptions};
use crate::set_intset::{intset_members, members_in_order};
use crate::set_ops::{sdiff, sdiffstore, sinter, sintercard, sinterstore, sunion, sunionstore};
use crate::set_random::{
    check_repeats, distinct_entries, parse_random_count, partial_shuffle, random_entry,
};
use crate::typed::{check_type, get_set, get_set_mut, set_or_create};
use crate::{cmd, CmdError, CmdResult, CommandSpec, Ctx, Flow, Handler, KeySpec};

/// `SPOP` with a count draws members one by one while at least a fifth of
/// the set stays (Redis's `SPOP_MOVE_STRATEGY_MUL`); past that it picks the
/// members to keep instead.
const SPOP_DRAW_FACTOR: u64 = 5;

#[rustfmt::skip]
pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd),
    cmd("srem", -3, WRITE | FAST, (1, 1, 1), "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", srem),
    cmd("scard", 2, READONLY | FAST, (1, 1, 1), "set", "Returns the number of members in a set.", scard),
    cmd("sismember", 3, READONLY | FAST, (1, 1, 1), "set", "Determines whether a member belongs to a set.", sismember),
    cmd("smismember", -3, READONLY | FAST, (1, 1, 1), "set", "Determines whether multiple members belong to a set.", smismember),
    cmd("smembers", 2, READONLY, (1, 1, 1), "set", "Returns all members of a set.", smembers),
    cmd("srandmember", -2, READONLY, (1, 1, 1), "set", "Get one or multiple random members from a set", srandmember),
    cmd("spop", -2, WRITE | FAST, (1, 1, 1), "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", spop),
    cmd("smove", 4, WRITE | FAST, (1, 2, 1), "set", "Moves a member from one set to another.", smove),
    cmd("sinter", -2, READONLY, (1, -1, 1), "set", "Returns the intersect of multiple sets.", sinter),
    CommandSpec {
        name: "sintercard",
        arity: -3,
        flags: READONLY,
        keys: KeySpec::Find(sintercard_keys),
        group: "set",
        summary: "Returns the number of members of the intersect of multiple sets.",
        handler: Handler::Data(sintercard),
    },
    cmd("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "Stores the intersect of multiple sets in a key.", sinterstore),
    cmd("sunion", -2, READONLY, (1, -1, 1), "set", "Returns the union of multiple sets.", sunion),
    cmd("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "Stores the union of multiple sets in a key.", sunionstore),
    cmd("sdiff", -2, READONLY, (1, -1, 1), "set", "Returns the difference of multiple sets.", sdiff),
    cmd("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "Stores the difference of multiple sets in a key.", sdiffstore),
    cmd("sscan", -3, READONLY, (1, 1, 1), "set", "Iterates over members of a set.", sscan),
];

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
fn sintercard_keys(argv: &[Bytes]) -> Vec<usize> {
    crate::keys_after_numkeys(argv, 1)
}

fn is_set(value: &Value) -> bool {
    matches!(value, Value::Set(_))
}

fn sadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, members) = (&argv[1], &argv[2..]);
    let adds_any = match get_set(ctx.db, key)? {
        None => true,
        Some(set) => members.iter().any(|member| !set.contains_key(member)),
    };
    if !adds_any {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    let set = set_or_create(ctx.db, key)?;
    let added = members
        .iter()
        .filter(|member| set.insert(CompactBytes::new(member), ()).is_none())
        .count();
    ctx.propagate_verbatim();
    ctx.reply.int(added as i64);
    Ok(Flow::Done)
}

fn srem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, members) = (&argv[1], &argv[2..]);
    let removes_any = get_set(ctx.db, key)?
        .is_some_and(|set| members.iter().any(|member| set.contains_key(member)));
    if !removes_any {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    let mut removed = 0;
    if let Some(set) = get_set_mut(ctx.db, key)? {
        removed = members
            .iter()
            .filter(|member| set.remove(member).is_some())
            .count();
    }
    ctx.db.remove_if_empty(key);
    ctx.propagate_verbatim();
    ctx.reply.int(removed as i64);
    Ok(Flow::Done)
}

fn scard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = get_set(ctx.db, &argv[1])?.map_or(0, |set| set.len());
    ctx.reply.int(len as i64);
    Ok(Flow::Done)
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let member = get_set(ctx.db, &argv[1])?.is_some_and(|set| set.contains_key(&argv[2]));
    ctx.reply.int(i64::from(member));
    Ok(Flow::Done)
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let set = get_set(ctx.db, &argv[1])?;
    let members = &argv[2..];
    ctx.reply.array(members.len());
    for member in members {
        let found = set.is_some_and(|set| set.contains_key(member));
        ctx.reply.int(i64::from(found));
    }
    Ok(Flow::Done)
}

/// `SMEMBERS`: in Redis, `SINTER` of one key; a RESP3 set.
fn smembers(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let set = get_set(ctx.db, &argv[1])?;
    ctx.reply.set(set.map_or(0, |set| set.len()));
    if let Some(set) = set {
        for member in members_in_order(set) {
            ctx.reply.bulk(member);
        }
    }
    Ok(Flow::Done)
}

/// `SMOVE source destination member`. A missing source answers 0 before
/// the destination's type is looked at, as in Redis.
fn smove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (source, destination, member) = (&argv[1], &argv[2], &argv[3]);
    match ctx.db.get(source) {
        None => {
            ctx.reply.int(0);
            return Ok(Flow::Done);
        }
        Some(value) if !is_set(value) => return Err(CmdError::WrongType),
        Some(_) => {}
    }
    check_type(ctx.db, destination, is_set)?;
    let present = get_set(ctx.db, source)?.is_some_and(|set| set.contains_key(member));
    if source == destination || !present {
        ctx.reply.int(i64::from(present));
        return Ok(Flow::Done);
    }
    if let Some(set) = get_set_mut(ctx.db, source)? {
        set.remove(member);
    }
    ctx.db.remove_if_empty(source);
    // A destination that already holds the member is not modified (WATCH).
    let in_destination = get_set(ctx.db, destination)?.is_some_and(|set| set.contains_key(member));
    if !in_destination {
        set_or_create(ctx.db, destination)?.insert(CompactBytes::new(member), ());
    }
    ctx.propagate_verbatim();
    ctx.reply.int(1);
    Ok(Flow::Done)
}

/// `SRANDMEMBER key [count]`; read-only, so the random choice is not logged.
fn srandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => {}
        3 => return srandmember_with_count(ctx, &argv[1], &argv[2]),
        _ => return Err(CmdError::Syntax),
    }
    match get_set(ctx.db, &argv[1])?.and_then(|set| random_entry(set, ctx.rng)) {
        Some((member, _)) => ctx.reply.bulk(member),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

/// The counted form answers an array (Redis 7.0): a negative count keeps
/// its length and may repeat members; a positive one gives distinct
/// members, at most the whole set.
fn srandmember_with_count(ctx: &mut Ctx<'_>, key: &[u8], count: &[u8]) -> CmdResult {
    let count = parse_random_count(count)?;
    let Some(set) = get_set(ctx.db, key)? else {
        ctx.reply.array(0);
        return Ok(Flow::Done);
    };
    let wanted = count.unsigned_abs();
    if wanted == 0 {
        ctx.reply.array(0);
    } else if count < 0 || wanted == 1 {
        check_repeats(wanted)?;
        ctx.reply.array(wanted as usize);
        for _ in 0..wanted {
            if let Some((member, _)) = random_entry(set, ctx.rng) {
                ctx.reply.bulk(member);
            }
        }
    } else if wanted >= set.len() as u64 {
        ctx.reply.array(set.len());
        for member in members_in_order(set) {
            ctx.reply.bulk(member);
        }
    } else {
        let chosen = distinct_entries(set, wanted as usize, ctx.rng);
        ctx.reply.array(chosen.len());
        for (member, _) in chosen {
            ctx.reply.bulk(member);
        }
    }
    Ok(Flow::Done)
}

/// `SPOP key [count]`.
fn spop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    match argv.len() {
        2 => {}
        3 => return spop_with_count(ctx, key, &argv[2]),
        _ => return Err(CmdError::Syntax),
    }
    let Some(set) = get_set(ctx.db, key)? else {
        ctx.reply.null();
        return Ok(Flow::Done);
    };
    let Some(member) = random_entry(set, ctx.rng).map(|(member, _)| member.clone()) else {
        ctx.reply.null();
        return Ok(Flow::Done);
    };
    pop_members(ctx, key, std::slice::from_ref(&member))?;
    ctx.reply.bulk(&member);
    Ok(Flow::Done)
}

/// `SPOP key count`: a RESP3 set of up to `count` distinct members.
fn spop_with_count(ctx: &mut Ctx<'_>, key: &Bytes, count: &[u8]) -> CmdResult {
    let count = parse_i64(count)
        .ok()
        .filter(|count| *count >= 0)
        .ok_or(CmdError::Static(
            "ERR value is out of range, must be positive",
        ))?
        .unsigned_abs();
    let Some(set) = get_set(ctx.db, key)? else {
        ctx.reply.set(0);
        return Ok(Flow::Done);
    };
    if count == 0 {
        ctx.reply.set(0);
        return Ok(Flow::Done);
    }
    let size = set.len() as u64;
    if count >= size {
        ctx.reply.set(set.len());
        for member in members_in_order(set) {
            ctx.reply.bulk(member);
        }
        ctx.db.remove(key);
        ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Ok(Flow::Done);
    }
    let popped = choose_popped(set, count, size - count, ctx.rng);
    pop_members(ctx, key, &popped)?;
    ctx.reply.set(popped.len());
    for member in &popped {
        ctx.reply.bulk(member);
    }
    Ok(Flow::Done)
}

/// Chooses `count` distinct members to pop, `count < set.len()`.
fn choose_popped(set: &Set, count: u64, remaining: u64, rng: &mut crate::Rng) -> Vec<CompactBytes> {
    if remaining.saturating_mul(SPOP_DRAW_FACTOR) > count {
        return distinct_entries(set, count as usize, rng)
            .into_iter()
            .map(|(member, _)| member.clone())
            .collect();
    }
    // Nearly everything goes: choose the few members that stay.
    let mut members: Vec<&CompactBytes> = set.iter().map(|(member, _)| member).collect();
    partial_shuffle(&mut members, remaining as usize, rng);
    members[remaining as usize..]
        .iter()
        .map(|member| (*member).clone())
        .collect()
}

/// Removes chosen members and logs `SREM key member...`.
fn pop_members(ctx: &mut Ctx<'_>, key: &Bytes, members: &[CompactBytes]) -> Result<(), CmdError> {
    if let Some(set) = get_set_mut(ctx.db, key)? {
        for member in members {
            set.remove(member);
        }
    }
    ctx.db.remove_if_empty(key);
    let mut effect = Vec::with_capacity(members.len() + 2);
    effect.push(Bytes::from_static(b"SREM"));
    effect.push(key.clone());
    effect.extend(members.iter().map(|member| Bytes::copy_from_slice(member)));
    ctx.propagate(effect);
    Ok(())
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`. A set Redis would hold
/// as an intset comes back whole, sorted, with cursor 0, as Redis answers.
fn sscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let Some(set) = get_set(ctx.db, &argv[1])? else {
        reply_scan(ctx.reply, 0, std::iter::empty());
        return Ok(Flow::Done);
    };
    let options = ScanOptions::parse(&argv[3..])?;
    if let Some(sorted) = intset_members(set) {
        let items: Vec<&[u8]> = sorted
            .into_iter()
            .map(|member| member.as_slice())
            .filter(|member| options.matches(member))
            .collect();
        reply_scan(ctx.reply, 0, items.into_iter());
        return Ok(Flow::Done);
    }
    // Dict::scan lends members only for the visit: keep copies.
    let mut items: Vec<CompactBytes> = Vec::new();
    let next_cursor = scan_dict(set, cursor, options.count, |member, _| {
        if options.matches(member) {
            items.push(member.clone());
        }
        1
    });
    reply_scan(
        ctx.reply,
        next_cursor,
        items.iter().map(|item| item.as_slice()),
    );
    Ok(Flow::Done)
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
