//! Damage that is not a torn tail is refused, with the file, the byte
//! offset and what is wrong; a torn tail is cut and reported.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{log_dir, recover_all, small_segments, FRAGMENT};
use daisy_log::{
    check, recover, segment_file_name, Corruption, Disk, HeaderFault, LogConfig, LogError,
    LogWriter, Problem, Record, SimDisk,
};

const PAYLOAD_BYTES: usize = 20;
const RECORD_BYTES: u64 = 24 + PAYLOAD_BYTES as u64;
/// Exactly three records fit in a segment.
const SEGMENT_BYTES: u64 = 32 + 3 * RECORD_BYTES;

fn record(lsn: u64) -> Record {
    let mut payload = format!("payload of {lsn:09}").into_bytes();
    payload.resize(PAYLOAD_BYTES, b'.');
    Record {
        lsn,
        epoch: lsn / 5 + 1,
        payload,
    }
}

/// A synced log of records 1..=20 in seven segments of three records
/// (the last holds two). Returns the records and the segment paths.
fn build_log(disk: &SimDisk, dir: &Path) -> (Vec<Record>, Vec<PathBuf>) {
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, _) = common::open_writer(shared, dir, small_segments(SEGMENT_BYTES));
    let records: Vec<Record> = (1..=20).map(record).collect();
    for r in &records {
        writer.append(r.lsn, r.epoch, &r.payload).expect("append");
    }
    writer.sync().expect("sync");
    let segments = writer.segment_paths();
    assert_eq!(segments.len(), 7);
    (records, segments)
}

/// The offset of the `index`-th record of a segment built by `build_log`.
fn record_offset(index: u64) -> u64 {
    32 + index * RECORD_BYTES
}

fn flip_byte(disk: &SimDisk, path: &Path, offset: u64) {
    let mut bytes = disk.file_bytes(path).expect("file exists");
    bytes[offset as usize] ^= 0x40;
    disk.put_file(path, bytes);
}

fn expect_corruption(disk: &SimDisk, dir: &Path, after_lsn: u64) -> Corruption {
    match recover_all(disk, dir, after_lsn) {
        Err(LogError::Corrupt(corruption)) => corruption,
        Err(other) => panic!("expected corruption, got {other}"),
        Ok((recovery, _)) => panic!("expected corruption, recovery succeeded: {recovery:?}"),
    }
}

/// A segment header written from the layout in docs/log-format.md.
fn doc_header(fragment_id: u32, first_lsn: u64, version: u16) -> Vec<u8> {
    let mut out = b"DAISYLOG".to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&fragment_id.to_le_bytes());
    out.extend_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out
}

/// A record written from the layout in docs/log-format.md.
fn doc_record(lsn: u64, epoch: u64, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut covered = len.to_vec();
    covered.extend_from_slice(&lsn.to_le_bytes());
    covered.extend_from_slice(&epoch.to_le_bytes());
    covered.extend_from_slice(payload);
    let crc = crc32c::crc32c(&covered);
    let mut out = len.to_vec();
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&covered[4..]);
    out
}

#[test]
fn the_documented_layout_is_what_the_writer_writes() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (records, segments) = build_log(&disk, &dir);
    let mut expected = doc_header(FRAGMENT, 1, 1);
    for r in &records[0..3] {
        expected.extend(doc_record(r.lsn, r.epoch, &r.payload));
    }
    assert_eq!(disk.file_bytes(&segments[0]), Some(expected));
    assert_eq!(segments[0], dir.join("log-00000000000000000001.seg"));
}

#[test]
fn a_flipped_byte_in_an_earlier_segment_is_corruption_naming_file_and_offset() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_log(&disk, &dir);

    // Damage the payload of the second record of the third segment.
    flip_byte(&disk, &segments[2], record_offset(1) + 24 + 5);

    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(corruption.file, segments[2]);
    assert_eq!(corruption.offset, record_offset(1));
    assert!(matches!(corruption.problem, Problem::BadChecksum { .. }));
    let message = LogError::Corrupt(corruption).to_string();
    assert!(
        message.contains("log-00000000000000000007.seg"),
        "{message}"
    );
    assert!(
        message.contains(&format!("at byte {}", record_offset(1))),
        "{message}"
    );
}

#[test]
fn damage_before_a_valid_record_in_the_last_segment_is_corruption_not_a_torn_tail() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_log(&disk, &dir);
    let last = segments.last().expect("segments");

    // The first of the last segment's two records is damaged; the second
    // is intact, so this cannot be an interrupted write.
    flip_byte(&disk, last, record_offset(0) + 24 + 3);

    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(&corruption.file, last);
    assert_eq!(corruption.offset, record_offset(0));
    assert_eq!(corruption.valid_record_after, Some(record_offset(1)));
    let untouched = disk.file_bytes(last).expect("file").len() as u64;
    assert_eq!(
        untouched,
        record_offset(2),
        "refused recovery changes nothing"
    );
}

#[test]
fn a_damaged_last_record_is_a_torn_tail_that_check_reports_and_recovery_cuts() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (records, segments) = build_log(&disk, &dir);
    let last = segments.last().expect("segments");
    flip_byte(&disk, last, record_offset(1) + 30);

    // Phase 1: check sees the torn tail, calls the log healthy, cuts
    // nothing.
    let report = check(&disk, &dir);
    assert!(report.is_healthy(), "{report}");
    let torn = report.torn_tail.clone().expect("torn tail reported");
    assert_eq!(
        (&torn.file, torn.offset, torn.bytes),
        (last, record_offset(1), RECORD_BYTES)
    );
    assert_eq!(
        disk.file_bytes(last).map(|b| b.len() as u64),
        Some(record_offset(2))
    );

    // Phase 2: recovery cuts it and hands over every record before it.
    let (recovery, recovered) = recover_all(&disk, &dir, 0).expect("a torn tail is not an error");
    assert_eq!(recovered, records[..19]);
    assert_eq!(recovery.torn_tail, Some(torn));
    assert_eq!(
        disk.file_bytes(last).map(|b| b.len() as u64),
        Some(record_offset(1))
    );
    assert_eq!(recovery.next_lsn(), 20);
}

#[test]
fn zeros_after_the_last_record_are_a_torn_tail() {
    // Some file systems show a crashed append as zeros up to the new size.
    let disk = SimDisk::new();
    let dir = log_dir();
    let (records, segments) = build_log(&disk, &dir);
    let last = segments.last().expect("segments");
    let mut bytes = disk.file_bytes(last).expect("file");
    let end = bytes.len() as u64;
    bytes.extend_from_slice(&[0u8; 100]);
    disk.put_file(last, bytes);

    let (recovery, recovered) = recover_all(&disk, &dir, 0).expect("recover");
    assert_eq!(recovered, records);
    let torn = recovery.torn_tail.expect("torn tail");
    assert_eq!((torn.offset, torn.bytes), (end, 100));
}

#[test]
fn a_truncated_middle_segment_is_corruption() {
    // Phase 1: cut inside a record: the segment ends mid-record.
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_log(&disk, &dir);
    let mut bytes = disk.file_bytes(&segments[3]).expect("file");
    bytes.truncate(record_offset(2) as usize + 10);
    disk.put_file(&segments[3], bytes);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(
        (&corruption.file, corruption.offset),
        (&segments[3], record_offset(2))
    );
    assert!(matches!(
        corruption.problem,
        Problem::IncompleteRecord { .. }
    ));

    // Phase 2: cut at a record boundary: the next segment starts too late.
    let disk = SimDisk::new();
    let (_, segments) = build_log(&disk, &dir);
    let mut bytes = disk.file_bytes(&segments[3]).expect("file");
    bytes.truncate(record_offset(2) as usize);
    disk.put_file(&segments[3], bytes);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!((&corruption.file, corruption.offset), (&segments[4], 0));
    assert_eq!(
        corruption.problem,
        Problem::SegmentGap {
            expected_first_lsn: 12,
            found_first_lsn: 13
        }
    );
}

#[test]
fn a_missing_segment_is_an_lsn_gap() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_log(&disk, &dir);
    disk.delete_file(&segments[2]);

    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!((&corruption.file, corruption.offset), (&segments[3], 0));
    assert_eq!(
        corruption.problem,
        Problem::SegmentGap {
            expected_first_lsn: 7,
            found_first_lsn: 10
        }
    );
    let report = check(&disk, &dir);
    assert!(!report.is_healthy());
    assert_eq!(report.records, 6, "check counts the records before the gap");
    assert!(report.to_string().contains("PROBLEM"), "{report}");
}

/// A name, a way to damage a segment's bytes, and the problem it makes.
type Damage = (&'static str, fn(&mut Vec<u8>), Problem);

#[test]
fn a_bad_segment_header_is_corruption_even_in_the_last_segment() {
    let dir = log_dir();
    let damages: [Damage; 4] = [
        (
            "magic",
            |b| b[0] = b'X',
            Problem::BadHeader(HeaderFault::BadMagic),
        ),
        (
            "version",
            |b| b[8] = 9,
            Problem::BadHeader(HeaderFault::UnsupportedVersion(9)),
        ),
        (
            "reserved",
            |b| b[30] = 1,
            Problem::BadHeader(HeaderFault::NonZeroReserved),
        ),
        (
            "short",
            |b| b.truncate(20),
            Problem::ShortHeader { len: 20 },
        ),
    ];
    for (name, damage, problem) in damages {
        for target in [1usize, 6] {
            let disk = SimDisk::new();
            let (_, segments) = build_log(&disk, &dir);
            let mut bytes = disk.file_bytes(&segments[target]).expect("file");
            damage(&mut bytes);
            if name == "version" || name == "reserved" {
                // A well-formed header of another version: the checksum
                // matches, the version or reserved bytes are what is wrong.
                let crc = crc32c::crc32c(&bytes[0..24]);
                bytes[24..28].copy_from_slice(&crc.to_le_bytes());
            }
            disk.put_file(&segments[target], bytes);
            let corruption = expect_corruption(&disk, &dir, 0);
            assert_eq!(
                (&corruption.file, corruption.offset, &corruption.problem),
                (&segments[target], 0, &problem),
                "damage {name} in segment {target}"
            );
        }
    }

    // A damaged field under a good magic fails the header checksum.
    let disk = SimDisk::new();
    let (_, segments) = build_log(&disk, &dir);
    flip_byte(&disk, &segments[1], 13);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert!(matches!(
        corruption.problem,
        Problem::BadHeader(HeaderFault::BadChecksum { .. })
    ));
}

#[test]
fn a_segment_whose_name_disagrees_with_its_header_is_corruption() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_log(&disk, &dir);
    // The segment starting at LSN 4 shows up under the name for LSN 5.
    let bytes = disk.file_bytes(&segments[1]).expect("file");
    disk.delete_file(&segments[1]);
    let renamed = dir.join(segment_file_name(5));
    disk.put_file(&renamed, bytes);

    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!((&corruption.file, corruption.offset), (&renamed, 0));
    assert_eq!(
        corruption.problem,
        Problem::NameMismatch {
            name_lsn: 5,
            header_lsn: 4
        }
    );
}

#[test]
fn records_out_of_order_or_with_a_falling_epoch_are_corruption() {
    let dir = log_dir();
    let path = dir.join(segment_file_name(1));
    let second_record_at = 32 + 24 + 3;

    // An epoch that goes down.
    let disk = SimDisk::new();
    let mut bytes = doc_header(FRAGMENT, 1, 1);
    bytes.extend(doc_record(1, 3, b"one"));
    bytes.extend(doc_record(2, 2, b"two"));
    disk.put_file(&path, bytes);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(corruption.offset, second_record_at);
    assert_eq!(
        corruption.problem,
        Problem::EpochDecreased {
            previous: 3,
            found: 2
        }
    );

    // An LSN skipped inside a segment, even in the last record.
    let disk = SimDisk::new();
    let mut bytes = doc_header(FRAGMENT, 1, 1);
    bytes.extend(doc_record(1, 1, b"one"));
    bytes.extend(doc_record(3, 1, b"two"));
    disk.put_file(&path, bytes);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(
        (corruption.offset, corruption.problem),
        (
            second_record_at,
            Problem::LsnOutOfOrder {
                expected: 2,
                found: 3
            }
        )
    );

    // A segment that overlaps the one before it (a duplicate LSN).
    let disk = SimDisk::new();
    let mut first = doc_header(FRAGMENT, 1, 1);
    first.extend(doc_record(1, 1, b"one"));
    first.extend(doc_record(2, 1, b"two"));
    disk.put_file(&path, first);
    let mut second = doc_header(FRAGMENT, 2, 1);
    second.extend(doc_record(2, 1, b"two again"));
    disk.put_file(&dir.join(segment_file_name(2)), second);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(
        corruption.problem,
        Problem::SegmentGap {
            expected_first_lsn: 3,
            found_first_lsn: 2
        }
    );
}

#[test]
fn a_huge_length_is_damage_never_an_allocation() {
    // In a middle segment: corruption.
    let disk = SimDisk::new();
    let dir = log_dir();
    let (records, segments) = build_log(&disk, &dir);
    let mut bytes = disk.file_bytes(&segments[1]).expect("file");
    let at = record_offset(1) as usize;
    bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    disk.put_file(&segments[1], bytes);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(
        (corruption.offset, corruption.problem),
        (
            record_offset(1),
            Problem::RecordTooLarge {
                payload_len: 0xFFFF_FFF0
            }
        )
    );

    // As the last record of the log: a torn tail.
    let disk = SimDisk::new();
    build_log(&disk, &dir);
    let last = segments.last().expect("segments");
    let mut bytes = disk.file_bytes(last).expect("file");
    let at = record_offset(1) as usize;
    bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    disk.put_file(last, bytes);
    let (recovery, recovered) = recover_all(&disk, &dir, 0).expect("recover");
    assert_eq!(recovered, records[..19]);
    assert_eq!(recovery.torn_tail.map(|t| t.offset), Some(record_offset(1)));
}

#[test]
fn a_log_that_starts_after_the_snapshot_is_refused() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (mut writer, _) = common::open_writer(shared, &dir, small_segments(SEGMENT_BYTES));
    for r in (1..=20).map(record) {
        writer.append(r.lsn, r.epoch, &r.payload).expect("append");
    }
    writer.sync().expect("sync");
    // A snapshot at LSN 11 lets the segments of records 1..=9 go.
    assert_eq!(writer.remove_through(11).expect("remove"), 3);

    // Phase 1: recovering from the snapshot at 11 replays 12..=20 only.
    let (recovery, replayed) = recover_all(&disk, &dir, 11).expect("recover");
    let lsns: Vec<u64> = replayed.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, (12..=20).collect::<Vec<_>>());
    assert_eq!(recovery.first_record.map(|(lsn, _)| lsn), Some(10));

    // Phase 2: without that snapshot, records 1..=9 are missing.
    let corruption = expect_corruption(&disk, &dir, 5);
    assert_eq!(corruption.file, dir.join(segment_file_name(10)));
    assert_eq!(
        corruption.problem,
        Problem::StartsAfterSnapshot {
            first_lsn: 10,
            snapshot_lsn: 5
        }
    );
}

#[test]
fn another_fragments_segment_or_log_is_refused() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_log(&disk, &dir);

    // Phase 1: the writer of fragment 8 will not open fragment 7's log.
    let (recovery, _) = recover_all(&disk, &dir, 0).expect("recover");
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    match LogWriter::open(shared, LogConfig::new(8), &recovery) {
        Err(LogError::WrongFragment {
            expected: 8,
            found: FRAGMENT,
            ..
        }) => {}
        Err(other) => panic!("expected WrongFragment, got {other}"),
        Ok(_) => panic!("opened another fragment's log"),
    }

    // Phase 2: one segment of another fragment among them is corruption.
    let mut bytes = disk.file_bytes(&segments[2]).expect("file");
    bytes[..32].copy_from_slice(&doc_header(FRAGMENT + 1, 7, 1));
    disk.put_file(&segments[2], bytes);
    let corruption = expect_corruption(&disk, &dir, 0);
    assert_eq!(
        (&corruption.file, corruption.problem),
        (
            &segments[2],
            Problem::FragmentMismatch {
                expected: FRAGMENT,
                found: FRAGMENT + 1
            }
        )
    );
}

#[test]
fn a_replay_error_stops_recovery_and_names_the_record() {
    let disk = SimDisk::new();
    let dir = log_dir();
    build_log(&disk, &dir);
    let outcome = recover(&disk, &dir, 0, |record| {
        if record.lsn == 8 {
            return Err("payload does not decode".into());
        }
        Ok(())
    });
    match outcome {
        Err(LogError::Replay { lsn: 8, source }) => {
            assert_eq!(source.to_string(), "payload does not decode")
        }
        other => panic!("expected a replay error at LSN 8, got {other:?}"),
    }
}

#[test]
fn check_describes_a_healthy_log() {
    let disk = SimDisk::new();
    let dir = log_dir();
    build_log(&disk, &dir);
    disk.put_file(&dir.join("notes.txt"), b"hello".to_vec());
    disk.put_file(
        &dir.join(format!("{}.tmp", segment_file_name(21))),
        vec![1, 2],
    );

    let report = check(&disk, &dir);
    assert!(report.is_healthy(), "{report}");
    assert_eq!(report.segment_files, 7);
    assert_eq!(report.segments.len(), 7);
    assert_eq!(report.records, 20);
    assert_eq!(report.first_record, Some((1, 1)));
    assert_eq!(report.last_record, Some((20, 5)));
    assert_eq!(report.fragment_id, Some(FRAGMENT));
    assert_eq!(report.other_files, vec!["notes.txt".to_owned()]);
    let text = report.to_string();
    for expected in [
        "records: 20",
        "LSN range: 1..=20",
        "epochs: 1..=5",
        "status: ok",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Recovery deletes the leftover of an interrupted segment creation.
    let (recovery, _) = recover_all(&disk, &dir, 0).expect("recover");
    assert_eq!(recovery.removed_temp_files.len(), 1);
    assert_eq!(check(&disk, &dir).temp_files.len(), 0);
}

#[test]
fn a_first_lsn_of_zero_or_beyond_the_limit_is_corruption() {
    let dir = log_dir();
    for first_lsn in [0, daisy_log::LSN_MAX + 1, u64::MAX] {
        let disk = SimDisk::new();
        let mut bytes = doc_header(FRAGMENT, first_lsn, 1);
        bytes.extend(doc_record(first_lsn, 1, b"edge"));
        let path = dir.join(segment_file_name(first_lsn));
        disk.put_file(&path, bytes);
        // `check` reads the header whatever the snapshot (recovery from
        // LSN 0 would refuse a log starting that late before reading it).
        let report = check(&disk, &dir);
        let corruption = report.error.as_ref().and_then(LogError::corruption);
        assert_eq!(
            corruption.map(|c| (&c.file, &c.problem)),
            Some((&path, &Problem::FirstLsnOutOfRange { first_lsn })),
            "{report}"
        );
    }
}
