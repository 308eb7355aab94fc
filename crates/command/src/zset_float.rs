//! Reading doubles exactly as Redis's sorted-set commands do.
//!
//! Redis reads scores, weights and range bounds with C's `strtod`, and
//! each caller checks the result differently:
//! - [`parse_double`] is `string2d` (ZADD scores, ZINCRBY increments,
//!   WEIGHTS): the whole argument must be a number, no leading space, no
//!   overflow to infinity, no underflow to zero, no NaN; hex floats such as
//!   `0x1p3` are numbers;
//! - [`parse_range_double`] is what `zslParseRange` does with a range bound:
//!   leading spaces are fine, an empty text is 0, and only NaN and trailing
//!   garbage are refused.
//!
//! This module owns a small `strtod` for that purpose. It never panics and
//! reads at most the argument's bytes.

/// What `strtod` made of the start of a text.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Strtod {
    value: f64,
    /// Bytes consumed; 0 when no number was found.
    consumed: usize,
    /// The text named a finite number whose value overflowed to infinity
    /// or underflowed to zero (`strtod` sets `ERANGE`).
    out_of_range: bool,
}

/// `isspace` in the C locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Redis's `string2d`: the whole argument must be a double.
pub(crate) fn parse_double(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let parsed = strtod(arg);
    if parsed.consumed != arg.len() || parsed.out_of_range || parsed.value.is_nan() {
        return None;
    }
    Some(parsed.value)
}

/// A range bound as `zslParseRange` reads it (after any `(`): `strtod`
/// must stop at the end of the text (or at a NUL byte, where C stops), and
/// the result must not be NaN.
pub(crate) fn parse_range_double(text: &[u8]) -> Option<f64> {
    let parsed = strtod(text);
    let rest = &text[parsed.consumed..];
    let at_end = rest.first().is_none_or(|&byte| byte == 0);
    (at_end && !parsed.value.is_nan()).then_some(parsed.value)
}

/// C's `strtod` in the C locale, on a byte string.
fn strtod(text: &[u8]) -> Strtod {
    let mut index = 0;
    while index < text.len() && is_c_space(text[index]) {
        index += 1;
    }
    let negative = match text.get(index) {
        Some(b'-') => {
            index += 1;
            true
        }
        Some(b'+') => {
            index += 1;
            false
        }
        _ => false,
    };
    let body = &text[index..];
    let unsigned = parse_special(body)
        .or_else(|| parse_hex(body))
        .or_else(|| parse_decimal(body));
    match unsigned {
        Some(mut parsed) => {
            parsed.consumed += index;
            if negative {
                parsed.value = -parsed.value;
            }
            parsed
        }
        None => Strtod {
            value: 0.0,
            consumed: 0,
            out_of_range: false,
        },
    }
}

fn starts_with_ignore_case(text: &[u8], prefix: &str) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `inf`, `infinity` and `nan` / `nan(chars)`.
fn parse_special(body: &[u8]) -> Option<Strtod> {
    let (value, consumed) = if starts_with_ignore_case(body, "infinity") {
        (f64::INFINITY, 8)
    } else if starts_with_ignore_case(body, "inf") {
        (f64::INFINITY, 3)
    } else if starts_with_ignore_case(body, "nan") {
        (f64::NAN, nan_length(body))
    } else {
        return None;
    };
    Some(Strtod {
        value,
        consumed,
        out_of_range: false,
    })
}

/// `nan` optionally followed by `(` alphanumerics or `_` `)`.
fn nan_length(body: &[u8]) -> usize {
    if body.get(3) != Some(&b'(') {
        return 3;
    }
    let inner = body[4..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if body.get(4 + inner) == Some(&b')') {
        4 + inner + 1
    } else {
        3
    }
}

/// Digits, an optional fraction and an optional exponent.
fn parse_decimal(body: &[u8]) -> Option<Strtod> {
    let integer_digits = count_digits(body, 0, u8::is_ascii_digit);
    let mut end = integer_digits;
    let mut fraction_digits = 0;
    if body.get(end) == Some(&b'.') {
        fraction_digits = count_digits(body, end + 1, u8::is_ascii_digit);
        if integer_digits + fraction_digits > 0 {
            end += 1 + fraction_digits;
        }
    }
    if integer_digits + fraction_digits == 0 {
        return None;
    }
    end += exponent_length(body, end, b'e');
    let text = std::str::from_utf8(&body[..end]).ok()?;
    let value: f64 = text.parse().ok()?;
    let mantissa = &body[..integer_digits + fraction_digits + usize::from(fraction_digits > 0)];
    let nonzero = mantissa.iter().any(|b| (b'1'..=b'9').contains(b));
    Some(Strtod {
        value,
        consumed: end,
        out_of_range: value.is_infinite() || (value == 0.0 && nonzero),
    })
}

/// `[eE][+-]digits` (or `[pP]...` for hex) at `start`; 0 when absent or
/// incomplete, as `strtod` then leaves the letter unread.
fn exponent_length(body: &[u8], start: usize, letter: u8) -> usize {
    if body.get(start).map(u8::to_ascii_lowercase) != Some(letter) {
        return 0;
    }
    let mut index = start + 1;
    if matches!(body.get(index), Some(b'+' | b'-')) {
        index += 1;
    }
    let digits = count_digits(body, index, u8::is_ascii_digit);
    if digits == 0 {
        0
    } else {
        index + digits - start
    }
}

fn count_digits(body: &[u8], start: usize, is_digit: fn(&u8) -> bool) -> usize {
    body.get(start..)
        .map_or(0, |rest| rest.iter().take_while(|b| is_digit(b)).count())
}

/// A hex float: `0x` hex digits, optional fraction, optional `p` exponent.
/// `0x` without digits reads as the number 0 followed by `x`.
fn parse_hex(body: &[u8]) -> Option<Strtod> {
    if !(starts_with_ignore_case(body, "0x")) {
        return None;
    }
    let integer_digits = count_digits(body, 2, u8::is_ascii_hexdigit);
    let mut end = 2 + integer_digits;
    let mut fraction_digits = 0;
    if body.get(end) == Some(&b'.') {
        fraction_digits = count_digits(body, end + 1, u8::is_ascii_hexdigit);
        if integer_digits + fraction_digits > 0 {
            end += 1 + fraction_digits;
        }
    }
    if integer_digits + fraction_digits == 0 {
        return Some(Strtod {
            value: 0.0,
            consumed: 1,
            out_of_range: false,
        });
    }
    let exponent_len = exponent_length(body, end, b'p');
    let binary_exponent = hex_exponent(&body[end..end + exponent_len]);
    let digits = body[2..2 + integer_digits]
        .iter()
        .chain(body.get(3 + integer_digits..end).unwrap_or(&[]));
    let (value, nonzero) = hex_value(digits, fraction_digits, binary_exponent);
    Some(Strtod {
        value,
        consumed: end + exponent_len,
        out_of_range: value.is_infinite() || (value == 0.0 && nonzero),
    })
}

/// The exponent of a `p[+-]digits` suffix, saturated far beyond any
/// exponent a double can use.
fn hex_exponent(suffix: &[u8]) -> i64 {
    if suffix.is_empty() {
        return 0;
    }
    let (negative, digits) = match suffix.get(1) {
        Some(b'-') => (true, &suffix[2..]),
        Some(b'+') => (false, &suffix[2..]),
        _ => (false, &suffix[1..]),
    };
    let magnitude = digits
        .iter()
        .fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(1 << 20));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// The value of hex mantissa digits times 2^exponent. Keeps the first 15
/// significant hex digits (60 bits, more than a double holds), folding the
/// rest into a sticky bit so rounding stays right.
fn hex_value<'a>(
    digits: impl Iterator<Item = &'a u8>,
    fraction_digits: usize,
    exponent: i64,
) -> (f64, bool) {
    const KEPT_DIGITS: usize = 15;
    let mut mantissa: u64 = 0;
    let mut kept = 0usize;
    let mut dropped = 0usize;
    let mut sticky = false;
    for digit in digits {
        let value = u64::from((*digit as char).to_digit(16).unwrap_or(0));
        if kept == 0 && value == 0 {
            continue;
        }
        if kept < KEPT_DIGITS {
            mantissa = mantissa * 16 + value;
            kept += 1;
        } else {
            dropped += 1;
            sticky |= value != 0;
        }
    }
    if mantissa == 0 {
        return (0.0, false);
    }
    // Scale: each dropped digit multiplies by 16, each fraction digit
    // divides by 16 (leading zeros of the fraction included).
    let mantissa = (mantissa << 1) | u64::from(sticky);
    let shift = 4 * dropped as i64 - 4 * fraction_digits as i64 + exponent - 1;
    let shift = shift.clamp(-1_200, 1_200) as i32;
    (scale_by_power_of_two(mantissa as f64, shift), true)
}

/// `value * 2^shift` without intermediate overflow or underflow.
fn scale_by_power_of_two(mut value: f64, mut shift: i32) -> f64 {
    while shift > 0 {
        let step = shift.min(1_000);
        value *= 2f64.powi(step);
        shift -= step;
    }
    while shift < 0 {
        let step = (-shift).min(1_000);
        value /= 2f64.powi(step);
        shift += step;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_argument_doubles() {
        assert_eq!(parse_double(b"1.5"), Some(1.5));
        assert_eq!(parse_double(b"-2"), Some(-2.0));
        assert_eq!(parse_double(b"+3"), Some(3.0));
        assert_eq!(parse_double(b".5"), Some(0.5));
        assert_eq!(parse_double(b"5."), Some(5.0));
        assert_eq!(parse_double(b"1e3"), Some(1000.0));
        assert_eq!(parse_double(b"1E-2"), Some(0.01));
        assert_eq!(parse_double(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_double(b"0x1p3"), Some(8.0));
        assert_eq!(parse_double(b"0x.8"), Some(0.5));
        assert_eq!(parse_double(b"-0"), Some(-0.0));
        assert_eq!(parse_double(b"4e-320").map(|v| v > 0.0), Some(true));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"abc",
            b"1e",
            b"1e+",
            b"0x",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b".",
            b"-",
            b"1\0",
            b"infinit",
        ] {
            assert_eq!(
                parse_double(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn range_bounds() {
        assert_eq!(parse_range_double(b""), Some(0.0));
        assert_eq!(parse_range_double(b" 1"), Some(1.0));
        assert_eq!(parse_range_double(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_range_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_range_double(b"2\0junk"), Some(2.0));
        assert_eq!(parse_range_double(b"1 "), None);
        assert_eq!(parse_range_double(b" "), None);
        assert_eq!(parse_range_double(b"nan"), None);
        assert_eq!(parse_range_double(b"x"), None);
    }

    #[test]
    fn hex_floats_round_like_decimal() {
        assert_eq!(parse_double(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_double(b"0X1P-2"), Some(0.25));
        assert_eq!(parse_double(b"0x000000000000000000001"), Some(1.0));
        assert_eq!(parse_double(b"0x1fffffffffffff"), Some(9007199254740991.0));
        assert_eq!(parse_double(b"0x1p1024"), None);
        assert_eq!(parse_double(b"0x1p-1080"), None);
        // "0x" alone is the number 0 followed by an unread "x".
        assert_eq!(parse_range_double(b"0x"), None);
    }
}
