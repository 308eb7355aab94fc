//! How a string value is stored, and the name `OBJECT ENCODING` gives it.
//!
//! Redis reports `int` for a canonical integer a command stored whole,
//! `embstr` for any other string created whole up to 44 bytes, and `raw`
//! for longer strings and for every string changed in place (APPEND,
//! SETRANGE, SETBIT, BITOP results). DaisyDB keeps that distinction in
//! the shape of the [`StrValue`], with no extra field:
//! - created whole, integer-looking and short: inline (`int`);
//! - created whole otherwise: inline, or on the heap with no spare capacity
//!   (`embstr` up to 44 bytes, `raw` beyond);
//! - changed in place: on the heap with spare capacity (`raw`).
//!
//! A value created whole that Redis does not integer-encode although it
//! looks like one (the result of INCRBYFLOAT) goes on the heap.

use daisy_keyspace::StrValue;

use crate::args::parse_i64_opt;

/// Longest string Redis stores as `embstr`.
const EMBSTR_MAX_BYTES: usize = 44;
/// Redis shares the integer objects 0..10000; their refcount reads as
/// `INT_MAX`.
const SHARED_INTEGERS: i64 = 10_000;
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// A string created whole by a command that lets Redis integer-encode it
/// (SET, MSET, GETSET, APPEND to a new key, INCR, ...).
pub(crate) fn whole(bytes: &[u8]) -> StrValue {
    StrValue::new(bytes)
}

/// A string created whole that Redis never integer-encodes.
pub(crate) fn whole_text(bytes: &[u8]) -> StrValue {
    let mut exact = Vec::with_capacity(bytes.len());
    exact.extend_from_slice(bytes);
    StrValue::Heap(exact)
}

/// A string built by a command that Redis creates as `raw` (SETRANGE or
/// SETBIT on a new key, BITOP). `bytes` should have spare capacity
/// already; if not, it gets one byte more.
pub(crate) fn raw(mut bytes: Vec<u8>) -> StrValue {
    keep_spare_capacity(&mut bytes);
    StrValue::Heap(bytes)
}

/// Changes a string in place, which makes it `raw` as in Redis.
pub(crate) fn edit<R>(value: &mut StrValue, change: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let bytes = value.make_mut();
    let result = change(bytes);
    keep_spare_capacity(bytes);
    result
}

/// A copy that keeps the encoding (Redis's `dupStringObject`).
pub(crate) fn duplicate(value: &StrValue) -> StrValue {
    if name(value) == "raw" {
        let mut bytes = Vec::with_capacity(value.len() + 1);
        bytes.extend_from_slice(value);
        raw(bytes)
    } else {
        value.clone()
    }
}

fn keep_spare_capacity(bytes: &mut Vec<u8>) {
    if bytes.capacity() == bytes.len() {
        bytes.reserve_exact(1);
    }
}

/// The `OBJECT ENCODING` name.
pub(crate) fn name(value: &StrValue) -> &'static str {
    match value {
        StrValue::Inline { .. } if parse_i64_opt(value).is_some() => "int",
        StrValue::Inline { .. } => "embstr",
        StrValue::Heap(bytes) if bytes.capacity() > bytes.len() => "raw",
        StrValue::Heap(bytes) if bytes.len() <= EMBSTR_MAX_BYTES => "embstr",
        StrValue::Heap(_) => "raw",
    }
}

/// The `OBJECT REFCOUNT` answer: shared small integers report `INT_MAX`.
pub(crate) fn refcount(value: &StrValue) -> i64 {
    match parse_i64_opt(value) {
        Some(number) if name(value) == "int" && (0..SHARED_INTEGERS).contains(&number) => {
            SHARED_REFCOUNT
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_how_the_value_was_made() {
        assert_eq!(name(&whole(b"123")), "int");
        assert_eq!(name(&whole(b"0123")), "embstr");
        assert_eq!(name(&whole(b"hello")), "embstr");
        assert_eq!(name(&whole(&[b'x'; 44])), "embstr");
        assert_eq!(name(&whole(&[b'x'; 45])), "raw");
        assert_eq!(name(&whole_text(b"3")), "embstr");
        let mut value = whole(b"12");
        edit(&mut value, |bytes| bytes.push(b'3'));
        assert_eq!(name(&value), "raw");
        assert_eq!(name(&duplicate(&value)), "raw");
        assert_eq!(name(&raw(vec![0; 3])), "raw");
        assert_eq!(refcount(&whole(b"9999")), SHARED_REFCOUNT);
        assert_eq!(refcount(&whole(b"10000")), 1);
        assert_eq!(refcount(&value), 1);
    }
}
