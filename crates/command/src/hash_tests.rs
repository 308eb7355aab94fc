//! Unit tests of the hash commands, through the command harness.

use daisy_protocol::Protocol;

use crate::hash_test_support::{assert_replay_equivalent, decode, sorted, Resp};
use crate::testing::Harness;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn harness_with_hash(fields: &[(&str, &str)]) -> Harness {
    let mut h = Harness::new();
    for (field, value) in fields {
        h.run(&["HSET", "h", field, value]);
    }
    h
}

fn resp3() -> Harness {
    let mut h = Harness::new();
    h.protocol = Protocol::Resp3;
    h
}

#[test]
fn hset_counts_new_fields_and_logs_verbatim() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HSET", "h", "a", "1", "b", "2"]), ":2\r\n");
    assert_eq!(h.effects_text(), vec!["HSET h a 1 b 2"]);
    assert_eq!(h.run(&["HSET", "h", "a", "10", "c", "3"]), ":1\r\n");
    assert_eq!(h.run(&["HGET", "h", "a"]), "$2\r\n10\r\n");
    // Setting a field to its current value is still a write.
    assert_eq!(h.run(&["HSET", "h", "a", "10"]), ":0\r\n");
    assert_eq!(h.effects_text(), vec!["HSET h a 10"]);
    // The same field twice in one command counts once; the last value wins.
    assert_eq!(h.run(&["HSET", "h", "z", "1", "z", "2"]), ":1\r\n");
    assert_eq!(h.run(&["HGET", "h", "z"]), "$1\r\n2\r\n");
}

#[test]
fn hset_and_hmset_reject_a_field_without_value() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "x"]);
    // The arity error comes before the type check, as in Redis.
    assert_eq!(
        h.run(&["HSET", "s", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(
        h.run(&["HMSET", "h", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_eq!(
        h.run(&["HSET", "h", "a"]),
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert!(h.effects.is_empty());
    assert!(!h.db.contains(b"h"));
    assert_eq!(h.run(&["HSET", "s", "a", "1"]), WRONGTYPE);
}

#[test]
fn hmset_replies_ok() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HMSET", "h", "a", "1", "b", "2"]), "+OK\r\n");
    assert_eq!(h.effects_text(), vec!["HMSET h a 1 b 2"]);
    assert_eq!(h.run(&["HLEN", "h"]), ":2\r\n");
}

#[test]
fn hsetnx_sets_only_absent_fields() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HSETNX", "h", "a", "1"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["HSETNX h a 1"]);
    assert_eq!(h.run(&["HSETNX", "h", "a", "2"]), ":0\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["HGET", "h", "a"]), "$1\r\n1\r\n");
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HSETNX", "s", "a", "1"]), WRONGTYPE);
}

#[test]
fn hget_and_hmget() {
    let mut h = harness_with_hash(&[("a", "1"), ("b", "")]);
    assert_eq!(h.run(&["HGET", "h", "a"]), "$1\r\n1\r\n");
    assert_eq!(h.run(&["HGET", "h", "b"]), "$0\r\n\r\n");
    assert_eq!(h.run(&["HGET", "h", "zz"]), "$-1\r\n");
    assert_eq!(h.run(&["HGET", "nokey", "a"]), "$-1\r\n");
    assert_eq!(
        h.run(&["HMGET", "h", "a", "zz", "b"]),
        "*3\r\n$1\r\n1\r\n$-1\r\n$0\r\n\r\n"
    );
    assert_eq!(h.run(&["HMGET", "nokey", "a", "b"]), "*2\r\n$-1\r\n$-1\r\n");
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["HGET", "h", "zz"]), "_\r\n");
    assert_eq!(h.run(&["HMGET", "h", "zz", "a"]), "*2\r\n_\r\n$1\r\n1\r\n");
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HGET", "s", "a"]), WRONGTYPE);
    assert_eq!(h.run(&["HMGET", "s", "a"]), WRONGTYPE);
}

#[test]
fn hdel_removes_fields_and_the_emptied_key() {
    let mut h = harness_with_hash(&[("a", "1"), ("b", "2"), ("c", "3")]);
    assert_eq!(h.run(&["HDEL", "h", "a", "a", "zz"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["HDEL h a a zz"]);
    assert_eq!(h.run(&["HDEL", "h", "zz"]), ":0\r\n");
    assert!(h.effects.is_empty(), "nothing deleted, nothing logged");
    assert_eq!(h.run(&["HDEL", "h", "b", "c"]), ":2\r\n");
    assert!(!h.db.contains(b"h"), "an emptied hash is deleted");
    assert_eq!(h.run(&["HDEL", "h", "b"]), ":0\r\n");
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HDEL", "s", "a"]), WRONGTYPE);
}

#[test]
fn lengths_and_existence() {
    let mut h = harness_with_hash(&[("a", "hello"), ("n", "12345")]);
    assert_eq!(h.run(&["HLEN", "h"]), ":2\r\n");
    assert_eq!(h.run(&["HLEN", "nokey"]), ":0\r\n");
    assert_eq!(h.run(&["HSTRLEN", "h", "a"]), ":5\r\n");
    assert_eq!(h.run(&["HSTRLEN", "h", "n"]), ":5\r\n");
    assert_eq!(h.run(&["HSTRLEN", "h", "zz"]), ":0\r\n");
    assert_eq!(h.run(&["HSTRLEN", "nokey", "a"]), ":0\r\n");
    assert_eq!(h.run(&["HEXISTS", "h", "a"]), ":1\r\n");
    assert_eq!(h.run(&["HEXISTS", "h", "zz"]), ":0\r\n");
    assert_eq!(h.run(&["HEXISTS", "nokey", "a"]), ":0\r\n");
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HLEN", "s"]), WRONGTYPE);
    for command in ["HSTRLEN", "HEXISTS"] {
        assert_eq!(h.run(&[command, "s", "a"]), WRONGTYPE);
    }
}

#[test]
fn hkeys_hvals_hgetall_in_both_protocols() {
    let mut h = harness_with_hash(&[("a", "1"), ("b", "2")]);
    assert_eq!(sorted(&h.run(&["HKEYS", "h"])), vec!["a", "b"]);
    assert_eq!(sorted(&h.run(&["HVALS", "h"])), vec!["1", "2"]);
    let all = decode(&h.run(&["HGETALL", "h"]));
    let Resp::Array(items) = all else {
        panic!("RESP2 HGETALL is a flat array")
    };
    let mut pairs: Vec<(String, String)> = items
        .chunks(2)
        .map(|pair| (pair[0].text(), pair[1].text()))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert_eq!(h.run(&["HGETALL", "nokey"]), "*0\r\n");
    assert_eq!(h.run(&["HKEYS", "nokey"]), "*0\r\n");

    h.protocol = Protocol::Resp3;
    let Resp::Map(mut pairs) = decode(&h.run(&["HGETALL", "h"])) else {
        panic!("RESP3 HGETALL is a map")
    };
    pairs.sort_by_key(|(field, _)| field.text());
    assert_eq!(pairs[0], (Resp::Bulk("a".into()), Resp::Bulk("1".into())));
    assert_eq!(h.run(&["HGETALL", "nokey"]), "%0\r\n");
    assert!(
        h.run(&["HKEYS", "h"]).starts_with("*2\r\n"),
        "HKEYS stays an array"
    );
    assert_eq!(h.run(&["HVALS", "nokey"]), "*0\r\n");
    h.run(&["SET", "s", "x"]);
    for command in ["HKEYS", "HVALS", "HGETALL"] {
        assert_eq!(h.run(&[command, "s"]), WRONGTYPE);
    }
}

#[test]
fn hincrby_adds_and_checks_every_input() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(h.effects_text(), vec!["HINCRBY h n 5"]);
    assert_eq!(h.run(&["HINCRBY", "h", "n", "-7"]), ":-2\r\n");
    assert_eq!(h.run(&["HGET", "h", "n"]), "$2\r\n-2\r\n");
    assert_eq!(
        h.run(&["HINCRBY", "h", "n", "1.5"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    h.run(&[
        "HSET",
        "h",
        "text",
        "abc",
        "spaced",
        " 1",
        "big",
        "9223372036854775807",
    ]);
    assert_eq!(
        h.run(&["HINCRBY", "h", "text", "1"]),
        "-ERR hash value is not an integer\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBY", "h", "spaced", "1"]),
        "-ERR hash value is not an integer\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBY", "h", "big", "1"]),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert!(h.effects.is_empty());
    assert_eq!(
        h.run(&["HGET", "h", "big"]),
        "$19\r\n9223372036854775807\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBY", "h", "big", "-9223372036854775808"]),
        ":-1\r\n"
    );
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HINCRBY", "s", "n", "1"]), WRONGTYPE);
    // The increment is parsed before the key is looked at.
    assert_eq!(
        h.run(&["HINCRBY", "s", "n", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn hincrbyfloat_uses_long_double_text_and_logs_hset() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HINCRBYFLOAT", "h", "f", "10.5"]), "$4\r\n10.5\r\n");
    assert_eq!(h.effects_text(), vec!["HSET h f 10.5"]);
    assert_eq!(h.run(&["HINCRBYFLOAT", "h", "f", "0.1"]), "$4\r\n10.6\r\n");
    assert_eq!(h.run(&["HINCRBYFLOAT", "h", "g", "0.1"]), "$3\r\n0.1\r\n");
    assert_eq!(h.run(&["HINCRBYFLOAT", "h", "g", "0.2"]), "$3\r\n0.3\r\n");
    assert_eq!(h.effects_text(), vec!["HSET h g 0.3"]);
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "n", "5.0e3"]),
        "$4\r\n5000\r\n"
    );
    h.run(&["HSET", "h", "i", "17179869184"]);
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "i", "1.5"]),
        "$13\r\n17179869185.5\r\n"
    );
    // RESP3 keeps the bulk string reply.
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "i", "0.5"]),
        "$11\r\n17179869186\r\n"
    );
}

#[test]
fn hincrbyfloat_errors_change_nothing() {
    let mut h = harness_with_hash(&[("text", "abc"), ("nul", "1\u{0}2"), ("f", "1")]);
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "f", "x"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "text", "1"]),
        "-ERR hash value is not a float\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "nul", "1"]),
        "-ERR hash value is not a float\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "f", "inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    h.run(&["HSET", "h", "infinite", "inf", "huge", "1e4932"]);
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "infinite", "1"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "huge", "1e4932"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "new", "nan"]),
        "-ERR value is not a valid float\r\n"
    );
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["HGET", "h", "f"]), "$1\r\n1\r\n");
    assert_eq!(h.run(&["HEXISTS", "h", "new"]), ":0\r\n");
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "fresh", "f", "-inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    assert!(!h.db.contains(b"fresh"), "no empty hash is left behind");
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HINCRBYFLOAT", "s", "f", "1"]), WRONGTYPE);
    // The increment is checked before the key type.
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "s", "f", "inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
}

#[test]
fn hrandfield_without_count() {
    let mut h = harness_with_hash(&[("a", "1"), ("b", "2")]);
    let field = decode(&h.run(&["HRANDFIELD", "h"])).text();
    assert!(field == "a" || field == "b");
    assert!(
        h.effects.is_empty(),
        "a read-only random choice is not logged"
    );
    assert_eq!(h.run(&["HRANDFIELD", "nokey"]), "$-1\r\n");
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["HRANDFIELD", "nokey"]), "_\r\n");
}

#[test]
fn hrandfield_counts() {
    let fields: Vec<(String, String)> = (0..20)
        .map(|i| (format!("f{i}"), format!("v{i}")))
        .collect();
    let mut h = Harness::new();
    for (field, value) in &fields {
        h.run(&["HSET", "h", field, value]);
    }
    assert_eq!(h.run(&["HRANDFIELD", "h", "0"]), "*0\r\n");
    assert_eq!(h.run(&["HRANDFIELD", "nokey", "5"]), "*0\r\n");
    // A positive count gives distinct fields, at most all of them.
    let five = sorted(&h.run(&["HRANDFIELD", "h", "5"]));
    assert_eq!(five.len(), 5);
    assert!(five.windows(2).all(|w| w[0] != w[1]));
    let twelve = sorted(&h.run(&["HRANDFIELD", "h", "12"]));
    assert_eq!(twelve.len(), 12);
    assert!(twelve.windows(2).all(|w| w[0] != w[1]));
    assert_eq!(sorted(&h.run(&["HRANDFIELD", "h", "100"])).len(), 20);
    // A negative count keeps its length and may repeat.
    let repeated = decode(&h.run(&["HRANDFIELD", "h", "-50"]));
    assert_eq!(repeated.items().len(), 50);
    assert!(repeated.items().iter().all(|f| f.text().starts_with('f')));
}

#[test]
fn hrandfield_withvalues_shapes() {
    let mut h = harness_with_hash(&[("a", "1"), ("b", "2"), ("c", "3")]);
    let flat = decode(&h.run(&["HRANDFIELD", "h", "-4", "WITHVALUES"]));
    assert_eq!(flat.items().len(), 8);
    for pair in flat.items().chunks(2) {
        let (field, value) = (pair[0].text(), pair[1].text());
        let expected = ((field.as_bytes()[0] - b'a' + b'1') as char).to_string();
        assert_eq!(value, expected);
    }
    let all = decode(&h.run(&["HRANDFIELD", "h", "10", "withvalues"]));
    assert_eq!(all.items().len(), 6);

    h.protocol = Protocol::Resp3;
    let nested = decode(&h.run(&["HRANDFIELD", "h", "2", "WITHVALUES"]));
    assert_eq!(nested.items().len(), 2);
    for pair in nested.items() {
        assert_eq!(pair.items().len(), 2, "RESP3 nests each pair");
    }
    let nested = decode(&h.run(&["HRANDFIELD", "h", "-5", "WITHVALUES"]));
    assert_eq!(nested.items().len(), 5);
    assert_eq!(
        h.run(&["HRANDFIELD", "nokey", "-5", "WITHVALUES"]),
        "*0\r\n"
    );
}

#[test]
fn hrandfield_argument_errors() {
    let mut h = harness_with_hash(&[("a", "1")]);
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "1", "WITHSCORES"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"]),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"]),
        "-ERR value is out of range\r\n"
    );
    // The count is checked before the key: a missing key still errors.
    assert_eq!(
        h.run(&["HRANDFIELD", "nokey", "1", "bogus"]),
        "-ERR syntax error\r\n"
    );
    // A huge repeat count is refused instead of filling memory.
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "-9223372036854775807"]),
        "-ERR value is out of range\r\n"
    );
    // A huge positive count is bounded by the hash itself.
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "9223372036854775807"]),
        "*1\r\n$1\r\na\r\n"
    );
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HRANDFIELD", "s"]), WRONGTYPE);
    assert_eq!(h.run(&["HRANDFIELD", "s", "3"]), WRONGTYPE);
}

#[test]
fn hrandfield_is_repeatable_from_the_seed() {
    let run = || {
        let mut h = Harness::new();
        for i in 0..50 {
            h.run(&["HSET", "h", &format!("f{i}"), "v"]);
        }
        h.run(&["HRANDFIELD", "h", "-10"])
    };
    assert_eq!(run(), run());
}

#[test]
fn hscan_returns_a_small_hash_whole() {
    let mut h = Harness::new();
    for i in 0..40 {
        h.run(&["HSET", "h", &format!("f{i}"), &format!("v{i}")]);
    }
    // Like a Redis listpack hash: everything at once, cursor 0, whatever
    // the cursor and COUNT.
    let reply = decode(&h.run(&["HSCAN", "h", "0"]));
    assert_eq!(reply.items()[0], Resp::Bulk("0".into()));
    assert_eq!(reply.items()[1].items().len(), 80);
    let reply = decode(&h.run(&["HSCAN", "h", "123", "COUNT", "1", "MATCH", "f1*"]));
    assert_eq!(reply.items()[0], Resp::Bulk("0".into()));
    let items = reply.items()[1].items();
    let fields: Vec<String> = items.chunks(2).map(|pair| pair[0].text()).collect();
    assert_eq!(fields.len(), 11, "f1 and f10..f19: {fields:?}");
    for pair in items.chunks(2) {
        assert_eq!(pair[1].text(), pair[0].text().replace('f', "v"));
    }
    assert!(h.effects.is_empty());
}

#[test]
fn hscan_walks_a_large_hash_to_the_end() {
    let mut h = Harness::new();
    for i in 0..500 {
        h.run(&["HSET", "h", &format!("field:{i}"), "v"]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = decode(&h.run(&["HSCAN", "h", &cursor, "COUNT", "20"]));
        cursor = reply.items()[0].text();
        let items = reply.items()[1].items();
        assert!(items.chunks_exact(2).remainder().is_empty());
        for pair in items.chunks(2) {
            seen.insert(pair[0].text());
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 1_000);
    }
    assert_eq!(seen.len(), 500);
    assert!(calls > 5, "COUNT 20 over 500 fields takes several calls");
}

#[test]
fn hscan_values_longer_than_listpack_values_are_scanned() {
    let mut h = Harness::new();
    let long = "x".repeat(65);
    for i in 0..30 {
        h.run(&["HSET", "h", &format!("f{i}"), &long]);
    }
    let reply = decode(&h.run(&["HSCAN", "h", "0", "COUNT", "2"]));
    assert_ne!(reply.items()[0], Resp::Bulk("0".into()));
}

#[test]
fn hscan_argument_checks_in_redis_order() {
    let mut h = harness_with_hash(&[("a", "1")]);
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["HSCAN", "h", "x"]), "-ERR invalid cursor\r\n");
    // The cursor is checked before the key type...
    assert_eq!(h.run(&["HSCAN", "s", "x"]), "-ERR invalid cursor\r\n");
    // ...the key type before the options...
    assert_eq!(h.run(&["HSCAN", "s", "0", "COUNT", "0"]), WRONGTYPE);
    // ...and a missing key answers an empty scan without reading them.
    assert_eq!(
        h.run(&["HSCAN", "nokey", "0", "BOGUS"]),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(
        h.run(&["HSCAN", "h", "0", "COUNT", "0"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["HSCAN", "h", "0", "COUNT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.run(&["HSCAN", "h", "0", "MATCH"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["HSCAN", "h", "0", "TYPE", "hash"]),
        "-ERR syntax error\r\n"
    );
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["HSCAN", "h", "0"]),
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
}

#[test]
fn resp3_empty_replies() {
    let mut h = resp3();
    assert_eq!(h.run(&["HKEYS", "nokey"]), "*0\r\n");
    assert_eq!(h.run(&["HRANDFIELD", "nokey", "3"]), "*0\r\n");
    assert_eq!(h.run(&["HSCAN", "nokey", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn expired_hash_reads_as_missing() {
    let mut h = harness_with_hash(&[("a", "1")]);
    h.db.set_expire(b"h", h.db.now_ms() + 10);
    h.advance_ms(10);
    assert_eq!(h.run(&["HGET", "h", "a"]), "$-1\r\n");
    assert_eq!(h.effects_text(), vec!["DEL h"]);
    assert_eq!(h.run(&["HSET", "h", "b", "2"]), ":1\r\n");
    assert_eq!(h.run(&["HLEN", "h"]), ":1\r\n");
}

#[test]
fn hash_writes_replay_to_the_same_keyspace() {
    let setup: &[&[&str]] = &[&["HSET", "h", "a", "1", "f", "0.1", "n", "5"]];
    for command in [
        &["HSET", "h", "a", "2", "b", "3"][..],
        &["HMSET", "h", "a", "2"],
        &["HSETNX", "h", "c", "1"],
        &["HDEL", "h", "a", "f", "n"],
        &["HINCRBY", "h", "n", "-9"],
        &["HINCRBYFLOAT", "h", "f", "0.2"],
        &["HINCRBYFLOAT", "other", "f", "1e-3"],
    ] {
        assert_replay_equivalent(setup, command);
    }
}

#[test]
fn commands_that_change_nothing_leave_watched_keys_alone() {
    let mut h = harness_with_hash(&[("a", "1")]);
    h.db.watch(b"h");
    h.run(&["HDEL", "h", "zz"]);
    h.run(&["HSETNX", "h", "a", "2"]);
    h.run(&["HGETALL", "h"]);
    h.run(&["HSCAN", "h", "0"]);
    h.run(&["HRANDFIELD", "h", "-3"]);
    assert!(!h.db.has_touched_watched());
    h.run(&["HSET", "h", "a", "1"]);
    assert!(
        h.db.has_touched_watched(),
        "HSET always writes, as in Redis"
    );
}
