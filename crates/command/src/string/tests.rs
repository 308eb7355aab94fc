use bytes::Bytes;
use daisy_keyspace::{CompactBytes, Value};
use daisy_protocol::Protocol;

use crate::testing::Harness;

const NOW_MS: u64 = 1_700_000_000_000;
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// Puts a one-element list at `key`, for WRONGTYPE checks.
fn put_list(h: &mut Harness, key: &str) {
    let list = [CompactBytes::new(b"item")].into_iter().collect();
    h.db.set(key.as_bytes(), Value::List(Box::new(list)), false);
}

fn bulk(text: &str) -> String {
    format!("${}\r\n{}\r\n", text.len(), text)
}

#[test]
fn set_honours_nx_xx_and_get() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SET", "k", "v1", "NX"]), "+OK\r\n");
    assert_eq!(h.effects_text(), vec!["SET k v1"]);
    assert_eq!(h.run(&["SET", "k", "v2", "NX"]), "$-1\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["SET", "k", "v2", "XX", "GET"]), bulk("v1"));
    assert_eq!(h.effects_text(), vec!["SET k v2"]);
    assert_eq!(h.run(&["SET", "other", "x", "XX"]), "$-1\r\n");
    assert_eq!(h.run(&["SET", "other", "x", "GET"]), "$-1\r\n");
    assert_eq!(h.run(&["GET", "other"]), bulk("x"));
    // NX with GET on an existing key answers the old value and sets nothing.
    assert_eq!(h.run(&["SET", "k", "v3", "NX", "GET"]), bulk("v2"));
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["GET", "k"]), bulk("v2"));
}

#[test]
fn set_options_are_checked_in_redis_order() {
    let mut h = Harness::new();
    let syntax = "-ERR syntax error\r\n";
    assert_eq!(h.run(&["SET", "k", "v", "NX", "XX"]), syntax);
    assert_eq!(h.run(&["SET", "k", "v", "EX", "10", "PX", "20"]), syntax);
    assert_eq!(h.run(&["SET", "k", "v", "KEEPTTL", "EX", "10"]), syntax);
    assert_eq!(h.run(&["SET", "k", "v", "EX"]), syntax);
    assert_eq!(h.run(&["SET", "k", "v", "PERSIST"]), syntax);
    // The expiry value is read only after every option is known.
    assert_eq!(h.run(&["SET", "k", "v", "EX", "abc", "FOO"]), syntax);
    assert_eq!(
        h.run(&["SET", "k", "v", "EX", "abc"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    for bad in ["0", "-5"] {
        assert_eq!(
            h.run(&["SET", "k", "v", "EX", bad]),
            "-ERR invalid expire time in 'set' command\r\n"
        );
    }
    assert_eq!(
        h.run(&["SET", "k", "v", "PX", "9223372036854775807"]),
        "-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(
        h.run(&["SET", "k", "v", "EXAT", "9223372036854776"]),
        "-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(h.db.len(), 0, "no error changed anything");
    // The same unit twice is allowed: the last one wins.
    assert_eq!(h.run(&["SET", "k", "v", "EX", "10", "EX", "20"]), "+OK\r\n");
    assert_eq!(h.run(&["TTL", "k"]), ":20\r\n");
}

#[test]
fn set_expiry_is_recorded_as_absolute_time() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SET", "k", "v", "PX", "1500"]), "+OK\r\n");
    assert_eq!(
        h.effects_text(),
        vec![format!("SET k v PXAT {}", NOW_MS + 1500)]
    );
    assert_eq!(h.run(&["SET", "k", "v2", "KEEPTTL"]), "+OK\r\n");
    assert_eq!(h.effects_text(), vec!["SET k v2 KEEPTTL"]);
    assert_eq!(h.run(&["PTTL", "k"]), ":1500\r\n");
    assert_eq!(h.run(&["SET", "k", "v3"]), "+OK\r\n");
    assert_eq!(h.run(&["PTTL", "k"]), ":-1\r\n");
    assert_eq!(h.run(&["SET", "k", "v", "EXAT", "1800000000"]), "+OK\r\n");
    assert_eq!(h.effects_text(), vec!["SET k v PXAT 1800000000000"]);
    assert_eq!(h.run(&["SET", "k", "v", "GET", "EX", "5"]), bulk("v"));
    assert_eq!(
        h.effects_text(),
        vec![format!("SET k v PXAT {}", NOW_MS + 5000)]
    );
}

#[test]
fn set_get_refuses_other_types_without_changing_them() {
    let mut h = Harness::new();
    put_list(&mut h, "l");
    assert_eq!(h.run(&["SET", "l", "v", "GET"]), WRONGTYPE);
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["TYPE", "l"]), "+list\r\n");
    // Without GET, SET replaces a value of any type.
    assert_eq!(h.run(&["SET", "l", "v"]), "+OK\r\n");
    assert_eq!(h.run(&["GET", "l"]), bulk("v"));
    put_list(&mut h, "l");
    assert_eq!(h.run(&["GET", "l"]), WRONGTYPE);
    assert_eq!(h.run(&["SETNX", "l", "v"]), ":0\r\n");
}

#[test]
fn missing_values_are_null_in_both_protocols() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["GET", "nokey"]), "$-1\r\n");
    h.protocol = Protocol::Resp3;
    assert_eq!(h.run(&["GET", "nokey"]), "_\r\n");
    assert_eq!(h.run(&["SET", "k", "v", "NX"]), "+OK\r\n");
    assert_eq!(h.run(&["SET", "k", "v", "NX"]), "_\r\n");
    assert_eq!(h.run(&["MGET", "k", "nokey"]), "*2\r\n$1\r\nv\r\n_\r\n");
    assert_eq!(h.run(&["GETDEL", "nokey"]), "_\r\n");
}

#[test]
fn setnx_setex_and_psetex() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SETNX", "k", "a"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["SET k a"]);
    assert_eq!(h.run(&["SETNX", "k", "b"]), ":0\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["SETEX", "k", "10", "c"]), "+OK\r\n");
    assert_eq!(
        h.effects_text(),
        vec![format!("SET k c PXAT {}", NOW_MS + 10_000)]
    );
    assert_eq!(h.run(&["PSETEX", "k", "10", "d"]), "+OK\r\n");
    assert_eq!(
        h.effects_text(),
        vec![format!("SET k d PXAT {}", NOW_MS + 10)]
    );
    assert_eq!(
        h.run(&["SETEX", "k", "0", "e"]),
        "-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_eq!(
        h.run(&["PSETEX", "k", "-1", "e"]),
        "-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_eq!(
        h.run(&["SETEX", "k", "x", "e"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(h.run(&["GET", "k"]), bulk("d"));
    h.advance_ms(10);
    assert_eq!(h.run(&["GET", "k"]), "$-1\r\n");
    assert_eq!(h.effects_text(), vec!["DEL k"]);
}

#[test]
fn getset_and_getdel() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["GETSET", "k", "a"]), "$-1\r\n");
    assert_eq!(h.effects_text(), vec!["SET k a"]);
    h.run(&["EXPIRE", "k", "100"]);
    assert_eq!(h.run(&["GETSET", "k", "b"]), bulk("a"));
    assert_eq!(h.run(&["TTL", "k"]), ":-1\r\n", "GETSET clears the expiry");
    assert_eq!(h.run(&["GETDEL", "k"]), bulk("b"));
    assert_eq!(h.effects_text(), vec!["DEL k"]);
    assert_eq!(h.run(&["GETDEL", "k"]), "$-1\r\n");
    assert!(h.effects.is_empty());
    put_list(&mut h, "l");
    assert_eq!(h.run(&["GETSET", "l", "x"]), WRONGTYPE);
    assert_eq!(h.run(&["GETDEL", "l"]), WRONGTYPE);
    assert_eq!(h.run(&["TYPE", "l"]), "+list\r\n");
}

#[test]
fn getex_changes_expiry_and_records_it() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["GETEX", "k"]), bulk("v"));
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["GETEX", "k", "EX", "100"]), bulk("v"));
    assert_eq!(
        h.effects_text(),
        vec![format!("PEXPIREAT k {}", NOW_MS + 100_000)]
    );
    assert_eq!(h.run(&["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(h.effects_text(), vec!["PERSIST k"]);
    assert_eq!(h.run(&["GETEX", "k", "PERSIST"]), bulk("v"));
    assert!(h.effects.is_empty(), "nothing to persist");
    assert_eq!(h.run(&["GETEX", "k", "PXAT", "1"]), bulk("v"));
    assert_eq!(h.effects_text(), vec!["DEL k"]);
    assert_eq!(h.run(&["EXISTS", "k"]), ":0\r\n");
}

#[test]
fn getex_checks_in_redis_order() {
    let mut h = Harness::new();
    let syntax = "-ERR syntax error\r\n";
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["GETEX", "k", "NX"]), syntax);
    assert_eq!(h.run(&["GETEX", "k", "KEEPTTL"]), syntax);
    assert_eq!(h.run(&["GETEX", "k", "PERSIST", "EX", "1"]), syntax);
    assert_eq!(h.run(&["GETEX", "k", "EX", "1", "PERSIST"]), syntax);
    // A missing key answers null before the expiry value is read.
    assert_eq!(h.run(&["GETEX", "nokey", "EX", "abc"]), "$-1\r\n");
    assert_eq!(
        h.run(&["GETEX", "k", "EX", "0"]),
        "-ERR invalid expire time in 'getex' command\r\n"
    );
    put_list(&mut h, "l");
    assert_eq!(h.run(&["GETEX", "l", "EX", "abc"]), WRONGTYPE);
}

#[test]
fn mget_mset_and_msetnx() {
    let mut h = Harness::new();
    put_list(&mut h, "l");
    assert_eq!(h.run(&["MSET", "a", "1", "b", "2"]), "+OK\r\n");
    assert_eq!(h.effects_text(), vec!["MSET a 1 b 2"]);
    assert_eq!(
        h.run(&["MGET", "a", "l", "nokey", "b"]),
        "*4\r\n$1\r\n1\r\n$-1\r\n$-1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        h.run(&["MSET", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(
        h.run(&["MSETNX", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
    assert_eq!(h.run(&["MSETNX", "c", "3", "a", "9"]), ":0\r\n");
    assert!(h.effects.is_empty());
    assert_eq!(h.run(&["EXISTS", "c"]), ":0\r\n");
    assert_eq!(h.run(&["MSETNX", "c", "3", "c", "4"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["MSETNX c 3 c 4"]);
    assert_eq!(h.run(&["GET", "c"]), bulk("4"));
    h.run(&["EXPIRE", "a", "10"]);
    h.run(&["MSET", "a", "5"]);
    assert_eq!(h.run(&["TTL", "a"]), ":-1\r\n", "MSET clears the expiry");
}

#[test]
fn integer_counters() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["INCR", "n"]), ":1\r\n");
    assert_eq!(h.effects_text(), vec!["INCR n"]);
    assert_eq!(h.run(&["INCRBY", "n", "41"]), ":42\r\n");
    assert_eq!(h.run(&["DECR", "n"]), ":41\r\n");
    assert_eq!(h.run(&["DECRBY", "n", "-9"]), ":50\r\n");
    assert_eq!(h.run(&["GET", "n"]), bulk("50"));
    h.run(&["EXPIRE", "n", "100"]);
    h.run(&["INCR", "n"]);
    assert_eq!(h.run(&["TTL", "n"]), ":100\r\n", "INCR keeps the expiry");
}

#[test]
fn integer_counter_errors() {
    let mut h = Harness::new();
    let not_integer = "-ERR value is not an integer or out of range\r\n";
    let overflow = "-ERR increment or decrement would overflow\r\n";
    h.run(&["SET", "max", "9223372036854775807"]);
    assert_eq!(h.run(&["INCR", "max"]), overflow);
    h.run(&["SET", "min", "-9223372036854775808"]);
    assert_eq!(h.run(&["DECR", "min"]), overflow);
    assert_eq!(h.run(&["INCRBY", "min", "-1"]), overflow);
    assert_eq!(
        h.run(&["DECRBY", "n", "-9223372036854775808"]),
        "-ERR decrement would overflow\r\n"
    );
    assert_eq!(h.run(&["INCRBY", "n", "1.5"]), not_integer);
    for bad in [" 1", "01", "1a", "", "99999999999999999999"] {
        h.run(&["SET", "bad", bad]);
        assert_eq!(h.run(&["INCR", "bad"]), not_integer, "value {bad:?}");
        assert!(h.effects.is_empty());
    }
    put_list(&mut h, "l");
    assert_eq!(h.run(&["INCR", "l"]), WRONGTYPE);
    // INCRBY reads its argument before the key.
    assert_eq!(h.run(&["INCRBY", "l", "x"]), not_integer);
    assert_eq!(h.run(&["GET", "max"]), bulk("9223372036854775807"));
}

#[test]
fn incrbyfloat_uses_long_double_text() {
    let mut h = Harness::new();
    h.run(&["SET", "f", "10.50"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(h.effects_text(), vec!["SET f 10.6 KEEPTTL"]);
    assert_eq!(
        h.run(&["INCRBYFLOAT", "f", "-5.0e3"]),
        bulk("-4989.39999999999999991")
    );
    h.run(&["SET", "f", "1000"]);
    assert_eq!(
        h.run(&["INCRBYFLOAT", "f", "0.1"]),
        bulk("1000.09999999999999998")
    );
    assert_eq!(h.run(&["INCRBYFLOAT", "new", "3"]), bulk("3"));
    assert_eq!(h.run(&["OBJECT", "ENCODING", "new"]), bulk("embstr"));
    assert_eq!(h.run(&["INCRBYFLOAT", "new", "-3"]), bulk("0"));
    assert_eq!(
        h.run(&["INCRBYFLOAT", "new", "0x1.8p1"]),
        bulk("3"),
        "strtold reads hex"
    );
    h.run(&["PEXPIRE", "new", "5000"]);
    h.run(&["INCRBYFLOAT", "new", "1"]);
    assert_eq!(
        h.run(&["PTTL", "new"]),
        ":5000\r\n",
        "INCRBYFLOAT keeps the expiry"
    );
}

#[test]
fn incrbyfloat_errors() {
    let mut h = Harness::new();
    let not_float = "-ERR value is not a valid float\r\n";
    h.run(&["SET", "f", "1"]);
    for bad in ["abc", " 1", "1 ", "", "nan", "1e", "0x", "0x1p", "1e5000"] {
        assert_eq!(
            h.run(&["INCRBYFLOAT", "f", bad]),
            not_float,
            "increment {bad:?}"
        );
    }
    assert_eq!(
        h.run(&["INCRBYFLOAT", "f", "inf"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    h.run(&["SET", "big", "1e4932"]);
    assert_eq!(
        h.run(&["INCRBYFLOAT", "big", "1e4932"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    h.run(&["SET", "text", "abc"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "text", "1"]), not_float);
    put_list(&mut h, "l");
    // The type is checked before the increment is read.
    assert_eq!(h.run(&["INCRBYFLOAT", "l", "abc"]), WRONGTYPE);
    assert_eq!(h.run(&["GET", "f"]), bulk("1"));
}

#[test]
fn append_and_strlen() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["APPEND", "k", "hello"]), ":5\r\n");
    assert_eq!(h.effects_text(), vec!["APPEND k hello"]);
    assert_eq!(h.run(&["APPEND", "k", " world"]), ":11\r\n");
    assert_eq!(h.run(&["GET", "k"]), bulk("hello world"));
    assert_eq!(h.run(&["STRLEN", "k"]), ":11\r\n");
    assert_eq!(h.run(&["STRLEN", "nokey"]), ":0\r\n");
    put_list(&mut h, "l");
    assert_eq!(h.run(&["APPEND", "l", "x"]), WRONGTYPE);
    assert_eq!(h.run(&["STRLEN", "l"]), WRONGTYPE);
    h.settings.max_string_bytes = 12;
    assert_eq!(h.run(&["APPEND", "k", "!"]), ":12\r\n");
    assert_eq!(
        h.run(&["APPEND", "k", "!"]),
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    assert_eq!(h.run(&["STRLEN", "k"]), ":12\r\n");
}

#[test]
fn getrange_clamps_like_redis() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "hello"]);
    let cases = [
        ("0", "4", "hello"),
        ("-3", "-1", "llo"),
        ("-1", "-5", ""),
        ("3", "1", ""),
        ("-10", "-8", "h"),
        ("0", "-100", "h"),
        ("1", "100", "ello"),
        ("100", "200", ""),
    ];
    for (start, end, expected) in cases {
        assert_eq!(
            h.run(&["GETRANGE", "k", start, end]),
            bulk(expected),
            "{start} {end}"
        );
    }
    assert_eq!(h.run(&["SUBSTR", "k", "1", "3"]), bulk("ell"));
    assert_eq!(h.run(&["GETRANGE", "nokey", "0", "1"]), bulk(""));
    assert_eq!(
        h.run(&["GETRANGE", "k", "a", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    h.run(&["SET", "empty", ""]);
    assert_eq!(h.run(&["GETRANGE", "empty", "0", "-1"]), bulk(""));
    put_list(&mut h, "l");
    assert_eq!(h.run(&["GETRANGE", "l", "0", "1"]), WRONGTYPE);
}

#[test]
fn setrange_pads_and_bounds() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SETRANGE", "k", "3", "ab"]), ":5\r\n");
    assert_eq!(h.effects_text(), vec!["SETRANGE k 3 ab"]);
    assert_eq!(h.run(&["GET", "k"]), "$5\r\n\0\0\0ab\r\n");
    assert_eq!(h.run(&["SETRANGE", "k", "0", "xyz"]), ":5\r\n");
    assert_eq!(h.run(&["GET", "k"]), bulk("xyzab"));
    assert_eq!(h.run(&["SETRANGE", "k", "1", ""]), ":5\r\n");
    assert!(h.effects.is_empty(), "an empty patch changes nothing");
    assert_eq!(h.run(&["SETRANGE", "nokey", "5", ""]), ":0\r\n");
    assert_eq!(h.run(&["EXISTS", "nokey"]), ":0\r\n");
    assert_eq!(
        h.run(&["SETRANGE", "k", "-1", "x"]),
        "-ERR offset is out of range\r\n"
    );
    assert_eq!(
        h.run(&["SETRANGE", "k", "x", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    h.settings.max_string_bytes = 10;
    assert_eq!(h.run(&["SETRANGE", "k", "9", "x"]), ":10\r\n");
    let too_long = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    assert_eq!(h.run(&["SETRANGE", "k", "10", "x"]), too_long);
    assert_eq!(
        h.run(&["SETRANGE", "new", "9223372036854775807", "x"]),
        too_long
    );
    assert_eq!(h.run(&["EXISTS", "new"]), ":0\r\n");
    put_list(&mut h, "l");
    assert_eq!(h.run(&["SETRANGE", "l", "0", ""]), WRONGTYPE);
}

#[test]
fn object_encoding_follows_how_strings_were_made() {
    let mut h = Harness::new();
    let encoding = |h: &mut Harness, key: &str| h.run(&["OBJECT", "ENCODING", key]);
    h.run(&["SET", "int", "12345"]);
    assert_eq!(encoding(&mut h, "int"), bulk("int"));
    h.run(&["SET", "short", "hello"]);
    assert_eq!(encoding(&mut h, "short"), bulk("embstr"));
    h.run(&["SET", "mid", &"a".repeat(44)]);
    assert_eq!(encoding(&mut h, "mid"), bulk("embstr"));
    h.run(&["SET", "long", &"a".repeat(45)]);
    assert_eq!(encoding(&mut h, "long"), bulk("raw"));
    h.run(&["APPEND", "int", "6"]);
    assert_eq!(encoding(&mut h, "int"), bulk("raw"));
    h.run(&["INCR", "int"]);
    assert_eq!(encoding(&mut h, "int"), bulk("int"));
    h.run(&["SETRANGE", "mid", "0", "b"]);
    assert_eq!(encoding(&mut h, "mid"), bulk("raw"));
    h.run(&["COPY", "mid", "copy"]);
    assert_eq!(encoding(&mut h, "copy"), bulk("raw"));
    h.run(&["SET", "small", "100"]);
    assert_eq!(h.run(&["OBJECT", "REFCOUNT", "small"]), ":2147483647\r\n");
    assert_eq!(h.run(&["OBJECT", "REFCOUNT", "short"]), ":1\r\n");
}

#[test]
fn keys_and_values_are_binary_safe() {
    let mut h = Harness::new();
    let key = Bytes::from_static(b"k\0\xff\r\n");
    let value = Bytes::from_static(b"\0\x01\xfe");
    let run = |h: &mut Harness, args: &[&[u8]]| {
        let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        h.run_bytes(&argv)
    };
    assert_eq!(run(&mut h, &[b"SET", &key, &value]), "+OK\r\n");
    assert_eq!(h.effects[0][1], key);
    assert_eq!(h.effects[0][2], value);
    assert_eq!(run(&mut h, &[b"STRLEN", &key]), ":3\r\n");
    assert_eq!(run(&mut h, &[b"APPEND", &key, b"\0"]), ":4\r\n");
    assert_eq!(run(&mut h, &[b"EXISTS", b"k"]), ":0\r\n");
    assert_eq!(h.db.get(&key).map(|v| v.kind().name()), Some("string"));
}

#[test]
fn lcs_reports_string_length_and_matches() {
    let mut h = Harness::new();
    h.run(&["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    assert_eq!(h.run(&["LCS", "key1", "key2"]), bulk("mytext"));
    assert_eq!(h.run(&["LCS", "key1", "key2", "LEN"]), ":6\r\n");
    assert_eq!(
        h.run(&["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]),
        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
    h.protocol = Protocol::Resp3;
    assert_eq!(
        h.run(&["LCS", "key1", "key2", "IDX"]),
        "%2\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
    );
    h.protocol = Protocol::Resp2;
    assert_eq!(h.run(&["LCS", "key1", "nokey"]), bulk(""));
}

#[test]
fn lcs_errors() {
    let mut h = Harness::new();
    h.run(&["MSET", "a", "abc", "b", "abd"]);
    assert_eq!(h.run(&["LCS", "a", "b", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(
        h.run(&["LCS", "a", "b", "MINMATCHLEN"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["LCS", "a", "b", "IDX", "LEN"]),
        "-ERR If you want both the length and indexes, please just use IDX.\r\n"
    );
    put_list(&mut h, "l");
    assert_eq!(
        h.run(&["LCS", "a", "l", "FOO"]),
        "-ERR The specified keys must contain string values\r\n"
    );
    h.settings.max_string_bytes = 63;
    assert_eq!(
        h.run(&["LCS", "a", "b"]),
        "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
    );
}
