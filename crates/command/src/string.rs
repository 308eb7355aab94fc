//! String commands: whole-value reads and writes (GET, SET and its
//! variants, MGET, MSET), counters (`counter`), byte ranges (`range`) and
//! the longest common subsequence (`lcs`).
//!
//! Every write records a deterministic effect: relative expiry times are
//! rewritten as `SET key value PXAT ms` or `PEXPIREAT key ms`, GETDEL as
//! `DEL`, INCRBYFLOAT as `SET key value KEEPTTL`.

mod counter;
pub(crate) mod encoding;
mod lcs;
mod range;

use bytes::Bytes;
use daisy_keyspace::{StrValue, Value};

use crate::args::{is, parse_i64};
use crate::flags::*;
use crate::typed::get_str;
use crate::{cmd, CmdError, CmdResult, CommandSpec, Ctx, Flow, Settings};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, READONLY | FAST, (1, 1, 1), "string", "Returns the string value of a key.", get),
    cmd("set", -3, WRITE | DENYOOM, (1, 1, 1), "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", set),
    cmd("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Set the string value of a key only when the key doesn't exist.", setnx),
    cmd("setex", 4, WRITE | DENYOOM, (1, 1, 1), "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", setex),
    cmd("psetex", 4, WRITE | DENYOOM, (1, 1, 1), "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", psetex),
    cmd("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Returns the previous string value of a key after setting it to a new value.", getset),
    cmd("getdel", 2, WRITE | FAST, (1, 1, 1), "string", "Returns the string value of a key after deleting the key.", getdel),
    cmd("getex", -2, WRITE | FAST, (1, 1, 1), "string", "Returns the string value of a key after setting its expiration time.", getex),
    cmd("mget", -2, READONLY | FAST, (1, -1, 1), "string", "Atomically returns the string values of one or more keys.", mget),
    cmd("mset", -3, WRITE | DENYOOM, (1, -1, 2), "string", "Atomically creates or modifies the string values of one or more keys.", mset),
    cmd("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", msetnx),
    cmd("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", counter::incr),
    cmd("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", counter::decr),
    cmd("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", counter::incrby),
    cmd("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", counter::decrby),
    cmd("incrbyfloat", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", counter::incrbyfloat),
    cmd("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", range::append),
    cmd("strlen", 2, READONLY | FAST, (1, 1, 1), "string", "Returns the length of a string value.", range::strlen),
    cmd("getrange", 4, READONLY, (1, 1, 1), "string", "Returns a substring of the string stored at a key.", range::getrange),
    cmd("substr", 4, READONLY, (1, 1, 1), "string", "Returns a substring from a string value.", range::getrange),
    cmd("lcs", -3, READONLY, (1, 2, 1), "string", "Finds the longest common substring.", lcs::lcs),
    cmd("setrange", 4, WRITE | DENYOOM, (1, 1, 1), "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", range::setrange),
];

/// Redis's limit text for a string that would grow past the maximum size.
const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Fails unless a string of `size + extra` bytes is allowed.
pub(crate) fn check_string_length(
    settings: &Settings,
    size: usize,
    extra: usize,
) -> Result<(), CmdError> {
    match size.checked_add(extra) {
        Some(total) if total <= settings.max_string_bytes => Ok(()),
        _ => Err(CmdError::Static(TOO_LONG)),
    }
}

/// When a SET-like command makes its key expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    None,
    KeepTtl,
    /// Absolute Unix time in ms.
    At(u64),
}

/// The four ways to give an expiry time in SET and GETEX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExpireUnit {
    /// `EX seconds`
    Seconds,
    /// `PX milliseconds`
    Milliseconds,
    /// `EXAT unix-seconds`
    UnixSeconds,
    /// `PXAT unix-milliseconds`
    UnixMilliseconds,
}

impl ExpireUnit {
    fn from_keyword(arg: &[u8]) -> Option<ExpireUnit> {
        [
            ("EX", ExpireUnit::Seconds),
            ("PX", ExpireUnit::Milliseconds),
            ("EXAT", ExpireUnit::UnixSeconds),
            ("PXAT", ExpireUnit::UnixMilliseconds),
        ]
        .into_iter()
        .find(|(keyword, _)| is(arg, keyword))
        .map(|(_, unit)| unit)
    }

    fn in_seconds(self) -> bool {
        matches!(self, ExpireUnit::Seconds | ExpireUnit::UnixSeconds)
    }

    fn is_absolute(self) -> bool {
        matches!(self, ExpireUnit::UnixSeconds | ExpireUnit::UnixMilliseconds)
    }
}

/// Turns an expiry argument into an absolute Unix time in ms, with Redis's
/// checks (`getExpireMillisecondsOrReply`): a positive integer whose
/// conversion and addition to now do not overflow.
pub(crate) fn expire_at_ms(
    now_ms: u64,
    amount: &[u8],
    unit: ExpireUnit,
    command: &str,
) -> Result<u64, CmdError> {
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{command}' command"));
    let amount = parse_i64(amount)?;
    if amount <= 0 {
        return Err(invalid());
    }
    let ms = if unit.in_seconds() {
        amount.checked_mul(1000).ok_or_else(invalid)?
    } else {
        amount
    };
    let at_ms = if unit.is_absolute() {
        ms
    } else {
        ms.checked_add(now_ms as i64).ok_or_else(invalid)?
    };
    Ok(at_ms as u64)
}

/// The options of SET and GETEX, parsed as Redis's
/// `parseExtendedStringArgumentsOrReply` parses them.
#[derive(Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsFor {
    Set,
    GetEx,
}

impl<'a> StringOptions<'a> {
    fn parse(args: &'a [Bytes], command: OptionsFor) -> Result<Self, CmdError> {
        let mut options = StringOptions::default();
        let for_set = command == OptionsFor::Set;
        let mut index = 0;
        while index < args.len() {
            let arg = &args[index];
            let next = args.get(index + 1);
            if is(arg, "NX") && !options.xx && for_set {
                options.nx = true;
            } else if is(arg, "XX") && !options.nx && for_set {
                options.xx = true;
            } else if is(arg, "GET") && for_set {
                options.get = true;
            } else if is(arg, "KEEPTTL") && !options.persist && options.expire.is_none() && for_set
            {
                options.keep_ttl = true;
            } else if is(arg, "PERSIST")
                && !for_set
                && options.expire.is_none()
                && !options.keep_ttl
            {
                options.persist = true;
            } else if let Some((unit, amount)) = ExpireUnit::from_keyword(arg).zip(next) {
                // The same unit may be given again (the last one wins), but
                // not two different units.
                let other_unit = options.expire.is_some_and(|(given, _)| given != unit);
                if options.keep_ttl || options.persist || other_unit {
                    return Err(CmdError::Syntax);
                }
                options.expire = Some((unit, amount));
                index += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            index += 1;
        }
        Ok(options)
    }

    /// The absolute expiry time the options ask for, if any.
    fn expire_at_ms(&self, now_ms: u64, command: &str) -> Result<Option<u64>, CmdError> {
        self.expire
            .map(|(unit, amount)| expire_at_ms(now_ms, amount, unit, command))
            .transpose()
    }
}

fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match get_str(ctx.db, &argv[1])? {
        Some(value) => ctx.reply.bulk(value),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

/// The string at `key` as owned bytes; `WRONGTYPE` for another type.
fn read_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, CmdError> {
    Ok(get_str(ctx.db, key)?.map(|value| Bytes::copy_from_slice(value)))
}

fn reply_optional(ctx: &mut Ctx<'_>, value: Option<&[u8]>) {
    match value {
        Some(value) => ctx.reply.bulk(value),
        None => ctx.reply.null(),
    }
}

fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let options = StringOptions::parse(&argv[3..], OptionsFor::Set)?;
    let expire_at = options.expire_at_ms(ctx.now_ms(), "set")?;
    let old = if options.get {
        Some(read_string(ctx, key)?)
    } else {
        None
    };
    let exists = ctx.db.contains(key);
    let blocked = (options.nx && exists) || (options.xx && !exists);
    if !blocked {
        let expiry = match expire_at {
            Some(at_ms) => Expiry::At(at_ms),
            None if options.keep_ttl => Expiry::KeepTtl,
            None => Expiry::None,
        };
        set_string(ctx, key, &argv[2], expiry);
    }
    match old {
        Some(old) => reply_optional(ctx, old.as_deref()),
        None if blocked => ctx.reply.null(),
        None => ctx.reply.ok(),
    }
    Ok(Flow::Done)
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let created = !ctx.db.contains(&argv[1]);
    if created {
        set_string(ctx, &argv[1], &argv[2], Expiry::None);
    }
    ctx.reply.int(i64::from(created));
    Ok(Flow::Done)
}

fn setex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_with_expiry(ctx, argv, ExpireUnit::Seconds, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_with_expiry(ctx, argv, ExpireUnit::Milliseconds, "psetex")
}

/// `SETEX key amount value` and `PSETEX key amount value`.
fn set_with_expiry(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    unit: ExpireUnit,
    command: &str,
) -> CmdResult {
    let at_ms = expire_at_ms(ctx.now_ms(), &argv[2], unit, command)?;
    set_string(ctx, &argv[1], &argv[3], Expiry::At(at_ms));
    ctx.reply.ok();
    Ok(Flow::Done)
}

fn getset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let old = read_string(ctx, &argv[1])?;
    set_string(ctx, &argv[1], &argv[2], Expiry::None);
    reply_optional(ctx, old.as_deref());
    Ok(Flow::Done)
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(old) = read_string(ctx, key)? else {
        ctx.reply.null();
        return Ok(Flow::Done);
    };
    ctx.db.remove(key);
    ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
    ctx.reply.bulk(&old);
    Ok(Flow::Done)
}

/// GETEX: checks in Redis's order (options, missing key, type, expiry
/// value), then changes the expiry and records it as `PEXPIREAT`, `DEL`
/// (an absolute time already past) or `PERSIST`.
fn getex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let options = StringOptions::parse(&argv[2..], OptionsFor::GetEx)?;
    let Some(value) = read_string(ctx, key)? else {
        ctx.reply.null();
        return Ok(Flow::Done);
    };
    let expire_at = options.expire_at_ms(ctx.now_ms(), "getex")?;
    ctx.reply.bulk(&value);
    let absolute = options.expire.is_some_and(|(unit, _)| unit.is_absolute());
    match expire_at {
        Some(at_ms) if absolute && at_ms <= ctx.now_ms() => {
            ctx.db.remove(key);
            ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        Some(at_ms) => {
            ctx.db.set_expire(key, at_ms);
            ctx.propagate(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(at_ms.to_string()),
            ]);
        }
        None if options.persist && ctx.db.persist(key) => {
            ctx.propagate(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
        }
        None => {}
    }
    Ok(Flow::Done)
}

fn mget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ctx.reply.array(argv.len() - 1);
    for key in &argv[1..] {
        match ctx.db.get(key) {
            Some(Value::Str(value)) => ctx.reply.bulk(value),
            _ => ctx.reply.null(),
        }
    }
    Ok(Flow::Done)
}

fn mset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::wrong_arity(b"mset"));
    }
    store_pairs(ctx, argv);
    ctx.reply.ok();
    Ok(Flow::Done)
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::wrong_arity(b"msetnx"));
    }
    let any_exists = argv[1..].iter().step_by(2).any(|key| ctx.db.contains(key));
    if !any_exists {
        store_pairs(ctx, argv);
    }
    ctx.reply.int(i64::from(!any_exists));
    Ok(Flow::Done)
}

/// Stores the `key value` pairs of MSET and MSETNX (clearing their expiry)
/// and records the command as it is.
fn store_pairs(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    for pair in argv[1..].chunks_exact(2) {
        ctx.db
            .set(&pair[0], Value::Str(encoding::whole(&pair[1])), false);
    }
    ctx.propagate_verbatim();
}

/// Stores a string with an expiry and records the deterministic effect
/// `SET key value [PXAT ms | KEEPTTL]`.
pub(crate) fn set_string(ctx: &mut Ctx<'_>, key: &Bytes, value: &[u8], expiry: Expiry) {
    ctx.db.set(
        key,
        Value::Str(encoding::whole(value)),
        expiry == Expiry::KeepTtl,
    );
    let mut effect = vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        Bytes::copy_from_slice(value),
    ];
    match expiry {
        Expiry::None => {}
        Expiry::KeepTtl => effect.push(Bytes::from_static(b"KEEPTTL")),
        Expiry::At(at_ms) => {
            ctx.db.set_expire(key, at_ms);
            effect.push(Bytes::from_static(b"PXAT"));
            effect.push(Bytes::from(at_ms.to_string()));
        }
    }
    ctx.propagate(effect);
}

/// Replaces the value of `key` with a string, keeping its expiry (Redis's
/// `dbOverwrite`, used by INCR and friends).
pub(crate) fn overwrite_keep_ttl(ctx: &mut Ctx<'_>, key: &[u8], value: StrValue) {
    ctx.db.set(key, Value::Str(value), true);
}

#[cfg(test)]
mod tests;
