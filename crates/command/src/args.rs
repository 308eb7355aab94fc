//! Parsing of command arguments, with Redis's rules and error texts.

use crate::CmdError;

/// Case-insensitive comparison of an argument with a keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// A signed 64-bit integer as Redis's `string2ll` reads it: optional `-`,
/// digits only, no spaces, no `+`, no overflow.
pub fn parse_i64(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64_opt(arg).ok_or(CmdError::NotInteger)
}

pub fn parse_i64_opt(arg: &[u8]) -> Option<i64> {
    daisy_protocol::parse_i64(arg)
}

/// A non-negative integer that fits in `usize`, else the given error.
pub fn parse_count(arg: &[u8], error: CmdError) -> Result<usize, CmdError> {
    match parse_i64_opt(arg) {
        Some(value) if value >= 0 => Ok(value as usize),
        _ => Err(error),
    }
}

/// A double as Redis's `string2d` reads it (C's `strtod` on the whole
/// argument): decimal, exponent and hex forms, `inf`; no spaces, no NaN,
/// no overflow.
pub fn parse_f64(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64_opt(arg).ok_or(CmdError::NotFloat)
}

pub fn parse_f64_opt(arg: &[u8]) -> Option<f64> {
    crate::zset_float::parse_double(arg)
}

/// A blocking-command timeout in seconds (fractions allowed), as an
/// absolute deadline in ms; `None` means wait forever (a timeout of 0).
pub fn parse_timeout_deadline(arg: &[u8], now_ms: u64) -> Result<Option<u64>, CmdError> {
    let Some(seconds) = parse_f64_opt(arg) else {
        // Redis reads the timeout as a long double: a value too large for a
        // double but finite there overflows its millisecond conversion to a
        // negative number.
        return match crate::long_double::parse_long_double(arg) {
            Some(_) => Err(CmdError::Static("ERR timeout is negative")),
            None => Err(CmdError::Static(
                "ERR timeout is not a float or out of range",
            )),
        };
    };
    // Redis rounds up to whole milliseconds before checking the sign, so a
    // tiny negative timeout is 0 (wait forever) and a tiny positive one 1ms;
    // a count of milliseconds beyond i64 wraps negative there.
    let ms = (seconds * 1000.0).ceil();
    if ms.is_nan() || ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    Ok(Some(now_ms.saturating_add(ms as u64)))
}

/// Resolves a Redis index (negative counts from the end) against `len`.
/// Returns `None` when it falls outside.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

/// Clamps a Redis `start..=stop` range (negative counts from the end) to
/// `len`; `None` when it is empty.
pub fn resolve_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"-12"), Ok(-12));
        assert!(parse_i64(b"012").is_err());
        assert!(parse_i64(b"-0").is_err());
        assert!(parse_i64(b" 1").is_err());
        assert!(parse_i64(b"9223372036854775808").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Ok(1.5));
        assert_eq!(parse_f64(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"1e3"), Ok(1000.0));
        assert!(parse_f64(b"nan").is_err());
        assert!(parse_f64(b"").is_err());
        assert!(parse_f64(b" 1").is_err());
        assert_eq!(parse_f64(b"0x10"), Ok(16.0));
    }

    #[test]
    fn timeouts_round_and_overflow_like_redis() {
        let negative = Err(CmdError::Static("ERR timeout is negative"));
        assert_eq!(parse_timeout_deadline(b"0", 1_000), Ok(None));
        assert_eq!(parse_timeout_deadline(b"0.0001", 1_000), Ok(Some(1_001)));
        assert_eq!(parse_timeout_deadline(b"-0.0001", 1_000), Ok(None));
        assert_eq!(parse_timeout_deadline(b"-1", 1_000), negative);
        assert_eq!(parse_timeout_deadline(b"1e400", 1_000), negative);
        assert_eq!(parse_timeout_deadline(b"inf", 1_000), negative);
        assert_eq!(
            parse_timeout_deadline(b"abc", 1_000),
            Err(CmdError::Static(
                "ERR timeout is not a float or out of range"
            ))
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(0, -1, 5), Some((0, 4)));
        assert_eq!(resolve_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(resolve_range(3, 1, 5), None);
        assert_eq!(resolve_range(5, 10, 5), None);
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(3, 3), None);
    }
}
