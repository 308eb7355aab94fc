//! Random choices from a [`Dict`]: the sampling behind `SRANDMEMBER`,
//! `SPOP` and `HRANDFIELD`, and the count rules those commands share.
//!
//! Every draw comes from the executor's [`Rng`], so a choice is repeatable
//! from the seed and can be logged as its concrete result. Nothing here
//! allocates from a client's count alone: distinct samples are bounded by
//! the collection's real size, and samples with repeats are capped by
//! [`RANDOM_REPEATS_MAX`].

use daisy_keyspace::Dict;
use hashbrown::HashSet;

use crate::args::parse_i64;
use crate::{CmdError, Rng};

/// Most elements one `SRANDMEMBER`/`HRANDFIELD` with a negative count may
/// return. Redis has no such bound and would build the whole reply in
/// memory; past this a client gets [`REPEATS_TOO_MANY`] instead.
pub(crate) const RANDOM_REPEATS_MAX: u64 = 1 << 22;
pub(crate) const REPEATS_TOO_MANY: &str = "ERR value is out of range";

/// When picking `count` distinct entries of `len`, copying every entry and
/// shuffling beats rejection sampling once `count * 3 > len` (Redis's
/// `SRANDMEMBER_SUB_STRATEGY_MUL`).
const COPY_STRATEGY_FACTOR: usize = 3;

/// Parses the count of `SRANDMEMBER` and `HRANDFIELD`: any integer but
/// `i64::MIN`, whose magnitude does not fit (Redis's
/// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`).
pub(crate) fn parse_random_count(arg: &[u8]) -> Result<i64, CmdError> {
    let count = parse_i64(arg)?;
    if count == i64::MIN {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(count)
}

/// Checks that `count` samples with repeats stay within the bound.
pub(crate) fn check_repeats(count: u64) -> Result<(), CmdError> {
    if count > RANDOM_REPEATS_MAX {
        return Err(CmdError::Static(REPEATS_TOO_MANY));
    }
    Ok(())
}

/// One entry drawn at random (`None` only when `dict` is empty).
pub(crate) fn random_entry<'a, K: AsRef<[u8]>, V>(
    dict: &'a Dict<K, V>,
    rng: &mut Rng,
) -> Option<(&'a K, &'a V)> {
    dict.random_entry(|| rng.next_u64())
}

/// `count` distinct entries chosen at random, `count < dict.len()`, in a
/// random order.
pub(crate) fn distinct_entries<'a, K: AsRef<[u8]>, V>(
    dict: &'a Dict<K, V>,
    count: usize,
    rng: &mut Rng,
) -> Vec<(&'a K, &'a V)> {
    debug_assert!(count < dict.len());
    if count.saturating_mul(COPY_STRATEGY_FACTOR) > dict.len() {
        let mut all: Vec<_> = dict.iter().collect();
        partial_shuffle(&mut all, count, rng);
        all.truncate(count);
        return all;
    }
    // Few wanted from many: draw until enough are distinct. At most a third
    // of the entries are wanted, so each draw is new with odds >= 2/3.
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(count);
    let mut chosen = Vec::with_capacity(count);
    while chosen.len() < count {
        let Some((key, value)) = random_entry(dict, rng) else {
            break;
        };
        if seen.insert(key.as_ref()) {
            chosen.push((key, value));
        }
    }
    chosen
}

/// Moves a uniform random choice of `count` items to the front of `items`
/// (the first `count` steps of a Fisher-Yates shuffle).
pub(crate) fn partial_shuffle<T>(items: &mut [T], count: usize, rng: &mut Rng) {
    let len = items.len();
    for index in 0..count.min(len) {
        let pick = index + rng.below((len - index) as u64) as usize;
        items.swap(index, pick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daisy_keyspace::CompactBytes;

    fn dict(len: usize) -> Dict<CompactBytes, ()> {
        let mut dict = Dict::with_seed(5);
        for i in 0..len {
            dict.insert(CompactBytes::new(format!("m{i}").as_bytes()), ());
        }
        dict
    }

    #[test]
    fn distinct_entries_are_distinct_with_both_strategies() {
        let mut rng = Rng::new(3);
        let dict = dict(100);
        for count in [1, 10, 33, 34, 60, 99] {
            let chosen = distinct_entries(&dict, count, &mut rng);
            assert_eq!(chosen.len(), count);
            let unique: HashSet<&[u8]> = chosen.iter().map(|(k, _)| k.as_ref()).collect();
            assert_eq!(unique.len(), count);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_choice() {
        let dict = dict(50);
        let pick = |seed| {
            let mut rng = Rng::new(seed);
            distinct_entries(&dict, 5, &mut rng)
                .into_iter()
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(11), pick(11));
    }

    #[test]
    fn counts_outside_the_range_are_refused() {
        assert_eq!(parse_random_count(b"-5"), Ok(-5));
        assert_eq!(parse_random_count(b"x"), Err(CmdError::NotInteger));
        assert!(parse_random_count(b"-9223372036854775808").is_err());
        assert!(check_repeats(RANDOM_REPEATS_MAX).is_ok());
        assert!(check_repeats(RANDOM_REPEATS_MAX + 1).is_err());
    }
}
