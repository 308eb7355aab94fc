//! Counters: INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT. The new value
//! replaces the old one and keeps its expiry.

use bytes::Bytes;

use super::encoding;
use crate::args::{parse_i64, parse_i64_opt};
use crate::long_double::{add_long_double, parse_long_double};
use crate::typed::get_str;
use crate::{CmdError, CmdResult, Ctx, Flow};

pub(super) fn incr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    add_integer(ctx, &argv[1], 1)
}

pub(super) fn decr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    add_integer(ctx, &argv[1], -1)
}

pub(super) fn incrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let increment = parse_i64(&argv[2])?;
    add_integer(ctx, &argv[1], increment)
}

pub(super) fn decrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let decrement = parse_i64(&argv[2])?;
    let increment = decrement
        .checked_neg()
        .ok_or(CmdError::Static("ERR decrement would overflow"))?;
    add_integer(ctx, &argv[1], increment)
}

/// Adds `increment` to the integer at `key` (0 when missing); the command
/// is deterministic, so it is recorded as it is.
fn add_integer(ctx: &mut Ctx<'_>, key: &[u8], increment: i64) -> CmdResult {
    let current = match get_str(ctx.db, key)? {
        None => 0,
        Some(value) => parse_i64_opt(value).ok_or(CmdError::NotInteger)?,
    };
    let value = current.checked_add(increment).ok_or(CmdError::Overflow)?;
    let text = value.to_string();
    super::overwrite_keep_ttl(ctx, key, encoding::whole(text.as_bytes()));
    ctx.propagate_verbatim();
    ctx.reply.int(value);
    Ok(Flow::Done)
}

/// INCRBYFLOAT with Redis's x87 `long double` arithmetic and `%.17Lf`
/// text (shared with HINCRBYFLOAT); recorded as `SET key value KEEPTTL`
/// so that replicas store the same text.
pub(super) fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let current = match get_str(ctx.db, key)? {
        None => None,
        Some(value) => Some(parse_long_double(value).ok_or(CmdError::NotFloat)?),
    };
    let increment = parse_long_double(&argv[2]).ok_or(CmdError::NotFloat)?;
    let sum = add_long_double(current, &increment).ok_or(CmdError::Static(
        "ERR increment would produce NaN or Infinity",
    ))?;
    let text = Bytes::from(sum);
    super::overwrite_keep_ttl(ctx, key, encoding::whole_text(&text));
    ctx.propagate(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        text.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    ctx.reply.bulk(&text);
    Ok(Flow::Done)
}
