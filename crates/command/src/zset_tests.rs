//! Tests of the sorted-set commands through the command harness: replies
//! in RESP2 and RESP3, error texts and their order, effects (and that
//! replaying them rebuilds the same keyspace), and edge cases.

use bytes::Bytes;
use daisy_keyspace::{Db, Value};
use daisy_protocol::{Protocol, Reply};

use crate::testing::Harness;
use crate::Flow;

fn bulk(text: &str) -> String {
    format!("${}\r\n{}\r\n", text.len(), text)
}

fn int(value: i64) -> String {
    format!(":{value}\r\n")
}

fn err(text: &str) -> String {
    format!("-{text}\r\n")
}

/// An array of bulk strings.
fn bulks(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        out.push_str(&bulk(item));
    }
    out
}

/// A RESP3 array of [member, double] pairs.
fn pairs3(items: &[(&str, &str)]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for (member, score) in items {
        out.push_str(&format!(
            "*2\r\n{}\r\n,{score}\r\n",
            bulk(member).trim_end()
        ));
    }
    out
}

const NULL: &str = "$-1\r\n";
const NULL_ARRAY: &str = "*-1\r\n";
const EMPTY: &str = "*0\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";
const RANGE_NOT_FLOAT: &str = "-ERR min or max is not a float\r\n";
const RANGE_NOT_LEX: &str = "-ERR min or max not valid string range item\r\n";

/// A harness with `z` = {a:1, b:2, c:3} and a string key `s`.
fn setup() -> Harness {
    let mut h = Harness::new();
    assert_eq!(h.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]), int(3));
    assert_eq!(h.run(&["SET", "s", "v"]), "+OK\r\n");
    h
}

/// Every key's sorted-set content (or type name), sorted, for comparing
/// keyspaces.
fn dump(db: &Db) -> Vec<(Vec<u8>, String)> {
    let mut keys: Vec<(Vec<u8>, String)> = db
        .iter()
        .map(|(key, value)| {
            let content = match value {
                Value::ZSet(zset) => zset
                    .iter()
                    .map(|(member, score)| {
                        format!("{}={:x}", String::from_utf8_lossy(member), score.to_bits())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.kind().name().to_string(),
            };
            (key.to_vec(), content)
        })
        .collect();
    keys.sort();
    keys
}

/// Runs `command` on a keyspace built by `setup_commands`, replays its
/// effects on a second copy, and checks both end the same. Returns the
/// reply and the effects.
fn replay_check(setup_commands: &[&[&str]], command: &[&str]) -> (String, Vec<String>) {
    let mut original = Harness::new();
    let mut replica = Harness::new();
    for setup_command in setup_commands {
        original.run(setup_command);
        replica.run(setup_command);
    }
    let reply = original.run(command);
    let effects = original.effects.clone();
    for effect in &effects {
        let reply = replica.run_bytes(effect);
        assert!(!reply.starts_with('-'), "effect {effect:?} failed: {reply}");
    }
    assert_eq!(dump(&original.db), dump(&replica.db), "after {command:?}");
    (reply, original.effects_text())
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY

#[test]
fn zadd_adds_updates_and_counts() {
    let mut h = setup();
    assert_eq!(h.run(&["ZADD", "z", "5", "a", "4", "d"]), int(1));
    assert_eq!(h.effects_text(), vec!["ZADD z 5 a 4 d"]);
    assert_eq!(
        h.run(&["ZADD", "z", "CH", "6", "a", "4", "d", "1", "e"]),
        int(2)
    );
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "-1"]),
        bulks(&["e", "b", "c", "d", "a"])
    );
    // Re-adding the same scores changes nothing and records nothing.
    assert_eq!(h.run(&["ZADD", "z", "CH", "6", "a", "4", "d"]), int(0));
    assert!(h.effects.is_empty());
    // Later pairs see earlier ones.
    assert_eq!(h.run(&["ZADD", "n", "1", "x", "2", "x"]), int(1));
    assert_eq!(h.run(&["ZSCORE", "n", "x"]), bulk("2"));
}

#[test]
fn zadd_conditions() {
    let mut h = setup();
    assert_eq!(h.run(&["ZADD", "z", "NX", "9", "a", "4", "d"]), int(1));
    assert_eq!(h.run(&["ZSCORE", "z", "a"]), bulk("1"));
    assert_eq!(
        h.run(&["ZADD", "z", "XX", "CH", "9", "a", "5", "e"]),
        int(1)
    );
    assert_eq!(h.run(&["ZSCORE", "z", "a"]), bulk("9"));
    assert_eq!(h.run(&["ZSCORE", "z", "e"]), NULL);
    assert_eq!(
        h.run(&["ZADD", "z", "GT", "CH", "1", "a", "10", "b"]),
        int(1)
    );
    assert_eq!(h.run(&["ZSCORE", "z", "a"]), bulk("9"));
    assert_eq!(h.run(&["ZSCORE", "z", "b"]), bulk("10"));
    assert_eq!(
        h.run(&["ZADD", "z", "LT", "CH", "1", "a", "20", "b", "7", "f"]),
        int(2)
    );
    assert_eq!(h.run(&["ZSCORE", "z", "a"]), bulk("1"));
    assert_eq!(h.run(&["ZSCORE", "z", "f"]), bulk("7"));
    assert_eq!(h.run(&["ZADD", "z", "XX", "GT", "0", "a"]), int(0));
    // XX on a missing key creates nothing.
    assert_eq!(h.run(&["ZADD", "none", "XX", "1", "a"]), int(0));
    assert_eq!(h.run(&["EXISTS", "none"]), int(0));
    assert!(h.effects.is_empty());
}

#[test]
fn zadd_errors_in_redis_order() {
    let mut h = setup();
    assert_eq!(
        h.run(&["ZADD", "z"]),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(h.run(&["ZADD", "z", "1", "a", "2"]), SYNTAX);
    assert_eq!(h.run(&["ZADD", "z", "NX", "XX"]), SYNTAX);
    assert_eq!(
        h.run(&["ZADD", "z", "NX", "XX", "1", "a"]),
        err("ERR XX and NX options at the same time are not compatible")
    );
    for flags in [["GT", "LT"], ["GT", "NX"], ["NX", "LT"]] {
        assert_eq!(
            h.run(&["ZADD", "z", flags[0], flags[1], "1", "a"]),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
    }
    assert_eq!(
        h.run(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        err("ERR INCR option supports a single increment-element pair")
    );
    // Scores are parsed before the key's type is checked.
    assert_eq!(h.run(&["ZADD", "s", "x", "a"]), NOT_FLOAT);
    assert_eq!(h.run(&["ZADD", "s", "1", "a"]), WRONGTYPE);
    for bad in ["nan", "", " 1", "1e400", "1x"] {
        assert_eq!(h.run(&["ZADD", "z", bad, "a"]), NOT_FLOAT, "score {bad:?}");
    }
    assert_eq!(h.run(&["ZADD", "z", "0x10", "hex"]), int(1));
    assert_eq!(h.run(&["ZSCORE", "z", "hex"]), bulk("16"));
    assert_eq!(h.run(&["ZADD", "z", "inf", "a"]), int(0));
    assert_eq!(
        h.run(&["ZADD", "z", "INCR", "-inf", "a"]),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(h.run(&["ZSCORE", "z", "a"]), bulk("inf"));
}

#[test]
fn zadd_incr_replies_with_the_score() {
    let mut h = setup();
    assert_eq!(h.run(&["ZADD", "z", "INCR", "2.5", "a"]), bulk("3.5"));
    assert_eq!(h.effects_text(), vec!["ZADD z INCR 2.5 a"]);
    assert_eq!(h.run(&["ZADD", "z", "INCR", "1", "new"]), bulk("1"));
    assert_eq!(h.run(&["ZADD", "z", "INCR", "NX", "1", "a"]), NULL);
    assert_eq!(h.run(&["ZADD", "z", "INCR", "GT", "-1", "a"]), NULL);
    assert_eq!(h.run(&["ZADD", "z", "INCR", "0", "a"]), bulk("3.5"));
    assert_eq!(h.run(&["ZADD", "none", "INCR", "XX", "1", "a"]), NULL);
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["ZADD", "z", "INCR", "1", "a"]), ",4.5\r\n");
    assert_eq!(h.run(&["ZADD", "z", "INCR", "NX", "1", "a"]), "_\r\n");
}

#[test]
fn zadd_keeps_the_sign_of_zero() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["ZADD", "z", "-0", "a"]), int(1));
    assert_eq!(h.run(&["ZSCORE", "z", "a"]), bulk("-0"));
    // 0 equals -0: no update, and the stored -0 stays.
    assert_eq!(h.run(&["ZADD", "z", "CH", "0", "a"]), int(0));
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["ZSCORE", "z", "a"]), bulk("-0"));
    assert_eq!(h.run(&["ZADD", "z", "0", "b", "-0", "c"]), int(2));
    assert_eq!(h.run(&["ZRANGE", "z", "0", "-1"]), bulks(&["a", "b", "c"]));
}

#[test]
fn zincrby() {
    let mut h = setup();
    assert_eq!(h.run(&["ZINCRBY", "z", "1.5", "a"]), bulk("2.5"));
    assert_eq!(h.effects_text(), vec!["ZINCRBY z 1.5 a"]);
    assert_eq!(h.run(&["ZINCRBY", "new", "-3", "m"]), bulk("-3"));
    assert_eq!(h.run(&["ZINCRBY", "z", "x", "a"]), NOT_FLOAT);
    assert_eq!(h.run(&["ZINCRBY", "s", "1", "a"]), WRONGTYPE);
    // ZINCRBY shares ZADD's parser: an increment spelled like an option
    // is read as one.
    assert_eq!(h.run(&["ZINCRBY", "z", "nx", "a"]), SYNTAX);
    assert_eq!(h.run(&["ZINCRBY", "z", "inf", "a"]), bulk("inf"));
    assert_eq!(
        h.run(&["ZINCRBY", "z", "-inf", "a"]),
        err("ERR resulting score is not a number (NaN)")
    );
    assert!(h.effects.is_empty());
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["ZINCRBY", "z", "1", "b"]), ",3\r\n");
}

// ---------------------------------------------------------------------------
// ZREM and single-member reads

#[test]
fn zrem_counts_distinct_members_and_deletes_empty_keys() {
    let mut h = setup();
    assert_eq!(h.run(&["ZREM", "z", "a", "a", "x"]), int(1));
    assert_eq!(h.effects_text(), vec!["ZREM z a a x"]);
    assert_eq!(h.run(&["ZREM", "z", "x"]), int(0));
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["ZREM", "z", "b", "c"]), int(2));
    assert_eq!(h.run(&["EXISTS", "z"]), int(0));
    assert_eq!(h.run(&["ZREM", "z", "b"]), int(0));
    assert_eq!(h.run(&["ZREM", "s", "b"]), WRONGTYPE);
}

#[test]
fn single_member_reads() {
    let mut h = setup();
    assert_eq!(h.run(&["ZCARD", "z"]), int(3));
    assert_eq!(h.run(&["ZCARD", "none"]), int(0));
    assert_eq!(h.run(&["ZCARD", "s"]), WRONGTYPE);
    assert_eq!(h.run(&["ZSCORE", "z", "b"]), bulk("2"));
    assert_eq!(h.run(&["ZSCORE", "z", "x"]), NULL);
    assert_eq!(h.run(&["ZSCORE", "none", "x"]), NULL);
    assert_eq!(h.run(&["ZSCORE", "s", "x"]), WRONGTYPE);
    assert_eq!(
        h.run(&["ZMSCORE", "z", "a", "x", "c"]),
        format!("*3\r\n{}{NULL}{}", bulk("1"), bulk("3"))
    );
    assert_eq!(
        h.run(&["ZMSCORE", "none", "a", "b"]),
        format!("*2\r\n{NULL}{NULL}")
    );
    assert_eq!(h.run(&["ZMSCORE", "s", "a"]), WRONGTYPE);
    assert_eq!(h.run(&["ZRANK", "z", "c"]), int(2));
    assert_eq!(h.run(&["ZREVRANK", "z", "c"]), int(0));
    assert_eq!(h.run(&["ZRANK", "z", "x"]), NULL);
    assert_eq!(h.run(&["ZREVRANK", "none", "x"]), NULL);
    assert_eq!(h.run(&["ZRANK", "s", "x"]), WRONGTYPE);
    assert_eq!(
        h.run(&["ZRANK", "z", "a", "WITHSCORE"]),
        err("ERR wrong number of arguments for 'zrank' command")
    );
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["ZSCORE", "z", "b"]), ",2\r\n");
    assert_eq!(h.run(&["ZSCORE", "z", "x"]), "_\r\n");
    assert_eq!(h.run(&["ZRANK", "z", "x"]), "_\r\n");
    assert_eq!(h.run(&["ZMSCORE", "z", "a", "x"]), "*2\r\n,1\r\n_\r\n");
}

#[test]
fn ranks_stay_right_in_a_large_set() {
    let mut h = Harness::new();
    for i in 0..3_000 {
        let member = format!("m{i:05}");
        h.run(&["ZADD", "big", &(i % 10).to_string(), &member]);
    }
    // Order: by score (i % 10), then member.
    let expected: Vec<String> = {
        let mut all: Vec<(i32, String)> =
            (0..3_000).map(|i| (i % 10, format!("m{i:05}"))).collect();
        all.sort();
        all.into_iter().map(|(_, m)| m).collect()
    };
    for rank in [0usize, 1, 299, 300, 1_234, 2_999] {
        assert_eq!(h.run(&["ZRANK", "big", &expected[rank]]), int(rank as i64));
        assert_eq!(
            h.run(&["ZREVRANK", "big", &expected[rank]]),
            int(2_999 - rank as i64)
        );
        let index = rank.to_string();
        assert_eq!(
            h.run(&["ZRANGE", "big", &index, &index]),
            bulks(&[&expected[rank]])
        );
    }
    assert_eq!(h.run(&["ZCOUNT", "big", "(2", "4"]), int(600));
    assert_eq!(
        h.run(&["ZREMRANGEBYRANK", "big", "100", "-101"]),
        int(2_800)
    );
    assert_eq!(h.run(&["ZCARD", "big"]), int(200));
    assert_eq!(
        h.run(&["ZRANGE", "big", "99", "100"]),
        bulks(&[&expected[99], &expected[2_900]])
    );
}

// ---------------------------------------------------------------------------
// Counting

#[test]
fn zcount_and_zlexcount() {
    let mut h = setup();
    assert_eq!(h.run(&["ZCOUNT", "z", "-inf", "+inf"]), int(3));
    assert_eq!(h.run(&["ZCOUNT", "z", "(1", "3"]), int(2));
    assert_eq!(h.run(&["ZCOUNT", "z", "(1", "(3"]), int(1));
    assert_eq!(h.run(&["ZCOUNT", "z", "3", "1"]), int(0));
    assert_eq!(h.run(&["ZCOUNT", "none", "1", "2"]), int(0));
    assert_eq!(h.run(&["ZCOUNT", "z", "a", "2"]), RANGE_NOT_FLOAT);
    assert_eq!(h.run(&["ZCOUNT", "z", "1", "(x"]), RANGE_NOT_FLOAT);
    // The range is checked before the type.
    assert_eq!(h.run(&["ZCOUNT", "s", "a", "2"]), RANGE_NOT_FLOAT);
    assert_eq!(h.run(&["ZCOUNT", "s", "1", "2"]), WRONGTYPE);
    h.run(&["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"]);
    assert_eq!(h.run(&["ZLEXCOUNT", "lex", "-", "+"]), int(4));
    assert_eq!(h.run(&["ZLEXCOUNT", "lex", "[b", "(d"]), int(2));
    assert_eq!(h.run(&["ZLEXCOUNT", "lex", "(b", "[b"]), int(0));
    assert_eq!(h.run(&["ZLEXCOUNT", "lex", "+", "-"]), int(0));
    assert_eq!(h.run(&["ZLEXCOUNT", "lex", "a", "+"]), RANGE_NOT_LEX);
    assert_eq!(h.run(&["ZLEXCOUNT", "lex", "-", "++"]), RANGE_NOT_LEX);
    assert_eq!(h.run(&["ZLEXCOUNT", "s", "-", "+"]), WRONGTYPE);
    assert_eq!(h.run(&["ZLEXCOUNT", "none", "-", "+"]), int(0));
}

// ---------------------------------------------------------------------------
// ZRANGE and its variants

#[test]
fn zrange_by_rank() {
    let mut h = setup();
    assert_eq!(h.run(&["ZRANGE", "z", "0", "-1"]), bulks(&["a", "b", "c"]));
    assert_eq!(h.run(&["ZRANGE", "z", "-2", "100"]), bulks(&["b", "c"]));
    assert_eq!(h.run(&["ZRANGE", "z", "-100", "0"]), bulks(&["a"]));
    assert_eq!(h.run(&["ZRANGE", "z", "2", "1"]), EMPTY);
    assert_eq!(h.run(&["ZRANGE", "z", "5", "10"]), EMPTY);
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "-1", "REV"]),
        bulks(&["c", "b", "a"])
    );
    assert_eq!(h.run(&["ZRANGE", "z", "0", "0", "REV"]), bulks(&["c"]));
    assert_eq!(h.run(&["ZREVRANGE", "z", "1", "-1"]), bulks(&["b", "a"]));
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        bulks(&["a", "1", "b", "2"])
    );
    assert_eq!(h.run(&["ZRANGE", "none", "0", "-1"]), EMPTY);
    assert_eq!(h.run(&["ZRANGE", "s", "0", "-1"]), WRONGTYPE);
    assert_eq!(h.run(&["ZRANGE", "z", "a", "1"]), NOT_INTEGER);
    assert_eq!(h.run(&["ZRANGE", "z", "0", "-9223372036854775808"]), EMPTY);
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        pairs3(&[("a", "1"), ("b", "2")])
    );
    assert_eq!(h.run(&["ZRANGE", "z", "0", "1"]), bulks(&["a", "b"]));
}

#[test]
fn zrange_option_errors() {
    let mut h = setup();
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    // Redis checks the value: an explicit count of -1 passes.
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "1", "LIMIT", "5", "-1"]),
        bulks(&["a", "b"])
    );
    assert_eq!(
        h.run(&["ZRANGE", "z", "[a", "[b", "BYLEX", "WITHSCORES"]),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]),
        SYNTAX
    );
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "1", "BYSCORE", "BYSCORE"]),
        SYNTAX
    );
    assert_eq!(h.run(&["ZRANGE", "z", "0", "1", "LIMIT", "0"]), SYNTAX);
    assert_eq!(
        h.run(&["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"]),
        NOT_INTEGER
    );
    assert_eq!(
        h.run(&["ZRANGE", "z", "x", "1", "BYSCORE"]),
        RANGE_NOT_FLOAT
    );
    assert_eq!(h.run(&["ZRANGE", "z", "x", "1", "BYLEX"]), RANGE_NOT_LEX);
    assert_eq!(h.run(&["ZRANGE", "z", "0", "1", "FOO"]), SYNTAX);
    // Options are checked before the key's type.
    assert_eq!(h.run(&["ZRANGE", "s", "0", "1", "FOO"]), SYNTAX);
    assert_eq!(h.run(&["ZRANGEBYSCORE", "z", "0", "1", "BYSCORE"]), SYNTAX);
    assert_eq!(h.run(&["ZRANGEBYSCORE", "z", "0", "1", "REV"]), SYNTAX);
    assert_eq!(
        h.run(&["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        h.run(&["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"]),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
}

#[test]
fn zrange_by_score() {
    let mut h = setup();
    h.run(&["ZADD", "z", "2", "bb", "4", "d"]);
    assert_eq!(
        h.run(&["ZRANGE", "z", "(1", "3", "BYSCORE"]),
        bulks(&["b", "bb", "c"])
    );
    assert_eq!(
        h.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "2"]),
        bulks(&["b", "bb"])
    );
    assert_eq!(
        h.run(&["ZRANGEBYSCORE", "z", "2", "2", "WITHSCORES"]),
        bulks(&["b", "2", "bb", "2"])
    );
    // REV takes max first.
    assert_eq!(
        h.run(&["ZRANGE", "z", "3", "(1", "BYSCORE", "REV"]),
        bulks(&["c", "bb", "b"])
    );
    assert_eq!(
        h.run(&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "2"]),
        bulks(&["c", "bb"])
    );
    assert_eq!(h.run(&["ZREVRANGEBYSCORE", "z", "1", "3"]), EMPTY);
    // A negative offset selects nothing; a negative count means all.
    assert_eq!(
        h.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"]),
        EMPTY
    );
    assert_eq!(
        h.run(&["ZRANGEBYSCORE", "z", "3", "+inf", "LIMIT", "0", "-5"]),
        bulks(&["c", "d"])
    );
    assert_eq!(
        h.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "0"]),
        EMPTY
    );
    assert_eq!(
        h.run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "9", "1"]),
        EMPTY
    );
    assert_eq!(
        h.run(&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "4", "10"]),
        bulks(&["a"])
    );
    assert_eq!(h.run(&["ZRANGEBYSCORE", "z", "(4", "+inf"]), EMPTY);
    assert_eq!(h.run(&["ZRANGEBYSCORE", "z", "a", "+inf"]), RANGE_NOT_FLOAT);
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["ZREVRANGEBYSCORE", "z", "4", "3", "WITHSCORES"]),
        pairs3(&[("d", "4"), ("c", "3")])
    );
}

#[test]
fn zrange_by_lex() {
    let mut h = Harness::new();
    h.run(&[
        "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
    ]);
    assert_eq!(
        h.run(&["ZRANGEBYLEX", "l", "-", "[c"]),
        bulks(&["a", "b", "c"])
    );
    assert_eq!(
        h.run(&["ZRANGEBYLEX", "l", "(b", "+", "LIMIT", "1", "2"]),
        bulks(&["d", "e"])
    );
    assert_eq!(
        h.run(&["ZRANGE", "l", "[d", "(b", "BYLEX", "REV"]),
        bulks(&["d", "c"])
    );
    assert_eq!(
        h.run(&["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "0", "2"]),
        bulks(&["e", "d"])
    );
    assert_eq!(h.run(&["ZRANGEBYLEX", "l", "+", "-"]), EMPTY);
    assert_eq!(
        h.run(&["ZRANGEBYLEX", "l", "[", "+"]),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(h.run(&["ZRANGEBYLEX", "l", "b", "+"]), RANGE_NOT_LEX);
    assert_eq!(h.run(&["ZRANGEBYLEX", "none", "-", "+"]), EMPTY);
}

#[test]
fn zrangestore() {
    let mut h = setup();
    h.run(&["SET", "dst", "old"]);
    let reply = h.run(&["ZRANGESTORE", "dst", "z", "(1", "+inf", "BYSCORE"]);
    assert_eq!(reply, int(2));
    assert_eq!(h.effects_text(), vec!["ZRANGESTORE dst z (1 +inf BYSCORE"]);
    assert_eq!(
        h.run(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        bulks(&["b", "2", "c", "3"])
    );
    assert_eq!(h.run(&["ZRANGESTORE", "dst", "z", "0", "0", "REV"]), int(1));
    assert_eq!(h.run(&["ZRANGE", "dst", "0", "-1"]), bulks(&["c"]));
    assert_eq!(
        h.run(&["ZRANGESTORE", "lexdst", "z", "[b", "+", "BYLEX"]),
        int(2)
    );
    assert_eq!(h.run(&["ZSCORE", "lexdst", "c"]), bulk("3"));
    // An empty result deletes the destination.
    assert_eq!(h.run(&["ZRANGESTORE", "dst", "z", "5", "10"]), int(0));
    assert_eq!(h.effects_text(), vec!["ZRANGESTORE dst z 5 10"]);
    assert_eq!(h.run(&["EXISTS", "dst"]), int(0));
    assert_eq!(h.run(&["ZRANGESTORE", "dst", "none", "0", "-1"]), int(0));
    assert!(h.effects.is_empty());
    assert_eq!(
        h.run(&["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"]),
        SYNTAX
    );
    assert_eq!(h.run(&["ZRANGESTORE", "dst", "s", "0", "-1"]), WRONGTYPE);
    assert_eq!(
        h.run(&["ZRANGESTORE", "dst", "z", "0"]),
        err("ERR wrong number of arguments for 'zrangestore' command")
    );
    // The destination may be the source.
    assert_eq!(h.run(&["ZRANGESTORE", "z", "z", "0", "1"]), int(2));
    assert_eq!(h.run(&["ZRANGE", "z", "0", "-1"]), bulks(&["a", "b"]));
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*

#[test]
fn zremrange_family() {
    let mut h = setup();
    h.run(&["ZADD", "z", "4", "d", "5", "e"]);
    assert_eq!(h.run(&["ZREMRANGEBYRANK", "z", "0", "1"]), int(2));
    assert_eq!(h.effects_text(), vec!["ZREMRANGEBYRANK z 0 1"]);
    assert_eq!(h.run(&["ZREMRANGEBYRANK", "z", "5", "10"]), int(0));
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["ZREMRANGEBYSCORE", "z", "(3", "4"]), int(1));
    assert_eq!(h.run(&["ZRANGE", "z", "0", "-1"]), bulks(&["c", "e"]));
    assert_eq!(h.run(&["ZREMRANGEBYSCORE", "z", "-inf", "+inf"]), int(2));
    assert_eq!(h.run(&["EXISTS", "z"]), int(0));
    h.run(&["ZADD", "l", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(h.run(&["ZREMRANGEBYLEX", "l", "(a", "+"]), int(2));
    assert_eq!(h.run(&["ZRANGE", "l", "0", "-1"]), bulks(&["a"]));
    assert_eq!(h.run(&["ZREMRANGEBYLEX", "l", "x", "+"]), RANGE_NOT_LEX);
    assert_eq!(h.run(&["ZREMRANGEBYSCORE", "l", "x", "1"]), RANGE_NOT_FLOAT);
    assert_eq!(h.run(&["ZREMRANGEBYRANK", "l", "x", "1"]), NOT_INTEGER);
    assert_eq!(h.run(&["ZREMRANGEBYRANK", "s", "0", "1"]), WRONGTYPE);
    assert_eq!(h.run(&["ZREMRANGEBYRANK", "none", "0", "1"]), int(0));
}

// ---------------------------------------------------------------------------
// Pops

#[test]
fn zpopmin_and_zpopmax() {
    let mut h = setup();
    assert_eq!(h.run(&["ZPOPMIN", "z"]), bulks(&["a", "1"]));
    assert_eq!(h.effects_text(), vec!["ZPOPMIN z"]);
    assert_eq!(h.run(&["ZPOPMAX", "z", "5"]), bulks(&["c", "3", "b", "2"]));
    assert_eq!(h.run(&["EXISTS", "z"]), int(0));
    assert_eq!(h.run(&["ZPOPMIN", "z"]), EMPTY);
    assert!(h.effects.is_empty());
    h.run(&["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(h.run(&["ZPOPMIN", "z", "0"]), EMPTY);
    assert!(h.effects.is_empty());
    let out_of_range = err("ERR value is out of range, must be positive");
    assert_eq!(h.run(&["ZPOPMIN", "z", "-1"]), out_of_range);
    assert_eq!(h.run(&["ZPOPMIN", "z", "x"]), out_of_range);
    assert_eq!(h.run(&["ZPOPMIN", "z", "1", "2"]), SYNTAX);
    assert_eq!(h.run(&["ZPOPMIN", "s"]), WRONGTYPE);
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["ZPOPMIN", "z"]),
        format!("*2\r\n{},1\r\n", bulk("a"))
    );
    h.run(&["ZADD", "z", "1", "a"]);
    assert_eq!(
        h.run(&["ZPOPMAX", "z", "2"]),
        pairs3(&[("b", "2"), ("a", "1")])
    );
}

#[test]
fn zmpop() {
    let mut h = setup();
    h.run(&["ZADD", "y", "7", "q"]);
    assert_eq!(
        h.run(&["ZMPOP", "3", "none", "z", "y", "MIN", "COUNT", "2"]),
        format!(
            "*2\r\n{}*2\r\n{}{}",
            bulk("z"),
            bulks(&["a", "1"]),
            bulks(&["b", "2"])
        )
    );
    assert_eq!(h.effects_text(), vec!["ZPOPMIN z 2"]);
    assert_eq!(
        h.run(&["ZMPOP", "1", "z", "MAX", "COUNT", "10"]),
        format!("*2\r\n{}*1\r\n{}", bulk("z"), bulks(&["c", "3"]))
    );
    assert_eq!(h.effects_text(), vec!["ZPOPMAX z 1"]);
    assert_eq!(h.run(&["ZMPOP", "1", "z", "MIN"]), NULL_ARRAY);
    // Only the first existing key counts, even if a later one is a zset.
    assert_eq!(h.run(&["ZMPOP", "2", "s", "y", "MIN"]), WRONGTYPE);
    let numkeys = err("ERR numkeys should be greater than 0");
    assert_eq!(h.run(&["ZMPOP", "0", "y", "MIN"]), numkeys);
    assert_eq!(h.run(&["ZMPOP", "x", "y", "MIN"]), numkeys);
    assert_eq!(h.run(&["ZMPOP", "2", "y", "MIN"]), SYNTAX);
    assert_eq!(h.run(&["ZMPOP", "1", "y", "MIDDLE"]), SYNTAX);
    let count = err("ERR count should be greater than 0");
    assert_eq!(h.run(&["ZMPOP", "1", "y", "MIN", "COUNT", "0"]), count);
    assert_eq!(
        h.run(&["ZMPOP", "1", "y", "MIN", "COUNT", "1", "COUNT", "1"]),
        SYNTAX
    );
    assert_eq!(h.run(&["ZMPOP", "1", "y", "MIN", "COUNT"]), SYNTAX);
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["ZMPOP", "1", "y", "MAX"]),
        format!("*2\r\n{}{}", bulk("y"), pairs3(&[("q", "7")]))
    );
    assert_eq!(h.run(&["ZMPOP", "1", "y", "MAX"]), "_\r\n");
}

#[test]
fn blocking_pops_serve_at_once_when_they_can() {
    let mut h = setup();
    assert_eq!(
        h.run(&["BZPOPMIN", "none", "z", "0"]),
        format!("*3\r\n{}{}{}", bulk("z"), bulk("a"), bulk("1"))
    );
    assert_eq!(h.last_flow, Flow::Done);
    assert_eq!(h.effects_text(), vec!["ZPOPMIN z"]);
    assert_eq!(
        h.run(&["BZPOPMAX", "z", "1.5"]),
        format!("*3\r\n{}{}{}", bulk("z"), bulk("c"), bulk("3"))
    );
    assert_eq!(h.effects_text(), vec!["ZPOPMAX z"]);
    assert_eq!(
        h.run(&["BZMPOP", "0", "2", "none", "z", "MAX", "COUNT", "5"]),
        format!("*2\r\n{}*1\r\n{}", bulk("z"), bulks(&["b", "2"]))
    );
    assert_eq!(h.effects_text(), vec!["ZPOPMAX z 1"]);
    assert_eq!(h.run(&["EXISTS", "z"]), int(0));
    h.protocol = Protocol::Resp3;
    h.run(&["ZADD", "z", "1", "a"]);
    assert_eq!(
        h.run(&["BZPOPMIN", "z", "0"]),
        format!("*3\r\n{}{},1\r\n", bulk("z"), bulk("a"))
    );
}

#[test]
fn blocking_pops_block_or_time_out_in_multi() {
    let mut h = setup();
    assert_eq!(h.run(&["BZPOPMIN", "none", "other", "2.5"]), "");
    assert_eq!(
        h.last_flow,
        Flow::Block {
            keys: vec![Bytes::from_static(b"none"), Bytes::from_static(b"other")],
            deadline_ms: Some(1_700_000_002_500),
        }
    );
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["BZMPOP", "0", "2", "none", "other", "MIN"]), "");
    assert_eq!(
        h.last_flow,
        Flow::Block {
            keys: vec![Bytes::from_static(b"none"), Bytes::from_static(b"other")],
            deadline_ms: None,
        }
    );
    h.in_multi = true;
    assert_eq!(h.run(&["BZPOPMAX", "none", "0"]), NULL_ARRAY);
    assert_eq!(h.last_flow, Flow::Done);
    assert_eq!(h.run(&["BZMPOP", "1", "1", "none", "MIN"]), NULL_ARRAY);
    // Still served inside MULTI when there is something to pop.
    assert_eq!(
        h.run(&["BZPOPMIN", "z", "0"]),
        format!("*3\r\n{}{}{}", bulk("z"), bulk("a"), bulk("1"))
    );
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["BZPOPMAX", "none", "0"]), "_\r\n");
}

#[test]
fn blocking_pop_errors() {
    let mut h = setup();
    let not_float = err("ERR timeout is not a float or out of range");
    assert_eq!(h.run(&["BZPOPMIN", "z", "x"]), not_float);
    assert_eq!(
        h.run(&["BZPOPMIN", "z", "-1"]),
        err("ERR timeout is negative")
    );
    // A wrong type met before a non-empty key fails the command.
    assert_eq!(h.run(&["BZPOPMIN", "s", "z", "0"]), WRONGTYPE);
    assert!(h.run(&["BZPOPMIN", "z", "s", "0"]).starts_with("*3"));
    // BZMPOP checks numkeys, MIN|MAX and COUNT before the timeout.
    assert_eq!(
        h.run(&["BZMPOP", "x", "1", "z", "MIN", "COUNT", "0"]),
        err("ERR count should be greater than 0")
    );
    assert_eq!(h.run(&["BZMPOP", "x", "1", "z", "MIN"]), not_float);
    assert_eq!(
        h.run(&["BZMPOP", "0", "0", "z", "MIN"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        h.run(&["BZMPOP", "0", "1", "z"]),
        err("ERR wrong number of arguments for 'bzmpop' command")
    );
    assert_eq!(h.run(&["BZMPOP", "0", "1", "s", "MIN"]), WRONGTYPE);
}

#[test]
fn blocking_timeout_reply_is_a_null_array() {
    for name in ["bzpopmin", "BZPOPMAX", "bzmpop"] {
        let mut reply = Reply::new(Protocol::Resp2);
        crate::zset_blocking_timeout_reply(name, &mut reply);
        assert_eq!(&reply.take()[..], b"*-1\r\n");
        let mut reply = Reply::new(Protocol::Resp3);
        crate::zset_blocking_timeout_reply(name, &mut reply);
        assert_eq!(&reply.take()[..], b"_\r\n");
    }
}

// ---------------------------------------------------------------------------
// Set algebra

fn algebra_setup() -> Harness {
    let mut h = Harness::new();
    h.run(&["ZADD", "z1", "1", "a", "2", "b", "3", "c"]);
    h.run(&["ZADD", "z2", "10", "b", "20", "c", "30", "d"]);
    h.run(&["SET", "s", "v"]);
    // A plain set {c, e}, built directly so these tests need no set commands.
    let mut set = daisy_keyspace::Set::with_seed(1);
    set.insert(daisy_keyspace::CompactBytes::new(b"c"), ());
    set.insert(daisy_keyspace::CompactBytes::new(b"e"), ());
    h.db.set(b"plain", Value::Set(Box::new(set)), false);
    h
}

#[test]
fn zunion_zinter_zdiff() {
    let mut h = algebra_setup();
    assert_eq!(
        h.run(&["ZUNION", "2", "z1", "z2", "WITHSCORES"]),
        bulks(&["a", "1", "b", "12", "c", "23", "d", "30"])
    );
    assert_eq!(
        h.run(&[
            "ZUNION",
            "3",
            "z1",
            "z2",
            "plain",
            "AGGREGATE",
            "MAX",
            "WITHSCORES"
        ]),
        bulks(&["a", "1", "e", "1", "b", "10", "c", "20", "d", "30"])
    );
    assert_eq!(
        h.run(&[
            "ZINTER",
            "2",
            "z1",
            "z2",
            "WEIGHTS",
            "2",
            "0.5",
            "WITHSCORES"
        ]),
        bulks(&["b", "9", "c", "16"])
    );
    assert_eq!(
        h.run(&[
            "ZINTER",
            "3",
            "z1",
            "z2",
            "plain",
            "AGGREGATE",
            "MIN",
            "WITHSCORES"
        ]),
        bulks(&["c", "1"])
    );
    assert_eq!(h.run(&["ZINTER", "2", "z1", "none"]), EMPTY);
    assert_eq!(
        h.run(&["ZDIFF", "2", "z1", "z2", "WITHSCORES"]),
        bulks(&["a", "1"])
    );
    assert_eq!(h.run(&["ZDIFF", "2", "z1", "z1"]), EMPTY);
    assert_eq!(h.run(&["ZDIFF", "1", "plain"]), bulks(&["c", "e"]));
    assert_eq!(h.run(&["ZUNION", "1", "none"]), EMPTY);
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["ZINTER", "2", "z1", "z2", "WITHSCORES"]),
        pairs3(&[("b", "12"), ("c", "23")])
    );
    assert_eq!(h.run(&["ZINTER", "2", "z1", "z2"]), bulks(&["b", "c"]));
}

#[test]
fn algebra_arithmetic_edges() {
    let mut h = Harness::new();
    h.run(&["ZADD", "p", "inf", "x", "1", "y"]);
    h.run(&["ZADD", "n", "-inf", "x", "2", "y"]);
    // inf + -inf sums to 0; 0 * inf weighs 0.
    assert_eq!(
        h.run(&["ZUNION", "2", "p", "n", "WITHSCORES"]),
        bulks(&["x", "0", "y", "3"])
    );
    assert_eq!(
        h.run(&["ZINTER", "2", "p", "n", "WEIGHTS", "0", "1", "WITHSCORES"]),
        bulks(&["x", "-inf", "y", "2"])
    );
    assert_eq!(
        h.run(&[
            "ZINTER",
            "2",
            "p",
            "n",
            "WEIGHTS",
            "1",
            "0",
            "AGGREGATE",
            "MIN",
            "WITHSCORES"
        ]),
        bulks(&["y", "0", "x", "inf"])
    );
    assert_eq!(
        h.run(&["ZUNION", "1", "p", "WEIGHTS", "0", "WITHSCORES"]),
        bulks(&["x", "0", "y", "0"])
    );
}

#[test]
fn algebra_errors() {
    let mut h = algebra_setup();
    assert_eq!(
        h.run(&["ZUNION", "0", "z1"]),
        err("ERR at least 1 input key is needed for 'zunion' command")
    );
    assert_eq!(
        h.run(&["ZINTERSTORE", "d", "0", "z1"]),
        err("ERR at least 1 input key is needed for 'zinterstore' command")
    );
    assert_eq!(h.run(&["ZUNION", "x", "z1"]), NOT_INTEGER);
    assert_eq!(h.run(&["ZUNION", "3", "z1", "z2"]), SYNTAX);
    assert_eq!(h.run(&["ZUNION", "2", "z1", "s"]), WRONGTYPE);
    // Types are checked before options.
    assert_eq!(h.run(&["ZUNION", "2", "z1", "s", "FOO"]), WRONGTYPE);
    assert_eq!(h.run(&["ZUNION", "2", "z1", "z2", "FOO"]), SYNTAX);
    assert_eq!(
        h.run(&["ZUNION", "2", "z1", "z2", "WEIGHTS", "1", "x"]),
        err("ERR weight value is not a float")
    );
    assert_eq!(h.run(&["ZUNION", "2", "z1", "z2", "WEIGHTS", "1"]), SYNTAX);
    assert_eq!(
        h.run(&["ZUNION", "2", "z1", "z2", "AGGREGATE", "AVG"]),
        SYNTAX
    );
    assert_eq!(h.run(&["ZUNION", "2", "z1", "z2", "AGGREGATE"]), SYNTAX);
    assert_eq!(
        h.run(&["ZDIFF", "2", "z1", "z2", "WEIGHTS", "1", "1"]),
        SYNTAX
    );
    assert_eq!(
        h.run(&["ZUNIONSTORE", "d", "2", "z1", "z2", "WITHSCORES"]),
        SYNTAX
    );
    assert_eq!(
        h.run(&["ZINTERCARD", "2", "z1", "z2", "WITHSCORES"]),
        SYNTAX
    );
    assert_eq!(
        h.run(&["ZINTERCARD", "0", "z1"]),
        err("ERR at least 1 input key is needed for 'zintercard' command")
    );
    let limit = err("ERR LIMIT can't be negative");
    assert_eq!(
        h.run(&["ZINTERCARD", "2", "z1", "z2", "LIMIT", "-1"]),
        limit
    );
    assert_eq!(h.run(&["ZINTERCARD", "2", "z1", "z2", "LIMIT", "x"]), limit);
}

#[test]
fn algebra_store_forms() {
    let mut h = algebra_setup();
    h.run(&["SET", "d", "old"]);
    assert_eq!(
        h.run(&["ZUNIONSTORE", "d", "2", "z1", "z2", "WEIGHTS", "1", "2"]),
        int(4)
    );
    assert_eq!(h.effects_text(), vec!["ZUNIONSTORE d 2 z1 z2 WEIGHTS 1 2"]);
    assert_eq!(
        h.run(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        bulks(&["a", "1", "b", "22", "c", "43", "d", "60"])
    );
    assert_eq!(h.run(&["ZINTERSTORE", "d", "2", "z1", "plain"]), int(1));
    assert_eq!(
        h.run(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        bulks(&["c", "4"])
    );
    assert_eq!(h.run(&["ZDIFFSTORE", "d", "2", "z1", "z2"]), int(1));
    assert_eq!(h.run(&["ZRANGE", "d", "0", "-1"]), bulks(&["a"]));
    // The destination may be a source.
    assert_eq!(h.run(&["ZUNIONSTORE", "z1", "2", "z1", "z1"]), int(3));
    assert_eq!(h.run(&["ZSCORE", "z1", "c"]), bulk("6"));
    // An empty result deletes the destination (and is recorded), or
    // changes nothing when there was none.
    assert_eq!(h.run(&["ZINTERSTORE", "d", "2", "z1", "none"]), int(0));
    assert_eq!(h.effects_text(), vec!["ZINTERSTORE d 2 z1 none"]);
    assert_eq!(h.run(&["EXISTS", "d"]), int(0));
    assert_eq!(h.run(&["ZDIFFSTORE", "d", "1", "none"]), int(0));
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["ZINTERCARD", "2", "z1", "z2"]), int(2));
    assert_eq!(
        h.run(&["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"]),
        int(1)
    );
    assert_eq!(
        h.run(&["ZINTERCARD", "2", "z1", "z2", "LIMIT", "0"]),
        int(2)
    );
    assert_eq!(h.run(&["ZINTERCARD", "1", "none"]), int(0));
}

#[test]
fn algebra_key_positions() {
    let argv = |args: &[&str]| -> Vec<Bytes> {
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    };
    let keys = |name: &str, args: &[&str]| {
        crate::lookup(name.as_bytes())
            .unwrap()
            .key_indices(&argv(args))
    };
    assert_eq!(
        keys(
            "zunionstore",
            &["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"]
        ),
        vec![1, 3, 4]
    );
    assert_eq!(keys("zinter", &["zinter", "2", "a", "b"]), vec![2, 3]);
    assert_eq!(keys("zmpop", &["zmpop", "1", "a", "MIN"]), vec![2]);
    assert_eq!(
        keys("bzmpop", &["bzmpop", "0", "2", "a", "b", "MIN"]),
        vec![3, 4]
    );
    assert_eq!(keys("bzpopmin", &["bzpopmin", "a", "b", "0"]), vec![1, 2]);
    assert_eq!(
        keys("zrangestore", &["zrangestore", "d", "s", "0", "1"]),
        vec![1, 2]
    );
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER

#[test]
fn zrandmember() {
    let mut h = setup();
    let single = h.run(&["ZRANDMEMBER", "z"]);
    assert!([bulk("a"), bulk("b"), bulk("c")].contains(&single));
    assert_eq!(h.run(&["ZRANDMEMBER", "none"]), NULL);
    assert_eq!(h.run(&["ZRANDMEMBER", "s"]), WRONGTYPE);
    assert_eq!(h.run(&["ZRANDMEMBER", "z", "0"]), EMPTY);
    assert_eq!(h.run(&["ZRANDMEMBER", "none", "5"]), EMPTY);
    // Asking for at least the whole set returns it from the top down.
    assert_eq!(h.run(&["ZRANDMEMBER", "z", "3"]), bulks(&["c", "b", "a"]));
    assert_eq!(
        h.run(&["ZRANDMEMBER", "z", "10", "WITHSCORES"]),
        bulks(&["c", "3", "b", "2", "a", "1"])
    );
    let repeated = h.run(&["ZRANDMEMBER", "z", "-5"]);
    assert!(repeated.starts_with("*5\r\n"), "{repeated}");
    let repeated = h.run(&["ZRANDMEMBER", "z", "-5", "WITHSCORES"]);
    assert!(repeated.starts_with("*10\r\n"), "{repeated}");
    assert_eq!(h.run(&["ZRANDMEMBER", "z", "x"]), NOT_INTEGER);
    assert_eq!(h.run(&["ZRANDMEMBER", "z", "1", "FOO"]), SYNTAX);
    assert_eq!(h.run(&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"]), SYNTAX);
    assert_eq!(
        h.run(&["ZRANDMEMBER", "z", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        h.run(&["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"]),
        err("ERR value is out of range")
    );
    assert_eq!(
        h.run(&["ZRANDMEMBER", "z", "-9223372036854775807"]),
        err("ERR value is out of range")
    );
    assert_eq!(h.run(&["ZRANDMEMBER", "s", "1"]), WRONGTYPE);
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["ZRANDMEMBER", "z", "3", "WITHSCORES"]),
        pairs3(&[("c", "3"), ("b", "2"), ("a", "1")])
    );
}

#[test]
fn zrandmember_distinct_members() {
    let mut h = Harness::new();
    for i in 0..300 {
        h.run(&["ZADD", "z", &i.to_string(), &format!("m{i}")]);
    }
    for count in [2, 50, 150, 299] {
        let reply = h.run(&["ZRANDMEMBER", "z", &count.to_string()]);
        let members: Vec<&str> = reply
            .split("\r\n")
            .filter(|line| line.starts_with('m'))
            .collect();
        let unique: std::collections::HashSet<&str> = members.iter().copied().collect();
        assert_eq!(members.len(), count, "count {count}");
        assert_eq!(unique.len(), count, "count {count}");
    }
}

// ---------------------------------------------------------------------------
// ZSCAN

#[test]
fn zscan_compact_set_in_one_call() {
    let mut h = setup();
    let all = format!(
        "*2\r\n{}{}",
        bulk("0"),
        bulks(&["a", "1", "b", "2", "c", "3"])
    );
    assert_eq!(h.run(&["ZSCAN", "z", "0"]), all);
    assert_eq!(h.run(&["ZSCAN", "z", "0", "COUNT", "1"]), all);
    assert_eq!(h.run(&["ZSCAN", "z", "0", "MATCH", "*"]), all);
    assert_eq!(
        h.run(&["ZSCAN", "z", "0", "MATCH", "[ab]"]),
        format!("*2\r\n{}{}", bulk("0"), bulks(&["a", "1", "b", "2"]))
    );
    let empty_scan = format!("*2\r\n{}*0\r\n", bulk("0"));
    assert_eq!(h.run(&["ZSCAN", "none", "0"]), empty_scan);
    // A missing key answers before the options are read.
    assert_eq!(h.run(&["ZSCAN", "none", "0", "COUNT", "x"]), empty_scan);
    assert_eq!(h.run(&["ZSCAN", "z", "0", "COUNT", "x"]), NOT_INTEGER);
    assert_eq!(h.run(&["ZSCAN", "z", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(h.run(&["ZSCAN", "z", "0", "COUNT"]), SYNTAX);
    assert_eq!(h.run(&["ZSCAN", "z", "0", "TYPE", "zset"]), SYNTAX);
    let invalid = err("ERR invalid cursor");
    for cursor in ["x", " 1", "1 ", "18446744073709551616", "+", "-"] {
        assert_eq!(h.run(&["ZSCAN", "z", cursor]), invalid, "cursor {cursor:?}");
    }
    assert_eq!(h.run(&["ZSCAN", "z", "-1"]), all);
    assert_eq!(h.run(&["ZSCAN", "z", ""]), all);
    assert_eq!(h.run(&["ZSCAN", "s", "0"]), WRONGTYPE);
    assert_eq!(h.run(&["ZSCAN", "s", "x"]), invalid);
}

#[test]
fn zscan_large_set_visits_everything_by_cursor() {
    let mut h = Harness::new();
    for i in 0..1_000 {
        h.run(&["ZADD", "big", &i.to_string(), &format!("member:{i}")]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = h.run(&["ZSCAN", "big", &cursor, "COUNT", "50", "MATCH", "member:*7"]);
        let lines: Vec<&str> = reply.split("\r\n").collect();
        // *2, $len, cursor, *n, then $len/value pairs.
        cursor = lines[2].to_string();
        for pair in lines[4..].chunks(4) {
            if pair.len() == 4 {
                assert!(pair[1].ends_with('7'), "{}", pair[1]);
                let number: u32 = pair[1]["member:".len()..].parse().unwrap();
                assert_eq!(pair[3], number.to_string());
                seen.insert(number);
            }
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 1_000);
    }
    assert_eq!(seen.len(), 100);
    assert!(calls > 1);
}

// ---------------------------------------------------------------------------
// Effects replay to the same keyspace

#[test]
fn effects_replay_to_the_same_keyspace() {
    let base: &[&[&str]] = &[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZADD", "y", "5", "x", "-0", "b"],
        &["SET", "s", "v"],
    ];
    let commands: &[&[&str]] = &[
        &["ZADD", "z", "GT", "CH", "0", "a", "9", "b", "1", "new"],
        &["ZADD", "z", "INCR", "5", "a"],
        &["ZINCRBY", "y", "1.5", "x"],
        &["ZREM", "z", "a", "zz"],
        &["ZREMRANGEBYRANK", "z", "1", "-1"],
        &["ZREMRANGEBYSCORE", "z", "(1", "3"],
        &["ZREMRANGEBYLEX", "z", "-", "[b"],
        &["ZPOPMIN", "z", "3"],
        &["ZPOPMAX", "y"],
        &["ZMPOP", "2", "none", "z", "MAX", "COUNT", "3"],
        &["BZPOPMIN", "none", "y", "0"],
        &["BZMPOP", "1", "2", "z", "y", "MIN", "COUNT", "10"],
        &["ZRANGESTORE", "dst", "z", "0", "1"],
        &[
            "ZRANGESTORE",
            "s",
            "z",
            "(1",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "1",
            "1",
        ],
        &["ZUNIONSTORE", "dst", "2", "z", "y", "AGGREGATE", "MAX"],
        &["ZINTERSTORE", "s", "2", "z", "y", "WEIGHTS", "2", "3"],
        &["ZDIFFSTORE", "dst", "2", "z", "y"],
    ];
    for command in commands {
        replay_check(base, command);
    }
    let (_, effects) = replay_check(base, &["ZMPOP", "1", "z", "MIN", "COUNT", "99"]);
    assert_eq!(effects, vec!["ZPOPMIN z 4"]);
    let (_, effects) = replay_check(base, &["BZPOPMAX", "none", "y", "0"]);
    assert_eq!(effects, vec!["ZPOPMAX y"]);
}

#[test]
fn expired_sources_are_deleted_and_recorded() {
    let mut h = setup();
    h.db.set_expire(b"z", 1_700_000_000_500);
    h.advance_ms(1_000);
    assert_eq!(h.run(&["ZCARD", "z"]), int(0));
    assert_eq!(h.effects_text(), vec!["DEL z"]);
}
