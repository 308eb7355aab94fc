//! A damaged snapshot is refused with an error naming the file and the
//! byte offset, before anything is applied; the directory logic skips it.

mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{build_db, byte_string, handmade_entry, handmade_file, reseal, Image, Repr, TestDir};
use daisy_keyspace::Db;
use daisy_snapshot::{
    load_snapshot, newest_valid_snapshot, remove_older_than, save_snapshot, snapshot_file_name,
    Corruption, ExpiredOnLoad, LoadError, OsStorage, ReadFile, SaveError, SnapshotDir,
    SnapshotHeader, SnapshotWriter, Storage, WriteFile,
};

fn header(lsn: u64) -> SnapshotHeader {
    SnapshotHeader {
        fragment_id: 1,
        lsn,
        epoch: 1,
        created_ms: 0,
    }
}

/// A small keyspace with every type, so every part of the format appears
/// in a file of a few hundred bytes.
fn small_image() -> Image {
    let mut image = Image::new();
    image.insert(b"s".to_vec(), (Repr::Str(b"value".to_vec()), Some(1_000)));
    image.insert(
        b"l".to_vec(),
        (Repr::List(vec![b"a".to_vec(), b"".to_vec()]), None),
    );
    image.insert(
        b"h".to_vec(),
        (Repr::Hash([(b"f".to_vec(), b"v".to_vec())].into()), None),
    );
    image.insert(b"t".to_vec(), (Repr::Set([b"m".to_vec()].into()), None));
    image.insert(
        b"z".to_vec(),
        (
            Repr::ZSet([(b"m".to_vec(), (-0.0f64).to_bits())].into()),
            None,
        ),
    );
    image
}

fn saved_small_snapshot(dir: &TestDir, lsn: u64) -> std::path::PathBuf {
    let mut db = build_db(&small_image(), 1);
    save_snapshot(&mut db, &SnapshotDir::new(dir.path()), &header(lsn)).expect("save")
}

/// Loads `path` completely; the error if any step refuses it.
fn load_fully(path: &Path) -> Result<Db, LoadError> {
    let mut db = Db::new(1);
    load_snapshot(path)?.apply_to(&mut db, ExpiredOnLoad::Keep)?;
    Ok(db)
}

fn corruption_of(result: Result<Db, LoadError>) -> (u64, Corruption) {
    match result {
        Ok(_) => panic!("a damaged snapshot was accepted"),
        Err(LoadError::Corrupt {
            offset, problem, ..
        }) => (offset, problem),
        Err(error) => panic!("expected corruption, got {error}"),
    }
}

#[test]
fn every_flipped_byte_is_detected_before_anything_is_applied() {
    let dir = TestDir::new("flip");
    let path = saved_small_snapshot(&dir, 1);
    let good = std::fs::read(&path).expect("read");
    assert!(load_fully(&path).is_ok());
    for position in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut bad = good.clone();
            bad[position] ^= mask;
            std::fs::write(&path, &bad).expect("write");
            // Pass 1 alone must refuse it: nothing may be handed out.
            let error = match load_snapshot(&path) {
                Ok(_) => panic!("flip {mask:#04x} at byte {position} not detected"),
                Err(error) => error,
            };
            assert!(error.offset() <= good.len() as u64);
            assert_eq!(error.path(), path);
        }
    }
}

#[test]
fn truncated_files_are_refused() {
    let dir = TestDir::new("truncate");
    let path = saved_small_snapshot(&dir, 1);
    let good = std::fs::read(&path).expect("read");
    for len in 0..good.len() {
        std::fs::write(&path, &good[..len]).expect("write");
        let (_, problem) = corruption_of(load_fully(&path));
        if len < 65 {
            assert_eq!(
                problem,
                Corruption::TooShort {
                    file_len: len as u64
                }
            );
        }
    }
}

#[test]
fn wrong_magic_version_or_flags_are_named() {
    let dir = TestDir::new("magic");
    let path = saved_small_snapshot(&dir, 1);
    let good = std::fs::read(&path).expect("read");

    let mut bad = good.clone();
    bad[0..8].copy_from_slice(b"REDIS001");
    std::fs::write(&path, &bad).expect("write");
    assert_eq!(corruption_of(load_fully(&path)), (0, Corruption::BadMagic));

    let mut bad = good.clone();
    bad[8..10].copy_from_slice(&2u16.to_le_bytes());
    reseal(&mut bad);
    std::fs::write(&path, &bad).expect("write");
    assert_eq!(
        corruption_of(load_fully(&path)),
        (8, Corruption::UnsupportedVersion { version: 2 })
    );

    let mut bad = good.clone();
    bad[10] = 1;
    reseal(&mut bad);
    std::fs::write(&path, &bad).expect("write");
    assert_eq!(
        corruption_of(load_fully(&path)),
        (10, Corruption::UnknownHeaderFlags { flags: 1 })
    );

    let mut bad = good.clone();
    let end = bad.len();
    bad[end - 8..].copy_from_slice(b"DAISYEN?");
    std::fs::write(&path, &bad).expect("write");
    let (offset, problem) = corruption_of(load_fully(&path));
    assert_eq!(
        (offset, problem),
        (end as u64 - 8, Corruption::MissingEndMagic)
    );

    let error = load_fully(&path).err().expect("refused");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains(&format!("byte {}", end - 8)), "{message}");
}

/// Files whose checksums are right but whose entries are not: a writer bug
/// or a forged file. Each is refused with its own reason and offset.
#[test]
fn well_sealed_but_invalid_entries_are_refused() {
    let dir = TestDir::new("invalid");
    let path = dir.path().join(snapshot_file_name(5));
    let check = |body: Vec<u8>, count: u64, expected: Corruption, offset: u64| {
        std::fs::write(&path, handmade_file(5, &body, count)).expect("write");
        assert_eq!(corruption_of(load_fully(&path)), (offset, expected));
    };
    let string = |key: &[u8]| handmade_entry(1, key, None, &byte_string(b"v"));

    check(
        handmade_entry(9, b"k", None, b""),
        1,
        Corruption::UnknownType { tag: 9 },
        44,
    );
    let mut flags = string(b"k");
    flags[1] = 0x02;
    check(flags, 1, Corruption::UnknownEntryFlags { flags: 2 }, 45);
    check(
        handmade_entry(2, b"k", None, &0u64.to_le_bytes()),
        1,
        Corruption::EmptyAggregate,
        44 + 2 + 4 + 1,
    );
    check(
        [string(b"k"), string(b"k")].concat(),
        2,
        Corruption::DuplicateKey,
        44 + 12,
    );
    let members = [
        0u64.to_le_bytes().to_vec(),
        byte_string(b"m"),
        byte_string(b"m"),
    ]
    .concat();
    let mut set = handmade_entry(3, b"k", None, &members);
    set[7..15].copy_from_slice(&2u64.to_le_bytes());
    check(set, 1, Corruption::DuplicateElement, 44 + 7 + 8 + 5);
    let zset = [
        1u64.to_le_bytes().to_vec(),
        byte_string(b"m"),
        f64::NAN.to_bits().to_le_bytes().to_vec(),
    ]
    .concat();
    check(
        handmade_entry(5, b"k", None, &zset),
        1,
        Corruption::NanScore,
        44 + 7 + 8 + 5,
    );
    check(
        string(b"k"),
        2,
        Corruption::EntryCount {
            stored: 2,
            parsed: 1,
        },
        44 + 12 + 1,
    );
    check(
        vec![0xFF, 1, 2, 3],
        0,
        Corruption::EndTagEarly { remaining: 4 },
        44,
    );
    // A string whose length runs into the trailer.
    let short = handmade_entry(1, b"k", None, &[10, 0, 0, 0, b'a', b'b']);
    check(
        short,
        1,
        Corruption::LengthPastEnd {
            what: "string value",
            len: 10,
            remaining: 2,
        },
        44 + 7,
    );
    // An entry cut in the middle of its key length.
    check(
        vec![1, 0, 5],
        1,
        Corruption::PastEndOfEntries {
            needed: 4,
            remaining: 1,
        },
        46,
    );
}

#[test]
fn huge_bogus_lengths_are_refused_without_allocating() {
    // The counting allocator lives in its own test binary (allocation.rs);
    // here, the reasons and offsets.
    let dir = TestDir::new("huge");
    let path = dir.path().join(snapshot_file_name(5));
    let check = |body: Vec<u8>, expected: Corruption, offset: u64| {
        std::fs::write(&path, handmade_file(5, &body, 1)).expect("write");
        assert_eq!(corruption_of(load_fully(&path)), (offset, expected));
    };
    let mut key = vec![1, 0];
    key.extend_from_slice(&u32::MAX.to_le_bytes());
    check(
        key,
        Corruption::LengthPastEnd {
            what: "key",
            len: u64::from(u32::MAX),
            remaining: 0,
        },
        46,
    );
    check(
        handmade_entry(2, b"k", None, &u64::MAX.to_le_bytes()),
        Corruption::LengthOverLimit {
            what: "list",
            len: u64::MAX,
            limit: u64::from(u32::MAX),
        },
        51,
    );
    check(
        handmade_entry(4, b"k", None, &(1u64 << 31).to_le_bytes()),
        Corruption::LengthPastEnd {
            what: "hash",
            len: 1 << 31,
            remaining: 0,
        },
        51,
    );
}

#[test]
fn the_newest_valid_snapshot_is_chosen_and_damaged_ones_reported() {
    let dir = TestDir::new("newest");
    for lsn in [10, 20, 30] {
        saved_small_snapshot(&dir, lsn);
    }
    // 30 is damaged; 40 holds the bytes of 10 under another name; a
    // temporary file was left by a crash.
    let thirty = dir.path().join(snapshot_file_name(30));
    let mut bytes = std::fs::read(&thirty).expect("read");
    bytes[60] ^= 0x10;
    std::fs::write(&thirty, &bytes).expect("write");
    std::fs::copy(
        dir.path().join(snapshot_file_name(10)),
        dir.path().join(snapshot_file_name(40)),
    )
    .expect("copy");
    std::fs::write(
        dir.path().join("snapshot-00000000000000000050.tmp"),
        b"partial",
    )
    .expect("write");

    let choice = newest_valid_snapshot(dir.path()).expect("list");
    let newest = choice.newest.expect("a valid snapshot");
    assert_eq!(newest.header().lsn, 20);
    assert_eq!(choice.damaged.len(), 2);
    assert_eq!(
        choice.damaged[0].corruption(),
        Some(&Corruption::LsnMismatch {
            name_lsn: 40,
            header_lsn: 10
        })
    );
    assert_eq!(choice.damaged[1].path(), thirty);
    assert!(matches!(
        choice.damaged[1].corruption(),
        Some(Corruption::FileChecksum { .. })
    ));
    let mut db = Db::new(1);
    newest.apply_to(&mut db, ExpiredOnLoad::Keep).expect("load");
    assert_eq!(db.len(), small_image().len());

    let removed = remove_older_than(dir.path(), 20).expect("remove");
    assert_eq!(removed, vec![dir.path().join(snapshot_file_name(10))]);
    let removed = SnapshotDir::new(dir.path())
        .remove_temporaries()
        .expect("remove");
    assert_eq!(removed.len(), 1);
    assert_eq!(
        dir.files(),
        vec![
            snapshot_file_name(20),
            snapshot_file_name(30),
            snapshot_file_name(40)
        ]
    );
}

#[test]
fn an_empty_directory_has_no_snapshot() {
    let dir = TestDir::new("none");
    let choice = newest_valid_snapshot(dir.path()).expect("list");
    assert!(choice.newest.is_none() && choice.damaged.is_empty());
}

/// The OS file system, except that writes fail once `budget` bytes were
/// written (a full disk), or renames fail.
struct FailingStorage {
    budget: Arc<AtomicU64>,
    fail_rename: bool,
}

struct BudgetFile {
    inner: Box<dyn WriteFile>,
    budget: Arc<AtomicU64>,
}

impl io::Write for BudgetFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let left = self.budget.load(Ordering::Relaxed);
        if (bytes.len() as u64) > left {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        self.budget.fetch_sub(bytes.len() as u64, Ordering::Relaxed);
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl WriteFile for BudgetFile {
    fn sync(&mut self) -> io::Result<()> {
        self.inner.sync()
    }
}

impl Storage for FailingStorage {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WriteFile>> {
        Ok(Box::new(BudgetFile {
            inner: OsStorage.create(path)?,
            budget: self.budget.clone(),
        }))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn ReadFile>> {
        OsStorage.open(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        if self.fail_rename {
            return Err(io::Error::other("rename refused"));
        }
        OsStorage.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        OsStorage.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        OsStorage.sync_dir(dir)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        OsStorage.list(dir)
    }
}

#[test]
fn a_failed_write_or_rename_installs_nothing_and_leaves_the_db_usable() {
    for (budget, fail_rename) in [(100, false), (u64::MAX, true)] {
        let dir = TestDir::new("failing");
        let storage = FailingStorage {
            budget: Arc::new(AtomicU64::new(budget)),
            fail_rename,
        };
        let snapshots = SnapshotDir::with_storage(Arc::new(storage), dir.path());
        let mut image = small_image();
        for i in 0..5_000u32 {
            image.insert(format!("k{i}").into_bytes(), (Repr::Str(vec![7; 30]), None));
        }
        let mut db = build_db(&image, 1);
        let error = save_snapshot(&mut db, &snapshots, &header(1)).expect_err("must fail");
        let SaveError::Storage(error) = error else {
            panic!("expected a storage error, got {error}");
        };
        assert_eq!(error.action, if fail_rename { "rename" } else { "write" });
        assert!(dir.files().is_empty(), "left behind: {:?}", dir.files());
        assert!(!db.snapshot_in_progress());
        assert_eq!(db.len(), image.len());
    }
}

#[test]
fn an_aborted_or_dropped_writer_removes_its_temporary_file() {
    let dir = TestDir::new("abort");
    let writer = SnapshotWriter::create(dir.path(), &header(3)).expect("create");
    assert_eq!(
        dir.files(),
        vec!["snapshot-00000000000000000003.tmp".to_string()]
    );
    writer.abort().expect("abort");
    assert!(dir.files().is_empty());
    drop(SnapshotWriter::create(dir.path(), &header(4)).expect("create"));
    assert!(dir.files().is_empty());
}
