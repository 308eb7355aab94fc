//! What `HSCAN` and `SSCAN` share: the cursor and option parsing, Redis's
//! glob matcher for `MATCH`, the bounded scan loop over a [`Dict`], and
//! the reply shape `[cursor, [items...]]`.
//!
//! The matcher follows Redis's `stringmatchlen` rule for rule (`*`, `?`,
//! `[...]`, `[^...]`, ranges, backslash escapes, and its quirks with
//! unterminated classes and signed bytes in ranges), but runs without
//! recursion: the pattern reads as tokens that each match one byte, and
//! the classic star-backtracking walk decides the match in O(pattern x
//! string) time with no stack growth and no allocation.

use bytes::Bytes;
use daisy_keyspace::Dict;
use daisy_protocol::Reply;

use crate::args::{is, parse_i64};
use crate::CmdError;

/// The `COUNT` Redis uses when the client gives none.
pub(crate) const DEFAULT_SCAN_COUNT: u64 = 10;
/// Redis lets one scan call visit at most this many buckets per requested
/// element, so a sparse table cannot stall the executor.
const SCAN_STEPS_PER_COUNT: u64 = 10;

/// Parses a scan cursor as Redis does with `strtoul`: an optional sign, then
/// decimal digits up to `u64::MAX`; a minus sign wraps (`-1` is
/// `18446744073709551615`); an empty argument is cursor 0; a leading space
/// or any trailing byte other than a NUL is an error.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::Static("ERR invalid cursor");
    // strtoul stops at the first NUL: the rest of the argument is unseen.
    let text = match arg.iter().position(|&b| b == 0) {
        Some(nul) => &arg[..nul],
        None => arg,
    };
    if text.is_empty() {
        return Ok(0);
    }
    if text[0].is_ascii_whitespace() || text[0] == 0x0b {
        return Err(invalid());
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &digit in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// The options of `HSCAN`/`SSCAN key cursor [MATCH pattern] [COUNT count]`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanOptions {
    /// Elements wanted per call (at least 1).
    pub count: u64,
    /// `None` when every element matches (no `MATCH`, or `MATCH *`).
    pub pattern: Option<Bytes>,
}

impl ScanOptions {
    /// Parses the options that follow the cursor, in Redis's order: a
    /// malformed `COUNT` fails as it is met, a `COUNT` below 1 is a syntax
    /// error, an unknown word (or a keyword without its value) too.
    pub(crate) fn parse(options: &[Bytes]) -> Result<ScanOptions, CmdError> {
        let mut parsed = ScanOptions {
            count: DEFAULT_SCAN_COUNT,
            pattern: None,
        };
        let mut index = 0;
        while index < options.len() {
            let value = options.get(index + 1);
            match value {
                Some(value) if is(&options[index], "COUNT") => {
                    let count = parse_i64(value)?;
                    if count < 1 {
                        return Err(CmdError::Syntax);
                    }
                    parsed.count = count as u64;
                }
                Some(value) if is(&options[index], "MATCH") => {
                    parsed.pattern = (value.as_ref() != b"*").then(|| value.clone());
                }
                _ => return Err(CmdError::Syntax),
            }
            index += 2;
        }
        Ok(parsed)
    }

    /// True when `element` passes the `MATCH` filter.
    pub(crate) fn matches(&self, element: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|pattern| crate::glob::matches(pattern, element))
    }
}

/// Runs Redis's scan loop over `dict`: one bucket step, then more while the
/// cursor is not back at 0, fewer than `wanted` items were collected, and
/// the step budget (ten steps per wanted item) lasts. `visit` returns how
/// many reply items an entry adds. Returns the next cursor.
pub(crate) fn scan_dict<K: AsRef<[u8]>, V>(
    dict: &Dict<K, V>,
    mut cursor: u64,
    wanted: u64,
    mut visit: impl FnMut(&K, &V) -> u64,
) -> u64 {
    let mut collected: u64 = 0;
    let mut steps_left = wanted.saturating_mul(SCAN_STEPS_PER_COUNT);
    loop {
        cursor = dict.scan(cursor, |key, value| collected += visit(key, value));
        if cursor == 0 || steps_left == 0 {
            break;
        }
        steps_left -= 1;
        if collected >= wanted {
            break;
        }
    }
    cursor
}

/// The reply `[cursor, [items...]]`; items are plain bulk strings (a flat
/// field/value list for hashes), in RESP3 too.
pub(crate) fn reply_scan<'a>(
    reply: &mut Reply,
    cursor: u64,
    items: impl ExactSizeIterator<Item = &'a [u8]>,
) {
    reply.array(2);
    reply.bulk(cursor.to_string().as_bytes());
    reply.array(items.len());
    for item in items {
        reply.bulk(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b"42"), Ok(42));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+7"), Ok(7));
        assert_eq!(parse_cursor(b"007"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"12\x00junk"), Ok(12));
        let invalid = Err(CmdError::Static("ERR invalid cursor"));
        assert_eq!(parse_cursor(b"18446744073709551616"), invalid);
        assert_eq!(parse_cursor(b" 1"), invalid);
        assert_eq!(parse_cursor(b"1 "), invalid);
        assert_eq!(parse_cursor(b"-"), invalid);
        assert_eq!(parse_cursor(b"abc"), invalid);
        assert_eq!(parse_cursor(b"0x10"), invalid);
    }

    fn options(args: &[&str]) -> Result<ScanOptions, CmdError> {
        let args: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        ScanOptions::parse(&args)
    }

    #[test]
    fn options_parse_in_order() {
        let parsed = options(&["match", "a*", "COUNT", "5"]).unwrap();
        assert_eq!(parsed.count, 5);
        assert_eq!(parsed.pattern.as_deref(), Some(&b"a*"[..]));
        assert_eq!(options(&["MATCH", "*"]).unwrap().pattern, None);
        assert_eq!(options(&["COUNT", "0"]), Err(CmdError::Syntax));
        assert_eq!(options(&["COUNT", "x"]), Err(CmdError::NotInteger));
        assert_eq!(options(&["COUNT"]), Err(CmdError::Syntax));
        assert_eq!(options(&["TYPE", "string"]), Err(CmdError::Syntax));
        // A bad COUNT is reported before a later unknown word.
        assert_eq!(options(&["COUNT", "x", "BOGUS"]), Err(CmdError::NotInteger));
    }
}
