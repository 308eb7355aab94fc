//! Command errors, worded exactly as Redis words them.

use std::fmt;

/// An error reply. The text (without the leading `-`) starts with the
/// error code, so clients that switch on the code see what Redis sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    NoSuchKey,
    IndexOutOfRange,
    WrongArity(String),
    UnknownSubcommand {
        command: String,
        subcommand: String,
    },
    /// Any other error: the full text, code first (`"ERR ..."`).
    Message(String),
    /// A static error text, code first.
    Static(&'static str),
}

impl CmdError {
    pub fn msg(text: impl Into<String>) -> Self {
        CmdError::Message(text.into())
    }

    pub fn wrong_arity(command: &[u8]) -> Self {
        CmdError::WrongArity(String::from_utf8_lossy(command).to_lowercase())
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::IndexOutOfRange => f.write_str("ERR index out of range"),
            CmdError::WrongArity(command) => {
                write!(f, "ERR wrong number of arguments for '{command}' command")
            }
            CmdError::UnknownSubcommand {
                command,
                subcommand,
            } => write!(
                f,
                "ERR unknown subcommand '{subcommand}'. Try {command} HELP."
            ),
            CmdError::Message(text) => f.write_str(text),
            CmdError::Static(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for CmdError {}

pub type CmdResult = Result<crate::Flow, CmdError>;
