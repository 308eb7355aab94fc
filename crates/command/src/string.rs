//! String commands.

use bytes::Bytes;
use daisy_keyspace::{StrValue, Value};

use crate::args::{is, parse_i64};
use crate::flags::*;
use crate::typed::get_str;
use crate::{cmd, CmdError, CmdResult, CommandSpec, Ctx, Flow};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, READONLY | FAST, (1, 1, 1), "string", "Returns the string value of a key.", get),
    cmd("set", -3, WRITE | DENYOOM, (1, 1, 1), "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", set),
];

fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match get_str(ctx.db, &argv[1])? {
        Some(value) => ctx.reply.bulk(value),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

/// When a SET-like command makes its key expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    None,
    KeepTtl,
    /// Absolute Unix time in ms.
    At(u64),
}

/// Turns a relative or absolute expiry argument into an absolute time in
/// ms, with Redis's overflow and sign checks.
pub(crate) fn expiry_at_ms(
    now_ms: u64,
    amount: &[u8],
    unit_ms: i64,
    absolute: bool,
    command: &str,
) -> Result<u64, CmdError> {
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{command}' command"));
    let amount = parse_i64(amount)?;
    if amount <= 0 {
        return Err(invalid());
    }
    let ms = amount.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(now_ms as i64).ok_or_else(invalid)?
    };
    Ok(at as u64)
}

fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let mut nx = false;
    let mut xx = false;
    let mut get_old = false;
    let mut expiry = Expiry::None;
    let mut index = 3;
    while index < argv.len() {
        let arg = &argv[index];
        let next = argv.get(index + 1);
        let unit = if is(arg, "EX") {
            Some((1000, false))
        } else if is(arg, "PX") {
            Some((1, false))
        } else if is(arg, "EXAT") {
            Some((1000, true))
        } else if is(arg, "PXAT") {
            Some((1, true))
        } else {
            None
        };
        if let (Some((unit_ms, absolute)), Some(amount)) = (unit, next) {
            if expiry != Expiry::None {
                return Err(CmdError::Syntax);
            }
            expiry = Expiry::At(expiry_at_ms(
                ctx.now_ms(),
                amount,
                unit_ms,
                absolute,
                "set",
            )?);
            index += 2;
            continue;
        }
        if is(arg, "NX") && !xx {
            nx = true;
        } else if is(arg, "XX") && !nx {
            xx = true;
        } else if is(arg, "GET") {
            get_old = true;
        } else if is(arg, "KEEPTTL") && expiry == Expiry::None {
            expiry = Expiry::KeepTtl;
        } else {
            return Err(CmdError::Syntax);
        }
        index += 1;
    }

    let old = match ctx.db.get(key) {
        None => None,
        Some(Value::Str(s)) => Some(Bytes::copy_from_slice(s)),
        Some(_) if get_old => return Err(CmdError::WrongType),
        Some(_) => Some(Bytes::new()),
    };
    let exists = ctx.db.contains(key);
    let should_set = !(nx && exists || xx && !exists);
    if should_set {
        set_string(ctx, key, &argv[2], expiry);
    }
    if get_old {
        match old {
            Some(value) => ctx.reply.bulk(&value),
            None => ctx.reply.null(),
        }
    } else if should_set {
        ctx.reply.ok();
    } else {
        ctx.reply.null();
    }
    Ok(Flow::Done)
}

/// Stores a string with an expiry and records the deterministic effect
/// `SET key value [PXAT ms | KEEPTTL]`.
pub(crate) fn set_string(ctx: &mut Ctx<'_>, key: &Bytes, value: &[u8], expiry: Expiry) {
    ctx.db.set(
        key,
        Value::Str(StrValue::new(value)),
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
