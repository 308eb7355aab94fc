//! Measures the snapshot path on one thread, as the executor runs it:
//! `snapshot_step` + encoding throughput, the duration of single steps
//! (the server calls one between commands), the cost of writes during a
//! snapshot, and writing + loading the file.
//!
//! Run: `cargo run --release -p daisy-snapshot --example snapshot_bench [keys]`

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use daisy_keyspace::{Db, StrValue, Value};
use daisy_snapshot::{
    load_snapshot, EncodedChunk, ExpiredOnLoad, SnapshotEncoder, SnapshotHeader, SnapshotWriter,
};

const DEFAULT_KEYS: u64 = 1_000_000;
const VALUE_BYTES: usize = 16;
const STEP_ENTRIES: usize = 1_000;
/// Writes between two steps in the "with writes" runs.
const WRITES_PER_STEP: u64 = 20;

fn key(i: u64) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

fn value(i: u64) -> Value {
    let mut bytes = [b'v'; VALUE_BYTES];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    Value::Str(StrValue::new(&bytes))
}

fn filled_db(keys: u64) -> Db {
    let mut db = Db::new(7);
    for i in 0..keys {
        db.set(&key(i), value(i), false);
    }
    while db.rehash_step(10_000) {}
    db
}

/// Step durations, summarised.
struct Steps(Vec<Duration>);

impl Steps {
    fn report(&mut self, label: &str) {
        let slowest = (0..self.0.len()).max_by_key(|&i| self.0[i]).unwrap_or(0);
        println!("  slowest step: #{slowest} of {}", self.0.len());
        self.0.sort();
        let count = self.0.len();
        let at = |fraction: f64| self.0[((count as f64 * fraction) as usize).min(count - 1)];
        let total: Duration = self.0.iter().sum();
        println!(
            "  {label}: {count} steps, mean {:.1} us, p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
            total.as_secs_f64() * 1e6 / count as f64,
            at(0.5).as_secs_f64() * 1e6,
            at(0.99).as_secs_f64() * 1e6,
            at(0.999).as_secs_f64() * 1e6,
            self.0[count - 1].as_secs_f64() * 1e6,
        );
    }
}

/// Runs a whole snapshot of `db`, `writes_per_step` writes between steps;
/// returns (entries, encoded bytes, time in steps, step durations).
fn snapshot_run(db: &mut Db, keys: u64, writes_per_step: u64) -> (u64, u64, Duration, Steps) {
    let mut encoder = SnapshotEncoder::new();
    let mut steps = Vec::new();
    let mut entries = 0u64;
    let mut bytes = 0u64;
    let mut next_write = 0u64;
    db.begin_snapshot();
    loop {
        for _ in 0..writes_per_step {
            // Spread over the table, so most writes hit unvisited buckets.
            next_write = next_write.wrapping_add(7_919) % keys;
            db.set(&key(next_write), value(next_write + 1), false);
        }
        let started = Instant::now();
        let more = db.snapshot_step(STEP_ENTRIES, &mut |entry| {
            encoder.push(&entry).expect("encodable");
        });
        let chunk = encoder.take_chunk();
        steps.push(started.elapsed());
        entries += chunk.entries;
        bytes += chunk.bytes.len() as u64;
        drop(chunk);
        if !more {
            break;
        }
    }
    let in_steps = steps.iter().sum();
    (entries, bytes, in_steps, Steps(steps))
}

fn main() {
    let keys: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_KEYS);
    println!("{keys} string keys, {VALUE_BYTES}-byte values, snapshot_step({STEP_ENTRIES})");

    let started = Instant::now();
    let mut db = filled_db(keys);
    println!("fill: {:.2} s", started.elapsed().as_secs_f64());

    // 1. Throughput of step + encode, no writes.
    for round in 0..2 {
        let (entries, bytes, in_steps, mut steps) = snapshot_run(&mut db, keys, 0);
        assert_eq!(entries, keys);
        let seconds = in_steps.as_secs_f64();
        println!(
            "no writes (run {}): {:.2} M entries/s, {:.0} MB/s encoded ({} MB in {:.3} s)",
            round + 1,
            entries as f64 / seconds / 1e6,
            bytes as f64 / seconds / 1e6,
            bytes / 1_000_000,
            seconds
        );
        steps.report("step + encode");
    }

    // 2. The same with writes between steps (copy-on-write at work).
    let (entries, _, in_steps, mut steps) = snapshot_run(&mut db, keys, WRITES_PER_STEP);
    assert_eq!(entries, keys);
    println!(
        "{WRITES_PER_STEP} writes between steps: {:.3} s in steps",
        in_steps.as_secs_f64()
    );
    steps.report("step + encode");

    // 3. What one write costs, without and during a snapshot.
    let writes = 1_000_000u64;
    let time_writes = |db: &mut Db| {
        let started = Instant::now();
        let mut at = 0u64;
        for _ in 0..writes {
            at = at.wrapping_add(7_919) % keys;
            db.set(&key(at), value(at), false);
        }
        started.elapsed().as_secs_f64() * 1e9 / writes as f64
    };
    let idle = time_writes(&mut db);
    db.begin_snapshot();
    let during = time_writes(&mut db);
    db.abort_snapshot();
    println!("SET of an existing key: {idle:.0} ns without a snapshot, {during:.0} ns during one (first write to a bucket copies it)");

    // 4. End to end: a writer thread writes the file; then load it.
    let dir = std::env::temp_dir().join(format!("daisy-snapshot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the bench directory");
    let header = SnapshotHeader {
        fragment_id: 0,
        lsn: 1,
        epoch: 1,
        created_ms: 0,
    };
    let (send, receive) = mpsc::sync_channel::<EncodedChunk>(64);
    let writer_dir = dir.clone();
    let started = Instant::now();
    let writer = thread::spawn(move || {
        let mut writer = SnapshotWriter::create(&writer_dir, &header).expect("create");
        for chunk in receive {
            writer.write_chunk(&chunk).expect("write");
        }
        writer.finish().expect("finish")
    });
    let mut encoder = SnapshotEncoder::new();
    db.begin_snapshot();
    while {
        let more = db.snapshot_step(STEP_ENTRIES, &mut |entry| {
            encoder.push(&entry).expect("encodable");
        });
        send.send(encoder.take_chunk()).expect("writer alive");
        more
    } {}
    drop(send);
    let path = writer.join().expect("writer thread");
    let written = started.elapsed();
    let size = std::fs::metadata(&path).expect("stat").len();
    println!(
        "write file (step + encode + thread write + fsync + rename): {:.2} s, {} MB",
        written.as_secs_f64(),
        size / 1_000_000
    );
    let started = Instant::now();
    let loaded = load_snapshot(&path).expect("verify");
    let verified = started.elapsed();
    let mut fresh = Db::new(9);
    let stats = loaded
        .apply_to(&mut fresh, ExpiredOnLoad::Keep)
        .expect("load");
    assert_eq!(stats.restored, keys);
    println!(
        "load: verify {:.2} s, verify + parse + insert {:.2} s",
        verified.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
