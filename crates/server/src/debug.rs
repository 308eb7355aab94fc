//! DEBUG: commands that look inside the node, for tests and operators.
//!
//! Only the read-only subcommands that tests need are served:
//! `DEBUG DIGEST` (the digest of the whole keyspace) and
//! `DEBUG DIGEST-VALUE key [key ...]` (one digest per key), with Redis's
//! reply shapes: status lines of 40 hex digits, all zeros for nothing. Two
//! nodes holding the same data answer the same digest (the scheme is in
//! `daisy_keyspace`'s `digest.rs`). Never changes the keyspace: keys that
//! have expired are left out of the digest but not deleted.

use bytes::Bytes;
use daisy_command::args::is;
use daisy_keyspace::Db;
use daisy_protocol::Reply;

const HELP_LINES: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "HELP",
    "    Prints this help.",
];

/// Runs `DEBUG <subcommand> ...` against `db` as it is at `now_ms`.
pub(crate) fn debug_command(db: &Db, now_ms: u64, reply: &mut Reply, argv: &[Bytes]) {
    let subcommand = &argv[1];
    if is(subcommand, "DIGEST") && argv.len() == 2 {
        reply.simple(&db.digest(now_ms).to_string());
    } else if is(subcommand, "DIGEST-VALUE") {
        reply.array(argv.len() - 2);
        for key in &argv[2..] {
            reply.simple(&db.value_digest(key, now_ms).to_string());
        }
    } else if is(subcommand, "HELP") && argv.len() == 2 {
        reply.array(HELP_LINES.len());
        for line in HELP_LINES {
            reply.simple(line);
        }
    } else {
        // Redis 7.0's text for DEBUG (it has no subcommand table).
        reply.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(subcommand)
        ));
    }
}
