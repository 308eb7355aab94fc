//! Range reads and removals on one sorted set: ZRANGE (by rank, BYSCORE,
//! BYLEX, REV, LIMIT, WITHSCORES) and its older forms ZREVRANGE,
//! Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX; ZRANGESTORE; ZCOUNT, ZLEXCOUNT;
//! ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.
//!
//! All of them share Redis's `zrangeGenericCommand` order of checks:
//! options, option conflicts, the range itself, then the key's type.

use bytes::Bytes;
use daisy_keyspace::{CompactBytes, ZSet};

use crate::args::{is, parse_i64, resolve_range};
use crate::typed::{get_zset, get_zset_mut};
use crate::zset::{reply_scored, store_result};
use crate::zset_range::{
    first_in_range, last_in_range, span_in_range, LexRange, RangeSpec, ScoreRange,
};
use crate::{CmdError, CmdResult, Ctx, Flow};

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    /// Not chosen yet: ZRANGE and ZRANGESTORE pick with BYSCORE / BYLEX.
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Not chosen yet: ZRANGE and ZRANGESTORE pick with REV.
    Auto,
    Forward,
    Reverse,
}

/// The options after `<key> <min> <max>`, as parsed.
struct RangeOptions {
    kind: RangeKind,
    reverse: bool,
    with_scores: bool,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

pub(crate) fn zrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Auto, Direction::Auto)
}

pub(crate) fn zrangestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(
        ctx,
        argv,
        2,
        Some(&argv[1]),
        RangeKind::Auto,
        Direction::Auto,
    )
}

pub(crate) fn zrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Rank, Direction::Reverse)
}

pub(crate) fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Score, Direction::Forward)
}

pub(crate) fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Score, Direction::Reverse)
}

pub(crate) fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Lex, Direction::Forward)
}

pub(crate) fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, 1, None, RangeKind::Lex, Direction::Reverse)
}

fn parse_range_options(
    argv: &[Bytes],
    source: usize,
    store: bool,
    mut kind: RangeKind,
    mut direction: Direction,
) -> Result<RangeOptions, CmdError> {
    let mut with_scores = false;
    let mut offset = 0;
    let mut limit = -1;
    let mut index = source + 3;
    while index < argv.len() {
        let arg = &argv[index];
        let args_left = argv.len() - index - 1;
        if !store && is(arg, "withscores") {
            with_scores = true;
        } else if is(arg, "limit") && args_left >= 2 {
            offset = parse_i64(&argv[index + 1])?;
            limit = parse_i64(&argv[index + 2])?;
            index += 2;
        } else if direction == Direction::Auto && is(arg, "rev") {
            direction = Direction::Reverse;
        } else if kind == RangeKind::Auto && is(arg, "bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && is(arg, "byscore") {
            kind = RangeKind::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        index += 1;
    }
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    // Redis tests the value, so an explicit `LIMIT 0 -1` passes with ranks.
    if limit != -1 && kind == RangeKind::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && kind == RangeKind::Lex {
        return Err(CmdError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    Ok(RangeOptions {
        kind,
        reverse: direction == Direction::Reverse,
        with_scores: with_scores || store,
        offset,
        limit,
    })
}

/// The parsed `<min> <max>` of one of the three kinds.
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn parse_bounds(argv: &[Bytes], source: usize, options: &RangeOptions) -> Result<Bounds, CmdError> {
    let (mut min, mut max) = (&argv[source + 1], &argv[source + 2]);
    // BYSCORE and BYLEX with REV take `<max> <min>`.
    if options.reverse && options.kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    Ok(match options.kind {
        RangeKind::Score => Bounds::Score(ScoreRange::parse(min, max)?),
        RangeKind::Lex => Bounds::Lex(LexRange::parse(min, max)?),
        RangeKind::Rank | RangeKind::Auto => Bounds::Rank(parse_i64(min)?, parse_i64(max)?),
    })
}

fn range_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    source: usize,
    destination: Option<&Bytes>,
    kind: RangeKind,
    direction: Direction,
) -> CmdResult {
    let options = parse_range_options(argv, source, destination.is_some(), kind, direction)?;
    let bounds = parse_bounds(argv, source, &options)?;
    let seed = ctx.db.seed();
    let Some(zset) = get_zset(ctx.db, &argv[source])? else {
        match destination {
            Some(destination) => store_result(ctx, destination, ZSet::with_seed(seed)),
            None => ctx.reply.array(0),
        }
        return Ok(Flow::Done);
    };
    let selected = select(zset, &bounds, &options);
    match destination {
        Some(destination) => {
            let mut result = ZSet::with_seed(seed);
            for (member, score) in &selected {
                result.insert(member, *score);
            }
            store_result(ctx, destination, result);
        }
        None => reply_scored(ctx.reply, &selected, options.with_scores),
    }
    Ok(Flow::Done)
}

/// The members a range command returns, in reply order.
fn select<'a>(zset: &'a ZSet, bounds: &Bounds, options: &RangeOptions) -> Vec<(&'a [u8], f64)> {
    match bounds {
        Bounds::Rank(start, stop) => select_by_rank(zset, *start, *stop, options.reverse),
        Bounds::Score(range) => select_in_range(zset, range, options),
        Bounds::Lex(range) => select_in_range(zset, range, options),
    }
}

fn select_by_rank(zset: &ZSet, start: i64, stop: i64, reverse: bool) -> Vec<(&[u8], f64)> {
    let len = zset.len();
    let Some((start, stop)) = resolve_range(start, stop, len) else {
        return Vec::new();
    };
    if reverse {
        // Reverse ranks count from the highest score.
        zset.range(len - 1 - stop..len - start)
            .rev()
            .map(as_pair)
            .collect()
    } else {
        zset.range(start..stop + 1).map(as_pair).collect()
    }
}

fn as_pair((member, score): (&CompactBytes, f64)) -> (&[u8], f64) {
    (member.as_slice(), score)
}

/// BYSCORE / BYLEX: from the first (or, reversed, last) member in range,
/// skip `offset` members unchecked, then take members while they stay in
/// range, at most `limit`. A negative offset selects nothing (Redis walks
/// off the end), a negative limit means no limit.
fn select_in_range<'a>(
    zset: &'a ZSet,
    range: &impl RangeSpec,
    options: &RangeOptions,
) -> Vec<(&'a [u8], f64)> {
    let Ok(offset) = usize::try_from(options.offset) else {
        return Vec::new();
    };
    let limit = usize::try_from(options.limit).unwrap_or(usize::MAX);
    if options.reverse {
        let Some(start) = last_in_range(zset, range).and_then(|last| last.checked_sub(offset))
        else {
            return Vec::new();
        };
        zset.range(0..start + 1)
            .rev()
            .take_while(|(member, score)| range.gte_min(*score, member))
            .take(limit)
            .map(as_pair)
            .collect()
    } else {
        let Some(start) = first_in_range(zset, range).and_then(|first| first.checked_add(offset))
        else {
            return Vec::new();
        };
        zset.range(start..zset.len())
            .take_while(|(member, score)| range.lte_max(*score, member))
            .take(limit)
            .map(as_pair)
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Counting

pub(crate) fn zcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = ScoreRange::parse(&argv[2], &argv[3])?;
    count_generic(ctx, &argv[1], &range)
}

pub(crate) fn zlexcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = LexRange::parse(&argv[2], &argv[3])?;
    count_generic(ctx, &argv[1], &range)
}

fn count_generic(ctx: &mut Ctx<'_>, key: &[u8], range: &impl RangeSpec) -> CmdResult {
    let count = get_zset(ctx.db, key)?.map_or(0, |zset| span_in_range(zset, range).len());
    ctx.reply.int(count as i64);
    Ok(Flow::Done)
}

// ---------------------------------------------------------------------------
// Removals

pub(crate) fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    let ranks = get_zset(ctx.db, &argv[1])?
        .and_then(|zset| resolve_range(start, stop, zset.len()))
        .map_or(0..0, |(start, stop)| start..stop + 1);
    remove_ranks(ctx, &argv[1], ranks)
}

pub(crate) fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = ScoreRange::parse(&argv[2], &argv[3])?;
    remove_in_range(ctx, &argv[1], &range)
}

pub(crate) fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = LexRange::parse(&argv[2], &argv[3])?;
    remove_in_range(ctx, &argv[1], &range)
}

fn remove_in_range(ctx: &mut Ctx<'_>, key: &[u8], range: &impl RangeSpec) -> CmdResult {
    let ranks = get_zset(ctx.db, key)?.map_or(0..0, |zset| span_in_range(zset, range));
    remove_ranks(ctx, key, ranks)
}

/// Removes the members at `ranks` (already validated against the set),
/// deletes the key if that empties it, and replies with the count.
fn remove_ranks(ctx: &mut Ctx<'_>, key: &[u8], ranks: std::ops::Range<usize>) -> CmdResult {
    let mut removed = 0;
    if !ranks.is_empty() {
        if let Some(zset) = get_zset_mut(ctx.db, key)? {
            removed = zset.remove_range(ranks).len();
        }
        ctx.db.remove_if_empty(key);
        ctx.propagate_verbatim();
    }
    ctx.reply.int(removed as i64);
    Ok(Flow::Done)
}
