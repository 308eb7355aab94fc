//! BITFIELD and BITFIELD_RO: integers of 1 to 64 bits (unsigned up to 63)
//! at any bit offset of a string, read, written or incremented with a
//! chosen overflow behaviour, all in one command.
//!
//! Every operation is checked before any runs; a command with a write
//! grows the string to the farthest bit written first, as Redis does, and
//! is recorded as it is (it is deterministic).

use bytes::Bytes;
use daisy_keyspace::Value;

use super::parse_offset_with_limit;
use crate::args::{is, parse_i64, parse_i64_opt};
use crate::string::encoding;
use crate::typed::{get_str, get_str_mut};
use crate::{CmdError, CmdResult, Ctx, Flow};

const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy)]
struct Field {
    signed: bool,
    bits: u32,
    offset: u64,
}

struct Operation {
    action: Action,
    field: Field,
    overflow: Overflow,
}

pub(super) fn bitfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, false)
}

pub(super) fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, true)
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only_command: bool) -> CmdResult {
    let key = &argv[1];
    let operations = parse_operations(ctx, argv)?;
    let highest_write = operations
        .iter()
        .filter(|op| op.action != Action::Get)
        .map(|op| op.field.offset + u64::from(op.field.bits) - 1)
        .max();
    let results = match highest_write {
        None => {
            let bytes = get_str(ctx.db, key)?
                .map(|value| value.to_vec())
                .unwrap_or_default();
            operations
                .iter()
                .map(|op| Some(read_field(&bytes, op.field)))
                .collect()
        }
        Some(_) if read_only_command => {
            return Err(CmdError::Static(
                "ERR BITFIELD_RO only supports the GET subcommand",
            ));
        }
        Some(highest) => {
            let (results, changed) =
                write_fields(ctx, key, &operations, (highest >> 3) as usize + 1)?;
            if changed {
                ctx.propagate_verbatim();
            }
            results
        }
    };
    ctx.reply.array(results.len());
    for result in results {
        match result {
            Some(value) => ctx.reply.int(value),
            None => ctx.reply.null(),
        }
    }
    Ok(Flow::Done)
}

fn parse_operations(ctx: &Ctx<'_>, argv: &[Bytes]) -> Result<Vec<Operation>, CmdError> {
    let mut operations = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut index = 2;
    while index < argv.len() {
        let remaining = argv.len() - index - 1;
        let name = &argv[index];
        let takes_value = if is(name, "GET") && remaining >= 2 {
            false
        } else if (is(name, "SET") || is(name, "INCRBY")) && remaining >= 3 {
            true
        } else if is(name, "OVERFLOW") && remaining >= 1 {
            overflow = parse_overflow(&argv[index + 1])?;
            index += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = parse_type(&argv[index + 1])?;
        let offset = parse_field_offset(ctx, &argv[index + 2], bits)?;
        let action = if !takes_value {
            Action::Get
        } else if is(name, "SET") {
            Action::Set(parse_i64(&argv[index + 3])?)
        } else {
            Action::IncrBy(parse_i64(&argv[index + 3])?)
        };
        operations.push(Operation {
            action,
            field: Field {
                signed,
                bits,
                offset,
            },
            overflow,
        });
        index += if takes_value { 4 } else { 3 };
    }
    Ok(operations)
}

fn parse_overflow(arg: &[u8]) -> Result<Overflow, CmdError> {
    [
        ("WRAP", Overflow::Wrap),
        ("SAT", Overflow::Sat),
        ("FAIL", Overflow::Fail),
    ]
    .into_iter()
    .find(|(name, _)| is(arg, name))
    .map(|(_, overflow)| overflow)
    .ok_or(CmdError::Static("ERR Invalid OVERFLOW type specified"))
}

/// `i1`..`i64` or `u1`..`u63` (lowercase prefix, as Redis requires).
fn parse_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(CmdError::Static(BAD_TYPE)),
    };
    let max_bits = if signed { 64 } else { 63 };
    match parse_i64_opt(&arg[1..]) {
        Some(bits) if (1..=max_bits).contains(&bits) => Ok((signed, bits as u32)),
        _ => Err(CmdError::Static(BAD_TYPE)),
    }
}

/// A bit offset, or `#n` for the n-th field of this width.
fn parse_field_offset(ctx: &Ctx<'_>, arg: &[u8], bits: u32) -> Result<u64, CmdError> {
    match arg.strip_prefix(b"#").filter(|rest| !rest.is_empty()) {
        Some(index) => parse_offset_with_limit(ctx, index, i64::from(bits)),
        None => parse_offset_with_limit(ctx, arg, 1),
    }
}

/// Runs the operations on the string at `key`, created or grown to at
/// least `min_len` bytes first.
fn write_fields(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    operations: &[Operation],
    min_len: usize,
) -> Result<(Vec<Option<i64>>, bool), CmdError> {
    let apply = |bytes: &mut Vec<u8>| -> Vec<Option<i64>> {
        if bytes.len() < min_len {
            bytes.resize(min_len, 0);
        }
        operations
            .iter()
            .map(|op| apply_operation(bytes, op))
            .collect()
    };
    let Some(current) = get_str(ctx.db, key)? else {
        let mut bytes = Vec::with_capacity(min_len + 1);
        let results = apply(&mut bytes);
        ctx.db.set(key, Value::Str(encoding::raw(bytes)), false);
        return Ok((results, true));
    };
    // Work on a copy first: writes that leave every byte as it was change
    // nothing, so the key is not touched (a WATCH stays intact, as in Redis).
    let mut copy = current.to_vec();
    let results = apply(&mut copy);
    if copy[..] == current[..] {
        return Ok((results, false));
    }
    let value = get_str_mut(ctx.db, key)?.expect("the key was just read");
    encoding::edit(value, |bytes| *bytes = copy);
    Ok((results, true))
}

fn apply_operation(bytes: &mut [u8], op: &Operation) -> Option<i64> {
    let field = op.field;
    let old = read_field(bytes, field);
    let (new, reply) = match op.action {
        Action::Get => return Some(old),
        Action::Set(value) => {
            // An unsigned field reads the value as unsigned, so a negative
            // one is a huge number (SAT then gives the maximum).
            let exact = if field.signed {
                i128::from(value)
            } else {
                i128::from(value as u64)
            };
            (fit(exact, value as u64, field, op.overflow)?, old)
        }
        Action::IncrBy(increment) => {
            let exact = i128::from(old) + i128::from(increment);
            let raw = (old as u64).wrapping_add(increment as u64);
            let new = fit(exact, raw, field, op.overflow)?;
            (new, new)
        }
    };
    write_field(bytes, field, new as u64);
    Some(reply)
}

/// The exact new value brought into the field's range per `overflow`
/// (`raw` is the same value in 64-bit two's complement, for WRAP); `None`
/// when it does not fit and the policy is FAIL.
fn fit(exact: i128, raw: u64, field: Field, overflow: Overflow) -> Option<i64> {
    let (min, max) = field_range(field);
    if (min..=max).contains(&exact) {
        return Some(exact as i64);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if exact > max { max } else { min } as i64),
        Overflow::Wrap => Some(wrap(raw, field)),
    }
}

/// The smallest and largest value a field holds.
fn field_range(field: Field) -> (i128, i128) {
    if field.signed {
        let half = 1i128 << (field.bits - 1);
        (-half, half - 1)
    } else {
        (0, (1i128 << field.bits) - 1)
    }
}

/// Keeps the low `bits` bits, sign-extended for a signed field.
fn wrap(raw: u64, field: Field) -> i64 {
    if field.bits == 64 {
        return raw as i64;
    }
    let low = raw & ((1u64 << field.bits) - 1);
    if field.signed && low >> (field.bits - 1) & 1 == 1 {
        (low | (u64::MAX << field.bits)) as i64
    } else {
        low as i64
    }
}

/// Reads a field; bits past the end of the string read as 0.
fn read_field(bytes: &[u8], field: Field) -> i64 {
    let mut raw = 0u64;
    for position in field.offset..field.offset + u64::from(field.bits) {
        let byte = bytes.get((position >> 3) as usize).copied().unwrap_or(0);
        raw = (raw << 1) | u64::from(byte >> (7 - (position & 7)) & 1);
    }
    if field.signed {
        wrap(raw, field)
    } else {
        raw as i64
    }
}

/// Writes the low `bits` bits of `raw`; the string is long enough.
fn write_field(bytes: &mut [u8], field: Field, raw: u64) {
    for step in 0..u64::from(field.bits) {
        let bit = raw >> (u64::from(field.bits) - 1 - step) & 1;
        let position = field.offset + step;
        let mask = 0x80u8 >> (position & 7);
        let byte = &mut bytes[(position >> 3) as usize];
        if bit == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}
