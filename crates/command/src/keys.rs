//! Generic key commands.

use bytes::Bytes;

use crate::flags::*;
use crate::{cmd, CmdResult, CommandSpec, Ctx, Flow};

pub(crate) const COMMANDS: &[CommandSpec] = &[
    cmd(
        "del",
        -2,
        WRITE,
        (1, -1, 1),
        "generic",
        "Deletes one or more keys.",
        del,
    ),
    cmd(
        "exists",
        -2,
        READONLY | FAST,
        (1, -1, 1),
        "generic",
        "Determines whether one or more keys exist.",
        exists,
    ),
    cmd(
        "dbsize",
        1,
        READONLY | FAST,
        (0, 0, 0),
        "server",
        "Returns the number of keys in the database.",
        dbsize,
    ),
    cmd(
        "flushall",
        -1,
        WRITE,
        (0, 0, 0),
        "server",
        "Removes all keys from all databases.",
        flush,
    ),
    cmd(
        "flushdb",
        -1,
        WRITE,
        (0, 0, 0),
        "server",
        "Remove all keys from the current database.",
        flush,
    ),
];

fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut deleted = Vec::new();
    for key in &argv[1..] {
        if ctx.db.remove(key).is_some() {
            deleted.push(key.clone());
        }
    }
    ctx.reply.int(deleted.len() as i64);
    if !deleted.is_empty() {
        deleted.insert(0, Bytes::from_static(b"DEL"));
        ctx.propagate(deleted);
    }
    Ok(Flow::Done)
}

fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let count = argv[1..].iter().filter(|key| ctx.db.contains(key)).count();
    ctx.reply.int(count as i64);
    Ok(Flow::Done)
}

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    ctx.reply.int(ctx.db.len() as i64);
    Ok(Flow::Done)
}

fn flush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2
        || argv
            .get(1)
            .is_some_and(|mode| !crate::args::is(mode, "ASYNC") && !crate::args::is(mode, "SYNC"))
    {
        return Err(crate::CmdError::Syntax);
    }
    drop(ctx.db.flush());
    ctx.propagate(vec![Bytes::from_static(b"FLUSHALL")]);
    ctx.reply.ok();
    Ok(Flow::Done)
}
