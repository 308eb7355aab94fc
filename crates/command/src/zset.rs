//! Sorted-set commands (Redis 7.0 semantics, replies and error texts).
//!
//! Layout: this module holds the command table, the single-member commands
//! (ZADD, ZINCRBY, ZREM, ZSCORE, ZRANK, ...) and the reply helpers the
//! family shares. The rest lives in helper modules:
//! - `zset_query`: range reads and removals (ZRANGE and its variants,
//!   ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZREMRANGEBY*);
//! - `zset_algebra`: ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD;
//! - `zset_pop`: ZPOPMIN/MAX, ZMPOP and the blocking BZPOPMIN/MAX, BZMPOP;
//! - `zset_sample`: ZRANDMEMBER and ZSCAN;
//! - `zset_range`, `zset_float`, `zset_glob`: parsing and matching.
//!
//! Every handler validates all arguments and types before it changes the
//! keyspace, records its change as an effect (verbatim when the arguments
//! are deterministic, a plain pop for a blocking or multi-key pop), and
//! never leaves an empty sorted set behind.

use bytes::Bytes;
use daisy_keyspace::ZSet;
use daisy_protocol::Reply;
use hashbrown::HashMap;

use crate::args::is;
use crate::flags::*;
use crate::typed::{get_zset, get_zset_mut, zset_or_create};
use crate::zset_float::parse_double;
use crate::{cmd, CmdError, CmdResult, CommandSpec, Ctx, DataFn, Flow, Handler, KeySpec};
use crate::{zset_algebra as algebra, zset_pop as pop, zset_query as query, zset_sample as sample};

const GROUP: &str = "sorted_set";

/// A command whose keys follow a `numkeys` argument.
const fn numkeys_cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    find: fn(&[Bytes]) -> Vec<usize>,
    summary: &'static str,
    handler: DataFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: KeySpec::Find(find),
        group: GROUP,
        summary,
        handler: Handler::Data(handler),
    }
}

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), GROUP, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zadd),
    cmd("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), GROUP, "Increments the score of a member in a sorted set.", zincrby),
    cmd("zrem", -3, WRITE | FAST, (1, 1, 1), GROUP, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem),
    cmd("zcard", 2, READONLY | FAST, (1, 1, 1), GROUP, "Returns the number of members in a sorted set.", zcard),
    cmd("zscore", 3, READONLY | FAST, (1, 1, 1), GROUP, "Returns the score of a member in a sorted set.", zscore),
    cmd("zmscore", -3, READONLY | FAST, (1, 1, 1), GROUP, "Returns the score of one or more members in a sorted set.", zmscore),
    cmd("zrank", 3, READONLY | FAST, (1, 1, 1), GROUP, "Returns the index of a member in a sorted set ordered by ascending scores.", zrank),
    cmd("zrevrank", 3, READONLY | FAST, (1, 1, 1), GROUP, "Returns the index of a member in a sorted set ordered by descending scores.", zrevrank),
    cmd("zcount", 4, READONLY | FAST, (1, 1, 1), GROUP, "Returns the count of members in a sorted set that have scores within a range.", query::zcount),
    cmd("zlexcount", 4, READONLY | FAST, (1, 1, 1), GROUP, "Returns the number of members in a sorted set within a lexicographical range.", query::zlexcount),
    cmd("zrange", -4, READONLY, (1, 1, 1), GROUP, "Returns members in a sorted set within a range of indexes.", query::zrange),
    cmd("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), GROUP, "Stores a range of members from sorted set in a key.", query::zrangestore),
    cmd("zrevrange", -4, READONLY, (1, 1, 1), GROUP, "Returns members in a sorted set within a range of indexes in reverse order.", query::zrevrange),
    cmd("zrangebyscore", -4, READONLY, (1, 1, 1), GROUP, "Returns members in a sorted set within a range of scores.", query::zrangebyscore),
    cmd("zrevrangebyscore", -4, READONLY, (1, 1, 1), GROUP, "Returns members in a sorted set within a range of scores in reverse order.", query::zrevrangebyscore),
    cmd("zrangebylex", -4, READONLY, (1, 1, 1), GROUP, "Returns members in a sorted set within a lexicographical range.", query::zrangebylex),
    cmd("zrevrangebylex", -4, READONLY, (1, 1, 1), GROUP, "Returns members in a sorted set within a lexicographical range in reverse order.", query::zrevrangebylex),
    cmd("zremrangebyrank", 4, WRITE, (1, 1, 1), GROUP, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", query::zremrangebyrank),
    cmd("zremrangebyscore", 4, WRITE, (1, 1, 1), GROUP, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", query::zremrangebyscore),
    cmd("zremrangebylex", 4, WRITE, (1, 1, 1), GROUP, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", query::zremrangebylex),
    cmd("zpopmin", -2, WRITE | FAST, (1, 1, 1), GROUP, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", pop::zpopmin),
    cmd("zpopmax", -2, WRITE | FAST, (1, 1, 1), GROUP, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", pop::zpopmax),
    numkeys_cmd("zmpop", -4, WRITE, pop::zmpop_keys, "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", pop::zmpop),
    cmd("bzpopmin", -3, WRITE | FAST | BLOCKING, (1, -2, 1), GROUP, "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", pop::bzpopmin),
    cmd("bzpopmax", -3, WRITE | FAST | BLOCKING, (1, -2, 1), GROUP, "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", pop::bzpopmax),
    numkeys_cmd("bzmpop", -5, WRITE | BLOCKING, pop::bzmpop_keys, "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", pop::bzmpop),
    cmd("zrandmember", -2, READONLY, (1, 1, 1), GROUP, "Returns one or more random members from a sorted set.", sample::zrandmember),
    cmd("zscan", -3, READONLY, (1, 1, 1), GROUP, "Iterates over members and scores of a sorted set.", sample::zscan),
    numkeys_cmd("zunion", -3, READONLY, algebra::source_keys, "Returns the union of multiple sorted sets.", algebra::zunion),
    numkeys_cmd("zinter", -3, READONLY, algebra::source_keys, "Returns the intersect of multiple sorted sets.", algebra::zinter),
    numkeys_cmd("zdiff", -3, READONLY, algebra::source_keys, "Returns the difference between multiple sorted sets.", algebra::zdiff),
    numkeys_cmd("zintercard", -3, READONLY, algebra::source_keys, "Returns the number of members of the intersect of multiple sorted sets.", algebra::zintercard),
    numkeys_cmd("zunionstore", -4, WRITE | DENYOOM, algebra::store_keys, "Stores the union of multiple sorted sets in a key.", algebra::zunionstore),
    numkeys_cmd("zinterstore", -4, WRITE | DENYOOM, algebra::store_keys, "Stores the intersect of multiple sorted sets in a key.", algebra::zinterstore),
    numkeys_cmd("zdiffstore", -4, WRITE | DENYOOM, algebra::store_keys, "Stores the difference of multiple sorted sets in a key.", algebra::zdiffstore),
];

/// The reply a blocked BZPOPMIN, BZPOPMAX or BZMPOP (named by the first
/// argument, any case) gets when its timeout passes, also the reply inside
/// MULTI when nothing can be popped: a null array for all three, as in
/// Redis.
pub fn zset_blocking_timeout_reply(_name: &str, reply: &mut Reply) {
    reply.null_array();
}

/// Writes `(member, score)` pairs: with scores, a flat array in RESP2 and
/// an array of `[member, score]` pairs in RESP3 (Redis keeps the order, so
/// not a map); without, an array of members.
pub(crate) fn reply_scored(reply: &mut Reply, items: &[(&[u8], f64)], with_scores: bool) {
    if !with_scores {
        reply.array(items.len());
        for (member, _) in items {
            reply.bulk(member);
        }
        return;
    }
    let nested = reply.is_resp3();
    reply.array(if nested { items.len() } else { items.len() * 2 });
    for (member, score) in items {
        if nested {
            reply.array(2);
        }
        reply.bulk(member);
        reply.double(*score);
    }
}

/// Stores `result` at `destination` for the STORE commands (ZRANGESTORE,
/// ZUNIONSTORE, ...): an empty result deletes the destination. Replies with
/// the stored size and records the command verbatim if anything changed.
pub(crate) fn store_result(ctx: &mut Ctx<'_>, destination: &[u8], result: ZSet) {
    let stored = result.len();
    if stored > 0 {
        ctx.db.set(
            destination,
            daisy_keyspace::Value::ZSet(Box::new(result)),
            false,
        );
        ctx.propagate_verbatim();
    } else if ctx.db.remove(destination).is_some() {
        ctx.propagate_verbatim();
    }
    ctx.reply.int(stored as i64);
}

// ---------------------------------------------------------------------------
// ZADD and ZINCRBY

/// ZADD's options as parsed.
#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What ZADD decided for one score-member pair.
enum AddOutcome {
    Added(f64),
    Updated(f64),
    /// The member keeps its score, which the INCR reply shows.
    Unchanged(f64),
    /// NX, XX, GT or LT skipped it.
    Skipped,
}

fn zadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    add_generic(ctx, argv, AddFlags::default())
}

/// ZINCRBY is ZADD with INCR, down to its parser: `ZINCRBY key nx m`
/// reads `nx` as an option, as Redis does.
fn zincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_generic(ctx, argv, flags)
}

fn parse_add_flags(argv: &[Bytes], mut flags: AddFlags) -> (AddFlags, usize) {
    let mut index = 2;
    while let Some(arg) = argv.get(index) {
        if is(arg, "nx") {
            flags.nx = true;
        } else if is(arg, "xx") {
            flags.xx = true;
        } else if is(arg, "ch") {
            flags.ch = true;
        } else if is(arg, "incr") {
            flags.incr = true;
        } else if is(arg, "gt") {
            flags.gt = true;
        } else if is(arg, "lt") {
            flags.lt = true;
        } else {
            break;
        }
        index += 1;
    }
    (flags, index)
}

fn add_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], flags: AddFlags) -> CmdResult {
    let (flags, first_score) = parse_add_flags(argv, flags);
    let pairs = &argv[first_score..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    let exclusive_choices = [flags.gt, flags.lt, flags.nx];
    if exclusive_choices.iter().filter(|&&chosen| chosen).count() > 1 {
        return Err(CmdError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(CmdError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let scores = pairs
        .chunks_exact(2)
        .map(|pair| parse_double(&pair[0]).ok_or(CmdError::NotFloat))
        .collect::<Result<Vec<f64>, _>>()?;
    let members: Vec<&[u8]> = pairs.chunks_exact(2).map(|pair| &pair[1][..]).collect();

    let key = &argv[1];
    let outcomes = match get_zset(ctx.db, key)? {
        None if flags.xx => Vec::new(),
        existing => plan_adds(existing, &members, &scores, flags)?,
    };
    apply_adds(ctx, key, &members, &outcomes)?;
    reply_add(ctx, &outcomes, flags);
    Ok(Flow::Done)
}

/// Decides, without changing anything, what each pair does; later pairs
/// see the effect of earlier ones (`ZADD k 1 a 2 a`).
fn plan_adds(
    zset: Option<&ZSet>,
    members: &[&[u8]],
    scores: &[f64],
    flags: AddFlags,
) -> Result<Vec<AddOutcome>, CmdError> {
    let mut pending: HashMap<&[u8], f64> = HashMap::new();
    let mut outcomes = Vec::with_capacity(members.len());
    for (&member, &score) in members.iter().zip(scores) {
        let current = pending
            .get(member)
            .copied()
            .or_else(|| zset.and_then(|zset| zset.score(member)));
        let outcome = plan_one(current, score, flags)?;
        if let AddOutcome::Added(new) | AddOutcome::Updated(new) = outcome {
            pending.insert(member, new);
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Redis's `zsetAdd` decision for one member.
fn plan_one(current: Option<f64>, score: f64, flags: AddFlags) -> Result<AddOutcome, CmdError> {
    let Some(current) = current else {
        return Ok(if flags.xx {
            AddOutcome::Skipped
        } else {
            AddOutcome::Added(score)
        });
    };
    if flags.nx {
        return Ok(AddOutcome::Skipped);
    }
    let new = if flags.incr { score + current } else { score };
    if new.is_nan() {
        return Err(CmdError::Static(
            "ERR resulting score is not a number (NaN)",
        ));
    }
    if (flags.lt && new >= current) || (flags.gt && new <= current) {
        return Ok(AddOutcome::Skipped);
    }
    // Numeric equality: 0 and -0 are the same score, and the stored one stays.
    Ok(if new == current {
        AddOutcome::Unchanged(current)
    } else {
        AddOutcome::Updated(new)
    })
}

fn apply_adds(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    members: &[&[u8]],
    outcomes: &[AddOutcome],
) -> Result<(), CmdError> {
    let changes: Vec<(&[u8], f64)> = members
        .iter()
        .zip(outcomes)
        .filter_map(|(member, outcome)| match outcome {
            AddOutcome::Added(score) | AddOutcome::Updated(score) => Some((*member, *score)),
            _ => None,
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let zset = zset_or_create(ctx.db, key)?;
    for (member, score) in changes {
        zset.insert(member, score);
    }
    ctx.propagate_verbatim();
    Ok(())
}

fn reply_add(ctx: &mut Ctx<'_>, outcomes: &[AddOutcome], flags: AddFlags) {
    if flags.incr {
        match outcomes.first() {
            Some(
                AddOutcome::Added(score)
                | AddOutcome::Updated(score)
                | AddOutcome::Unchanged(score),
            ) => ctx.reply.double(*score),
            _ => ctx.reply.null(),
        }
        return;
    }
    let added = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, AddOutcome::Added(_)))
        .count();
    let updated = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, AddOutcome::Updated(_)))
        .count();
    ctx.reply
        .int((if flags.ch { added + updated } else { added }) as i64);
}

// ---------------------------------------------------------------------------
// ZREM and the single-member reads

fn zrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let present = match get_zset(ctx.db, key)? {
        Some(zset) => argv[2..].iter().any(|member| zset.contains(member)),
        None => false,
    };
    let mut removed = 0;
    if present {
        if let Some(zset) = get_zset_mut(ctx.db, key)? {
            removed = argv[2..]
                .iter()
                .filter(|member| zset.remove(member).is_some())
                .count();
        }
        ctx.db.remove_if_empty(key);
        ctx.propagate_verbatim();
    }
    ctx.reply.int(removed as i64);
    Ok(Flow::Done)
}

fn zcard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = get_zset(ctx.db, &argv[1])?.map_or(0, ZSet::len);
    ctx.reply.int(len as i64);
    Ok(Flow::Done)
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match get_zset(ctx.db, &argv[1])?.and_then(|zset| zset.score(&argv[2])) {
        Some(score) => ctx.reply.double(score),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let zset = get_zset(ctx.db, &argv[1])?;
    ctx.reply.array(argv.len() - 2);
    for member in &argv[2..] {
        match zset.and_then(|zset| zset.score(member)) {
            Some(score) => ctx.reply.double(score),
            None => ctx.reply.null(),
        }
    }
    Ok(Flow::Done)
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], reverse: bool) -> CmdResult {
    let rank = get_zset(ctx.db, &argv[1])?.and_then(|zset| {
        let rank = zset.rank(&argv[2])?;
        Some(if reverse { zset.len() - 1 - rank } else { rank })
    });
    match rank {
        Some(rank) => ctx.reply.int(rank as i64),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}
