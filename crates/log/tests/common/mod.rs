//! Helpers shared by the log's integration tests: a seeded generator, a
//! workload of records, and short ways to open and read back a log.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use daisy_log::{recover, Disk, LogConfig, LogError, LogWriter, Record, Recovery};

/// The fragment every test log belongs to.
pub const FRAGMENT: u32 = 7;

/// The seed of a test run: `DAISY_LOG_SEED` if set, else `default`. Tests
/// print it in their failure messages so a run can be repeated.
pub fn seed(default: u64) -> u64 {
    std::env::var("DAISY_LOG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// How to repeat a failing run.
pub fn repro(test: &str, seed: u64) -> String {
    format!("reproduce with: DAISY_LOG_SEED={seed} cargo test -p daisy-log {test}")
}

/// SplitMix64: small, seeded, good enough to pick sizes and cut points.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Makes records with dense LSNs, a sometimes-rising epoch and payloads
/// whose bytes depend on the LSN (so a misplaced record shows).
pub struct Workload {
    rng: Rng,
    next_lsn: u64,
    epoch: u64,
    max_payload: u64,
}

impl Workload {
    pub fn new(seed: u64, first_lsn: u64, max_payload: u64) -> Self {
        Workload {
            rng: Rng::new(seed),
            next_lsn: first_lsn,
            epoch: 1,
            max_payload,
        }
    }

    pub fn next_record(&mut self) -> Record {
        if self.rng.one_in(8) {
            self.epoch += 1;
        }
        let len = self.rng.below(self.max_payload + 1) as usize;
        let lsn = self.next_lsn;
        self.next_lsn += 1;
        let payload = (0..len)
            .map(|i| (lsn as usize * 31 + i * 7) as u8)
            .collect();
        Record {
            lsn,
            epoch: self.epoch,
            payload,
        }
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
}

pub fn log_dir() -> PathBuf {
    PathBuf::from("/data/fragment-7/log")
}

pub fn small_segments(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        ..LogConfig::new(FRAGMENT)
    }
}

/// Recovers everything after `after_lsn` into a vector.
pub fn recover_all(
    disk: &dyn Disk,
    dir: &Path,
    after_lsn: u64,
) -> Result<(Recovery, Vec<Record>), LogError> {
    let mut records = Vec::new();
    let recovery = recover(disk, dir, after_lsn, |record| {
        records.push(record);
        Ok(())
    })?;
    Ok((recovery, records))
}

/// Recovers the log in `dir` (after LSN 0) and opens a writer on it.
pub fn open_writer(disk: Arc<dyn Disk>, dir: &Path, config: LogConfig) -> (LogWriter, Vec<Record>) {
    let (recovery, records) = recover_all(disk.as_ref(), dir, 0).expect("recovery");
    let writer = LogWriter::open(disk, config, &recovery).expect("open writer");
    (writer, records)
}

/// Polls `condition` every millisecond until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Asserts that `recovered` is exactly the first records of `written`.
pub fn assert_prefix(recovered: &[Record], written: &[Record], context: &str) {
    assert!(
        recovered.len() <= written.len(),
        "{context}: recovered {} records, only {} were written",
        recovered.len(),
        written.len()
    );
    for (got, want) in recovered.iter().zip(written) {
        assert_eq!(got, want, "{context}: record differs from what was written");
    }
}

/// A directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        // Tests of one binary run in parallel: the counter keeps their
        // directories apart when the clock does not.
        static CREATED: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let count = CREATED.fetch_add(1, Ordering::Relaxed);
        let name = format!("daisy-log-test-{}-{nanos}-{count}", std::process::id());
        TempDir(std::env::temp_dir().join(name))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
