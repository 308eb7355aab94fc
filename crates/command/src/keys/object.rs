//! OBJECT: ENCODING, REFCOUNT, IDLETIME, FREQ and HELP.
//!
//! DaisyDB keeps no access clock or frequency per key: IDLETIME answers 0,
//! and FREQ answers the error Redis gives when no LFU policy is set.

use bytes::Bytes;
use daisy_keyspace::Value;

use crate::args::is;
use crate::string::encoding;
use crate::{CmdError, CmdResult, Ctx, Flow};

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Longest subcommand name Redis repeats in its error text.
const SUBCOMMAND_ECHO_BYTES: usize = 128;

#[derive(Clone, Copy)]
enum Subcommand {
    Encoding,
    RefCount,
    IdleTime,
    Freq,
    Help,
}

impl Subcommand {
    fn parse(name: &[u8]) -> Option<(Subcommand, &'static str, usize)> {
        [
            (Subcommand::Encoding, "encoding", 3),
            (Subcommand::RefCount, "refcount", 3),
            (Subcommand::IdleTime, "idletime", 3),
            (Subcommand::Freq, "freq", 3),
            (Subcommand::Help, "help", 2),
        ]
        .into_iter()
        .find(|(_, subcommand_name, _)| is(name, subcommand_name))
    }
}

pub(super) fn object(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some((subcommand, name, arity)) = Subcommand::parse(&argv[1]) else {
        let echoed = &argv[1][..argv[1].len().min(SUBCOMMAND_ECHO_BYTES)];
        return Err(CmdError::UnknownSubcommand {
            command: "OBJECT".into(),
            subcommand: String::from_utf8_lossy(echoed).into_owned(),
        });
    };
    if argv.len() != arity {
        return Err(CmdError::msg(format!(
            "ERR wrong number of arguments for 'object|{name}' command"
        )));
    }
    if let Subcommand::Help = subcommand {
        ctx.reply.array(HELP.len());
        for line in HELP {
            ctx.reply.simple(line);
        }
        return Ok(Flow::Done);
    }
    let Some(value) = ctx.db.get(&argv[2]) else {
        ctx.reply.null();
        return Ok(Flow::Done);
    };
    match subcommand {
        Subcommand::Encoding => {
            let name = match value {
                Value::Str(text) => encoding::name(text),
                other => other.encoding(),
            };
            ctx.reply.bulk(name.as_bytes());
        }
        Subcommand::RefCount => {
            let count = match value {
                Value::Str(text) => encoding::refcount(text),
                _ => 1,
            };
            ctx.reply.int(count);
        }
        Subcommand::IdleTime => ctx.reply.int(0),
        Subcommand::Freq => return Err(CmdError::Static(NO_LFU)),
        Subcommand::Help => unreachable!("answered above"),
    }
    Ok(Flow::Done)
}
