//! The payload of a log record: the effects of one command (or one EXEC),
//! with the executor's clock when they were made, so that replaying them
//! gives the same keyspace.
//!
//! The clock matters: a replayed command must see keys expire exactly as
//! the original did, so replay runs each record at its recorded time.
//!
//! Encoding: postcard of a versioned enum (`docs/formats.md`, "Record
//! payload"). Decoding treats the bytes as untrusted: any malformed payload
//! is an error, never a panic, and a replayed command that fails is an
//! error naming it (the log and the keyspace disagree).

use bytes::Bytes;
use daisy_keyspace::Db;
use daisy_protocol::{Protocol, Reply};
use serde::{Deserialize, Serialize};

use crate::{execute, lookup, Ctx, Effect, Handler, Rng, Settings};

/// Version 1: the clock and the effect commands, in order.
#[derive(Serialize, Deserialize)]
enum Payload<'a> {
    V1 {
        timestamp_ms: u64,
        #[serde(borrow)]
        commands: Vec<Vec<&'a serde_bytes::Bytes>>,
    },
}

/// Why a payload could not be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The bytes are not a payload of a known version.
    Malformed(String),
    /// A command in the payload is unknown, has the wrong arity, or is not
    /// a data command.
    BadCommand(String),
    /// A command ran but answered an error: the keyspace is not the one
    /// the record was made against.
    Diverged { command: String, error: String },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Malformed(why) => write!(f, "malformed record payload: {why}"),
            ReplayError::BadCommand(command) => write!(f, "record holds a bad command: {command}"),
            ReplayError::Diverged { command, error } => {
                write!(f, "replaying {command} failed with {error}")
            }
        }
    }
}

impl std::error::Error for ReplayError {}

/// Encodes effects (already resolved to argv lists) made at `timestamp_ms`.
pub fn encode(timestamp_ms: u64, commands: &[Vec<Bytes>]) -> Vec<u8> {
    let commands = commands
        .iter()
        .map(|argv| {
            argv.iter()
                .map(|arg| serde_bytes::Bytes::new(arg))
                .collect()
        })
        .collect();
    postcard::to_allocvec(&Payload::V1 {
        timestamp_ms,
        commands,
    })
    .expect("encoding into a vector cannot fail")
}

/// A decoded payload: the clock and the commands, borrowing the bytes.
pub struct Decoded<'a> {
    pub timestamp_ms: u64,
    pub commands: Vec<Vec<&'a [u8]>>,
}

/// The commands of a payload and their time, for inspection and replay.
pub fn decode(payload: &[u8]) -> Result<Decoded<'_>, ReplayError> {
    let decoded: Payload<'_> =
        postcard::from_bytes(payload).map_err(|e| ReplayError::Malformed(e.to_string()))?;
    let Payload::V1 {
        timestamp_ms,
        commands,
    } = decoded;
    let commands = commands
        .into_iter()
        .map(|argv| argv.into_iter().map(|arg| &arg[..]).collect())
        .collect();
    Ok(Decoded {
        timestamp_ms,
        commands,
    })
}

/// Applies a payload to `db`. Keys that the replay finds expired are
/// removed as the original run removed them; nothing is reported.
pub fn replay(
    db: &mut Db,
    payload: &[u8],
    rng: &mut Rng,
    settings: &Settings,
) -> Result<(), ReplayError> {
    let Decoded {
        timestamp_ms,
        commands,
    } = decode(payload)?;
    db.set_now(timestamp_ms);
    let mut reply = Reply::new(Protocol::Resp2);
    let mut effects: Vec<Effect> = Vec::new();
    for argv in commands {
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let describe = || {
            argv.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let spec = argv
            .first()
            .and_then(|name| lookup(name))
            .filter(|spec| spec.arity_ok(argv.len()))
            .ok_or_else(|| ReplayError::BadCommand(describe()))?;
        let Handler::Data(handler) = spec.handler else {
            return Err(ReplayError::BadCommand(describe()));
        };
        reply.truncate(0);
        let mut ctx = Ctx {
            db,
            reply: &mut reply,
            effects: &mut effects,
            rng,
            settings,
            in_multi: true,
        };
        execute(&mut ctx, handler, &argv);
        effects.clear();
        if reply.buffer().first() == Some(&b'-') {
            return Err(ReplayError::Diverged {
                command: describe(),
                error: String::from_utf8_lossy(&reply.buffer()[1..])
                    .trim_end()
                    .to_string(),
            });
        }
    }
    db.take_expired();
    db.take_touched_watched();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;

    fn args(list: &[&str]) -> Vec<Bytes> {
        list.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn round_trip_keeps_binary_arguments_and_time() {
        let commands = vec![
            args(&["SET", "k", "v"]),
            vec![Bytes::from_static(b"\x00\xff\r\n")],
        ];
        let payload = encode(1_234, &commands);
        let decoded = decode(&payload).unwrap();
        assert_eq!(decoded.timestamp_ms, 1_234);
        assert_eq!(decoded.commands.len(), 2);
        assert_eq!(decoded.commands[1], vec![&b"\x00\xff\r\n"[..]]);
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        assert!(matches!(decode(&[]), Err(ReplayError::Malformed(_))));
        assert!(matches!(decode(&[7, 1, 2]), Err(ReplayError::Malformed(_))));
        let payload = encode(1, &[args(&["SET", "k", "v"])]);
        for cut in 0..payload.len() {
            assert!(decode(&payload[..cut]).is_err(), "cut at {cut}");
        }
        // A huge announced count must not allocate for it.
        assert!(decode(&[0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    /// Phase 1: run commands on a primary harness and keep each command's
    /// effects as a payload at the harness's clock. Phase 2: replay the
    /// payloads on an empty keyspace. Phase 3: the two keyspaces agree,
    /// including a key that expired between two commands.
    #[test]
    fn replaying_records_rebuilds_the_keyspace() {
        let mut primary = Harness::new();
        let mut payloads = Vec::new();
        let script: &[&[&str]] = &[
            &["SET", "counter", "10"],
            &["INCRBY", "counter", "5"],
            &["SET", "lease", "x", "PX", "100"],
            &["RPUSH", "list", "a", "b", "c"],
            &["LPOP", "list"],
            &["SADD", "set", "m1", "m2", "m3"],
            &["SPOP", "set"],
            &["ZADD", "z", "1", "a", "2", "b"],
            &["HSET", "h", "f", "1"],
            &["HINCRBYFLOAT", "h", "f", "0.5"],
            &["INCRBYFLOAT", "float", "1.25"],
        ];
        for command in script {
            primary.run(command);
            payloads.push(encode(primary.db.now_ms(), &primary.effects));
        }
        primary.advance_ms(500);
        primary.run(&["APPEND", "lease", "y"]);
        payloads.push(encode(primary.db.now_ms(), &primary.effects));

        let mut replica = Harness::new();
        for payload in &payloads {
            replay(
                &mut replica.db,
                payload,
                &mut Rng::new(1),
                &Settings::default(),
            )
            .unwrap();
        }
        for key in ["counter", "lease", "float"] {
            assert_eq!(
                replica.run(&["GET", key]),
                primary.run(&["GET", key]),
                "{key}"
            );
        }
        assert_eq!(
            replica.run(&["LRANGE", "list", "0", "-1"]),
            primary.run(&["LRANGE", "list", "0", "-1"])
        );
        assert_eq!(
            replica.run(&["SCARD", "set"]),
            primary.run(&["SCARD", "set"])
        );
        assert_eq!(
            replica.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
            primary.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])
        );
        assert_eq!(
            replica.run(&["HGET", "h", "f"]),
            primary.run(&["HGET", "h", "f"])
        );
        assert_eq!(
            replica.run(&["PTTL", "lease"]),
            primary.run(&["PTTL", "lease"])
        );
    }

    #[test]
    fn a_record_that_does_not_apply_is_reported() {
        let mut h = Harness::new();
        h.run(&["SET", "s", "text"]);
        let payload = encode(h.db.now_ms(), &[args(&["LPUSH", "s", "x"])]);
        let error =
            replay(&mut h.db, &payload, &mut Rng::new(1), &Settings::default()).unwrap_err();
        assert!(matches!(error, ReplayError::Diverged { .. }), "{error}");
        let unknown = encode(1, &[args(&["NOSUCH", "x"])]);
        assert!(matches!(
            replay(&mut h.db, &unknown, &mut Rng::new(1), &Settings::default()),
            Err(ReplayError::BadCommand(_))
        ));
    }
}
