//! Redis's `long double` arithmetic for INCRBYFLOAT, done in software.
//!
//! Redis parses the operands with `strtold`, adds them as x87 80-bit
//! extended floats (64-bit mantissa) and prints the sum with `%.17Lf`,
//! trimming trailing zeros. Doing the same sum in `f64` gives different
//! text (`1000 + 0.1` is `1000.09999999999999998` in Redis), and the
//! stored text is what clients see, so this module reproduces the 80-bit
//! format exactly: correctly rounded parsing, correctly rounded addition
//! (round half to even) and exact decimal printing.
//!
//! Hexadecimal floats (`0x1.8p3`), which `strtold` also reads, are
//! accepted too.

use std::cmp::Ordering;

/// Bits in the mantissa of an x87 extended float.
const MANTISSA_BITS: u32 = 64;
/// Exponent of the lowest mantissa bit of the smallest subnormal (2^-16445).
const MIN_EXPONENT: i64 = -16445;
/// Largest exponent of the lowest mantissa bit of a finite value: the
/// largest finite value is (2^64 - 1) * 2^16320.
const MAX_EXPONENT: i64 = 16320;
/// Redis refuses float arguments this long or longer (MAX_LONG_DOUBLE_CHARS).
pub(crate) const MAX_TEXT_BYTES: usize = 5 * 1024;
/// Decimal exponents beyond these are out of range before any rounding:
/// the largest finite value is about 1.19e4932, the smallest subnormal
/// about 3.65e-4951.
const MAX_DECIMAL_MAGNITUDE: i64 = 4933;
const MIN_DECIMAL_MAGNITUDE: i64 = -4952;
/// Digits `%.17Lf` prints after the point.
const FRACTION_DIGITS: u32 = 17;

/// A finite or infinite extended float: `(-1)^negative * mantissa * 2^exponent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LongDouble {
    negative: bool,
    /// Below 2^64; zero means the value is zero.
    mantissa: u128,
    exponent: i64,
    infinite: bool,
}

impl LongDouble {
    const fn zero(negative: bool) -> Self {
        LongDouble {
            negative,
            mantissa: 0,
            exponent: 0,
            infinite: false,
        }
    }

    const fn infinity(negative: bool) -> Self {
        LongDouble {
            negative,
            mantissa: 0,
            exponent: 0,
            infinite: true,
        }
    }

    pub(crate) fn is_finite(&self) -> bool {
        !self.infinite
    }

    /// Parses `text` as Redis's `string2ld` does: no leading space, the
    /// whole text consumed, no NaN, and no overflow or underflow to zero.
    pub(crate) fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= MAX_TEXT_BYTES || is_c_space(text[0]) {
            return None;
        }
        let (negative, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::infinity(negative));
        }
        if let Some(hex) = body
            .strip_prefix(b"0x")
            .or_else(|| body.strip_prefix(b"0X"))
        {
            return parse_hex(hex, negative);
        }
        let decimal = Decimal::parse(body)?;
        decimal.to_long_double(negative)
    }

    /// The correctly rounded sum, or `None` when it is not finite.
    pub(crate) fn add(self, other: LongDouble) -> Option<LongDouble> {
        if self.infinite || other.infinite {
            return None;
        }
        if other.mantissa == 0 {
            return Some(if self.mantissa == 0 && self.negative != other.negative {
                LongDouble::zero(false)
            } else {
                self
            });
        }
        if self.mantissa == 0 {
            return Some(other);
        }
        let (high, low) = if self.exponent >= other.exponent {
            (self, other)
        } else {
            (other, self)
        };
        // Keep 62 spare bits below the high operand so that the rounding
        // position always has guard bits below it.
        let distance = high.exponent - low.exponent;
        let high_shift = distance.min(62);
        let aligned_high = high.mantissa << high_shift;
        let exponent = high.exponent - high_shift;
        let low_shift = (distance - high_shift) as u32;
        let (aligned_low, sticky) = shift_right_sticky(low.mantissa, low_shift);
        let (negative, mantissa) = if high.negative == low.negative {
            (high.negative, aligned_high + aligned_low)
        } else if aligned_high >= aligned_low {
            // With sticky bits the low operand is slightly larger than
            // `aligned_low`: borrow one unit and keep the sticky flag.
            (
                high.negative,
                aligned_high - aligned_low - u128::from(sticky),
            )
        } else {
            (low.negative, aligned_low - aligned_high)
        };
        if mantissa == 0 && !sticky {
            return Some(LongDouble::zero(false));
        }
        let sum = round(negative, mantissa, exponent, sticky);
        sum.is_finite().then_some(sum)
    }

    /// The text `ld2string(..., LD_STR_HUMAN)` makes: `%.17Lf` with the
    /// trailing zeros (and a trailing point) removed, and `-0` as `0`.
    pub(crate) fn to_human_text(self) -> String {
        if self.infinite {
            return if self.negative {
                "-inf".into()
            } else {
                "inf".into()
            };
        }
        let (integer, fraction) = self.fixed_point();
        let mut text = String::with_capacity(integer.len() + 20);
        if self.negative {
            text.push('-');
        }
        text.push_str(&integer);
        text.push('.');
        text.push_str(&format!("{fraction:017}"));
        let trimmed = text.trim_end_matches('0').trim_end_matches('.');
        if trimmed == "-0" {
            return "0".into();
        }
        trimmed.to_string()
    }

    /// The magnitude as decimal integer digits and the 17-digit fraction,
    /// rounded half to even as glibc's printf rounds.
    fn fixed_point(&self) -> (String, u128) {
        let scale = 10u128.pow(FRACTION_DIGITS);
        if self.exponent >= 0 {
            let mut integer = Big::from_u128(self.mantissa);
            integer.shift_left(self.exponent as u32);
            return (integer.to_decimal(), 0);
        }
        let fraction_bits = (-self.exponent) as u32;
        let (integer, fraction) = if fraction_bits >= 128 {
            (0, self.mantissa)
        } else {
            (
                self.mantissa >> fraction_bits,
                self.mantissa & ((1u128 << fraction_bits) - 1),
            )
        };
        // fraction < 2^64 and scale < 2^57, so the product fits.
        let scaled = fraction * scale;
        let (mut digits, round_up) = if fraction_bits > 121 {
            (0, false) // scaled < 2^121 <= half a unit: rounds down
        } else {
            let digits = scaled >> fraction_bits;
            let rest = scaled & ((1u128 << fraction_bits) - 1);
            let half = 1u128 << (fraction_bits - 1);
            (digits, rest > half || (rest == half && digits & 1 == 1))
        };
        let mut integer = integer;
        if round_up {
            digits += 1;
            if digits == scale {
                digits = 0;
                integer += 1;
            }
        }
        (integer.to_string(), digits)
    }
}

/// `strtold`'s hexadecimal form after the `0x`: hex digits with an
/// optional point, then an optional binary exponent `p[+-]digits`.
fn parse_hex(text: &[u8], negative: bool) -> Option<LongDouble> {
    let hex_digit = |index: usize| text.get(index).and_then(|&b| char::from(b).to_digit(16));
    let mut value = Big::from_u128(0);
    let mut exponent: i64 = 0;
    let mut saw_digit = false;
    let mut index = 0;
    while let Some(digit) = hex_digit(index) {
        value.multiply_add(16, digit);
        saw_digit = true;
        index += 1;
    }
    if text.get(index) == Some(&b'.') {
        index += 1;
        while let Some(digit) = hex_digit(index) {
            value.multiply_add(16, digit);
            exponent -= 4;
            saw_digit = true;
            index += 1;
        }
    }
    if !saw_digit {
        return None;
    }
    if matches!(text.get(index), Some(b'p' | b'P')) {
        let (written, end) = parse_exponent(text, index + 1)?;
        exponent += written;
        index = end;
    }
    if index != text.len() {
        return None;
    }
    if value.is_zero() {
        return Some(LongDouble::zero(negative));
    }
    let (mantissa, shift, sticky) = value.top_bits();
    let result = round(negative, mantissa, exponent + shift, sticky);
    (result.is_finite() && result.mantissa != 0).then_some(result)
}

/// An exponent `[+-]digits` starting at `index`, saturated far beyond any
/// representable value; `None` without digits. Returns it and the index
/// after it.
fn parse_exponent(text: &[u8], mut index: usize) -> Option<(i64, usize)> {
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
    let start = index;
    let mut written: i64 = 0;
    while let Some(&byte) = text.get(index).filter(|b| b.is_ascii_digit()) {
        written = (written * 10 + i64::from(byte - b'0')).min(1_000_000_000);
        index += 1;
    }
    if index == start {
        return None;
    }
    Some((if negative { -written } else { written }, index))
}

/// C's `isspace` in the "C" locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `value >> shift` and whether any bit shifted out was set.
fn shift_right_sticky(value: u128, shift: u32) -> (u128, bool) {
    match shift {
        0 => (value, false),
        1..=127 => (value >> shift, value & ((1u128 << shift) - 1) != 0),
        _ => (0, value != 0),
    }
}

/// Rounds `mantissa * 2^exponent` (plus something below its lowest bit
/// when `sticky`) to the extended format, half to even; subnormals and
/// overflow to infinity as the hardware does.
fn round(negative: bool, mut mantissa: u128, mut exponent: i64, sticky: bool) -> LongDouble {
    let bits = 128 - mantissa.leading_zeros() as i64;
    let mut shift = (bits - MANTISSA_BITS as i64).max(0);
    if exponent + shift < MIN_EXPONENT {
        shift = MIN_EXPONENT - exponent;
    }
    if shift > 0 {
        let (kept, half_bit_set, below_half) = if shift > 128 {
            (0, false, mantissa != 0)
        } else {
            let kept = if shift == 128 { 0 } else { mantissa >> shift };
            let half_bit_set = (mantissa >> (shift - 1)) & 1 == 1;
            let below_half = shift >= 2 && mantissa & ((1u128 << (shift - 1)) - 1) != 0;
            (kept, half_bit_set, below_half)
        };
        mantissa = kept;
        exponent += shift;
        if half_bit_set && (below_half || sticky || mantissa & 1 == 1) {
            mantissa += 1;
            if mantissa >> MANTISSA_BITS != 0 {
                mantissa >>= 1;
                exponent += 1;
            }
        }
    }
    if mantissa == 0 {
        return LongDouble::zero(negative);
    }
    // Normalise so that the range check below sees the largest exponent
    // the value can have.
    let bits = 128 - mantissa.leading_zeros() as i64;
    let room = (MANTISSA_BITS as i64 - bits)
        .min(exponent - MIN_EXPONENT)
        .max(0);
    mantissa <<= room;
    exponent -= room;
    if exponent > MAX_EXPONENT {
        return LongDouble::infinity(negative);
    }
    LongDouble {
        negative,
        mantissa,
        exponent,
        infinite: false,
    }
}

/// A decimal number as written: `digits * 10^exponent`.
struct Decimal {
    /// Significant digits without leading or trailing zeros (ASCII).
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    /// Parses `digits [. digits] [e [+-] digits]` with at least one digit
    /// in the mantissa; anything else is refused.
    fn parse(text: &[u8]) -> Option<Decimal> {
        let mut index = 0;
        let mut digits = Vec::new();
        let mut exponent: i64 = 0;
        let mut saw_digit = false;
        while let Some(&byte) = text.get(index).filter(|b| b.is_ascii_digit()) {
            digits.push(byte);
            saw_digit = true;
            index += 1;
        }
        if text.get(index) == Some(&b'.') {
            index += 1;
            while let Some(&byte) = text.get(index).filter(|b| b.is_ascii_digit()) {
                digits.push(byte);
                exponent -= 1;
                saw_digit = true;
                index += 1;
            }
        }
        if !saw_digit {
            return None;
        }
        if matches!(text.get(index), Some(b'e' | b'E')) {
            let (written, end) = parse_exponent(text, index + 1)?;
            exponent += written;
            index = end;
        }
        if index != text.len() {
            return None;
        }
        let first = digits
            .iter()
            .position(|&d| d != b'0')
            .unwrap_or(digits.len());
        digits.drain(..first);
        let trailing = digits.iter().rev().take_while(|&&d| d == b'0').count();
        digits.truncate(digits.len() - trailing);
        exponent += trailing as i64;
        Some(Decimal { digits, exponent })
    }

    fn to_long_double(&self, negative: bool) -> Option<LongDouble> {
        if self.digits.is_empty() {
            return Some(LongDouble::zero(negative));
        }
        let magnitude = self.digits.len() as i64 - 1 + self.exponent;
        if !(MIN_DECIMAL_MAGNITUDE..=MAX_DECIMAL_MAGNITUDE).contains(&magnitude) {
            return None; // ERANGE: overflow, or underflow to zero
        }
        let mut value = Big::from_decimal(&self.digits);
        let (mantissa, exponent, sticky) = if self.exponent >= 0 {
            value.multiply_pow10(self.exponent as u32);
            value.top_bits()
        } else {
            let divisor = Big::pow10((-self.exponent) as u32);
            value.divide_to_bits(divisor)
        };
        let result = round(negative, mantissa, exponent, sticky);
        (result.is_finite() && result.mantissa != 0).then_some(result)
    }
}

/// A non-negative integer of any size, little-endian 32-bit limbs without
/// high zero limbs. Just enough arithmetic for exact conversions.
#[derive(Clone, Debug)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    fn from_u128(mut value: u128) -> Big {
        let mut limbs = Vec::new();
        while value != 0 {
            limbs.push(value as u32);
            value >>= 32;
        }
        Big { limbs }
    }

    fn from_decimal(digits: &[u8]) -> Big {
        let mut value = Big { limbs: Vec::new() };
        for chunk in digits.chunks(9) {
            let mut part = 0u32;
            for &digit in chunk {
                part = part * 10 + u32::from(digit - b'0');
            }
            value.multiply_add(10u32.pow(chunk.len() as u32), part);
        }
        value
    }

    fn pow10(power: u32) -> Big {
        let mut value = Big::from_u128(1);
        value.multiply_pow10(power);
        value
    }

    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn bit_len(&self) -> i64 {
        match self.limbs.last() {
            None => 0,
            Some(&top) => self.limbs.len() as i64 * 32 - i64::from(top.leading_zeros()),
        }
    }

    fn multiply_add(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.limbs {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
        self.trim();
    }

    fn multiply_pow10(&mut self, mut power: u32) {
        while power >= 9 {
            self.multiply_add(1_000_000_000, 0);
            power -= 9;
        }
        if power > 0 {
            self.multiply_add(10u32.pow(power), 0);
        }
    }

    fn shift_left(&mut self, bits: u32) {
        if self.is_zero() {
            return;
        }
        let limbs = (bits / 32) as usize;
        let bits = bits % 32;
        if bits > 0 {
            let mut carry = 0u32;
            for limb in &mut self.limbs {
                let next = *limb >> (32 - bits);
                *limb = (*limb << bits) | carry;
                carry = next;
            }
            if carry != 0 {
                self.limbs.push(carry);
            }
        }
        self.limbs.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    fn shift_right_one(&mut self) {
        let mut carry = 0u32;
        for limb in self.limbs.iter_mut().rev() {
            let next = *limb & 1;
            *limb = (*limb >> 1) | (carry << 31);
            carry = next;
        }
        self.trim();
    }

    fn compare(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    /// `self -= other`; `other` must not be larger.
    fn subtract(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (index, limb) in self.limbs.iter_mut().enumerate() {
            let minus = i64::from(other.limbs.get(index).copied().unwrap_or(0)) + borrow;
            let mut value = i64::from(*limb) - minus;
            borrow = 0;
            if value < 0 {
                value += 1 << 32;
                borrow = 1;
            }
            *limb = value as u32;
        }
        debug_assert_eq!(borrow, 0);
        self.trim();
    }

    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    /// The top 128 bits, the exponent of their lowest bit, and whether any
    /// bit below them is set.
    fn top_bits(&self) -> (u128, i64, bool) {
        let bits = self.bit_len();
        let shift = (bits - 128).max(0);
        let mut value = 0u128;
        let mut sticky = false;
        for (index, &limb) in self.limbs.iter().enumerate() {
            for bit in 0..32 {
                let position = index as i64 * 32 + bit;
                if limb >> bit & 1 == 0 {
                    continue;
                }
                if position < shift {
                    sticky = true;
                } else {
                    value |= 1u128 << (position - shift);
                }
            }
        }
        (value, shift, sticky)
    }

    /// `self / divisor` to 127 or 128 significant bits: the quotient bits,
    /// the exponent of their lowest bit, and whether a remainder was left.
    fn divide_to_bits(mut self, mut divisor: Big) -> (u128, i64, bool) {
        let scale = 127 - (self.bit_len() - divisor.bit_len());
        if scale >= 0 {
            self.shift_left(scale as u32);
        } else {
            divisor.shift_left((-scale) as u32);
        }
        // Now 2^126 < self / divisor < 2^128.
        divisor.shift_left(127);
        let mut quotient = 0u128;
        for bit in (0..128).rev() {
            if self.compare(&divisor) != Ordering::Less {
                self.subtract(&divisor);
                quotient |= 1u128 << bit;
            }
            divisor.shift_right_one();
        }
        (quotient, -scale, !self.is_zero())
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut value = self.clone();
        let mut chunks = Vec::new();
        while !value.is_zero() {
            let mut remainder = 0u64;
            for limb in value.limbs.iter_mut().rev() {
                let current = (remainder << 32) | u64::from(*limb);
                *limb = (current / 1_000_000_000) as u32;
                remainder = current % 1_000_000_000;
            }
            value.trim();
            chunks.push(remainder as u32);
        }
        let mut text = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for chunk in chunks.iter().rev() {
            text.push_str(&format!("{chunk:09}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        let a = LongDouble::parse(a.as_bytes())?;
        let b = LongDouble::parse(b.as_bytes())?;
        a.add(b).map(|s| s.to_human_text())
    }

    fn text(a: &str) -> String {
        LongDouble::parse(a.as_bytes()).unwrap().to_human_text()
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        assert_eq!(sum("1000", "0.1").unwrap(), "1000.09999999999999998");
        assert_eq!(sum("1.1", "2.2").unwrap(), "3.3");
        assert_eq!(sum("10.5", "0.1").unwrap(), "10.6");
        assert_eq!(sum("0", "5.0e3").unwrap(), "5000");
        assert_eq!(sum("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(sum("3", "-3").unwrap(), "0");
        assert_eq!(sum("-0.5", "0.25").unwrap(), "-0.25");
        assert_eq!(
            sum("3.3", "1e300").unwrap(),
            "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"
        );
    }

    #[test]
    fn parsing_follows_string2ld() {
        assert!(LongDouble::parse(b"").is_none());
        assert!(LongDouble::parse(b" 1").is_none());
        assert!(LongDouble::parse(b"1 ").is_none());
        assert!(LongDouble::parse(b"1e").is_none());
        assert!(LongDouble::parse(b"nan").is_none());
        assert!(LongDouble::parse(b"abc").is_none());
        assert!(LongDouble::parse(b".").is_none());
        assert!(LongDouble::parse(b"1e5000").is_none());
        assert_eq!(text("0x10"), "16");
        assert_eq!(text("-0X1.8p1"), "-3");
        assert_eq!(text("0x.8"), "0.5");
        assert!(LongDouble::parse(b"0x").is_none());
        assert!(LongDouble::parse(b"0x1p").is_none());
        assert!(LongDouble::parse(b"0x1g").is_none());
        assert!(LongDouble::parse(b"1e-5000").is_none());
        assert!(!LongDouble::parse(b"-inf").unwrap().is_finite());
        assert_eq!(text("+.5"), "0.5");
        assert_eq!(text("5."), "5");
        assert_eq!(text("0e-99999"), "0");
        assert_eq!(text("-0"), "0");
        assert_eq!(text("1e-18"), "0");
        assert_eq!(text("0.000000000000000005"), "0");
        assert_eq!(text("0.000000000000000006"), "0.00000000000000001");
    }

    #[test]
    fn infinities_and_overflow_are_refused() {
        assert!(sum("inf", "1").is_none());
        assert!(sum("1e4932", "1e4932").is_none());
        assert!(sum("-1e4932", "-1e4932").is_none());
    }
}
