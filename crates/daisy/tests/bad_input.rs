//! Hostile and malformed input over raw sockets: the server must answer with
//! Redis's own error texts, close the connection exactly when Redis does,
//! and keep serving every other client.
//!
//! Redis 7.0 is the reference: each case runs against `daisy server` and a
//! throwaway `redis-server`, and the bytes each sends back before closing
//! must be equal. Where the Redis text is part of the contract the case also
//! states it literally, so the suite still means something without Redis
//! (`DAISY_ALLOW_NO_REDIS=1`).
//!
//! Seeds: `DAISY_FUZZ_SEED=<n>` replaces the default seed of the random
//! garbage tests. `DAISY_TEST_AGAINST=redis` tests a second redis-server
//! in place of daisy (to check the cases themselves).

mod support;

use std::time::{Duration, Instant};

use support::{encode_command, escape, spawn_redis, spawn_subject, Resp, RespConn};
use support::{ServerProcess, XorShift};

/// How long a case may take to be answered and closed.
const CASE_TIMEOUT: Duration = Duration::from_secs(3);
/// Wall-clock budget of each random garbage test.
const FUZZ_BUDGET: Duration = Duration::from_secs(25);
const FUZZ_CONNECTIONS: usize = 300;
/// Mismatches printed in full by the garbage comparison.
const MISMATCHES_SHOWN: usize = 8;
const DEFAULT_FUZZ_SEED: u64 = 0xDA15_7E57;

const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
const PONG: &[u8] = b"+PONG\r\n";

/// What one connection saw: every byte the server sent, and whether the
/// server closed the connection (rather than our read timing out).
#[derive(Debug, PartialEq)]
struct Outcome {
    bytes: Vec<u8>,
    closed: bool,
}

impl Outcome {
    fn show(&self) -> String {
        format!(
            "\"{}\"{}",
            escape(&self.bytes),
            if self.closed {
                " then closed"
            } else {
                " and the connection stayed open"
            }
        )
    }
}

/// Sends `input`, ends our side of the connection and collects the reply.
/// A server that stays open after the client's end of input counts as
/// not closed.
fn exchange(port: u16, input: &[u8]) -> Outcome {
    let mut conn = RespConn::connect(port);
    // The server may close before it read everything; the reply still counts.
    let _ = conn.send_raw(input);
    let _ = conn.shutdown_write();
    let (bytes, closed) = conn.read_until_close(CASE_TIMEOUT);
    Outcome { bytes, closed }
}

fn assert_serving(server: &mut ServerProcess, after: &str) {
    assert!(server.is_running(), "{} exited after {after}", server.name);
    let mut conn = RespConn::try_connect(server.port, CASE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{} refuses connections after {after}: {e}", server.name));
    let reply = conn.call(&["PING"]);
    assert!(
        matches!(&reply, Ok(Resp::Simple(pong)) if pong == b"PONG"),
        "{} does not answer PING after {after}: {reply:?}",
        server.name
    );
}

struct Case {
    name: &'static str,
    input: Vec<u8>,
    /// What Redis 7.0 sends back, when the text is part of the contract.
    expect: Option<Vec<u8>>,
}

fn case(name: &'static str, input: impl Into<Vec<u8>>, expect: Option<&[u8]>) -> Case {
    Case {
        name,
        input: input.into(),
        expect: expect.map(<[u8]>::to_vec),
    }
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Runs every case against both servers and reports all differences at once.
fn check_cases(cases: &[Case], daisy: &mut ServerProcess, redis: Option<&mut ServerProcess>) {
    let mut problems = Vec::new();
    let mut redis = redis;
    for case in cases {
        let ours = exchange(daisy.port, &case.input);
        let reference = redis.as_deref_mut().map(|redis| {
            let outcome = exchange(redis.port, &case.input);
            assert_serving(redis, case.name);
            outcome
        });
        if let (Some(reference), Some(expect)) = (&reference, &case.expect) {
            if &reference.bytes != expect {
                problems.push(format!(
                    "{}: the test expects \"{}\" but redis-server sent {} (fix the test)",
                    case.name,
                    escape(expect),
                    reference.show()
                ));
            }
        }
        let wanted = match (&reference, &case.expect) {
            (Some(reference), _) => Outcome {
                bytes: reference.bytes.clone(),
                closed: reference.closed,
            },
            (None, Some(expect)) => Outcome {
                bytes: expect.clone(),
                closed: true,
            },
            (None, None) => {
                assert_serving(daisy, case.name);
                continue;
            }
        };
        if ours != wanted {
            problems.push(format!(
                "{}: input \"{}\"\n    redis sent {}\n    daisy sent {}",
                case.name,
                escape(&case.input[..case.input.len().min(200)]),
                wanted.show(),
                ours.show()
            ));
        }
        assert_serving(daisy, case.name);
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases differ from Redis:\n  {}",
        problems.len(),
        cases.len(),
        problems.join("\n  ")
    );
}

fn protocol_cases() -> Vec<Case> {
    let long = |n: usize| vec![b'1'; n];
    vec![
        case(
            "multibulk count not a number",
            concat(&[b"*abc\r\n", PING]),
            Some(b"-ERR Protocol error: invalid multibulk length\r\n"),
        ),
        case(
            "multibulk count above INT_MAX",
            concat(&[b"*2147483648\r\n", PING]),
            Some(b"-ERR Protocol error: invalid multibulk length\r\n"),
        ),
        case(
            "multibulk count with a plus sign",
            concat(&[b"*+1\r\n", PING]),
            Some(b"-ERR Protocol error: invalid multibulk length\r\n"),
        ),
        case(
            "bulk length not a number",
            concat(&[b"*1\r\n$abc\r\n", PING]),
            Some(b"-ERR Protocol error: invalid bulk length\r\n"),
        ),
        case(
            "negative bulk length",
            concat(&[b"*1\r\n$-5\r\n", PING]),
            Some(b"-ERR Protocol error: invalid bulk length\r\n"),
        ),
        case(
            "bulk longer than proto-max-bulk-len",
            concat(&[b"*1\r\n$536870913\r\n", PING]),
            Some(b"-ERR Protocol error: invalid bulk length\r\n"),
        ),
        case(
            "simple string where a bulk is expected",
            concat(&[b"*1\r\n+x\r\n", PING]),
            Some(b"-ERR Protocol error: expected '$', got '+'\r\n"),
        ),
        case(
            "integer where a bulk is expected",
            b"*2\r\n$3\r\nGET\r\n:1\r\n".to_vec(),
            Some(b"-ERR Protocol error: expected '$', got ':'\r\n"),
        ),
        case(
            "unbalanced double quote inline",
            concat(&[b"SET \"abc\r\n", PING]),
            Some(b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        ),
        case(
            "unbalanced single quote inline",
            concat(&[b"SET 'abc k\r\n", PING]),
            Some(b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        ),
        case(
            "closing quote followed by a letter",
            concat(&[b"GET \"a\"b\r\n", PING]),
            Some(b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        ),
        case(
            "inline line over 64 KiB",
            vec![b'a'; 70_000],
            Some(b"-ERR Protocol error: too big inline request\r\n"),
        ),
        case(
            "multibulk count line over 64 KiB",
            concat(&[b"*", &long(70_000)]),
            Some(b"-ERR Protocol error: too big mbulk count string\r\n"),
        ),
        case(
            "bulk length line over 64 KiB",
            concat(&[b"*1\r\n$", &long(70_000)]),
            Some(b"-ERR Protocol error: too big bulk count string\r\n"),
        ),
    ]
}

fn command_error_cases() -> Vec<Case> {
    let unknown: &[u8] = b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n";
    let long_arg = "x".repeat(300);
    let long_name = "y".repeat(200);
    vec![
        case(
            "unknown command, multibulk",
            concat(&[&encode_command(&["foo", "a", "b"]), PING]),
            Some(&[unknown, PONG].concat()),
        ),
        case(
            "unknown command, inline",
            concat(&[b"foo a b\r\n", PING]),
            Some(&[unknown, PONG].concat()),
        ),
        case(
            "unknown command without arguments",
            concat(&[&encode_command(&["foo"]), PING]),
            Some(
                &[
                    &b"-ERR unknown command 'foo', with args beginning with: \r\n"[..],
                    PONG,
                ]
                .concat(),
            ),
        ),
        case(
            "unknown command, argument with CR LF",
            concat(&[&encode_command(&["foo", "a\r\nb"]), PING]),
            Some(
                &[
                    &b"-ERR unknown command 'foo', with args beginning with: 'a  b' \r\n"[..],
                    PONG,
                ]
                .concat(),
            ),
        ),
        case(
            "unknown command, long argument is cut",
            concat(&[&encode_command(&["foo", &long_arg, "z"]), PING]),
            None,
        ),
        case(
            "unknown command, long name is cut",
            concat(&[&encode_command(&[long_name.as_str(), "a"]), PING]),
            None,
        ),
        case(
            "empty command name",
            concat(&[&encode_command(&[""]), PING]),
            Some(
                &[
                    &b"-ERR unknown command '', with args beginning with: \r\n"[..],
                    PONG,
                ]
                .concat(),
            ),
        ),
        case(
            "wrong arity, multibulk",
            concat(&[&encode_command(&["GET"]), PING]),
            Some(
                &[
                    &b"-ERR wrong number of arguments for 'get' command\r\n"[..],
                    PONG,
                ]
                .concat(),
            ),
        ),
        case(
            "wrong arity, inline, mixed case",
            concat(&[b"gEt a b\r\n", PING]),
            Some(
                &[
                    &b"-ERR wrong number of arguments for 'get' command\r\n"[..],
                    PONG,
                ]
                .concat(),
            ),
        ),
        case(
            "empty requests are skipped",
            concat(&[b"*0\r\n*-1\r\n\r\n   \r\n\n", PING]),
            Some(PONG),
        ),
        case(
            "inline with LF only",
            b"PING\nPING\n".to_vec(),
            Some(b"+PONG\r\n+PONG\r\n"),
        ),
        case(
            "bulk not followed by CR LF is taken by its length",
            b"*1\r\n$4\r\nPINGxx".to_vec(),
            Some(PONG),
        ),
        case(
            "bulk header where a command should start",
            b"$3\r\nabc\r\n".to_vec(),
            Some(
                b"-ERR unknown command '$3', with args beginning with: \r\n\
                  -ERR unknown command 'abc', with args beginning with: \r\n",
            ),
        ),
        case(
            "inline quoting",
            concat(&[b"ECHO \"a b\\x41\\n\"\r\nECHO 'it\\'s'\r\n"]),
            Some(b"$5\r\na bA\n\r\n$4\r\nit's\r\n"),
        ),
        case(
            "incomplete request at end of input is dropped",
            concat(&[PING, b"*2\r\n$4\r\nECHO\r\n$10\r\nabc"]),
            Some(PONG),
        ),
        case(
            "inline whitespace: tab, vertical tab, form feed",
            b"ECHO\ta\r\nECHO\x0bb\r\nECHO\x0cc\r\n".to_vec(),
            None,
        ),
        case(
            "NUL byte in an unknown inline command",
            b"fo\x00o a\r\n".to_vec(),
            None,
        ),
    ]
}

fn servers() -> (ServerProcess, Option<ServerProcess>) {
    (spawn_subject(&[]), spawn_redis(&[]))
}

#[test]
fn malformed_requests_get_redis_protocol_errors_and_close() {
    let (mut daisy, mut redis) = servers();
    check_cases(&protocol_cases(), &mut daisy, redis.as_mut());
}

#[test]
fn bad_commands_get_redis_errors_and_the_connection_stays_usable() {
    let (mut daisy, mut redis) = servers();
    check_cases(&command_error_cases(), &mut daisy, redis.as_mut());
}

/// Redis waits for the end of the line before it looks at the type byte;
/// an earlier error is acceptable, any other reply is not.
#[test]
fn wrong_type_byte_before_the_line_is_complete() {
    let mut daisy = spawn_subject(&[]);
    let ours = exchange(daisy.port, b"*1\r\n+x");
    let expected: &[u8] = b"-ERR Protocol error: expected '$', got '+'\r\n";
    assert!(ours.closed, "daisy did not close: {}", ours.show());
    assert!(
        ours.bytes.is_empty() || ours.bytes == expected,
        "daisy sent {}",
        ours.show()
    );
    if !ours.bytes.is_empty() {
        eprintln!("note: daisy rejects '*1\\r\\n+x' before the line ends; Redis waits for CR LF");
    }
    assert_serving(&mut daisy, "a '+' where '$' belongs");
}

#[test]
fn password_protected_server_rejects_like_redis() {
    let mut daisy = spawn_subject(&["--requirepass", "s3cret"]);
    let mut redis = spawn_redis(&["--requirepass", "s3cret"]);
    let noauth: &[u8] = b"-NOAUTH Authentication required.\r\n";
    let cases = vec![
        case(
            "command before AUTH",
            encode_command(&["GET", "k"]),
            Some(noauth),
        ),
        case("PING before AUTH", encode_command(&["PING"]), Some(noauth)),
        case(
            "wrong password",
            concat(&[
                &encode_command(&["AUTH", "nope"]),
                &encode_command(&["GET", "k"]),
            ]),
            Some(
                &[
                    &b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"[..],
                    noauth,
                ]
                .concat(),
            ),
        ),
        case(
            "right password",
            concat(&[
                &encode_command(&["AUTH", "s3cret"]),
                &encode_command(&["GET", "k"]),
            ]),
            Some(b"+OK\r\n$-1\r\n"),
        ),
        case(
            "many arguments before AUTH",
            b"*11\r\n".to_vec(),
            Some(b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
        ),
        case(
            "large bulk before AUTH",
            b"*1\r\n$16385\r\n".to_vec(),
            Some(b"-ERR Protocol error: unauthenticated bulk length\r\n"),
        ),
        // Redis looks the command up before it checks authentication.
        case(
            "unknown command before AUTH",
            encode_command(&["foo", "a"]),
            Some(b"-ERR unknown command 'foo', with args beginning with: 'a' \r\n"),
        ),
        case(
            "wrong arity before AUTH",
            encode_command(&["GET"]),
            Some(b"-ERR wrong number of arguments for 'get' command\r\n"),
        ),
    ];
    let mut problems = Vec::new();
    for case in &cases {
        let ours = exchange(daisy.port, &case.input);
        let wanted = match redis.as_mut() {
            Some(redis) => exchange(redis.port, &case.input).bytes,
            None => case.expect.clone().unwrap_or_default(),
        };
        if Some(&wanted) != case.expect.as_ref() {
            problems.push(format!(
                "{}: redis sent \"{}\" (fix the test)",
                case.name,
                escape(&wanted)
            ));
        }
        if ours.bytes != wanted {
            problems.push(format!(
                "{}: redis sent \"{}\", daisy sent {}",
                case.name,
                escape(&wanted),
                ours.show()
            ));
        }
        assert!(daisy.is_running(), "daisy exited after {}", case.name);
    }
    assert!(
        problems.is_empty(),
        "differences:\n  {}",
        problems.join("\n  ")
    );
}

/// A pipeline delivered one byte per write gives the same replies as Redis.
#[test]
fn requests_split_at_every_byte_are_reassembled() {
    let (daisy, redis) = servers();
    let mut pipeline = Vec::new();
    for i in 0..40 {
        let value = format!("value-{i}-{}", "z".repeat(i * 7));
        pipeline.extend(encode_command(&["ECHO", &value]));
        pipeline.extend(format!("ECHO inline-{i}\r\n").into_bytes());
    }
    pipeline.extend_from_slice(PING);
    let bytewise = |port: u16| {
        let mut conn = RespConn::connect(port);
        for byte in &pipeline {
            conn.send_raw(std::slice::from_ref(byte))
                .expect("write one byte");
        }
        let _ = conn.shutdown_write();
        conn.read_until_close(CASE_TIMEOUT * 2)
    };
    let (ours, closed) = bytewise(daisy.port);
    assert!(closed, "daisy kept the connection open after end of input");
    assert!(ours.ends_with(PONG), "daisy: \"{}\"", escape(&ours));
    if let Some(redis) = redis {
        let (theirs, _) = bytewise(redis.port);
        assert_eq!(escape(&ours), escape(&theirs));
    }
}

fn fuzz_seed() -> u64 {
    std::env::var("DAISY_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(DEFAULT_FUZZ_SEED)
}

/// Pure random bytes, or random bytes behind a plausible header.
fn random_garbage(rng: &mut XorShift) -> Vec<u8> {
    let len = rng.below(600);
    let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    let prefixes: &[&[u8]] = &[
        b"",
        b"*",
        b"*3\r\n$",
        b"*2\r\n$3\r\nGET\r\n$",
        b"$",
        b"\"",
        b"*1\r\n",
    ];
    let mut out = rng.pick(prefixes).to_vec();
    out.append(&mut bytes);
    out
}

#[test]
fn random_garbage_never_brings_the_server_down() {
    let seed = fuzz_seed();
    let mut rng = XorShift::new(seed);
    let mut daisy = spawn_subject(&[]);
    let started = Instant::now();
    for i in 0..FUZZ_CONNECTIONS {
        if started.elapsed() > FUZZ_BUDGET {
            eprintln!("garbage fuzz: time budget used up after {i} connections");
            break;
        }
        let garbage = random_garbage(&mut rng);
        let outcome = exchange(daisy.port, &garbage);
        assert!(
            outcome.closed,
            "seed {seed}, connection {i}: daisy kept the connection open after end of input; \
             input \"{}\"; reproduce: DAISY_FUZZ_SEED={seed} cargo test -p daisy --test bad_input",
            escape(&garbage)
        );
        if i % 20 == 19 {
            assert_serving(&mut daisy, &format!("garbage connection {i} (seed {seed})"));
        }
    }
    assert_serving(&mut daisy, "the garbage run");
}

/// Pieces of requests, stuck together at random: every framing decision of
/// the parser is exercised, and the bytes sent back must be Redis's.
fn token_garbage(rng: &mut XorShift) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"*",
        b"*",
        b"$",
        b"$",
        b"1",
        b"2",
        b"3",
        b"4",
        b"0",
        b"-1",
        b"\r\n",
        b"\r\n",
        b"\r\n",
        b"\r",
        b"\n",
        b" ",
        b"  ",
        b"\t",
        b"PING",
        b"ECHO",
        b"GET",
        b"EXISTS",
        b"foo",
        b"x",
        b"abc",
        b"\"",
        b"'",
        b"\\x41",
        b"\\",
        b"*1\r\n",
        b"*2\r\n",
        b"$4\r\nPING\r\n",
        b"$4\r\nECHO\r\n",
        b"$1\r\na\r\n",
        b"$3\r\nGET\r\n",
        b"+",
        b":",
        b"-",
        b"a\"b",
        b"\x00",
        b"\xff",
    ];
    let n = 1 + rng.below(24);
    (0..n).flat_map(|_| rng.pick(TOKENS).to_vec()).collect()
}

#[test]
fn token_garbage_gets_the_same_answers_as_redis() {
    let seed = fuzz_seed();
    let mut rng = XorShift::new(seed);
    let (mut daisy, redis) = servers();
    let Some(mut redis) = redis else {
        return;
    };
    let started = Instant::now();
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for i in 0..FUZZ_CONNECTIONS {
        if started.elapsed() > FUZZ_BUDGET {
            eprintln!("token fuzz: time budget used up after {i} connections");
            break;
        }
        let input = token_garbage(&mut rng);
        let ours = exchange(daisy.port, &input);
        let theirs = exchange(redis.port, &input);
        compared += 1;
        if ours != theirs {
            mismatches.push(format!(
                "connection {i}: input \"{}\"\n    redis sent {}\n    daisy sent {}",
                escape(&input),
                theirs.show(),
                ours.show()
            ));
        }
        if i % 20 == 19 {
            assert_serving(
                &mut daisy,
                &format!("token garbage connection {i} (seed {seed})"),
            );
            assert_serving(&mut redis, "token garbage");
        }
    }
    assert_serving(&mut daisy, "the token garbage run");
    assert!(
        mismatches.is_empty(),
        "seed {seed}: {} of {compared} garbage inputs got a different answer from Redis \
         (first {MISMATCHES_SHOWN} below); reproduce: DAISY_FUZZ_SEED={seed} cargo test -p daisy \
         --test bad_input token_garbage\n  {}",
        mismatches.len(),
        mismatches
            .iter()
            .take(MISMATCHES_SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// Clients stuck in the middle of a request hold nothing up for others,
/// and each one's request completes when its bytes arrive.
#[test]
fn half_sent_requests_do_not_block_other_clients() {
    let mut daisy = spawn_subject(&[]);
    let mut stalled: Vec<RespConn> = (0..50)
        .map(|_| {
            let mut conn = daisy.connect();
            conn.send_raw(b"*2\r\n$4\r\nECHO\r\n$10\r\nabc")
                .expect("send half a request");
            conn
        })
        .collect();
    assert_serving(&mut daisy, "50 half-sent requests");
    for conn in stalled.iter_mut().step_by(7) {
        conn.send_raw(b"defghij\r\n").expect("send the rest");
        let reply = conn
            .read_reply()
            .expect("a reply once the request is complete");
        assert_eq!(reply, Resp::Bulk(b"abcdefghij".to_vec()));
    }
}
