//! The Raft log on a real file system that fills up: a voter whose disk is
//! full waits for room instead of failing its Raft for good, and its log
//! holds no torn record afterwards. Needs root (mount, losetup); without it
//! the test says loudly that it did not run.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::test_dir;
use daisy_coordinator::LogStore;
use openraft::storage::RaftLogStorage;

/// Size of the file system (the image is sparse).
const IMAGE_BYTES: u64 = 32 * 1024 * 1024;
/// How long the disk stays full.
const FULL_FOR: Duration = Duration::from_millis(1000);
/// Votes saved meanwhile: far more than fit in the log's last block.
const VOTES: u64 = 400;
/// Bound on the filler's writes.
const FILL_WRITES_MAX: usize = 1 << 16;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|uids| uids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A small ext4 file system on a loop device, unmounted and detached on
/// drop.
struct Disk {
    mount_point: PathBuf,
    device: String,
}

impl Disk {
    fn new(dir: &Path) -> Disk {
        std::fs::create_dir_all(dir).expect("test dir");
        let image = dir.join("disk.img");
        File::create(&image)
            .and_then(|f| f.set_len(IMAGE_BYTES))
            .expect("image");
        let image = image.display().to_string();
        run("mkfs.ext4", &["-q", "-F", "-m", "0", &image]);
        let device = run("losetup", &["-f", "--show", &image]);
        let mount_point = dir.join("fs");
        std::fs::create_dir_all(&mount_point).expect("mount point");
        let disk = Disk {
            mount_point,
            device,
        };
        run(
            "mount",
            &[&disk.device, &disk.mount_point.display().to_string()],
        );
        disk
    }

    fn filler(&self) -> PathBuf {
        self.mount_point.join("filler")
    }

    /// Writes until the file system answers ENOSPC.
    fn fill(&self) {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.filler())
            .expect("filler");
        let mut writes = 0;
        for chunk in [1 << 20, 4 << 10] {
            let zeros = vec![0u8; chunk];
            loop {
                writes += 1;
                assert!(writes < FILL_WRITES_MAX, "the disk never filled up");
                match file.write(&zeros) {
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(28) => break,
                    Err(e) => panic!("filler: {e}"),
                }
            }
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let target = self.mount_point.display().to_string();
        let _ = Command::new("umount").arg(&target).status();
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voter_waits_out_a_full_disk_and_keeps_a_clean_log() {
    if !is_root() {
        eprintln!("\n!!!! SKIPPED: filling a real disk needs root (mount, losetup) !!!!\n");
        return;
    }
    let root = test_dir("full-disk");
    let disk = Disk::new(&root);
    let dir = disk.mount_point.join("raft");
    let mut store = LogStore::open(&dir).expect("open the raft log");

    // The disk fills up, and gets room again a second later.
    disk.fill();
    let filler = disk.filler();
    let mount_point = disk.mount_point.display().to_string();
    let emptier = std::thread::spawn(move || {
        std::thread::sleep(FULL_FOR);
        std::fs::remove_file(&filler).expect("remove filler");
        run("sync", &["-f", &mount_point]);
    });

    // Meanwhile the voter saves votes. One of them needs a new block and
    // finds none: it must wait for room, not fail.
    let mut longest = Duration::ZERO;
    for term in 1..=VOTES {
        let started = Instant::now();
        let saved = store.save_vote(&openraft::Vote::new(term, 1)).await;
        assert!(saved.is_ok(), "vote {term} failed: {saved:?}");
        longest = longest.max(started.elapsed());
    }
    emptier.join().expect("emptier");
    assert!(
        longest >= FULL_FOR / 2,
        "no vote waited for the full disk (longest {longest:?}): the test did not fill it"
    );

    // The log holds every vote, and no torn record in its middle.
    drop(store);
    let reopened = LogStore::open(&dir).expect("reopen the raft log");
    assert_eq!(reopened.vote(), Some(openraft::Vote::new(VOTES, 1)));
    drop(reopened);
    drop(disk);
    let _ = std::fs::remove_dir_all(&root);
}
