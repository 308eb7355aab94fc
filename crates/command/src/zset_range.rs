//! Score and lex ranges of sorted-set commands: parsing with Redis's rules
//! and error texts, and finding where a range starts and ends in a set.
//!
//! Redis finds range ends two ways. In a compact (listpack) set it scans
//! linearly from an end; in a large (skiplist) set it descends the skiplist,
//! a binary search. Both agree when the order of the set agrees with the
//! range (always for scores; for lex ranges when all scores are equal). Lex
//! ranges over mixed scores are undefined in Redis's docs; for compact sets
//! this module reproduces Redis's linear scans exactly, for large ones it
//! binary-searches like the skiplist descent does.

use bytes::Bytes;
use daisy_keyspace::ZSet;

use crate::zset_float::parse_range_double;
use crate::CmdError;

const SCORE_RANGE_ERROR: &str = "ERR min or max is not a float";
const LEX_RANGE_ERROR: &str = "ERR min or max not valid string range item";

/// A range over (score, member) pairs.
pub(crate) trait RangeSpec {
    /// The pair is at or after the range's start.
    fn gte_min(&self, score: f64, member: &[u8]) -> bool;
    /// The pair is at or before the range's end.
    fn lte_max(&self, score: f64, member: &[u8]) -> bool;
    /// The range can hold nothing (min above max, or equal and open).
    fn is_empty(&self) -> bool;
    /// Whether Redis scans `zset` linearly (rather than by descent) for
    /// this kind of range.
    fn scans_linearly(&self, zset: &ZSet) -> bool;
}

/// `min max` of ZRANGEBYSCORE and friends: `1.5`, `(1.5`, `-inf`, `+inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ScoreRange {
    min: f64,
    min_exclusive: bool,
    max: f64,
    max_exclusive: bool,
}

impl ScoreRange {
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Result<Self, CmdError> {
        let error = || CmdError::Static(SCORE_RANGE_ERROR);
        let (min, min_exclusive) = parse_score_bound(min).ok_or_else(error)?;
        let (max, max_exclusive) = parse_score_bound(max).ok_or_else(error)?;
        Ok(ScoreRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        })
    }
}

/// One bound: an optional `(` (exclusive), then a double as `strtod`
/// reads it.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    match arg.first() {
        Some(b'(') => parse_range_double(&arg[1..]).map(|value| (value, true)),
        _ => parse_range_double(arg).map(|value| (value, false)),
    }
}

impl RangeSpec for ScoreRange {
    fn gte_min(&self, score: f64, _member: &[u8]) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    fn lte_max(&self, score: f64, _member: &[u8]) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }

    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }

    fn scans_linearly(&self, _zset: &ZSet) -> bool {
        false
    }
}

/// One end of a lex range: `-` and `+` are below and above every string.
#[derive(Clone, Debug, PartialEq)]
enum LexItem {
    Lowest,
    Highest,
    Value(Bytes),
}

/// `min max` of ZRANGEBYLEX and friends: `[a`, `(a`, `-`, `+`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LexRange {
    min: LexItem,
    min_exclusive: bool,
    max: LexItem,
    max_exclusive: bool,
}

impl LexRange {
    pub(crate) fn parse(min: &Bytes, max: &Bytes) -> Result<Self, CmdError> {
        let error = || CmdError::Static(LEX_RANGE_ERROR);
        let (min, min_exclusive) = parse_lex_item(min).ok_or_else(error)?;
        let (max, max_exclusive) = parse_lex_item(max).ok_or_else(error)?;
        Ok(LexRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        })
    }
}

/// `+` and `-` must stand alone (C stops at a NUL byte, so `+\0...` does
/// too); `(` and `[` prefix a string.
fn parse_lex_item(arg: &Bytes) -> Option<(LexItem, bool)> {
    let alone = arg.get(1).is_none_or(|&byte| byte == 0);
    match arg.first()? {
        b'+' if alone => Some((LexItem::Highest, true)),
        b'-' if alone => Some((LexItem::Lowest, true)),
        b'(' => Some((LexItem::Value(arg.slice(1..)), true)),
        b'[' => Some((LexItem::Value(arg.slice(1..)), false)),
        _ => None,
    }
}

/// Redis's `sdscmplex`: `-` and `+` below and above everything, equal to
/// themselves.
fn compare_lex(a: &LexItem, b: &LexItem) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (LexItem::Lowest, LexItem::Lowest) | (LexItem::Highest, LexItem::Highest) => Equal,
        (LexItem::Lowest, _) | (_, LexItem::Highest) => Less,
        (LexItem::Highest, _) | (_, LexItem::Lowest) => Greater,
        (LexItem::Value(a), LexItem::Value(b)) => a.as_ref().cmp(b.as_ref()),
    }
}

fn compare_member(member: &[u8], bound: &LexItem) -> std::cmp::Ordering {
    match bound {
        LexItem::Lowest => std::cmp::Ordering::Greater,
        LexItem::Highest => std::cmp::Ordering::Less,
        LexItem::Value(value) => member.cmp(value.as_ref()),
    }
}

impl RangeSpec for LexRange {
    fn gte_min(&self, _score: f64, member: &[u8]) -> bool {
        let order = compare_member(member, &self.min);
        if self.min_exclusive {
            order.is_gt()
        } else {
            order.is_ge()
        }
    }

    fn lte_max(&self, _score: f64, member: &[u8]) -> bool {
        let order = compare_member(member, &self.max);
        if self.max_exclusive {
            order.is_lt()
        } else {
            order.is_le()
        }
    }

    fn is_empty(&self) -> bool {
        let order = compare_lex(&self.min, &self.max);
        order.is_gt() || (order.is_eq() && (self.min_exclusive || self.max_exclusive))
    }

    fn scans_linearly(&self, zset: &ZSet) -> bool {
        zset.is_compact()
    }
}

/// Redis's quick rejection: an empty range, or a set entirely outside it.
fn may_overlap(zset: &ZSet, range: &impl RangeSpec) -> bool {
    if range.is_empty() {
        return false;
    }
    let (Some((first, first_score)), Some((last, last_score))) = (
        zset.get_by_rank(0),
        zset.get_by_rank(zset.len().wrapping_sub(1)),
    ) else {
        return false;
    };
    range.gte_min(last_score, last) && range.lte_max(first_score, first)
}

fn in_range_at(zset: &ZSet, rank: usize, check: impl Fn(f64, &[u8]) -> bool) -> bool {
    zset.get_by_rank(rank)
        .is_some_and(|(member, score)| check(score, member))
}

/// The rank (ascending) of the first member in range, found as Redis does.
pub(crate) fn first_in_range(zset: &ZSet, range: &impl RangeSpec) -> Option<usize> {
    if !may_overlap(zset, range) {
        return None;
    }
    let rank = if range.scans_linearly(zset) {
        zset.iter()
            .position(|(member, score)| range.gte_min(score, member))?
    } else {
        zset.partition_point(|score, member| !range.gte_min(score, member))
    };
    in_range_at(zset, rank, |score, member| range.lte_max(score, member)).then_some(rank)
}

/// The rank (ascending) of the last member in range, found as Redis does.
pub(crate) fn last_in_range(zset: &ZSet, range: &impl RangeSpec) -> Option<usize> {
    if !may_overlap(zset, range) {
        return None;
    }
    let rank = if range.scans_linearly(zset) {
        let from_end = zset
            .iter()
            .rev()
            .position(|(member, score)| range.lte_max(score, member))?;
        zset.len() - 1 - from_end
    } else {
        zset.partition_point(|score, member| range.lte_max(score, member))
            .checked_sub(1)?
    };
    in_range_at(zset, rank, |score, member| range.gte_min(score, member)).then_some(rank)
}

/// The ranks ZCOUNT, ZLEXCOUNT and ZREMRANGEBYSCORE/LEX act on: from the
/// first member in range on, as long as members stay in range.
pub(crate) fn span_in_range(zset: &ZSet, range: &impl RangeSpec) -> std::ops::Range<usize> {
    let Some(first) = first_in_range(zset, range) else {
        return 0..0;
    };
    let count = if range.scans_linearly(zset) {
        zset.range(first..zset.len())
            .take_while(|(member, score)| range.lte_max(*score, member))
            .count()
    } else {
        let end = zset.partition_point(|score, member| range.lte_max(score, member));
        end.saturating_sub(first)
    };
    first..first + count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zset(members: &[(&str, f64)]) -> ZSet {
        let mut zset = ZSet::with_seed(1);
        for (member, score) in members {
            zset.insert(member.as_bytes(), *score);
        }
        zset
    }

    fn score_range(min: &str, max: &str) -> ScoreRange {
        ScoreRange::parse(min.as_bytes(), max.as_bytes()).unwrap()
    }

    fn lex_range(min: &'static str, max: &'static str) -> LexRange {
        LexRange::parse(
            &Bytes::from_static(min.as_bytes()),
            &Bytes::from_static(max.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn parses_score_bounds() {
        let range = score_range("(1", "+inf");
        assert!(!range.gte_min(1.0, b""));
        assert!(range.gte_min(1.5, b""));
        assert!(range.lte_max(f64::INFINITY, b""));
        assert!(score_range("(1", "1").is_empty());
        assert!(score_range("2", "1").is_empty());
        assert!(!score_range("1", "1").is_empty());
        assert!(ScoreRange::parse(b"a", b"1").is_err());
        assert!(ScoreRange::parse(b"1", b"(nan").is_err());
        assert_eq!(score_range("(", "1"), score_range("(0", "1"));
    }

    #[test]
    fn parses_lex_bounds() {
        assert!(LexRange::parse(&Bytes::from_static(b"a"), &Bytes::from_static(b"+")).is_err());
        assert!(LexRange::parse(&Bytes::from_static(b"-x"), &Bytes::from_static(b"+")).is_err());
        assert!(LexRange::parse(&Bytes::from_static(b""), &Bytes::from_static(b"+")).is_err());
        let all = lex_range("-", "+");
        assert!(all.gte_min(0.0, b"") && all.lte_max(0.0, b"\xff"));
        assert!(lex_range("+", "-").is_empty());
        assert!(lex_range("+", "+").is_empty());
        assert!(lex_range("(a", "[a").is_empty());
        assert!(!lex_range("[a", "[a").is_empty());
        assert!(!lex_range("[", "+").is_empty());
    }

    #[test]
    fn finds_score_spans() {
        let set = zset(&[("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)]);
        assert_eq!(span_in_range(&set, &score_range("2", "2")), 1..3);
        assert_eq!(span_in_range(&set, &score_range("(1", "(3")), 1..3);
        assert_eq!(span_in_range(&set, &score_range("-inf", "+inf")), 0..4);
        assert_eq!(span_in_range(&set, &score_range("4", "5")), 0..0);
        assert_eq!(first_in_range(&set, &score_range("1.5", "10")), Some(1));
        assert_eq!(last_in_range(&set, &score_range("-10", "2.5")), Some(2));
        assert_eq!(last_in_range(&set, &score_range("(3", "10")), None);
    }

    #[test]
    fn compact_lex_ranges_scan_like_a_listpack() {
        // Mixed scores: member order disagrees with the set's order.
        let set = zset(&[("a", 1.0), ("c", 2.0), ("e", 3.0), ("b", 4.0), ("f", 5.0)]);
        assert!(set.is_compact());
        let range = lex_range("[b", "[d");
        // The first member >= "b" from the head is "c"; the span stops at
        // "e", the first member after it that is past "d".
        assert_eq!(first_in_range(&set, &range), Some(1));
        assert_eq!(span_in_range(&set, &range), 1..2);
        // The last member <= "d" from the tail is "b".
        assert_eq!(last_in_range(&set, &range), Some(3));
        // A head past the range's end rejects everything at once.
        let set = zset(&[("d", 1.0), ("a", 2.0), ("c", 3.0), ("b", 4.0)]);
        assert_eq!(first_in_range(&set, &lex_range("[b", "[c")), None);
        assert_eq!(last_in_range(&set, &lex_range("[b", "[c")), None);
    }
}
