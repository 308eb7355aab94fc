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
