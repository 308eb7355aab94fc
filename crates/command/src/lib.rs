//! DaisyDB's commands: the table of every command, and the pure execution
//! of the data commands against a [`daisy_keyspace::Db`].
//!
//! Owns: command metadata ([`CommandSpec`]), argument parsing with Redis's
//! error texts, and one module per data-type family. A data command reads
//! its arguments, changes the keyspace, writes its reply through
//! [`daisy_protocol::Reply`] and records its change as [`Effect`]s.
//!
//! Must never: touch sockets, files or clocks, or draw randomness other than
//! from [`Ctx::rng`]. Connection and server commands (`AUTH`, `MULTI`,
//! `SUBSCRIBE`, `CLIENT`, ...) are listed here for `COMMAND` but run in the
//! session layer.
//!
//! Rules for handlers:
//! - validate every argument and every type before changing anything, so an
//!   error reply means nothing changed;
//! - record exactly the change made: [`Ctx::propagate_verbatim`] when the
//!   arguments are already deterministic, [`Ctx::propagate`] with a
//!   rewritten command otherwise, nothing when nothing changed;
//! - never leave an empty aggregate behind (`Db::remove_if_empty`).

pub mod args;
mod ctx;
mod error;
pub mod glob;
pub mod record;
mod spec;
mod table;
pub mod typed;

mod bitmap;
mod hash;
#[cfg(test)]
mod hash_test_support;
mod keys;
mod list;
mod list_block;
mod list_pop;
mod list_read;
mod list_write;
mod long_double;
mod scan_util;
mod session;
mod set;
mod set_intset;
mod set_ops;
mod set_random;
mod string;
mod zset;
mod zset_algebra;
mod zset_float;
mod zset_pop;
mod zset_query;
mod zset_range;
mod zset_sample;
#[cfg(test)]
mod zset_tests;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

use bytes::Bytes;

pub use ctx::{Ctx, Effect, Rng, Settings};
pub use error::{CmdError, CmdResult};
pub use list::blocking_timeout_reply;
pub use spec::{cmd, flags, keys_after_numkeys, CommandSpec, DataFn, Flow, Handler, KeySpec};
pub use table::{all as all_commands, lookup};
pub use zset::zset_blocking_timeout_reply;

/// Runs a data command whose arity the caller has checked. On error, the
/// partial reply and effects are discarded and the error is written.
pub fn execute(ctx: &mut Ctx<'_>, handler: DataFn, argv: &[Bytes]) -> Flow {
    let reply_start = ctx.reply.len();
    let effects_start = ctx.effects.len();
    match handler(ctx, argv) {
        Ok(flow) => flow,
        Err(error) => {
            ctx.reply.truncate(reply_start);
            ctx.effects.truncate(effects_start);
            ctx.reply.error(&error.to_string());
            Flow::Done
        }
    }
}
