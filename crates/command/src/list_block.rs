//! Blocking list commands: `BLPOP`, `BRPOP`, `BLMPOP`, `BRPOPLPUSH`,
//! `BLMOVE`.
//!
//! Each validates its arguments in Redis's order (the timeout is read
//! before any key), then serves from the first non-empty key exactly as
//! the non-blocking command would, and records that non-blocking command
//! as the effect. When nothing can be served it writes nothing and asks to
//! block on its keys; inside `MULTI` it answers at once instead. See the
//! `list` module for the replies on timeout.

use bytes::Bytes;
use daisy_protocol::Reply;

use crate::args::parse_timeout_deadline;
use crate::list::{first_non_empty, pop_elements, End};
use crate::list_pop::{move_element, parse_mpop, serve_mpop};
use crate::typed::get_list;
use crate::{CmdResult, Ctx, Flow};

pub(crate) fn blpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, argv, End::Left)
}

pub(crate) fn brpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, argv, End::Right)
}

/// `B[LR]POP key [key ...] timeout`: replies `[key, element]` and records
/// `[LR]POP key`.
fn blocking_pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> CmdResult {
    // Arity (-3) guarantees a key and the timeout.
    let timeout = &argv[argv.len() - 1];
    let keys = &argv[1..argv.len() - 1];
    let deadline_ms = parse_timeout_deadline(timeout, ctx.now_ms())?;
    let Some(index) = first_non_empty(ctx.db, keys)? else {
        return block_or_give_up(ctx, keys.to_vec(), deadline_ms, Reply::null_array);
    };
    let key = &keys[index];
    let popped = pop_elements(ctx, key, end, 1)?;
    if let Some(element) = popped.first() {
        ctx.reply.array(2);
        ctx.reply.bulk(key);
        ctx.reply.bulk(element);
        ctx.propagate(vec![end.pop_command(), key.clone()]);
    }
    Ok(Flow::Done)
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`: the
/// other arguments are read before the timeout, as Redis does. Records
/// `[LR]POP key n`.
pub(crate) fn blmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let args = parse_mpop(argv, 2)?;
    let deadline_ms = parse_timeout_deadline(&argv[1], ctx.now_ms())?;
    if serve_mpop(ctx, &args)? {
        return Ok(Flow::Done);
    }
    block_or_give_up(ctx, args.keys.to_vec(), deadline_ms, Reply::null_array)
}

/// `BRPOPLPUSH source destination timeout`: records `RPOPLPUSH`.
pub(crate) fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let deadline_ms = parse_timeout_deadline(&argv[3], ctx.now_ms())?;
    let effect = vec![
        Bytes::from_static(b"RPOPLPUSH"),
        argv[1].clone(),
        argv[2].clone(),
    ];
    blocking_move(ctx, argv, End::Right, End::Left, deadline_ms, effect)
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`: the ends are
/// read before the timeout. Records `LMOVE` with the same ends.
pub(crate) fn blmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let from = End::parse(&argv[3])?;
    let to = End::parse(&argv[4])?;
    let deadline_ms = parse_timeout_deadline(&argv[5], ctx.now_ms())?;
    let mut effect = argv[..5].to_vec();
    effect[0] = Bytes::from_static(b"LMOVE");
    blocking_move(ctx, argv, from, to, deadline_ms, effect)
}

/// Moves one element as `LMOVE` does, replying it as a bulk string. Only a
/// missing source blocks: the destination's type is checked only when
/// there is something to move, as in Redis.
fn blocking_move(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    from: End,
    to: End,
    deadline_ms: Option<u64>,
    effect: Vec<Bytes>,
) -> CmdResult {
    let source = &argv[1];
    if get_list(ctx.db, source)?.is_none() {
        return block_or_give_up(ctx, vec![source.clone()], deadline_ms, Reply::null);
    }
    if let Some(element) = move_element(ctx, source, &argv[2], from, to)? {
        ctx.reply.bulk(&element);
        ctx.propagate(effect);
    }
    Ok(Flow::Done)
}

/// Nothing to serve: block on `keys`, or, inside `MULTI` where a client
/// may not block, answer at once with `give_up` (what Redis answers a
/// client that may not block).
fn block_or_give_up(
    ctx: &mut Ctx<'_>,
    keys: Vec<Bytes>,
    deadline_ms: Option<u64>,
    give_up: fn(&mut Reply),
) -> CmdResult {
    if ctx.in_multi {
        give_up(ctx.reply);
        return Ok(Flow::Done);
    }
    Ok(Flow::Block { keys, deadline_ms })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use daisy_protocol::Protocol;

    use crate::testing::Harness;
    use crate::Flow;

    const NOW_MS: u64 = 1_700_000_000_000;

    fn keys(names: &[&str]) -> Vec<Bytes> {
        names
            .iter()
            .map(|k| Bytes::copy_from_slice(k.as_bytes()))
            .collect()
    }

    fn blocked_on(names: &[&str], deadline_ms: Option<u64>) -> Flow {
        Flow::Block {
            keys: keys(names),
            deadline_ms,
        }
    }

    #[test]
    fn blpop_serves_the_first_non_empty_key_as_lpop() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "k2", "a", "b"]);
        assert_eq!(
            h.run(&["BLPOP", "k1", "k2", "0"]),
            "*2\r\n$2\r\nk2\r\n$1\r\na\r\n"
        );
        assert_eq!(h.last_flow, Flow::Done);
        assert_eq!(h.effects_text(), vec!["LPOP k2"]);
        assert_eq!(
            h.run(&["BRPOP", "k1", "k2", "1.5"]),
            "*2\r\n$2\r\nk2\r\n$1\r\nb\r\n"
        );
        assert_eq!(h.effects_text(), vec!["RPOP k2"]);
        assert_eq!(h.run(&["EXISTS", "k2"]), ":0\r\n");
    }

    #[test]
    fn blpop_blocks_with_nothing_written() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["BLPOP", "k1", "k2", "0"]), "");
        assert_eq!(h.last_flow, blocked_on(&["k1", "k2"], None));
        assert!(h.effects.is_empty());
        assert_eq!(h.run(&["BRPOP", "k1", "2.5"]), "");
        assert_eq!(h.last_flow, blocked_on(&["k1"], Some(NOW_MS + 2_500)));
        // Run again once the key changed, as the server does.
        h.run(&["RPUSH", "k1", "x"]);
        assert_eq!(
            h.run(&["BRPOP", "k1", "2.5"]),
            "*2\r\n$2\r\nk1\r\n$1\r\nx\r\n"
        );
        assert_eq!(h.last_flow, Flow::Done);
    }

    #[test]
    fn blpop_inside_multi_answers_the_null_array() {
        let mut h = Harness::new();
        h.in_multi = true;
        assert_eq!(h.run(&["BLPOP", "k1", "0"]), "*-1\r\n");
        assert_eq!(h.last_flow, Flow::Done);
        assert_eq!(h.run(&["BRPOP", "k1", "1"]), "*-1\r\n");
        h.protocol = Protocol::Resp3;
        assert_eq!(h.run(&["BLPOP", "k1", "0"]), "_\r\n");
        h.run(&["RPUSH", "k1", "x"]);
        assert_eq!(
            h.run(&["BLPOP", "k1", "0"]),
            "*2\r\n$2\r\nk1\r\n$1\r\nx\r\n"
        );
        assert_eq!(h.effects_text(), vec!["LPOP k1"]);
    }

    #[test]
    fn blpop_reads_the_timeout_before_the_keys() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "x"]);
        assert_eq!(h.run(&["BLPOP", "s", "-1"]), "-ERR timeout is negative\r\n");
        assert_eq!(
            h.run(&["BLPOP", "s", "x"]),
            "-ERR timeout is not a float or out of range\r\n"
        );
        assert!(h.run(&["BLPOP", "s", "0"]).starts_with("-WRONGTYPE"));
        assert_eq!(h.last_flow, Flow::Done);
        // Wrong types are met in key order: an earlier list is served first.
        h.run(&["RPUSH", "l", "a"]);
        assert_eq!(
            h.run(&["BLPOP", "l", "s", "0"]),
            "*2\r\n$1\r\nl\r\n$1\r\na\r\n"
        );
        assert!(h
            .run(&["BLPOP", "missing", "s", "0"])
            .starts_with("-WRONGTYPE"));
    }

    #[test]
    fn blmpop_serves_like_lmpop_and_records_a_counted_pop() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "b", "1", "2", "3"]);
        assert_eq!(
            h.run(&["BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2"]),
            "*2\r\n$1\r\nb\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
        );
        assert_eq!(h.effects_text(), vec!["RPOP b 2"]);
        assert_eq!(
            h.run(&["BLMPOP", "0", "2", "a", "b", "LEFT", "COUNT", "5"]),
            "*2\r\n$1\r\nb\r\n*1\r\n$1\r\n1\r\n"
        );
        assert_eq!(h.effects_text(), vec!["LPOP b 1"]);
        assert_eq!(h.run(&["BLMPOP", "0.01", "2", "a", "b", "LEFT"]), "");
        assert_eq!(h.last_flow, blocked_on(&["a", "b"], Some(NOW_MS + 10)));
        h.in_multi = true;
        assert_eq!(h.run(&["BLMPOP", "0", "2", "a", "b", "LEFT"]), "*-1\r\n");
        assert_eq!(h.last_flow, Flow::Done);
    }

    #[test]
    fn blmpop_reads_its_arguments_before_the_timeout() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["BLMPOP", "-1", "0", "a", "LEFT"]),
            "-ERR numkeys should be greater than 0\r\n"
        );
        assert_eq!(
            h.run(&["BLMPOP", "-1", "1", "a", "UP"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            h.run(&["BLMPOP", "-1", "1", "a", "LEFT", "COUNT", "0"]),
            "-ERR count should be greater than 0\r\n"
        );
        assert_eq!(
            h.run(&["BLMPOP", "-1", "1", "a", "LEFT"]),
            "-ERR timeout is negative\r\n"
        );
        h.run(&["SET", "s", "x"]);
        assert!(h
            .run(&["BLMPOP", "0", "1", "s", "LEFT"])
            .starts_with("-WRONGTYPE"));
    }

    #[test]
    fn brpoplpush_serves_as_rpoplpush() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "src", "a", "b"]);
        assert_eq!(h.run(&["BRPOPLPUSH", "src", "dst", "0"]), "$1\r\nb\r\n");
        assert_eq!(h.effects_text(), vec!["RPOPLPUSH src dst"]);
        assert_eq!(h.run(&["BRPOPLPUSH", "src", "src", "0"]), "$1\r\na\r\n");
        assert_eq!(h.run(&["LRANGE", "src", "0", "-1"]), "*1\r\n$1\r\na\r\n");
        assert_eq!(h.run(&["LRANGE", "dst", "0", "-1"]), "*1\r\n$1\r\nb\r\n");
    }

    #[test]
    fn brpoplpush_blocks_on_the_source_only() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "x"]);
        assert_eq!(h.run(&["BRPOPLPUSH", "src", "s", "3"]), "");
        assert_eq!(h.last_flow, blocked_on(&["src"], Some(NOW_MS + 3_000)));
        h.run(&["RPUSH", "src", "a"]);
        assert!(h
            .run(&["BRPOPLPUSH", "src", "s", "3"])
            .starts_with("-WRONGTYPE"));
        assert!(h.effects.is_empty());
        assert_eq!(h.run(&["LLEN", "src"]), ":1\r\n");
        assert!(h
            .run(&["BRPOPLPUSH", "s", "src", "0"])
            .starts_with("-WRONGTYPE"));
        assert_eq!(
            h.run(&["BRPOPLPUSH", "s", "src", "x"]),
            "-ERR timeout is not a float or out of range\r\n"
        );
    }

    #[test]
    fn blocking_moves_inside_multi_answer_a_null_bulk() {
        let mut h = Harness::new();
        h.in_multi = true;
        assert_eq!(h.run(&["BRPOPLPUSH", "src", "dst", "0"]), "$-1\r\n");
        assert_eq!(h.last_flow, Flow::Done);
        assert_eq!(
            h.run(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]),
            "$-1\r\n"
        );
        h.protocol = Protocol::Resp3;
        assert_eq!(
            h.run(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]),
            "_\r\n"
        );
        assert!(h.effects.is_empty());
    }

    #[test]
    fn blmove_serves_as_lmove() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "src", "a", "b", "c"]);
        assert_eq!(
            h.run(&["BLMOVE", "src", "dst", "left", "RIGHT", "0"]),
            "$1\r\na\r\n"
        );
        assert_eq!(h.effects_text(), vec!["LMOVE src dst left RIGHT"]);
        assert_eq!(
            h.run(&["BLMOVE", "src", "src", "RIGHT", "LEFT", "0"]),
            "$1\r\nc\r\n"
        );
        assert_eq!(
            h.run(&["LRANGE", "src", "0", "-1"]),
            "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
        );
        h.run(&["DEL", "src"]);
        assert_eq!(h.run(&["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]), "");
        assert_eq!(h.last_flow, blocked_on(&["src"], None));
    }

    #[test]
    fn blmove_reads_ends_before_the_timeout() {
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["BLMOVE", "a", "b", "UP", "LEFT", "-1"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            h.run(&["BLMOVE", "a", "b", "LEFT", "LEFT", "-1"]),
            "-ERR timeout is negative\r\n"
        );
        assert_eq!(
            h.run(&["BLMOVE", "a", "b", "LEFT"]),
            "-ERR wrong number of arguments for 'blmove' command\r\n"
        );
    }
}
