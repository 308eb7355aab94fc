//! The command table: every command DaisyDB knows, looked up by name.

use std::sync::OnceLock;

use hashbrown::HashMap;

use crate::CommandSpec;

/// Longest command name; longer names cannot match.
const MAX_NAME_BYTES: usize = 32;

fn families() -> [&'static [CommandSpec]; 8] {
    [
        crate::session::COMMANDS,
        crate::keys::COMMANDS,
        crate::string::COMMANDS,
        crate::list::COMMANDS,
        crate::hash::COMMANDS,
        crate::set::COMMANDS,
        crate::zset::COMMANDS,
        crate::bitmap::COMMANDS,
    ]
}

fn table() -> &'static HashMap<&'static str, &'static CommandSpec> {
    static TABLE: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = HashMap::new();
        for family in families() {
            for spec in family {
                let previous = map.insert(spec.name, spec);
                assert!(previous.is_none(), "command {} defined twice", spec.name);
                assert_eq!(spec.name, spec.name.to_lowercase(), "names are lowercase");
            }
        }
        map
    })
}

/// The command named `name` (any case).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > MAX_NAME_BYTES {
        return None;
    }
    let mut lower = [0u8; MAX_NAME_BYTES];
    for (slot, byte) in lower.iter_mut().zip(name) {
        *slot = byte.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&lower[..name.len()]).ok()?;
    table().get(lower).copied()
}

/// Every command, sorted by name.
pub fn all() -> Vec<&'static CommandSpec> {
    let mut all: Vec<_> = table().values().copied().collect();
    all.sort_by_key(|spec| spec.name);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }

    #[test]
    fn table_builds_without_duplicates() {
        assert!(all().len() > 10);
    }
}
