//! `INCRBYFLOAT` and `HINCRBYFLOAT` arithmetic exactly as Redis does it on x86-64: values are
//! read with `strtold` into an 80-bit x87 `long double` (64-bit
//! significand), added with one rounding, and printed with `"%.17Lf"`
//! before trailing zeros are trimmed (Redis's `ld2string(LD_STR_HUMAN)`).
//!
//! Doing this in `f64` would differ from Redis in ordinary cases: `0.1`
//! plus `0.2` is `0.3` in Redis but `0.30000000000000004` in `f64`, and a
//! value such as `1e400` is finite for Redis. So this module emulates the
//! format in software: every value is `mantissa * 2^exponent`, conversion
//! and addition are computed exactly with a small big-integer type and
//! rounded once to nearest-even, and printing is exact.
//!
//! Limits: inputs are at most [`MAX_TEXT_BYTES`] long (Redis's own bound),
//! so every big integer here stays below a few thousand limbs.

use std::cmp::Ordering;

/// Longest text `string2ld` accepts, exclusive (`MAX_LONG_DOUBLE_CHARS`).
const MAX_TEXT_BYTES: usize = 5 * 1024;
/// Bits in the x87 extended significand, integer bit included.
const SIGNIFICAND_BITS: i64 = 64;
/// Exponent of the least significant significand bit at the bottom of the
/// range: the smallest normal value is 2^63 * 2^-16445 = 2^-16382.
const MIN_EXPONENT: i64 = -16445;
/// Largest exponent of a finite value: (2^64 - 1) * 2^16320 is the maximum.
const MAX_EXPONENT: i64 = 16320;
/// A decimal exponent beyond this (after counting digits) over- or
/// underflows for sure; it also keeps the big integers bounded.
const DECIMAL_EXPONENT_LIMIT: i64 = 5_000;
/// Digits after the point in `%.17Lf`.
const PRINTED_DECIMALS: u32 = 17;

/// An x87 extended-precision value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LongDouble {
    /// `±mantissa * 2^exponent`; a zero has mantissa 0.
    Finite {
        negative: bool,
        mantissa: u64,
        exponent: i64,
    },
    Infinite {
        negative: bool,
    },
}

impl LongDouble {
    pub(crate) fn is_infinite(&self) -> bool {
        matches!(self, LongDouble::Infinite { .. })
    }
}

/// Reads a value as Redis's `string2ld` does: the whole text must be one
/// `strtold` number (decimal, hexadecimal or `inf`), with no leading space,
/// no NaN, not over 5 KiB, and not out of range (an overflow, or a nonzero
/// value that rounds to zero).
pub(crate) fn parse_long_double(text: &[u8]) -> Option<LongDouble> {
    if text.is_empty() || text.len() >= MAX_TEXT_BYTES {
        return None;
    }
    let (negative, body) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(LongDouble::Infinite { negative });
    }
    let exact = if lower.starts_with(b"0x") {
        parse_hex(&body[2..])?
    } else {
        parse_decimal(body)?
    };
    match exact {
        Exact::Zero => Some(zero(negative)),
        Exact::Scaled {
            numerator,
            denominator,
            shift,
        } => match round(negative, numerator, denominator, shift) {
            // strtold reports ERANGE for both; string2ld refuses them.
            LongDouble::Infinite { .. } => None,
            LongDouble::Finite { mantissa: 0, .. } => None,
            value => Some(value),
        },
    }
}

/// `current + increment` (`current` missing counts as 0), formatted as
/// Redis stores it; `None` when the sum is NaN or infinite.
pub(crate) fn add_long_double(
    current: Option<LongDouble>,
    increment: &LongDouble,
) -> Option<String> {
    let current = current.unwrap_or(zero(false));
    match add(current, *increment) {
        LongDouble::Finite {
            negative,
            mantissa,
            exponent,
        } => Some(format_human(negative, mantissa, exponent)),
        LongDouble::Infinite { .. } => None,
    }
}

fn zero(negative: bool) -> LongDouble {
    LongDouble::Finite {
        negative,
        mantissa: 0,
        exponent: 0,
    }
}

/// A parsed number before rounding: `numerator / denominator * 2^shift`.
enum Exact {
    Zero,
    Scaled {
        numerator: Big,
        denominator: Big,
        shift: i64,
    },
}

/// `digits[.digits][(e|E)[sign]digits]`, at least one digit in the
/// mantissa; an exponent marker without digits after it is left unread,
/// which makes the text invalid.
fn parse_decimal(body: &[u8]) -> Option<Exact> {
    let mut index = 0;
    let mut digits = Big::zero();
    let mut digit_count: i64 = 0; // significant digits, leading zeros skipped
    let mut seen_digit = false;
    let mut decimal_exponent: i64 = 0;
    let mut after_point = false;
    while index < body.len() {
        let byte = body[index];
        if byte.is_ascii_digit() {
            seen_digit = true;
            if !(digits.is_zero() && byte == b'0') {
                digits.mul_add_small(10, u32::from(byte - b'0'));
                digit_count += 1;
            }
            if after_point {
                decimal_exponent -= 1;
            }
        } else if byte == b'.' && !after_point {
            after_point = true;
        } else {
            break;
        }
        index += 1;
    }
    if !seen_digit {
        return None;
    }
    if index < body.len() {
        decimal_exponent += parse_exponent(&body[index..], b'e')?;
    }
    if digits.is_zero() {
        return Some(Exact::Zero);
    }
    scaled_decimal(digits, digit_count, decimal_exponent)
}

/// `0x` already stripped: `hexdigits[.hexdigits][(p|P)[sign]digits]`.
fn parse_hex(body: &[u8]) -> Option<Exact> {
    let mut index = 0;
    let mut digits = Big::zero();
    let mut seen_digit = false;
    let mut binary_exponent: i64 = 0;
    let mut after_point = false;
    while index < body.len() {
        let byte = body[index];
        if let Some(value) = (byte as char).to_digit(16) {
            seen_digit = true;
            if !(digits.is_zero() && value == 0) {
                digits.mul_add_small(16, value);
                if digits.bit_len() > 8 * MAX_TEXT_BYTES {
                    return None;
                }
            }
            if after_point {
                binary_exponent -= 4;
            }
        } else if byte == b'.' && !after_point {
            after_point = true;
        } else {
            break;
        }
        index += 1;
    }
    if !seen_digit {
        return None;
    }
    if index < body.len() {
        binary_exponent += parse_exponent(&body[index..], b'p')?;
    }
    if digits.is_zero() {
        return Some(Exact::Zero);
    }
    Some(Exact::Scaled {
        numerator: digits,
        denominator: Big::from_u64(1),
        shift: binary_exponent.clamp(-4 * MAX_EXPONENT, 4 * MAX_EXPONENT),
    })
}

/// The exponent part `marker[sign]digits`, which must end the text. The
/// value saturates far outside the representable range.
fn parse_exponent(rest: &[u8], marker: u8) -> Option<i64> {
    if rest[0].to_ascii_lowercase() != marker {
        return None;
    }
    let (negative, digits) = match rest.get(1) {
        Some(b'-') => (true, &rest[2..]),
        Some(b'+') => (false, &rest[2..]),
        _ => (false, &rest[1..]),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().fold(0i64, |value, digit| {
        (value * 10 + i64::from(digit - b'0')).min(1_000_000_000)
    });
    Some(if negative { -magnitude } else { magnitude })
}

/// `digits * 10^exponent` as `numerator / denominator * 2^shift`, with the
/// sure overflows and underflows decided without big arithmetic.
fn scaled_decimal(digits: Big, digit_count: i64, exponent: i64) -> Option<Exact> {
    let magnitude = digit_count + exponent; // value < 10^magnitude
    if magnitude > DECIMAL_EXPONENT_LIMIT {
        return None; // overflow
    }
    if magnitude < -DECIMAL_EXPONENT_LIMIT {
        return None; // a nonzero value that rounds to zero
    }
    // 10^k = 5^k * 2^k: keep the power of two as a shift.
    let (numerator, denominator) = if exponent >= 0 {
        let mut numerator = digits;
        numerator.mul_pow5(exponent as u32);
        (numerator, Big::from_u64(1))
    } else {
        let mut denominator = Big::from_u64(1);
        denominator.mul_pow5(exponent.unsigned_abs() as u32);
        (digits, denominator)
    };
    Some(Exact::Scaled {
        numerator,
        denominator,
        shift: exponent,
    })
}

/// Rounds `numerator / denominator * 2^shift` (positive) to the nearest
/// extended value, ties to even, with gradual underflow.
fn round(negative: bool, numerator: Big, denominator: Big, shift: i64) -> LongDouble {
    let magnitude = numerator.bit_len() as i64 - denominator.bit_len() as i64;
    // Aim for a quotient with two guard bits in [2^65, 2^67).
    let mut exponent = (magnitude + shift - SIGNIFICAND_BITS).max(MIN_EXPONENT);
    let (mut quotient, mut sticky) =
        scaled_quotient(&numerator, &denominator, shift - exponent + 2);
    if quotient >= 1 << (SIGNIFICAND_BITS + 2) {
        sticky |= quotient & 1 == 1;
        quotient >>= 1;
        exponent += 1;
    }
    let guard = quotient & 0b11;
    let mut mantissa = quotient >> 2;
    let round_up = guard > 0b10 || (guard == 0b10 && (sticky || mantissa & 1 == 1));
    if round_up {
        mantissa += 1;
        if mantissa == 1 << SIGNIFICAND_BITS {
            mantissa >>= 1;
            exponent += 1;
        }
    }
    if exponent > MAX_EXPONENT {
        return LongDouble::Infinite { negative };
    }
    LongDouble::Finite {
        negative,
        mantissa: mantissa as u64,
        exponent,
    }
}

/// `floor(numerator * 2^scale / denominator)` and whether anything was
/// left over. The caller guarantees the quotient is below 2^68.
fn scaled_quotient(numerator: &Big, denominator: &Big, scale: i64) -> (u128, bool) {
    const QUOTIENT_BITS: usize = 68;
    let (mut remainder, divisor) = if scale >= 0 {
        (numerator.shl(scale as usize), denominator.clone())
    } else {
        (
            numerator.clone(),
            denominator.shl(scale.unsigned_abs() as usize),
        )
    };
    let mut quotient: u128 = 0;
    let mut shifted = divisor.shl(QUOTIENT_BITS - 1);
    for bit in (0..QUOTIENT_BITS).rev() {
        if remainder.cmp(&shifted) != Ordering::Less {
            remainder.sub_assign(&shifted);
            quotient |= 1 << bit;
        }
        shifted.shr1();
    }
    (quotient, !remainder.is_zero())
}

/// The exactly rounded sum of two values.
fn add(a: LongDouble, b: LongDouble) -> LongDouble {
    let (a_neg, a_man, a_exp, b_neg, b_man, b_exp) = match (a, b) {
        (LongDouble::Infinite { negative: x }, LongDouble::Infinite { negative: y }) if x != y => {
            // inf - inf is NaN; callers treat any non-finite sum alike.
            return LongDouble::Infinite { negative: false };
        }
        (LongDouble::Infinite { negative }, _) | (_, LongDouble::Infinite { negative }) => {
            return LongDouble::Infinite { negative };
        }
        (
            LongDouble::Finite {
                negative: a_neg,
                mantissa: a_man,
                exponent: a_exp,
            },
            LongDouble::Finite {
                negative: b_neg,
                mantissa: b_man,
                exponent: b_exp,
            },
        ) => (a_neg, a_man, a_exp, b_neg, b_man, b_exp),
    };
    if a_man == 0 && b_man == 0 {
        return zero(a_neg && b_neg);
    }
    if a_man == 0 {
        return b;
    }
    if b_man == 0 {
        return a;
    }
    let base = a_exp.min(b_exp);
    let a_big = Big::from_u64(a_man).shl((a_exp - base) as usize);
    let b_big = Big::from_u64(b_man).shl((b_exp - base) as usize);
    let (negative, sum) = if a_neg == b_neg {
        (a_neg, a_big.add(&b_big))
    } else {
        match a_big.cmp(&b_big) {
            Ordering::Equal => return zero(false),
            Ordering::Greater => (a_neg, a_big.sub(&b_big)),
            Ordering::Less => (b_neg, b_big.sub(&a_big)),
        }
    };
    round(negative, sum, Big::from_u64(1), base)
}

/// `"%.17Lf"` of `±mantissa * 2^exponent`, then Redis's trimming: trailing
/// zeros after the point go, then a bare point, and `-0` becomes `0`.
fn format_human(negative: bool, mantissa: u64, exponent: i64) -> String {
    let scaled = decimal_scaled(mantissa, exponent);
    let mut digits = scaled.to_decimal();
    let decimals = PRINTED_DECIMALS as usize;
    if digits.len() <= decimals {
        digits = format!("{}{digits}", "0".repeat(decimals + 1 - digits.len()));
    }
    let point = digits.len() - decimals;
    let mut text = String::with_capacity(digits.len() + 2);
    if negative {
        text.push('-');
    }
    text.push_str(&digits[..point]);
    text.push('.');
    text.push_str(&digits[point..]);
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// `mantissa * 2^exponent * 10^17`, rounded to an integer, ties to even
/// (glibc's printf in the default rounding mode).
fn decimal_scaled(mantissa: u64, exponent: i64) -> Big {
    let mut value = Big::from_u64(mantissa);
    value.mul_pow5(PRINTED_DECIMALS);
    let shift = exponent + i64::from(PRINTED_DECIMALS);
    if shift >= 0 {
        return value.shl(shift as usize);
    }
    let drop = shift.unsigned_abs() as usize;
    let half_bit = value.bit(drop - 1);
    let below_half = value.any_bit_below(drop - 1);
    let mut rounded = value.shr(drop);
    if half_bit && (below_half || rounded.bit(0)) {
        rounded = rounded.add(&Big::from_u64(1));
    }
    rounded
}

/// An unsigned big integer, 32-bit limbs, least significant first, no
/// high zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(value: u64) -> Big {
        let mut big = Big(vec![value as u32, (value >> 32) as u32]);
        big.trim();
        big
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bit_len(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(top) => self.0.len() * 32 - top.leading_zeros() as usize,
        }
    }

    fn bit(&self, index: usize) -> bool {
        self.0
            .get(index / 32)
            .is_some_and(|limb| limb >> (index % 32) & 1 == 1)
    }

    /// Whether any bit below `index` is set.
    fn any_bit_below(&self, index: usize) -> bool {
        let (whole, partial) = (index / 32, index % 32);
        let low_limbs = &self.0[..whole.min(self.0.len())];
        low_limbs.iter().any(|&limb| limb != 0)
            || (partial > 0
                && self
                    .0
                    .get(whole)
                    .is_some_and(|limb| limb & ((1 << partial) - 1) != 0))
    }

    /// `self = self * factor + addend`.
    fn mul_add_small(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn mul_pow5(&mut self, mut power: u32) {
        const FIVE_TO_13: u32 = 1_220_703_125;
        while power >= 13 {
            self.mul_add_small(FIVE_TO_13, 0);
            power -= 13;
        }
        self.mul_add_small(5u32.pow(power), 0);
    }

    fn shl(&self, bits: usize) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let (whole, partial) = (bits / 32, bits % 32);
        let mut limbs = vec![0u32; whole];
        limbs.reserve(self.0.len() + 1);
        let mut carry = 0u32;
        for &limb in &self.0 {
            if partial == 0 {
                limbs.push(limb);
            } else {
                limbs.push(limb << partial | carry);
                carry = limb >> (32 - partial);
            }
        }
        limbs.push(carry);
        let mut big = Big(limbs);
        big.trim();
        big
    }

    fn shr(&self, bits: usize) -> Big {
        let (whole, partial) = (bits / 32, bits % 32);
        if whole >= self.0.len() {
            return Big::zero();
        }
        let source = &self.0[whole..];
        let limbs = (0..source.len())
            .map(|i| {
                let high = source.get(i + 1).copied().unwrap_or(0);
                if partial == 0 {
                    source[i]
                } else {
                    source[i] >> partial | high << (32 - partial)
                }
            })
            .collect();
        let mut big = Big(limbs);
        big.trim();
        big
    }

    fn shr1(&mut self) {
        *self = self.shr(1);
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let len = self.0.len().max(other.0.len());
        let mut limbs = Vec::with_capacity(len + 1);
        let mut carry = 0u64;
        for i in 0..len {
            let sum = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            limbs.push(sum as u32);
            carry = sum >> 32;
        }
        limbs.push(carry as u32);
        let mut big = Big(limbs);
        big.trim();
        big
    }

    /// `self - other`; `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut difference = self.clone();
        difference.sub_assign(other);
        difference
    }

    fn sub_assign(&mut self, other: &Big) {
        debug_assert!(self.cmp(other) != Ordering::Less);
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut value =
                i64::from(self.0[i]) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(value < 0);
            if value < 0 {
                value += 1 << 32;
            }
            self.0[i] = value as u32;
        }
        self.trim();
    }

    /// Divides in place by `divisor`, returning the remainder.
    fn div_small(&mut self, divisor: u32) -> u32 {
        let mut remainder = 0u64;
        for limb in self.0.iter_mut().rev() {
            let current = remainder << 32 | u64::from(*limb);
            *limb = (current / u64::from(divisor)) as u32;
            remainder = current % u64::from(divisor);
        }
        self.trim();
        remainder as u32
    }

    fn to_decimal(&self) -> String {
        const CHUNK: u32 = 1_000_000_000;
        if self.is_zero() {
            return "0".to_string();
        }
        let mut value = self.clone();
        let mut chunks = Vec::new();
        while !value.is_zero() {
            chunks.push(value.div_small(CHUNK));
        }
        let mut text = chunks.pop().map_or_else(String::new, |top| top.to_string());
        for chunk in chunks.iter().rev() {
            text.push_str(&format!("{chunk:09}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(current: Option<&str>, increment: &str) -> Option<String> {
        let current =
            current.map(|text| parse_long_double(text.as_bytes()).expect("valid current"));
        let increment = parse_long_double(increment.as_bytes()).expect("valid increment");
        add_long_double(current, &increment)
    }

    fn sum(current: &str, increment: &str) -> String {
        incr(Some(current), increment).expect("finite")
    }

    #[test]
    fn sums_print_like_redis_long_doubles() {
        // Redis (x86-64) answers: INCRBYFLOAT of 0.1 then 0.2 is "0.3".
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("10.50", "0.1"), "10.6");
        assert_eq!(sum("10.6", "-5"), "5.6");
        assert_eq!(sum("5.0e3", "2.0e2"), "5200");
        assert_eq!(sum("17179869184", "1.5"), "17179869185.5");
        assert_eq!(incr(None, "10.5").unwrap(), "10.5");
        assert_eq!(incr(None, "-0").unwrap(), "0");
        assert_eq!(sum("1", "-1"), "0");
        assert_eq!(sum("3", "0.000000000000000001"), "3");
        assert_eq!(sum("-1e-30", "0"), "0");
    }

    #[test]
    fn noise_beyond_the_extended_precision_shows_as_redis_shows_it() {
        // 1.1 as a long double is 1.10000000000000000002168..., so 17
        // decimals print it exactly as typed...
        assert_eq!(sum("1.1", "0"), "1.1");
        // ...but around a million the 64-bit significand runs out before
        // the 17th decimal, and Redis prints the noise.
        assert_eq!(sum("1000000.1", "0"), "1000000.10000000000002274");
    }

    #[test]
    fn huge_and_tiny_values_stay_exact() {
        let big = sum("1e400", "0");
        assert_eq!(big.len(), 401);
        assert!(big.starts_with("10000000000000000000"));
        assert_eq!(sum("2.5e-10", "0"), "0.00000000025");
        // Ties at the 17th decimal round to even: 2^-18 ends in ...625.
        assert_eq!(sum("0.000003814697265625", "0"), "0.00000381469726562");
    }

    #[test]
    fn parsing_follows_string2ld() {
        for valid in [
            "1",
            "-1",
            "+1.5",
            ".5",
            "5.",
            "1e3",
            "1E+3",
            "1e-3",
            "0x10",
            "0x1p-2",
            "inf",
            "-Infinity",
            "0e99999",
        ] {
            assert!(parse_long_double(valid.as_bytes()).is_some(), "{valid}");
        }
        for invalid in [
            "", " 1", "1 ", "abc", "1e", "1e+", ".", "-", "nan", "1\u{0}2", "0x", "1e5000",
            "1e-5000", "--1",
        ] {
            assert!(
                parse_long_double(invalid.as_bytes()).is_none(),
                "{invalid:?}"
            );
        }
        assert!(parse_long_double(&[b'1'; MAX_TEXT_BYTES]).is_none());
        assert_eq!(sum("0x1p-2", "0"), "0.25");
    }

    #[test]
    fn non_finite_sums_are_refused() {
        assert_eq!(incr(None, "inf"), None);
        assert_eq!(incr(Some("1e4932"), "1e4932"), None);
        assert_eq!(incr(Some("-inf"), "inf"), None);
    }

    #[test]
    fn rounding_matches_f64_where_f64_is_exact() {
        // Integers and short binary fractions are exact in both formats.
        for (a, b, expected) in [
            ("1", "2", "3"),
            ("0.5", "0.25", "0.75"),
            ("-7", "2.5", "-4.5"),
        ] {
            assert_eq!(sum(a, b), expected);
        }
        assert_eq!(sum("9223372036854775807", "1"), "9223372036854775808");
    }
}
