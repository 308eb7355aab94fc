//! Hash commands: fields and their values under one key.
//!
//! Replies follow Redis 7.0 for both protocols: `HGETALL` is a map in
//! RESP3, `HRANDFIELD ... WITHVALUES` nests pairs in RESP3, and the other
//! multi-element replies are plain arrays. Writes are logged verbatim
//! except `HINCRBYFLOAT`, which is logged as `HSET key field result` so
//! replicas never redo floating-point arithmetic.
//!
//! Reads never touch `Db::get_mut`: a command that ends up changing
//! nothing (an `HDEL` of absent fields, an `HSETNX` of a present one) does
//! not disturb `WATCH`.

use bytes::Bytes;
use daisy_keyspace::{CompactBytes, Hash};
use daisy_protocol::{Protocol, Reply};

use crate::args::{is, parse_i64, parse_i64_opt};
use crate::flags::*;
use crate::long_double::{add_long_double, parse_long_double};
use crate::scan_util::{parse_cursor, reply_scan, scan_dict, ScanOptions};
use crate::set_random::{check_repeats, distinct_entries, parse_random_count, random_entry};
use crate::typed::{get_hash, get_hash_mut, hash_or_create};
use crate::{cmd, CmdError, CmdResult, CommandSpec, Ctx, Flow};

/// Redis keeps a hash in a listpack while it has at most this many
/// fields...
const LISTPACK_MAX_ENTRIES: usize = 128;
/// ...and no field or value longer than this. A listpack hash is scanned
/// in one call that returns everything with cursor 0.
const LISTPACK_MAX_VALUE_BYTES: usize = 64;

#[rustfmt::skip]
pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("hset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "Creates or modifies the value of a field in a hash.", hset),
    cmd("hsetnx", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "Sets the value of a field in a hash only when the field doesn't exist.", hsetnx),
    cmd("hmset", -4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "Sets the values of multiple fields.", hmset),
    cmd("hget", 3, READONLY | FAST, (1, 1, 1), "hash", "Returns the value of a field in a hash.", hget),
    cmd("hmget", -3, READONLY | FAST, (1, 1, 1), "hash", "Returns the values of all fields in a hash.", hmget),
    cmd("hdel", -3, WRITE | FAST, (1, 1, 1), "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hdel),
    cmd("hlen", 2, READONLY | FAST, (1, 1, 1), "hash", "Returns the number of fields in a hash.", hlen),
    cmd("hstrlen", 3, READONLY | FAST, (1, 1, 1), "hash", "Returns the length of the value of a field.", hstrlen),
    cmd("hexists", 3, READONLY | FAST, (1, 1, 1), "hash", "Determines whether a field exists in a hash.", hexists),
    cmd("hkeys", 2, READONLY, (1, 1, 1), "hash", "Returns all fields in a hash.", hkeys),
    cmd("hvals", 2, READONLY, (1, 1, 1), "hash", "Returns all values in a hash.", hvals),
    cmd("hgetall", 2, READONLY, (1, 1, 1), "hash", "Returns all fields and values in a hash.", hgetall),
    cmd("hincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hincrby),
    cmd("hincrbyfloat", 4, WRITE | DENYOOM | FAST, (1, 1, 1), "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hincrbyfloat),
    cmd("hrandfield", -2, READONLY, (1, 1, 1), "hash", "Returns one or more random fields from a hash.", hrandfield),
    cmd("hscan", -3, READONLY, (1, 1, 1), "hash", "Iterates over fields and values of a hash.", hscan),
];

fn hset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let created = set_fields(ctx, argv)?;
    ctx.reply.int(created as i64);
    Ok(Flow::Done)
}

/// `HMSET`: `HSET` with an `OK` reply (deprecated in Redis, still served).
fn hmset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_fields(ctx, argv)?;
    ctx.reply.ok();
    Ok(Flow::Done)
}

/// Sets every `field value` pair of `HSET key field value [field value
/// ...]`; returns how many fields are new. A dangling field is an arity
/// error, reported before the type check as in Redis.
fn set_fields(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> Result<usize, CmdError> {
    if argv.len() % 2 == 1 {
        return Err(CmdError::wrong_arity(&argv[0]));
    }
    let hash = hash_or_create(ctx.db, &argv[1])?;
    let created = argv[2..]
        .chunks_exact(2)
        .filter(|pair| set_field(hash, &pair[0], &pair[1]))
        .count();
    ctx.propagate_verbatim();
    Ok(created)
}

/// Sets one field; true when the field is new.
fn set_field(hash: &mut Hash, field: &[u8], value: &[u8]) -> bool {
    hash.insert(CompactBytes::new(field), CompactBytes::new(value))
        .is_none()
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, field) = (&argv[1], &argv[2]);
    let exists = get_hash(ctx.db, key)?.is_some_and(|hash| hash.contains_key(field));
    if exists {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    set_field(hash_or_create(ctx.db, key)?, field, &argv[3]);
    ctx.propagate_verbatim();
    ctx.reply.int(1);
    Ok(Flow::Done)
}

fn hget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let value = get_hash(ctx.db, &argv[1])?.and_then(|hash| hash.get(&argv[2]));
    match value {
        Some(value) => ctx.reply.bulk(value),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let hash = get_hash(ctx.db, &argv[1])?;
    let fields = &argv[2..];
    ctx.reply.array(fields.len());
    for field in fields {
        match hash.and_then(|hash| hash.get(field)) {
            Some(value) => ctx.reply.bulk(value),
            None => ctx.reply.null(),
        }
    }
    Ok(Flow::Done)
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, fields) = (&argv[1], &argv[2..]);
    let any_present = get_hash(ctx.db, key)?
        .is_some_and(|hash| fields.iter().any(|field| hash.contains_key(field)));
    if !any_present {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    let mut deleted = 0;
    if let Some(hash) = get_hash_mut(ctx.db, key)? {
        deleted = fields
            .iter()
            .filter(|field| hash.remove(field).is_some())
            .count();
    }
    ctx.db.remove_if_empty(key);
    ctx.propagate_verbatim();
    ctx.reply.int(deleted as i64);
    Ok(Flow::Done)
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = get_hash(ctx.db, &argv[1])?.map_or(0, |hash| hash.len());
    ctx.reply.int(len as i64);
    Ok(Flow::Done)
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = get_hash(ctx.db, &argv[1])?
        .and_then(|hash| hash.get(&argv[2]))
        .map_or(0, |value| value.len());
    ctx.reply.int(len as i64);
    Ok(Flow::Done)
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let exists = get_hash(ctx.db, &argv[1])?.is_some_and(|hash| hash.contains_key(&argv[2]));
    ctx.reply.int(i64::from(exists));
    Ok(Flow::Done)
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let hash = get_hash(ctx.db, &argv[1])?;
    ctx.reply.array(hash.map_or(0, |hash| hash.len()));
    for (field, _) in hash.into_iter().flat_map(|hash| hash.iter()) {
        ctx.reply.bulk(field);
    }
    Ok(Flow::Done)
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let hash = get_hash(ctx.db, &argv[1])?;
    ctx.reply.array(hash.map_or(0, |hash| hash.len()));
    for (_, value) in hash.into_iter().flat_map(|hash| hash.iter()) {
        ctx.reply.bulk(value);
    }
    Ok(Flow::Done)
}

/// A map in RESP3 (`%0` for a missing key), a flat array in RESP2.
fn hgetall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let hash = get_hash(ctx.db, &argv[1])?;
    ctx.reply.map(hash.map_or(0, |hash| hash.len()));
    for (field, value) in hash.into_iter().flat_map(|hash| hash.iter()) {
        ctx.reply.bulk(field);
        ctx.reply.bulk(value);
    }
    Ok(Flow::Done)
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, field) = (&argv[1], &argv[2]);
    let increment = parse_i64(&argv[3])?;
    let current = match get_hash(ctx.db, key)?.and_then(|hash| hash.get(field)) {
        Some(value) => {
            parse_i64_opt(value).ok_or(CmdError::Static("ERR hash value is not an integer"))?
        }
        None => 0,
    };
    let updated = current.checked_add(increment).ok_or(CmdError::Overflow)?;
    set_field(
        hash_or_create(ctx.db, key)?,
        field,
        updated.to_string().as_bytes(),
    );
    ctx.propagate_verbatim();
    ctx.reply.int(updated);
    Ok(Flow::Done)
}

/// Adds in Redis's long double arithmetic and stores the result as text;
/// logged as `HSET key field text`.
fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, field) = (&argv[1], &argv[2]);
    let increment = parse_long_double(&argv[3]).ok_or(CmdError::NotFloat)?;
    // Refused before the key is looked at, so no empty hash is created.
    if increment.is_infinite() {
        return Err(CmdError::Static("ERR value is NaN or Infinity"));
    }
    let current = match get_hash(ctx.db, key)?.and_then(|hash| hash.get(field)) {
        Some(value) => Some(
            parse_long_double(value).ok_or(CmdError::Static("ERR hash value is not a float"))?,
        ),
        None => None,
    };
    let text = add_long_double(current, &increment).ok_or(CmdError::Static(
        "ERR increment would produce NaN or Infinity",
    ))?;
    set_field(hash_or_create(ctx.db, key)?, field, text.as_bytes());
    ctx.propagate(vec![
        Bytes::from_static(b"HSET"),
        key.clone(),
        field.clone(),
        Bytes::from(text.clone()),
    ]);
    ctx.reply.bulk(text.as_bytes());
    Ok(Flow::Done)
}

/// `HRANDFIELD key [count [WITHVALUES]]`; read-only, so no effect even
/// though the choice is random.
fn hrandfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    if let Some(count) = argv.get(2) {
        let count = parse_random_count(count)?;
        let with_values = match argv.get(3) {
            None => false,
            Some(word) if argv.len() == 4 && is(word, "WITHVALUES") => true,
            Some(_) => return Err(CmdError::Syntax),
        };
        if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
            return Err(CmdError::Static("ERR value is out of range"));
        }
        return hrandfield_with_count(ctx, key, count, with_values);
    }
    let Some(hash) = get_hash(ctx.db, key)? else {
        ctx.reply.null();
        return Ok(Flow::Done);
    };
    match random_entry(hash, ctx.rng) {
        Some((field, _)) => ctx.reply.bulk(field),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

/// The counted form: a negative count may repeat fields and keeps its
/// length; a positive count returns distinct fields, at most all of them.
/// With values, RESP2 gets a flat list and RESP3 a `[field, value]` pair
/// per field.
fn hrandfield_with_count(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    count: i64,
    with_values: bool,
) -> CmdResult {
    let Some(hash) = get_hash(ctx.db, key)? else {
        ctx.reply.array(0);
        return Ok(Flow::Done);
    };
    let wanted = count.unsigned_abs();
    let nested = with_values && ctx.reply.protocol() == Protocol::Resp3;
    let per_field = if with_values && !nested { 2 } else { 1 };
    let reply_pair = |reply: &mut Reply, field: &[u8], value: &[u8]| {
        if nested {
            reply.array(2);
        }
        reply.bulk(field);
        if with_values {
            reply.bulk(value);
        }
    };
    if wanted == 0 {
        ctx.reply.array(0);
    } else if count < 0 || wanted == 1 {
        check_repeats(wanted)?;
        ctx.reply.array(wanted as usize * per_field);
        for _ in 0..wanted {
            if let Some((field, value)) = random_entry(hash, ctx.rng) {
                reply_pair(ctx.reply, field, value);
            }
        }
    } else if wanted >= hash.len() as u64 {
        ctx.reply.array(hash.len() * per_field);
        for (field, value) in hash.iter() {
            reply_pair(ctx.reply, field, value);
        }
    } else {
        let chosen = distinct_entries(hash, wanted as usize, ctx.rng);
        ctx.reply.array(chosen.len() * per_field);
        for (field, value) in chosen {
            reply_pair(ctx.reply, field, value);
        }
    }
    Ok(Flow::Done)
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`. A hash small enough
/// for Redis's listpack encoding comes back whole with cursor 0, as Redis
/// answers; a larger one is walked bucket by bucket.
fn hscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let Some(hash) = get_hash(ctx.db, &argv[1])? else {
        reply_scan(ctx.reply, 0, std::iter::empty());
        return Ok(Flow::Done);
    };
    let options = ScanOptions::parse(&argv[3..])?;
    // Dict::scan lends entries only for the visit: keep copies.
    let mut items: Vec<CompactBytes> = Vec::new();
    let mut keep = |field: &CompactBytes, value: &CompactBytes| {
        if options.matches(field) {
            items.push(field.clone());
            items.push(value.clone());
        }
    };
    let next_cursor = if fits_listpack(hash) {
        hash.iter().for_each(|(field, value)| keep(field, value));
        0
    } else {
        // Two reply items per field: Redis doubles COUNT for hashes.
        let wanted = options.count.saturating_mul(2);
        scan_dict(hash, cursor, wanted, |field, value| {
            keep(field, value);
            2
        })
    };
    reply_scan(
        ctx.reply,
        next_cursor,
        items.iter().map(|item| item.as_slice()),
    );
    Ok(Flow::Done)
}

/// Whether Redis could hold this hash as a listpack.
fn fits_listpack(hash: &Hash) -> bool {
    hash.len() <= LISTPACK_MAX_ENTRIES
        && hash.iter().all(|(field, value)| {
            field.len() <= LISTPACK_MAX_VALUE_BYTES && value.len() <= LISTPACK_MAX_VALUE_BYTES
        })
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
