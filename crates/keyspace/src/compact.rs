//! Byte strings sized for a keyspace with millions of small items.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes kept inline by [`CompactBytes`].
const INLINE_BYTES: usize = 22;

/// An immutable byte string: inline up to 22 bytes, boxed beyond. Used for
/// keys, members and fields. 24 bytes in size.
#[derive(Clone)]
pub enum CompactBytes {
    Inline { len: u8, data: [u8; INLINE_BYTES] },
    Heap(Box<[u8]>),
}

impl CompactBytes {
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_BYTES {
            let mut data = [0; INLINE_BYTES];
            data[..bytes.len()].copy_from_slice(bytes);
            CompactBytes::Inline {
                len: bytes.len() as u8,
                data,
            }
        } else {
            CompactBytes::Heap(bytes.into())
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            CompactBytes::Inline { len, data } => &data[..*len as usize],
            CompactBytes::Heap(bytes) => bytes,
        }
    }

    /// Heap bytes this value owns beyond its own size.
    pub fn heap_bytes(&self) -> usize {
        match self {
            CompactBytes::Inline { .. } => 0,
            CompactBytes::Heap(bytes) => bytes.len(),
        }
    }
}

impl Deref for CompactBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for CompactBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for CompactBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(bytes: &[u8]) -> Self {
        CompactBytes::new(bytes)
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for CompactBytes {}

impl PartialOrd for CompactBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CompactBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for CompactBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

/// A string value: inline up to 22 bytes, otherwise a growable vector so
/// that APPEND, SETRANGE and SETBIT are amortised O(1) per byte, as in Redis.
#[derive(Clone)]
pub enum StrValue {
    Inline { len: u8, data: [u8; INLINE_BYTES] },
    Heap(Vec<u8>),
}

impl StrValue {
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_BYTES {
            let mut data = [0; INLINE_BYTES];
            data[..bytes.len()].copy_from_slice(bytes);
            StrValue::Inline {
                len: bytes.len() as u8,
                data,
            }
        } else {
            StrValue::Heap(bytes.to_vec())
        }
    }

    pub fn from_vec(bytes: Vec<u8>) -> Self {
        if bytes.len() <= INLINE_BYTES {
            StrValue::new(&bytes)
        } else {
            StrValue::Heap(bytes)
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            StrValue::Inline { len, data } => &data[..*len as usize],
            StrValue::Heap(bytes) => bytes,
        }
    }

    /// The bytes as a vector that may be changed in place; an inline value
    /// moves to the heap first.
    pub fn make_mut(&mut self) -> &mut Vec<u8> {
        if let StrValue::Inline { .. } = self {
            *self = StrValue::Heap(self.as_slice().to_vec());
        }
        match self {
            StrValue::Heap(bytes) => bytes,
            StrValue::Inline { .. } => unreachable!("converted to Heap above"),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            StrValue::Inline { .. } => 0,
            StrValue::Heap(bytes) => bytes.capacity(),
        }
    }
}

impl Deref for StrValue {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl fmt::Debug for StrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_stay_small() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        assert_eq!(std::mem::size_of::<StrValue>(), 32);
    }

    #[test]
    fn inline_and_heap_compare_by_content() {
        let short = CompactBytes::new(b"abc");
        let long = CompactBytes::new(&[7u8; 40]);
        assert_eq!(&*short, b"abc");
        assert_eq!(long.len(), 40);
        assert!(short < CompactBytes::new(b"abd"));
        let mut value = StrValue::new(b"hello");
        value
            .make_mut()
            .extend_from_slice(b" world, this is long enough");
        assert_eq!(&value[..5], b"hello");
    }
}
