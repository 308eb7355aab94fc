//! Set algebra over sorted sets: ZUNION, ZINTER, ZDIFF, their STORE forms,
//! and ZINTERCARD. Sources may be sorted sets or plain sets (members of a
//! plain set score 1); a missing key is an empty source.
//!
//! Results follow Redis's arithmetic exactly: each score is multiplied by
//! its source's weight (a NaN product, `0 * inf`, counts as 0), SUM turns
//! `inf + -inf` into 0, MIN and MAX ignore NaN. Sources are visited from
//! the smallest to the largest, as Redis sorts them, so sums add up in the
//! same order.

use bytes::Bytes;
use daisy_keyspace::{CompactBytes, Db, Value, ZSet};
use hashbrown::HashMap;

use crate::args::{is, parse_i64, parse_i64_opt};
use crate::zset::{reply_scored, store_result};
use crate::zset_float::parse_double;
use crate::{keys_after_numkeys, CmdError, CmdResult, Ctx, Flow};

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`.
    fn fold(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// One input key.
struct Source {
    key: Bytes,
    /// Members it holds (0 when the key is missing).
    len: usize,
    weight: f64,
}

/// Which command is running, for parsing and the reply.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    op: SetOp,
    /// `argv` index of `numkeys`.
    numkeys_index: usize,
    /// A STORE form: no WITHSCORES, the result goes to `argv[1]`.
    store: bool,
    /// ZINTERCARD: only the count, with LIMIT.
    cardinality_only: bool,
}

/// Everything after `numkeys`, parsed and type-checked.
struct Request {
    sources: Vec<Source>,
    aggregate: Aggregate,
    with_scores: bool,
    /// ZINTERCARD's LIMIT; 0 means none.
    limit: usize,
}

pub(crate) fn source_keys(argv: &[Bytes]) -> Vec<usize> {
    keys_after_numkeys(argv, 1)
}

/// Keys of the STORE forms: the destination, then the sources.
pub(crate) fn store_keys(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = vec![1];
    keys.extend(keys_after_numkeys(argv, 2));
    keys
}

const fn shape(name: &'static str, op: SetOp, store: bool, cardinality_only: bool) -> Shape {
    Shape {
        name,
        op,
        numkeys_index: if store { 2 } else { 1 },
        store,
        cardinality_only,
    }
}

pub(crate) fn zunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, shape("zunion", SetOp::Union, false, false))
}

pub(crate) fn zinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, shape("zinter", SetOp::Inter, false, false))
}

pub(crate) fn zdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, shape("zdiff", SetOp::Diff, false, false))
}

pub(crate) fn zintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, shape("zintercard", SetOp::Inter, false, true))
}

pub(crate) fn zunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, shape("zunionstore", SetOp::Union, true, false))
}

pub(crate) fn zinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, shape("zinterstore", SetOp::Inter, true, false))
}

pub(crate) fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, shape("zdiffstore", SetOp::Diff, true, false))
}

fn algebra(ctx: &mut Ctx<'_>, argv: &[Bytes], shape: Shape) -> CmdResult {
    let mut request = parse_request(ctx.db, argv, shape)?;
    if shape.op != SetOp::Diff {
        request.sources.sort_by_key(|source| source.len);
    }
    if shape.cardinality_only {
        let count = intersection_count(ctx.db, &request);
        ctx.reply.int(count as i64);
        return Ok(Flow::Done);
    }
    let mut result = ZSet::with_seed(ctx.db.seed());
    match shape.op {
        SetOp::Union => union(ctx.db, &request, &mut result),
        SetOp::Inter => intersection(ctx.db, &request, &mut result),
        SetOp::Diff => difference(ctx.db, &request, &mut result),
    }
    if shape.store {
        store_result(ctx, &argv[1], result);
    } else {
        let items: Vec<(&[u8], f64)> = result
            .iter()
            .map(|(member, score)| (member.as_slice(), score))
            .collect();
        reply_scored(ctx.reply, &items, request.with_scores);
    }
    Ok(Flow::Done)
}

/// Redis's order: numkeys, the key count, every key's type, then options.
fn parse_request(db: &mut Db, argv: &[Bytes], shape: Shape) -> Result<Request, CmdError> {
    let numkeys = parse_i64(&argv[shape.numkeys_index])?;
    if numkeys < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{}' command",
            shape.name
        )));
    }
    let first_key = shape.numkeys_index + 1;
    let numkeys = usize::try_from(numkeys)
        .ok()
        .filter(|&n| n <= argv.len() - first_key)
        .ok_or(CmdError::Syntax)?;
    let mut sources = Vec::with_capacity(numkeys);
    for key in &argv[first_key..first_key + numkeys] {
        sources.push(Source {
            key: key.clone(),
            len: source_len(db, key)?,
            weight: 1.0,
        });
    }
    let mut request = Request {
        sources,
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    parse_options(&argv[first_key + numkeys..], shape, &mut request)?;
    Ok(request)
}

fn parse_options(options: &[Bytes], shape: Shape, request: &mut Request) -> Result<(), CmdError> {
    let weighted = shape.op != SetOp::Diff && !shape.cardinality_only;
    let numkeys = request.sources.len();
    let mut index = 0;
    while index < options.len() {
        let remaining = options.len() - index;
        let arg = &options[index];
        if weighted && remaining > numkeys && is(arg, "weights") {
            for (source, weight) in request.sources.iter_mut().zip(&options[index + 1..]) {
                source.weight = parse_double(weight)
                    .ok_or(CmdError::Static("ERR weight value is not a float"))?;
            }
            index += 1 + numkeys;
        } else if weighted && remaining >= 2 && is(arg, "aggregate") {
            let kind = &options[index + 1];
            request.aggregate = if is(kind, "sum") {
                Aggregate::Sum
            } else if is(kind, "min") {
                Aggregate::Min
            } else if is(kind, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            index += 2;
        } else if !shape.store && !shape.cardinality_only && is(arg, "withscores") {
            request.with_scores = true;
            index += 1;
        } else if shape.cardinality_only && remaining >= 2 && is(arg, "limit") {
            let limit = parse_i64_opt(&options[index + 1])
                .and_then(|limit| usize::try_from(limit).ok())
                .ok_or(CmdError::Static("ERR LIMIT can't be negative"))?;
            request.limit = limit;
            index += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(())
}

/// The size of a source: a sorted set or a set; missing is empty.
fn source_len(db: &mut Db, key: &[u8]) -> Result<usize, CmdError> {
    match db.get(key) {
        None => Ok(0),
        Some(Value::ZSet(zset)) => Ok(zset.len()),
        Some(Value::Set(set)) => Ok(set.len()),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The score `member` has in the source at `key`, if it is there.
fn score_in(db: &mut Db, key: &[u8], member: &[u8]) -> Option<f64> {
    match db.get(key)? {
        Value::ZSet(zset) => zset.score(member),
        Value::Set(set) => set.contains_key(member).then_some(1.0),
        _ => None,
    }
}

/// Visits every (member, score) of a source: sorted sets from the highest
/// score down, as Redis iterates them.
fn for_each_entry(db: &mut Db, key: &[u8], mut visit: impl FnMut(&CompactBytes, f64)) {
    match db.get(key) {
        Some(Value::ZSet(zset)) => zset
            .iter()
            .rev()
            .for_each(|(member, score)| visit(member, score)),
        Some(Value::Set(set)) => set.iter().for_each(|(member, _)| visit(member, 1.0)),
        _ => {}
    }
}

fn entries_of(db: &mut Db, key: &[u8]) -> Vec<(CompactBytes, f64)> {
    let mut entries = Vec::new();
    for_each_entry(db, key, |member, score| {
        entries.push((member.clone(), score))
    });
    entries
}

/// A weighted score, with NaN (`0 * inf`) read as 0.
fn weighted(score: f64, weight: f64) -> f64 {
    let value = score * weight;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

fn union(db: &mut Db, request: &Request, result: &mut ZSet) {
    let mut totals: HashMap<CompactBytes, f64> = HashMap::new();
    for source in request.sources.iter().filter(|source| source.len > 0) {
        for_each_entry(db, &source.key, |member, score| {
            let value = weighted(score, source.weight);
            match totals.get_mut(member.as_slice()) {
                Some(total) => request.aggregate.fold(total, value),
                None => {
                    totals.insert(member.clone(), value);
                }
            }
        });
    }
    for (member, score) in totals {
        result.insert(&member, score);
    }
}

/// Visits each member of the intersection with its aggregated score, in
/// the order Redis finds them; stops when `visit` returns false.
fn for_each_common(
    db: &mut Db,
    request: &Request,
    mut visit: impl FnMut(&CompactBytes, f64) -> bool,
) {
    let Some((smallest, others)) = request.sources.split_first() else {
        return;
    };
    if smallest.len == 0 {
        return;
    }
    'members: for (member, score) in entries_of(db, &smallest.key) {
        let mut total = weighted(score, smallest.weight);
        for other in others {
            match score_in(db, &other.key, &member) {
                Some(value) => request.aggregate.fold(&mut total, value * other.weight),
                None => continue 'members,
            }
        }
        if !visit(&member, total) {
            return;
        }
    }
}

fn intersection(db: &mut Db, request: &Request, result: &mut ZSet) {
    for_each_common(db, request, |member, score| {
        result.insert(member, score);
        true
    });
}

fn intersection_count(db: &mut Db, request: &Request) -> usize {
    let mut count = 0;
    for_each_common(db, request, |_, _| {
        count += 1;
        request.limit == 0 || count < request.limit
    });
    count
}

/// Members of the first source found in no other, with their own scores.
fn difference(db: &mut Db, request: &Request, result: &mut ZSet) {
    let Some((first, others)) = request.sources.split_first() else {
        return;
    };
    if first.len == 0 || others.iter().any(|other| other.key == first.key) {
        return;
    }
    for (member, score) in entries_of(db, &first.key) {
        if !others
            .iter()
            .any(|other| score_in(db, &other.key, &member).is_some())
        {
            result.insert(&member, score);
        }
    }
}
