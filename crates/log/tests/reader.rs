//! Reading a live log: from any retained LSN, in bounded batches, following
//! the writer across segments while it appends, and while old segments are
//! deleted under the reader. Replication streams a secondary's missing
//! records this way, and reads a divergent suffix back before cutting it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{log_dir, repro, seed, small_segments, wait_until, Rng, TempDir, Workload, FRAGMENT};
use daisy_log::{
    segment_file_name, AppendError, Disk, FsyncPolicy, LogConfig, LogHandle, LogReader, LogService,
    LogWriter, Problem, ReadError, RealDisk, Record, SimDisk, READER_SEGMENTS_OPEN_MAX,
    RECORD_HEADER_BYTES, SEGMENT_BYTES_MIN, SEGMENT_HEADER_BYTES,
};

const WAIT: Duration = Duration::from_secs(30);
/// More calls than any test needs to drain a log: a reader that has not
/// finished by then is stuck.
const READ_CALLS_MAX: usize = 100_000;

/// Bytes a record takes on disk, which is what a batch's budget counts.
fn record_bytes(record: &Record) -> usize {
    RECORD_HEADER_BYTES + record.payload.len()
}

/// Checks one batch against the contract of `read`: dense from the
/// reader's position, nothing past `up_to_lsn`, within `max_bytes` unless
/// it is a single record, and each record as it was written.
fn check_batch(
    batch: &[Record],
    first_lsn: u64,
    up_to_lsn: u64,
    max_bytes: usize,
    written: &[Record],
    context: &str,
) {
    for (index, record) in batch.iter().enumerate() {
        assert_eq!(
            record.lsn,
            first_lsn + index as u64,
            "{context}: records out of order"
        );
        assert!(
            record.lsn <= up_to_lsn,
            "{context}: LSN {} past the bound {up_to_lsn}",
            record.lsn
        );
        assert_eq!(
            Some(record),
            written.get(record.lsn as usize - 1),
            "{context}: record differs from what was written"
        );
    }
    if batch.len() > 1 {
        let bytes: usize = batch.iter().map(record_bytes).sum();
        assert!(
            bytes <= max_bytes,
            "{context}: {} records of {bytes} bytes in a batch of at most {max_bytes}",
            batch.len()
        );
    }
}

/// Reads batches of `max_bytes` until the reader has nothing more up to
/// `up_to_lsn`; returns the records read and how it stopped.
fn drain(
    reader: &mut LogReader,
    up_to_lsn: u64,
    max_bytes: usize,
    written: &[Record],
) -> (Vec<Record>, Result<(), ReadError>) {
    let mut records = Vec::new();
    for _ in 0..READ_CALLS_MAX {
        let first_lsn = reader.next_lsn();
        match reader.read(up_to_lsn, max_bytes) {
            Ok(batch) if batch.is_empty() => return (records, Ok(())),
            Ok(batch) => {
                check_batch(&batch, first_lsn, up_to_lsn, max_bytes, written, "drain");
                assert_eq!(reader.next_lsn(), first_lsn + batch.len() as u64);
                records.extend(batch);
            }
            Err(e) => return (records, Err(e)),
        }
    }
    panic!("reader still returning records after {READ_CALLS_MAX} calls");
}

/// Records 1..=count from a seeded workload, payloads up to 100 bytes;
/// a longer run starts with the same records.
fn workload_records(count: u64) -> Vec<Record> {
    let mut workload = Workload::new(0x4ead, 1, 100);
    (0..count).map(|_| workload.next_record()).collect()
}

/// A log of the first `count` workload records, written and synced in
/// segments of `segment_bytes`.
fn write_log(
    disk: Arc<dyn Disk>,
    dir: &Path,
    segment_bytes: u64,
    count: u64,
) -> (LogWriter, Vec<Record>) {
    let (mut writer, _) = common::open_writer(disk, dir, small_segments(segment_bytes));
    let records = workload_records(count);
    append_all(&mut writer, &records);
    writer.sync().expect("sync");
    (writer, records)
}

fn append_all(writer: &mut LogWriter, records: &[Record]) {
    for r in records {
        writer.append(r.lsn, r.epoch, &r.payload).expect("append");
    }
}

fn open(disk: &SimDisk, dir: &Path, from_lsn: u64) -> LogReader {
    LogReader::open(Arc::new(disk.clone()), dir, from_lsn).expect("open reader")
}

fn sim(disk: &SimDisk) -> Arc<dyn Disk> {
    Arc::new(disk.clone())
}

/// Records of a fixed size, so that offsets in a segment are known.
const FIXED_PAYLOAD_BYTES: usize = 20;
const FIXED_RECORD_BYTES: u64 = (RECORD_HEADER_BYTES + FIXED_PAYLOAD_BYTES) as u64;
/// Exactly three fixed records fit in a segment.
const FIXED_SEGMENT_BYTES: u64 = SEGMENT_HEADER_BYTES as u64 + 3 * FIXED_RECORD_BYTES;

fn fixed_record(lsn: u64) -> Record {
    let mut payload = format!("payload of {lsn:09}").into_bytes();
    payload.resize(FIXED_PAYLOAD_BYTES, b'.');
    Record {
        lsn,
        epoch: lsn / 5 + 1,
        payload,
    }
}

/// Records 1..=20, synced, in seven segments of three (the last holds two).
fn fixed_log(disk: &SimDisk, dir: &Path) -> (Vec<Record>, Vec<PathBuf>) {
    let (mut writer, _) = common::open_writer(sim(disk), dir, small_segments(FIXED_SEGMENT_BYTES));
    let records: Vec<Record> = (1..=20).map(fixed_record).collect();
    append_all(&mut writer, &records);
    writer.sync().expect("sync");
    let segments = writer.segment_paths();
    assert_eq!(segments.len(), 7);
    (records, segments)
}

/// Offset of the `index`-th record of a segment of `fixed_log`.
fn fixed_offset(index: u64) -> u64 {
    SEGMENT_HEADER_BYTES as u64 + index * FIXED_RECORD_BYTES
}

fn flip_byte(disk: &SimDisk, path: &Path, offset: u64) {
    let mut bytes = disk.file_bytes(path).expect("file exists");
    bytes[offset as usize] ^= 0x40;
    disk.put_file(path, bytes);
}

#[test]
fn reads_every_record_from_lsn_1_across_segments_in_bounded_batches() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (writer, written) = write_log(sim(&disk), &dir, 1024, 200);
    assert!(writer.segment_paths().len() > 5);

    let mut reader = open(&disk, &dir, 1);
    assert_eq!(reader.next_lsn(), 1);
    let (records, outcome) = drain(&mut reader, 200, 500, &written);
    outcome.expect("read");
    assert_eq!(records, written);
    assert_eq!(reader.next_lsn(), 201);

    // A budget smaller than any record still makes progress, one record a
    // call; a large one takes everything in one call.
    let mut reader = open(&disk, &dir, 1);
    let batch = reader.read(200, 0).expect("read");
    assert_eq!(batch.len(), 1);
    let mut reader = open(&disk, &dir, 1);
    assert_eq!(reader.read(200, usize::MAX).expect("read"), written);
}

#[test]
fn reads_from_the_middle_of_a_segment_and_from_a_segment_start() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, _) = fixed_log(&disk, &dir);

    // 2 and 5 are inside a segment, 4 and 19 start one, 20 is the last
    // record, 21 the one after it.
    for from_lsn in [2, 4, 5, 19, 20, 21] {
        let mut reader = open(&disk, &dir, from_lsn);
        assert_eq!(reader.next_lsn(), from_lsn);
        let (records, outcome) = drain(&mut reader, 20, 100, &written);
        outcome.expect("read");
        assert_eq!(
            records,
            written[from_lsn as usize - 1..],
            "reading from LSN {from_lsn}"
        );
        assert_eq!(reader.next_lsn(), 21);
    }
}

#[test]
fn nothing_past_the_bound_is_returned() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, _) = fixed_log(&disk, &dir);

    // The tail A..=B of the log, as when a divergent suffix is saved.
    let mut reader = open(&disk, &dir, 8);
    let (records, outcome) = drain(&mut reader, 13, 1 << 20, &written);
    outcome.expect("read");
    assert_eq!(records, written[7..13]);
    assert_eq!(reader.next_lsn(), 14);

    // A bound below the position reads nothing and is no error.
    assert!(reader.read(5, 1 << 20).expect("read").is_empty());
    assert_eq!(reader.next_lsn(), 14);
}

#[test]
fn from_the_end_nothing_is_read_until_records_arrive() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (mut writer, _) = write_log(sim(&disk), &dir, 1024, 50);
    let written = workload_records(110);

    // Phase 1: the reader waits at the end of the log.
    let mut reader = open(&disk, &dir, 51);
    assert!(reader.read(u64::MAX, 1 << 20).expect("read").is_empty());
    assert_eq!(reader.next_lsn(), 51);

    // Phase 2: new records, written but not yet synced, are readable once
    // the caller's bound covers them, and not before.
    append_all(&mut writer, &written[50..]);
    assert!(reader.read(50, 1 << 20).expect("read").is_empty());
    writer.flush().expect("flush");
    let (records, outcome) = drain(&mut reader, 80, 300, &written);
    outcome.expect("read");
    assert_eq!(records, written[50..80]);
    let (records, outcome) = drain(&mut reader, 110, 300, &written);
    outcome.expect("read");
    assert_eq!(records, written[80..110]);
}

#[test]
fn a_directory_without_a_log_is_an_io_error_not_a_retention_limit() {
    // No segment says where the log starts, so the reader cannot tell the
    // caller to send a snapshot from there: it reports what it found.
    let disk = SimDisk::new();
    match LogReader::open(sim(&disk), &log_dir(), 1) {
        Err(ReadError::Io { path, source, .. }) => {
            assert_eq!(path, log_dir());
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        Err(e) => panic!("expected an I/O error, got {e}"),
        Ok(_) => panic!("opened a reader on no log"),
    }
}

#[test]
fn a_reader_at_the_end_of_a_segment_follows_the_writer_into_the_next() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (mut writer, _) =
        common::open_writer(sim(&disk), &dir, small_segments(FIXED_SEGMENT_BYTES));
    let records: Vec<Record> = (1..=12).map(fixed_record).collect();
    let mut reader = open(&disk, &dir, 1);

    // One record at a time: the reader drains the active segment, the
    // writer rotates, and the reader must find the new segment itself.
    for record in &records {
        append_all(&mut writer, std::slice::from_ref(record));
        writer.flush().expect("flush");
        let batch = reader.read(record.lsn, 1 << 20).expect("read");
        assert_eq!(
            batch,
            std::slice::from_ref(record),
            "after appending LSN {}",
            record.lsn
        );
    }
    assert_eq!(writer.segment_paths().len(), 4);
}

#[test]
fn a_segment_deleted_after_open_is_still_read_on_the_simulated_disk() {
    let disk = SimDisk::new();
    segment_deleted_after_open_is_still_read(sim(&disk), &log_dir());
}

#[test]
fn a_segment_deleted_after_open_is_still_read_on_the_real_disk() {
    let temp = TempDir::new();
    segment_deleted_after_open_is_still_read(Arc::new(RealDisk::new()), &temp.0.join("log"));
}

fn segment_deleted_after_open_is_still_read(disk: Arc<dyn Disk>, dir: &Path) {
    let (mut writer, written) = write_log(Arc::clone(&disk), dir, 1024, 200);
    let mut reader = LogReader::open(Arc::clone(&disk), dir, 1).expect("open");
    let first = reader.read(200, 200).expect("read");
    assert!(!first.is_empty());

    // A snapshot at LSN 150 deletes the segments the reader is in and
    // about to read: it opened them, so it reads them to the end.
    let removed = writer.remove_through(150).expect("remove");
    assert!(removed > 3, "removed {removed} segments");
    let (rest, outcome) = drain(&mut reader, 200, 1000, &written);
    outcome.expect("read");
    assert_eq!([first, rest].concat(), written);

    // A new reader cannot start before the log's first segment now.
    let first_path = writer.segment_paths()[0].clone();
    let first_lsn = match LogReader::open(Arc::clone(&disk), dir, 1) {
        Err(ReadError::NotRetained {
            wanted_lsn,
            first_lsn,
        }) => {
            assert_eq!(wanted_lsn, 1);
            first_lsn
        }
        Err(e) => panic!("expected NotRetained, got {e}"),
        Ok(_) => panic!("opened a reader at a deleted LSN"),
    };
    assert_eq!(first_path, dir.join(segment_file_name(first_lsn)));
    assert!((2..=151).contains(&first_lsn), "first LSN {first_lsn}");
    let message = LogReader::open(Arc::clone(&disk), dir, first_lsn - 1)
        .err()
        .expect("not retained")
        .to_string();
    assert!(message.contains(&format!("LSN {first_lsn}")), "{message}");

    // From the first retained LSN on, everything is there.
    let mut reader = LogReader::open(disk, dir, first_lsn).expect("open");
    let (records, outcome) = drain(&mut reader, 200, 1000, &written);
    outcome.expect("read");
    assert_eq!(records, written[first_lsn as usize - 1..]);
}

#[test]
fn a_needed_segment_deleted_before_the_reader_opened_it_is_not_retained() {
    let disk = SimDisk::new();
    let dir = log_dir();
    // One record a segment (a record larger than the segment size gets
    // one of its own), more segments than a reader holds open.
    let count = READER_SEGMENTS_OPEN_MAX as u64 * 3;
    let (mut writer, _) = common::open_writer(sim(&disk), &dir, small_segments(SEGMENT_BYTES_MIN));
    let written: Vec<Record> = (1..=count).map(fixed_record).collect();
    append_all(&mut writer, &written);
    writer.sync().expect("sync");
    assert_eq!(writer.segment_paths().len() as u64, count);

    // The reader holds the first segments open; the snapshot deletes
    // those and the ones after, up to LSN count - 10.
    let mut reader = open(&disk, &dir, 1);
    writer.remove_through(count - 10).expect("remove");
    let (records, outcome) = drain(&mut reader, count, 1 << 20, &written);
    assert!(
        records.len() >= READER_SEGMENTS_OPEN_MAX,
        "read {}",
        records.len()
    );
    match outcome {
        Err(ReadError::NotRetained {
            wanted_lsn,
            first_lsn,
        }) => {
            assert_eq!(wanted_lsn, records.len() as u64 + 1);
            assert_eq!(first_lsn, count - 9);
        }
        other => panic!("expected NotRetained, got {other:?}"),
    }
    // The reader stays where it was, and says the same again.
    assert_eq!(reader.next_lsn(), records.len() as u64 + 1);
    assert!(matches!(
        reader.read(count, 1 << 20),
        Err(ReadError::NotRetained { .. })
    ));
}

#[test]
fn a_partly_written_record_is_not_returned_until_it_is_whole() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (mut writer, written) = write_log(sim(&disk), &dir, 1 << 20, 10);
    let mut reader = open(&disk, &dir, 1);
    let (records, outcome) = drain(&mut reader, u64::MAX, 1 << 20, &written);
    outcome.expect("read");
    assert_eq!(records, written);

    // The disk fills in the middle of record 11: 30 of its 124 bytes are
    // in the file. Even asked for everything, the reader returns nothing.
    let active = writer.segment_paths()[0].clone();
    let len_before = disk.file_bytes(&active).expect("segment").len();
    disk.fail_writes_after(30);
    let epoch = writer.appended_epoch();
    writer.append(11, epoch, &[11; 100]).expect("append");
    assert!(writer.flush().is_err());
    assert_eq!(
        disk.file_bytes(&active).expect("segment").len(),
        len_before + 30
    );
    assert!(reader.read(u64::MAX, 1 << 20).expect("read").is_empty());
    assert!(reader.read(11, 1 << 20).expect("read").is_empty());
    assert_eq!(reader.next_lsn(), 11);

    // Space returns: the writer cuts the partial bytes and writes the
    // record again, whole, and the reader returns it once.
    disk.clear_faults();
    writer.flush().expect("flush");
    let batch = reader.read(11, 1 << 20).expect("read");
    assert_eq!(batch.len(), 1);
    assert_eq!(
        (batch[0].lsn, batch[0].payload.as_slice()),
        (11, &[11u8; 100][..])
    );
    assert!(reader.read(u64::MAX, 1 << 20).expect("read").is_empty());
}

#[test]
fn records_cut_for_a_rewrite_after_a_failed_fsync_are_waited_for_not_called_damage() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (mut writer, _) = write_log(sim(&disk), &dir, 1 << 20, 10);
    let written = workload_records(21);
    append_all(&mut writer, &written[10..20]);
    writer.flush().expect("flush");

    // Under fsync = everysec or no, records 11..=20 count as durable once
    // written, and the reader reads them.
    let mut reader = open(&disk, &dir, 1);
    let (records, outcome) = drain(&mut reader, 20, 1 << 20, &written);
    outcome.expect("read");
    assert_eq!(records, written[..20]);

    // The fsync fails; the writer cuts the file back to the last good
    // sync to write 11..=20 again, and the disk is full meanwhile.
    disk.fail_syncs(true);
    assert!(writer.sync().is_err());
    disk.fail_syncs(false);
    disk.fail_writes_after(0);
    assert!(writer.flush().is_err());

    // A reader that needs them now finds the file short: that is a write
    // in progress, not damage. The reader past them sees nothing new.
    let mut late = open(&disk, &dir, 11);
    assert!(late.read(20, 1 << 20).expect("read").is_empty());
    assert!(reader.read(20, 1 << 20).expect("read").is_empty());

    // The rewrite lands; both carry on.
    disk.clear_faults();
    writer.sync().expect("sync");
    let (records, outcome) = drain(&mut late, 20, 1 << 20, &written);
    outcome.expect("read");
    assert_eq!(records, written[10..20]);
    append_all(&mut writer, &written[20..]);
    writer.flush().expect("flush");
    assert_eq!(reader.read(21, 1 << 20).expect("read"), written[20..]);
}

#[test]
fn a_damaged_record_within_the_bound_is_corruption_naming_file_and_offset() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = fixed_log(&disk, &dir);

    // Damage the payload of the second record of the third segment (LSN 8).
    flip_byte(&disk, &segments[2], fixed_offset(1) + 24 + 5);
    let mut reader = open(&disk, &dir, 1);
    let (records, outcome) = drain(&mut reader, 20, 1 << 20, &written);
    assert_eq!(records, written[..7]);
    let corruption = match outcome {
        Err(ReadError::Corrupt(corruption)) => corruption,
        other => panic!("expected corruption, got {other:?}"),
    };
    assert_eq!(corruption.file, segments[2]);
    assert_eq!(corruption.offset, fixed_offset(1));
    assert!(matches!(corruption.problem, Problem::BadChecksum { .. }));
    let message = ReadError::Corrupt(corruption).to_string();
    assert!(
        message.contains("log-00000000000000000007.seg"),
        "{message}"
    );
    assert!(
        message.contains(&format!("at byte {}", fixed_offset(1))),
        "{message}"
    );
    // The reader does not skip the damage.
    assert_eq!(reader.next_lsn(), 8);
    assert!(matches!(
        reader.read(20, 1 << 20),
        Err(ReadError::Corrupt(_))
    ));

    // A reader starting in a later segment never meets the damage; one
    // starting after it in the same segment checks the records it skips.
    let mut reader = open(&disk, &dir, 10);
    let (records, outcome) = drain(&mut reader, 20, 1 << 20, &written);
    outcome.expect("read");
    assert_eq!(records, written[9..]);
    let mut reader = open(&disk, &dir, 9);
    assert!(matches!(
        reader.read(20, 1 << 20),
        Err(ReadError::Corrupt(_))
    ));
}

#[test]
fn damage_past_the_bound_is_not_looked_at_yet() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = fixed_log(&disk, &dir);

    // The last record (LSN 20) is damaged: reading up to 19 is fine.
    flip_byte(&disk, &segments[6], fixed_offset(1) + 10);
    let mut reader = open(&disk, &dir, 1);
    let (records, outcome) = drain(&mut reader, 19, 1 << 20, &written);
    outcome.expect("read");
    assert_eq!(records, written[..19]);
    match reader.read(20, 1 << 20) {
        Err(ReadError::Corrupt(corruption)) => {
            assert_eq!(
                (corruption.file, corruption.offset),
                (segments[6].clone(), fixed_offset(1))
            );
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_complete_segment_that_ends_inside_a_record_is_corruption() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = fixed_log(&disk, &dir);

    // The second segment loses the last 10 bytes of record 6. A later
    // segment exists, so no writer is still appending there.
    let mut bytes = disk.file_bytes(&segments[1]).expect("segment");
    bytes.truncate(bytes.len() - 10);
    disk.put_file(&segments[1], bytes);
    let mut reader = open(&disk, &dir, 1);
    let (records, outcome) = drain(&mut reader, 20, 1 << 20, &written);
    assert_eq!(records, written[..5]);
    match outcome {
        Err(ReadError::Corrupt(corruption)) => {
            assert_eq!(
                (corruption.file, corruption.offset),
                (segments[1].clone(), fixed_offset(2))
            );
            assert!(matches!(
                corruption.problem,
                Problem::IncompleteRecord { .. }
            ));
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn a_missing_middle_segment_is_a_gap_not_a_retention_limit() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = fixed_log(&disk, &dir);

    // Records 10..=12 vanish with their segment while the ones before stay.
    disk.delete_file(&segments[3]);
    let mut reader = open(&disk, &dir, 1);
    let (records, outcome) = drain(&mut reader, 20, 1 << 20, &written);
    assert_eq!(records, written[..9]);
    match outcome {
        Err(ReadError::Corrupt(corruption)) => {
            assert_eq!(corruption.file, segments[4]);
            assert_eq!(
                corruption.problem,
                Problem::SegmentGap {
                    expected_first_lsn: 10,
                    found_first_lsn: 13
                }
            );
        }
        other => panic!("expected a gap, got {other:?}"),
    }
}

#[test]
fn a_segment_file_replaced_under_its_name_is_followed() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let records: Vec<Record> = (1..=6).map(fixed_record).collect();
    let (mut writer, _) = common::open_writer(sim(&disk), &dir, LogConfig::new(FRAGMENT));
    append_all(&mut writer, &records[..5]);
    writer.sync().expect("sync");
    let path = writer.segment_paths()[0].clone();
    drop(writer);
    let mut reader = open(&disk, &dir, 1);
    assert_eq!(reader.read(5, 1 << 20).expect("read"), records[..5]);

    // A writer that creates a segment again (its directory sync failed the
    // first time) renames a new file over the old name; the records go to
    // the new file. The same log written elsewhere gives its bytes.
    let elsewhere = SimDisk::new();
    let (mut other, _) = common::open_writer(sim(&elsewhere), &dir, LogConfig::new(FRAGMENT));
    append_all(&mut other, &records);
    other.sync().expect("sync");
    disk.put_file(&path, elsewhere.file_bytes(&path).expect("segment"));
    assert_eq!(reader.read(6, 1 << 20).expect("read"), records[5..]);
}

#[test]
fn a_reader_keeps_up_with_the_log_service_on_the_simulated_disk() {
    let disk = SimDisk::new();
    keeps_up_with_the_log_service(sim(&disk), &log_dir(), FsyncPolicy::Always);
}

#[test]
fn a_reader_keeps_up_with_the_log_service_on_the_real_disk() {
    let temp = TempDir::new();
    keeps_up_with_the_log_service(
        Arc::new(RealDisk::new()),
        &temp.0.join("log"),
        FsyncPolicy::No,
    );
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

/// The executor appends through the service, which rotates segments; a
/// snapshot thread keeps deleting the segments the reader has passed; the
/// reader follows `durable_lsn` and must see every record exactly once.
fn keeps_up_with_the_log_service(disk: Arc<dyn Disk>, dir: &Path, fsync: FsyncPolicy) {
    const COUNT: u64 = 3000;
    let (writer, _) = common::open_writer(Arc::clone(&disk), dir, small_segments(2048));
    let handle = LogService::start(writer, fsync, Box::new(|_| {})).expect("start");
    let mut workload = Workload::new(0x4ead_5e7c, 1, 150);
    let written: Vec<Record> = (0..COUNT).map(|_| workload.next_record()).collect();
    let reader_next = AtomicU64::new(1);
    let mut reader = LogReader::open(Arc::clone(&disk), dir, 1).expect("open");
    let mut read = Vec::new();

    let deadline = Instant::now() + WAIT;
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for (index, record) in written.iter().enumerate() {
                append_patiently(&handle, record);
                if index % 100 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        });
        // Bounded by the deadline too, so that a failing reader cannot
        // leave this thread running.
        scope.spawn(|| {
            while reader_next.load(Ordering::Acquire) <= COUNT && Instant::now() < deadline {
                handle.remove_through(reader_next.load(Ordering::Acquire) - 1);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        while reader.next_lsn() <= COUNT {
            assert!(
                Instant::now() < deadline,
                "reader stuck at LSN {} with durable_lsn {}",
                reader.next_lsn(),
                handle.durable_lsn()
            );
            let up_to_lsn = handle.durable_lsn();
            let first_lsn = reader.next_lsn();
            let batch = reader.read(up_to_lsn, 4096).expect("read");
            check_batch(&batch, first_lsn, up_to_lsn, 4096, &written, "live");
            if batch.is_empty() {
                std::thread::sleep(Duration::from_micros(100));
            }
            read.extend(batch);
            reader_next.store(reader.next_lsn(), Ordering::Release);
        }
    });
    assert_eq!(read.len(), written.len());
    assert!(read == written, "records differ from what was written");
    assert!(wait_until(WAIT, || handle.status().remove_error.is_none()));
    assert_eq!(handle.close().expect("close"), COUNT);
}

/// One random run: appends, flushes, syncs, write and sync failures,
/// deletions of old segments (also ahead of the readers), new readers at
/// random LSNs, and reads with random bounds and budgets.
fn random_run(seed: u64, context: &str) {
    let mut rng = Rng::new(seed);
    let disk = SimDisk::new();
    let dir = log_dir();
    let segment_bytes = SEGMENT_BYTES_MIN + rng.below(1500);
    let (mut writer, _) = common::open_writer(sim(&disk), &dir, small_segments(segment_bytes));
    let mut workload = Workload::new(seed, 1, rng.below(300) + 1);
    let mut written: Vec<Record> = Vec::new();
    // What the service would report durable under fsync = no: the highest
    // LSN written, which a failed fsync does not take back.
    let mut bound = 0u64;
    let mut readers = vec![open(&disk, &dir, 1)];

    for step in 0..400 {
        let at = format!("{context} (step {step})");
        match rng.below(10) {
            0..=3 => {
                let records: Vec<Record> = (0..rng.below(5) + 1)
                    .map(|_| workload.next_record())
                    .collect();
                append_all(&mut writer, &records);
                written.extend(records);
            }
            4 => writer.flush().expect("flush"),
            5 => writer.sync().expect("sync"),
            6 => {
                disk.fail_writes_after(rng.below(200));
                let _ = writer.flush();
                disk.clear_faults();
            }
            7 => {
                disk.fail_syncs(true);
                let _ = writer.sync();
                disk.clear_faults();
            }
            8 => {
                writer.remove_through(rng.below(bound + 1)).expect("remove");
            }
            _ => {
                if readers.len() < 4 {
                    let from_lsn = rng.below(bound + 1) + 1;
                    match LogReader::open(sim(&disk), &dir, from_lsn) {
                        Ok(reader) => readers.push(reader),
                        Err(ReadError::NotRetained { first_lsn, .. }) => {
                            assert!(first_lsn > from_lsn, "{at}: {first_lsn} <= {from_lsn}")
                        }
                        Err(e) => panic!("{at}: open at {from_lsn}: {e}"),
                    }
                }
            }
        }
        bound = bound.max(writer.written_lsn());
        readers.retain_mut(|reader| random_read(reader, &mut rng, bound, &writer, &written, &at));
    }

    // At the end, with everything synced, each reader left reaches the end.
    writer.sync().expect("sync");
    for reader in &mut readers {
        let (_, outcome) = drain(reader, bound, 1 << 20, &written);
        match outcome {
            Ok(()) => assert_eq!(reader.next_lsn(), bound + 1, "{context}"),
            Err(ReadError::NotRetained { .. }) => {}
            Err(e) => panic!("{context}: {e}"),
        }
    }
}

/// One read with a random bound and budget; false if the reader lost its
/// place to a deletion.
fn random_read(
    reader: &mut LogReader,
    rng: &mut Rng,
    bound: u64,
    writer: &LogWriter,
    written: &[Record],
    at: &str,
) -> bool {
    let first_lsn = reader.next_lsn();
    let up_to_lsn = (first_lsn - 1) + rng.below(bound + 2 - first_lsn.min(bound + 1));
    let max_bytes = rng.below(2000) as usize;
    match reader.read(up_to_lsn, max_bytes) {
        Ok(batch) => {
            check_batch(&batch, first_lsn, up_to_lsn, max_bytes, written, at);
            // Records up to the writer's written LSN are whole in the
            // file: when one is wanted, at least one must come.
            if first_lsn <= up_to_lsn && up_to_lsn <= writer.written_lsn() {
                assert!(
                    !batch.is_empty(),
                    "{at}: nothing read from LSN {first_lsn} to {up_to_lsn}"
                );
            }
            true
        }
        Err(ReadError::NotRetained {
            wanted_lsn,
            first_lsn: retained,
        }) => {
            assert_eq!(wanted_lsn, first_lsn, "{at}");
            assert!(retained > wanted_lsn, "{at}: retained from {retained}");
            false
        }
        Err(e) => panic!("{at}: read from {first_lsn} to {up_to_lsn}: {e}"),
    }
}

#[test]
fn random_appends_rotations_failures_deletions_and_reads_return_every_record_once() {
    let base = seed(0x4ead_0001);
    for run in 0..60 {
        let seed = base.wrapping_add(run);
        random_run(seed, &repro("random_appends_rotations", seed));
    }
}
