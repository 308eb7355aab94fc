//! Cutting a closed log back to an LSN, as a former primary does when it
//! rejoins the new primary after a failover: the records after the point
//! where the two logs agree go, the log ends exactly there, recovery
//! accepts it after a crash at any step, and the writer goes on from the
//! next LSN.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{assert_prefix, log_dir, recover_all, small_segments, TempDir};
use daisy_log::{
    check, truncate_after, CrashPlan, Disk, LogError, LogWriter, Problem, RealDisk, Record, SimDisk,
};

const PAYLOAD_BYTES: usize = 20;
const RECORD_BYTES: u64 = 24 + PAYLOAD_BYTES as u64;
const HEADER_BYTES: u64 = 32;
/// Exactly three records fit in a segment.
const SEGMENT_BYTES: u64 = HEADER_BYTES + 3 * RECORD_BYTES;
/// Records in the log `build_log` makes.
const LAST_LSN: u64 = 20;

fn record(lsn: u64) -> Record {
    let mut payload = format!("payload of {lsn:09}").into_bytes();
    payload.resize(PAYLOAD_BYTES, b'.');
    Record {
        lsn,
        epoch: lsn / 5 + 1,
        payload,
    }
}

/// A closed, synced log of records 1..=20 in seven segments of three
/// records, starting at LSNs 1, 4, 7, 10, 13, 16 and 19 (the last holds
/// two). Returns the records and the segment paths.
fn build_log(disk: Arc<dyn Disk>, dir: &Path) -> (Vec<Record>, Vec<PathBuf>) {
    let (mut writer, _) = common::open_writer(disk, dir, small_segments(SEGMENT_BYTES));
    let records: Vec<Record> = (1..=LAST_LSN).map(record).collect();
    for r in &records {
        writer.append(r.lsn, r.epoch, &r.payload).expect("append");
    }
    writer.sync().expect("sync");
    let segments = writer.segment_paths();
    assert_eq!(segments.len(), 7);
    (records, segments)
}

fn build_sim_log(disk: &SimDisk, dir: &Path) -> (Vec<Record>, Vec<PathBuf>) {
    build_log(Arc::new(disk.clone()), dir)
}

/// Every file on the disk with its bytes, to show nothing changed.
fn image(disk: &SimDisk) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    disk.paths()
        .into_iter()
        .map(|path| {
            let bytes = disk.file_bytes(&path);
            (path, bytes)
        })
        .collect()
}

fn flip_byte(disk: &SimDisk, path: &Path, offset: u64) {
    let mut bytes = disk.file_bytes(path).expect("file exists");
    bytes[offset as usize] ^= 0x40;
    disk.put_file(path, bytes);
}

/// Recovers the cut log (after the snapshot at `snapshot_lsn`), checks it
/// holds `kept` and nothing after, and appends records of a new epoch from
/// the next LSN on, as the new primary sends them; they come back after the
/// kept ones, densely.
fn append_after_cut(disk: Arc<dyn Disk>, dir: &Path, snapshot_lsn: u64, kept: &[Record]) {
    let end_lsn = kept.last().map_or(snapshot_lsn, |r| r.lsn);
    let (recovery, records) = recover_all(disk.as_ref(), dir, snapshot_lsn).expect("recover");
    assert_eq!(records, kept);
    assert_eq!(recovery.end_lsn(), Some(end_lsn));
    assert!(recovery.torn_tail.is_none(), "{:?}", recovery.torn_tail);
    let mut writer = LogWriter::open(Arc::clone(&disk), small_segments(SEGMENT_BYTES), &recovery)
        .expect("open writer");
    assert_eq!(writer.appended_lsn(), end_lsn);
    let new_epoch = recovery.last_epoch() + 1;
    let new: Vec<Record> = (end_lsn + 1..=end_lsn + 4)
        .map(|lsn| Record {
            lsn,
            epoch: new_epoch,
            payload: format!("from the new primary, LSN {lsn}").into_bytes(),
        })
        .collect();
    for r in &new {
        writer.append(r.lsn, r.epoch, &r.payload).expect("append");
    }
    writer.sync().expect("sync");
    drop(writer);
    let (_, after) = recover_all(disk.as_ref(), dir, snapshot_lsn).expect("recover again");
    assert_eq!(&after[..kept.len()], kept);
    assert_eq!(&after[kept.len()..], &new[..]);
}

#[test]
fn a_cut_inside_a_segment_truncates_it_at_the_next_record() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = build_sim_log(&disk, &dir);

    // Phase 1: cut after LSN 11, the second record of the segment starting
    // at 10. That segment keeps two records; the three after it go.
    let removed = truncate_after(&disk, &dir, 11).expect("truncate");
    assert_eq!(removed, 9);
    assert_eq!(disk.paths(), segments[..4].to_vec());
    let kept_bytes = disk.file_bytes(&segments[3]).expect("segment 10");
    assert_eq!(kept_bytes.len() as u64, HEADER_BYTES + 2 * RECORD_BYTES);
    assert_eq!(disk.pending_dir_ops(), 0, "the deletions are durable");
    assert_eq!(disk.max_unsynced_bytes(), 0, "the truncation is durable");

    // Phase 2: the log reads back as records 1..=11, and the writer
    // continues at 12, in the segment it was cut in.
    let report = check(&disk, &dir);
    assert!(report.is_healthy(), "{report}");
    assert_eq!(report.last_record, Some((11, record(11).epoch)));
    append_after_cut(Arc::new(disk.clone()), &dir, 0, &written[..11]);
}

#[test]
fn a_cut_at_a_segment_boundary_deletes_the_segment_that_starts_after_it() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = build_sim_log(&disk, &dir);
    let before = disk.file_bytes(&segments[3]);

    // LSN 13 is the first record of the fifth segment: it goes whole, and
    // the segment before it, which ends at 12, is left as it was.
    let removed = truncate_after(&disk, &dir, 12).expect("truncate");
    assert_eq!(removed, 8);
    assert_eq!(disk.paths(), segments[..4].to_vec());
    assert_eq!(disk.file_bytes(&segments[3]), before);
    append_after_cut(Arc::new(disk.clone()), &dir, 0, &written[..12]);
}

#[test]
fn a_cut_in_the_first_segment_deletes_every_later_one() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = build_sim_log(&disk, &dir);

    let removed = truncate_after(&disk, &dir, 2).expect("truncate");
    assert_eq!(removed, 18);
    assert_eq!(disk.paths(), segments[..1].to_vec());
    let kept_bytes = disk.file_bytes(&segments[0]).expect("first segment");
    assert_eq!(kept_bytes.len() as u64, HEADER_BYTES + 2 * RECORD_BYTES);
    append_after_cut(Arc::new(disk.clone()), &dir, 0, &written[..2]);
}

#[test]
fn a_cut_right_before_the_log_starts_keeps_an_empty_first_segment() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    let (_, segments) = build_sim_log(&disk, &dir);

    // Phase 1: a snapshot at LSN 6 let the writer delete the first two
    // segments, so the log starts at 7.
    let (mut writer, _) =
        common::open_writer(Arc::clone(&shared), &dir, small_segments(SEGMENT_BYTES));
    assert_eq!(writer.remove_through(6).expect("remove"), 2);
    drop(writer);

    // Phase 2: every record diverges from the new primary, which agrees up
    // to the snapshot. The first segment stays, empty, so the log still
    // says it ends at 6; the others go.
    let removed = truncate_after(&disk, &dir, 6).expect("truncate");
    assert_eq!(removed, 14);
    assert_eq!(disk.paths(), segments[2..3].to_vec());
    let kept_bytes = disk.file_bytes(&segments[2]).expect("segment 7");
    assert_eq!(kept_bytes.len() as u64, HEADER_BYTES);

    // Phase 3: snapshot plus empty log, then records from 7 on.
    append_after_cut(shared, &dir, 6, &[]);
}

#[test]
fn a_cut_at_or_after_the_last_record_changes_nothing() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_sim_log(&disk, &dir);

    // Phase 1: a torn write at the end, which recovery (not the cut) is
    // for.
    let last = segments.last().expect("segments");
    let mut bytes = disk.file_bytes(last).expect("last segment");
    bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2, 3]);
    disk.put_file(last, bytes);
    let files = image(&disk);
    let changes = disk.changes();

    // Phase 2: nothing to cut at the last record or after it: no file
    // changes, not even a sync.
    for lsn in [LAST_LSN, LAST_LSN + 1, u64::MAX] {
        assert_eq!(truncate_after(&disk, &dir, lsn).expect("truncate"), 0);
    }
    assert_eq!(image(&disk), files);
    assert_eq!(disk.changes(), changes);

    // Phase 3: an empty directory, or none, is an empty log: nothing to cut.
    let empty = SimDisk::new();
    assert_eq!(truncate_after(&empty, &dir, 0).expect("no directory"), 0);
    empty.create_dir_all(&dir).expect("mkdir");
    assert_eq!(truncate_after(&empty, &dir, 5).expect("empty"), 0);
}

#[test]
fn a_cut_before_the_first_retained_record_is_refused_naming_what_is_retained() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let shared: Arc<dyn Disk> = Arc::new(disk.clone());
    build_sim_log(&disk, &dir);
    let (mut writer, _) = common::open_writer(shared, &dir, small_segments(SEGMENT_BYTES));
    writer.remove_through(6).expect("remove");
    drop(writer);
    let files = image(&disk);
    let changes = disk.changes();

    // The log starts at 7: it can end at 6 at the earliest.
    let error = truncate_after(&disk, &dir, 5).expect_err("before the log starts");
    assert!(
        matches!(
            error,
            LogError::CutBeforeStart {
                lsn: 5,
                first_lsn: 7,
                end_lsn: LAST_LSN
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("LSNs 7..=20"), "{message}");
    assert!(message.contains("at LSN 6 at the earliest"), "{message}");
    assert_eq!(image(&disk), files);
    assert_eq!(disk.changes(), changes);
}

#[test]
fn damage_before_the_cut_is_refused_with_file_and_offset_and_changes_nothing() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (_, segments) = build_sim_log(&disk, &dir);

    // Damage record 5 (second of the segment starting at 4), and record 11
    // (kept by a cut after 11, in the segment cut).
    for (segment, index, lsn_cut) in [(1, 1, 15), (3, 1, 11)] {
        let path = &segments[segment];
        flip_byte(&disk, path, HEADER_BYTES + index * RECORD_BYTES + 24 + 3);
        let files = image(&disk);
        let changes = disk.changes();
        let error = truncate_after(&disk, &dir, lsn_cut).expect_err("damage");
        let corruption = error.corruption().expect("corruption");
        assert_eq!(&corruption.file, path);
        assert_eq!(corruption.offset, HEADER_BYTES + index * RECORD_BYTES);
        assert!(matches!(corruption.problem, Problem::BadChecksum { .. }));
        assert!(
            error.to_string().contains(&format!(
                "{} at byte {}",
                path.display(),
                corruption.offset
            )),
            "{error}"
        );
        assert_eq!(image(&disk), files);
        assert_eq!(disk.changes(), changes);
        flip_byte(&disk, path, HEADER_BYTES + index * RECORD_BYTES + 24 + 3);
    }
}

#[test]
fn damage_after_the_cut_is_refused_too_but_a_torn_tail_goes_with_the_rest() {
    let disk = SimDisk::new();
    let dir = log_dir();
    let (written, segments) = build_sim_log(&disk, &dir);

    // Phase 1: damage in a complete segment after the cut. Recovery refuses
    // this log, and the records after the cut are those the caller saved
    // first: some could not be. Nothing is changed.
    let damaged_at = HEADER_BYTES + RECORD_BYTES + 24;
    flip_byte(&disk, &segments[5], damaged_at);
    let files = image(&disk);
    let error = truncate_after(&disk, &dir, 11).expect_err("damage after the cut");
    let corruption = error.corruption().expect("corruption");
    assert_eq!(corruption.file, segments[5]);
    assert_eq!(corruption.offset, HEADER_BYTES + RECORD_BYTES);
    assert_eq!(image(&disk), files);
    flip_byte(&disk, &segments[5], damaged_at);

    // Phase 2: half a record at the end of the last segment is a torn
    // write, which recovery accepts: the cut removes it with the rest.
    let last = segments.last().expect("segments");
    let mut bytes = disk.file_bytes(last).expect("last segment");
    bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2, 3]);
    disk.put_file(last, bytes);
    assert_eq!(truncate_after(&disk, &dir, 11).expect("truncate"), 9);
    append_after_cut(Arc::new(disk.clone()), &dir, 0, &written[..11]);

    // Phase 3: the log is now 1..=15, its last segment holding two records
    // or more. A torn tail in the very segment cut goes too.
    let report = check(&disk, &dir);
    let last = report.segments.last().expect("segments").clone();
    assert_eq!(last.last_lsn, Some(15));
    assert!(last.records >= 2, "{report}");
    let mut bytes = disk.file_bytes(&last.path).expect("last segment");
    bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2, 3]);
    disk.put_file(&last.path, bytes);
    let removed = truncate_after(&disk, &dir, last.first_lsn).expect("truncate");
    assert_eq!(removed, 15 - last.first_lsn);
    let (recovery, records) = recover_all(&disk, &dir, 0).expect("recover");
    assert!(recovery.torn_tail.is_none(), "{:?}", recovery.torn_tail);
    assert_eq!(recovery.end_lsn(), Some(last.first_lsn));
    assert_eq!(&records[..11], &written[..11]);
}

/// Cuts a fresh log after `lsn` with the power going before each disk
/// change in turn (a sync, a deletion, a directory sync, the truncation),
/// and crashes every way the disk allows at that point. Every crash must
/// leave a log recovery accepts, holding records 1..=last with `lsn <= last
/// <= 20`; once the cut has returned, exactly 1..=lsn. Calling again
/// finishes the cut, and the log goes on at `lsn + 1`. Returns how many
/// power cuts and crashes it tried.
fn crash_at_every_step(lsn: u64) -> (u64, u64) {
    let dir = log_dir();
    let (mut power_cuts, mut crashes) = (0, 0);
    for changes_allowed in 0.. {
        let disk = SimDisk::new();
        let (written, _) = build_sim_log(&disk, &dir);
        disk.power_off_after(changes_allowed);
        let outcome = truncate_after(&disk, &dir, lsn);
        let finished = match outcome {
            Ok(removed) => {
                assert_eq!(removed, LAST_LSN - lsn);
                true
            }
            Err(LogError::Io { .. }) => false,
            Err(other) => panic!("cut after {lsn}, power off after {changes_allowed}: {other}"),
        };
        power_cuts += u64::from(!finished);
        for dir_ops_kept in 0..=disk.pending_dir_ops() {
            for unsynced_bytes_kept in 0..=disk.max_unsynced_bytes() {
                let plan = CrashPlan {
                    unsynced_bytes_kept,
                    dir_ops_kept,
                };
                let at = format!("cut after {lsn}, power off after {changes_allowed}, {plan:?}");
                let crashed = disk.crashed_copy(plan);
                let (_, records) = recover_all(&crashed, &dir, 0)
                    .unwrap_or_else(|e| panic!("{at}: recovery failed: {e}"));
                assert_prefix(&records, &written, &at);
                let last = records.len() as u64;
                assert!(
                    (lsn..=LAST_LSN).contains(&last),
                    "{at}: the log ends at {last}"
                );
                if finished {
                    assert_eq!(last, lsn, "{at}: a cut that returned was lost");
                }
                let removed = truncate_after(&crashed, &dir, lsn)
                    .unwrap_or_else(|e| panic!("{at}: cutting again failed: {e}"));
                assert_eq!(removed, last - lsn, "{at}");
                append_after_cut(Arc::new(crashed), &dir, 0, &written[..lsn as usize]);
                crashes += 1;
            }
        }
        if finished {
            break;
        }
    }
    (power_cuts, crashes)
}

#[test]
fn a_crash_at_any_step_of_a_cut_leaves_a_log_ending_between_the_cut_and_the_old_end() {
    // Inside a segment, at a segment boundary, and in the first segment
    // with six after it.
    for (lsn, steps_min) in [(11, 8), (12, 8), (2, 14)] {
        let (power_cuts, crashes) = crash_at_every_step(lsn);
        eprintln!("cut after {lsn}: {power_cuts} power cuts, {crashes} crashes");
        assert!(
            power_cuts >= steps_min,
            "cut after {lsn}: only {power_cuts} steps"
        );
    }
}

#[test]
fn records_a_dropped_writer_left_unsynced_are_durable_before_the_cut_changes_anything() {
    let dir = log_dir();
    // Records 19 and 20 are written but not synced, as a writer dropped
    // without a sync leaves them. From the first change the cut makes on,
    // record 19, which it keeps, survives any crash.
    for changes_allowed in 1.. {
        let disk = SimDisk::new();
        let shared: Arc<dyn Disk> = Arc::new(disk.clone());
        let (mut writer, _) = common::open_writer(shared, &dir, small_segments(SEGMENT_BYTES));
        let written: Vec<Record> = (1..=LAST_LSN).map(record).collect();
        for r in &written {
            writer.append(r.lsn, r.epoch, &r.payload).expect("append");
        }
        writer.flush().expect("flush");
        assert_eq!(writer.synced_lsn(), 18);
        drop(writer);
        disk.power_off_after(changes_allowed);
        let finished = truncate_after(&disk, &dir, 19).is_ok();
        for unsynced_bytes_kept in 0..=disk.max_unsynced_bytes() {
            let at = format!("power off after {changes_allowed}, {unsynced_bytes_kept} bytes kept");
            let crashed = disk.crashed_copy(CrashPlan::cut(unsynced_bytes_kept));
            let (recovery, records) = recover_all(&crashed, &dir, 0)
                .unwrap_or_else(|e| panic!("{at}: recovery failed: {e}"));
            assert_prefix(&records, &written, &at);
            let end_lsn = recovery.end_lsn().expect("segments");
            assert!(
                (19..=20).contains(&end_lsn),
                "{at}: the log ends at {end_lsn}"
            );
        }
        if finished {
            break;
        }
    }
}

#[test]
fn a_cut_on_real_files_round_trips() {
    let temp = TempDir::new();
    let dir = temp.0.join("log");
    let disk: Arc<dyn Disk> = Arc::new(RealDisk::new());
    let (written, segments) = build_log(Arc::clone(&disk), &dir);
    let names = |dir: &Path| {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("list")
            .map(|entry| entry.expect("entry").path())
            .collect();
        names.sort();
        names
    };

    // Phase 1: inside a segment.
    assert_eq!(truncate_after(disk.as_ref(), &dir, 17).expect("cut"), 3);
    assert_eq!(names(&dir), segments[..6].to_vec());
    let len = std::fs::metadata(&segments[5]).expect("stat").len();
    assert_eq!(len, HEADER_BYTES + 2 * RECORD_BYTES);

    // Phase 2: at a segment boundary (13 starts a segment).
    assert_eq!(truncate_after(disk.as_ref(), &dir, 12).expect("cut"), 5);
    assert_eq!(names(&dir), segments[..4].to_vec());

    // Phase 3: nothing more to cut at the end; the log goes on at 13.
    assert_eq!(truncate_after(disk.as_ref(), &dir, 12).expect("no-op"), 0);
    append_after_cut(Arc::clone(&disk), &dir, 0, &written[..12]);

    // Phase 4: in the first segment, with the four written since.
    assert_eq!(truncate_after(disk.as_ref(), &dir, 1).expect("cut"), 15);
    assert_eq!(names(&dir), segments[..1].to_vec());
    let report = check(disk.as_ref(), &dir);
    assert!(report.is_healthy(), "{report}");
    append_after_cut(disk, &dir, 0, &written[..1]);
}
