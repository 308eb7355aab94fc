//! The digest property: two `Db`s holding the same keys, values and expiry
//! times digest the same, whatever their seeds, insertion orders, encodings,
//! table layouts or snapshots in progress; any logical change (a key, a
//! type, a value, a member, a score, an expiry) changes the digest.

use std::collections::BTreeSet;

use super::*;
use crate::{Digest, StrValue, ZSet};

/// The clock the tests run at; expiry times in the data set are after it.
const NOW_MS: u64 = 1_000;
/// Keys in the shared data set: enough that the key table resizes.
const DATA_SET_KEYS: usize = 400;

/// One key's content in a form independent of any `Db`.
#[derive(Clone)]
enum Model {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
}

struct Entry {
    key: Vec<u8>,
    model: Model,
    expire_at_ms: Option<u64>,
}

fn bytes(text: impl Into<String>) -> Vec<u8> {
    text.into().into_bytes()
}

/// A mix of every type, small and large elements, some keys with expiry.
fn data_set() -> Vec<Entry> {
    (0..DATA_SET_KEYS)
        .map(|i| {
            let elements = 1 + i % 40;
            let model = match i % 5 {
                0 => Model::Str(bytes(format!("value-{i}-{}", "x".repeat(i % 30)))),
                1 => Model::List((0..elements).map(|j| bytes(format!("item{j}"))).collect()),
                2 => Model::Hash(
                    (0..elements)
                        .map(|j| (bytes(format!("field{j}")), bytes(format!("v{}", i * j))))
                        .collect(),
                ),
                3 => Model::Set((0..elements).map(|j| bytes(format!("m{j}"))).collect()),
                _ => Model::ZSet(
                    (0..elements)
                        .map(|j| (bytes(format!("z{j}")), (j % 7) as f64 - 3.5))
                        .collect(),
                ),
            };
            Entry {
                key: bytes(format!("key:{i}")),
                model,
                expire_at_ms: (i % 3 == 0).then_some(NOW_MS + 10_000 + i as u64),
            }
        })
        .collect()
}

/// Builds the value with `seed` for its tables; unordered elements go in
/// reversed when `reverse` (a list keeps its order: it is the value).
fn build(model: &Model, seed: u64, reverse: bool) -> Value {
    fn ordered<T: Clone>(items: &[T], reverse: bool) -> Vec<T> {
        let mut items = items.to_vec();
        if reverse {
            items.reverse();
        }
        items
    }
    match model {
        Model::Str(text) => Value::Str(StrValue::new(text)),
        Model::List(items) => Value::List(Box::new(
            items.iter().map(|item| CompactBytes::new(item)).collect(),
        )),
        Model::Hash(fields) => {
            let mut hash = Dict::with_seed(seed);
            for (field, value) in ordered(fields, reverse) {
                hash.insert(CompactBytes::new(&field), CompactBytes::new(&value));
            }
            Value::Hash(Box::new(hash))
        }
        Model::Set(members) => {
            let mut set = Dict::with_seed(seed);
            for member in ordered(members, reverse) {
                set.insert(CompactBytes::new(&member), ());
            }
            Value::Set(Box::new(set))
        }
        Model::ZSet(members) => {
            let mut zset = ZSet::with_seed(seed);
            for (member, score) in ordered(members, reverse) {
                zset.insert(&member, score);
            }
            Value::ZSet(Box::new(zset))
        }
    }
}

/// A `Db` seeded with `seed` holding `entries`, keys inserted in reverse
/// (and unordered elements reversed) when `reverse`.
fn load(entries: &[Entry], seed: u64, reverse: bool) -> Db {
    let mut db = Db::new(seed);
    db.set_now(NOW_MS);
    let mut order: Vec<&Entry> = entries.iter().collect();
    if reverse {
        order.reverse();
    }
    for entry in order {
        db.set(&entry.key, build(&entry.model, db.seed(), reverse), false);
        if let Some(at_ms) = entry.expire_at_ms {
            assert!(db.set_expire(&entry.key, at_ms));
        }
    }
    db
}

fn string(text: &[u8]) -> Value {
    Value::Str(StrValue::new(text))
}

#[test]
fn an_empty_keyspace_digests_to_zeros() {
    let mut db = Db::new(1);
    assert!(db.digest(0).is_zero());
    assert_eq!(db.digest(0).to_string(), "0".repeat(40));
    db.set(b"k", string(b"v"), false);
    assert!(!db.digest(0).is_zero());
    db.remove(b"k");
    assert!(db.digest(0).is_zero());
    assert!(db.value_digest(b"k", 0).is_zero());
}

#[test]
fn the_digest_is_forty_lowercase_hex_digits() {
    let mut db = Db::new(1);
    db.set(b"k", string(b"v"), false);
    let text = db.digest(0).to_string();
    assert_eq!(text.len(), 40);
    assert!(text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn same_data_in_other_orders_and_seeds_digests_the_same() {
    let entries = data_set();
    let forward = load(&entries, 1, false);
    let backward = load(&entries, 0xDEAD_BEEF, true);
    assert_eq!(forward.len(), DATA_SET_KEYS);
    assert_eq!(forward.digest(NOW_MS), backward.digest(NOW_MS));
    for entry in &entries {
        assert_eq!(
            forward.value_digest(&entry.key, NOW_MS),
            backward.value_digest(&entry.key, NOW_MS),
        );
    }
}

/// Each change touches one thing; all digests must differ from the base
/// and from one another.
#[test]
fn any_logical_change_changes_the_digest() {
    type Change = (&'static str, fn(&mut Db));
    let changes: &[Change] = &[
        ("string value", |db| {
            db.set(b"key:0", string(b"other"), true)
        }),
        ("type", |db| {
            let text = db.get(b"key:0").map(|v| match v {
                Value::Str(s) => CompactBytes::new(s),
                _ => unreachable!("key:0 is a string"),
            });
            let list = Value::List(Box::new(text.into_iter().collect()));
            db.set(b"key:0", list, true);
        }),
        ("list order", |db| match db.get_mut(b"key:6") {
            Some(Value::List(list)) => list.swap(0, 1),
            _ => unreachable!("key:6 is a list of 7"),
        }),
        ("list element", |db| match db.get_mut(b"key:6") {
            Some(Value::List(list)) => list[3] = CompactBytes::new(b"changed"),
            _ => unreachable!("key:6 is a list"),
        }),
        ("hash value", |db| match db.get_mut(b"key:7") {
            Some(Value::Hash(hash)) => {
                hash.insert(CompactBytes::new(b"field0"), CompactBytes::new(b"x"));
            }
            _ => unreachable!("key:7 is a hash"),
        }),
        ("hash field", |db| match db.get_mut(b"key:7") {
            Some(Value::Hash(hash)) => {
                let value = hash.remove(b"field0").expect("field0 exists");
                hash.insert(CompactBytes::new(b"field0'"), value);
            }
            _ => unreachable!("key:7 is a hash"),
        }),
        ("set member added", |db| match db.get_mut(b"key:8") {
            Some(Value::Set(set)) => {
                set.insert(CompactBytes::new(b"new"), ());
            }
            _ => unreachable!("key:8 is a set"),
        }),
        ("set member removed", |db| match db.get_mut(b"key:8") {
            Some(Value::Set(set)) => {
                set.remove(b"m0").expect("m0 exists");
            }
            _ => unreachable!("key:8 is a set"),
        }),
        ("zset score", |db| match db.get_mut(b"key:9") {
            Some(Value::ZSet(zset)) => {
                zset.insert(b"z0", 100.0);
            }
            _ => unreachable!("key:9 is a zset"),
        }),
        ("zset member", |db| match db.get_mut(b"key:9") {
            Some(Value::ZSet(zset)) => {
                let score = zset.remove(b"z0").expect("z0 exists");
                zset.insert(b"z0'", score);
            }
            _ => unreachable!("key:9 is a zset"),
        }),
        ("zset zero sign", |db| match db.get_mut(b"key:9") {
            Some(Value::ZSet(zset)) => {
                zset.insert(b"zero", 0.0);
            }
            _ => unreachable!("key:9 is a zset"),
        }),
        ("expiry added", |db| {
            assert!(db.set_expire(b"key:1", NOW_MS + 5_000));
        }),
        ("expiry moved", |db| {
            let at_ms = db.expire_at(b"key:0").expect("key:0 expires");
            assert!(db.set_expire(b"key:0", at_ms + 1));
        }),
        ("expiry removed", |db| {
            assert!(db.persist(b"key:0"));
        }),
        ("key renamed", |db| {
            let value = db.remove(b"key:1").expect("key:1 exists");
            db.set(b"key:1'", value, false);
        }),
        ("key removed", |db| {
            db.remove(b"key:1").expect("key:1 exists");
        }),
        ("key added", |db| db.set(b"fresh", string(b""), false)),
    ];
    let entries = data_set();
    let base = load(&entries, 7, false).digest(NOW_MS);
    let mut seen = BTreeSet::from([base.0]);
    for (name, change) in changes {
        let mut db = load(&entries, 7, false);
        change(&mut db);
        let digest = db.digest(NOW_MS);
        assert!(
            seen.insert(digest.0),
            "change '{name}' left the digest equal"
        );
    }
    // The "zset zero sign" case adds +0; -0 must differ from it.
    let mut positive = load(&entries, 7, false);
    let mut negative = load(&entries, 7, false);
    for (db, zero) in [(&mut positive, 0.0), (&mut negative, -0.0)] {
        if let Some(Value::ZSet(zset)) = db.get_mut(b"key:9") {
            zset.insert(b"zero", zero);
        }
    }
    assert_ne!(positive.digest(NOW_MS), negative.digest(NOW_MS));
}

#[test]
fn value_digest_covers_the_value_and_expiry_but_not_the_name() {
    let mut a = Db::new(1);
    let mut b = Db::new(2);
    a.set(b"a", string(b"same"), false);
    b.set(b"b", string(b"same"), false);
    assert_eq!(a.value_digest(b"a", 0), b.value_digest(b"b", 0));
    assert_ne!(a.digest(0), b.digest(0));
    let before = a.value_digest(b"a", 0);
    a.set_expire(b"a", 50);
    assert_ne!(a.value_digest(b"a", 0), before);
    assert!(a.value_digest(b"missing", 0).is_zero());
}

#[test]
fn keys_expired_at_now_are_left_out() {
    let mut with_expired = Db::new(1);
    with_expired.set(b"live", string(b"1"), false);
    with_expired.set(b"lease", string(b"2"), false);
    with_expired.set_expire(b"lease", 500);
    // A replica keeps expired keys until the primary deletes them.
    with_expired.set_delete_expired(false);
    let mut without = Db::new(2);
    without.set(b"live", string(b"1"), false);

    assert_ne!(with_expired.digest(499), without.digest(499));
    assert_eq!(with_expired.digest(500), without.digest(500));
    assert!(!with_expired.value_digest(b"lease", 499).is_zero());
    assert!(with_expired.value_digest(b"lease", 500).is_zero());
    assert_eq!(with_expired.len(), 2, "the digest deletes nothing");
}

#[test]
fn encodings_do_not_change_the_digest() {
    let mut compact = Db::new(1);
    let mut converted = Db::new(2);

    // A short string inline, and the same bytes moved to the heap.
    compact.set(b"s", string(b"short"), false);
    let mut heap = StrValue::new(b"short");
    heap.make_mut();
    assert!(matches!(heap, StrValue::Heap(_)));
    converted.set(b"s", Value::Str(heap), false);

    // A sorted set that outgrew the compact form and shrank back.
    let mut small = ZSet::with_seed(1);
    small.insert(b"a", 1.0);
    small.insert(b"b", 2.0);
    let mut shrunk = ZSet::with_seed(2);
    for i in 0..300 {
        shrunk.insert(format!("filler{i}").as_bytes(), i as f64);
    }
    shrunk.insert(&[b'x'; 100], 0.5);
    shrunk.insert(b"b", 2.0);
    shrunk.insert(b"a", 1.0);
    for i in 0..300 {
        shrunk.remove(format!("filler{i}").as_bytes());
    }
    shrunk.remove(&[b'x'; 100]);
    assert!(small.is_compact() && !shrunk.is_compact());
    compact.set(b"z", Value::ZSet(Box::new(small)), false);
    converted.set(b"z", Value::ZSet(Box::new(shrunk)), false);

    // An integer set (an intset in Redis) and one that outgrew it: here,
    // tables with different bucket counts.
    let mut few = Dict::with_seed(1);
    let mut many = Dict::with_seed(2);
    for i in 0..3 {
        few.insert(CompactBytes::new(i.to_string().as_bytes()), ());
    }
    for i in 0..2_000 {
        many.insert(CompactBytes::new(i.to_string().as_bytes()), ());
    }
    for i in 3..2_000 {
        many.remove(i.to_string().as_bytes());
    }
    assert_ne!(few.bucket_count(), many.bucket_count());
    compact.set(b"set", Value::Set(Box::new(few)), false);
    converted.set(b"set", Value::Set(Box::new(many)), false);

    assert_eq!(compact.digest(0), converted.digest(0));
}

#[test]
fn rehash_progress_does_not_change_the_digest() {
    let entries = data_set();
    let mut db = load(&entries, 3, false);
    // Grow until the key table is caught in the middle of a resize.
    let mut extra = 0;
    while !db.keys.is_rehashing() {
        db.set(format!("extra:{extra}").as_bytes(), string(b"e"), false);
        extra += 1;
        assert!(extra < 100_000, "the key table never started a resize");
    }
    let mid_rehash = db.digest(NOW_MS);
    while db.rehash_step(1_000) {}
    assert!(!db.keys.is_rehashing());
    assert_eq!(db.digest(NOW_MS), mid_rehash);

    let mut twin = load(&entries, 4, true);
    for i in 0..extra {
        twin.set(format!("extra:{i}").as_bytes(), string(b"e"), false);
    }
    assert_eq!(twin.digest(NOW_MS), mid_rehash);
}

#[test]
fn a_snapshot_in_progress_does_not_change_the_digest() {
    let entries = data_set();
    let mut db = load(&entries, 5, false);
    let mut twin = load(&entries, 6, true);
    db.begin_snapshot();
    let mut emitted = 0;
    db.snapshot_step(50, &mut |_| emitted += 1);
    assert!(db.snapshot_in_progress() && emitted > 0);

    // Writes while the walk is half done: the old values are copied aside,
    // the digest follows the live data.
    for db in [&mut db, &mut twin] {
        db.set(b"key:3", string(b"rewritten"), false);
        db.remove(b"key:4");
        db.set(b"new", string(b"n"), false);
    }
    assert_eq!(db.digest(NOW_MS), twin.digest(NOW_MS));
    while db.snapshot_step(1_000, &mut |_| {}) {}
    assert_eq!(db.digest(NOW_MS), twin.digest(NOW_MS));

    // A FLUSHALL during a snapshot hands the old table to the snapshot.
    db.begin_snapshot();
    db.snapshot_step(10, &mut |_| {});
    db.flush();
    assert!(db.digest(NOW_MS).is_zero());
    db.abort_snapshot();
}

#[test]
fn xor_folds_in_any_order() {
    let a = Digest([1; 20]);
    let b = Digest([0x80; 20]);
    let mut ab = Digest::ZERO;
    ab.xor(&a);
    ab.xor(&b);
    let mut ba = Digest::ZERO;
    ba.xor(&b);
    ba.xor(&a);
    assert_eq!(ab, ba);
    ab.xor(&a);
    assert_eq!(ab, b);
}
