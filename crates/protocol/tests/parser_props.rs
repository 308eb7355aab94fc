//! Properties of the request parser, over generated input:
//! - any argv encoded as multibulk (or as a quoted inline line) parses back
//!   to the same argv, however the byte stream is cut into reads;
//! - arbitrary bytes never panic: each call parses, waits or errors, and the
//!   commands parsed do not depend on how the bytes were cut;
//! - limits hold: no parsed command exceeds them, and a parser that waits
//!   holds no more unparsed input than the limits allow.

use bytes::{Bytes, BytesMut};
use daisy_protocol::{Limits, ProtocolError, RequestParser};
use proptest::prelude::*;

/// Upper bound on parse calls per input; each call that returns a command
/// consumes at least one byte, so this is never reached by a correct parser.
const MAX_CALLS: usize = 100_000;

fn encode_multibulk(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for arg in argv {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Encodes `argv` as an inline line: every argument double-quoted, with
/// `\xHH` for anything that is not plain printable text.
fn encode_inline(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'"');
        for &b in arg {
            match b {
                b'"' | b'\\' => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
                0x20..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What parsing a whole stream gave: the commands, then how it ended.
#[derive(Debug, PartialEq)]
struct Parsed {
    commands: Vec<Vec<Bytes>>,
    error: Option<ProtocolError>,
}

/// Feeds `input` to a fresh parser in reads of the given sizes (cycled),
/// checking after every call that the limits hold.
fn parse_in_chunks(input: &[u8], chunk_sizes: &[usize], limits: &Limits) -> Parsed {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    let mut fed = 0;
    let mut sizes = chunk_sizes.iter().copied().filter(|&n| n > 0).cycle();
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls < MAX_CALLS, "parser made no progress");
        match parser.parse(&mut buf, limits) {
            Ok(Some(argv)) => {
                assert!(!argv.is_empty(), "an empty command was returned");
                assert!(argv.len() <= limits.max_args, "{} arguments", argv.len());
                for arg in &argv {
                    // Inline arguments are bounded by the line length instead.
                    let longest = limits.max_bulk_bytes.max(limits.max_inline_bytes);
                    assert!(arg.len() <= longest, "argument of {} bytes", arg.len());
                }
                commands.push(argv);
            }
            Ok(None) => {
                let allowed = limits.max_inline_bytes.max(parser.bytes_wanted());
                assert!(
                    buf.len() <= allowed,
                    "waiting with {} unparsed bytes (allowed {allowed})",
                    buf.len()
                );
                if fed == input.len() {
                    return Parsed {
                        commands,
                        error: None,
                    };
                }
                let n = sizes.next().unwrap_or(input.len()).min(input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
            }
            Err(error) => {
                return Parsed {
                    commands,
                    error: Some(error),
                };
            }
        }
    }
}

fn as_bytes(argv: &[Vec<u8>]) -> Vec<Bytes> {
    argv.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

fn argv_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 1..8)
}

fn chunks_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..24, 1..16)
}

/// Fragments of valid and invalid requests, so generated streams reach
/// every state of the parser rather than failing at the first byte.
fn token_stream() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: &[&[u8]] = &[
        b"*",
        b"*",
        b"$",
        b"$",
        b"0",
        b"1",
        b"2",
        b"3",
        b"-1",
        b"10",
        b"\r\n",
        b"\r\n",
        b"\r",
        b"\n",
        b" ",
        b"\t",
        b"PING",
        b"GET",
        b"x",
        b"\"",
        b"'",
        b"\\x41",
        b"\\",
        b"*1\r\n",
        b"*2\r\n",
        b"$1\r\na\r\n",
        b"$4\r\nPING\r\n",
        b"+",
        b":",
        b"\x00",
        b"\xff",
        b"99999999999999999999",
    ];
    prop::collection::vec(prop::sample::select(TOKENS), 0..48).prop_map(|tokens| tokens.concat())
}

fn small_limits() -> impl Strategy<Value = Limits> {
    (0usize..40, 1usize..6, 4usize..48).prop_map(|(max_bulk_bytes, max_args, max_inline_bytes)| {
        Limits {
            max_bulk_bytes,
            max_args,
            max_inline_bytes,
            ..Limits::default()
        }
    })
}

proptest! {
    // Failing inputs are printed; nothing is written into the source tree.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn multibulk_round_trips_under_any_split(
        pipeline in prop::collection::vec(argv_strategy(), 1..5),
        chunks in chunks_strategy(),
    ) {
        let input: Vec<u8> = pipeline.iter().flat_map(|argv| encode_multibulk(argv)).collect();
        let parsed = parse_in_chunks(&input, &chunks, &Limits::default());
        prop_assert_eq!(parsed.error, None);
        let expected: Vec<Vec<Bytes>> = pipeline.iter().map(|argv| as_bytes(argv)).collect();
        prop_assert_eq!(parsed.commands, expected);
    }

    #[test]
    fn quoted_inline_round_trips_under_any_split(
        pipeline in prop::collection::vec(argv_strategy(), 1..4),
        chunks in chunks_strategy(),
    ) {
        let input: Vec<u8> = pipeline.iter().flat_map(|argv| encode_inline(argv)).collect();
        let parsed = parse_in_chunks(&input, &chunks, &Limits::default());
        prop_assert_eq!(parsed.error, None);
        let expected: Vec<Vec<Bytes>> = pipeline.iter().map(|argv| as_bytes(argv)).collect();
        prop_assert_eq!(parsed.commands, expected);
    }

    #[test]
    fn multibulk_and_inline_mix_in_one_stream(
        pipeline in prop::collection::vec((argv_strategy(), any::<bool>()), 1..6),
        chunks in chunks_strategy(),
    ) {
        let input: Vec<u8> = pipeline
            .iter()
            .flat_map(|(argv, inline)| if *inline { encode_inline(argv) } else { encode_multibulk(argv) })
            .collect();
        let parsed = parse_in_chunks(&input, &chunks, &Limits::default());
        prop_assert_eq!(parsed.error, None);
        let expected: Vec<Vec<Bytes>> = pipeline.iter().map(|(argv, _)| as_bytes(argv)).collect();
        prop_assert_eq!(parsed.commands, expected);
    }

    /// Random bytes: never a panic, and the commands parsed (and whether the
    /// stream ends in an error) do not depend on how the bytes were cut.
    #[test]
    fn random_bytes_parse_wait_or_error_whatever_the_split(
        input in prop::collection::vec(any::<u8>(), 0..512),
        chunks in chunks_strategy(),
    ) {
        let whole = parse_in_chunks(&input, &[input.len().max(1)], &Limits::default());
        let split = parse_in_chunks(&input, &chunks, &Limits::default());
        prop_assert_eq!(&whole.commands, &split.commands);
        prop_assert_eq!(whole.error.is_some(), split.error.is_some());
    }

    #[test]
    fn request_fragments_parse_the_same_whatever_the_split(
        input in token_stream(),
        chunks in chunks_strategy(),
        limits in small_limits(),
    ) {
        let whole = parse_in_chunks(&input, &[input.len().max(1)], &limits);
        let bytewise = parse_in_chunks(&input, &[1], &limits);
        let split = parse_in_chunks(&input, &chunks, &limits);
        prop_assert_eq!(&whole.commands, &bytewise.commands);
        prop_assert_eq!(&whole.commands, &split.commands);
        prop_assert_eq!(whole.error.is_some(), bytewise.error.is_some());
        prop_assert_eq!(whole.error.is_some(), split.error.is_some());
    }

    /// Anything over a limit is an error, never an allocation or a wait.
    #[test]
    fn limits_reject_oversized_requests(
        limits in small_limits(),
        over in 1usize..10_000,
        chunks in chunks_strategy(),
    ) {
        // Header lines must fit the inline limit to get as far as their count.
        let header_limits = Limits {
            max_inline_bytes: limits.max_inline_bytes.max(32),
            ..limits.clone()
        };
        let too_many_args = format!("*{}\r\n", limits.max_args + over).into_bytes();
        prop_assert_eq!(
            parse_in_chunks(&too_many_args, &chunks, &header_limits).error,
            Some(ProtocolError::InvalidMultibulkLength)
        );
        let too_big_bulk = format!("*1\r\n${}\r\n", limits.max_bulk_bytes + over).into_bytes();
        prop_assert_eq!(
            parse_in_chunks(&too_big_bulk, &chunks, &header_limits).error,
            Some(ProtocolError::InvalidBulkLength)
        );
        let long_inline = vec![b'a'; limits.max_inline_bytes + over];
        prop_assert_eq!(
            parse_in_chunks(&long_inline, &chunks, &limits).error,
            Some(ProtocolError::TooBigInline)
        );
        let long_count = [&b"*"[..], &vec![b'1'; limits.max_inline_bytes + over]].concat();
        prop_assert!(parse_in_chunks(&long_count, &chunks, &limits).error.is_some());
        let long_bulk_header = [&b"*1\r\n$"[..], &vec![b'1'; limits.max_inline_bytes + over]].concat();
        prop_assert!(parse_in_chunks(&long_bulk_header, &chunks, &limits).error.is_some());
    }

    /// At the limits exactly, requests are accepted.
    #[test]
    fn requests_at_the_limits_are_accepted(limits in small_limits(), byte in any::<u8>()) {
        let argv = vec![vec![byte; limits.max_bulk_bytes]; limits.max_args];
        let parsed = parse_in_chunks(&encode_multibulk(&argv), &[7], &limits);
        prop_assert_eq!(parsed.error, None);
        prop_assert_eq!(parsed.commands, vec![as_bytes(&argv)]);
    }
}
