//! The group-commit service: appends never block, `durable_lsn` only
//! grows and never claims a record a crash would lose, every policy writes
//! everything in order, and a full queue is an error value.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{log_dir, recover_all, repro, seed, small_segments, wait_until, Rng, Workload};
use daisy_log::{
    AppendError, CrashPlan, Disk, FsyncPolicy, LogHandle, LogService, Record, ServiceConfig,
    SimDisk,
};

const WAIT: Duration = Duration::from_secs(30);

fn start(disk: &SimDisk, dir: &Path, config: ServiceConfig, segment_bytes: u64) -> LogHandle {
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (writer, _) = common::open_writer(shared, dir, small_segments(segment_bytes));
    LogService::start_with(writer, config, Box::new(|_| {})).expect("start")
}

/// Appends `record`, retrying while the queue is full, for at most `WAIT`.
fn append_patiently(handle: &LogHandle, record: &Record) {
    let deadline = Instant::now() + WAIT;
    loop {
        match handle.append(record.lsn, record.epoch, record.payload.clone()) {
            Ok(()) => return,
            Err(AppendError::Backpressure { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("append of LSN {} failed: {e}", record.lsn),
        }
    }
}

#[test]
fn durable_lsn_never_runs_ahead_of_what_a_crash_would_keep() {
    durable_lsn_never_runs_ahead(Duration::ZERO, "durable_lsn_never_runs_ahead");
}

/// The same with a group-commit window: waiting for a burst must not
/// acknowledge anything early, nor hold anything back for good.
#[test]
fn a_group_commit_window_neither_acknowledges_early_nor_holds_back() {
    durable_lsn_never_runs_ahead(Duration::from_micros(500), "a_group_commit_window");
}

fn durable_lsn_never_runs_ahead(window: Duration, test_name: &str) {
    let seed = seed(0x1095_0003);
    let context = repro(test_name, seed);
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (writer, _) = common::open_writer(shared, &dir, small_segments(2048));

    // Every time the log thread reports a new durable LSN, crash a copy of
    // the disk keeping nothing unsynced: the LSN must be in it.
    let reported = Arc::new(Mutex::new(Vec::<u64>::new()));
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let on_durable = {
        let (disk, dir) = (disk.clone(), dir.clone());
        let (reported, violations) = (Arc::clone(&reported), Arc::clone(&violations));
        Box::new(move |lsn: u64| {
            let crashed = disk.crashed_copy(CrashPlan::cut(0));
            let found = recover_all(&crashed, &dir, 0).map(|(_, records)| records.len() as u64);
            if found.as_ref().map_or(true, |found| *found < lsn) {
                let mut violations = violations.lock().expect("lock");
                violations.push(format!("durable {lsn} but a crash keeps {found:?}"));
            }
            reported.lock().expect("lock").push(lsn);
        })
    };
    let mut config = ServiceConfig::new(FsyncPolicy::Always);
    config.group_commit_window = window;
    let handle = LogService::start_with(writer, config, on_durable).expect("start");

    // Phase 1: a producer appends while the main thread watches
    // durable_lsn and crashes copies of the disk at random cut points.
    let mut workload = Workload::new(seed, 1, 100);
    let written: Vec<Record> = (0..600).map(|_| workload.next_record()).collect();
    let producer_done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for record in &written {
                append_patiently(&handle, record);
            }
            producer_done.store(true, Ordering::Release);
        });
        let mut rng = Rng::new(seed);
        let mut last_seen = 0;
        let deadline = Instant::now() + WAIT;
        while !producer_done.load(Ordering::Acquire) || last_seen < 600 {
            assert!(Instant::now() < deadline, "{context}: timed out");
            let durable = handle.durable_lsn();
            assert!(durable >= last_seen, "{context}: durable_lsn went back");
            assert!(durable <= handle.status().appended_lsn, "{context}");
            last_seen = durable;
            let cut = rng.below(disk.max_unsynced_bytes() + 1);
            let crashed = disk.crashed_copy(CrashPlan::cut(cut));
            let (_, records) = recover_all(&crashed, &dir, 0).expect("recover a crashed copy");
            assert!(
                records.len() as u64 >= durable,
                "{context}: lost LSN {durable}"
            );
            common::assert_prefix(&records, &written, &context);
        }
    });

    // Phase 2: close, and everything is there exactly once, in order.
    assert_eq!(handle.close().expect("close"), 600);
    let violations = violations.lock().expect("lock");
    assert!(violations.is_empty(), "{context}: {violations:?}");
    let reported = reported.lock().expect("lock");
    assert!(
        reported.windows(2).all(|w| w[0] < w[1]),
        "{context}: {reported:?}"
    );
    assert_eq!(reported.last(), Some(&600));
    assert!(
        reported.len() < 600,
        "{context}: expected batches to share fsyncs"
    );
    let (_, records) =
        recover_all(&disk.crashed_copy(CrashPlan::cut(0)), &dir, 0).expect("recover");
    assert_eq!(records, written, "{context}");
}

#[test]
fn every_policy_writes_everything_in_order_and_close_makes_it_durable() {
    for policy in [FsyncPolicy::Always, FsyncPolicy::EverySec, FsyncPolicy::No] {
        let disk = SimDisk::new();
        let dir = log_dir();
        let handle = start(&disk, &dir, ServiceConfig::new(policy), 1024);
        let mut workload = Workload::new(11, 1, 64);
        let written: Vec<Record> = (0..200).map(|_| workload.next_record()).collect();
        for record in &written {
            append_patiently(&handle, record);
        }
        // Under EverySec and No, durable means written, not yet synced.
        assert!(handle.wait_durable(200, WAIT), "{policy:?}");
        assert_eq!(handle.close().expect("close"), 200, "{policy:?}");
        let crashed = disk.crashed_copy(CrashPlan::cut(0));
        let (_, records) = recover_all(&crashed, &dir, 0).expect("recover");
        assert_eq!(
            records, written,
            "{policy:?}: close syncs whatever the policy"
        );
    }
}

#[test]
fn everysec_fsyncs_written_records_within_about_a_second() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let handle = start(
        &disk,
        &dir,
        ServiceConfig::new(FsyncPolicy::EverySec),
        1 << 20,
    );
    for lsn in 1..=10 {
        handle.append(lsn, 1, vec![lsn as u8; 10]).expect("append");
    }
    assert!(handle.wait_durable(10, WAIT));
    let synced = wait_until(Duration::from_secs(5), || {
        let crashed = disk.crashed_copy(CrashPlan::cut(0));
        recover_all(&crashed, &dir, 0).is_ok_and(|(_, records)| records.len() == 10)
    });
    assert!(synced, "no fsync within 5 s under EverySec");
    handle.close().expect("close");
}

#[test]
fn a_full_queue_is_backpressure_not_a_blocked_executor() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let config = ServiceConfig {
        queued_bytes_max: 1_000,
        retry_backoff: Duration::from_millis(1),
        ..ServiceConfig::new(FsyncPolicy::Always)
    };
    let handle = start(&disk, &dir, config, 1 << 20);

    // Phase 1: the disk takes nothing, so the queue fills and append says
    // so at once instead of waiting.
    disk.fail_writes_after(0);
    let mut lsn = 0;
    let refused = loop {
        match handle.append(lsn + 1, 1, vec![7; 100]) {
            Ok(()) => lsn += 1,
            Err(e) => break e,
        }
        assert!(lsn < 100, "the queue never filled");
    };
    assert_eq!(
        refused,
        AppendError::Backpressure {
            queued_bytes: lsn * 124,
            limit: 1_000
        }
    );
    assert_eq!(lsn, 8, "eight records of 124 bytes fit under 1000");
    assert!(wait_until(WAIT, || handle.status().failure.is_some()));
    assert_eq!(handle.durable_lsn(), 0);

    // Phase 2: space returns; the queue drains and the same record goes in.
    disk.clear_faults();
    assert!(handle.wait_durable(lsn, WAIT));
    assert_eq!(handle.status().queued_bytes, 0);
    handle.append(lsn + 1, 1, vec![7; 100]).expect("room again");
    assert!(handle.wait_durable(lsn + 1, WAIT));
    assert_eq!(handle.status().failure, None);
    handle.close().expect("close");
}

#[test]
fn remove_through_deletes_old_segments_on_the_log_thread() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let handle = start(&disk, &dir, ServiceConfig::new(FsyncPolicy::Always), 200);
    for lsn in 1..=50 {
        handle.append(lsn, 1, vec![0; 40]).expect("append");
    }
    assert!(handle.wait_durable(50, WAIT));
    let before = disk.paths().len();

    // A snapshot at LSN 30 makes the segments of records before it
    // unnecessary; the segment holding 31 and everything after stays.
    handle.remove_through(30);
    assert!(wait_until(WAIT, || disk.paths().len() < before));
    let (recovery, replayed) = recover_all(&disk, &dir, 30).expect("recover");
    assert_eq!(replayed.first().map(|r| r.lsn), Some(31));
    assert_eq!(replayed.len(), 20);
    assert!(recovery.first_record.is_some_and(|(lsn, _)| lsn <= 31));
    assert_eq!(handle.status().remove_error, None);
    handle.close().expect("close");
}

#[test]
fn dropping_the_handle_still_flushes() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let handle = start(&disk, &dir, ServiceConfig::new(FsyncPolicy::No), 1 << 20);
    for lsn in 1..=5 {
        handle.append(lsn, 1, b"x".to_vec()).expect("append");
    }
    drop(handle);
    let (_, records) =
        recover_all(&disk.crashed_copy(CrashPlan::cut(0)), &dir, 0).expect("recover");
    assert_eq!(records.len(), 5);
}

#[test]
#[should_panic(expected = "log append out of order")]
fn an_lsn_out_of_order_is_a_bug_and_panics() {
    let disk = SimDisk::new();
    let handle = start(
        &disk,
        &log_dir(),
        ServiceConfig::new(FsyncPolicy::Always),
        1 << 20,
    );
    handle.append(1, 1, Vec::new()).expect("append");
    let _ = handle.append(3, 1, Vec::new());
}

#[test]
#[should_panic(expected = "log append out of order")]
fn an_epoch_going_down_is_a_bug_and_panics() {
    let disk = SimDisk::new();
    let handle = start(
        &disk,
        &log_dir(),
        ServiceConfig::new(FsyncPolicy::Always),
        1 << 20,
    );
    handle.append(1, 5, Vec::new()).expect("append");
    let _ = handle.append(2, 4, Vec::new());
}

/// With `wake_on_append = false` the executor decides when a round of
/// work is complete. A commit that finds nothing queued must not leave the
/// thread asleep when the next records and commit come (it would wait for
/// its idle timeout instead).
#[test]
fn executor_commits_are_never_lost() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let mut config = ServiceConfig::new(FsyncPolicy::Always);
    config.wake_on_append = false;
    let handle = start(&disk, &dir, config, 1 << 20);
    let mut workload = Workload::new(seed(0x1095_0004), 1, 50);
    for round in 0..20 {
        // A commit with an empty queue, then records, then a commit.
        handle.commit();
        std::thread::sleep(Duration::from_millis(2));
        let mut last = 0;
        for _ in 0..3 {
            let record = workload.next_record();
            last = record.lsn;
            append_patiently(&handle, &record);
        }
        assert_eq!(
            handle.durable_lsn(),
            last - 3,
            "round {round}: synced before the commit"
        );
        handle.commit();
        assert!(
            handle.wait_durable(last, Duration::from_millis(250)),
            "round {round}: a commit was lost (durable {}, wanted {last})",
            handle.durable_lsn()
        );
    }
    handle.close().expect("close");
}
