//! List commands that change a list in place: `LPUSH`, `RPUSH`, `LPUSHX`,
//! `RPUSHX`, `LINSERT`, `LSET`, `LREM`, `LTRIM`.
//!
//! Each reads and checks everything first (with `Db::get`), and takes the
//! list for writing only when it will change, so that a no-op neither
//! touches a WATCHed key nor records an effect. Every change here is
//! deterministic, so the effect is the command itself.

use bytes::Bytes;
use daisy_keyspace::CompactBytes;

use crate::args::{is, parse_i64, resolve_index, resolve_range};
use crate::list::{push, End};
use crate::typed::{get_list, get_list_mut, list_or_create};
use crate::{CmdError, CmdResult, Ctx, Flow};

pub(crate) fn lpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push_elements(ctx, argv, End::Left, false)
}

pub(crate) fn rpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push_elements(ctx, argv, End::Right, false)
}

pub(crate) fn lpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push_elements(ctx, argv, End::Left, true)
}

pub(crate) fn rpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push_elements(ctx, argv, End::Right, true)
}

/// `[LR]PUSH[X] key element [element ...]`: pushes the elements one by one
/// (so `LPUSH k a b` leaves `b a`) and replies the new length. With
/// `only_existing`, a missing key is left alone and the reply is 0.
fn push_elements(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let key = &argv[1];
    let list = if only_existing {
        match get_list_mut(ctx.db, key)? {
            Some(list) => list,
            None => {
                ctx.reply.int(0);
                return Ok(Flow::Done);
            }
        }
    } else {
        list_or_create(ctx.db, key)?
    };
    for element in &argv[2..] {
        push(list, end, CompactBytes::new(element));
    }
    ctx.reply.int(list.len() as i64);
    ctx.propagate_verbatim();
    Ok(Flow::Done)
}

/// `LINSERT key BEFORE|AFTER pivot element`: replies the new length, -1
/// when the pivot is not found, 0 when the key does not exist.
pub(crate) fn linsert(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let after = if is(&argv[2], "AFTER") {
        true
    } else if is(&argv[2], "BEFORE") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = &argv[1];
    let Some(list) = get_list(ctx.db, key)? else {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    };
    let Some(pivot) = list.iter().position(|e| e[..] == argv[3][..]) else {
        ctx.reply.int(-1);
        return Ok(Flow::Done);
    };
    let at = if after { pivot + 1 } else { pivot };
    if let Some(list) = get_list_mut(ctx.db, key)? {
        list.insert(at, CompactBytes::new(&argv[4]));
        ctx.reply.int(list.len() as i64);
        ctx.propagate_verbatim();
    }
    Ok(Flow::Done)
}

/// `LSET key index element`: the key is checked before the index is read,
/// as Redis does (`ERR no such key` wins over a bad index).
pub(crate) fn lset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let Some(list) = get_list(ctx.db, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    let index = parse_i64(&argv[2])?;
    let at = resolve_index(index, list.len()).ok_or(CmdError::IndexOutOfRange)?;
    if let Some(slot) = get_list_mut(ctx.db, key)?.and_then(|list| list.get_mut(at)) {
        *slot = CompactBytes::new(&argv[3]);
    }
    ctx.reply.ok();
    ctx.propagate_verbatim();
    Ok(Flow::Done)
}

/// `LREM key count element`: removes the first `count` matches from the
/// head (count > 0), from the tail (count < 0), or all of them (0).
///
/// Redis negates a negative count in a C `long`, so -9223372036854775808
/// stays negative and removes every match; `unsigned_abs` gives the same.
pub(crate) fn lrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let count = parse_i64(&argv[2])?;
    let key = &argv[1];
    let wanted = &argv[3][..];
    let Some(list) = get_list(ctx.db, key)? else {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    };
    let matches = list.iter().filter(|e| e[..] == *wanted).count() as u64;
    let to_remove = match count {
        0 => matches,
        _ => matches.min(count.unsigned_abs()),
    };
    if to_remove == 0 {
        ctx.reply.int(0);
        return Ok(Flow::Done);
    }
    // Matches to keep before removing: none from the head; from the tail,
    // the ones in front of the last `to_remove` matches.
    let mut skip = if count < 0 { matches - to_remove } else { 0 };
    let mut left = to_remove;
    if let Some(list) = get_list_mut(ctx.db, key)? {
        list.retain(|element| {
            if left == 0 || element[..] != *wanted {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            left -= 1;
            false
        });
    }
    ctx.db.remove_if_empty(key);
    ctx.reply.int(to_remove as i64);
    ctx.propagate_verbatim();
    Ok(Flow::Done)
}

/// `LTRIM key start stop`: keeps only the range; an empty range deletes
/// the key. Like Redis, an existing key counts as modified even when
/// nothing is trimmed, but only a real change is recorded as an effect.
pub(crate) fn ltrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    let key = &argv[1];
    let Some(list) = get_list_mut(ctx.db, key)? else {
        ctx.reply.ok();
        return Ok(Flow::Done);
    };
    let len = list.len();
    let trimmed = match resolve_range(start, stop, len) {
        Some((first, last)) => {
            list.truncate(last + 1);
            list.drain(..first);
            len - (last - first + 1)
        }
        None => {
            list.clear();
            len
        }
    };
    ctx.db.remove_if_empty(key);
    ctx.reply.ok();
    if trimmed > 0 {
        ctx.propagate_verbatim();
    }
    Ok(Flow::Done)
}

#[cfg(test)]
mod tests {
    use crate::testing::Harness;

    fn range(h: &mut Harness, key: &str) -> String {
        h.run(&["LRANGE", key, "0", "-1"])
    }

    #[test]
    fn pushes_build_the_list_and_record_themselves() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["LPUSH", "l", "a", "b"]), ":2\r\n");
        assert_eq!(h.effects_text(), vec!["LPUSH l a b"]);
        assert_eq!(h.run(&["RPUSH", "l", "c"]), ":3\r\n");
        assert_eq!(
            range(&mut h, "l"),
            "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n"
        );
        assert_eq!(h.run(&["LPUSHX", "l", "z"]), ":4\r\n");
        assert_eq!(h.run(&["RPUSHX", "l", "y", "x"]), ":6\r\n");
        assert_eq!(h.effects_text(), vec!["RPUSHX l y x"]);
        assert_eq!(h.run(&["LINDEX", "l", "-1"]), "$1\r\nx\r\n");
    }

    #[test]
    fn pushx_leaves_a_missing_key_alone() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["LPUSHX", "l", "a"]), ":0\r\n");
        assert_eq!(h.run(&["RPUSHX", "l", "a"]), ":0\r\n");
        assert!(h.effects.is_empty());
        assert_eq!(h.run(&["EXISTS", "l"]), ":0\r\n");
    }

    #[test]
    fn pushes_check_the_type_before_anything_changes() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "x"]);
        for command in ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"] {
            assert!(
                h.run(&[command, "s", "a"]).starts_with("-WRONGTYPE"),
                "{command}"
            );
            assert!(h.effects.is_empty());
        }
        assert_eq!(h.run(&["GET", "s"]), "$1\r\nx\r\n");
        assert_eq!(
            h.run(&["LPUSH", "l"]),
            "-ERR wrong number of arguments for 'lpush' command\r\n"
        );
    }

    #[test]
    fn linsert_before_after_and_misses() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "c"]);
        assert_eq!(h.run(&["LINSERT", "l", "BEFORE", "c", "b"]), ":3\r\n");
        assert_eq!(h.effects_text(), vec!["LINSERT l BEFORE c b"]);
        assert_eq!(h.run(&["LINSERT", "l", "after", "c", "d"]), ":4\r\n");
        assert_eq!(
            range(&mut h, "l"),
            "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
        );
        assert_eq!(h.run(&["LINSERT", "l", "BEFORE", "zz", "x"]), ":-1\r\n");
        assert!(h.effects.is_empty());
        assert_eq!(h.run(&["LINSERT", "missing", "BEFORE", "a", "x"]), ":0\r\n");
        assert_eq!(
            h.run(&["LINSERT", "l", "MIDDLE", "a", "x"]),
            "-ERR syntax error\r\n"
        );
        h.run(&["SET", "s", "x"]);
        // The position keyword is read before the key.
        assert_eq!(
            h.run(&["LINSERT", "s", "MIDDLE", "a", "x"]),
            "-ERR syntax error\r\n"
        );
        assert!(h
            .run(&["LINSERT", "s", "BEFORE", "a", "x"])
            .starts_with("-WRONGTYPE"));
    }

    #[test]
    fn lset_checks_key_then_index() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "b", "c"]);
        assert_eq!(h.run(&["LSET", "l", "-1", "z"]), "+OK\r\n");
        assert_eq!(h.effects_text(), vec!["LSET l -1 z"]);
        assert_eq!(h.run(&["LINDEX", "l", "2"]), "$1\r\nz\r\n");
        assert_eq!(
            h.run(&["LSET", "l", "3", "z"]),
            "-ERR index out of range\r\n"
        );
        assert_eq!(
            h.run(&["LSET", "l", "-4", "z"]),
            "-ERR index out of range\r\n"
        );
        assert!(h.effects.is_empty());
        assert_eq!(
            h.run(&["LSET", "l", "x", "z"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            h.run(&["LSET", "missing", "x", "z"]),
            "-ERR no such key\r\n"
        );
        h.run(&["SET", "s", "x"]);
        assert!(h.run(&["LSET", "s", "x", "z"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn lrem_from_head_tail_and_all() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "x", "a", "x", "b", "x", "c", "x"]);
        assert_eq!(h.run(&["LREM", "l", "2", "x"]), ":2\r\n");
        assert_eq!(h.effects_text(), vec!["LREM l 2 x"]);
        assert_eq!(
            range(&mut h, "l"),
            "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nx\r\n$1\r\nc\r\n$1\r\nx\r\n"
        );
        h.run(&["DEL", "l"]);
        h.run(&["RPUSH", "l", "x", "a", "x", "b", "x", "c", "x"]);
        assert_eq!(h.run(&["LREM", "l", "-2", "x"]), ":2\r\n");
        assert_eq!(
            range(&mut h, "l"),
            "*5\r\n$1\r\nx\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        assert_eq!(h.run(&["LREM", "l", "0", "x"]), ":2\r\n");
        assert_eq!(
            range(&mut h, "l"),
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        assert_eq!(h.run(&["LREM", "l", "0", "zz"]), ":0\r\n");
        assert!(h.effects.is_empty());
    }

    #[test]
    fn lrem_huge_counts_and_emptied_key() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "x", "y", "x"]);
        assert_eq!(h.run(&["LREM", "l", "-9223372036854775808", "x"]), ":2\r\n");
        assert_eq!(h.run(&["LREM", "l", "9223372036854775807", "y"]), ":1\r\n");
        assert_eq!(h.run(&["EXISTS", "l"]), ":0\r\n");
        assert_eq!(h.run(&["LREM", "l", "1", "y"]), ":0\r\n");
        assert_eq!(
            h.run(&["LREM", "l", "1.5", "y"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        h.run(&["SET", "s", "x"]);
        assert!(h.run(&["LREM", "s", "1", "y"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn ltrim_keeps_a_range() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "b", "c", "d", "e"]);
        assert_eq!(h.run(&["LTRIM", "l", "1", "-2"]), "+OK\r\n");
        assert_eq!(h.effects_text(), vec!["LTRIM l 1 -2"]);
        assert_eq!(
            range(&mut h, "l"),
            "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
        );
        assert_eq!(h.run(&["LTRIM", "l", "-100", "100"]), "+OK\r\n");
        assert!(h.effects.is_empty(), "nothing trimmed, nothing recorded");
        assert_eq!(h.run(&["LTRIM", "l", "0", "0"]), "+OK\r\n");
        assert_eq!(range(&mut h, "l"), "*1\r\n$1\r\nb\r\n");
        assert_eq!(h.run(&["LTRIM", "l", "1", "0"]), "+OK\r\n");
        assert_eq!(h.effects_text(), vec!["LTRIM l 1 0"]);
        assert_eq!(h.run(&["EXISTS", "l"]), ":0\r\n");
        assert_eq!(h.run(&["LTRIM", "l", "0", "1"]), "+OK\r\n");
        assert!(h.effects.is_empty());
    }

    #[test]
    fn ltrim_reads_indices_before_the_key() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "x"]);
        assert_eq!(
            h.run(&["LTRIM", "s", "a", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert!(h.run(&["LTRIM", "s", "0", "1"]).starts_with("-WRONGTYPE"));
        h.run(&["RPUSH", "l", "a", "b"]);
        assert_eq!(h.run(&["LTRIM", "l", "5", "9"]), "+OK\r\n");
        assert_eq!(h.run(&["EXISTS", "l"]), ":0\r\n");
    }
}
