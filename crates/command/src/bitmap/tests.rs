use daisy_keyspace::{CompactBytes, Value};

use crate::testing::Harness;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn put_list(h: &mut Harness, key: &str) {
    let list = [CompactBytes::new(b"item")].into_iter().collect();
    h.db.set(key.as_bytes(), Value::List(Box::new(list)), false);
}

fn int(value: i64) -> String {
    format!(":{value}\r\n")
}

#[test]
fn setbit_and_getbit() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SETBIT", "b", "7", "1"]), int(0));
    assert_eq!(h.effects_text(), vec!["SETBIT b 7 1"]);
    assert_eq!(h.run(&["GET", "b"]), "$1\r\n\x01\r\n");
    assert_eq!(h.run(&["SETBIT", "b", "7", "1"]), int(1));
    assert!(
        h.effects.is_empty(),
        "an unchanged bit changes nothing, as in Redis 7.0.15"
    );
    assert_eq!(h.run(&["SETBIT", "b", "0", "1"]), int(0));
    assert_eq!(h.run(&["GETBIT", "b", "0"]), int(1));
    assert_eq!(h.run(&["SETBIT", "b", "23", "0"]), int(0));
    assert_eq!(
        h.effects_text(),
        vec!["SETBIT b 23 0"],
        "growing is a change"
    );
    assert_eq!(h.run(&["STRLEN", "b"]), int(3));
    assert_eq!(h.run(&["GETBIT", "b", "0"]), int(1));
    assert_eq!(h.run(&["GETBIT", "b", "1"]), int(0));
    assert_eq!(h.run(&["GETBIT", "b", "7"]), int(1));
    assert_eq!(h.run(&["GETBIT", "b", "1000000"]), int(0));
    assert_eq!(h.run(&["GETBIT", "nokey", "3"]), int(0));
    assert_eq!(h.run(&["OBJECT", "ENCODING", "b"]), "$3\r\nraw\r\n");
    // A SETBIT of 0 on a missing key still creates it.
    assert_eq!(h.run(&["SETBIT", "z", "9", "0"]), int(0));
    assert_eq!(h.run(&["STRLEN", "z"]), int(2));
}

#[test]
fn setbit_errors() {
    let mut h = Harness::new();
    let bad_offset = "-ERR bit offset is not an integer or out of range\r\n";
    let bad_bit = "-ERR bit is not an integer or out of range\r\n";
    for offset in ["-1", "abc", "4294967296", "1.5"] {
        assert_eq!(
            h.run(&["SETBIT", "b", offset, "1"]),
            bad_offset,
            "offset {offset}"
        );
        assert_eq!(
            h.run(&["GETBIT", "b", offset]),
            bad_offset,
            "offset {offset}"
        );
    }
    for bit in ["2", "-1", "abc"] {
        assert_eq!(h.run(&["SETBIT", "b", "1", bit]), bad_bit, "bit {bit}");
    }
    // The offset is checked first, then the bit, then the type.
    assert_eq!(h.run(&["SETBIT", "b", "-1", "5"]), bad_offset);
    put_list(&mut h, "l");
    assert_eq!(h.run(&["SETBIT", "l", "1", "5"]), bad_bit);
    assert_eq!(h.run(&["SETBIT", "l", "1", "1"]), WRONGTYPE);
    assert_eq!(h.run(&["GETBIT", "l", "1"]), WRONGTYPE);
    assert_eq!(h.db.len(), 1);
    // Offsets are bounded by the largest string size.
    h.settings.max_string_bytes = 4;
    assert_eq!(h.run(&["SETBIT", "b", "31", "1"]), int(0));
    assert_eq!(h.run(&["SETBIT", "b", "32", "1"]), bad_offset);
}

#[test]
fn bitcount_ranges() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "foobar"]);
    let cases: &[(&[&str], i64)] = &[
        (&[], 26),
        (&["0", "0"], 4),
        (&["1", "1"], 6),
        (&["1", "1", "BYTE"], 6),
        (&["5", "30", "BIT"], 17),
        (&["-1", "-2"], 0),
        (&["-1", "-2", "FOO"], 0),
        (&["-100", "100"], 26),
        (&["-3", "-1", "BIT"], 1),
        (&["0", "0", "bit"], 0),
        (&["1", "1", "BIT"], 1),
        (&["48", "100", "BIT"], 0),
    ];
    for (range, expected) in cases {
        let mut args = vec!["BITCOUNT", "s"];
        args.extend_from_slice(range);
        assert_eq!(h.run(&args), int(*expected), "{range:?}");
    }
    h.run(&["SET", "e", ""]);
    assert_eq!(h.run(&["BITCOUNT", "e"]), int(0));
    assert_eq!(h.run(&["BITCOUNT", "e", "0", "-1"]), int(0));
    let long = "\u{7f}".repeat(100);
    h.run(&["SET", "long", &long]);
    assert_eq!(h.run(&["BITCOUNT", "long"]), int(700));
    assert_eq!(h.run(&["BITCOUNT", "long", "3", "90"]), int(7 * 88));
}

#[test]
fn bitcount_errors() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "foobar"]);
    let syntax = "-ERR syntax error\r\n";
    assert_eq!(h.run(&["BITCOUNT", "s", "0"]), syntax);
    assert_eq!(h.run(&["BITCOUNT", "s", "0", "-1", "FOO"]), syntax);
    assert_eq!(h.run(&["BITCOUNT", "s", "0", "1", "BIT", "x"]), syntax);
    assert_eq!(
        h.run(&["BITCOUNT", "s", "a", "b"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // A missing key answers 0 before any argument is read.
    assert_eq!(h.run(&["BITCOUNT", "nokey", "a", "b", "c", "d"]), int(0));
    put_list(&mut h, "l");
    assert_eq!(h.run(&["BITCOUNT", "l"]), WRONGTYPE);
}

#[test]
fn bitpos_finds_bits() {
    let mut h = Harness::new();
    // 0xff 0xf0 0x00
    h.run(&["SETRANGE", "p", "0", "\u{0}"]);
    for offset in 0..12 {
        h.run(&["SETBIT", "p", &offset.to_string(), "1"]);
    }
    h.run(&["SETBIT", "p", "23", "0"]);
    let cases: &[(&[&str], i64)] = &[
        (&["0"], 12),
        (&["1"], 0),
        (&["1", "2"], -1),
        (&["0", "2"], 16),
        (&["0", "0", "0"], -1),
        (&["0", "1", "1"], 12),
        (&["0", "0", "-1"], 12),
        (&["0", "12", "15", "BIT"], 12),
        (&["1", "12", "15", "BIT"], -1),
        (&["0", "0", "7", "BIT"], -1),
        (&["1", "5", "7", "BIT"], 5),
        (&["0", "3", "-1", "BIT"], 12),
        (&["0", "3", "BIT"], -2),
        (&["1", "-13", "-1", "BIT"], 11),
        (&["1", "100"], -1),
        (&["0", "100"], -1),
        (&["1", "-1", "-2"], -1),
    ];
    for (args, expected) in cases {
        let mut argv = vec!["BITPOS", "p"];
        argv.extend_from_slice(args);
        let reply = h.run(&argv);
        if *expected == -2 {
            // Five arguments: the fifth is the end, not a unit.
            assert_eq!(reply, "-ERR value is not an integer or out of range\r\n");
        } else {
            assert_eq!(reply, int(*expected), "{args:?}");
        }
    }
}

#[test]
fn bitpos_past_the_end_and_missing_keys() {
    let mut h = Harness::new();
    h.run(&["SET", "ones", "\u{7f}"]);
    h.run(&["SETBIT", "ones", "0", "1"]);
    // All ones: a clear bit is found just past the string, unless the
    // range has an explicit end.
    assert_eq!(h.run(&["BITPOS", "ones", "0"]), int(8));
    assert_eq!(h.run(&["BITPOS", "ones", "0", "0"]), int(8));
    assert_eq!(h.run(&["BITPOS", "ones", "0", "0", "-1"]), int(-1));
    assert_eq!(h.run(&["BITPOS", "ones", "0", "3", "-1", "BIT"]), int(-1));
    assert_eq!(h.run(&["BITPOS", "nokey", "0"]), int(0));
    assert_eq!(h.run(&["BITPOS", "nokey", "1"]), int(-1));
    assert_eq!(h.run(&["BITPOS", "nokey", "1", "a", "b", "c"]), int(-1));
    h.run(&["SET", "e", ""]);
    assert_eq!(h.run(&["BITPOS", "e", "0"]), int(-1));
    assert_eq!(h.run(&["BITPOS", "e", "1"]), int(-1));
    // Long runs of skipped bytes.
    h.run(&["SETBIT", "sparse", "80001", "1"]);
    assert_eq!(h.run(&["BITPOS", "sparse", "1"]), int(80001));
    assert_eq!(h.run(&["BITPOS", "sparse", "1", "3", "-1"]), int(80001));
}

#[test]
fn bitpos_errors() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "abc"]);
    let not_integer = "-ERR value is not an integer or out of range\r\n";
    assert_eq!(
        h.run(&["BITPOS", "s", "2"]),
        "-ERR The bit argument must be 1 or 0.\r\n"
    );
    assert_eq!(
        h.run(&["BITPOS", "nokey", "2"]),
        "-ERR The bit argument must be 1 or 0.\r\n"
    );
    assert_eq!(h.run(&["BITPOS", "s", "x"]), not_integer);
    assert_eq!(h.run(&["BITPOS", "s", "0", "a"]), not_integer);
    assert_eq!(h.run(&["BITPOS", "s", "0", "0", "a"]), not_integer);
    // The unit is read before the end.
    assert_eq!(
        h.run(&["BITPOS", "s", "0", "0", "a", "FOO"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        h.run(&["BITPOS", "s", "0", "1", "2", "BIT", "x"]),
        "-ERR syntax error\r\n"
    );
    put_list(&mut h, "l");
    assert_eq!(h.run(&["BITPOS", "l", "1"]), WRONGTYPE);
}

#[test]
fn bitop_combines_strings() {
    let mut h = Harness::new();
    h.run(&["MSET", "a", "foobar", "b", "abcdef", "short", "ab"]);
    assert_eq!(h.run(&["BITOP", "AND", "d", "a", "b"]), int(6));
    assert_eq!(h.effects_text(), vec!["BITOP AND d a b"]);
    assert_eq!(h.run(&["GET", "d"]), "$6\r\n`bc`ab\r\n");
    assert_eq!(h.run(&["BITOP", "or", "d", "a", "b"]), int(6));
    assert_eq!(h.run(&["GET", "d"]), "$6\r\ngoofev\r\n");
    assert_eq!(h.run(&["BITOP", "XOR", "d", "a", "short"]), int(6));
    assert_eq!(h.run(&["GET", "d"]), "$6\r\n\u{7}\robar\r\n");
    assert_eq!(h.run(&["BITOP", "AND", "d", "a", "short"]), int(6));
    assert_eq!(h.run(&["GET", "d"]), "$6\r\n`b\0\0\0\0\r\n");
    assert_eq!(h.run(&["BITOP", "AND", "d", "a", "nokey"]), int(6));
    assert_eq!(h.run(&["GET", "d"]), "$6\r\n\0\0\0\0\0\0\r\n");
    assert_eq!(h.run(&["BITOP", "NOT", "d", "short"]), int(2));
    assert_eq!(h.run(&["BITCOUNT", "d"]), int(16 - 6));
    assert_eq!(h.run(&["OBJECT", "ENCODING", "d"]), "$3\r\nraw\r\n");
}

#[test]
fn bitop_with_empty_result_deletes_destination() {
    let mut h = Harness::new();
    h.run(&["SET", "d", "x", "EX", "100"]);
    assert_eq!(h.run(&["BITOP", "OR", "d", "nokey", "nokey2"]), int(0));
    assert_eq!(h.effects_text(), vec!["DEL d"]);
    assert_eq!(h.run(&["EXISTS", "d"]), int(0));
    assert_eq!(h.run(&["BITOP", "OR", "d", "nokey"]), int(0));
    assert!(h.effects.is_empty());
    h.run(&["SET", "d", "x", "EX", "100"]);
    h.run(&["SET", "a", "y"]);
    h.run(&["BITOP", "OR", "d", "a"]);
    assert_eq!(h.run(&["TTL", "d"]), int(-1), "the result has no expiry");
}

#[test]
fn bitop_errors() {
    let mut h = Harness::new();
    h.run(&["SET", "a", "x"]);
    put_list(&mut h, "l");
    assert_eq!(h.run(&["BITOP", "NAND", "d", "a"]), "-ERR syntax error\r\n");
    assert_eq!(
        h.run(&["BITOP", "NOT", "d", "a", "a"]),
        "-ERR BITOP NOT must be called with a single source key.\r\n"
    );
    assert_eq!(h.run(&["BITOP", "AND", "d", "a", "l"]), WRONGTYPE);
    assert_eq!(
        h.run(&["BITOP", "AND", "l", "a"]),
        int(1),
        "the destination may hold any type"
    );
    assert_eq!(h.run(&["TYPE", "l"]), "+string\r\n");
    assert_eq!(
        h.run(&["BITOP", "AND", "d"]),
        "-ERR wrong number of arguments for 'bitop' command\r\n"
    );
}

#[test]
fn bitfield_reads_writes_and_overflows() {
    let mut h = Harness::new();
    assert_eq!(
        h.run(&["BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "i8", "0"]),
        "*2\r\n:0\r\n:100\r\n"
    );
    assert_eq!(h.effects_text(), vec!["BITFIELD bf SET i8 0 100 GET i8 0"]);
    assert_eq!(
        h.run(&["BITFIELD", "bf", "INCRBY", "i8", "0", "100"]),
        "*1\r\n:-56\r\n"
    );
    assert_eq!(
        h.run(&[
            "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-1000", "INCRBY", "i8", "0",
            "1000"
        ]),
        "*2\r\n:-128\r\n:127\r\n"
    );
    assert_eq!(
        h.run(&["BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "1", "GET", "i8", "0"]),
        "*2\r\n$-1\r\n:127\r\n"
    );
    // An unsigned field reads a negative SET value as a huge number.
    assert_eq!(
        h.run(&["BITFIELD", "bf", "OVERFLOW", "SAT", "SET", "u8", "8", "-1", "GET", "u8", "8"]),
        "*2\r\n:0\r\n:255\r\n"
    );
    assert_eq!(
        h.run(&["BITFIELD", "bf", "SET", "u4", "#5", "15", "GET", "u8", "#2"]),
        "*2\r\n:0\r\n:15\r\n"
    );
    assert_eq!(
        h.run(&["BITFIELD", "bf", "SET", "i64", "64", "-5", "GET", "u63", "64"]),
        "*2\r\n:0\r\n:9223372036854775805\r\n"
    );
    assert_eq!(h.run(&["STRLEN", "bf"]), int(16));
    // Reads past the end are zeros and never grow the string.
    assert_eq!(
        h.run(&["BITFIELD", "bf", "GET", "u8", "1000000"]),
        "*1\r\n:0\r\n"
    );
    assert!(h.effects.is_empty());
    assert_eq!(
        h.run(&["BITFIELD_RO", "bf", "GET", "i8", "0"]),
        "*1\r\n:127\r\n"
    );
    assert_eq!(
        h.run(&["BITFIELD", "nokey", "GET", "u8", "0"]),
        "*1\r\n:0\r\n"
    );
    assert_eq!(h.run(&["EXISTS", "nokey"]), int(0));
    // A failed write still creates the string up to the field.
    assert_eq!(
        h.run(&["BITFIELD", "grown", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "10"]),
        "*1\r\n$-1\r\n"
    );
    assert_eq!(h.run(&["STRLEN", "grown"]), int(13));
}

#[test]
fn bitfield_errors() {
    let mut h = Harness::new();
    let bad_type = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
    for field_type in ["u64", "i65", "I8", "i0", "x8", "i"] {
        assert_eq!(
            h.run(&["BITFIELD", "bf", "GET", field_type, "0"]),
            bad_type,
            "{field_type}"
        );
    }
    let bad_offset = "-ERR bit offset is not an integer or out of range\r\n";
    assert_eq!(h.run(&["BITFIELD", "bf", "GET", "u8", "#-1"]), bad_offset);
    assert_eq!(
        h.run(&["BITFIELD", "bf", "GET", "u8", "4294967296"]),
        bad_offset
    );
    assert_eq!(h.run(&["BITFIELD", "bf", "GET", "u8", "#"]), bad_offset);
    assert_eq!(
        h.run(&["BITFIELD", "bf", "OVERFLOW", "foo"]),
        "-ERR Invalid OVERFLOW type specified\r\n"
    );
    assert_eq!(
        h.run(&["BITFIELD", "bf", "SET", "i8", "0"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(h.run(&["BITFIELD", "bf", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(
        h.run(&["BITFIELD", "bf", "SET", "i8", "0", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.run(&["BITFIELD_RO", "bf", "SET", "u8", "0", "1"]),
        "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
    );
    assert_eq!(h.db.len(), 0, "no error wrote anything");
    put_list(&mut h, "l");
    assert_eq!(h.run(&["BITFIELD", "l", "GET", "u8", "0"]), WRONGTYPE);
    assert_eq!(h.run(&["BITFIELD", "l", "SET", "u8", "0", "1"]), WRONGTYPE);
    assert_eq!(h.run(&["BITFIELD", "bf"]), "*0\r\n");
}
