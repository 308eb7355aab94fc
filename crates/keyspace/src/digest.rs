//! A digest of the keyspace's logical content, so that tests (and operators)
//! can check that two nodes hold the same data (`DEBUG DIGEST`).
//!
//! Owns: the digest scheme. Must never depend on how a node happens to
//! store its data: hash-table seeds, bucket order, rehash progress, inline
//! or heap strings, compact or converted sorted sets, or a snapshot in
//! progress. Two nodes holding the same keys, values and expiry times get
//! the same digest, whatever order the data arrived in.
//!
//! The scheme is Redis's `DEBUG DIGEST` in spirit (SHA-1, 20 bytes, XOR to
//! make unordered things order-independent), with length-prefixed fields so
//! no two different values share an encoding. `SHA1(x)` below is over the
//! concatenation of its parts; `len(b)` is `b.len()` as a u64 little-endian,
//! `str(b)` is `len(b) ‖ b`.
//!
//! ```text
//! keyspace  = XOR of key_digest over every live key; all zeros when empty
//! key       = SHA1(str(key) ‖ value_digest)
//! value     = SHA1(type ‖ u64 element count ‖ body ‖ expiry)
//!   type    = 1 string, 2 list, 3 hash, 4 set, 5 zset (one byte)
//!   expiry  = 0x00, or 0x01 ‖ absolute expiry time in Unix ms as u64 LE
//! body of
//!   string  = str(bytes)                        (count 1)
//!   list    = str(element) for each, head first (ordered)
//!   zset    = f64 bits LE ‖ str(member) for each, by (score, member) (ordered)
//!   hash    = XOR of SHA1(str(field) ‖ str(value)) over the fields (unordered)
//!   set     = XOR of SHA1(str(member)) over the members (unordered)
//! ```
//!
//! Keys, fields and members are unique within their container, so no two
//! XOR terms are equal and none cancel. XOR of hashes resists accidents, not
//! an adversary who chooses the data; it is a check, not a signature.
//! Scores are digested by their bits, so `-0` and `0` differ, as their
//! replies (`ZSCORE`) do.

use std::fmt;

use sha1_smol::Sha1;

use crate::Value;

/// Bytes in a digest (a SHA-1 output).
pub const DIGEST_BYTES: usize = 20;

const TYPE_STRING: u8 = 1;
const TYPE_LIST: u8 = 2;
const TYPE_HASH: u8 = 3;
const TYPE_SET: u8 = 4;
const TYPE_ZSET: u8 = 5;

/// A 20-byte digest; shown as 40 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Digest(pub [u8; DIGEST_BYTES]);

impl Digest {
    /// The digest of nothing: an empty keyspace or a missing key.
    pub const ZERO: Digest = Digest([0; DIGEST_BYTES]);

    pub fn is_zero(&self) -> bool {
        *self == Digest::ZERO
    }

    /// Folds `other` in; the result does not depend on the order of folds.
    pub fn xor(&mut self, other: &Digest) {
        for (byte, other) in self.0.iter_mut().zip(other.0) {
            *byte ^= other;
        }
    }

    fn of(hasher: &Sha1) -> Digest {
        Digest(hasher.digest().bytes())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// The digest one key contributes to the keyspace digest.
pub(crate) fn key_digest(key: &[u8], value: &Value, expire_at_ms: Option<u64>) -> Digest {
    let mut hasher = Sha1::new();
    update_str(&mut hasher, key);
    hasher.update(&value_digest(value, expire_at_ms).0);
    Digest::of(&hasher)
}

/// The digest of a value with its expiry, without the key's name
/// (`DEBUG DIGEST-VALUE`).
pub(crate) fn value_digest(value: &Value, expire_at_ms: Option<u64>) -> Digest {
    let mut hasher = Sha1::new();
    match value {
        Value::Str(text) => {
            update_header(&mut hasher, TYPE_STRING, 1);
            update_str(&mut hasher, text.as_slice());
        }
        Value::List(list) => {
            update_header(&mut hasher, TYPE_LIST, list.len());
            for element in list.iter() {
                update_str(&mut hasher, element);
            }
        }
        Value::ZSet(zset) => {
            update_header(&mut hasher, TYPE_ZSET, zset.len());
            for (member, score) in zset.iter() {
                hasher.update(&score.to_bits().to_le_bytes());
                update_str(&mut hasher, member);
            }
        }
        Value::Hash(hash) => {
            update_header(&mut hasher, TYPE_HASH, hash.len());
            let fields = xor_all(hash.iter().map(|(field, value)| {
                let mut element = Sha1::new();
                update_str(&mut element, field);
                update_str(&mut element, value);
                Digest::of(&element)
            }));
            hasher.update(&fields.0);
        }
        Value::Set(set) => {
            update_header(&mut hasher, TYPE_SET, set.len());
            let members = xor_all(set.iter().map(|(member, ())| {
                let mut element = Sha1::new();
                update_str(&mut element, member);
                Digest::of(&element)
            }));
            hasher.update(&members.0);
        }
    }
    match expire_at_ms {
        None => hasher.update(&[0]),
        Some(at_ms) => {
            hasher.update(&[1]);
            hasher.update(&at_ms.to_le_bytes());
        }
    }
    Digest::of(&hasher)
}

fn xor_all(digests: impl Iterator<Item = Digest>) -> Digest {
    let mut total = Digest::ZERO;
    for digest in digests {
        total.xor(&digest);
    }
    total
}

fn update_header(hasher: &mut Sha1, kind: u8, count: usize) {
    hasher.update(&[kind]);
    hasher.update(&(count as u64).to_le_bytes());
}

fn update_str(hasher: &mut Sha1, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}
