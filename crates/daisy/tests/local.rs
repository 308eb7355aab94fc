//! `daisy local`: a whole cluster from one command, stopped by Ctrl-C, and
//! never outliving the command.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::{temp_dir, Resp, RespConn, XorShift};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// A base port whose two client ports and three peer ports (two nodes and
/// the arbiter) are free now.
fn free_base_port() -> u16 {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut random = XorShift::new(u64::from(std::process::id()) * 1_000 + call);
    for _ in 0..200 {
        // Below Linux's ephemeral range (32768+), where `free_port()` of
        // other tests and outgoing connections take their ports.
        let base = 10_000 + random.below(20_000) as u16;
        let free = [base, base + 1, base + 1000, base + 1001, base + 1002]
            .iter()
            .all(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free base port found");
}

struct Local {
    child: Child,
    base: u16,
    banner: String,
    dir: std::path::PathBuf,
}

impl Local {
    fn start(label: &str) -> Local {
        let base = free_base_port();
        let dir = temp_dir(label);
        let mut child = Command::new(env!("CARGO_BIN_EXE_daisy"))
            .args(["local", "--base-port", &base.to_string(), "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("daisy local starts");
        let stdout = child.stdout.take().expect("piped");
        let (lines, received) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        let deadline = Instant::now() + START_TIMEOUT;
        while !banner.contains("Ctrl-C stops every node") {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    banner.push_str(&line);
                    banner.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("daisy local printed no banner in time; got:\n{banner}");
                }
            }
        }
        Local {
            child,
            base,
            banner,
            dir,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn wait_exit(&mut self) {
        let deadline = Instant::now() + STOP_TIMEOUT;
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "daisy local did not exit");
            thread::sleep(POLL);
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn wait_closed(port: u16) {
    let deadline = Instant::now() + STOP_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "port {port} still open");
        thread::sleep(POLL);
    }
}

#[test]
fn daisy_local_runs_a_replicated_pair_until_ctrl_c() {
    let mut local = Local::start("local-pair");
    assert!(local
        .banner
        .contains(&format!("redis-cli -p {}", local.base)));
    let mut primary = RespConn::connect(local.base);
    assert_eq!(
        primary.call(&["SET", "k", "v"]).expect("SET"),
        Resp::Simple(b"OK".to_vec()),
        "a 2-safe write through the pair"
    );
    let Resp::Bulk(info) = primary.call(&["INFO", "replication"]).expect("INFO") else {
        panic!("INFO is a bulk string");
    };
    let info = String::from_utf8_lossy(&info);
    for field in [
        "coordinator:on",
        "lease:held",
        "arbiter=arbiter",
        "n2=in-sync",
    ] {
        assert!(info.contains(field), "no {field} in\n{info}");
    }
    let mut secondary = RespConn::connect(local.base + 1);
    secondary.call(&["READONLY"]).expect("READONLY");
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match secondary.call(&["GET", "k"]).expect("GET") {
            Resp::Bulk(value) if value == b"v" => break,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "the secondary never had k: {other}"
                );
                thread::sleep(POLL);
            }
        }
    }
    local.signal("INT");
    local.wait_exit();
    wait_closed(local.base);
    wait_closed(local.base + 1);
    wait_closed(local.base + 1002);
}

#[test]
fn nodes_do_not_outlive_a_killed_daisy_local() {
    let mut local = Local::start("local-killed");
    local.signal("KILL");
    local.wait_exit();
    wait_closed(local.base);
    wait_closed(local.base + 1);
    wait_closed(local.base + 1002);
}
