//! Durability of a single node, as clients see it: acknowledged writes
//! survive SIGKILL at any moment, a torn log tail is cut, a damaged log
//! stops the node with the file and offset, a damaged snapshot is skipped.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::{spawn_daisy, temp_dir, Resp, RespConn, ServerProcess, XorShift};

/// Crash rounds per run; `DAISY_CRASH_ROUNDS` raises it for a longer soak.
const CRASH_ROUNDS_DEFAULT: usize = 8;
const WRITERS: usize = 12;
const COUNTERS: usize = 4;
/// How long a node may take to exit after being told to (or failing).
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

fn start(data_dir: &Path, extra: &[&str]) -> ServerProcess {
    let dir = data_dir.to_str().expect("utf-8 path");
    let mut args = vec!["--data-dir", dir];
    args.extend_from_slice(extra);
    spawn_daisy(&args)
}

fn call(conn: &mut RespConn, argv: &[&str]) -> Resp {
    conn.call(argv)
        .unwrap_or_else(|e| panic!("{argv:?} failed: {e}"))
}

/// What the writers saw acknowledged, for checking after the crash.
#[derive(Default)]
struct Acknowledged {
    /// Key -> value of every SET that got +OK.
    sets: HashMap<String, String>,
    /// Counter -> INCRs acknowledged, and INCRs sent in all.
    incrs_acked: [u64; COUNTERS],
    incrs_sent: [u64; COUNTERS],
}

/// One writer: SETs unique keys and INCRs shared counters until the
/// connection breaks or `stop` is set; records what was acknowledged.
fn writer(
    port: u16,
    round: usize,
    id: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acknowledged>>,
) {
    let Ok(mut conn) = RespConn::try_connect(port, Duration::from_secs(2)) else {
        return;
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) && i < 1_000_000 {
        let key = format!("r{round}:w{id}:{i}");
        let value = format!("v{i}");
        match conn.call(&["SET", &key, &value]) {
            Ok(Resp::Simple(ok)) if ok == b"OK" => {
                acked.lock().unwrap().sets.insert(key, value);
            }
            _ => return,
        }
        let counter = (id + i as usize) % COUNTERS;
        acked.lock().unwrap().incrs_sent[counter] += 1;
        match conn.call(&["INCR", &format!("counter:{counter}")]) {
            Ok(Resp::Int(_)) => acked.lock().unwrap().incrs_acked[counter] += 1,
            _ => return,
        }
        i += 1;
    }
}

/// Many writers hammer a node that is killed with SIGKILL at a random
/// moment, round after round, with snapshots taken along the way. After
/// each restart every acknowledged SET is there with its value, and every
/// counter is at least its acknowledged INCRs and at most those sent.
#[test]
fn every_acknowledged_write_survives_sigkill() {
    let seed = std::env::var("DAISY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64);
    let rounds = std::env::var("DAISY_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CRASH_ROUNDS_DEFAULT);
    let reproduce = format!(
        "reproduce: DAISY_CRASH_SEED={seed} DAISY_CRASH_ROUNDS={rounds} cargo test -p daisy --test durability every_acknowledged"
    );
    let mut random = XorShift::new(seed);
    let data_dir = temp_dir("crash-data");
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    // Small thresholds so snapshots and segment changes happen mid-run.
    let extra = [
        "--snapshot-log-bytes",
        "300kb",
        "--log-segment-bytes",
        "256kb",
    ];

    for round in 0..rounds {
        // Phase 1: the node comes back with everything acknowledged so far.
        let mut server = start(&data_dir, &extra);
        verify(
            &mut server.connect(),
            &acked.lock().unwrap(),
            &reproduce,
            round,
        );

        // Phase 2: writers run; the node dies under them.
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|id| {
                let (stop, acked) = (stop.clone(), acked.clone());
                let port = server.port;
                thread::spawn(move || writer(port, round, id, stop, acked))
            })
            .collect();
        let run_ms = 100 + random.next_u64() % 600;
        thread::sleep(Duration::from_millis(run_ms));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for handle in writers {
            handle.join().expect("writer thread");
        }
    }
    let server = start(&data_dir, &extra);
    let acked = acked.lock().unwrap();
    verify(&mut server.connect(), &acked, &reproduce, rounds);
    assert!(
        acked.sets.len() > rounds * 10,
        "too few writes were acknowledged to mean anything ({}); {reproduce}",
        acked.sets.len()
    );
    eprintln!(
        "crash test: {rounds} SIGKILLs, {} acknowledged SETs and {} INCRs verified (seed {seed})",
        acked.sets.len(),
        acked.incrs_acked.iter().sum::<u64>()
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

fn verify(conn: &mut RespConn, acked: &Acknowledged, reproduce: &str, round: usize) {
    for (key, value) in &acked.sets {
        let got = call(conn, &["GET", key]);
        assert_eq!(
            got,
            Resp::Bulk(value.as_bytes().to_vec()),
            "after crash {round}: acknowledged SET {key} lost; {reproduce}"
        );
    }
    for counter in 0..COUNTERS {
        let got = match call(conn, &["GET", &format!("counter:{counter}")]) {
            Resp::Bulk(text) => String::from_utf8(text).unwrap().parse::<u64>().unwrap(),
            Resp::NullBulk => 0,
            other => panic!("counter:{counter} is {other:?}"),
        };
        assert!(
            got >= acked.incrs_acked[counter] && got <= acked.incrs_sent[counter],
            "after crash {round}: counter:{counter} is {got}, acknowledged {}, sent {}; {reproduce}",
            acked.incrs_acked[counter],
            acked.incrs_sent[counter]
        );
    }
}

/// Writes a few keys and stops the node cleanly; returns the data dir.
fn prepared_data_dir(label: &str, keys: usize) -> PathBuf {
    let data_dir = temp_dir(label);
    let server = start(&data_dir, &[]);
    let mut conn = server.connect();
    for i in 0..keys {
        call(
            &mut conn,
            &["SET", &format!("key:{i}"), &format!("value:{i}")],
        );
    }
    drop(server);
    data_dir
}

fn segments(data_dir: &Path) -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(data_dir.join("log"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "seg"))
        .collect();
    list.sort();
    list
}

/// Runs `daisy server` expecting it to refuse to start; returns stderr.
fn start_expecting_failure(data_dir: &Path) -> String {
    let child = Command::new(env!("CARGO_BIN_EXE_daisy"))
        .args(["server", "--client-addr"])
        .arg(format!("127.0.0.1:{}", support::free_port()))
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run daisy");
    let started = Instant::now();
    let mut child = child;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the node started on a damaged log");
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return stderr;
        }
        if started.elapsed() > EXIT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the node neither started nor failed on a damaged log");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_damaged_log_record_stops_the_node_with_file_and_offset() {
    let data_dir = prepared_data_dir("corrupt-log", 50);
    let segment = segments(&data_dir).remove(0);
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&segment, &bytes).unwrap();

    let stderr = start_expecting_failure(&data_dir);
    let name = segment.file_name().unwrap().to_str().unwrap();
    assert!(
        stderr.contains(name),
        "the error must name the file: {stderr}"
    );
    assert!(
        stderr.contains("daisy check"),
        "the error must point at daisy check: {stderr}"
    );

    let check = Command::new(env!("CARGO_BIN_EXE_daisy"))
        .args(["check", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(
        !check.status.success(),
        "daisy check must report the damage"
    );
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        report.contains(name) && report.contains("DAMAGED"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn a_torn_last_record_is_cut_and_the_rest_recovered() {
    let data_dir = prepared_data_dir("torn-tail", 20);
    let segment = segments(&data_dir).pop().unwrap();
    // Half a record header: what a crash in the middle of a write leaves.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    std::io::Write::write_all(&mut file, &[0x10, 0, 0, 0, 0xde, 0xad]).unwrap();
    drop(file);

    let server = start(&data_dir, &[]);
    let mut conn = server.connect();
    for i in 0..20 {
        assert_eq!(
            call(&mut conn, &["GET", &format!("key:{i}")]),
            Resp::Bulk(format!("value:{i}").into_bytes())
        );
    }
    // Writing goes on after the cut.
    call(&mut conn, &["SET", "after", "cut"]);
    drop(server);
    let server = start(&data_dir, &[]);
    assert_eq!(
        call(&mut server.connect(), &["GET", "after"]),
        Resp::Bulk(b"cut".to_vec())
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn a_damaged_snapshot_is_skipped_and_the_log_rebuilds_the_data() {
    let data_dir = temp_dir("damaged-snapshot");
    let server = start(&data_dir, &[]);
    let mut conn = server.connect();
    for i in 0..30 {
        call(&mut conn, &["RPUSH", "list", &i.to_string()]);
    }
    assert_eq!(call(&mut conn, &["SAVE"]), Resp::Simple(b"OK".to_vec()));
    call(&mut conn, &["RPUSH", "list", "after-save"]);
    drop(server);

    let snapshot = std::fs::read_dir(data_dir.join("snapshots"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "snap"))
        .expect("SAVE installed a snapshot");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&snapshot, &bytes).unwrap();

    let server = start(&data_dir, &[]);
    let mut conn = server.connect();
    assert_eq!(call(&mut conn, &["LLEN", "list"]), Resp::Int(31));
    assert_eq!(
        call(&mut conn, &["LINDEX", "list", "-1"]),
        Resp::Bulk(b"after-save".to_vec())
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[test]
fn restart_after_snapshot_keeps_expiry_and_every_type() {
    let data_dir = temp_dir("snapshot-types");
    let server = start(&data_dir, &[]);
    let mut conn = server.connect();
    call(&mut conn, &["SET", "s", "v", "PX", "600000"]);
    call(&mut conn, &["HSET", "h", "f", "1"]);
    call(&mut conn, &["SADD", "set", "a", "b"]);
    call(&mut conn, &["ZADD", "z", "1.5", "m"]);
    call(&mut conn, &["SET", "short", "x", "PX", "300"]);
    assert_eq!(
        call(&mut conn, &["BGSAVE"]),
        Resp::Simple(b"Background saving started".to_vec())
    );
    // Changes while and after the snapshot land in the log.
    call(&mut conn, &["HSET", "h", "g", "2"]);
    call(&mut conn, &["INCR", "n"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = match call(&mut conn, &["INFO", "persistence"]) {
            Resp::Bulk(text) => String::from_utf8(text).unwrap(),
            other => panic!("INFO gave {other:?}"),
        };
        if info.contains("rdb_bgsave_in_progress:0") && !info.contains("snapshot_lsn:0\r") {
            break;
        }
        assert!(Instant::now() < deadline, "BGSAVE never finished: {info}");
        thread::sleep(Duration::from_millis(20));
    }
    drop(server);
    thread::sleep(Duration::from_millis(350));

    let server = start(&data_dir, &[]);
    let mut conn = server.connect();
    assert_eq!(call(&mut conn, &["GET", "s"]), Resp::Bulk(b"v".to_vec()));
    match call(&mut conn, &["PTTL", "s"]) {
        Resp::Int(ttl) => assert!(ttl > 500_000 && ttl <= 600_000, "ttl {ttl}"),
        other => panic!("PTTL gave {other:?}"),
    }
    assert_eq!(call(&mut conn, &["HLEN", "h"]), Resp::Int(2));
    assert_eq!(call(&mut conn, &["SCARD", "set"]), Resp::Int(2));
    assert_eq!(
        call(&mut conn, &["ZSCORE", "z", "m"]),
        Resp::Bulk(b"1.5".to_vec())
    );
    assert_eq!(call(&mut conn, &["GET", "n"]), Resp::Bulk(b"1".to_vec()));
    assert_eq!(call(&mut conn, &["EXISTS", "short"]), Resp::Int(0));
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// A tiny file system that fills up, for the disk-full test; unmounted on
/// drop. `None` where this process may not mount (not root).
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let path = temp_dir("small-disk");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(SmallDisk { path })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The log's file system fills up under a writer. Writes then fail with
/// -MISCONF, reads of acknowledged data go on, the write caught in the
/// full disk is not acknowledged until there is room again, and writing
/// resumes by itself once space is freed. Nothing acknowledged is lost.
#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_by_itself() {
    let Some(disk) = SmallDisk::mount(2 * 1024 * 1024) else {
        eprintln!("SKIPPED: cannot mount a small tmpfs here (needs root); the log crate's disk_full tests cover the logic");
        return;
    };
    // Ballast leaves the log about 200 KiB.
    let ballast = disk.path.join("ballast");
    std::fs::write(&ballast, vec![0u8; 1800 * 1024]).unwrap();
    let data_dir = disk.path.join("data");
    let extra = [
        "--snapshot-log-bytes",
        "0",
        "--snapshot-interval-secs",
        "0",
        "--log-segment-bytes",
        "64kb",
    ];
    let server = start(&data_dir, &extra);
    let port = server.port;

    // Phase 1: a writer fills the disk; its last write hangs, unacknowledged.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let acked = acked.clone();
        thread::spawn(move || {
            let mut conn = RespConn::connect(port);
            conn.set_read_timeout(Duration::from_secs(60)).unwrap();
            let value = "x".repeat(1024);
            for i in 0..10_000 {
                let key = format!("key:{i}");
                match conn.call(&["SET", &key, &value]) {
                    Ok(Resp::Simple(ok)) if ok == b"OK" => acked.lock().unwrap().push(key),
                    // Refused, or disconnected at the end of the test.
                    Ok(Resp::Error(_)) | Err(_) => return,
                    other => panic!("SET {key}: {other:?}"),
                }
            }
            panic!("10,000 writes of 1 KiB fit in a 2 MiB disk with 1.8 MiB of ballast");
        })
    };
    let mut observer = server.connect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = match call(&mut observer, &["INFO", "persistence"]) {
            Resp::Bulk(text) => String::from_utf8(text).unwrap(),
            other => panic!("INFO gave {other:?}"),
        };
        if !info.contains("log_status:ok") {
            break;
        }
        assert!(Instant::now() < deadline, "the disk never filled: {info}");
        thread::sleep(Duration::from_millis(20));
    }

    // Phase 2: writes are refused with a clear error; reads go on.
    let refusal = call(&mut observer, &["SET", "new", "value"]);
    let text = refusal
        .error_text()
        .unwrap_or_else(|| panic!("a write was accepted on a full disk: {refusal:?}"));
    assert!(text.starts_with("MISCONF"), "{text}");
    let first = acked
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("some writes were acknowledged");
    assert_eq!(
        call(&mut observer, &["GET", &first]),
        Resp::Bulk("x".repeat(1024).into_bytes())
    );

    // Phase 3: room again: the stuck write completes, writes resume.
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if call(&mut observer, &["SET", "after", "room"]) == Resp::Simple(b"OK".to_vec()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes never resumed after space was freed"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let _ = RespConn::connect(port).call(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]);
    let _ = writer.join();

    // Phase 4: everything acknowledged is there after a restart.
    drop(observer);
    drop(server);
    let server = start(&data_dir, &extra);
    let mut conn = server.connect();
    let acked = acked.lock().unwrap();
    for key in acked.iter() {
        assert_eq!(
            call(&mut conn, &["EXISTS", key]),
            Resp::Int(1),
            "{key} lost"
        );
    }
    assert_eq!(
        call(&mut conn, &["GET", "after"]),
        Resp::Bulk(b"room".to_vec())
    );
    drop(server);
    drop(disk);
}
