//! The log on the real file system: the same story as on the simulated
//! disk, end to end, in a temporary directory.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use common::{recover_all, small_segments, TempDir, Workload};
use daisy_log::{check, Disk, FsyncPolicy, LogService, LogWriter, RealDisk, Record};

#[test]
fn the_log_round_trips_through_real_files() {
    let temp = TempDir::new();
    let dir = temp.0.join("log");
    let disk: Arc<dyn Disk> = Arc::new(RealDisk::new());

    // Phase 1: a fresh log (the directory does not exist yet) takes 300
    // records through the group-commit thread.
    let (writer, recovered) = common::open_writer(Arc::clone(&disk), &dir, small_segments(4096));
    assert!(recovered.is_empty());
    let handle = LogService::start(writer, FsyncPolicy::Always, Box::new(|_| {})).expect("start");
    let mut workload = Workload::new(5, 1, 200);
    let written: Vec<Record> = (0..300).map(|_| workload.next_record()).collect();
    for r in &written {
        handle
            .append(r.lsn, r.epoch, r.payload.clone())
            .expect("append");
    }
    assert!(handle.wait_durable(300, Duration::from_secs(30)));
    assert_eq!(handle.close().expect("close"), 300);

    // Phase 2: check and recovery read back exactly what was written.
    let report = check(disk.as_ref(), &dir);
    assert!(report.is_healthy(), "{report}");
    assert!(report.segments.len() > 1, "{report}");
    assert_eq!(report.records, 300);
    let (_, records) = recover_all(disk.as_ref(), &dir, 0).expect("recover");
    assert_eq!(records, written);

    // Phase 3: a torn write at the end (half a record) is cut, and the log
    // goes on after the last whole record.
    let last = report.segments.last().expect("segments").path.clone();
    let mut file = OpenOptions::new().append(true).open(&last).expect("open");
    file.write_all(&[5, 0, 0, 0, 1, 2, 3]).expect("write");
    drop(file);
    let (recovery, records) = recover_all(disk.as_ref(), &dir, 0).expect("recover");
    assert_eq!(records.len(), 300);
    assert_eq!(recovery.torn_tail.as_ref().map(|t| t.bytes), Some(7));
    let mut writer =
        LogWriter::open(Arc::clone(&disk), small_segments(4096), &recovery).expect("open writer");
    let epoch = recovery.last_epoch();
    writer
        .append(301, epoch, b"after the tear")
        .expect("append");
    writer.sync().expect("sync");
    let (_, records) = recover_all(disk.as_ref(), &dir, 0).expect("recover");
    assert_eq!(records.len(), 301);
    assert_eq!(records[300].payload, b"after the tear");
}
