//! List commands that take elements out: `LPOP`, `RPOP`, `LMPOP`, `LMOVE`,
//! `RPOPLPUSH`; and the pieces the blocking variants reuse (`mpop` parsing,
//! `move_element`).
//!
//! A pop that empties a list deletes its key. `LMPOP` records itself as the
//! plain pop Redis replicates (`LPOP key n`); the others are deterministic
//! and record themselves verbatim.

use bytes::Bytes;
use daisy_keyspace::CompactBytes;

use crate::args::parse_i64_opt;
use crate::list::{
    first_non_empty, pop_elements, push, reply_elements, reply_key_and_elements, take, End,
};
use crate::typed::{check_type, get_list, get_list_mut, list_or_create};
use crate::{CmdError, CmdResult, Ctx, Flow};

const COUNT_NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
const MPOP_COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";

pub(crate) fn lpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, End::Left, b"lpop")
}

pub(crate) fn rpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, End::Right, b"rpop")
}

/// `[LR]POP key [count]`. Without a count: one bulk string, or null. With
/// one: an array (empty for a count of 0), or the null array when the key
/// does not exist, as Redis 7.0 answers.
fn pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, name: &[u8]) -> CmdResult {
    if argv.len() > 3 {
        return Err(CmdError::wrong_arity(name));
    }
    let count = match argv.get(2) {
        Some(arg) => Some(non_negative_count(arg)?),
        None => None,
    };
    let key = &argv[1];
    if get_list(ctx.db, key)?.is_none() {
        match count {
            Some(_) => ctx.reply.null_array(),
            None => ctx.reply.null(),
        }
        return Ok(Flow::Done);
    }
    match count {
        Some(0) => ctx.reply.array(0),
        Some(count) => {
            let popped = pop_elements(ctx, key, end, count)?;
            reply_elements(ctx.reply, &popped);
            ctx.propagate_verbatim();
        }
        None => {
            let popped = pop_elements(ctx, key, end, 1)?;
            if let Some(element) = popped.first() {
                ctx.reply.bulk(element);
            }
            ctx.propagate_verbatim();
        }
    }
    Ok(Flow::Done)
}

/// A count of 0 or more; anything else (text included) gets Redis's
/// "must be positive" error.
fn non_negative_count(arg: &[u8]) -> Result<usize, CmdError> {
    match parse_i64_opt(arg) {
        Some(count) if count >= 0 => Ok(usize::try_from(count).unwrap_or(usize::MAX)),
        _ => Err(CmdError::Static(COUNT_NOT_POSITIVE)),
    }
}

/// The arguments of `LMPOP` and `BLMPOP` after `numkeys`.
pub(crate) struct MpopArgs<'a> {
    pub(crate) keys: &'a [Bytes],
    pub(crate) end: End,
    /// At least 1; elements to pop at most.
    pub(crate) count: usize,
}

/// Reads `numkeys key [key ...] LEFT|RIGHT [COUNT count]` where `numkeys`
/// is `argv[numkeys_at]`, in Redis's order: numkeys, then where, then the
/// options.
pub(crate) fn parse_mpop(argv: &[Bytes], numkeys_at: usize) -> Result<MpopArgs<'_>, CmdError> {
    let numkeys = match parse_i64_opt(&argv[numkeys_at]) {
        Some(numkeys) if numkeys >= 1 => numkeys as u64,
        _ => return Err(CmdError::Static(NUMKEYS_NOT_POSITIVE)),
    };
    let first_key = numkeys_at + 1;
    let where_at = (first_key as u64).saturating_add(numkeys);
    let where_at = match usize::try_from(where_at) {
        Ok(at) if at < argv.len() => at,
        _ => return Err(CmdError::Syntax),
    };
    let end = End::parse(&argv[where_at])?;
    let mut count = None;
    let mut index = where_at + 1;
    while index < argv.len() {
        let value = argv.get(index + 1);
        match value {
            Some(value) if count.is_none() && crate::args::is(&argv[index], "COUNT") => {
                count = Some(positive_mpop_count(value)?);
            }
            _ => return Err(CmdError::Syntax),
        }
        index += 2;
    }
    Ok(MpopArgs {
        keys: &argv[first_key..where_at],
        end,
        count: count.unwrap_or(1),
    })
}

fn positive_mpop_count(arg: &[u8]) -> Result<usize, CmdError> {
    match parse_i64_opt(arg) {
        Some(count) if count >= 1 => Ok(usize::try_from(count).unwrap_or(usize::MAX)),
        _ => Err(CmdError::Static(MPOP_COUNT_NOT_POSITIVE)),
    }
}

/// Serves `[B]LMPOP` from the first non-empty key: replies `[key,
/// [elements]]` and records `LPOP|RPOP key n`. Returns false, with nothing
/// written, when every key is missing.
pub(crate) fn serve_mpop(ctx: &mut Ctx<'_>, args: &MpopArgs<'_>) -> Result<bool, CmdError> {
    let Some(index) = first_non_empty(ctx.db, args.keys)? else {
        return Ok(false);
    };
    let key = &args.keys[index];
    let popped = pop_elements(ctx, key, args.end, args.count)?;
    reply_key_and_elements(ctx.reply, key, &popped);
    ctx.propagate(vec![
        args.end.pop_command(),
        key.clone(),
        Bytes::from(popped.len().to_string()),
    ]);
    Ok(true)
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub(crate) fn lmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let args = parse_mpop(argv, 1)?;
    if !serve_mpop(ctx, &args)? {
        ctx.reply.null_array();
    }
    Ok(Flow::Done)
}

/// Pops one element from `from` of `source` and pushes it to `to` of
/// `destination`; the two may be the same list (a rotation). Returns the
/// element, or `None` when `source` does not exist. Both types are checked
/// before anything changes: the source's first, as Redis does.
pub(crate) fn move_element(
    ctx: &mut Ctx<'_>,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> Result<Option<CompactBytes>, CmdError> {
    if get_list(ctx.db, source)?.is_none_or(|list| list.is_empty()) {
        return Ok(None);
    }
    check_type(ctx.db, destination, |value| {
        matches!(value, daisy_keyspace::Value::List(_))
    })?;
    let popped = match get_list_mut(ctx.db, source)? {
        Some(list) => take(list, from, 1).pop(),
        None => None,
    };
    let Some(element) = popped else {
        return Ok(None);
    };
    // The source is deleted only after the push: when it is also the
    // destination, its last element goes straight back and the key (and
    // its expiry) stays.
    push(list_or_create(ctx.db, destination)?, to, element.clone());
    ctx.db.remove_if_empty(source);
    Ok(Some(element))
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
pub(crate) fn lmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let from = End::parse(&argv[3])?;
    let to = End::parse(&argv[4])?;
    reply_moved(ctx, argv, from, to)
}

/// `RPOPLPUSH source destination`: `LMOVE source destination RIGHT LEFT`.
pub(crate) fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    reply_moved(ctx, argv, End::Right, End::Left)
}

fn reply_moved(ctx: &mut Ctx<'_>, argv: &[Bytes], from: End, to: End) -> CmdResult {
    match move_element(ctx, &argv[1], &argv[2], from, to)? {
        Some(element) => {
            ctx.reply.bulk(&element);
            ctx.propagate_verbatim();
        }
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

#[cfg(test)]
mod tests {
    use daisy_protocol::Protocol;

    use crate::testing::Harness;

    fn range(h: &mut Harness, key: &str) -> String {
        h.run(&["LRANGE", key, "0", "-1"])
    }

    #[test]
    fn pop_one_and_delete_when_empty() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "b"]);
        assert_eq!(h.run(&["LPOP", "l"]), "$1\r\na\r\n");
        assert_eq!(h.effects_text(), vec!["LPOP l"]);
        assert_eq!(h.run(&["RPOP", "l"]), "$1\r\nb\r\n");
        assert_eq!(h.run(&["EXISTS", "l"]), ":0\r\n");
        assert_eq!(h.run(&["LPOP", "l"]), "$-1\r\n");
        assert!(h.effects.is_empty());
        h.protocol = Protocol::Resp3;
        assert_eq!(h.run(&["RPOP", "l"]), "_\r\n");
    }

    #[test]
    fn pop_with_count() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "b", "c", "d"]);
        assert_eq!(h.run(&["LPOP", "l", "2"]), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        assert_eq!(h.effects_text(), vec!["LPOP l 2"]);
        assert_eq!(h.run(&["RPOP", "l", "0"]), "*0\r\n");
        assert!(h.effects.is_empty());
        assert_eq!(
            h.run(&["RPOP", "l", "9223372036854775807"]),
            "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
        );
        assert_eq!(h.run(&["EXISTS", "l"]), ":0\r\n");
    }

    #[test]
    fn pop_with_count_on_a_missing_key_is_the_null_array() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["LPOP", "l", "1"]), "*-1\r\n");
        assert_eq!(h.run(&["RPOP", "l", "0"]), "*-1\r\n");
        h.protocol = Protocol::Resp3;
        assert_eq!(h.run(&["LPOP", "l", "1"]), "_\r\n");
    }

    #[test]
    fn pop_errors() {
        let mut h = Harness::new();
        let positive = "-ERR value is out of range, must be positive\r\n";
        assert_eq!(h.run(&["LPOP", "l", "-1"]), positive);
        assert_eq!(h.run(&["LPOP", "l", "x"]), positive);
        assert_eq!(
            h.run(&["RPOP", "l", "1", "2"]),
            "-ERR wrong number of arguments for 'rpop' command\r\n"
        );
        h.run(&["SET", "s", "x"]);
        assert_eq!(h.run(&["LPOP", "s", "-1"]), positive);
        assert!(h.run(&["LPOP", "s", "0"]).starts_with("-WRONGTYPE"));
        assert!(h.run(&["RPOP", "s"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn lmpop_pops_from_the_first_non_empty_key() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "b", "1", "2", "3"]);
        assert_eq!(
            h.run(&["LMPOP", "2", "a", "b", "LEFT"]),
            "*2\r\n$1\r\nb\r\n*1\r\n$1\r\n1\r\n"
        );
        assert_eq!(h.effects_text(), vec!["LPOP b 1"]);
        assert_eq!(
            h.run(&["LMPOP", "2", "a", "b", "right", "COUNT", "10"]),
            "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
        );
        assert_eq!(h.effects_text(), vec!["RPOP b 2"]);
        assert_eq!(h.run(&["EXISTS", "b"]), ":0\r\n");
        assert_eq!(h.run(&["LMPOP", "2", "a", "b", "LEFT"]), "*-1\r\n");
        assert!(h.effects.is_empty());
        h.protocol = Protocol::Resp3;
        assert_eq!(h.run(&["LMPOP", "1", "a", "LEFT"]), "_\r\n");
    }

    #[test]
    fn lmpop_meets_wrong_types_in_key_order() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "x"]);
        h.run(&["RPUSH", "l", "1"]);
        assert!(h
            .run(&["LMPOP", "2", "s", "l", "LEFT"])
            .starts_with("-WRONGTYPE"));
        assert_eq!(
            h.run(&["LMPOP", "2", "l", "s", "LEFT"]),
            "*2\r\n$1\r\nl\r\n*1\r\n$1\r\n1\r\n"
        );
    }

    #[test]
    fn lmpop_argument_errors() {
        let mut h = Harness::new();
        let numkeys = "-ERR numkeys should be greater than 0\r\n";
        let count = "-ERR count should be greater than 0\r\n";
        assert_eq!(h.run(&["LMPOP", "0", "a", "LEFT"]), numkeys);
        assert_eq!(h.run(&["LMPOP", "-1", "a", "LEFT"]), numkeys);
        assert_eq!(h.run(&["LMPOP", "x", "a", "LEFT"]), numkeys);
        assert_eq!(h.run(&["LMPOP", "2", "a", "LEFT"]), "-ERR syntax error\r\n");
        assert_eq!(
            h.run(&["LMPOP", "9223372036854775807", "a", "LEFT"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(h.run(&["LMPOP", "1", "a", "UP"]), "-ERR syntax error\r\n");
        assert_eq!(
            h.run(&["LMPOP", "1", "a", "LEFT", "COUNT"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(h.run(&["LMPOP", "1", "a", "LEFT", "COUNT", "0"]), count);
        assert_eq!(h.run(&["LMPOP", "1", "a", "LEFT", "COUNT", "x"]), count);
        assert_eq!(
            h.run(&["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            h.run(&["LMPOP", "1", "a", "LEFT", "FOO", "1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            h.run(&["LMPOP", "1", "a"]),
            "-ERR wrong number of arguments for 'lmpop' command\r\n"
        );
    }

    #[test]
    fn lmove_between_lists_and_ends() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "src", "a", "b", "c"]);
        assert_eq!(
            h.run(&["LMOVE", "src", "dst", "LEFT", "RIGHT"]),
            "$1\r\na\r\n"
        );
        assert_eq!(h.effects_text(), vec!["LMOVE src dst LEFT RIGHT"]);
        assert_eq!(
            h.run(&["LMOVE", "src", "dst", "right", "left"]),
            "$1\r\nc\r\n"
        );
        assert_eq!(range(&mut h, "dst"), "*2\r\n$1\r\nc\r\n$1\r\na\r\n");
        assert_eq!(h.run(&["RPOPLPUSH", "src", "dst"]), "$1\r\nb\r\n");
        assert_eq!(h.effects_text(), vec!["RPOPLPUSH src dst"]);
        assert_eq!(h.run(&["EXISTS", "src"]), ":0\r\n");
        assert_eq!(
            range(&mut h, "dst"),
            "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
        );
        assert_eq!(h.run(&["RPOPLPUSH", "src", "dst"]), "$-1\r\n");
        assert_eq!(h.run(&["LMOVE", "src", "dst", "LEFT", "LEFT"]), "$-1\r\n");
        assert!(h.effects.is_empty());
    }

    #[test]
    fn lmove_to_the_same_list_rotates() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "b", "c"]);
        assert_eq!(h.run(&["RPOPLPUSH", "l", "l"]), "$1\r\nc\r\n");
        assert_eq!(
            range(&mut h, "l"),
            "*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        assert_eq!(h.run(&["LMOVE", "l", "l", "LEFT", "RIGHT"]), "$1\r\nc\r\n");
        assert_eq!(
            range(&mut h, "l"),
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        assert_eq!(h.run(&["LMOVE", "l", "l", "LEFT", "LEFT"]), "$1\r\na\r\n");
        assert_eq!(
            range(&mut h, "l"),
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
        );
        h.run(&["DEL", "l"]);
        h.run(&["RPUSH", "one", "x"]);
        assert_eq!(h.run(&["RPOPLPUSH", "one", "one"]), "$1\r\nx\r\n");
        assert_eq!(range(&mut h, "one"), "*1\r\n$1\r\nx\r\n");
    }

    #[test]
    fn lmove_checks_both_types_before_moving() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "x"]);
        h.run(&["RPUSH", "l", "a"]);
        assert!(h.run(&["RPOPLPUSH", "l", "s"]).starts_with("-WRONGTYPE"));
        assert!(h.effects.is_empty());
        assert_eq!(range(&mut h, "l"), "*1\r\n$1\r\na\r\n");
        assert!(h
            .run(&["LMOVE", "s", "l", "LEFT", "LEFT"])
            .starts_with("-WRONGTYPE"));
        // A missing source answers null before the destination is looked at.
        assert_eq!(h.run(&["RPOPLPUSH", "missing", "s"]), "$-1\r\n");
        // Where-keywords are read before any key.
        assert_eq!(
            h.run(&["LMOVE", "s", "l", "LEFT", "UP"]),
            "-ERR syntax error\r\n"
        );
        h.protocol = Protocol::Resp3;
        assert_eq!(h.run(&["LMOVE", "missing", "l", "LEFT", "LEFT"]), "_\r\n");
    }
}
