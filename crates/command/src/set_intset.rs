//! The order in which Redis lists a set's members.
//!
//! Redis 7.0 keeps a set whose members are all integers, at most
//! `set-max-intset-entries` (512) of them, as an *intset*: a sorted array.
//! Such a set lists its members in ascending numeric order (`SMEMBERS`,
//! `SUNION`, `SSCAN` ...) and is scanned in one call. Every other set is a
//! hash table in unspecified order. DaisyDB stores every set in a [`Set`]
//! table, so to answer like Redis it lists an intset-shaped set sorted.
//!
//! The emulation is exact for sets built by adding members; a Redis set
//! that once outgrew the intset and shrank back stays a hash table there,
//! whereas here it is sorted again.

use daisy_keyspace::{CompactBytes, Set};

use crate::args::parse_i64_opt;

/// Redis's default `set-max-intset-entries`.
pub(crate) const INTSET_MAX_ENTRIES: usize = 512;

/// The members sorted by value, when Redis would hold `set` as an intset.
pub(crate) fn intset_members(set: &Set) -> Option<Vec<&CompactBytes>> {
    if set.len() > INTSET_MAX_ENTRIES {
        return None;
    }
    let mut numbered = Vec::with_capacity(set.len());
    for (member, _) in set.iter() {
        numbered.push((parse_i64_opt(member)?, member));
    }
    numbered.sort_unstable_by_key(|(value, _)| *value);
    Some(numbered.into_iter().map(|(_, member)| member).collect())
}

/// The members of `set` in the order Redis would list them.
pub(crate) fn members_in_order(set: &Set) -> Box<dyn Iterator<Item = &CompactBytes> + '_> {
    match intset_members(set) {
        Some(sorted) => Box::new(sorted.into_iter()),
        None => Box::new(set.iter().map(|(member, _)| member)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daisy_keyspace::Dict;

    fn set_of(members: &[&str]) -> Set {
        let mut set = Dict::with_seed(1);
        for member in members {
            set.insert(CompactBytes::new(member.as_bytes()), ());
        }
        set
    }

    fn listed(set: &Set) -> Vec<String> {
        members_in_order(set)
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    #[test]
    fn integer_sets_list_in_numeric_order() {
        let set = set_of(&["10", "-3", "2", "9223372036854775807", "0"]);
        assert_eq!(
            listed(&set),
            vec!["-3", "0", "2", "10", "9223372036854775807"]
        );
    }

    #[test]
    fn other_sets_keep_table_order() {
        // "01" and "+1" are not canonical integers, so no intset.
        for members in [&["1", "a"][..], &["1", "01"], &["+1", "2"]] {
            let set = set_of(members);
            assert!(intset_members(&set).is_none(), "{members:?}");
            assert_eq!(listed(&set).len(), members.len());
        }
        let many: Vec<String> = (0..=INTSET_MAX_ENTRIES).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(intset_members(&set_of(&many)).is_none());
    }
}
