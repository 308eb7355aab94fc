//! Unit tests of the set commands, through the command harness.

use bytes::Bytes;
use daisy_protocol::Protocol;

use crate::hash_test_support::{assert_replay_equivalent, decode, sorted, Resp};
use crate::testing::Harness;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn harness_with(sets: &[(&str, &[&str])]) -> Harness {
    let mut h = Harness::new();
    for (key, members) in sets {
        let mut command = vec!["SADD", key];
        command.extend_from_slice(members);
        h.run(&command);
    }
    h.run(&["SET", "str", "x"]);
    h
}

fn members(h: &mut Harness, key: &str) -> Vec<String> {
    sorted(&h.run(&["SMEMBERS", key]))
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    items.sort();
    items
}

#[test]
fn sadd_counts_new_members_and_logs_only_changes() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SADD", "s", "a", "b", "a"]), ":2\r\n");
    assert_eq!(h.effects_text(), vec!["SADD s a b a"]);
    assert_eq!(h.run(&["SADD", "s", "a", "c"]), ":1\r\n");
    assert_eq!(h.run(&["SADD", "s", "a", "b"]), ":0\r\n");
    assert!(h.effects.is_empty(), "nothing added, nothing logged");
    assert_eq!(members(&mut h, "s"), strings(&["a", "b", "c"]));
    h.run(&["SET", "str", "x"]);
    assert_eq!(h.run(&["SADD", "str", "a"]), WRONGTYPE);
}

#[test]
fn srem_removes_members_and_the_emptied_key() {
    let mut h = harness_with(&[("s", &["a", "b", "c"])]);
    assert_eq!(h.run(&["SREM", "s", "a", "a", "zz"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["SREM s a a zz"]);
    assert_eq!(h.run(&["SREM", "s", "zz"]), ":0\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["SREM", "s", "b", "c"]), ":2\r\n");
    assert!(!h.db.contains(b"s"));
    assert_eq!(h.run(&["SREM", "s", "a"]), ":0\r\n");
    assert_eq!(h.run(&["SREM", "str", "a"]), WRONGTYPE);
}

#[test]
fn membership_and_cardinality() {
    let mut h = harness_with(&[("s", &["a", "b"])]);
    assert_eq!(h.run(&["SCARD", "s"]), ":2\r\n");
    assert_eq!(h.run(&["SCARD", "nokey"]), ":0\r\n");
    assert_eq!(h.run(&["SISMEMBER", "s", "a"]), ":1\r\n");
    assert_eq!(h.run(&["SISMEMBER", "s", "z"]), ":0\r\n");
    assert_eq!(h.run(&["SISMEMBER", "nokey", "a"]), ":0\r\n");
    assert_eq!(
        h.run(&["SMISMEMBER", "s", "a", "z", "b"]),
        "*3\r\n:1\r\n:0\r\n:1\r\n"
    );
    assert_eq!(
        h.run(&["SMISMEMBER", "nokey", "a", "b"]),
        "*2\r\n:0\r\n:0\r\n"
    );
    // Integers, not booleans, in RESP3 too.
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["SISMEMBER", "s", "a"]), ":1\r\n");
    assert_eq!(h.run(&["SCARD", "str"]), WRONGTYPE);
    assert_eq!(h.run(&["SISMEMBER", "str", "a"]), WRONGTYPE);
    assert_eq!(h.run(&["SMISMEMBER", "str", "a"]), WRONGTYPE);
    assert_eq!(
        h.run(&["SMISMEMBER", "s"]),
        "-ERR wrong number of arguments for 'smismember' command\r\n"
    );
}

#[test]
fn smembers_is_a_set_reply_and_integer_sets_are_sorted() {
    let mut h = harness_with(&[("ints", &["10", "-2", "3"]), ("words", &["x", "y"])]);
    assert_eq!(
        h.run(&["SMEMBERS", "ints"]),
        "*3\r\n$2\r\n-2\r\n$1\r\n3\r\n$2\r\n10\r\n"
    );
    assert_eq!(sorted(&h.run(&["SMEMBERS", "words"])), strings(&["x", "y"]));
    assert_eq!(h.run(&["SMEMBERS", "nokey"]), "*0\r\n");
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["SMEMBERS", "ints"]),
        "~3\r\n$2\r\n-2\r\n$1\r\n3\r\n$2\r\n10\r\n"
    );
    assert_eq!(h.run(&["SMEMBERS", "nokey"]), "~0\r\n");
    assert_eq!(h.run(&["SMEMBERS", "str"]), WRONGTYPE);
}

#[test]
fn smove_moves_one_member() {
    let mut h = harness_with(&[("src", &["a", "b"]), ("dst", &["b"])]);
    assert_eq!(h.run(&["SMOVE", "src", "dst", "a"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["SMOVE src dst a"]);
    assert_eq!(members(&mut h, "dst"), strings(&["a", "b"]));
    // Already in the destination: still removed from the source.
    assert_eq!(h.run(&["SMOVE", "src", "dst", "b"]), ":1\r\n");
    assert!(!h.db.contains(b"src"), "an emptied source is deleted");
    assert_eq!(h.run(&["SMOVE", "dst", "fresh", "a"]), ":1\r\n");
    assert_eq!(members(&mut h, "fresh"), strings(&["a"]));
    assert_eq!(h.run(&["SMOVE", "dst", "fresh", "zz"]), ":0\r\n");
    assert!(h.effects.is_empty());
}

#[test]
fn smove_checks_in_redis_order() {
    let mut h = harness_with(&[("s", &["a"])]);
    // A missing source answers 0 before the destination type is checked.
    assert_eq!(h.run(&["SMOVE", "nokey", "str", "a"]), ":0\r\n");
    assert_eq!(h.run(&["SMOVE", "str", "s", "a"]), WRONGTYPE);
    assert_eq!(h.run(&["SMOVE", "s", "str", "a"]), WRONGTYPE);
    assert_eq!(h.run(&["SMOVE", "s", "str", "zz"]), WRONGTYPE);
    // The same key: membership, no change.
    assert_eq!(h.run(&["SMOVE", "s", "s", "a"]), ":1\r\n");
    assert_eq!(h.run(&["SMOVE", "s", "s", "zz"]), ":0\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(members(&mut h, "s"), strings(&["a"]));
}

#[test]
fn srandmember_without_count() {
    let mut h = harness_with(&[("s", &["a", "b"])]);
    let member = decode(&h.run(&["SRANDMEMBER", "s"])).text();
    assert!(member == "a" || member == "b");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["SRANDMEMBER", "nokey"]), "$-1\r\n");
    assert_eq!(
        h.run(&["SRANDMEMBER", "s", "1", "2"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(h.run(&["SRANDMEMBER", "str"]), WRONGTYPE);
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["SRANDMEMBER", "nokey"]), "_\r\n");
}

#[test]
fn srandmember_counts() {
    let all: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut h = harness_with(&[("s", &refs), ("ints", &["3", "1", "2"])]);
    assert_eq!(h.run(&["SRANDMEMBER", "s", "0"]), "*0\r\n");
    assert_eq!(h.run(&["SRANDMEMBER", "nokey", "3"]), "*0\r\n");
    for count in [1, 2, 9, 10, 11, 29] {
        let chosen = sorted(&h.run(&["SRANDMEMBER", "s", &count.to_string()]));
        assert_eq!(chosen.len(), count);
        assert!(
            chosen.windows(2).all(|w| w[0] != w[1]),
            "distinct: {chosen:?}"
        );
    }
    assert_eq!(sorted(&h.run(&["SRANDMEMBER", "s", "30"])).len(), 30);
    assert_eq!(
        h.run(&["SRANDMEMBER", "ints", "100"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    let repeated = decode(&h.run(&["SRANDMEMBER", "ints", "-7"]));
    assert_eq!(repeated.items().len(), 7);
    // Redis 7.0 answers arrays here, not RESP3 sets.
    h.protocol = Protocol::Resp3;
    assert!(h.run(&["SRANDMEMBER", "s", "3"]).starts_with("*3\r\n"));
    assert_eq!(h.run(&["SRANDMEMBER", "nokey", "3"]), "*0\r\n");
    assert!(h.effects.is_empty());
}

#[test]
fn srandmember_count_errors() {
    let mut h = harness_with(&[("s", &["a"])]);
    assert_eq!(
        h.run(&["SRANDMEMBER", "s", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.run(&["SRANDMEMBER", "s", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    // The count is parsed before the key is looked at.
    assert_eq!(
        h.run(&["SRANDMEMBER", "str", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(h.run(&["SRANDMEMBER", "str", "2"]), WRONGTYPE);
    // Repeats are capped rather than building an unbounded reply.
    assert_eq!(
        h.run(&["SRANDMEMBER", "s", "-9223372036854775807"]),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(
        h.run(&["SRANDMEMBER", "s", "9223372036854775807"]),
        "*1\r\n$1\r\na\r\n"
    );
}

#[test]
fn spop_one_member_logs_srem() {
    let mut h = harness_with(&[("s", &["a", "b"])]);
    let popped = decode(&h.run(&["SPOP", "s"])).text();
    assert_eq!(h.effects_text(), vec![format!("SREM s {popped}")]);
    assert_eq!(h.run(&["SCARD", "s"]), ":1\r\n");
    h.run(&["SPOP", "s"]);
    assert!(!h.db.contains(b"s"), "the emptied set is deleted");
    assert_eq!(h.run(&["SPOP", "s"]), "$-1\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["SPOP", "str"]), WRONGTYPE);
    assert_eq!(h.run(&["SPOP", "s", "1", "2"]), "-ERR syntax error\r\n");
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["SPOP", "s"]), "_\r\n");
}

#[test]
fn spop_with_count_pops_distinct_members() {
    for count in [1, 3, 10, 17, 18, 19] {
        let all: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut h = harness_with(&[("s", &refs)]);
        let reply = h.run(&["SPOP", "s", &count.to_string()]);
        let effect = h.effects[0].clone();
        let popped = sorted(&reply);
        assert_eq!(popped.len(), count);
        assert!(popped.windows(2).all(|w| w[0] != w[1]));
        let left = members(&mut h, "s");
        assert_eq!(left.len(), 20 - count);
        assert!(left.iter().all(|m| !popped.contains(m)));
        assert_eq!(effect.len(), count + 2);
        assert_eq!(&effect[..2], &[Bytes::from("SREM"), Bytes::from("s")]);
        let mut logged: Vec<String> = effect[2..]
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        logged.sort();
        assert_eq!(logged, popped, "the log names exactly the popped members");
    }
}

#[test]
fn spop_with_count_replays_to_the_same_keyspace() {
    let setup: &[&[&str]] = &[&["SADD", "s", "a", "b", "c", "d", "e", "f", "g"]];
    for count in ["1", "3", "6", "7", "100"] {
        assert_replay_equivalent(setup, &["SPOP", "s", count]);
    }
    assert_replay_equivalent(setup, &["SPOP", "s"]);
}

#[test]
fn spop_whole_set_logs_del() {
    let mut h = harness_with(&[("ints", &["3", "1", "2"])]);
    assert_eq!(
        h.run(&["SPOP", "ints", "3"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(h.effects_text(), vec!["DEL ints"]);
    assert!(!h.db.contains(b"ints"));
}

#[test]
fn spop_count_edge_cases() {
    let mut h = harness_with(&[("s", &["a"])]);
    let out_of_range = "-ERR value is out of range, must be positive\r\n";
    assert_eq!(h.run(&["SPOP", "s", "-1"]), out_of_range);
    assert_eq!(h.run(&["SPOP", "s", "x"]), out_of_range);
    assert_eq!(h.run(&["SPOP", "str", "-1"]), out_of_range);
    assert_eq!(h.run(&["SPOP", "str", "1"]), WRONGTYPE);
    assert_eq!(h.run(&["SPOP", "s", "0"]), "*0\r\n");
    assert_eq!(h.run(&["SPOP", "nokey", "2"]), "*0\r\n");
    assert!(h.effects.is_empty());
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["SPOP", "s", "0"]), "~0\r\n");
    assert_eq!(h.run(&["SPOP", "nokey", "2"]), "~0\r\n");
    assert_eq!(
        h.run(&["SPOP", "s", "9223372036854775807"]),
        "~1\r\n$1\r\na\r\n"
    );
}

#[test]
fn sinter_and_its_checks() {
    let mut h = harness_with(&[
        ("a", &["1", "2", "3", "x"]),
        ("b", &["3", "2", "x", "y"]),
        ("c", &["2", "3", "4"]),
    ]);
    assert_eq!(
        h.run(&["SINTER", "a", "b", "c"]),
        "*2\r\n$1\r\n2\r\n$1\r\n3\r\n",
        "the smallest set is an intset, so the result is sorted"
    );
    assert_eq!(
        sorted(&h.run(&["SINTER", "a", "b"])),
        strings(&["2", "3", "x"])
    );
    assert_eq!(sorted(&h.run(&["SINTER", "a", "a"])).len(), 4);
    assert_eq!(h.run(&["SINTER", "a", "nokey"]), "*0\r\n");
    // A wrong type anywhere wins over a missing key.
    assert_eq!(h.run(&["SINTER", "nokey", "str"]), WRONGTYPE);
    assert_eq!(h.run(&["SINTER", "str", "a"]), WRONGTYPE);
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["SINTER", "a", "nokey"]), "~0\r\n");
    assert!(h.run(&["SINTER", "a", "b"]).starts_with("~3\r\n"));
}

#[test]
fn sintercard_arguments() {
    let mut h = harness_with(&[("a", &["1", "2", "3"]), ("b", &["2", "3", "4"])]);
    assert_eq!(h.run(&["SINTERCARD", "2", "a", "b"]), ":2\r\n");
    assert_eq!(h.run(&["SINTERCARD", "1", "a"]), ":3\r\n");
    assert_eq!(
        h.run(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]),
        ":1\r\n"
    );
    assert_eq!(
        h.run(&["SINTERCARD", "2", "a", "b", "limit", "0"]),
        ":2\r\n"
    );
    assert_eq!(
        h.run(&["SINTERCARD", "2", "a", "b", "LIMIT", "5", "LIMIT", "1"]),
        ":1\r\n"
    );
    assert_eq!(h.run(&["SINTERCARD", "2", "a", "nokey"]), ":0\r\n");
    let numkeys = "-ERR numkeys should be greater than 0\r\n";
    assert_eq!(h.run(&["SINTERCARD", "0", "a"]), numkeys);
    assert_eq!(h.run(&["SINTERCARD", "-1", "a"]), numkeys);
    assert_eq!(h.run(&["SINTERCARD", "x", "a"]), numkeys);
    assert_eq!(
        h.run(&["SINTERCARD", "3", "a", "b"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    let limit = "-ERR LIMIT can't be negative\r\n";
    assert_eq!(h.run(&["SINTERCARD", "1", "a", "LIMIT", "-1"]), limit);
    assert_eq!(h.run(&["SINTERCARD", "1", "a", "LIMIT", "x"]), limit);
    assert_eq!(
        h.run(&["SINTERCARD", "1", "a", "LIMIT"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["SINTERCARD", "1", "a", "BOGUS", "1"]),
        "-ERR syntax error\r\n"
    );
    // Arguments are checked before the keys.
    assert_eq!(h.run(&["SINTERCARD", "1", "str", "LIMIT", "-1"]), limit);
    assert_eq!(h.run(&["SINTERCARD", "2", "nokey", "str"]), WRONGTYPE);
    assert_eq!(
        h.run(&["SINTERCARD", "1"]),
        "-ERR wrong number of arguments for 'sintercard' command\r\n"
    );
}

#[test]
fn sintercard_key_positions() {
    let spec = crate::lookup(b"sintercard").expect("sintercard is in the table");
    let argv: Vec<Bytes> = ["SINTERCARD", "2", "a", "b", "LIMIT", "1"]
        .iter()
        .map(|a| Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    assert_eq!(spec.key_indices(&argv), vec![2, 3]);
    assert!(spec.key_indices(&argv[..2]).is_empty());
}

#[test]
fn sinterstore_overwrites_and_deletes() {
    let mut h = harness_with(&[("a", &["1", "2", "x"]), ("b", &["2", "x", "y"])]);
    h.run(&["SET", "dst", "old"]);
    h.db.set_expire(b"dst", h.db.now_ms() + 100_000);
    assert_eq!(h.run(&["SINTERSTORE", "dst", "a", "b"]), ":2\r\n");
    assert_eq!(h.effects_text(), vec!["SINTERSTORE dst a b"]);
    assert_eq!(members(&mut h, "dst"), strings(&["2", "x"]));
    assert_eq!(
        h.db.expire_at(b"dst"),
        None,
        "the old TTL goes with the old value"
    );
    // An empty result deletes the destination...
    assert_eq!(h.run(&["SINTERSTORE", "dst", "a", "nokey"]), ":0\r\n");
    assert!(!h.db.contains(b"dst"));
    assert_eq!(h.effects_text(), vec!["SINTERSTORE dst a nokey"]);
    // ...and when there was nothing to delete, nothing is logged.
    assert_eq!(h.run(&["SINTERSTORE", "dst", "a", "nokey"]), ":0\r\n");
    assert!(h.effects.is_empty());
    // The destination may be one of the sources.
    assert_eq!(h.run(&["SINTERSTORE", "a", "a", "b"]), ":2\r\n");
    assert_eq!(members(&mut h, "a"), strings(&["2", "x"]));
    // A wrong-typed source changes nothing.
    h.run(&["SADD", "dst", "keep"]);
    assert_eq!(h.run(&["SINTERSTORE", "dst", "a", "str"]), WRONGTYPE);
    assert_eq!(members(&mut h, "dst"), strings(&["keep"]));
}

#[test]
fn sunion_and_sunionstore() {
    let mut h = harness_with(&[("a", &["3", "1"]), ("b", &["2", "1"]), ("w", &["x"])]);
    assert_eq!(
        h.run(&["SUNION", "a", "b", "nokey"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        sorted(&h.run(&["SUNION", "a", "w"])),
        strings(&["1", "3", "x"])
    );
    assert_eq!(h.run(&["SUNION", "nokey"]), "*0\r\n");
    assert_eq!(h.run(&["SUNION", "a", "str"]), WRONGTYPE);
    assert_eq!(h.run(&["SUNIONSTORE", "dst", "a", "b"]), ":3\r\n");
    assert_eq!(h.effects_text(), vec!["SUNIONSTORE dst a b"]);
    assert_eq!(members(&mut h, "dst"), strings(&["1", "2", "3"]));
    assert_eq!(h.run(&["SUNIONSTORE", "dst", "nokey"]), ":0\r\n");
    assert!(!h.db.contains(b"dst"));
    assert_eq!(
        h.run(&["SUNIONSTORE", "str", "a"]),
        ":2\r\n",
        "overwrites any type"
    );
    assert_eq!(members(&mut h, "str"), strings(&["1", "3"]));
    h.protocol = Protocol::Resp3;
    assert!(h.run(&["SUNION", "a", "b"]).starts_with("~3\r\n"));
}

#[test]
fn sdiff_and_sdiffstore() {
    let mut h = harness_with(&[
        ("a", &["1", "2", "3", "4", "x"]),
        ("b", &["2"]),
        ("c", &["3", "x", "z"]),
    ]);
    assert_eq!(
        h.run(&["SDIFF", "a", "b", "c"]),
        "*2\r\n$1\r\n1\r\n$1\r\n4\r\n"
    );
    assert_eq!(sorted(&h.run(&["SDIFF", "a", "nokey"])).len(), 5);
    assert_eq!(h.run(&["SDIFF", "a", "a"]), "*0\r\n");
    assert_eq!(h.run(&["SDIFF", "nokey", "a"]), "*0\r\n");
    assert_eq!(h.run(&["SDIFF", "nokey", "str"]), WRONGTYPE);
    assert_eq!(h.run(&["SDIFFSTORE", "dst", "a", "b", "c"]), ":2\r\n");
    assert_eq!(h.effects_text(), vec!["SDIFFSTORE dst a b c"]);
    assert_eq!(members(&mut h, "dst"), strings(&["1", "4"]));
    assert_eq!(h.run(&["SDIFFSTORE", "dst", "b", "a"]), ":0\r\n");
    assert!(!h.db.contains(b"dst"));
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["SDIFF", "b", "a"]), "~0\r\n");
}

#[test]
fn sdiff_walks_either_side() {
    // A large first set against a small one, and the other way round.
    let big: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    let mut h = harness_with(&[("big", &big), ("small", &["m1", "m2", "zz"])]);
    assert_eq!(sorted(&h.run(&["SDIFF", "big", "small"])).len(), 598);
    assert_eq!(sorted(&h.run(&["SDIFF", "small", "big"])), strings(&["zz"]));
}

#[test]
fn store_commands_replay_to_the_same_keyspace() {
    let setup: &[&[&str]] = &[
        &["SADD", "a", "1", "2", "x"],
        &["SADD", "b", "2", "x", "y"],
        &["SET", "dst", "old"],
    ];
    for command in [
        &["SINTERSTORE", "dst", "a", "b"][..],
        &["SUNIONSTORE", "dst", "a", "b"],
        &["SDIFFSTORE", "dst", "a", "b"],
        &["SDIFFSTORE", "dst", "a", "a"],
        &["SMOVE", "a", "b", "1"],
        &["SREM", "a", "1", "2", "x"],
    ] {
        assert_replay_equivalent(setup, command);
    }
}

#[test]
fn sscan_returns_an_intset_whole_and_sorted() {
    let mut h = harness_with(&[("ints", &["30", "10", "20", "11"])]);
    assert_eq!(
        h.run(&["SSCAN", "ints", "7", "COUNT", "1", "MATCH", "1*"]),
        "*2\r\n$1\r\n0\r\n*2\r\n$2\r\n10\r\n$2\r\n11\r\n"
    );
}

#[test]
fn sscan_walks_a_large_set_to_the_end() {
    let all: Vec<String> = (0..700).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let mut h = harness_with(&[("s", &refs)]);
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..10_000 {
        let reply = decode(&h.run(&["SSCAN", "s", &cursor, "MATCH", "m1*"]));
        cursor = reply.items()[0].text();
        for member in reply.items()[1].items() {
            assert!(member.text().starts_with("m1"));
            seen.insert(member.text());
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0");
    assert_eq!(
        seen.len(),
        all.iter().filter(|m| m.starts_with("m1")).count()
    );
}

#[test]
fn sscan_argument_checks_in_redis_order() {
    let mut h = harness_with(&[("s", &["a"])]);
    assert_eq!(h.run(&["SSCAN", "str", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(h.run(&["SSCAN", "str", "0", "COUNT", "0"]), WRONGTYPE);
    assert_eq!(
        h.run(&["SSCAN", "nokey", "0", "COUNT", "0"]),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(
        h.run(&["SSCAN", "s", "0", "COUNT", "0"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["SSCAN", "s", "0", "COUNT", "1.5"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // "-1" wraps to the largest cursor, as strtoul reads it.
    h.run(&["SADD", "ints", "1"]);
    assert_eq!(
        h.run(&["SSCAN", "ints", "-1"]),
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n1\r\n"
    );
    assert_eq!(h.run(&["SSCAN", "s", "+0x"]), "-ERR invalid cursor\r\n");
    let reply = decode(&h.run(&["SSCAN", "s", "0", "MATCH", "*"]));
    assert_eq!(reply.items()[1], Resp::Array(vec![Resp::Bulk("a".into())]));
}

#[test]
fn expired_sets_read_as_missing() {
    let mut h = harness_with(&[("a", &["1", "2"]), ("b", &["2"])]);
    h.db.set_expire(b"b", h.db.now_ms() + 5);
    h.advance_ms(5);
    assert_eq!(h.run(&["SINTER", "a", "b"]), "*0\r\n");
    assert_eq!(h.effects_text(), vec!["DEL b"]);
    assert_eq!(h.run(&["SUNION", "a", "b"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}

#[test]
fn commands_that_change_nothing_leave_watched_keys_alone() {
    let mut h = harness_with(&[("src", &["a", "b"]), ("dst", &["a"])]);
    h.db.watch(b"dst");
    h.db.watch(b"src");
    h.run(&["SADD", "dst", "a"]);
    h.run(&["SREM", "dst", "zz"]);
    h.run(&["SMOVE", "src", "src", "a"]);
    h.run(&["SINTERSTORE", "nokey", "src", "missing"]);
    h.run(&["SPOP", "src", "0"]);
    assert!(!h.db.has_touched_watched());
    h.run(&["SMOVE", "src", "dst", "a"]);
    let touched = h.db.take_touched_watched();
    assert_eq!(touched.len(), 1, "only the source changed: {touched:?}");
    h.run(&["SMOVE", "src", "dst", "b"]);
    assert_eq!(h.db.take_touched_watched().len(), 2);
}
