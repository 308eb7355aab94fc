//! (family under construction: commands are added here)

use crate::CommandSpec;

pub(crate) const COMMANDS: &[CommandSpec] = &[];
