//! Disk full and I/O errors: nothing is acknowledged that is not on disk,
//! the failure is visible, and once the disk recovers every record is
//! written exactly once, in order, with no torn or doubled record left in
//! the middle of a segment.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{log_dir, recover_all, small_segments, wait_until};
use daisy_log::{
    CrashPlan, Disk, FsyncPolicy, LogError, LogHandle, LogService, Record, ServiceConfig, SimDisk,
};

const WAIT: Duration = Duration::from_secs(30);

fn record(lsn: u64) -> Record {
    Record {
        lsn,
        epoch: 1 + lsn / 10,
        payload: format!("record {lsn:06}").into_bytes(),
    }
}

/// Bytes one record from `record` takes on disk.
const RECORD_BYTES: u64 = 24 + 13;

fn start(disk: &SimDisk, dir: &Path, segment_bytes: u64, close_timeout: Duration) -> LogHandle {
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (writer, _) = common::open_writer(shared, dir, small_segments(segment_bytes));
    let config = ServiceConfig {
        retry_backoff: Duration::from_millis(1),
        close_timeout,
        ..ServiceConfig::new(FsyncPolicy::Always)
    };
    LogService::start_with(writer, config, Box::new(|_| {})).expect("start")
}

fn append_range(handle: &LogHandle, lsns: std::ops::RangeInclusive<u64>) {
    for lsn in lsns {
        let r = record(lsn);
        handle.append(r.lsn, r.epoch, r.payload).expect("append");
    }
}

/// Checks that `disk`, crashed now keeping `cut` unsynced bytes, recovers
/// to a prefix of records 1.. holding at least `durable`.
fn assert_crash_keeps(disk: &SimDisk, dir: &Path, cut: u64, durable: u64) {
    let (_, records) = recover_all(&disk.crashed_copy(CrashPlan::cut(cut)), dir, 0)
        .unwrap_or_else(|e| panic!("crash keeping {cut} unsynced bytes: {e}"));
    let expected: Vec<Record> = (1..=records.len() as u64).map(record).collect();
    assert_eq!(records, expected);
    assert!(records.len() as u64 >= durable);
}

#[test]
fn a_full_disk_holds_acknowledgements_until_space_returns_then_writes_everything_once() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let handle = start(&disk, &dir, 1 << 20, Duration::from_secs(10));

    // Phase 1: ten records go through normally.
    append_range(&handle, 1..=10);
    assert!(handle.wait_durable(10, WAIT));

    // Phase 2: the disk fills 30 bytes into the next write, inside a
    // record. The failure shows in the status, with the file and the
    // error text, and nothing more is acknowledged.
    disk.fail_writes_after(30);
    append_range(&handle, 11..=20);
    assert!(wait_until(WAIT, || handle
        .status()
        .failure
        .is_some_and(|f| f.attempts >= 3)));
    let failure = handle.status().failure.expect("failure");
    assert!(failure.message.contains("No space left"), "{failure:?}");
    assert!(
        failure.message.contains("log-00000000000000000001.seg"),
        "{failure:?}"
    );
    assert_eq!(handle.durable_lsn(), 10);
    assert_eq!(handle.status().appended_lsn, 20);

    // A crash now, whatever it keeps of the partial write, recovers to a
    // clean prefix holding every acknowledged record.
    for cut in 0..=disk.max_unsynced_bytes() {
        assert_crash_keeps(&disk, &dir, cut, 10);
    }

    // Phase 3: space returns; the log catches up on its own.
    disk.clear_faults();
    assert!(handle.wait_durable(20, WAIT));
    assert_eq!(handle.status().failure, None);
    append_range(&handle, 21..=25);
    assert_eq!(handle.close().expect("close"), 25);

    // Every record exactly once, in order; the segment holds exactly their
    // bytes, so nothing torn or doubled hides in the middle.
    assert_crash_keeps(&disk, &dir, 0, 25);
    let segment = dir.join(daisy_log::segment_file_name(1));
    let len = disk.file_bytes(&segment).map(|b| b.len() as u64);
    assert_eq!(len, Some(32 + 25 * RECORD_BYTES));
}

#[test]
fn a_failed_fsync_is_never_trusted_the_records_are_written_again() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let handle = start(&disk, &dir, 1 << 20, Duration::from_secs(10));
    append_range(&handle, 1..=10);
    assert!(handle.wait_durable(10, WAIT));

    // Phase 1: fsync fails. The written pages may be gone (the simulated
    // disk drops them for good), so nothing is acknowledged.
    disk.fail_syncs(true);
    append_range(&handle, 11..=20);
    assert!(wait_until(WAIT, || handle
        .status()
        .failure
        .is_some_and(|f| f.attempts >= 3)));
    assert!(handle
        .status()
        .failure
        .is_some_and(|f| f.message.contains("Input/output error")));
    assert_eq!(handle.durable_lsn(), 10);

    // Phase 2: fsync works again. Acknowledged means durable: a crash
    // keeping nothing unsynced still has all twenty, which only holds if
    // the writer wrote the dropped bytes again before its good fsync.
    disk.clear_faults();
    assert!(handle.wait_durable(20, WAIT));
    assert_crash_keeps(&disk, &dir, 0, 20);
    handle.close().expect("close");
}

#[test]
fn disk_full_at_every_byte_around_a_segment_change_loses_and_doubles_nothing() {
    // Three records per segment, so the sixth record starts a segment.
    let segment_bytes = 32 + 3 * RECORD_BYTES;
    let dir = log_dir();
    for budget in 0..=(32 + 4 * RECORD_BYTES) {
        let context = format!("disk full after {budget} bytes");
        let disk = SimDisk::new();
        let handle = start(&disk, &dir, segment_bytes, Duration::from_secs(10));
        append_range(&handle, 1..=4);
        assert!(handle.wait_durable(4, WAIT), "{context}");

        // The disk fills somewhere in records 5..=12 or a segment header.
        disk.fail_writes_after(budget);
        append_range(&handle, 5..=12);
        assert!(
            wait_until(WAIT, || handle.status().failure.is_some()
                || handle.durable_lsn() == 12),
            "{context}"
        );
        let durable = handle.durable_lsn();
        assert_crash_keeps(&disk, &dir, 0, durable);
        disk.clear_faults();
        assert!(handle.wait_durable(12, WAIT), "{context}");
        assert_eq!(handle.close().expect("close"), 12, "{context}");
        assert_crash_keeps(&disk, &dir, 0, 12);
        let (recovery, _) = recover_all(&disk, &dir, 0).expect("recover");
        assert_eq!(recovery.segments.len(), 4, "{context}");
        assert!(recovery.removed_temp_files.is_empty(), "{context}");
    }
}

#[test]
fn close_gives_up_on_a_dead_disk_and_says_what_is_not_durable() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let handle = start(&disk, &dir, 1 << 20, Duration::from_millis(50));
    append_range(&handle, 1..=3);
    assert!(handle.wait_durable(3, WAIT));
    disk.fail_writes_after(0);
    append_range(&handle, 4..=6);
    match handle.close() {
        Err(LogError::NotDurable {
            durable_lsn: 3,
            appended_lsn: 6,
            last_error,
        }) => assert!(last_error.contains("No space left"), "{last_error}"),
        other => panic!("expected NotDurable, got {other:?}"),
    }
}

#[test]
fn under_everysec_a_failed_fsync_is_retried_and_the_bytes_written_again() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (writer, _) = common::open_writer(shared, &dir, small_segments(1 << 20));
    let config = ServiceConfig {
        retry_backoff: Duration::from_millis(1),
        ..ServiceConfig::new(FsyncPolicy::EverySec)
    };
    let handle = LogService::start_with(writer, config, Box::new(|_| {})).expect("start");

    // Phase 1: records count as durable once written, but the periodic
    // fsync fails and the failure shows.
    disk.fail_syncs(true);
    append_range(&handle, 1..=10);
    assert!(handle.wait_durable(10, WAIT));
    assert!(wait_until(WAIT, || handle.status().failure.is_some()));

    // Phase 2: with fsync back, the log rewrites what the failed fsync may
    // have dropped and syncs it, without new appends to prompt it.
    disk.clear_faults();
    assert!(wait_until(WAIT, || handle.status().failure.is_none()));
    assert!(wait_until(WAIT, || {
        recover_all(&disk.crashed_copy(CrashPlan::cut(0)), &dir, 0)
            .is_ok_and(|(_, records)| records.len() == 10)
    }));
    handle.close().expect("close");
}
