//! Helpers shared by the snapshot tests: a temporary directory, a model of
//! a keyspace that compares by content, and a hand-written encoder that
//! follows `docs/snapshot-format.md` independently of the crate's.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use daisy_keyspace::{CompactBytes, Db, Dict, StrValue, Value, ZSet};

/// A directory under the system's temporary directory, removed on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "daisy-snapshot-{name}-{}-{unique}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test directory");
        TestDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("list the test directory")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .into_string()
                    .expect("utf-8")
            })
            .collect();
        names.sort();
        names
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A value in a form that compares by content (scores by bits, so -0.0
/// and 0.0 differ).
#[derive(Clone, Debug, PartialEq)]
pub enum Repr {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, u64>),
}

pub type Image = BTreeMap<Vec<u8>, (Repr, Option<u64>)>;

pub fn repr(value: &Value) -> Repr {
    match value {
        Value::Str(s) => Repr::Str(s.to_vec()),
        Value::List(list) => Repr::List(list.iter().map(|item| item.to_vec()).collect()),
        Value::Hash(hash) => Repr::Hash(
            hash.iter()
                .map(|(field, value)| (field.to_vec(), value.to_vec()))
                .collect(),
        ),
        Value::Set(set) => Repr::Set(set.iter().map(|(member, _)| member.to_vec()).collect()),
        Value::ZSet(zset) => Repr::ZSet(
            zset.iter()
                .map(|(member, score)| (member.to_vec(), score.to_bits()))
                .collect(),
        ),
    }
}

pub fn value(repr: &Repr, seed: u64) -> Value {
    match repr {
        Repr::Str(bytes) => Value::Str(StrValue::new(bytes)),
        Repr::List(items) => Value::List(Box::new(
            items
                .iter()
                .map(|item| CompactBytes::new(item))
                .collect::<VecDeque<_>>(),
        )),
        Repr::Hash(pairs) => {
            let mut hash = Dict::with_seed(seed);
            for (field, value) in pairs {
                hash.insert(CompactBytes::new(field), CompactBytes::new(value));
            }
            Value::Hash(Box::new(hash))
        }
        Repr::Set(members) => {
            let mut set = Dict::with_seed(seed);
            for member in members {
                set.insert(CompactBytes::new(member), ());
            }
            Value::Set(Box::new(set))
        }
        Repr::ZSet(members) => {
            let mut zset = ZSet::with_seed(seed);
            for (member, bits) in members {
                zset.insert(member, f64::from_bits(*bits));
            }
            Value::ZSet(Box::new(zset))
        }
    }
}

/// A fresh `Db` holding exactly `image`.
pub fn build_db(image: &Image, seed: u64) -> Db {
    let mut db = Db::new(seed);
    for (key, (repr, expiry)) in image {
        assert!(db.restore(key, value(repr, seed), *expiry));
    }
    db
}

/// Everything a snapshot of `db` emits, as an image.
pub fn snapshot_image(db: &mut Db) -> Image {
    let mut image = Image::new();
    db.begin_snapshot();
    while db.snapshot_step(100, &mut |entry| {
        let previous = image.insert(entry.key.to_vec(), (repr(entry.value), entry.expire_at_ms));
        assert!(previous.is_none(), "key emitted twice");
    }) {}
    image
}

/// A keyspace with every type and the awkward cases: binary and empty
/// keys, empty strings and members, expiry times in the past and 0,
/// signed zeros and infinite scores, and large values.
pub fn awkward_image() -> Image {
    let mut image = Image::new();
    image.insert(b"".to_vec(), (Repr::Str(b"the empty key".to_vec()), None));
    image.insert(
        b"empty string".to_vec(),
        (Repr::Str(Vec::new()), Some(u64::MAX)),
    );
    image.insert(
        vec![0, 0xFF, 0x80, b'\r', b'\n'],
        (Repr::Str(vec![0; 3]), None),
    );
    image.insert(
        b"expired long ago".to_vec(),
        (Repr::Str(b"x".to_vec()), Some(5)),
    );
    image.insert(b"expiry zero".to_vec(), (Repr::Str(b"x".to_vec()), Some(0)));
    image.insert(
        b"future".to_vec(),
        (Repr::Str(b"y".to_vec()), Some(4_000_000_000_000)),
    );
    image.insert(
        b"big string".to_vec(),
        (
            Repr::Str((0..3_000_000u32).map(|i| (i * 7) as u8).collect()),
            None,
        ),
    );
    image.insert(
        b"list".to_vec(),
        (
            Repr::List(vec![
                b"".to_vec(),
                b"a".to_vec(),
                b"".to_vec(),
                vec![9; 100],
            ]),
            Some(77),
        ),
    );
    image.insert(
        b"big list".to_vec(),
        (
            Repr::List(
                (0..60_000)
                    .map(|i| format!("item {i}").into_bytes())
                    .collect(),
            ),
            None,
        ),
    );
    image.insert(
        b"set".to_vec(),
        (
            Repr::Set(
                [b"".to_vec(), b"m".to_vec(), vec![0xFF; 40]]
                    .into_iter()
                    .collect(),
            ),
            None,
        ),
    );
    image.insert(
        b"hash".to_vec(),
        (
            Repr::Hash(
                [(b"".to_vec(), b"".to_vec()), (b"f".to_vec(), vec![1; 50])]
                    .into_iter()
                    .collect(),
            ),
            None,
        ),
    );
    image.insert(
        b"big hash".to_vec(),
        (
            Repr::Hash(
                (0..20_000)
                    .map(|i| {
                        (
                            format!("field {i}").into_bytes(),
                            format!("{i}").into_bytes(),
                        )
                    })
                    .collect(),
            ),
            Some(123),
        ),
    );
    let scores = [-0.0f64, 0.0, f64::INFINITY, f64::NEG_INFINITY, 1e-300, -2.5];
    image.insert(
        b"zset".to_vec(),
        (
            Repr::ZSet(
                scores
                    .iter()
                    .enumerate()
                    .map(|(i, score)| (format!("m{i}").into_bytes(), score.to_bits()))
                    .chain([(b"".to_vec(), 3.0f64.to_bits())])
                    .collect(),
            ),
            None,
        ),
    );
    image.insert(
        b"big zset".to_vec(),
        (
            Repr::ZSet(
                (0..20_000)
                    .map(|i| (format!("z{i}").into_bytes(), (f64::from(i) / 3.0).to_bits()))
                    .collect(),
            ),
            None,
        ),
    );
    for i in 0..2_000u32 {
        image.insert(
            format!("small:{i}").into_bytes(),
            (Repr::Str(i.to_le_bytes().to_vec()), None),
        );
    }
    image
}

/// Bytes of a snapshot built by hand from the specification: the header,
/// `body` as the entries, `entry_count` in the trailer, and correct
/// checksums. Lets a test put any entry bytes behind valid checksums.
pub fn handmade_file(lsn: u64, body: &[u8], entry_count: u64) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend_from_slice(b"DAISYSNP");
    file.extend_from_slice(&1u16.to_le_bytes());
    file.extend_from_slice(&0u16.to_le_bytes());
    file.extend_from_slice(&9u32.to_le_bytes()); // fragment
    file.extend_from_slice(&lsn.to_le_bytes());
    file.extend_from_slice(&2u64.to_le_bytes()); // epoch
    file.extend_from_slice(&1_700_000_000_000u64.to_le_bytes());
    let header_crc = crc32c::crc32c(&file);
    file.extend_from_slice(&header_crc.to_le_bytes());
    assert_eq!(file.len(), 44);
    file.extend_from_slice(body);
    file.push(0xFF);
    file.extend_from_slice(&entry_count.to_le_bytes());
    let crc = crc32c::crc32c(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    file.extend_from_slice(b"DAISYEND");
    file
}

/// Recomputes the header and file checksums of `file` after a test changed
/// some bytes on purpose.
pub fn reseal(file: &mut [u8]) {
    let header_crc = crc32c::crc32c(&file[..40]);
    file[40..44].copy_from_slice(&header_crc.to_le_bytes());
    let end = file.len() - 12;
    let crc = crc32c::crc32c(&file[..end]);
    file[end..end + 4].copy_from_slice(&crc.to_le_bytes());
}

/// One entry by hand: type, flags, key, optional expiry, then `value`
/// bytes as given.
pub fn handmade_entry(tag: u8, key: &[u8], expiry: Option<u64>, value: &[u8]) -> Vec<u8> {
    let mut entry = vec![tag, u8::from(expiry.is_some())];
    entry.extend_from_slice(&(key.len() as u32).to_le_bytes());
    entry.extend_from_slice(key);
    if let Some(at_ms) = expiry {
        entry.extend_from_slice(&at_ms.to_le_bytes());
    }
    entry.extend_from_slice(value);
    entry
}

pub fn byte_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}
