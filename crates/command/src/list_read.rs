//! Read-only list commands: `LLEN`, `LRANGE`, `LINDEX`, `LPOS`.
//!
//! Must never change the keyspace (reads use `Db::get`, never `get_mut`).
//! Replies are bounded by the list's length, never by a client's count.

use bytes::Bytes;

use crate::args::{is, parse_i64, parse_i64_opt, resolve_index, resolve_range};
use crate::list::list_len;
use crate::typed::get_list;
use crate::{CmdError, CmdResult, Ctx, Flow};

pub(crate) fn llen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = list_len(ctx.db, &argv[1])?;
    ctx.reply.int(len as i64);
    Ok(Flow::Done)
}

/// `LRANGE key start stop`: the indices are read before the key is looked
/// up, as Redis does.
pub(crate) fn lrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let stop = parse_i64(&argv[3])?;
    let Some(list) = get_list(ctx.db, &argv[1])? else {
        ctx.reply.array(0);
        return Ok(Flow::Done);
    };
    match resolve_range(start, stop, list.len()) {
        None => ctx.reply.array(0),
        Some((first, last)) => {
            ctx.reply.array(last - first + 1);
            for element in list.range(first..=last) {
                ctx.reply.bulk(element);
            }
        }
    }
    Ok(Flow::Done)
}

/// `LINDEX key index`: the key is looked up before the index is read, so a
/// missing key answers null whatever the index.
pub(crate) fn lindex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(list) = get_list(ctx.db, &argv[1])? else {
        ctx.reply.null();
        return Ok(Flow::Done);
    };
    let index = parse_i64(&argv[2])?;
    match resolve_index(index, list.len()).and_then(|at| list.get(at)) {
        Some(element) => ctx.reply.bulk(element),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}

const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";

/// The options of `LPOS`.
#[derive(Debug, PartialEq, Eq)]
struct LposOptions {
    /// Which match to start from: 1 is the first; negative counts matches
    /// from the tail. Never 0.
    rank: i64,
    /// `None` when COUNT was not given (reply a single index); `Some(0)`
    /// means every match.
    count: Option<u64>,
    /// How many elements to look at; 0 means all.
    maxlen: u64,
}

/// Reads `[RANK rank] [COUNT num-matches] [MAXLEN len]` in any order; a
/// repeated option overrides the earlier one, as in Redis.
fn parse_lpos_options(options: &[Bytes]) -> Result<LposOptions, CmdError> {
    let mut parsed = LposOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut index = 0;
    while index < options.len() {
        let (name, value) = match options.get(index + 1) {
            Some(value) => (&options[index], value),
            None => return Err(CmdError::Syntax),
        };
        if is(name, "RANK") {
            parsed.rank = parse_i64(value)?;
            if parsed.rank == 0 {
                return Err(CmdError::Static(RANK_ZERO));
            }
        } else if is(name, "COUNT") {
            parsed.count = Some(non_negative(value, COUNT_NEGATIVE)?);
        } else if is(name, "MAXLEN") {
            parsed.maxlen = non_negative(value, MAXLEN_NEGATIVE)?;
        } else {
            return Err(CmdError::Syntax);
        }
        index += 2;
    }
    Ok(parsed)
}

/// A non-negative integer; Redis answers `message` for anything else,
/// including text that is not a number.
fn non_negative(arg: &[u8], message: &'static str) -> Result<u64, CmdError> {
    match parse_i64_opt(arg) {
        Some(value) if value >= 0 => Ok(value as u64),
        _ => Err(CmdError::Static(message)),
    }
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub(crate) fn lpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let options = parse_lpos_options(&argv[3..])?;
    let Some(list) = get_list(ctx.db, &argv[1])? else {
        match options.count {
            Some(_) => ctx.reply.array(0),
            None => ctx.reply.null(),
        }
        return Ok(Flow::Done);
    };
    let matches = find_matches(list.iter().map(|e| &e[..]), list.len(), &argv[2], &options);
    match options.count {
        Some(_) => {
            ctx.reply.array(matches.len());
            for position in matches {
                ctx.reply.int(position as i64);
            }
        }
        None => match matches.first() {
            Some(&position) => ctx.reply.int(position as i64),
            None => ctx.reply.null(),
        },
    }
    Ok(Flow::Done)
}

/// The positions `LPOS` reports, walking from the head (positive rank) or
/// the tail (negative rank) over at most `maxlen` elements. Without COUNT
/// the walk stops at the first reported match.
///
/// Redis negates a negative rank in a C `long`, so `RANK
/// -9223372036854775808` stays negative and behaves like `RANK -1` whose
/// COUNT limit never triggers; the wrapping arithmetic below keeps that.
fn find_matches<'a, I>(elements: I, len: usize, wanted: &[u8], options: &LposOptions) -> Vec<usize>
where
    I: DoubleEndedIterator<Item = &'a [u8]>,
{
    let from_tail = options.rank < 0;
    let rank = if from_tail {
        options.rank.wrapping_neg()
    } else {
        options.rank
    };
    let limit = match options.maxlen {
        0 => usize::MAX,
        maxlen => usize::try_from(maxlen).unwrap_or(usize::MAX),
    };
    let walk: Box<dyn Iterator<Item = &'a [u8]>> = if from_tail {
        Box::new(elements.rev())
    } else {
        Box::new(elements)
    };
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    for (step, element) in walk.take(limit).enumerate() {
        if element != wanted {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - step - 1 } else { step });
        let Some(count) = options.count else { break };
        let reported = matches.wrapping_sub(rank).wrapping_add(1);
        if count != 0 && reported >= 0 && reported as u64 >= count {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use daisy_protocol::Protocol;

    use crate::testing::Harness;

    fn with_list(elements: &[&str]) -> Harness {
        let mut h = Harness::new();
        let mut argv = vec!["RPUSH", "l"];
        argv.extend_from_slice(elements);
        h.run(&argv);
        h
    }

    #[test]
    fn llen_counts_and_checks_type() {
        let mut h = with_list(&["a", "b", "c"]);
        assert_eq!(h.run(&["LLEN", "l"]), ":3\r\n");
        assert_eq!(h.run(&["LLEN", "missing"]), ":0\r\n");
        h.run(&["SET", "s", "x"]);
        assert!(h.run(&["LLEN", "s"]).starts_with("-WRONGTYPE"));
        assert!(h.effects.is_empty());
    }

    #[test]
    fn lrange_with_negative_and_out_of_range_indices() {
        let mut h = with_list(&["a", "b", "c", "d"]);
        assert_eq!(
            h.run(&["LRANGE", "l", "0", "-1"]),
            "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
        );
        assert_eq!(
            h.run(&["LRANGE", "l", "-2", "100"]),
            "*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
        );
        assert_eq!(h.run(&["LRANGE", "l", "-100", "0"]), "*1\r\n$1\r\na\r\n");
        assert_eq!(h.run(&["LRANGE", "l", "2", "1"]), "*0\r\n");
        assert_eq!(h.run(&["LRANGE", "l", "4", "10"]), "*0\r\n");
        assert_eq!(h.run(&["LRANGE", "l", "0", "-5"]), "*0\r\n");
        assert_eq!(
            h.run(&["LRANGE", "l", "-9223372036854775808", "9223372036854775807"]),
            "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
        );
        assert_eq!(h.run(&["LRANGE", "missing", "0", "-1"]), "*0\r\n");
    }

    #[test]
    fn lrange_reads_indices_before_the_key() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "x"]);
        assert_eq!(
            h.run(&["LRANGE", "s", "a", "1"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            h.run(&["LRANGE", "missing", "0", "1.5"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert!(h.run(&["LRANGE", "s", "0", "1"]).starts_with("-WRONGTYPE"));
    }

    #[test]
    fn lindex_reads_the_key_before_the_index() {
        let mut h = with_list(&["a", "b", "c"]);
        assert_eq!(h.run(&["LINDEX", "l", "0"]), "$1\r\na\r\n");
        assert_eq!(h.run(&["LINDEX", "l", "-1"]), "$1\r\nc\r\n");
        assert_eq!(h.run(&["LINDEX", "l", "3"]), "$-1\r\n");
        assert_eq!(h.run(&["LINDEX", "l", "-4"]), "$-1\r\n");
        assert_eq!(
            h.run(&["LINDEX", "l", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(h.run(&["LINDEX", "missing", "x"]), "$-1\r\n");
        h.run(&["SET", "s", "x"]);
        assert!(h.run(&["LINDEX", "s", "x"]).starts_with("-WRONGTYPE"));
        h.protocol = Protocol::Resp3;
        assert_eq!(h.run(&["LINDEX", "l", "9"]), "_\r\n");
    }

    #[test]
    fn lpos_first_match_and_ranks() {
        let mut h = with_list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(h.run(&["LPOS", "l", "c"]), ":2\r\n");
        assert_eq!(h.run(&["LPOS", "l", "c", "RANK", "2"]), ":6\r\n");
        assert_eq!(h.run(&["LPOS", "l", "c", "RANK", "-1"]), ":7\r\n");
        assert_eq!(h.run(&["LPOS", "l", "c", "RANK", "-3"]), ":2\r\n");
        assert_eq!(h.run(&["LPOS", "l", "c", "RANK", "4"]), "$-1\r\n");
        assert_eq!(h.run(&["LPOS", "l", "z"]), "$-1\r\n");
        assert_eq!(h.run(&["LPOS", "missing", "z"]), "$-1\r\n");
        h.protocol = Protocol::Resp3;
        assert_eq!(h.run(&["LPOS", "l", "z"]), "_\r\n");
    }

    #[test]
    fn lpos_count_and_maxlen() {
        let mut h = with_list(&["a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(
            h.run(&["LPOS", "l", "c", "COUNT", "2"]),
            "*2\r\n:2\r\n:6\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "c", "COUNT", "0"]),
            "*3\r\n:2\r\n:6\r\n:7\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "c", "RANK", "-1", "COUNT", "2"]),
            "*2\r\n:7\r\n:6\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "c", "RANK", "2", "COUNT", "0"]),
            "*2\r\n:6\r\n:7\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "c", "COUNT", "9223372036854775807"]),
            "*3\r\n:2\r\n:6\r\n:7\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"]),
            "*2\r\n:2\r\n:6\r\n"
        );
        assert_eq!(h.run(&["LPOS", "l", "c", "MAXLEN", "2"]), "$-1\r\n");
        assert_eq!(h.run(&["LPOS", "l", "c", "MAXLEN", "3"]), ":2\r\n");
        assert_eq!(
            h.run(&["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"]),
            ":7\r\n"
        );
        assert_eq!(h.run(&["LPOS", "l", "z", "COUNT", "0"]), "*0\r\n");
        assert_eq!(h.run(&["LPOS", "missing", "z", "COUNT", "1"]), "*0\r\n");
        // A repeated option: the last one wins.
        assert_eq!(
            h.run(&["LPOS", "l", "c", "RANK", "1", "RANK", "2"]),
            ":6\r\n"
        );
    }

    #[test]
    fn lpos_rank_of_long_min_behaves_as_redis_7_0() {
        let mut h = with_list(&["c", "x", "c", "c"]);
        let min = "-9223372036854775808";
        assert_eq!(h.run(&["LPOS", "l", "c", "RANK", min]), ":3\r\n");
        assert_eq!(
            h.run(&["LPOS", "l", "c", "RANK", min, "COUNT", "1"]),
            "*3\r\n:3\r\n:2\r\n:0\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "c", "RANK", "-9223372036854775807"]),
            "$-1\r\n"
        );
    }

    #[test]
    fn lpos_errors() {
        let mut h = with_list(&["a"]);
        assert_eq!(
            h.run(&["LPOS", "l", "a", "RANK", "0"]),
            "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "a", "RANK", "x"]),
            "-ERR value is not an integer or out of range\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "a", "COUNT", "-1"]),
            "-ERR COUNT can't be negative\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "a", "COUNT", "x"]),
            "-ERR COUNT can't be negative\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "a", "MAXLEN", "-1"]),
            "-ERR MAXLEN can't be negative\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "a", "MAXLEN"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            h.run(&["LPOS", "l", "a", "FOO", "1"]),
            "-ERR syntax error\r\n"
        );
        // Options are read before the key: errors win over WRONGTYPE.
        h.run(&["SET", "s", "x"]);
        assert_eq!(
            h.run(&["LPOS", "s", "a", "FOO", "1"]),
            "-ERR syntax error\r\n"
        );
        assert!(h.run(&["LPOS", "s", "a"]).starts_with("-WRONGTYPE"));
        assert_eq!(
            h.run(&["LPOS", "missing", "a", "RANK", "0"]).get(..9),
            Some("-ERR RANK")
        );
    }
}
