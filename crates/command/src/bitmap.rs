//! Bitmap commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS and
//! BITOP. Bit 0 is the most significant bit of the first byte. A missing
//! key reads as an empty string; strings grow (zero-padded) up to
//! `Settings::max_string_bytes`.

mod bitfield;

use bytes::Bytes;
use daisy_keyspace::Value;

use crate::args::{is, parse_i64, parse_i64_opt};
use crate::flags::*;
use crate::string::encoding;
use crate::typed::{get_str, get_str_mut};
use crate::{cmd, CmdError, CmdResult, CommandSpec, Ctx, Flow};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("setbit", 4, WRITE | DENYOOM, (1, 1, 1), "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", setbit),
    cmd("getbit", 3, READONLY | FAST, (1, 1, 1), "bitmap", "Returns a bit value by offset.", getbit),
    cmd("bitcount", -2, READONLY, (1, 1, 1), "bitmap", "Counts the number of set bits (population counting) in a string.", bitcount),
    cmd("bitpos", -3, READONLY, (1, 1, 1), "bitmap", "Finds the first set (1) or clear (0) bit in a string.", bitpos),
    cmd("bitop", -4, WRITE | DENYOOM, (2, -1, 1), "bitmap", "Performs bitwise operations on multiple strings, and stores the result.", bitop),
    cmd("bitfield", -2, WRITE | DENYOOM, (1, 1, 1), "bitmap", "Performs arbitrary bitfield integer operations on strings.", bitfield::bitfield),
    cmd("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.", bitfield::bitfield_ro),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";

/// A bit offset: a non-negative integer whose byte is below the largest
/// string size.
fn parse_bit_offset(ctx: &Ctx<'_>, arg: &[u8]) -> Result<u64, CmdError> {
    parse_offset_with_limit(ctx, arg, 1)
}

/// `arg * scale` as a bit offset (BITFIELD's `#n` form scales by the field
/// width), with Redis's checks.
fn parse_offset_with_limit(ctx: &Ctx<'_>, arg: &[u8], scale: i64) -> Result<u64, CmdError> {
    let offset = parse_i64_opt(arg).map(|offset| offset.wrapping_mul(scale));
    match offset {
        Some(offset)
            if offset >= 0 && ((offset >> 3) as u64) < ctx.settings.max_string_bytes as u64 =>
        {
            Ok(offset as u64)
        }
        _ => Err(CmdError::Static(BAD_OFFSET)),
    }
}

fn bit_at(bytes: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    bytes
        .get(byte)
        .is_some_and(|value| value & (0x80 >> (offset & 7)) != 0)
}

fn setbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let offset = parse_bit_offset(ctx, &argv[2])?;
    let on = match parse_i64_opt(&argv[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(CmdError::Static(BAD_BIT)),
    };
    let byte = (offset >> 3) as usize;
    let old = match get_str(ctx.db, key)? {
        None => {
            let mut bytes = Vec::with_capacity(byte + 2);
            bytes.resize(byte + 1, 0);
            write_bit(&mut bytes, offset, on);
            ctx.db.set(key, Value::Str(encoding::raw(bytes)), false);
            ctx.propagate_verbatim();
            false
        }
        Some(value) => {
            let old = bit_at(value, offset);
            if old == on && byte < value.len() {
                // Nothing changes: no effect, and a WATCH stays intact.
                ctx.reply.int(i64::from(old));
                return Ok(Flow::Done);
            }
            let value = get_str_mut(ctx.db, key)?.expect("the key was just read");
            encoding::edit(value, |bytes| {
                if bytes.len() <= byte {
                    bytes.resize(byte + 1, 0);
                }
                write_bit(bytes, offset, on);
            });
            ctx.propagate_verbatim();
            old
        }
    };
    ctx.reply.int(i64::from(old));
    Ok(Flow::Done)
}

fn write_bit(bytes: &mut [u8], offset: u64, on: bool) {
    let mask = 0x80u8 >> (offset & 7);
    let byte = &mut bytes[(offset >> 3) as usize];
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let offset = parse_bit_offset(ctx, &argv[2])?;
    let bit = get_str(ctx.db, &argv[1])?.is_some_and(|value| bit_at(value, offset));
    ctx.reply.int(i64::from(bit));
    Ok(Flow::Done)
}

/// Whether a range counts bytes (the default) or bits.
fn parse_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Clamps `start..=end` (negative counts from the end) to a length of
/// `total` units as Redis does; `None` when the range is empty.
fn clamp_range(start: i64, end: i64, total: i64) -> Option<(i64, i64)> {
    let start = if start < 0 { start + total } else { start }.max(0);
    let end = if end < 0 { end + total } else { end }.max(0);
    let end = end.min(total - 1);
    (start <= end).then_some((start, end))
}

/// A clamped range as inclusive bit positions.
fn to_bit_range((start, end): (i64, i64), in_bits: bool) -> (u64, u64) {
    if in_bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    }
}

fn bitcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(value) = get_str(ctx.db, &argv[1])? else {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    };
    let len = value.len() as i64;
    let range = match argv.len() {
        2 => clamp_range(0, -1, len).map(|range| to_bit_range(range, false)),
        4 | 5 => {
            let start = parse_i64(&argv[2])?;
            let end = parse_i64(&argv[3])?;
            if start < 0 && end < 0 && start > end {
                ctx.reply.int(0);
                return Ok(Flow::Done);
            }
            let in_bits = match argv.get(4) {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            let total = if in_bits { len * 8 } else { len };
            clamp_range(start, end, total).map(|range| to_bit_range(range, in_bits))
        }
        _ => return Err(CmdError::Syntax),
    };
    let count = range.map_or(0, |(first, last)| count_ones(value, first, last));
    ctx.reply.int(count as i64);
    Ok(Flow::Done)
}

/// Set bits at positions `first..=last`, which lie inside `bytes`.
fn count_ones(bytes: &[u8], first: u64, last: u64) -> u64 {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    let head_mask = 0xFFu8 >> (first & 7);
    let tail_mask = 0xFFu8 << (7 - (last & 7));
    if first_byte == last_byte {
        return u64::from((bytes[first_byte] & head_mask & tail_mask).count_ones());
    }
    let middle = &bytes[first_byte + 1..last_byte];
    let mut count = u64::from((bytes[first_byte] & head_mask).count_ones())
        + u64::from((bytes[last_byte] & tail_mask).count_ones());
    let chunks = middle.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("chunks of eight bytes"));
        count += u64::from(word.count_ones());
    }
    count + rest.iter().map(|b| u64::from(b.count_ones())).sum::<u64>()
}

fn bitpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let target = match parse_i64(&argv[2])? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::Static("ERR The bit argument must be 1 or 0.")),
    };
    let Some(value) = get_str(ctx.db, &argv[1])? else {
        ctx.reply.int(if target { -1 } else { 0 });
        return Ok(Flow::Done);
    };
    let len = value.len() as i64;
    let (range, end_given) = match argv.len() {
        3 => (
            clamp_range(0, -1, len).map(|range| to_bit_range(range, false)),
            false,
        ),
        4..=6 => {
            let start = parse_i64(&argv[3])?;
            let in_bits = match argv.get(5) {
                Some(unit) => parse_unit(unit)?,
                None => false,
            };
            let end = match argv.get(4) {
                Some(end) => Some(parse_i64(end)?),
                None => None,
            };
            let total = if in_bits { len * 8 } else { len };
            let range = clamp_range(start, end.unwrap_or(total - 1), total);
            (
                range.map(|range| to_bit_range(range, in_bits)),
                end.is_some(),
            )
        }
        _ => return Err(CmdError::Syntax),
    };
    let Some((first, last)) = range else {
        ctx.reply.int(-1);
        return Ok(Flow::Done);
    };
    let position = match first_bit(value, first, last, target) {
        Some(position) => position as i64,
        // Past the end of the string every bit reads as 0, unless the
        // caller bounded the range.
        None if !target && !end_given => last as i64 + 1,
        None => -1,
    };
    ctx.reply.int(position);
    Ok(Flow::Done)
}

/// The first bit equal to `target` at positions `first..=last`.
fn first_bit(bytes: &[u8], first: u64, last: u64, target: bool) -> Option<u64> {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    let look_for = |byte: u8, mask: u8| -> Option<u64> {
        let bits = if target { byte } else { !byte } & mask;
        (bits != 0).then(|| u64::from(bits.leading_zeros()))
    };
    let head_mask = 0xFFu8 >> (first & 7);
    let tail_mask = 0xFFu8 << (7 - (last & 7));
    if first_byte == last_byte {
        let found = look_for(bytes[first_byte], head_mask & tail_mask)?;
        return Some(first_byte as u64 * 8 + found);
    }
    if let Some(found) = look_for(bytes[first_byte], head_mask) {
        return Some(first_byte as u64 * 8 + found);
    }
    let skip = if target { 0x00 } else { 0xFF };
    let middle = &bytes[first_byte + 1..last_byte];
    if let Some(index) = middle.iter().position(|&byte| byte != skip) {
        let byte_index = first_byte + 1 + index;
        let found = look_for(bytes[byte_index], 0xFF)?;
        return Some(byte_index as u64 * 8 + found);
    }
    let found = look_for(bytes[last_byte], tail_mask)?;
    Some(last_byte as u64 * 8 + found)
}

#[derive(Clone, Copy)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let op = [
        ("AND", BitOp::And),
        ("OR", BitOp::Or),
        ("XOR", BitOp::Xor),
        ("NOT", BitOp::Not),
    ]
    .into_iter()
    .find(|(name, _)| is(&argv[1], name))
    .map(|(_, op)| op)
    .ok_or(CmdError::Syntax)?;
    if matches!(op, BitOp::Not) && argv.len() != 4 {
        return Err(CmdError::Static(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let destination = &argv[2];
    let mut sources: Vec<Bytes> = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        let value = get_str(ctx.db, key)?.map_or_else(Bytes::new, |v| Bytes::copy_from_slice(v));
        sources.push(value);
    }
    let result = combine(op, &sources);
    let length = result.len();
    if length > 0 {
        ctx.db
            .set(destination, Value::Str(encoding::raw(result)), false);
        ctx.propagate_verbatim();
    } else if ctx.db.remove(destination).is_some() {
        ctx.propagate(vec![Bytes::from_static(b"DEL"), destination.clone()]);
    }
    ctx.reply.int(length as i64);
    Ok(Flow::Done)
}

/// Applies `op` byte by byte; shorter sources read as zero-padded.
fn combine(op: BitOp, sources: &[Bytes]) -> Vec<u8> {
    let length = sources.iter().map(Bytes::len).max().unwrap_or(0);
    let mut result = Vec::with_capacity(length + 1);
    if length == 0 {
        return result;
    }
    let first = &sources[0];
    result.extend_from_slice(first);
    result.resize(length, 0);
    match op {
        BitOp::Not => result.iter_mut().for_each(|byte| *byte = !*byte),
        BitOp::And => {
            for source in &sources[1..] {
                for (index, byte) in result.iter_mut().enumerate() {
                    *byte &= source.get(index).copied().unwrap_or(0);
                }
            }
        }
        BitOp::Or | BitOp::Xor => {
            for source in &sources[1..] {
                for (byte, &other) in result.iter_mut().zip(source.iter()) {
                    if matches!(op, BitOp::Or) {
                        *byte |= other;
                    } else {
                        *byte ^= other;
                    }
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests;
