//! Expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT, LT),
//! TTL, PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.
//!
//! A new expiry is recorded as `PEXPIREAT key absolute-ms`; a time already
//! past deletes the key at once and is recorded as `DEL key`.

use bytes::Bytes;

use crate::args::{is, parse_i64};
use crate::{CmdError, CmdResult, Ctx, Flow};

/// How the time argument of an EXPIRE-like command reads.
#[derive(Clone, Copy)]
struct TimeArg {
    /// Milliseconds per unit of the argument.
    unit_ms: i64,
    /// Relative to now (EXPIRE, PEXPIRE) or absolute (EXPIREAT, PEXPIREAT).
    relative: bool,
}

const SECONDS: i64 = 1000;
const MILLISECONDS: i64 = 1;

pub(super) fn expire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_expiry(
        ctx,
        argv,
        TimeArg {
            unit_ms: SECONDS,
            relative: true,
        },
        "expire",
    )
}

pub(super) fn pexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_expiry(
        ctx,
        argv,
        TimeArg {
            unit_ms: MILLISECONDS,
            relative: true,
        },
        "pexpire",
    )
}

pub(super) fn expireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_expiry(
        ctx,
        argv,
        TimeArg {
            unit_ms: SECONDS,
            relative: false,
        },
        "expireat",
    )
}

pub(super) fn pexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_expiry(
        ctx,
        argv,
        TimeArg {
            unit_ms: MILLISECONDS,
            relative: false,
        },
        "pexpireat",
    )
}

/// The NX / XX / GT / LT conditions.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    fn parse(options: &[Bytes]) -> Result<Conditions, CmdError> {
        let mut conditions = Conditions::default();
        for option in options {
            if is(option, "NX") {
                conditions.nx = true;
            } else if is(option, "XX") {
                conditions.xx = true;
            } else if is(option, "GT") {
                conditions.gt = true;
            } else if is(option, "LT") {
                conditions.lt = true;
            } else {
                return Err(CmdError::msg(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(option)
                )));
            }
        }
        if conditions.nx && (conditions.xx || conditions.gt || conditions.lt) {
            return Err(CmdError::Static(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if conditions.gt && conditions.lt {
            return Err(CmdError::Static(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(conditions)
    }

    /// Whether a key whose expiry is `current_ms` (`None`: no expiry, an
    /// infinite TTL) may get the new expiry `new_ms`.
    fn allow(&self, current_ms: Option<i64>, new_ms: i64) -> bool {
        if self.nx && current_ms.is_some() {
            return false;
        }
        if self.xx && current_ms.is_none() {
            return false;
        }
        if self.gt && current_ms.is_none_or(|current| new_ms <= current) {
            return false;
        }
        if self.lt && current_ms.is_some_and(|current| new_ms >= current) {
            return false;
        }
        true
    }
}

/// The absolute expiry time in ms, with Redis's overflow checks; it may be
/// negative (a time long past).
fn absolute_ms(now_ms: u64, amount: &[u8], time: TimeArg, command: &str) -> Result<i64, CmdError> {
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{command}' command"));
    let amount = parse_i64(amount)?;
    let ms = amount.checked_mul(time.unit_ms).ok_or_else(invalid)?;
    if !time.relative {
        return Ok(ms);
    }
    ms.checked_add(now_ms as i64).ok_or_else(invalid)
}

fn set_expiry(ctx: &mut Ctx<'_>, argv: &[Bytes], time: TimeArg, command: &str) -> CmdResult {
    let key = &argv[1];
    let conditions = Conditions::parse(&argv[3..])?;
    let at_ms = absolute_ms(ctx.now_ms(), &argv[2], time, command)?;
    if !ctx.db.contains(key) {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    let current_ms = ctx.db.expire_at(key).map(|at| at as i64);
    if !conditions.allow(current_ms, at_ms) {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    if at_ms <= ctx.now_ms() as i64 {
        ctx.db.remove(key);
        ctx.propagate(vec![Bytes::from_static(b"DEL"), key.clone()]);
    } else {
        ctx.db.set_expire(key, at_ms as u64);
        ctx.propagate(vec![
            Bytes::from_static(b"PEXPIREAT"),
            key.clone(),
            Bytes::from(at_ms.to_string()),
        ]);
    }
    ctx.reply.int(1);
    Ok(Flow::Done)
}

/// What TTL-like commands report.
#[derive(Clone, Copy)]
enum Report {
    /// Time left (TTL, PTTL).
    Remaining,
    /// The absolute time (EXPIRETIME, PEXPIRETIME).
    Absolute,
}

pub(super) fn ttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    report_expiry(ctx, &argv[1], Report::Remaining, SECONDS)
}

pub(super) fn pttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    report_expiry(ctx, &argv[1], Report::Remaining, MILLISECONDS)
}

pub(super) fn expiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    report_expiry(ctx, &argv[1], Report::Absolute, SECONDS)
}

pub(super) fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    report_expiry(ctx, &argv[1], Report::Absolute, MILLISECONDS)
}

/// -2 for a missing key, -1 for a key without expiry, else the time in
/// `unit_ms` (seconds are rounded to the nearest, as Redis does).
fn report_expiry(ctx: &mut Ctx<'_>, key: &[u8], report: Report, unit_ms: i64) -> CmdResult {
    if !ctx.db.contains(key) {
        ctx.reply.int(-2);
        return Ok(Flow::Done);
    }
    let Some(at_ms) = ctx.db.expire_at(key) else {
        ctx.reply.int(-1);
        return Ok(Flow::Done);
    };
    let ms = match report {
        Report::Remaining => at_ms.saturating_sub(ctx.now_ms()),
        Report::Absolute => at_ms,
    };
    // Redis rounds with (ms + 500) / 1000, which near i64::MAX behaves
    // as unsigned arithmetic.
    let value = (i128::from(ms) + i128::from(unit_ms / 2)) / i128::from(unit_ms);
    ctx.reply.int(value as i64);
    Ok(Flow::Done)
}

pub(super) fn persist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let removed = ctx.db.persist(&argv[1]);
    if removed {
        ctx.propagate_verbatim();
    }
    ctx.reply.int(i64::from(removed));
    Ok(Flow::Done)
}
