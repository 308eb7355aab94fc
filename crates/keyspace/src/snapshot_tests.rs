//! The snapshot property: whatever writes run between `begin_snapshot` and
//! the last `snapshot_step`, the emitted entries equal a deep copy of the
//! keyspace taken at `begin_snapshot`, and the live keyspace behaves as if
//! no snapshot had run.
//!
//! Seeded and reproducible: a failure prints the seed and the command that
//! replays it alone (`DAISY_SNAPSHOT_SEED=<seed>`);
//! `DAISY_SNAPSHOT_SEEDS=<n>` runs more seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::*;
use crate::{StrValue, Value};

const DEFAULT_SEEDS: u64 = 100;
const ROUNDS_PER_SEED: usize = 4;
/// Writes allowed while a snapshot runs before the test only steps.
const WRITES_PER_SNAPSHOT_MAX: usize = 2_500;

/// splitmix64: small, seedable, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// A value in a form that compares by content.
#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Member to score bits, so -0.0 and 0.0 differ.
    ZSet(BTreeMap<Vec<u8>, u64>),
}

fn repr(value: &Value) -> Repr {
    match value {
        Value::Str(s) => Repr::Str(s.to_vec()),
        Value::List(list) => Repr::List(list.iter().map(|item| item.to_vec()).collect()),
        Value::Hash(hash) => {
            Repr::Hash(hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())
        }
        Value::Set(set) => Repr::Set(set.iter().map(|(m, _)| m.to_vec()).collect()),
        Value::ZSet(zset) => Repr::ZSet(
            zset.iter()
                .map(|(m, s)| (m.to_vec(), s.to_bits()))
                .collect(),
        ),
    }
}

type Image = BTreeMap<Vec<u8>, (Repr, Option<u64>)>;

/// Every key the `Db` holds, expired or not, with its expiry.
fn physical_image(db: &Db) -> Image {
    db.keys
        .iter()
        .map(|(key, value)| {
            let expiry = db.expires.get(key).copied();
            (key.to_vec(), (repr(value), expiry))
        })
        .collect()
}

/// The keys a client can see now.
fn logical_image(db: &Db) -> Image {
    let now_ms = db.now_ms();
    physical_image(db)
        .into_iter()
        .filter(|(_, (_, expiry))| expiry.is_none_or(|at_ms| at_ms > now_ms))
        .collect()
}

fn check_tables(db: &Db) {
    assert_eq!(db.keys.len(), db.keys.iter().count(), "len counts entries");
    for (key, _) in db.keys.iter() {
        assert!(db.keys.get(key).is_some(), "every entry is found by lookup");
    }
    for (key, _) in db.expires.iter() {
        assert!(db.keys.contains_key(key), "expiry of a missing key");
    }
    assert_eq!(db.keys.is_frozen(), db.snapshot_reads_live);
}

fn string(bytes: &[u8]) -> Value {
    Value::Str(StrValue::new(bytes))
}

/// The test's view of one seed: the `Db` under test, a twin that never
/// snapshots (the oracle for live behaviour), and the snapshot's output.
struct Run {
    rng: Rng,
    db: Db,
    twin: Db,
    key_space: u64,
    emitted: Image,
    coverage: Coverage,
}

/// What the seeds exercised, so the test fails if it stops covering the
/// hard cases.
#[derive(Default, Debug)]
struct Coverage {
    begun_while_rehashing: usize,
    flushed_during_walk: usize,
    steps_with_copies: usize,
    aborted: usize,
    completed: usize,
}

impl Run {
    fn new(seed: u64) -> Run {
        let mut rng = Rng(seed);
        let key_space = [16, 200, 3_000][rng.below(3) as usize];
        let mut db = Db::new(seed);
        let mut twin = Db::new(seed);
        let replica = rng.chance(5);
        db.set_delete_expired(!replica);
        twin.set_delete_expired(!replica);
        db.set_now(1_000);
        twin.set_now(1_000);
        Run {
            rng,
            db,
            twin,
            key_space,
            emitted: Image::new(),
            coverage: Coverage::default(),
        }
    }

    fn key(&mut self) -> Vec<u8> {
        let n = self.rng.below(self.key_space);
        if n.is_multiple_of(7) {
            // Binary keys, some longer than the inline size.
            let mut key = vec![0u8, 0xFF, (n % 251) as u8];
            key.extend(std::iter::repeat_n(b'x', (n % 40) as usize));
            key
        } else {
            format!("k{n}").into_bytes()
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = [0, 1, 5, 30][self.rng.below(4) as usize];
        (0..len).map(|_| self.rng.below(256) as u8).collect()
    }

    /// Applies one random write or read to both `Db`s.
    fn operate(&mut self) {
        let key = self.key();
        let op = self.rng.below(25);
        let element = format!("e{}", self.rng.below(12)).into_bytes();
        let payload = self.bytes();
        let score =
            [-0.0, 0.0, 1.5, -2.0, f64::INFINITY, f64::NEG_INFINITY][self.rng.below(6) as usize];
        let at_ms = self.db.now_ms() + self.rng.below(60) - 10;
        let keep_ttl = self.rng.chance(2);
        let steps = self.rng.below(5) as usize + 1;
        let grow = self.rng.below(400) as usize;
        let random_seed = self.rng.next();
        if op == 24 {
            if !self.rng.chance(8) {
                return; // flush only rarely
            }
            self.coverage.flushed_during_walk += usize::from(self.db.snapshot_reads_live);
        }
        for db in [&mut self.db, &mut self.twin] {
            apply(
                db,
                op,
                &key,
                &element,
                &payload,
                score,
                at_ms,
                keep_ttl,
                steps,
                grow,
                random_seed,
            );
        }
    }
}

/// One operation, by number. Kept as one flat match so a failing seed can
/// be read operation by operation.
#[allow(clippy::too_many_arguments)]
fn apply(
    db: &mut Db,
    op: u64,
    key: &[u8],
    element: &[u8],
    payload: &[u8],
    score: f64,
    at_ms: u64,
    keep_ttl: bool,
    steps: usize,
    grow: usize,
    random_seed: u64,
) {
    let seed = db.seed();
    match op {
        0 | 1 => db.set(key, string(payload), keep_ttl),
        2 => {
            if let Ok(Some(Value::Str(s))) = db.get_mut_checked(key, |v| matches!(v, Value::Str(_)))
            {
                s.make_mut().extend_from_slice(payload);
            }
        }
        3 => {
            if let Ok((Value::List(list), _)) =
                db.get_or_insert_checked(key, |v| matches!(v, Value::List(_)), Value::new_list)
            {
                list.push_back(CompactBytes::new(payload));
            }
        }
        4 => {
            if let Some(Value::List(list)) = db.get_mut(key) {
                list.pop_front();
            }
            db.remove_if_empty(key);
        }
        5 => {
            let (value, _) = db.get_or_insert_with(key, || Value::new_hash(seed));
            if let Value::Hash(hash) = value {
                hash.insert(CompactBytes::new(element), CompactBytes::new(payload));
            }
            db.remove_if_empty(key);
        }
        6 => {
            if let Ok(Some(Value::Hash(hash))) =
                db.get_mut_checked(key, |v| matches!(v, Value::Hash(_)))
            {
                hash.remove(element);
            }
            db.remove_if_empty(key);
        }
        7 => {
            if let Ok((Value::Set(set), _)) = db.get_or_insert_checked(
                key,
                |v| matches!(v, Value::Set(_)),
                || Value::new_set(seed),
            ) {
                set.insert(CompactBytes::new(element), ());
            }
        }
        8 => {
            if let Ok(Some(Value::Set(set))) =
                db.get_mut_checked(key, |v| matches!(v, Value::Set(_)))
            {
                set.remove(element);
            }
            db.remove_if_empty(key);
        }
        9 => {
            if let Ok((Value::ZSet(zset), _)) = db.get_or_insert_checked(
                key,
                |v| matches!(v, Value::ZSet(_)),
                || Value::new_zset(seed),
            ) {
                zset.insert(element, score);
            }
        }
        10 => {
            if let Ok(Some(Value::ZSet(zset))) =
                db.get_mut_checked(key, |v| matches!(v, Value::ZSet(_)))
            {
                zset.remove(element);
            }
            db.remove_if_empty(key);
        }
        11 | 12 => {
            db.remove(key);
        }
        13 | 14 => {
            db.set_expire(key, at_ms);
        }
        15 => {
            db.persist(key);
        }
        16 => {
            db.get(key);
        }
        17 => db.set_now(db.now_ms() + steps as u64 * 3),
        18 => {
            db.active_expire_cycle();
        }
        19 => {
            db.rehash_step(steps);
        }
        20 => {
            let expiry = steps.is_multiple_of(2).then_some(at_ms);
            db.restore(key, string(payload), expiry);
        }
        21 => {
            let mut state = random_seed;
            db.random_key(move || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                state >> 11
            });
        }
        22 => {
            for i in 0..grow {
                let name = format!("bulk{random_seed}:{i}");
                db.set(name.as_bytes(), string(payload), false);
            }
        }
        23 => {
            // Sorted: the table's order differs between the two `Db`s.
            let mut names: Vec<CompactBytes> = db.keys.iter().map(|(k, _)| k.clone()).collect();
            names.sort();
            for name in names.iter().take(grow) {
                db.remove(name);
            }
        }
        24 => drop(db.flush()),
        _ => unreachable!("op numbers are below 25"),
    }
}

/// Steps the snapshot once; collects what it emits.
fn step(run: &mut Run) -> bool {
    let max_entries = [1, 3, 16, 64][run.rng.below(4) as usize];
    let copies = run.db.snapshot.as_ref().map_or(0, |s| s.pending_len());
    run.coverage.steps_with_copies += usize::from(copies > 0);
    let emitted = &mut run.emitted;
    let more = run.db.snapshot_step(max_entries, &mut |entry| {
        let previous = emitted.insert(entry.key.to_vec(), (repr(entry.value), entry.expire_at_ms));
        assert!(previous.is_none(), "key {:?} emitted twice", entry.key);
    });
    assert_eq!(more, run.db.snapshot_in_progress());
    check_tables(&run.db);
    more
}

/// Puts the key table in the middle of a rehash, sometimes: the snapshot
/// must then walk both tables.
fn maybe_start_rehash(run: &mut Run) {
    if !run.rng.chance(2) {
        return;
    }
    let limit = run.db.len() * 4 + 64;
    for i in 0..limit {
        if run.db.keys.is_rehashing() {
            return;
        }
        let name = format!("fill{}:{i}", run.rng.next());
        for db in [&mut run.db, &mut run.twin] {
            db.set(name.as_bytes(), string(b"f"), false);
        }
    }
}

fn run_seed(seed: u64) -> Coverage {
    let mut run = Run::new(seed);
    for _round in 0..ROUNDS_PER_SEED {
        let warm_up = run.rng.below(400);
        for _ in 0..warm_up {
            run.operate();
        }
        maybe_start_rehash(&mut run);
        let expected = physical_image(&run.db);
        run.emitted.clear();
        run.coverage.begun_while_rehashing += usize::from(run.db.keys.is_rehashing());
        run.db.begin_snapshot();
        check_tables(&run.db);
        let abort_after = run.rng.chance(10).then(|| run.rng.below(30));
        let mut writes = 0;
        let mut steps = 0;
        loop {
            if writes < WRITES_PER_SNAPSHOT_MAX && !run.rng.chance(4) {
                run.operate();
                writes += 1;
                continue;
            }
            steps += 1;
            if abort_after == Some(steps) {
                run.db.abort_snapshot();
                run.coverage.aborted += 1;
                break;
            }
            if !step(&mut run) {
                assert_eq!(
                    run.emitted, expected,
                    "snapshot differs from the keyspace at its start"
                );
                run.coverage.completed += 1;
                break;
            }
        }
        assert!(!run.db.snapshot_in_progress());
        check_tables(&run.db);
        assert_eq!(
            logical_image(&run.db),
            logical_image(&run.twin),
            "live keyspace diverged"
        );
    }
    run.coverage
}

#[test]
fn snapshot_equals_keyspace_at_begin() {
    let seeds: Vec<u64> = match std::env::var("DAISY_SNAPSHOT_SEED") {
        Ok(seed) => vec![seed.parse().expect("DAISY_SNAPSHOT_SEED is a number")],
        Err(_) => {
            let count = std::env::var("DAISY_SNAPSHOT_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(DEFAULT_SEEDS);
            (0..count).collect()
        }
    };
    let many = seeds.len() > 20;
    let mut total = Coverage::default();
    for seed in seeds {
        match catch_unwind(AssertUnwindSafe(|| run_seed(seed))) {
            Ok(coverage) => {
                total.begun_while_rehashing += coverage.begun_while_rehashing;
                total.flushed_during_walk += coverage.flushed_during_walk;
                total.steps_with_copies += coverage.steps_with_copies;
                total.aborted += coverage.aborted;
                total.completed += coverage.completed;
            }
            Err(panic) => {
                eprintln!(
                    "snapshot property failed for seed {seed}; reproduce with:\n  \
                     DAISY_SNAPSHOT_SEED={seed} cargo test -p daisy-keyspace snapshot_equals_keyspace_at_begin"
                );
                resume_unwind(panic);
            }
        }
    }
    eprintln!("{total:?}");
    if many {
        assert!(total.begun_while_rehashing > 20, "{total:?}");
        assert!(total.flushed_during_walk > 5, "{total:?}");
        assert!(total.steps_with_copies > 1_000, "{total:?}");
        assert!(total.aborted > 5 && total.completed > 200, "{total:?}");
    }
}

#[test]
fn a_snapshot_of_an_empty_db_is_empty_and_ignores_later_writes() {
    let mut db = Db::new(1);
    db.begin_snapshot();
    db.set(b"a", string(b"1"), false);
    let mut count = 0;
    assert!(!db.snapshot_step(10, &mut |_| count += 1));
    assert_eq!(count, 0);
    assert!(!db.snapshot_in_progress());
}

#[test]
fn deleted_and_flushed_keys_keep_their_old_values() {
    let mut db = Db::new(2);
    for i in 0..100 {
        db.set(format!("k{i}").as_bytes(), string(b"old"), false);
    }
    db.set_expire(b"k7", 5_000);
    db.begin_snapshot();
    db.remove(b"k1");
    db.set(b"k2", string(b"new"), false);
    db.set(b"brand-new", string(b"x"), false);
    assert!(db.flush().is_empty(), "the snapshot keeps the old table");
    db.set(b"k3", string(b"after flush"), false);
    let mut seen = BTreeMap::new();
    while db.snapshot_step(7, &mut |entry| {
        seen.insert(entry.key.to_vec(), (repr(entry.value), entry.expire_at_ms));
    }) {}
    assert_eq!(seen.len(), 100);
    assert!(seen
        .values()
        .all(|(value, _)| *value == Repr::Str(b"old".to_vec())));
    assert_eq!(seen[&b"k7".to_vec()].1, Some(5_000));
    assert_eq!(db.len(), 1);
}

#[test]
fn writes_after_the_walk_passed_cost_no_copy() {
    let mut db = Db::new(3);
    for i in 0..1_000 {
        db.set(format!("k{i}").as_bytes(), string(b"v"), false);
    }
    db.begin_snapshot();
    // A budget bigger than the table: one step walks everything.
    assert!(!db.snapshot_step(1_000_000, &mut |_| {}));
    assert!(!db.snapshot_reads_live && !db.keys.is_frozen());
}

#[test]
fn growth_waits_for_the_walk_then_resumes() {
    let mut db = Db::new(4);
    for i in 0..64 {
        db.set(format!("k{i}").as_bytes(), string(b"v"), false);
    }
    while db.rehash_step(100) {}
    let buckets = db.keys.bucket_count();
    db.begin_snapshot();
    for i in 0..1_000 {
        db.set(format!("new{i}").as_bytes(), string(b"v"), false);
    }
    assert_eq!(db.keys.bucket_count(), buckets, "no resize while walking");
    let mut emitted = 0;
    while db.snapshot_step(10, &mut |_| emitted += 1) {}
    assert_eq!(emitted, 64);
    db.set(b"one-more", string(b"v"), false);
    while db.rehash_step(100) {}
    assert!(
        db.keys.bucket_count() > db.len(),
        "the table grew after the walk"
    );
}
