//! A snapshot written and loaded again gives back exactly the keyspace it
//! was taken of, including while writes go on during the snapshot.

mod common;

use std::sync::mpsc;
use std::thread;

use common::{
    awkward_image, build_db, byte_string, handmade_entry, handmade_file, repr, snapshot_image,
    Image, Repr, TestDir,
};
use daisy_keyspace::{Db, StrValue, Value};
use daisy_snapshot::{
    load_snapshot, save_snapshot, snapshot_file_name, EncodedChunk, ExpiredOnLoad, SnapshotDir,
    SnapshotEncoder, SnapshotHeader, SnapshotWriter,
};

fn header(lsn: u64) -> SnapshotHeader {
    SnapshotHeader {
        fragment_id: 3,
        lsn,
        epoch: 5,
        created_ms: 1_700_000_000_000,
    }
}

/// Reads every entry of a snapshot file, without a `Db`.
fn file_image(path: &std::path::Path) -> Image {
    let loaded = load_snapshot(path).expect("the snapshot verifies");
    let mut image = Image::new();
    for entry in loaded.entries(1).expect("entries") {
        let entry = entry.expect("a valid entry");
        let previous = image.insert(entry.key.to_vec(), (repr(&entry.value), entry.expire_at_ms));
        assert!(previous.is_none());
    }
    image
}

#[test]
fn every_type_and_awkward_value_round_trips() {
    let dir = TestDir::new("round-trip");
    let expected = awkward_image();
    let mut db = build_db(&expected, 11);
    assert_eq!(
        snapshot_image(&mut db),
        expected,
        "the keyspace snapshot itself is exact"
    );

    let path = save_snapshot(&mut db, &SnapshotDir::new(dir.path()), &header(42)).expect("save");
    assert_eq!(path, dir.path().join(snapshot_file_name(42)));
    assert_eq!(
        dir.files(),
        vec![snapshot_file_name(42)],
        "no temporary file is left"
    );

    // Phase 1: the file's entries are the keyspace, bit for bit.
    assert_eq!(file_image(&path), expected);

    // Phase 2: loading into a Db keeps expired keys when asked to...
    let loaded = load_snapshot(&path).expect("verify");
    assert_eq!(*loaded.header(), header(42));
    assert_eq!(loaded.entry_count(), expected.len() as u64);
    let mut kept = Db::new(12);
    let stats = loaded
        .apply_to(&mut kept, ExpiredOnLoad::Keep)
        .expect("load");
    assert_eq!(stats.restored, expected.len() as u64);
    assert_eq!(snapshot_image(&mut kept), expected);

    // ...and drops the ones past `now` otherwise.
    let now_ms = 100;
    let mut fresh = Db::new(13);
    let stats = load_snapshot(&path)
        .expect("verify")
        .apply_to(&mut fresh, ExpiredOnLoad::Drop { now_ms })
        .expect("load");
    let live: Image = expected
        .iter()
        .filter(|(_, (_, expiry))| expiry.is_none_or(|at_ms| at_ms > now_ms))
        .map(|(key, entry)| (key.clone(), entry.clone()))
        .collect();
    assert_eq!(stats.dropped_expired, (expected.len() - live.len()) as u64);
    assert_eq!(snapshot_image(&mut fresh), live);
}

#[test]
fn an_empty_keyspace_round_trips() {
    let dir = TestDir::new("empty");
    let mut db = Db::new(1);
    let path = save_snapshot(&mut db, &SnapshotDir::new(dir.path()), &header(0)).expect("save");
    assert_eq!(std::fs::metadata(&path).expect("stat").len(), 44 + 21);
    assert!(file_image(&path).is_empty());
}

/// The format document, transcribed by hand, is what the encoder writes.
#[test]
fn the_encoder_writes_what_the_specification_says() {
    let mut image = Image::new();
    image.insert(b"k".to_vec(), (Repr::Str(b"v".to_vec()), Some(0x0102)));
    let mut db = build_db(&image, 1);
    let dir = TestDir::new("spec");
    let path = save_snapshot(&mut db, &SnapshotDir::new(dir.path()), &header(7)).expect("save");
    let written = std::fs::read(&path).expect("read");
    let body = handmade_entry(1, b"k", Some(0x0102), &byte_string(b"v"));
    let expected = {
        let mut file = handmade_file(7, &body, 1);
        // handmade_file writes fragment 9, epoch 2: use this test's header.
        file[12..16].copy_from_slice(&3u32.to_le_bytes());
        file[24..32].copy_from_slice(&5u64.to_le_bytes());
        common::reseal(&mut file);
        file
    };
    assert_eq!(written, expected);
}

/// The way a node runs it: the executor keeps writing and steps the
/// snapshot between commands, a thread writes the file.
#[test]
fn a_snapshot_written_from_a_thread_while_writes_go_on_is_the_image_at_its_start() {
    let dir = TestDir::new("threaded");
    let expected = awkward_image();
    let mut db = build_db(&expected, 21);

    let (chunks, received) = mpsc::sync_channel::<EncodedChunk>(16);
    let snapshot_dir = dir.path().to_path_buf();
    let writer = thread::spawn(move || {
        let mut writer = SnapshotWriter::create(&snapshot_dir, &header(99))?;
        for chunk in received {
            writer.write_chunk(&chunk)?;
        }
        writer.finish()
    });

    db.begin_snapshot();
    let mut encoder = SnapshotEncoder::new();
    let mut round = 0u32;
    loop {
        // Between commands: a few writes of every kind...
        round += 1;
        let key = format!("small:{}", round % 2_500);
        db.set(key.as_bytes(), Value::Str(StrValue::new(b"changed")), false);
        db.remove(format!("small:{}", (round * 7) % 2_000).as_bytes());
        if let Some(Value::List(list)) = db.get_mut(b"big list") {
            list.pop_back();
        }
        if round == 50 {
            drop(db.flush());
        }
        // ...then one bounded step.
        let more = db.snapshot_step(64, &mut |entry| encoder.push(&entry).expect("encodable"));
        chunks
            .send(encoder.take_chunk())
            .expect("the writer is running");
        if !more {
            break;
        }
    }
    drop(chunks);
    let path = writer.join().expect("writer thread").expect("written");
    assert_eq!(file_image(&path), expected);
}

/// The writer and a verified snapshot move to a background thread; chunks
/// travel from the executor to it.
#[test]
fn the_pieces_that_cross_threads_can() {
    fn sendable<T: Send>() {}
    sendable::<SnapshotWriter>();
    sendable::<EncodedChunk>();
    sendable::<daisy_snapshot::LoadedSnapshot>();
    sendable::<daisy_snapshot::SnapshotDir>();
}
