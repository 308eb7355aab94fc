//! Test support for the hash and set command tests: decodes a raw RESP2 or
//! RESP3 reply from the harness so tests can check replies whose element
//! order is unspecified (members of a set, fields of a hash).

/// A decoded reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(String),
    /// `$-1`, `*-1` or RESP3 `_`.
    Null,
    Array(Vec<Resp>),
    Set(Vec<Resp>),
    Map(Vec<(Resp, Resp)>),
}

impl Resp {
    /// The bulk strings of an array or set, sorted.
    pub(crate) fn sorted_strings(&self) -> Vec<String> {
        let items = match self {
            Resp::Array(items) | Resp::Set(items) => items,
            other => panic!("not an array or set: {other:?}"),
        };
        let mut strings: Vec<String> = items.iter().map(Resp::text).collect();
        strings.sort();
        strings
    }

    /// The text of a bulk string.
    pub(crate) fn text(&self) -> String {
        match self {
            Resp::Bulk(text) => text.clone(),
            other => panic!("not a bulk string: {other:?}"),
        }
    }

    /// The items of an array or set, in reply order.
    pub(crate) fn items(&self) -> &[Resp] {
        match self {
            Resp::Array(items) | Resp::Set(items) => items,
            other => panic!("not an array or set: {other:?}"),
        }
    }
}

/// Decodes exactly one reply; panics on malformed or trailing input.
pub(crate) fn decode(reply: &str) -> Resp {
    let (value, rest) = decode_one(reply.as_bytes());
    assert!(rest.is_empty(), "trailing bytes after reply: {reply:?}");
    value
}

/// Shorthand: the sorted bulk strings of an array or set reply.
pub(crate) fn sorted(reply: &str) -> Vec<String> {
    decode(reply).sorted_strings()
}

fn decode_one(input: &[u8]) -> (Resp, &[u8]) {
    let line_end = input
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("a CRLF-terminated line");
    let line = std::str::from_utf8(&input[1..line_end]).expect("utf-8 header");
    let rest = &input[line_end + 2..];
    let number = || line.parse::<i64>().expect("a number");
    match input[0] {
        b'+' => (Resp::Simple(line.to_string()), rest),
        b'-' => (Resp::Error(line.to_string()), rest),
        b':' => (Resp::Int(number()), rest),
        b'_' => (Resp::Null, rest),
        b'$' if number() < 0 => (Resp::Null, rest),
        b'$' => {
            let len = number() as usize;
            let text = String::from_utf8(rest[..len].to_vec()).expect("utf-8 bulk");
            assert_eq!(&rest[len..len + 2], b"\r\n");
            (Resp::Bulk(text), &rest[len + 2..])
        }
        b'*' if number() < 0 => (Resp::Null, rest),
        b'*' | b'~' => {
            let (items, rest) = decode_many(rest, number() as usize);
            let value = if input[0] == b'*' {
                Resp::Array(items)
            } else {
                Resp::Set(items)
            };
            (value, rest)
        }
        b'%' => {
            let (items, rest) = decode_many(rest, 2 * number() as usize);
            let pairs = items
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect();
            (Resp::Map(pairs), rest)
        }
        other => panic!("unknown reply type {:?}", other as char),
    }
}

fn decode_many(mut input: &[u8], count: usize) -> (Vec<Resp>, &[u8]) {
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let (item, rest) = decode_one(input);
        items.push(item);
        input = rest;
    }
    (items, input)
}

/// Every live key and its value as sortable text, for comparing keyspaces.
pub(crate) fn dump(db: &daisy_keyspace::Db) -> Vec<String> {
    use daisy_keyspace::Value;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut keys: Vec<String> = db
        .iter()
        .map(|(key, value)| {
            let body = match value {
                Value::Str(s) => format!("string {}", text(s)),
                Value::Set(set) => {
                    let mut members: Vec<String> = set.iter().map(|(m, _)| text(m)).collect();
                    members.sort();
                    format!("set {members:?}")
                }
                Value::Hash(hash) => {
                    let mut pairs: Vec<(String, String)> =
                        hash.iter().map(|(f, v)| (text(f), text(v))).collect();
                    pairs.sort();
                    format!("hash {pairs:?}")
                }
                other => format!("{:?}", other.kind()),
            };
            format!("{} => {body}", text(key))
        })
        .collect();
    keys.sort();
    keys
}

/// Runs `setup` then `command` on one harness, and `setup` then the
/// effects the command recorded on another; both keyspaces must end equal.
/// Returns the command's reply.
pub(crate) fn assert_replay_equivalent(setup: &[&[&str]], command: &[&str]) -> String {
    use crate::testing::Harness;
    let mut original = Harness::new();
    let mut replica = Harness::new();
    for step in setup {
        original.run(step);
        replica.run(step);
    }
    let reply = original.run(command);
    for effect in original.effects.clone() {
        let reply = replica.run_bytes(&effect);
        assert!(
            !reply.starts_with('-'),
            "replaying {effect:?} failed: {reply}"
        );
    }
    assert_eq!(dump(&original.db), dump(&replica.db), "after {command:?}");
    reply
}
