//! Byte ranges of strings: APPEND, STRLEN, GETRANGE (and its old name
//! SUBSTR) and SETRANGE. Growth is bounded by `Settings::max_string_bytes`.

use bytes::Bytes;
use daisy_keyspace::Value;

use super::{check_string_length, encoding};
use crate::args::parse_i64;
use crate::typed::{get_str, get_str_mut};
use crate::{CmdError, CmdResult, Ctx, Flow};

pub(super) fn append(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, suffix) = (&argv[1], &argv[2]);
    let length = match get_str(ctx.db, key)? {
        None => {
            ctx.db.set(key, Value::Str(encoding::whole(suffix)), false);
            suffix.len()
        }
        Some(value) => {
            check_string_length(ctx.settings, value.len(), suffix.len())?;
            let value = get_str_mut(ctx.db, key)?.expect("the key was just read");
            encoding::edit(value, |bytes| {
                bytes.extend_from_slice(suffix);
                bytes.len()
            })
        }
    };
    ctx.propagate_verbatim();
    ctx.reply.int(length as i64);
    Ok(Flow::Done)
}

pub(super) fn strlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let length = get_str(ctx.db, &argv[1])?.map_or(0, |value| value.len());
    ctx.reply.int(length as i64);
    Ok(Flow::Done)
}

/// GETRANGE and SUBSTR, with Redis 7.0's clamping: both ends negative and
/// reversed give an empty string; otherwise negative ends count from the
/// end and are clamped to the string.
pub(super) fn getrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let Some(value) = get_str(ctx.db, &argv[1])? else {
        ctx.reply.bulk(b"");
        return Ok(Flow::Done);
    };
    match byte_range(start, end, value.len()) {
        Some((first, last)) => ctx.reply.bulk(&value[first..=last]),
        None => ctx.reply.bulk(b""),
    }
    Ok(Flow::Done)
}

/// The inclusive byte range GETRANGE reads, or `None` when it is empty.
fn byte_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i64;
    let start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    }
    .max(0);
    let end = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    }
    .max(0);
    let end = end.min(len - 1);
    (len > 0 && start <= end).then_some((start as usize, end as usize))
}

pub(super) fn setrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, patch) = (&argv[1], &argv[3]);
    let offset = parse_i64(&argv[2])?;
    let offset =
        usize::try_from(offset).map_err(|_| CmdError::Static("ERR offset is out of range"))?;
    let length = match get_str(ctx.db, key)? {
        None if patch.is_empty() => 0,
        None => {
            check_string_length(ctx.settings, offset, patch.len())?;
            let mut bytes = Vec::with_capacity(offset + patch.len() + 1);
            bytes.resize(offset, 0);
            bytes.extend_from_slice(patch);
            let length = bytes.len();
            ctx.db.set(key, Value::Str(encoding::raw(bytes)), false);
            ctx.propagate_verbatim();
            length
        }
        Some(value) if patch.is_empty() => value.len(),
        Some(_) => {
            check_string_length(ctx.settings, offset, patch.len())?;
            let value = get_str_mut(ctx.db, key)?.expect("the key was just read");
            let length = encoding::edit(value, |bytes| write_at(bytes, offset, patch));
            ctx.propagate_verbatim();
            length
        }
    };
    ctx.reply.int(length as i64);
    Ok(Flow::Done)
}

/// Writes `patch` at `offset`, zero-padding the gap; returns the new length.
fn write_at(bytes: &mut Vec<u8>, offset: usize, patch: &[u8]) -> usize {
    let end = offset + patch.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(patch);
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_clamp_like_redis_7_0() {
        assert_eq!(byte_range(0, -1, 5), Some((0, 4)));
        assert_eq!(byte_range(-10, -8, 5), Some((0, 0)));
        assert_eq!(byte_range(-1, -2, 5), None);
        assert_eq!(byte_range(3, 1, 5), None);
        assert_eq!(byte_range(0, 100, 5), Some((0, 4)));
        assert_eq!(byte_range(0, 0, 0), None);
        assert_eq!(byte_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }
}
