//! The writer on its own: segment sizes, reopening, deleting old segments,
//! and starting over when the snapshot is newer than the whole log.

mod common;

use std::sync::Arc;

use common::{log_dir, recover_all, small_segments};
use daisy_log::{segment_file_name, Disk, LogWriter, SimDisk};

#[test]
fn segments_roll_at_their_size_and_a_big_record_gets_its_own() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, _) = common::open_writer(shared, &dir, small_segments(200));

    // 24 + 50 = 74 bytes a record: two fit after the 32-byte header.
    for lsn in 1..=4 {
        writer.append(lsn, 1, &[1; 50]).expect("append");
    }
    // A record larger than a whole segment still goes in, alone.
    writer.append(5, 1, &[2; 500]).expect("append");
    writer.append(6, 1, &[3; 10]).expect("append");
    writer.sync().expect("sync");

    let names: Vec<_> = [1, 3, 5, 6]
        .iter()
        .map(|lsn| dir.join(segment_file_name(*lsn)))
        .collect();
    assert_eq!(writer.segment_paths(), names);
    for path in &names[..3] {
        let len = disk.file_bytes(path).expect("segment").len() as u64;
        assert!(len <= 200 || path == &names[2], "{path:?} is {len} bytes");
    }
    let (_, records) = recover_all(&disk, &dir, 0).expect("recover");
    assert_eq!(records.len(), 6);
}

#[test]
fn a_reopened_log_continues_where_it_stopped() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, _) = common::open_writer(Arc::clone(&shared), &dir, small_segments(300));
    for lsn in 1..=10 {
        writer.append(lsn, 2, b"first run").expect("append");
    }
    writer.sync().expect("sync");
    drop(writer);

    let (mut writer, records) = common::open_writer(shared, &dir, small_segments(300));
    assert_eq!(records.len(), 10);
    assert_eq!((writer.appended_lsn(), writer.appended_epoch()), (10, 2));
    writer.append(11, 3, b"second run").expect("append");
    writer.sync().expect("sync");
    let (_, records) = recover_all(&disk, &dir, 0).expect("recover");
    let lsns: Vec<u64> = records.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, (1..=11).collect::<Vec<_>>());
}

#[test]
fn remove_through_keeps_every_segment_holding_a_later_record() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    // Two records a segment: 1-2, 3-4, 5-6, 7-8, 9-10.
    let (mut writer, _) = common::open_writer(shared, &dir, small_segments(32 + 2 * 34));
    for lsn in 1..=10 {
        writer.append(lsn, 1, &[0; 10]).expect("append");
    }
    writer.sync().expect("sync");

    // LSN 4 ends the second segment: both go. LSN 5 is in the third.
    assert_eq!(writer.remove_through(5).expect("remove"), 2);
    assert_eq!(writer.segment_paths()[0], dir.join(segment_file_name(5)));
    // The active segment is never deleted, however far the snapshot is.
    assert_eq!(writer.remove_through(100).expect("remove"), 2);
    assert_eq!(writer.segment_paths(), vec![dir.join(segment_file_name(9))]);
    let (_, replayed) = recover_all(&disk, &dir, 8).expect("recover");
    assert_eq!(replayed.len(), 2);
}

#[test]
fn a_snapshot_newer_than_the_whole_log_starts_a_fresh_segment() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, _) = common::open_writer(Arc::clone(&shared), &dir, small_segments(300));
    for lsn in 1..=5 {
        writer.append(lsn, 1, b"old").expect("append");
    }
    writer.sync().expect("sync");
    drop(writer);

    // The snapshot is at LSN 40 (the log's tail after 5 was lost, say):
    // every record in the log is in it, so the log starts over at 41.
    let (recovery, replayed) = recover_all(&disk, &dir, 40).expect("recover");
    assert!(replayed.is_empty());
    assert_eq!(recovery.next_lsn(), 41);
    let mut writer = LogWriter::open(shared, small_segments(300), &recovery).expect("open");
    assert_eq!(
        writer.segment_paths(),
        vec![dir.join(segment_file_name(41))]
    );
    writer.append(41, 1, b"new").expect("append");
    writer.sync().expect("sync");
    assert_eq!(disk.paths(), vec![dir.join(segment_file_name(41))]);
    let (_, replayed) = recover_all(&disk, &dir, 40).expect("recover");
    assert_eq!(replayed.len(), 1);
}

#[test]
#[should_panic(expected = "log LSNs must be dense")]
fn the_writer_refuses_a_gap_in_lsns() {
    let disk = SimDisk::new();
    let shared: Arc<dyn Disk> = Arc::new(disk);
    let (mut writer, _) = common::open_writer(shared, &log_dir(), small_segments(300));
    let _ = writer.append(2, 1, b"skips LSN 1");
}

#[test]
fn after_a_crash_in_place_the_old_writer_fails_and_recovery_takes_over() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, _) = common::open_writer(Arc::clone(&shared), &dir, small_segments(300));
    writer.append(1, 1, b"synced").expect("append");
    writer.sync().expect("sync");
    writer.append(2, 1, b"written, not synced").expect("append");
    writer.flush().expect("flush");

    // The machine goes down keeping none of the unsynced bytes; the
    // process that held the writer is gone with it.
    disk.crash(daisy_log::CrashPlan::cut(0));
    writer.append(3, 1, b"too late").expect("only buffered");
    assert!(
        writer.sync().is_err(),
        "a handle from before the crash is stale"
    );

    let (mut writer, records) = common::open_writer(shared, &dir, small_segments(300));
    assert_eq!(records.len(), 1);
    writer.append(2, 1, b"again").expect("append");
    writer.sync().expect("sync");
    let (_, records) = recover_all(&disk, &dir, 0).expect("recover");
    assert_eq!(records[1].payload, b"again");
}
