//! SORT and SORT_RO: the elements of a list, set or sorted set, ordered
//! numerically or lexicographically, by themselves or by values found
//! through a `BY` pattern, with `LIMIT`, `GET` patterns and `STORE`.
//!
//! Patterns replace the first `*` with the element; `key->field` reads a
//! hash field; `GET #` is the element itself. A `BY` pattern without `*`
//! skips sorting. The sort is stable, so equal keys keep the order the
//! elements were read in.
//!
//! `STORE` is recorded as its result (`DEL` of the destination and
//! `RPUSH` of the sorted elements), so replaying it never depends on the
//! order a replica iterates a set in.

use std::cmp::Ordering;

use bytes::Bytes;
use daisy_keyspace::Value;

use crate::args::{is, parse_i64};
use crate::{CmdError, CmdResult, Ctx, Flow};

/// Keys of a SORT command: the sorted key and, when given, the last
/// `STORE` destination.
pub(super) fn keys(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut store = None;
    let mut index = 2;
    while index < argv.len() {
        let arg = &argv[index];
        if is(arg, "LIMIT") {
            index += 2;
        } else if is(arg, "GET") || is(arg, "BY") {
            index += 1;
        } else if is(arg, "STORE") && index + 1 < argv.len() {
            store = Some(index + 1);
        }
        index += 1;
    }
    keys.extend(store);
    keys.retain(|&index| index < argv.len());
    keys
}

pub(super) fn sort(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, false)
}

pub(super) fn sort_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, true)
}

struct SortOptions<'a> {
    descending: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a Bytes>,
    by: Option<&'a [u8]>,
    /// A `BY` pattern without `*`: keep the natural order.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
}

impl<'a> SortOptions<'a> {
    fn parse(argv: &'a [Bytes], read_only: bool) -> Result<Self, CmdError> {
        let mut options = SortOptions {
            descending: false,
            alpha: false,
            limit_start: 0,
            limit_count: -1,
            store: None,
            by: None,
            dont_sort: false,
            gets: Vec::new(),
        };
        let mut index = 2;
        while index < argv.len() {
            let (arg, left) = (&argv[index], argv.len() - index - 1);
            if is(arg, "ASC") {
                options.descending = false;
            } else if is(arg, "DESC") {
                options.descending = true;
            } else if is(arg, "ALPHA") {
                options.alpha = true;
            } else if is(arg, "LIMIT") && left >= 2 {
                options.limit_start = parse_i64(&argv[index + 1])?;
                options.limit_count = parse_i64(&argv[index + 2])?;
                index += 2;
            } else if !read_only && is(arg, "STORE") && left >= 1 {
                options.store = Some(&argv[index + 1]);
                index += 1;
            } else if is(arg, "BY") && left >= 1 {
                let pattern = &argv[index + 1];
                options.by = Some(pattern);
                if !c_string(pattern).contains(&b'*') {
                    options.dont_sort = true;
                }
                index += 1;
            } else if is(arg, "GET") && left >= 1 {
                options.gets.push(&argv[index + 1]);
                index += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            index += 1;
        }
        Ok(options)
    }
}

/// The part of `bytes` a C string function sees: up to the first NUL.
fn c_string(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    List,
    Set,
    ZSet,
}

/// The elements of the sorted key in their natural order (sorted sets by
/// score), or WRONGTYPE.
fn read_source(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<(SourceKind, Vec<Bytes>), CmdError> {
    let copy = |member: &[u8]| Bytes::copy_from_slice(member);
    Ok(match ctx.db.get(key) {
        None => (SourceKind::List, Vec::new()),
        Some(Value::List(list)) => (SourceKind::List, list.iter().map(|m| copy(m)).collect()),
        Some(Value::Set(set)) => (SourceKind::Set, set.iter().map(|(m, _)| copy(m)).collect()),
        Some(Value::ZSet(zset)) => (
            SourceKind::ZSet,
            zset.iter().map(|(m, _)| copy(m)).collect(),
        ),
        Some(_) => return Err(CmdError::WrongType),
    })
}

/// One element and what it sorts by.
struct Entry {
    element: Bytes,
    score: f64,
    /// The `BY` value for ALPHA sorting; `None` when it was not found.
    compare_by: Option<Bytes>,
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only: bool) -> CmdResult {
    let mut options = SortOptions::parse(argv, read_only)?;
    let (kind, elements) = read_source(ctx, &argv[1])?;
    // Replication needs a set's order to be deterministic when stored.
    if options.dont_sort && kind == SourceKind::Set && options.store.is_some() {
        options.dont_sort = false;
        options.alpha = true;
        options.by = None;
    }
    let len = elements.len() as i64;
    let mut start = options.limit_start.max(0);
    let mut end = if options.limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(options.limit_count - 1)
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    let natural_order = options.dont_sort && kind != SourceKind::Set;
    let mut entries: Vec<Entry> = if natural_order {
        // Only the requested range, in natural or reversed order.
        let count = (end - start + 1).max(0) as usize;
        let skip = start.max(0) as usize;
        let ordered: Box<dyn Iterator<Item = Bytes>> = if options.descending {
            Box::new(elements.into_iter().rev())
        } else {
            Box::new(elements.into_iter())
        };
        let entries = ordered.skip(skip).take(count).map(entry).collect();
        end -= start;
        start = 0;
        entries
    } else {
        elements.into_iter().map(entry).collect()
    };
    if !options.dont_sort {
        load_sort_keys(ctx, &options, &mut entries)?;
        sort_entries(&options, &mut entries);
    }
    let selected: &[Entry] = if end >= start {
        &entries[start as usize..=end as usize]
    } else {
        &[]
    };
    match options.store {
        None => reply_elements(ctx, &options, selected),
        Some(destination) => store_elements(ctx, &options, selected, destination),
    }
    Ok(Flow::Done)
}

fn entry(element: Bytes) -> Entry {
    Entry {
        element,
        score: 0.0,
        compare_by: None,
    }
}

/// Fills in the scores (numeric sort) or comparison values (ALPHA with
/// BY); fails if a numeric sort meets a value that is not a double.
fn load_sort_keys(
    ctx: &mut Ctx<'_>,
    options: &SortOptions<'_>,
    entries: &mut [Entry],
) -> Result<(), CmdError> {
    let mut conversion_error = false;
    for entry in entries.iter_mut() {
        let by_value = match options.by {
            Some(pattern) => match lookup_by_pattern(ctx, pattern, &entry.element) {
                Some(value) => value,
                None => continue,
            },
            None => entry.element.clone(),
        };
        if options.alpha {
            if options.by.is_some() {
                entry.compare_by = Some(by_value);
            }
        } else {
            match parse_strtod(&by_value) {
                Some(score) => entry.score = score,
                None => conversion_error = true,
            }
        }
    }
    if conversion_error {
        return Err(CmdError::Static(
            "ERR One or more scores can't be converted into double",
        ));
    }
    Ok(())
}

fn sort_entries(options: &SortOptions<'_>, entries: &mut [Entry]) {
    let collate = options.store.is_none();
    let text_order = |a: &[u8], b: &[u8]| {
        if collate {
            c_string(a).cmp(c_string(b))
        } else {
            a.cmp(b)
        }
    };
    entries.sort_by(|a, b| {
        let order = if !options.alpha {
            a.score
                .partial_cmp(&b.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.element.cmp(&b.element))
        } else if options.by.is_some() {
            match (&a.compare_by, &b.compare_by) {
                (Some(x), Some(y)) => text_order(x, y),
                (x, y) => x.is_some().cmp(&y.is_some()),
            }
        } else {
            text_order(&a.element, &b.element)
        };
        if options.descending {
            order.reverse()
        } else {
            order
        }
    });
}

fn reply_elements(ctx: &mut Ctx<'_>, options: &SortOptions<'_>, selected: &[Entry]) {
    let per_element = options.gets.len().max(1);
    ctx.reply.array(selected.len() * per_element);
    for entry in selected {
        if options.gets.is_empty() {
            ctx.reply.bulk(&entry.element);
        }
        for pattern in &options.gets {
            match lookup_by_pattern(ctx, pattern, &entry.element) {
                Some(value) => ctx.reply.bulk(&value),
                None => ctx.reply.null(),
            }
        }
    }
}

fn store_elements(
    ctx: &mut Ctx<'_>,
    options: &SortOptions<'_>,
    selected: &[Entry],
    destination: &Bytes,
) {
    let mut items = Vec::new();
    for entry in selected {
        if options.gets.is_empty() {
            items.push(entry.element.clone());
        }
        for pattern in &options.gets {
            items.push(lookup_by_pattern(ctx, pattern, &entry.element).unwrap_or_default());
        }
    }
    let existed = ctx.db.remove(destination).is_some();
    if existed {
        ctx.propagate(vec![Bytes::from_static(b"DEL"), destination.clone()]);
    }
    let count = items.len();
    if count > 0 {
        let list = items.iter().map(|item| item[..].into()).collect();
        ctx.db.set(destination, Value::List(Box::new(list)), false);
        let mut effect = Vec::with_capacity(count + 2);
        effect.push(Bytes::from_static(b"RPUSH"));
        effect.push(destination.clone());
        effect.extend(items);
        ctx.propagate(effect);
    }
    ctx.reply.int(count as i64);
}

/// The value a `BY` or `GET` pattern points to for `element`: `#` is the
/// element, `prefix*suffix` a string key, `prefix*suffix->field` a hash
/// field. `None` when the pattern has no `*` or nothing is there.
fn lookup_by_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if c_string(pattern) == b"#" {
        return Some(Bytes::copy_from_slice(element));
    }
    let star = c_string(pattern).iter().position(|&b| b == b'*')?;
    let after_star = c_string(&pattern[star + 1..]);
    let field_at = after_star
        .windows(2)
        .position(|pair| pair == b"->")
        .filter(|&at| at + 2 < after_star.len())
        .map(|at| star + 1 + at);
    let key_end = field_at.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(key_end + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    match (ctx.db.get(&key)?, field_at) {
        (Value::Str(value), None) => Some(Bytes::copy_from_slice(value)),
        (Value::Hash(hash), Some(at)) => hash
            .get(&pattern[at + 2..])
            .map(|value| Bytes::copy_from_slice(value)),
        _ => None,
    }
}

/// A double as C's `strtod` reads it for SORT: leading spaces allowed,
/// the whole text (up to a NUL) consumed, no NaN, no overflow or underflow.
fn parse_strtod(text: &[u8]) -> Option<f64> {
    let text = c_string(text);
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(text.len());
    let body = std::str::from_utf8(&text[start..]).ok()?;
    if body.is_empty() {
        return Some(0.0); // strtod reads nothing and stops at the end
    }
    let unsigned = body.trim_start_matches(['+', '-']);
    if body.len() - unsigned.len() > 1 {
        return None;
    }
    let lower = unsigned.to_ascii_lowercase();
    let explicit_infinity = lower == "inf" || lower == "infinity";
    if !explicit_infinity
        && !lower
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    let value: f64 = body.parse().ok()?;
    let nonzero_digits = lower
        .split('e')
        .next()
        .is_some_and(|mantissa| mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)));
    let out_of_range = (value.is_infinite() && !explicit_infinity)
        || (nonzero_digits && (value == 0.0 || value.is_subnormal()));
    (!out_of_range).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::parse_strtod;

    #[test]
    fn strtod_rules() {
        assert_eq!(parse_strtod(b"12"), Some(12.0));
        assert_eq!(parse_strtod(b"  -1.5e2"), Some(-150.0));
        assert_eq!(parse_strtod(b""), Some(0.0));
        assert_eq!(parse_strtod(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_strtod(b"12\0junk"), Some(12.0));
        assert_eq!(parse_strtod(b"1e400"), None);
        assert_eq!(parse_strtod(b"1e-400"), None);
        assert_eq!(parse_strtod(b"0e-400"), Some(0.0));
        assert_eq!(parse_strtod(b"nan"), None);
        assert_eq!(parse_strtod(b"12 "), None);
        assert_eq!(parse_strtod(b"abc"), None);
        assert_eq!(parse_strtod(b"--1"), None);
    }
}
