use std::collections::BTreeSet;

use bytes::Bytes;

use daisy_keyspace::{CompactBytes, Value};
use daisy_protocol::Protocol;

use crate::testing::Harness;

const NOW_MS: u64 = 1_700_000_000_000;

fn put_list(h: &mut Harness, key: &str) {
    let list = [CompactBytes::new(b"item")].into_iter().collect();
    h.db.set(key.as_bytes(), Value::List(Box::new(list)), false);
}

fn bulk(text: &str) -> String {
    format!("${}\r\n{}\r\n", text.len(), text)
}

/// The bulk strings of a flat array reply, in order.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with('$') && line != "$-1" {
            out.push(lines.next().unwrap_or_default().to_string());
        }
    }
    out
}

#[test]
fn del_unlink_exists_touch() {
    let mut h = Harness::new();
    h.run(&["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(h.run(&["EXISTS", "a", "a", "nokey", "b"]), ":3\r\n");
    assert_eq!(h.run(&["TOUCH", "a", "nokey", "c"]), ":2\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["DEL", "a", "nokey", "a"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["DEL a"]);
    assert_eq!(h.run(&["UNLINK", "b", "c", "x"]), ":2\r\n");
    assert_eq!(h.effects_text(), vec!["UNLINK b c"]);
    assert_eq!(h.run(&["DEL", "nokey"]), ":0\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["DBSIZE"]), ":0\r\n");
}

#[test]
fn type_names() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "v"]);
    put_list(&mut h, "l");
    assert_eq!(h.run(&["TYPE", "s"]), "+string\r\n");
    assert_eq!(h.run(&["TYPE", "l"]), "+list\r\n");
    assert_eq!(h.run(&["TYPE", "nokey"]), "+none\r\n");
}

#[test]
fn rename_moves_value_and_expiry() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["RENAME", "nokey", "x"]), "-ERR no such key\r\n");
    assert_eq!(h.run(&["RENAMENX", "nokey", "x"]), "-ERR no such key\r\n");
    h.run(&["SET", "a", "1"]);
    h.run(&["PEXPIRE", "a", "5000"]);
    put_list(&mut h, "b");
    assert_eq!(h.run(&["RENAME", "a", "a"]), "+OK\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["RENAMENX", "a", "a"]), ":0\r\n");
    assert_eq!(h.run(&["RENAMENX", "a", "b"]), ":0\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["RENAME", "a", "b"]), "+OK\r\n");
    assert_eq!(h.effects_text(), vec!["RENAME a b"]);
    assert_eq!(h.run(&["EXISTS", "a"]), ":0\r\n");
    assert_eq!(h.run(&["GET", "b"]), bulk("1"));
    assert_eq!(h.run(&["PTTL", "b"]), ":5000\r\n");
    assert_eq!(h.run(&["RENAMENX", "b", "c"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["RENAMENX b c"]);
    // Renaming over a key with an expiry drops that expiry.
    h.run(&["SET", "d", "x", "EX", "100"]);
    h.run(&["SET", "e", "y"]);
    h.run(&["RENAME", "e", "d"]);
    assert_eq!(h.run(&["TTL", "d"]), ":-1\r\n");
}

#[test]
fn copy_with_options() {
    let mut h = Harness::new();
    h.run(&["SET", "a", "1", "PX", "3000"]);
    assert_eq!(h.run(&["COPY", "a", "b"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["COPY a b"]);
    assert_eq!(h.run(&["PTTL", "b"]), ":3000\r\n");
    assert_eq!(h.run(&["COPY", "a", "b"]), ":0\r\n");
    assert!(h.effects.is_empty());
    h.run(&["SET", "a", "2"]);
    assert_eq!(h.run(&["COPY", "a", "b", "DB", "0", "REPLACE"]), ":1\r\n");
    assert_eq!(h.run(&["GET", "b"]), bulk("2"));
    assert_eq!(h.run(&["PTTL", "b"]), ":-1\r\n");
    assert_eq!(h.run(&["COPY", "nokey", "c"]), ":0\r\n");
    assert_eq!(
        h.run(&["COPY", "a", "a"]),
        "-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(
        h.run(&["COPY", "a", "c", "DB", "1"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        h.run(&["COPY", "a", "c", "DB", "-1"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        h.run(&["COPY", "a", "c", "DB", "99999999999"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(
        h.run(&["COPY", "a", "c", "DB", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(h.run(&["COPY", "a", "c", "DB"]), "-ERR syntax error\r\n");
    assert_eq!(h.run(&["COPY", "a", "c", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(h.run(&["EXISTS", "c"]), ":0\r\n");
    // Aggregates are copied deeply.
    put_list(&mut h, "l");
    assert_eq!(h.run(&["COPY", "l", "l2"]), ":1\r\n");
    assert_eq!(h.run(&["TYPE", "l2"]), "+list\r\n");
}

#[test]
fn expire_sets_absolute_time_and_records_pexpireat() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["EXPIRE", "k", "100"]), ":1\r\n");
    assert_eq!(
        h.effects_text(),
        vec![format!("PEXPIREAT k {}", NOW_MS + 100_000)]
    );
    assert_eq!(h.run(&["PEXPIRE", "k", "1500"]), ":1\r\n");
    assert_eq!(
        h.effects_text(),
        vec![format!("PEXPIREAT k {}", NOW_MS + 1500)]
    );
    assert_eq!(h.run(&["TTL", "k"]), ":2\r\n", "1.5 s rounds to 2");
    assert_eq!(h.run(&["PTTL", "k"]), ":1500\r\n");
    assert_eq!(h.run(&["EXPIREAT", "k", "1800000000"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["PEXPIREAT k 1800000000000"]);
    assert_eq!(h.run(&["EXPIRETIME", "k"]), ":1800000000\r\n");
    assert_eq!(h.run(&["PEXPIREAT", "k", "1800000000123"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["PEXPIREAT k 1800000000123"]);
    assert_eq!(h.run(&["PEXPIRETIME", "k"]), ":1800000000123\r\n");
    assert_eq!(h.run(&["EXPIRE", "nokey", "10"]), ":0\r\n");
    assert!(h.effects.is_empty());
}

#[test]
fn expire_in_the_past_deletes_and_records_del() {
    let mut h = Harness::new();
    for (command, amount) in [
        ("EXPIRE", "0"),
        ("PEXPIRE", "-5"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "1700000000000"),
    ] {
        h.run(&["SET", "k", "v"]);
        assert_eq!(h.run(&[command, "k", amount]), ":1\r\n", "{command}");
        assert_eq!(h.effects_text(), vec!["DEL k"]);
        assert_eq!(h.run(&["EXISTS", "k"]), ":0\r\n");
    }
}

#[test]
fn expire_conditions() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["EXPIRE", "k", "10", "XX"]), ":0\r\n");
    assert_eq!(
        h.run(&["EXPIRE", "k", "10", "GT"]),
        ":0\r\n",
        "no expiry is infinite"
    );
    assert_eq!(h.run(&["EXPIRE", "k", "100", "LT"]), ":1\r\n");
    assert_eq!(h.run(&["EXPIRE", "k", "10", "NX"]), ":0\r\n");
    assert_eq!(h.run(&["EXPIRE", "k", "50", "GT"]), ":0\r\n");
    assert_eq!(
        h.run(&["EXPIRE", "k", "100", "GT"]),
        ":0\r\n",
        "equal is not greater"
    );
    assert_eq!(h.run(&["EXPIRE", "k", "500", "gt"]), ":1\r\n");
    assert_eq!(h.run(&["EXPIRE", "k", "1000", "LT"]), ":0\r\n");
    assert_eq!(h.run(&["EXPIRE", "k", "50", "LT", "XX"]), ":1\r\n");
    assert_eq!(h.run(&["TTL", "k"]), ":50\r\n");
}

#[test]
fn expire_errors() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    let nx_error = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    assert_eq!(h.run(&["EXPIRE", "k", "10", "NX", "XX"]), nx_error);
    assert_eq!(h.run(&["EXPIRE", "k", "10", "nx", "lt"]), nx_error);
    assert_eq!(
        h.run(&["EXPIRE", "k", "10", "GT", "LT"]),
        "-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_eq!(
        h.run(&["EXPIRE", "k", "abc", "foo"]),
        "-ERR Unsupported option foo\r\n"
    );
    assert_eq!(
        h.run(&["EXPIRE", "k", "abc"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.run(&["EXPIRE", "k", "9223372036854775"]),
        "-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_eq!(
        h.run(&["PEXPIRE", "k", "9223372036854775807"]),
        "-ERR invalid expire time in 'pexpire' command\r\n"
    );
    assert_eq!(
        h.run(&["EXPIREAT", "k", "-9223372036854776"]),
        "-ERR invalid expire time in 'expireat' command\r\n"
    );
    assert_eq!(
        h.run(&["EXPIRE"]),
        "-ERR wrong number of arguments for 'expire' command\r\n"
    );
    assert_eq!(h.run(&["TTL", "k"]), ":-1\r\n");
    // The largest absolute time is accepted.
    assert_eq!(h.run(&["PEXPIREAT", "k", "9223372036854775807"]), ":1\r\n");
    assert_eq!(h.run(&["EXPIRETIME", "k"]), ":9223372036854776\r\n");
}

#[test]
fn ttl_family_and_persist() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["TTL", "nokey"]), ":-2\r\n");
    assert_eq!(h.run(&["PTTL", "nokey"]), ":-2\r\n");
    assert_eq!(h.run(&["EXPIRETIME", "nokey"]), ":-2\r\n");
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["TTL", "k"]), ":-1\r\n");
    assert_eq!(h.run(&["PEXPIRETIME", "k"]), ":-1\r\n");
    assert_eq!(h.run(&["PERSIST", "k"]), ":0\r\n");
    assert!(h.effects.is_empty());
    h.run(&["PEXPIRE", "k", "1499"]);
    assert_eq!(h.run(&["TTL", "k"]), ":1\r\n");
    assert_eq!(h.run(&["PERSIST", "k"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["PERSIST k"]);
    assert_eq!(h.run(&["TTL", "k"]), ":-1\r\n");
    h.run(&["PEXPIRE", "k", "100"]);
    h.advance_ms(100);
    assert_eq!(h.run(&["TTL", "k"]), ":-2\r\n");
    assert_eq!(h.effects_text(), vec!["DEL k"]);
    assert_eq!(h.run(&["PERSIST", "k"]), ":0\r\n");
}

#[test]
fn keys_matches_globs() {
    let mut h = Harness::new();
    h.run(&[
        "MSET", "hello", "1", "hallo", "2", "hxllo", "3", "world", "4",
    ]);
    let sorted = |reply: String| bulks(&reply).into_iter().collect::<BTreeSet<_>>();
    let set = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        sorted(h.run(&["KEYS", "*"])),
        set(&["hello", "hallo", "hxllo", "world"])
    );
    assert_eq!(
        sorted(h.run(&["KEYS", "h?llo"])),
        set(&["hello", "hallo", "hxllo"])
    );
    assert_eq!(
        sorted(h.run(&["KEYS", "h[ae]llo"])),
        set(&["hello", "hallo"])
    );
    assert_eq!(
        sorted(h.run(&["KEYS", "h[^e]llo"])),
        set(&["hallo", "hxllo"])
    );
    assert_eq!(sorted(h.run(&["KEYS", "*orl*"])), set(&["world"]));
    assert_eq!(h.run(&["KEYS", "nomatch*"]), "*0\r\n");
    // Expired keys are never listed.
    h.run(&["PEXPIRE", "world", "1"]);
    h.advance_ms(1);
    assert_eq!(sorted(h.run(&["KEYS", "w*"])), set(&[]));
    // `*` lists the empty key too.
    h.run(&["SET", "", "empty"]);
    assert!(bulks(&h.run(&["KEYS", "*"])).contains(&String::new()));
    assert!(!bulks(&h.run(&["KEYS", "**"])).contains(&String::new()));
}

/// Runs a full SCAN iteration and returns every key seen and the number
/// of calls.
fn scan_all(h: &mut Harness, extra: &[&str]) -> (BTreeSet<String>, usize) {
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = h.run(&args);
        calls += 1;
        let mut items = bulks(&reply).into_iter();
        cursor = items.next().expect("a cursor");
        seen.extend(items);
        if cursor == "0" {
            return (seen, calls);
        }
        assert!(calls < 100_000, "SCAN must terminate");
    }
}

#[test]
fn scan_visits_every_key() {
    let mut h = Harness::new();
    for i in 0..1000 {
        h.run(&["SET", &format!("key:{i}"), "v"]);
    }
    put_list(&mut h, "a-list");
    let (seen, calls) = scan_all(&mut h, &[]);
    assert_eq!(seen.len(), 1001);
    assert!(calls > 10, "COUNT 10 bounds each call");
    let (seen, _) = scan_all(&mut h, &["MATCH", "key:1?", "COUNT", "100"]);
    assert_eq!(seen.len(), 10);
    let (seen, _) = scan_all(&mut h, &["TYPE", "LIST"]);
    assert_eq!(seen, ["a-list".to_string()].into_iter().collect());
    let (seen, _) = scan_all(&mut h, &["TYPE", "nosuchtype"]);
    assert!(seen.is_empty());
    let (_, calls) = scan_all(&mut h, &["COUNT", "100000"]);
    assert_eq!(calls, 1);
}

#[test]
fn scan_reply_shape_and_errors() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n");
    assert!(h
        .run(&["SCAN", "18446744073709551615"])
        .starts_with("*2\r\n"));
    let invalid = "-ERR invalid cursor\r\n";
    for bad in ["abc", " 0", "0 ", "18446744073709551616", "-"] {
        assert_eq!(h.run(&["SCAN", bad]), invalid, "cursor {bad:?}");
    }
    let syntax = "-ERR syntax error\r\n";
    assert_eq!(h.run(&["SCAN", "0", "COUNT", "0"]), syntax);
    assert_eq!(h.run(&["SCAN", "0", "COUNT", "-1"]), syntax);
    assert_eq!(h.run(&["SCAN", "0", "COUNT"]), syntax);
    assert_eq!(h.run(&["SCAN", "0", "MATCH"]), syntax);
    assert_eq!(h.run(&["SCAN", "0", "FOO", "bar"]), syntax);
    assert_eq!(
        h.run(&["SCAN", "0", "COUNT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn randomkey_returns_live_keys_only() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["RANDOMKEY"]), "$-1\r\n");
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["RANDOMKEY"]), "_\r\n");
    h.protocol = Protocol::Resp2;
    h.run(&["SET", "only", "v"]);
    assert_eq!(h.run(&["RANDOMKEY"]), bulk("only"));
    for i in 0..50 {
        h.run(&["SET", &format!("gone{i}"), "v", "PX", "10"]);
    }
    h.advance_ms(10);
    for _ in 0..20 {
        assert_eq!(h.run(&["RANDOMKEY"]), bulk("only"));
    }
}

#[test]
fn object_subcommands() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    put_list(&mut h, "l");
    assert_eq!(h.run(&["OBJECT", "ENCODING", "k"]), bulk("embstr"));
    assert_eq!(h.run(&["OBJECT", "encoding", "l"]), bulk("quicklist"));
    assert_eq!(h.run(&["OBJECT", "ENCODING", "nokey"]), "$-1\r\n");
    assert_eq!(h.run(&["OBJECT", "REFCOUNT", "k"]), ":1\r\n");
    assert_eq!(h.run(&["OBJECT", "IDLETIME", "k"]), ":0\r\n");
    assert!(h
        .run(&["OBJECT", "FREQ", "k"])
        .starts_with("-ERR An LFU maxmemory policy is not selected"));
    assert_eq!(h.run(&["OBJECT", "FREQ", "nokey"]), "$-1\r\n");
    assert_eq!(
        h.run(&["OBJECT"]),
        "-ERR wrong number of arguments for 'object' command\r\n"
    );
    assert_eq!(
        h.run(&["OBJECT", "ENCODING"]),
        "-ERR wrong number of arguments for 'object|encoding' command\r\n"
    );
    assert_eq!(
        h.run(&["OBJECT", "help", "x"]),
        "-ERR wrong number of arguments for 'object|help' command\r\n"
    );
    assert_eq!(
        h.run(&["OBJECT", "foo", "k"]),
        "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"
    );
    let help = h.run(&["OBJECT", "HELP"]);
    assert!(help.starts_with(
        "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
    assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

#[test]
fn flush_commands() {
    let mut h = Harness::new();
    h.run(&["MSET", "a", "1", "b", "2"]);
    assert_eq!(h.run(&["FLUSHALL", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(
        h.run(&["FLUSHALL", "SYNC", "ASYNC"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(h.run(&["DBSIZE"]), ":2\r\n");
    assert_eq!(h.run(&["FLUSHDB", "async"]), "+OK\r\n");
    assert_eq!(h.effects_text(), vec!["FLUSHALL"]);
    assert_eq!(h.run(&["DBSIZE"]), ":0\r\n");
    h.run(&["SET", "a", "1"]);
    assert_eq!(h.run(&["FLUSHALL"]), "+OK\r\n");
    assert_eq!(h.run(&["DBSIZE"]), ":0\r\n");
}

fn put_list_items(h: &mut Harness, key: &str, items: &[&str]) {
    let list = items
        .iter()
        .map(|item| CompactBytes::new(item.as_bytes()))
        .collect();
    h.db.set(key.as_bytes(), Value::List(Box::new(list)), false);
}

fn put_set(h: &mut Harness, key: &str, members: &[&str]) {
    let mut value = Value::new_set(h.db.seed());
    if let Value::Set(set) = &mut value {
        for member in members {
            set.insert(CompactBytes::new(member.as_bytes()), ());
        }
    }
    h.db.set(key.as_bytes(), value, false);
}

fn put_zset(h: &mut Harness, key: &str, entries: &[(f64, &str)]) {
    let mut value = Value::new_zset(h.db.seed());
    if let Value::ZSet(zset) = &mut value {
        for (score, member) in entries {
            zset.insert(member.as_bytes(), *score);
        }
    }
    h.db.set(key.as_bytes(), value, false);
}

fn put_hash(h: &mut Harness, key: &str, fields: &[(&str, &str)]) {
    let mut value = Value::new_hash(h.db.seed());
    if let Value::Hash(hash) = &mut value {
        for (field, text) in fields {
            hash.insert(
                CompactBytes::new(field.as_bytes()),
                CompactBytes::new(text.as_bytes()),
            );
        }
    }
    h.db.set(key.as_bytes(), value, false);
}

fn sorted(h: &mut Harness, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["SORT"];
    argv.extend_from_slice(args);
    bulks(&h.run(&argv))
}

#[test]
fn sort_numbers_and_text() {
    let mut h = Harness::new();
    put_list_items(&mut h, "l", &["3", "1", "2", "10", "-5", "1.5", "2"]);
    assert_eq!(
        sorted(&mut h, &["l"]),
        ["-5", "1", "1.5", "2", "2", "3", "10"]
    );
    assert_eq!(
        sorted(&mut h, &["l", "DESC", "LIMIT", "1", "3"]),
        ["3", "2", "2"]
    );
    assert_eq!(
        sorted(&mut h, &["l", "ALPHA"]),
        ["-5", "1", "1.5", "10", "2", "2", "3"]
    );
    assert_eq!(sorted(&mut h, &["l", "LIMIT", "-5", "2"]), ["-5", "1"]);
    assert_eq!(h.run(&["SORT", "l", "LIMIT", "100", "5"]), "*0\r\n");
    assert_eq!(h.run(&["SORT", "nokey"]), "*0\r\n");
    put_set(&mut h, "s", &["5", "3", "9", "1"]);
    assert_eq!(
        sorted(&mut h, &["s", "DESC", "LIMIT", "0", "2"]),
        ["9", "5"]
    );
    put_zset(&mut h, "z", &[(3.0, "c"), (1.0, "a"), (2.0, "b")]);
    assert_eq!(sorted(&mut h, &["z", "ALPHA", "DESC"]), ["c", "b", "a"]);
    assert_eq!(
        h.run(&["SORT", "z"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert!(h.effects.is_empty());
}

#[test]
fn sort_by_and_get_patterns() {
    let mut h = Harness::new();
    put_list_items(&mut h, "words", &["banana", "apple", "cherry"]);
    h.run(&["MSET", "w_banana", "3", "w_apple", "1", "w_cherry", "2"]);
    assert_eq!(
        sorted(&mut h, &["words", "BY", "w_*"]),
        ["apple", "cherry", "banana"]
    );
    assert_eq!(
        sorted(&mut h, &["words", "BY", "nosort", "DESC"]),
        ["cherry", "apple", "banana"]
    );
    assert_eq!(
        h.run(&["SORT", "words", "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "nostar"]),
        "*9\r\n$5\r\napple\r\n$1\r\n1\r\n$-1\r\n$6\r\ncherry\r\n$1\r\n2\r\n$-1\r\n$6\r\nbanana\r\n$1\r\n3\r\n$-1\r\n"
    );
    put_hash(&mut h, "h_banana", &[("f", "10")]);
    put_hash(&mut h, "h_apple", &[("f", "20")]);
    // Missing BY values sort as 0.
    assert_eq!(
        sorted(&mut h, &["words", "BY", "h_*->f", "GET", "h_*->f"]),
        ["10", "20"],
        "the cherry has no value and is answered as null"
    );
    assert_eq!(
        sorted(&mut h, &["words", "BY", "h_*->f"]),
        ["cherry", "banana", "apple"]
    );
}

#[test]
fn sort_store_records_the_result() {
    let mut h = Harness::new();
    put_list_items(&mut h, "l", &["2", "1", "3"]);
    h.run(&["SET", "dst", "old", "EX", "100"]);
    assert_eq!(h.run(&["SORT", "l", "DESC", "STORE", "dst"]), ":3\r\n");
    assert_eq!(h.effects_text(), vec!["DEL dst", "RPUSH dst 3 2 1"]);
    assert_eq!(h.run(&["TYPE", "dst"]), "+list\r\n");
    assert_eq!(h.run(&["TTL", "dst"]), ":-1\r\n");
    assert_eq!(
        h.run(&["SORT", "l", "GET", "nostar", "STORE", "dst"]),
        ":3\r\n"
    );
    assert_eq!(h.effects_text(), vec!["DEL dst", "RPUSH dst   "]);
    assert_eq!(h.run(&["SORT", "nokey", "STORE", "dst"]), ":0\r\n");
    assert_eq!(h.effects_text(), vec!["DEL dst"]);
    assert_eq!(h.run(&["EXISTS", "dst"]), ":0\r\n");
    assert_eq!(h.run(&["SORT", "nokey", "STORE", "dst"]), ":0\r\n");
    assert!(h.effects.is_empty());
    // A set stored without sorting is sorted ALPHA, for a stable result.
    put_set(&mut h, "s", &["b", "c", "a"]);
    assert_eq!(
        h.run(&["SORT", "s", "BY", "nosort", "STORE", "dst"]),
        ":3\r\n"
    );
    assert_eq!(h.effects_text(), vec!["RPUSH dst a b c"]);
}

#[test]
fn sort_errors_and_keys() {
    let mut h = Harness::new();
    put_list_items(&mut h, "l", &["1"]);
    h.run(&["SET", "str", "x"]);
    let syntax = "-ERR syntax error\r\n";
    assert_eq!(
        h.run(&["SORT", "str"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        h.run(&["SORT", "str", "FOO"]),
        syntax,
        "options are read before the type"
    );
    assert_eq!(h.run(&["SORT", "l", "LIMIT", "1"]), syntax);
    assert_eq!(h.run(&["SORT", "l", "STORE"]), syntax);
    assert_eq!(h.run(&["SORT_RO", "l", "STORE", "dst"]), syntax);
    assert_eq!(
        h.run(&["SORT", "l", "LIMIT", "a", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    let spec = crate::lookup(b"sort").expect("sort is in the table");
    let argv: Vec<Bytes> = [
        "SORT", "src", "LIMIT", "0", "1", "GET", "store", "STORE", "a", "STORE", "b",
    ]
    .iter()
    .map(|a| Bytes::copy_from_slice(a.as_bytes()))
    .collect();
    assert_eq!(spec.key_indices(&argv), vec![1, 10]);
}

/// Every key with its type, string value and expiry, sorted.
fn dump(h: &mut Harness) -> Vec<String> {
    let keys: Vec<Vec<u8>> = h.db.iter().map(|(key, _)| key.to_vec()).collect();
    let mut lines: Vec<String> = keys
        .iter()
        .map(|key| {
            let expire = h.db.expire_at(key);
            let value = match h.db.get(key) {
                Some(Value::Str(text)) => format!("{:?}", &text[..]),
                Some(other) => other.kind().name().to_string(),
                None => "gone".into(),
            };
            format!("{:?} {value} {expire:?}", String::from_utf8_lossy(key))
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn replaying_effects_rebuilds_the_same_keyspace() {
    let script: &[&[&str]] = &[
        &["SET", "a", "1", "EX", "100"],
        &["SET", "b", "x", "PX", "50", "GET"],
        &["SETEX", "c", "10", "v"],
        &["PSETEX", "d", "10", "v"],
        &["GETEX", "a", "PX", "2000"],
        &["GETEX", "b", "PERSIST"],
        &["GETEX", "d", "PXAT", "1"],
        &["INCRBYFLOAT", "a", "0.1"],
        &["INCRBYFLOAT", "f", "1e3"],
        &["INCR", "n"],
        &["DECRBY", "n", "5"],
        &["APPEND", "b", "yz"],
        &["SETRANGE", "r", "5", "abc"],
        &["SETBIT", "bits", "100", "1"],
        &[
            "BITFIELD", "bits", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "300",
        ],
        &["BITOP", "XOR", "x", "bits", "r"],
        &["BITOP", "AND", "x2", "nokey"],
        &["MSET", "m1", "a", "m2", "b"],
        &["MSETNX", "m3", "c"],
        &["GETSET", "m1", "z"],
        &["GETDEL", "m2"],
        &["EXPIRE", "m3", "100", "NX"],
        &["PEXPIREAT", "m3", "1800000000000", "GT"],
        &["EXPIRE", "m1", "-1"],
        &["PERSIST", "a"],
        &["RENAME", "m3", "m4"],
        &["RENAMENX", "c", "m4"],
        &["COPY", "m4", "m5"],
        &["COPY", "r", "m5", "REPLACE"],
        &["DEL", "x", "nokey"],
        &["UNLINK", "f"],
        &["SETNX", "new", "1"],
    ];
    let mut primary = Harness::new();
    let mut replica = Harness::new();
    for (step, command) in script.iter().enumerate() {
        primary.run(command);
        for effect in primary.effects.clone() {
            let reply = replica.run_bytes(&effect);
            assert!(
                !reply.starts_with('-'),
                "step {step}: effect {effect:?} failed: {reply}"
            );
        }
        assert_eq!(dump(&mut primary), dump(&mut replica), "after {command:?}");
        primary.advance_ms(7);
        replica.advance_ms(7);
    }
}
