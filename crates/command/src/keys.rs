//! Generic key commands: existence, deletion, renaming and copying, type,
//! iteration (`scan`: KEYS, SCAN, RANDOMKEY), expiry (`expire`),
//! introspection (`object`) and SORT (`sort`). Keys are binary-safe byte
//! strings.
//!
//! Only database 0 exists: `COPY ... DB 0` works, any other index is out
//! of range.

mod expire;
mod object;
mod scan;
mod sort;

use bytes::Bytes;
use daisy_keyspace::Value;

use crate::args::{is, parse_i64_opt};
use crate::flags::*;
use crate::string::encoding;
use crate::{cmd, CmdError, CmdResult, CommandSpec, Ctx, Flow, Handler, KeySpec};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("del", -2, WRITE, (1, -1, 1), "generic", "Deletes one or more keys.", del),
    cmd("unlink", -2, WRITE | FAST, (1, -1, 1), "generic", "Asynchronously deletes one or more keys.", unlink),
    cmd("exists", -2, READONLY | FAST, (1, -1, 1), "generic", "Determines whether one or more keys exist.", exists),
    cmd("touch", -2, READONLY | FAST, (1, -1, 1), "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", exists),
    cmd("type", 2, READONLY | FAST, (1, 1, 1), "generic", "Determines the type of value stored at a key.", key_type),
    cmd("rename", 3, WRITE, (1, 2, 1), "generic", "Renames a key and overwrites the destination.", rename),
    cmd("renamenx", 3, WRITE | FAST, (1, 2, 1), "generic", "Renames a key only when the target key name doesn't exist.", renamenx),
    cmd("copy", -3, WRITE | DENYOOM, (1, 2, 1), "generic", "Copies the value of a key to a new key.", copy),
    cmd("keys", 2, READONLY, (0, 0, 0), "generic", "Returns all key names that match a pattern.", scan::keys),
    cmd("scan", -2, READONLY, (0, 0, 0), "generic", "Iterates over the key names in the database.", scan::scan),
    cmd("randomkey", 1, READONLY, (0, 0, 0), "generic", "Returns a random key name from the database.", scan::randomkey),
    cmd("expire", -3, WRITE | FAST, (1, 1, 1), "generic", "Sets the expiration time of a key in seconds.", expire::expire),
    cmd("pexpire", -3, WRITE | FAST, (1, 1, 1), "generic", "Sets the expiration time of a key in milliseconds.", expire::pexpire),
    cmd("expireat", -3, WRITE | FAST, (1, 1, 1), "generic", "Sets the expiration time of a key to a Unix timestamp.", expire::expireat),
    cmd("pexpireat", -3, WRITE | FAST, (1, 1, 1), "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", expire::pexpireat),
    cmd("ttl", 2, READONLY | FAST, (1, 1, 1), "generic", "Returns the expiration time in seconds of a key.", expire::ttl),
    cmd("pttl", 2, READONLY | FAST, (1, 1, 1), "generic", "Returns the expiration time in milliseconds of a key.", expire::pttl),
    cmd("expiretime", 2, READONLY | FAST, (1, 1, 1), "generic", "Returns the expiration time of a key as a Unix timestamp.", expire::expiretime),
    cmd("pexpiretime", 2, READONLY | FAST, (1, 1, 1), "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", expire::pexpiretime),
    cmd("persist", 2, WRITE | FAST, (1, 1, 1), "generic", "Removes the expiration time of a key.", expire::persist),
    cmd("object", -2, READONLY, (2, 2, 1), "generic", "A container for object introspection commands.", object::object),
    CommandSpec {
        name: "sort",
        arity: -2,
        flags: WRITE | DENYOOM,
        keys: KeySpec::Find(sort::keys),
        group: "generic",
        summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        handler: Handler::Data(sort::sort),
    },
    cmd("sort_ro", -2, READONLY, (1, 1, 1), "generic", "Returns the sorted elements of a list, a set, or a sorted set.", sort::sort_ro),
    cmd("dbsize", 1, READONLY | FAST, (0, 0, 0), "server", "Returns the number of keys in the database.", dbsize),
    cmd("flushall", -1, WRITE, (0, 0, 0), "server", "Removes all keys from all databases.", flush),
    cmd("flushdb", -1, WRITE, (0, 0, 0), "server", "Remove all keys from the current database.", flush),
];

/// The only database index.
const ONLY_DB: i64 = 0;

fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    delete_keys(ctx, argv, "DEL")
}

fn unlink(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    delete_keys(ctx, argv, "UNLINK")
}

/// Deletes the keys that exist and records `command` with just those.
fn delete_keys(ctx: &mut Ctx<'_>, argv: &[Bytes], command: &'static str) -> CmdResult {
    let mut effect = vec![Bytes::from_static(command.as_bytes())];
    for key in &argv[1..] {
        if ctx.db.remove(key).is_some() {
            effect.push(key.clone());
        }
    }
    let deleted = effect.len() - 1;
    ctx.reply.int(deleted as i64);
    if deleted > 0 {
        ctx.propagate(effect);
    }
    Ok(Flow::Done)
}

/// EXISTS and TOUCH: how many of the keys exist, counting repeats.
fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let count = argv[1..].iter().filter(|key| ctx.db.contains(key)).count();
    ctx.reply.int(count as i64);
    Ok(Flow::Done)
}

fn key_type(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = ctx
        .db
        .get(&argv[1])
        .map_or("none", |value| value.kind().name());
    ctx.reply.simple(name);
    Ok(Flow::Done)
}

fn rename(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if rename_key(ctx, argv, false)? {
        ctx.propagate_verbatim();
    }
    ctx.reply.ok();
    Ok(Flow::Done)
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let renamed = rename_key(ctx, argv, true)?;
    if renamed {
        ctx.propagate_verbatim();
    }
    ctx.reply.int(i64::from(renamed));
    Ok(Flow::Done)
}

/// Moves the value and expiry of `argv[1]` to `argv[2]`. Returns whether
/// anything moved: not when both names are the same, nor when
/// `only_if_free` and the destination exists.
fn rename_key(ctx: &mut Ctx<'_>, argv: &[Bytes], only_if_free: bool) -> Result<bool, CmdError> {
    let (source, destination) = (&argv[1], &argv[2]);
    if !ctx.db.contains(source) {
        return Err(CmdError::NoSuchKey);
    }
    if source == destination || (only_if_free && ctx.db.contains(destination)) {
        return Ok(false);
    }
    let expire_at = ctx.db.expire_at(source);
    let Some(value) = ctx.db.remove(source) else {
        return Err(CmdError::NoSuchKey);
    };
    ctx.db.set(destination, value, false);
    if let Some(at_ms) = expire_at {
        ctx.db.set_expire(destination, at_ms);
    }
    Ok(true)
}

/// `COPY source destination [DB index] [REPLACE]`.
fn copy(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let replace = parse_copy_options(&argv[3..])?;
    let (source, destination) = (&argv[1], &argv[2]);
    if source == destination {
        return Err(CmdError::Static(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(value) = ctx.db.get(source) else {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    };
    let value = match value {
        Value::Str(text) => Value::Str(encoding::duplicate(text)),
        other => other.clone(),
    };
    if ctx.db.contains(destination) && !replace {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    let expire_at = ctx.db.expire_at(source);
    ctx.db.set(destination, value, false);
    if let Some(at_ms) = expire_at {
        ctx.db.set_expire(destination, at_ms);
    }
    ctx.propagate_verbatim();
    ctx.reply.int(1);
    Ok(Flow::Done)
}

/// Parses `[DB index] [REPLACE]` in any order; returns whether REPLACE
/// was given.
fn parse_copy_options(options: &[Bytes]) -> Result<bool, CmdError> {
    let mut replace = false;
    let mut index = 0;
    while index < options.len() {
        let option = &options[index];
        if is(option, "REPLACE") {
            replace = true;
        } else if is(option, "DB") && index + 1 < options.len() {
            let db = parse_i64_opt(&options[index + 1]).ok_or(CmdError::NotInteger)?;
            if i32::try_from(db).is_err() {
                return Err(CmdError::Static(
                    "ERR value is out of range, value must between -2147483648 and 2147483647",
                ));
            }
            if db != ONLY_DB {
                return Err(CmdError::Static("ERR DB index is out of range"));
            }
            index += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        index += 1;
    }
    Ok(replace)
}

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    ctx.reply.int(ctx.db.len() as i64);
    Ok(Flow::Done)
}

/// FLUSHALL and FLUSHDB `[ASYNC | SYNC]` (one database, so both are the same).
fn flush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mode_ok = match argv.get(1) {
        None => true,
        Some(mode) => argv.len() == 2 && (is(mode, "ASYNC") || is(mode, "SYNC")),
    };
    if !mode_ok {
        return Err(CmdError::Syntax);
    }
    drop(ctx.db.flush());
    ctx.propagate(vec![Bytes::from_static(b"FLUSHALL")]);
    ctx.reply.ok();
    Ok(Flow::Done)
}

#[cfg(test)]
mod tests;
