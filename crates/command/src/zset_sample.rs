//! Reads that visit a sorted set piecemeal: ZRANDMEMBER (random members,
//! with or without repeats) and ZSCAN (cursor iteration with MATCH and
//! COUNT).
//!
//! Randomness comes only from `Ctx::rng`. A member is drawn by rank, so
//! every member is equally likely. Replies Redis makes deterministic are
//! reproduced: ZRANDMEMBER with a count at least the set's size returns
//! the whole set from the highest score down, and ZSCAN returns a compact
//! set whole, in order, with cursor 0.

use bytes::Bytes;
use daisy_keyspace::{CompactBytes, ZSet};
use daisy_protocol::{format_double, Reply};
use hashbrown::HashSet;

use crate::args::{is, parse_i64};
use crate::scan_util::{parse_cursor, ScanOptions};
use crate::typed::get_zset;
use crate::zset::reply_scored;
use crate::{CmdError, CmdResult, Ctx, Flow, Rng};

/// Most members ZRANDMEMBER returns with repeats (a negative count); Redis
/// has no bound, but a reply of billions of members would exhaust memory.
const RANDOM_WITH_REPEATS_MAX: u64 = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------
// ZRANDMEMBER

pub(crate) fn zrandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() >= 3 {
        let count = parse_i64(&argv[2])?;
        if count == i64::MIN {
            return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if argv.len() > 4 || (argv.len() == 4 && !is(&argv[3], "withscores")) {
            return Err(CmdError::Syntax);
        }
        let with_scores = argv.len() == 4;
        if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
            return Err(CmdError::Static("ERR value is out of range"));
        }
        return random_with_count(ctx, &argv[1], count, with_scores);
    }
    match get_zset(ctx.db, &argv[1])? {
        Some(zset) => {
            let (member, _) = random_entry(zset, ctx.rng);
            ctx.reply.bulk(member);
        }
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

/// A uniformly random member of a non-empty set.
fn random_entry<'a>(zset: &'a ZSet, rng: &mut Rng) -> (&'a [u8], f64) {
    let rank = rng.below(zset.len() as u64) as usize;
    let (member, score) = zset.get_by_rank(rank).expect("rank below len");
    (member.as_slice(), score)
}

fn random_with_count(ctx: &mut Ctx<'_>, key: &[u8], count: i64, with_scores: bool) -> CmdResult {
    let Some(zset) = get_zset(ctx.db, key)? else {
        ctx.reply.array(0);
        return Ok(Flow::Done);
    };
    let wanted = count.unsigned_abs();
    if count < 0 && wanted > RANDOM_WITH_REPEATS_MAX {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let size = zset.len();
    let picks: Vec<(&[u8], f64)> = if count < 0 || wanted == 1 {
        (0..wanted).map(|_| random_entry(zset, ctx.rng)).collect()
    } else if wanted >= size as u64 {
        zset.iter()
            .rev()
            .map(|(member, score)| (member.as_slice(), score))
            .collect()
    } else {
        distinct_random(zset, wanted as usize, ctx.rng)
    };
    reply_scored(ctx.reply, &picks, with_scores);
    Ok(Flow::Done)
}

/// `count` distinct random members, `count` below the set's size. When
/// most of the set is wanted, random members are dropped instead of
/// picked (Redis's "case 3"); a compact set answers in its order, as a
/// listpack sample does.
fn distinct_random<'a>(zset: &'a ZSet, count: usize, rng: &mut Rng) -> Vec<(&'a [u8], f64)> {
    let size = zset.len();
    let dropping = count.saturating_mul(3) > size;
    let target = if dropping { size - count } else { count };
    let mut chosen: Vec<usize> = Vec::with_capacity(target);
    let mut seen: HashSet<usize> = HashSet::with_capacity(target);
    while chosen.len() < target {
        let rank = rng.below(size as u64) as usize;
        if seen.insert(rank) {
            chosen.push(rank);
        }
    }
    let ranks: Vec<usize> = if dropping {
        (0..size).filter(|rank| !seen.contains(rank)).collect()
    } else {
        if zset.is_compact() {
            chosen.sort_unstable();
        }
        chosen
    };
    ranks
        .into_iter()
        .filter_map(|rank| zset.get_by_rank(rank))
        .map(|(member, score)| (member.as_slice(), score))
        .collect()
}

// ---------------------------------------------------------------------------
// ZSCAN

/// Buckets visited per requested member before a call gives up on a
/// sparse table (Redis's `maxiterations = count * 10`).
const SCAN_BUCKETS_PER_MEMBER: usize = 10;

pub(crate) fn zscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let Some(zset) = get_zset(ctx.db, &argv[1])? else {
        reply_scan(ctx.reply, 0, &[]);
        return Ok(Flow::Done);
    };
    let options = ScanOptions::parse(&argv[3..])?;
    let (next, mut found) = if zset.is_compact() {
        let all = zset
            .iter()
            .map(|(member, score)| (member.clone(), score))
            .collect();
        (0, all)
    } else {
        let count = usize::try_from(options.count).unwrap_or(usize::MAX);
        scan_table(zset, cursor, count)
    };
    found.retain(|(member, _)| options.matches(member));
    reply_scan(ctx.reply, next, &found);
    Ok(Flow::Done)
}

/// Scans the member table from `cursor` until about `count` members are
/// found, the scan completes, or too many buckets were visited.
fn scan_table(zset: &ZSet, cursor: u64, count: usize) -> (u64, Vec<(CompactBytes, f64)>) {
    let mut found = Vec::new();
    let mut cursor = cursor;
    let mut buckets_left = count.saturating_mul(2 * SCAN_BUCKETS_PER_MEMBER);
    loop {
        cursor = zset
            .scores()
            .scan(cursor, |member, score| found.push((member.clone(), *score)));
        if cursor == 0 || buckets_left == 0 || found.len() >= count {
            break;
        }
        buckets_left -= 1;
    }
    (cursor, found)
}

fn reply_scan(reply: &mut Reply, cursor: u64, found: &[(CompactBytes, f64)]) {
    reply.array(2);
    reply.bulk(cursor.to_string().as_bytes());
    reply.array(found.len() * 2);
    for (member, score) in found {
        reply.bulk(member);
        reply.bulk(format_double(*score).as_bytes());
    }
}
