//! Crashes at every byte and every disk change: whatever was synced
//! survives, what comes back is a prefix of what was written, a torn tail
//! never stops recovery, and the log goes on densely afterwards.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{assert_prefix, log_dir, recover_all, repro, seed, small_segments, Workload};
use daisy_log::{CrashPlan, Disk, LogConfig, LogWriter, Record, Recovery, SimDisk};

/// Crashes a copy of `disk` in every way its unsynced state allows (each
/// cut of the unsynced tails, each number of pending directory changes
/// kept) and checks the recovered log against what was written. Returns
/// how many crashes it tried and how many left a torn tail.
fn check_every_crash(
    disk: &SimDisk,
    dir: &Path,
    written: &[Record],
    synced_lsn: u64,
    context: &str,
) -> Tally {
    let mut tally = Tally::default();
    let tail_bytes = disk.max_unsynced_bytes();
    let dir_ops = disk.pending_dir_ops();
    for dir_ops_kept in 0..=dir_ops {
        for unsynced_bytes_kept in 0..=tail_bytes {
            let plan = CrashPlan {
                unsynced_bytes_kept,
                dir_ops_kept,
            };
            let crashed = disk.crashed_copy(plan);
            let at = format!("{context}, crash {plan:?}");
            let (recovery, records) = recover_all(&crashed, dir, 0)
                .unwrap_or_else(|e| panic!("{at}: recovery failed: {e}"));
            assert_prefix(&records, written, &at);
            assert!(
                records.len() as u64 >= synced_lsn,
                "{at}: synced records up to LSN {synced_lsn} but recovered only {}",
                records.len()
            );
            tally.crashes += 1;
            tally.torn_tails += u64::from(recovery.torn_tail.is_some());
            append_after_recovery(crashed, &recovery, &records, &at);
        }
    }
    tally
}

#[derive(Default)]
struct Tally {
    crashes: u64,
    torn_tails: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.crashes += other.crashes;
        self.torn_tails += other.torn_tails;
    }
}

/// The log takes new records right after what recovery found, and they
/// come back after the old ones with dense LSNs.
fn append_after_recovery(disk: SimDisk, recovery: &Recovery, before: &[Record], at: &str) {
    let dir = recovery.dir.clone();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let mut writer = LogWriter::open(shared, small_segments(120), recovery)
        .unwrap_or_else(|e| panic!("{at}: opening the writer failed: {e}"));
    let next_lsn = before.len() as u64 + 1;
    assert_eq!(writer.appended_lsn() + 1, next_lsn, "{at}");
    let epoch = recovery.last_epoch();
    for lsn in next_lsn..next_lsn + 2 {
        writer
            .append(lsn, epoch, b"after the crash")
            .unwrap_or_else(|e| panic!("{at}: append after recovery failed: {e}"));
    }
    writer
        .sync()
        .unwrap_or_else(|e| panic!("{at}: sync after recovery failed: {e}"));
    let (_, after) =
        recover_all(&disk, &dir, 0).unwrap_or_else(|e| panic!("{at}: second recovery failed: {e}"));
    assert_eq!(after.len(), before.len() + 2, "{at}");
    assert_eq!(&after[..before.len()], before, "{at}");
    for (i, record) in after.iter().enumerate() {
        assert_eq!(record.lsn, i as u64 + 1, "{at}: LSNs are not dense");
    }
}

#[test]
fn a_crash_between_any_two_calls_at_any_byte_keeps_every_synced_record() {
    let seed = seed(0x1095_0001);
    let context = repro("a_crash_between_any_two_calls", seed);
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, recovered) = common::open_writer(shared, &dir, small_segments(160));
    assert!(recovered.is_empty());
    let mut workload = Workload::new(seed, 1, 40);
    let mut written = Vec::new();
    let mut tally = Tally::default();

    // Phase 1: append records, flushing and syncing at random points, and
    // after every step crash a copy of the disk in every possible way.
    for step in 0..40 {
        let record = workload.next_record();
        writer
            .append(record.lsn, record.epoch, &record.payload)
            .expect("append");
        written.push(record);
        match workload.rng().below(3) {
            0 => writer.flush().expect("flush"),
            1 => writer.sync().expect("sync"),
            _ => {}
        }
        let at = format!("{context}: step {step}");
        tally.add(check_every_crash(
            &disk,
            &dir,
            &written,
            writer.synced_lsn(),
            &at,
        ));
    }
    eprintln!("{} crashes, {} torn tails", tally.crashes, tally.torn_tails);
    assert!(tally.crashes > 400, "only {} crashes tried", tally.crashes);
    assert!(
        tally.torn_tails > 100,
        "only {} torn tails",
        tally.torn_tails
    );

    // Phase 2: after a final sync every record survives any crash.
    writer.sync().expect("sync");
    let (_, records) =
        recover_all(&disk.crashed_copy(CrashPlan::cut(0)), &dir, 0).expect("recover");
    assert_eq!(records, written, "{context}");
}

/// Runs a small workload until the disk loses power; returns what was
/// written and the last LSN a sync covered before that.
fn write_until_power_off(disk: &SimDisk, dir: &Path, seed: u64) -> (Vec<Record>, u64, bool) {
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let config = small_segments(120);
    let recovery = match recover_all(disk, dir, 0) {
        Ok((recovery, _)) => recovery,
        Err(_) => return (Vec::new(), 0, true),
    };
    let Ok(mut writer) = LogWriter::open(shared, config, &recovery) else {
        return (Vec::new(), 0, true);
    };
    let mut workload = Workload::new(seed, 1, 30);
    let mut written = Vec::new();
    for i in 0..12 {
        let record = workload.next_record();
        if writer
            .append(record.lsn, record.epoch, &record.payload)
            .is_err()
        {
            return (written, writer.synced_lsn(), true);
        }
        written.push(record);
        let outcome = if i % 3 == 2 {
            writer.sync()
        } else {
            writer.flush()
        };
        if outcome.is_err() {
            return (written, writer.synced_lsn(), true);
        }
    }
    let outcome = writer.sync();
    (written, writer.synced_lsn(), outcome.is_err())
}

#[test]
fn a_power_cut_during_any_disk_change_loses_nothing_that_was_synced() {
    let seed = seed(0x1095_0002);
    let dir = log_dir();
    // One run per disk change: the power goes before change `k`, inside a
    // rotation, a header write, a rename or a directory sync alike.
    let mut cut_points = 0;
    let mut tally = Tally::default();
    for changes_allowed in 0.. {
        let context = format!(
            "{}: power off after {changes_allowed} changes",
            repro("a_power_cut_during_any_disk_change", seed)
        );
        let disk = SimDisk::new();
        disk.power_off_after(changes_allowed);
        let (written, synced_lsn, cut) = write_until_power_off(&disk, &dir, seed);
        if !cut {
            break;
        }
        cut_points += 1;
        tally.add(check_every_crash(
            &disk, &dir, &written, synced_lsn, &context,
        ));
    }
    assert!(cut_points > 30, "the workload should make many changes");
    assert!(
        tally.torn_tails > 10,
        "only {} torn tails",
        tally.torn_tails
    );
    eprintln!(
        "{cut_points} power cuts, {} crashes, {} torn tails",
        tally.crashes, tally.torn_tails
    );
}

#[test]
fn a_crash_before_the_first_segment_is_durable_leaves_an_empty_log() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, _) = common::open_writer(shared, &dir, LogConfig::new(common::FRAGMENT));
    writer.append(1, 1, b"never synced").expect("append");
    writer.flush().expect("flush");

    // Nothing was synced: a crash keeping nothing unsynced finds the
    // (durable, empty) first segment and no record.
    let (recovery, records) =
        recover_all(&disk.crashed_copy(CrashPlan::cut(0)), &dir, 0).expect("recover");
    assert!(records.is_empty());
    assert_eq!(recovery.segments.len(), 1);
    assert_eq!(recovery.next_lsn(), 1);
}
