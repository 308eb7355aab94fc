//! Connection and server commands. They are run by the session layer (the
//! server crate), which owns connections, pub/sub and transactions; they are
//! listed here so that lookup, arity checks and `COMMAND` see every command.

use crate::flags::*;
use crate::{CommandSpec, Handler, KeySpec};

const fn session(
    name: &'static str,
    arity: i32,
    flags: u32,
    group: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: KeySpec::None,
        group,
        summary,
        handler: Handler::Session,
    }
}

pub(crate) const COMMANDS: &[CommandSpec] = &[
    session("ping", -1, FAST | STALE, "connection", "Returns the server's liveliness response."),
    session("echo", 2, FAST, "connection", "Returns the given string."),
    session("hello", -1, FAST | NO_AUTH | STALE | NOSCRIPT, "connection", "Handshakes with the Redis server."),
    session("auth", -2, FAST | NO_AUTH | STALE | NOSCRIPT, "connection", "Authenticates the connection."),
    session("select", 2, FAST | LOADING | STALE, "connection", "Changes the selected database."),
    session("quit", -1, FAST | NO_AUTH | STALE | ALLOW_BUSY, "connection", "Closes the connection."),
    session("reset", 1, FAST | NO_AUTH | STALE | NOSCRIPT, "connection", "Resets the connection."),
    session("client", -2, STALE, "connection", "A container for client connection commands."),
    session("command", -1, LOADING | STALE, "server", "Returns detailed information about all commands."),
    session("info", -1, LOADING | STALE, "server", "Returns information and statistics about the server."),
    session("config", -2, ADMIN | NOSCRIPT | LOADING | STALE, "server", "A container for server configuration commands."),
    session("time", 1, FAST | LOADING | STALE, "server", "Returns the server time."),
    session("multi", 1, FAST | NOSCRIPT | LOADING | STALE, "transactions", "Starts a transaction."),
    session("exec", 1, NOSCRIPT | LOADING | STALE, "transactions", "Executes all commands in a transaction."),
    session("discard", 1, FAST | NOSCRIPT | LOADING | STALE, "transactions", "Discards a transaction."),
    session("watch", -2, FAST | NOSCRIPT | LOADING | STALE, "transactions", "Monitors changes to keys to determine the execution of a transaction."),
    session("unwatch", 1, FAST | NOSCRIPT | LOADING | STALE, "transactions", "Forgets about watched keys of a transaction."),
    session("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "Listens for messages published to channels."),
    session("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "Stops listening to messages posted to channels."),
    session("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "Listens for messages published to channels that match one or more patterns."),
    session("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, "pubsub", "Stops listening to messages published to channels that match one or more patterns."),
    session("publish", 3, PUBSUB | LOADING | STALE | FAST, "pubsub", "Posts a message to a channel."),
    session("pubsub", -2, PUBSUB | LOADING | STALE, "pubsub", "A container for Pub/Sub commands."),
    session("readonly", 1, FAST | LOADING | STALE, "cluster", "Enables read-only queries for a connection to a secondary."),
    session("readwrite", 1, FAST | LOADING | STALE, "cluster", "Enables read-write queries for a connection to a secondary."),
    session("role", 1, NOSCRIPT | LOADING | STALE | FAST, "server", "Returns the replication role."),
    session("lastsave", 1, LOADING | STALE | FAST, "server", "Returns the Unix timestamp of the last successful save to disk."),
    session("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
];
