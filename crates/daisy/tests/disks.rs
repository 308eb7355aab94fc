//! Real disk faults on one member of a cluster: the member's data
//! directory is an ext4 file system of its own on a loop device, filled to
//! the last block while the cluster runs. Needs root (mount, losetup);
//! without it each test says loudly that it did not run.

mod support;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{free_port, spawn_daisy_in, temp_dir, Resp, RespConn, ServerProcess};

/// Size of the member's file system.
const IMAGE_BYTES: u64 = 128 * 1024 * 1024;
/// How long the cluster may take to form, or to take a member back.
const SETTLE: Duration = Duration::from_secs(30);
/// How long 2-safe writes may stall once a secondary's disk is full: the
/// sync timeout, the coordinator's removal, and margin.
const STALL_MAX: Duration = Duration::from_secs(6);
const POLL: Duration = Duration::from_millis(20);
/// Bound on the filler's writes (1 MiB, then 4 KiB chunks).
const FILL_WRITES_MAX: usize = 1 << 16;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
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
    fn new(dir: &Path, name: &str) -> Disk {
        let image = dir.join(format!("{name}.img"));
        File::create(&image)
            .and_then(|f| f.set_len(IMAGE_BYTES))
            .expect("image");
        let image = image.display().to_string();
        run("mkfs.ext4", &["-q", "-F", "-m", "0", &image]);
        let device = run("losetup", &["-f", "--show", &image]);
        let mount_point = dir.join(format!("{name}-fs"));
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

    fn data_dir(&self) -> PathBuf {
        self.mount_point.join("data")
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
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                    Err(e) => panic!("filler: {e}"),
                }
            }
        }
    }

    fn empty(&self) {
        std::fs::remove_file(self.filler()).expect("remove filler");
        run("sync", &["-f", &self.mount_point.display().to_string()]);
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let target = self.mount_point.display().to_string();
        let _ = Command::new("umount").arg(&target).status();
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

/// Two data nodes and an arbiter at 2-safe; the data of member `on_disk`
/// (0 for n1, the first primary; 1 for n2) on `disk`.
struct Cluster {
    ports: [u16; 2],
    processes: Vec<ServerProcess>,
}

impl Cluster {
    fn start(root: &Path, disk: &Disk, on_disk: usize) -> Cluster {
        let ports = [free_port(), free_port()];
        let peers = [free_port(), free_port(), free_port()];
        let members = format!(
            "n1=127.0.0.1:{},n2=127.0.0.1:{},arb=127.0.0.1:{}/arbiter",
            peers[0], peers[1], peers[2]
        );
        let shared = [
            "--members",
            &members,
            "--primary",
            "n1",
            "--safeness",
            "2-safe",
            "--fsync",
            "always",
        ];
        let mut processes = Vec::new();
        let dir = |i: usize, name: &str| {
            if i == on_disk {
                disk.data_dir()
            } else {
                root.join(name)
            }
        };
        for (name, dir, port, peer, arbiter) in [
            ("n1", dir(0, "n1"), ports[0], peers[0], false),
            ("n2", dir(1, "n2"), ports[1], peers[1], false),
            ("arb", root.join("arb"), peers[2], peers[2], true),
        ] {
            let peer_addr = format!("127.0.0.1:{peer}");
            let mut args = vec!["--node-id", name, "--peer-addr", &peer_addr];
            if arbiter {
                args.push("--arbiter");
            }
            args.extend(shared);
            let process = spawn_daisy_in(&dir, port, &args)
                .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
            processes.push(process);
        }
        Cluster { ports, processes }
    }

    /// n1's in-sync set, while it serves as primary.
    fn in_sync(&self) -> Option<String> {
        self.in_sync_of(0)
    }

    /// Member `i`'s in-sync set, while it serves as primary.
    fn in_sync_of(&self, i: usize) -> Option<String> {
        let mut conn = RespConn::try_connect(self.ports[i], Duration::from_millis(300)).ok()?;
        conn.set_read_timeout(Duration::from_millis(500)).ok()?;
        let Resp::Bulk(text) = conn.call(&["INFO", "replication"]).ok()? else {
            return None;
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        (field("role:")? == "master" && field("lease:")? == "held")
            .then(|| field("in_sync:").unwrap_or_default())
    }

    fn wait_in_sync(&self, expected: bool) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let set = self.in_sync();
            if set
                .as_deref()
                .is_some_and(|s| s.split(',').any(|n| n == "n2") == expected)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "n2 {} the in-sync set within {SETTLE:?} (n1's set: {set:?}); n2's log:\n{}",
                if expected {
                    "did not rejoin"
                } else {
                    "never left"
                },
                self.processes[1].log_tail(30)
            );
            std::thread::sleep(POLL);
        }
    }

    /// A SET on n1, with a bound on the wait.
    fn set(&self, key: &str, value: &str, timeout: Duration) -> Option<Resp> {
        self.call(0, &["SET", key, value], timeout)
    }

    /// A command to member `i`, with a bound on the wait.
    fn call(&self, i: usize, argv: &[&str], timeout: Duration) -> Option<Resp> {
        let mut conn = RespConn::try_connect(self.ports[i], timeout).ok()?;
        conn.set_read_timeout(timeout).ok()?;
        conn.call(argv).ok()
    }
}

#[test]
fn a_secondary_with_a_full_disk_leaves_the_in_sync_set_and_writes_go_on() {
    if !is_root() {
        eprintln!("\n!!!! SKIPPED: filling a real disk needs root (mount, losetup) !!!!\n");
        return;
    }
    let root = temp_dir("full-secondary");
    let disk = Disk::new(&root, "n2");
    let cluster = Cluster::start(&root, &disk, 1);
    // The cluster forms with n2 in the in-sync set: every write waits for it.
    cluster.wait_in_sync(true);
    for i in 0..50 {
        let reply = cluster.set(&format!("before{i}"), "1", Duration::from_secs(5));
        assert_eq!(reply, Some(Resp::Simple(b"OK".to_vec())), "write {i}");
    }
    // n2's file system fills up: it keeps its connection and goes on
    // acknowledging, but never a record more. The primary must see that
    // as silence, have the coordinator drop n2, and take writes again.
    disk.fill();
    let filled = Instant::now();
    let mut acknowledged_after = None;
    let mut i = 0;
    while acknowledged_after.is_none() && filled.elapsed() < STALL_MAX {
        i += 1;
        let reply = cluster.set(&format!("during{i}"), "1", Duration::from_millis(500));
        if reply == Some(Resp::Simple(b"OK".to_vec()))
            && cluster.in_sync().is_some_and(|s| !s.contains("n2"))
        {
            acknowledged_after = Some(filled.elapsed());
        }
    }
    assert!(
        acknowledged_after.is_some(),
        "2-safe writes still stalled {STALL_MAX:?} after n2's disk filled up (n1's in-sync set: {:?})",
        cluster.in_sync()
    );
    // Once its disk has room again, n2 catches up and rejoins the set.
    disk.empty();
    cluster.wait_in_sync(true);
    let reply = cluster.set("after", "1", Duration::from_secs(5));
    assert_eq!(reply, Some(Resp::Simple(b"OK".to_vec())));
    drop(cluster);
    drop(disk);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_primary_with_a_full_disk_is_replaced_by_its_in_sync_secondary() {
    if !is_root() {
        eprintln!("\n!!!! SKIPPED: filling a real disk needs root (mount, losetup) !!!!\n");
        return;
    }
    let root = temp_dir("full-primary");
    let disk = Disk::new(&root, "n1");
    let cluster = Cluster::start(&root, &disk, 0);
    cluster.wait_in_sync(true);
    let ok = Some(Resp::Simple(b"OK".to_vec()));
    for i in 0..50 {
        let reply = cluster.set(&format!("before{i}"), "1", Duration::from_secs(5));
        assert_eq!(reply, ok, "write {i}");
    }
    // n1 cannot write its log: it refuses writes (-MISCONF) and says so in
    // its heartbeats; the coordinator hands the role to n2, which has
    // every acknowledged write.
    disk.fill();
    let filled = Instant::now();
    let mut i = 0;
    let mut acknowledged_by_n1 = Vec::new();
    let mut first_refused = None;
    let served_after = loop {
        i += 1;
        // A client tries the primary it knows first, then the other node.
        // n1's log's last block may still take a few records.
        let key = format!("during{i}");
        if cluster.call(0, &["SET", &key, "1"], Duration::from_millis(500)) == ok {
            acknowledged_by_n1.push(key.clone());
        } else {
            first_refused.get_or_insert_with(Instant::now);
        }
        let reply = cluster.call(1, &["SET", &key, "1"], Duration::from_millis(500));
        if reply == ok {
            break filled.elapsed();
        }
        assert!(
            filled.elapsed() < STALL_MAX,
            "n2 took no write {STALL_MAX:?} after n1's disk filled up (last reply {reply:?}); n1's log:\n{}",
            cluster.processes[0].log_tail(30)
        );
        std::thread::sleep(POLL);
    };
    eprintln!(
        "n2 took writes {} ms after n1's disk filled up, {} ms after n1 first refused one",
        served_after.as_millis(),
        first_refused.map_or(0, |t: Instant| t.elapsed().as_millis())
    );
    let before = (0..50).map(|i| format!("before{i}"));
    for key in before.chain(acknowledged_by_n1) {
        let reply = cluster.call(1, &["GET", &key], Duration::from_secs(5));
        assert_eq!(reply, Some(Resp::Bulk(b"1".to_vec())), "{key} on n2");
    }
    // With room again, n1 follows n2 and rejoins its in-sync set.
    disk.empty();
    let deadline = Instant::now() + SETTLE;
    while !cluster
        .in_sync_of(1)
        .is_some_and(|s| s.split(',').any(|n| n == "n1"))
    {
        assert!(
            Instant::now() < deadline,
            "n1 never rejoined n2's in-sync set"
        );
        std::thread::sleep(POLL);
    }
    drop(cluster);
    drop(disk);
    let _ = std::fs::remove_dir_all(&root);
}
