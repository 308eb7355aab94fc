//! List commands: the command table of the family, the helpers its modules
//! share, and the reply a blocked list command gets when it times out.
//!
//! Owns: `LPUSH` ... `BLMPOP` on values of type [`List`] (a `VecDeque` of
//! [`CompactBytes`]). The commands live in four modules:
//! - `list_read`: `LLEN`, `LRANGE`, `LINDEX`, `LPOS`;
//! - `list_write`: the pushes, `LINSERT`, `LSET`, `LREM`, `LTRIM`;
//! - `list_pop`: `LPOP`, `RPOP`, `LMPOP`, `LMOVE`, `RPOPLPUSH`;
//! - `list_block`: `BLPOP`, `BRPOP`, `BLMPOP`, `BLMOVE`, `BRPOPLPUSH`.
//!
//! Invariants: a list key is never empty (the last pop, trim or removal
//! deletes it); every type is checked before anything changes; the
//! effect of a blocking command is its non-blocking form.
//!
//! Blocking commands never wait here. A blocking command validates its
//! arguments, then serves from the first non-empty key if it can. If it
//! cannot, it writes nothing and returns [`Flow::Block`] with the keys to
//! watch; the server runs the same command again when one of them may have
//! changed, and when the deadline passes it answers with
//! [`blocking_timeout_reply`]. Inside `MULTI` (`Ctx::in_multi`) a blocking
//! command never blocks: it answers at once as if it had timed out, with
//! the reply Redis gives a client that may not block:
//!
//! | command      | timed out (server) | inside `MULTI` (here) |
//! |--------------|--------------------|-----------------------|
//! | `BLPOP`      | null array         | null array            |
//! | `BRPOP`      | null array         | null array            |
//! | `BLMPOP`     | null array         | null array            |
//! | `BRPOPLPUSH` | null array         | null bulk string      |
//! | `BLMOVE`     | null array         | null bulk string      |
//!
//! The two differ for `BRPOPLPUSH` and `BLMOVE`: Redis 7.0 answers every
//! client blocked on a list that times out with the null array
//! (`replyToBlockedClientTimedOut`), but the same commands answer a null
//! bulk string when they are not allowed to block. RESP3 has one null
//! (`_`) for both.

use bytes::Bytes;
use daisy_keyspace::{CompactBytes, Db, List};
use daisy_protocol::Reply;

use crate::args::is;
use crate::flags::*;
use crate::list_block::{blmove, blmpop, blpop, brpop, brpoplpush};
use crate::list_pop::{lmove, lmpop, lpop, rpop, rpoplpush};
use crate::list_read::{lindex, llen, lpos, lrange};
use crate::list_write::{linsert, lpush, lpushx, lrem, lset, ltrim, rpush, rpushx};
use crate::typed::{get_list, get_list_mut};
use crate::{cmd, keys_after_numkeys, CmdError, CommandSpec, Ctx, Handler, KeySpec};

#[rustfmt::skip]
pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", lpush),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", rpush),
    cmd("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "Prepends one or more elements to a list only when the list exists.", lpushx),
    cmd("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), "list", "Appends an element to a list only when the list exists.", rpushx),
    cmd("lpop", -2, WRITE | FAST, (1, 1, 1), "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", lpop),
    cmd("rpop", -2, WRITE | FAST, (1, 1, 1), "list", "Returns and removes the last elements of the list. Deletes the list if the last element was popped.", rpop),
    cmd("llen", 2, READONLY | FAST, (1, 1, 1), "list", "Returns the length of a list.", llen),
    cmd("lrange", 4, READONLY, (1, 1, 1), "list", "Returns a range of elements from a list.", lrange),
    cmd("lindex", 3, READONLY, (1, 1, 1), "list", "Returns an element from a list by its index.", lindex),
    cmd("lset", 4, WRITE | DENYOOM, (1, 1, 1), "list", "Sets the value of an element in a list by its index.", lset),
    cmd("linsert", 5, WRITE | DENYOOM, (1, 1, 1), "list", "Inserts an element before or after another element in a list.", linsert),
    cmd("lrem", 4, WRITE, (1, 1, 1), "list", "Removes elements from a list. Deletes the list if the last element was removed.", lrem),
    cmd("ltrim", 4, WRITE, (1, 1, 1), "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", ltrim),
    cmd("lpos", -3, READONLY, (1, 1, 1), "list", "Returns the index of matching elements in a list.", lpos),
    cmd("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", rpoplpush),
    cmd("lmove", 5, WRITE | DENYOOM, (1, 2, 1), "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", lmove),
    numkeys_cmd("lmpop", -4, WRITE, lmpop_keys, "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", lmpop),
    cmd("blpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blpop),
    cmd("brpop", -3, WRITE | NOSCRIPT | BLOCKING, (1, -2, 1), "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", brpop),
    cmd("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", brpoplpush),
    cmd("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, (1, 2, 1), "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blmove),
    numkeys_cmd("blmpop", -5, WRITE | BLOCKING, blmpop_keys, "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blmpop),
];

/// A list command whose keys follow a `numkeys` argument.
const fn numkeys_cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    find_keys: fn(&[Bytes]) -> Vec<usize>,
    summary: &'static str,
    handler: crate::DataFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: KeySpec::Find(find_keys),
        group: "list",
        summary,
        handler: Handler::Data(handler),
    }
}

/// `LMPOP numkeys key [key ...] ...`
fn lmpop_keys(argv: &[Bytes]) -> Vec<usize> {
    keys_after_numkeys(argv, 1)
}

/// `BLMPOP timeout numkeys key [key ...] ...`
fn blmpop_keys(argv: &[Bytes]) -> Vec<usize> {
    keys_after_numkeys(argv, 2)
}

/// Writes the reply for a blocked command of this family whose deadline
/// passed. Redis 7.0 answers every client blocked on list keys with the
/// null array (`*-1` in RESP2, `_` in RESP3), whatever the command:
/// `BLPOP`, `BRPOP` and `BLMPOP`, and also `BRPOPLPUSH` and `BLMOVE`, which
/// answer a null bulk string only when they may not block (see the module
/// doc). The server passes the name of the command that blocked, so it
/// needs no knowledge of the family; every list command answers the same.
pub fn blocking_timeout_reply(_name: &str, reply: &mut Reply) {
    reply.null_array();
}

/// An end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The head (`LEFT`, index 0).
    Left,
    /// The tail (`RIGHT`, index -1).
    Right,
}

impl End {
    /// Reads `LEFT` or `RIGHT` (any case); anything else is a syntax error.
    pub(crate) fn parse(arg: &[u8]) -> Result<End, CmdError> {
        if is(arg, "LEFT") {
            Ok(End::Left)
        } else if is(arg, "RIGHT") {
            Ok(End::Right)
        } else {
            Err(CmdError::Syntax)
        }
    }

    /// The plain pop command for this end, used as a rewritten effect.
    pub(crate) fn pop_command(self) -> Bytes {
        match self {
            End::Left => Bytes::from_static(b"LPOP"),
            End::Right => Bytes::from_static(b"RPOP"),
        }
    }
}

pub(crate) fn push(list: &mut List, end: End, element: CompactBytes) {
    match end {
        End::Left => list.push_front(element),
        End::Right => list.push_back(element),
    }
}

/// The length of the list at `key`; 0 when it does not exist. Fails with
/// `WRONGTYPE` when the key holds another type.
pub(crate) fn list_len(db: &mut Db, key: &[u8]) -> Result<usize, CmdError> {
    Ok(get_list(db, key)?.map_or(0, |list| list.len()))
}

/// Index of the first key holding a non-empty list. Keys that do not
/// exist are skipped; a key of another type fails with `WRONGTYPE`, as
/// Redis finds it while it walks the keys in order.
pub(crate) fn first_non_empty(db: &mut Db, keys: &[Bytes]) -> Result<Option<usize>, CmdError> {
    for (index, key) in keys.iter().enumerate() {
        if list_len(db, key)? > 0 {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// Takes up to `count` elements from `end` of `list`, in the order they
/// come off it.
pub(crate) fn take(list: &mut List, end: End, count: usize) -> Vec<CompactBytes> {
    let taken = count.min(list.len());
    match end {
        End::Left => list.drain(..taken).collect(),
        End::Right => {
            let start = list.len() - taken;
            list.drain(start..).rev().collect()
        }
    }
}

/// Pops up to `count` elements from `end` of the list at `key` (whose type
/// the caller checked) and deletes the key when it becomes empty.
pub(crate) fn pop_elements(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Vec<CompactBytes>, CmdError> {
    let popped = match get_list_mut(ctx.db, key)? {
        Some(list) => take(list, end, count),
        None => Vec::new(),
    };
    ctx.db.remove_if_empty(key);
    Ok(popped)
}

/// Writes an array of bulk strings.
pub(crate) fn reply_elements(reply: &mut Reply, elements: &[CompactBytes]) {
    reply.array(elements.len());
    for element in elements {
        reply.bulk(element);
    }
}

/// Writes `[key, [element, ...]]`, the reply of `LMPOP` and `BLMPOP`.
pub(crate) fn reply_key_and_elements(reply: &mut Reply, key: &[u8], elements: &[CompactBytes]) {
    reply.array(2);
    reply.bulk(key);
    reply_elements(reply, elements);
}

#[cfg(test)]
mod tests {
    use daisy_protocol::Protocol;

    use super::*;
    use crate::testing::Harness;

    #[test]
    fn timeout_reply_is_the_null_array_for_every_list_command() {
        for name in ["blpop", "brpop", "blmpop", "brpoplpush", "blmove"] {
            let mut reply = Reply::new(Protocol::Resp2);
            blocking_timeout_reply(name, &mut reply);
            assert_eq!(&reply.take()[..], b"*-1\r\n", "{name}");
            let mut reply = Reply::new(Protocol::Resp3);
            blocking_timeout_reply(name, &mut reply);
            assert_eq!(&reply.take()[..], b"_\r\n", "{name}");
        }
    }

    #[test]
    fn table_rows_match_redis() {
        let spec = crate::lookup(b"blmpop").unwrap();
        assert_eq!(spec.arity, -5);
        assert!(spec.has(BLOCKING) && spec.is_write());
        let argv: Vec<Bytes> = ["BLMPOP", "0", "2", "a", "b", "LEFT"]
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        assert_eq!(spec.key_indices(&argv), vec![3, 4]);
        let lmpop = crate::lookup(b"LMPOP").unwrap();
        assert_eq!(lmpop.key_indices(&argv[1..]), vec![2, 3]);
        let blpop = crate::lookup(b"blpop").unwrap();
        assert_eq!(blpop.key_indices(&argv), vec![1, 2, 3, 4]);
        assert_eq!(crate::lookup(b"llen").unwrap().group, "list");
    }

    /// Every list in the keyspace, sorted by key, for comparing keyspaces.
    fn lists(h: &Harness) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        let mut out: Vec<_> =
            h.db.iter()
                .map(|(key, value)| match value {
                    daisy_keyspace::Value::List(list) => {
                        (key.to_vec(), list.iter().map(|e| e.to_vec()).collect())
                    }
                    _ => (key.to_vec(), Vec::new()),
                })
                .collect();
        out.sort();
        out
    }

    /// Runs a long pseudo-random mix of list commands, then replays only
    /// their effects on a fresh keyspace: both must hold the same lists,
    /// and no key may ever hold an empty list.
    #[test]
    fn replaying_effects_rebuilds_the_same_keyspace() {
        let keys = ["a", "b", "c"];
        let values = ["x", "y", "z"];
        let mut live = Harness::new();
        let mut replica = Harness::new();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        for _ in 0..3_000 {
            let k = keys[next(3)];
            let k2 = keys[next(3)];
            let v = values[next(3)];
            let n = ["-2", "-1", "0", "1", "2", "5"][next(6)];
            let side = ["LEFT", "RIGHT"][next(2)];
            let command: Vec<&str> = match next(16) {
                0 => vec!["LPUSH", k, v, v],
                1 => vec!["RPUSH", k, v],
                2 => vec!["LPUSHX", k, v],
                3 => vec!["LPOP", k],
                4 => vec!["RPOP", k, &n[n.len() - 1..]],
                5 => vec!["LSET", k, n, v],
                6 => vec!["LINSERT", k, "AFTER", v, "w"],
                7 => vec!["LREM", k, n, v],
                8 => vec!["LTRIM", k, n, "-2"],
                9 => vec!["RPOPLPUSH", k, k2],
                10 => vec!["LMOVE", k, k2, side, "LEFT"],
                11 => vec!["LMPOP", "2", k, k2, side, "COUNT", "2"],
                12 => vec!["BLPOP", k, k2, "0"],
                13 => vec!["BLMOVE", k, k2, "RIGHT", side, "0"],
                14 => vec!["BLMPOP", "0", "1", k, side],
                _ => vec!["BRPOPLPUSH", k, k2, "0"],
            };
            live.run(&command);
            for effect in live.effects.clone() {
                replica.run_bytes(&effect);
            }
            let now = lists(&live);
            assert!(now.iter().all(|(_, list)| !list.is_empty()), "{command:?}");
            assert_eq!(now, lists(&replica), "after {command:?}");
        }
    }

    #[test]
    fn no_op_commands_leave_watched_keys_alone() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "a", "b"]);
        h.run(&["SET", "s", "x"]);
        h.db.watch(b"l");
        for command in [
            &["LRANGE", "l", "0", "-1"][..],
            &["LLEN", "l"],
            &["LINDEX", "l", "0"],
            &["LPOS", "l", "a"],
            &["LINSERT", "l", "BEFORE", "zz", "x"],
            &["LREM", "l", "0", "zz"],
            &["LSET", "l", "5", "x"],
            &["LPOP", "l", "0"],
            &["LMOVE", "l", "s", "LEFT", "LEFT"],
            &["BLPOP", "missing", "0"],
        ] {
            h.run(command);
            assert!(!h.db.has_touched_watched(), "{command:?}");
        }
        // Like Redis, LTRIM touches the key even when it trims nothing.
        h.run(&["LTRIM", "l", "0", "-1"]);
        assert!(h.db.has_touched_watched());
        assert!(h.effects.is_empty());
    }

    #[test]
    fn rotating_a_single_element_keeps_the_key_and_its_expiry() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "x"]);
        let at_ms = h.db.now_ms() + 60_000;
        h.db.set_expire(b"l", at_ms);
        assert_eq!(h.run(&["RPOPLPUSH", "l", "l"]), "$1\r\nx\r\n");
        assert_eq!(
            h.run(&["BLMOVE", "l", "l", "LEFT", "RIGHT", "0"]),
            "$1\r\nx\r\n"
        );
        assert_eq!(h.db.expire_at(b"l"), Some(at_ms));
        // Moving the last element elsewhere deletes the source and its expiry.
        assert_eq!(h.run(&["LMOVE", "l", "m", "LEFT", "LEFT"]), "$1\r\nx\r\n");
        assert_eq!(h.db.expire_at(b"l"), None);
        assert_eq!(h.run(&["EXISTS", "l"]), ":0\r\n");
    }

    #[test]
    fn expired_lists_are_missing() {
        let mut h = Harness::new();
        h.run(&["RPUSH", "l", "x"]);
        let at_ms = h.db.now_ms() + 10;
        h.db.set_expire(b"l", at_ms);
        h.advance_ms(10);
        assert_eq!(h.run(&["LPOP", "l", "1"]), "*-1\r\n");
        assert_eq!(h.effects_text(), vec!["DEL l"]);
        assert_eq!(h.run(&["BLPOP", "l", "0"]), "");
    }

    #[test]
    fn where_keywords() {
        assert_eq!(End::parse(b"left"), Ok(End::Left));
        assert_eq!(End::parse(b"RiGhT"), Ok(End::Right));
        assert_eq!(End::parse(b"up"), Err(CmdError::Syntax));
        let mut h = Harness::new();
        assert_eq!(
            h.run(&["LMOVE", "a", "b", "LEFT", "UP"]),
            "-ERR syntax error\r\n"
        );
    }
}
