//! Automatic failover by the coordinator, with real processes on loopback:
//! SIGKILL of the primary under load (also when it leads the
//! coordinator), a primary paused past its lease, the arbiter's death, a
//! planned switchover with the automatic switch back, and a spare that
//! replaces a lost secondary.
//!
//! Every test drives writers that follow the primary the way a client
//! would (any error: try the next node), keeps the acknowledged writes,
//! and checks at the end that every one of them is on the final primary,
//! that no epoch ever had two primaries, and that the replicas converge.
//!
//! A partition is made with a forwarding proxy per directed pair of nodes
//! (`--peer-routes` sends each node's peer traffic through them), so
//! cutting the proxies to and from a node isolates it.
//!
//! `DAISY_FAILOVER_ROUNDS` sets how many primaries the kill test kills in
//! a row (default 6); `DAISY_FAILOVER_ROUNDS=30` for a long run.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::{free_port, spawn_daisy_in, temp_dir, Resp, RespConn, ServerProcess};

/// Primaries the kill test kills in a row.
const ROUNDS_DEFAULT: usize = 6;
/// Writers of the kill test.
const WRITERS: usize = 50;
/// How long any wait for the cluster may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);
/// How long writers run before a fault.
const LOAD_BEFORE_FAULT: Duration = Duration::from_millis(300);
/// A writer's pause before it tries the next node.
const RETRY_PAUSE: Duration = Duration::from_millis(2);
/// A client's read timeout (a paused node must not hang a writer).
const CLIENT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Keys per MGET when reading acknowledged writes back.
const READ_BATCH: usize = 500;

/// INFO replication as field -> value.
type Info = BTreeMap<String, String>;

fn info(port: u16) -> Option<Info> {
    let mut conn = RespConn::try_connect(port, Duration::from_millis(300)).ok()?;
    conn.set_read_timeout(Duration::from_millis(500)).ok()?;
    let Resp::Bulk(text) = conn.call(&["INFO", "replication"]).ok()? else {
        return None;
    };
    Some(
        String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|line| line.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect(),
    )
}

struct Member {
    name: String,
    /// The client port; for the arbiter, its peer port.
    port: u16,
    peer_port: u16,
    dir: PathBuf,
    arbiter: bool,
    /// `--peer-routes` for this member, when proxied.
    routes: Option<String>,
    process: Option<ServerProcess>,
}

struct Cluster {
    members: Vec<Member>,
    shared: Vec<String>,
    /// (from, to, proxy) for every directed pair, when proxied.
    proxies: Vec<(usize, usize, Proxy)>,
}

impl Cluster {
    /// `data` data nodes `n1..` (the last `spares` of them spares), an
    /// arbiter if asked, each started with `extra` flags.
    fn start(test: &str, data: usize, spares: usize, arbiter: bool, extra: &[&str]) -> Cluster {
        Cluster::start_with(test, data, spares, arbiter, false, extra)
    }

    fn start_with(
        test: &str,
        data: usize,
        spares: usize,
        arbiter: bool,
        proxied: bool,
        extra: &[&str],
    ) -> Cluster {
        let root = temp_dir(test);
        let mut members = Vec::new();
        for i in 1..=data {
            members.push(Member {
                name: format!("n{i}"),
                port: free_port(),
                peer_port: free_port(),
                dir: root.join(format!("n{i}")),
                arbiter: false,
                routes: None,
                process: None,
            });
        }
        if arbiter {
            let peer_port = free_port();
            members.push(Member {
                name: "arb".into(),
                port: peer_port,
                peer_port,
                dir: root.join("arb"),
                arbiter: true,
                routes: None,
                process: None,
            });
        }
        let list = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let kind = if m.arbiter {
                    "/arbiter"
                } else if i >= data - spares {
                    "/spare"
                } else {
                    ""
                };
                format!("{}=127.0.0.1:{}{kind}", m.name, m.peer_port)
            })
            .collect::<Vec<_>>()
            .join(",");
        let mut shared: Vec<String> = vec![
            "--members".into(),
            list,
            "--primary".into(),
            "n1".into(),
            "--fsync".into(),
            "no".into(),
            // Frequent snapshots keep a restart's log replay short after
            // many rounds of load.
            "--snapshot-log-bytes".into(),
            "4mb".into(),
        ];
        shared.extend(extra.iter().map(|s| s.to_string()));
        let mut proxies = Vec::new();
        if proxied {
            for from in 0..members.len() {
                let mut routes = Vec::new();
                for (to, target) in members.iter().enumerate() {
                    if from != to {
                        let proxy = Proxy::start(target.peer_port);
                        routes.push(format!("{}=127.0.0.1:{}", target.name, proxy.port));
                        proxies.push((from, to, proxy));
                    }
                }
                members[from].routes = Some(routes.join(","));
            }
        }
        let mut cluster = Cluster {
            members,
            shared,
            proxies,
        };
        for i in 0..cluster.members.len() {
            cluster.start_member(i);
        }
        cluster
    }

    fn start_member(&mut self, i: usize) {
        let member = &self.members[i];
        let mut args: Vec<String> = vec![
            "--node-id".into(),
            member.name.clone(),
            "--peer-addr".into(),
            format!("127.0.0.1:{}", member.peer_port),
        ];
        if member.arbiter {
            args.push("--arbiter".into());
        }
        if let Some(routes) = &member.routes {
            args.push("--peer-routes".into());
            args.push(routes.clone());
        }
        args.extend(self.shared.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let process = spawn_daisy_in(&member.dir, member.port, &args)
            .unwrap_or_else(|e| panic!("{} did not start: {e}", member.name));
        self.members[i].process = Some(process);
    }

    /// Cuts (or heals) every peer link to and from member `i`.
    fn isolate(&self, i: usize, cut: bool) {
        for (from, to, proxy) in &self.proxies {
            if *from == i || *to == i {
                proxy.cut.store(cut, Ordering::SeqCst);
            }
        }
    }

    /// Cuts (or heals) the peer links between members `a` and `b`.
    fn cut_between(&self, a: usize, b: usize, cut: bool) {
        for (from, to, proxy) in &self.proxies {
            if (*from, *to) == (a, b) || (*from, *to) == (b, a) {
                proxy.cut.store(cut, Ordering::SeqCst);
            }
        }
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut process) = self.members[i].process.take() {
            process.kill();
        }
    }

    fn signal(&self, i: usize, signal: &str) {
        let pid = self.members[i].process.as_ref().expect("running").pid();
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    fn data_ports(&self) -> Vec<u16> {
        self.members
            .iter()
            .filter(|m| !m.arbiter)
            .map(|m| m.port)
            .collect()
    }

    fn index(&self, name: &str) -> usize {
        self.members
            .iter()
            .position(|m| m.name == name)
            .unwrap_or_else(|| panic!("no member {name}"))
    }

    /// The data node that is primary and holds its lease, if any.
    fn serving(&self) -> Option<(usize, Info)> {
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.arbiter && m.process.is_some())
            .find_map(|(i, m)| {
                let info = info(m.port)?;
                (info.get("role")? == "master" && info.get("lease")? == "held").then_some((i, info))
            })
    }

    fn wait_serving(&self, what: &str) -> (usize, Info) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = self.serving() {
                return found;
            }
            assert!(Instant::now() < deadline, "no primary serving: {what}");
            thread::sleep(POLL);
        }
    }

    /// Waits until a node other than `old` serves, at another epoch than
    /// `old_epoch`; returns it.
    fn wait_failover_from(&self, old: usize, old_epoch: &str, what: &str) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((i, info)) = self.serving() {
                if i != old {
                    assert_ne!(info["epoch"], old_epoch);
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no failover {what}");
            thread::sleep(POLL);
        }
    }

    /// Waits until the serving primary names `name` in its in-sync set.
    fn wait_in_sync(&self, name: &str) -> usize {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some((primary, info)) = self.serving() {
                let in_sync = info.get("in_sync").map_or("", String::as_str);
                if in_sync.split(',').any(|n| n == name) {
                    return primary;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{name} never joined the in-sync set"
            );
            thread::sleep(POLL);
        }
    }

    /// Waits until every running data node has the same digest and the
    /// secondaries follow the primary.
    fn wait_converged(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let digests: Vec<Option<String>> = self
                .members
                .iter()
                .filter(|m| !m.arbiter && m.process.is_some())
                // Spares and warm standbys hold no applied data.
                .filter(|m| {
                    info(m.port).is_some_and(|i| {
                        i.get("member_type").is_none_or(|t| t != "spare")
                            && i.get("standby").is_none_or(|s| s != "warm")
                    })
                })
                .map(|m| digest(m.port))
                .collect();
            if digests.iter().all(|d| d.is_some() && *d == digests[0]) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replicas never converged: {digests:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A TCP forwarder to one port on loopback that can cut its connections.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (cut_flag, stop_flag) = (cut.clone(), stop.clone());
        thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(2));
                    continue;
                };
                if cut_flag.load(Ordering::SeqCst) {
                    continue;
                }
                let addr = ([127, 0, 0, 1], target).into();
                let Ok(server) = TcpStream::connect_timeout(&addr, Duration::from_millis(300))
                else {
                    continue;
                };
                let _ = client.set_nonblocking(false);
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    if let (Ok(from), Ok(to)) = (from, to) {
                        let (cut, stop) = (cut_flag.clone(), stop_flag.clone());
                        thread::spawn(move || pump(from, to, &cut, &stop));
                    }
                }
            }
        });
        Proxy { port, cut, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies `from` to `to` until either closes or the proxy is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool, stop: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let _ = from.set_nodelay(true);
    let _ = to.set_nodelay(true);
    let mut buffer = [0u8; 64 * 1024];
    loop {
        if cut.load(Ordering::SeqCst) || stop.load(Ordering::Relaxed) {
            break;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

fn digest(port: u16) -> Option<String> {
    let mut conn = RespConn::try_connect(port, Duration::from_millis(300)).ok()?;
    match conn.call(&["DEBUG", "DIGEST"]).ok()? {
        Resp::Simple(text) | Resp::Bulk(text) => Some(String::from_utf8_lossy(&text).into()),
        _ => None,
    }
}

/// What one writer had acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// `SET w{id}:{seq} {seq}` acknowledged, by seq.
    sets: Vec<u64>,
    /// `INCR c{id}` acknowledged.
    increments: u64,
    /// When each acknowledgement arrived.
    times: Vec<Instant>,
}

/// Writers that follow the primary: on any error they try the next node.
struct Load {
    stop: Arc<AtomicBool>,
    writers: Vec<JoinHandle<Acknowledged>>,
}

impl Load {
    fn start(ports: Vec<u16>, writers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let writers = (0..writers)
            .map(|id| {
                let (ports, stop) = (ports.clone(), stop.clone());
                thread::spawn(move || write(id, &ports, &stop))
            })
            .collect();
        Load { stop, writers }
    }

    fn finish(self) -> Vec<Acknowledged> {
        self.stop.store(true, Ordering::Relaxed);
        self.writers
            .into_iter()
            .map(|w| w.join().expect("writer"))
            .collect()
    }
}

fn write(id: usize, ports: &[u16], stop: &AtomicBool) -> Acknowledged {
    let mut done = Acknowledged::default();
    let mut node = id % ports.len();
    let mut conn: Option<RespConn> = None;
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            conn = RespConn::try_connect(ports[node], Duration::from_millis(300)).ok();
            if let Some(c) = &conn {
                let _ = c.set_read_timeout(CLIENT_TIMEOUT);
            }
        }
        let Some(c) = conn.as_mut() else {
            node = (node + 1) % ports.len();
            thread::sleep(RETRY_PAUSE);
            continue;
        };
        seq += 1;
        let key = format!("w{id}:{seq}");
        let set = c.call(&["SET", &key, &seq.to_string()]);
        let ok = matches!(&set, Ok(Resp::Simple(s)) if s == b"OK");
        if ok {
            done.sets.push(seq);
            done.times.push(Instant::now());
            let incr = c.call(&["INCR", &format!("c{id}")]);
            if matches!(incr, Ok(Resp::Int(_))) {
                done.increments += 1;
                done.times.push(Instant::now());
                continue;
            }
        }
        conn = None;
        node = (node + 1) % ports.len();
        thread::sleep(RETRY_PAUSE);
    }
    done
}

/// Checks that every acknowledged write is on the node at `port`.
fn check_acknowledged(port: u16, acknowledged: &[Acknowledged]) {
    let mut conn = RespConn::connect(port);
    let mut missing = Vec::new();
    let mut total = 0;
    for (id, done) in acknowledged.iter().enumerate() {
        total += done.sets.len();
        for chunk in done.sets.chunks(READ_BATCH) {
            let mut argv = vec!["MGET".to_string()];
            argv.extend(chunk.iter().map(|seq| format!("w{id}:{seq}")));
            let Ok(Resp::Array(values)) = conn.call(&argv) else {
                panic!("MGET failed on port {port}");
            };
            for (seq, value) in chunk.iter().zip(values) {
                if value != Resp::Bulk(seq.to_string().into_bytes()) {
                    missing.push(format!("w{id}:{seq} = {value:?}"));
                }
            }
        }
        let counter = match conn.call(&["GET", &format!("c{id}")]) {
            Ok(Resp::Bulk(text)) => String::from_utf8_lossy(&text).parse::<u64>().unwrap_or(0),
            _ => 0,
        };
        if counter < done.increments {
            missing.push(format!(
                "c{id} = {counter}, below its {} acknowledged INCRs",
                done.increments
            ));
        }
    }
    assert!(total > 0, "no write was acknowledged at all");
    assert!(
        missing.is_empty(),
        "{} of {total} acknowledged writes are missing, first: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// Once the load stopped: every acknowledged write is on the serving
/// primary, and the replicas converge. Returns the primary.
fn check_at_the_end(cluster: &Cluster, acknowledged: &[Acknowledged]) -> usize {
    let (primary, _) = cluster.wait_serving("at the end");
    check_acknowledged(cluster.members[primary].port, acknowledged);
    cluster.wait_converged();
    primary
}

/// The first acknowledgement after `after`, as ms since `after`.
fn first_ack_after(acknowledged: &[Acknowledged], after: Instant) -> Option<f64> {
    acknowledged
        .iter()
        .flat_map(|d| d.times.iter())
        .filter(|t| **t > after)
        .min()
        .map(|t| t.duration_since(after).as_secs_f64() * 1000.0)
}

/// The longest time no writer got an acknowledgement, within `window`.
fn longest_gap(acknowledged: &[Acknowledged], from: Instant, to: Instant) -> Duration {
    let mut times: Vec<Instant> = acknowledged
        .iter()
        .flat_map(|d| d.times.iter().copied())
        .filter(|t| *t >= from && *t <= to)
        .collect();
    times.sort();
    times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// Records every (epoch, primary) the data nodes report, to check that no
/// epoch ever had two primaries.
struct EpochWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<u64, String>>>,
    conflicts: Arc<Mutex<Vec<String>>>,
    handle: Option<JoinHandle<()>>,
}

impl EpochWatch {
    fn start(ports: Vec<(String, u16)>) -> EpochWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
        let conflicts: Arc<Mutex<Vec<String>>> = Arc::default();
        let handle = {
            let (stop, seen, conflicts) = (stop.clone(), seen.clone(), conflicts.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for (name, port) in &ports {
                        let Some(info) = info(*port) else { continue };
                        if info.get("role").map(String::as_str) != Some("master") {
                            continue;
                        }
                        let Some(epoch) = info.get("epoch").and_then(|e| e.parse().ok()) else {
                            continue;
                        };
                        let mut seen = seen.lock().unwrap();
                        let holder = seen.entry(epoch).or_insert_with(|| name.clone());
                        if holder != name {
                            conflicts
                                .lock()
                                .unwrap()
                                .push(format!("epoch {epoch}: {holder} and {name}"));
                        }
                    }
                    thread::sleep(POLL);
                }
            })
        };
        EpochWatch {
            stop,
            seen,
            conflicts,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> BTreeMap<u64, String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            handle.join().expect("epoch watch");
        }
        let conflicts = self.conflicts.lock().unwrap();
        assert!(
            conflicts.is_empty(),
            "two primaries in one epoch: {conflicts:?}"
        );
        self.seen.lock().unwrap().clone()
    }
}

fn named_ports(cluster: &Cluster) -> Vec<(String, u16)> {
    cluster
        .members
        .iter()
        .filter(|m| !m.arbiter)
        .map(|m| (m.name.clone(), m.port))
        .collect()
}

fn rounds() -> usize {
    std::env::var("DAISY_FAILOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS_DEFAULT)
}

/// Kills the serving primary, waits for another to serve, restarts the
/// dead one and waits until it is in sync again. Returns when it was killed.
fn kill_primary_and_recover(cluster: &mut Cluster) -> Instant {
    let (primary, _) = cluster.wait_serving("before the kill");
    let name = cluster.members[primary].name.clone();
    cluster.kill(primary);
    let killed = Instant::now();
    let (next, info) = cluster.wait_serving(&format!("after killing {name}"));
    assert_ne!(next, primary);
    eprintln!(
        "killed {name}; {} serves at epoch {} after {} ms",
        cluster.members[next].name,
        info.get("epoch").map_or("?", String::as_str),
        killed.elapsed().as_millis()
    );
    cluster.start_member(primary);
    cluster.wait_in_sync(&name);
    killed
}

#[test]
fn sigkill_primary_under_load_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start("failover-kill", 2, 0, true, &["--switch-back", "false"]);
    cluster.wait_in_sync("n2");
    let watch = EpochWatch::start(named_ports(&cluster));
    let load = Load::start(cluster.data_ports(), WRITERS);
    let mut kills = Vec::new();
    for _ in 0..rounds() {
        thread::sleep(LOAD_BEFORE_FAULT);
        kills.push(kill_primary_and_recover(&mut cluster));
    }
    thread::sleep(LOAD_BEFORE_FAULT);
    let acknowledged = load.finish();
    let epochs = watch.finish();
    check_at_the_end(&cluster, &acknowledged);
    let waits: Vec<String> = kills
        .iter()
        .map(|k| first_ack_after(&acknowledged, *k).map_or("-".into(), |ms| format!("{ms:.0}")))
        .collect();
    eprintln!(
        "first acknowledgement after each kill (ms): {}",
        waits.join(" ")
    );
    assert!(
        epochs.len() > kills.len(),
        "each kill makes a new epoch: {epochs:?}"
    );
}

#[test]
fn killing_the_primary_that_leads_the_coordinator() {
    let mut cluster = Cluster::start("failover-leader", 3, 0, false, &["--switch-back", "false"]);
    cluster.wait_in_sync("n2");
    cluster.wait_in_sync("n3");
    let watch = EpochWatch::start(named_ports(&cluster));
    let load = Load::start(cluster.data_ports(), 20);
    for round in 0..2 {
        // Make the coordinator's leader the primary, by a switchover to it.
        let deadline = Instant::now() + WAIT;
        loop {
            let (primary, info) = cluster.wait_serving("before the switchover");
            let leader = info.get("coordinator_leader").cloned().unwrap_or_default();
            if leader == cluster.members[primary].name {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: leader never became primary"
            );
            if leader.starts_with('n') {
                let mut conn = RespConn::connect(cluster.members[primary].port);
                let reply = conn.call(&["DAISY", "SWITCHOVER", &leader, "5000"]);
                eprintln!("switchover to the leader {leader}: {reply:?}");
            }
            thread::sleep(Duration::from_millis(100));
        }
        thread::sleep(LOAD_BEFORE_FAULT);
        kill_primary_and_recover(&mut cluster);
    }
    thread::sleep(LOAD_BEFORE_FAULT);
    let acknowledged = load.finish();
    watch.finish();
    check_at_the_end(&cluster, &acknowledged);
}

#[test]
fn a_paused_primary_never_serves_at_its_old_epoch() {
    let cluster = Cluster::start("failover-pause", 2, 0, true, &["--switch-back", "false"]);
    cluster.wait_in_sync("n2");
    let watch = EpochWatch::start(named_ports(&cluster));
    let load = Load::start(cluster.data_ports(), 10);
    thread::sleep(LOAD_BEFORE_FAULT);
    let (old, info) = cluster.wait_serving("before the pause");
    let old_epoch = info["epoch"].clone();
    let mut stale = RespConn::connect(cluster.members[old].port);
    stale.set_read_timeout(WAIT).expect("timeout");
    cluster.signal(old, "-STOP");
    // Sent while it is stopped: it reads them only after SIGCONT.
    stale
        .send_raw(&support::encode_command(&["SET", "stale-write", "1"]))
        .expect("send");
    stale
        .send_raw(&support::encode_command(&["GET", "w0:1"]))
        .expect("send");
    let new = cluster.wait_failover_from(old, &old_epoch, "while the primary was paused");
    thread::sleep(Duration::from_millis(200));
    cluster.signal(old, "-CONT");
    for _ in 0..2 {
        let reply = stale.read_reply().expect("a reply from the resumed node");
        assert!(
            reply.is_error(),
            "the old primary served at its old epoch after its lease: {reply:?}"
        );
    }
    // It rejoins as a secondary of the new primary.
    cluster.wait_in_sync(&cluster.members[old].name.clone());
    let acknowledged = load.finish();
    watch.finish();
    let primary = check_at_the_end(&cluster, &acknowledged);
    assert_eq!(primary, new);
    let mut conn = RespConn::connect(cluster.members[primary].port);
    assert_eq!(
        conn.call(&["GET", "stale-write"]).expect("GET"),
        Resp::NullBulk,
        "a write sent to the paused primary took effect"
    );
}

#[test]
fn killing_the_arbiter_fails_nothing_over() {
    let mut cluster = Cluster::start("failover-arbiter", 2, 0, true, &[]);
    cluster.wait_in_sync("n2");
    let (primary, info) = cluster.wait_serving("at the start");
    let epoch = info["epoch"].clone();
    let load = Load::start(cluster.data_ports(), 10);
    thread::sleep(LOAD_BEFORE_FAULT);
    let arbiter = cluster.index("arb");
    cluster.kill(arbiter);
    let killed = Instant::now();
    thread::sleep(Duration::from_millis(1000));
    let (still, info) = cluster.wait_serving("without the arbiter");
    assert_eq!(still, primary, "the primary changed when the arbiter died");
    assert_eq!(info["epoch"], epoch);
    cluster.start_member(arbiter);
    thread::sleep(LOAD_BEFORE_FAULT);
    let (still, info) = cluster.wait_serving("with the arbiter back");
    assert_eq!(still, primary);
    assert_eq!(info["epoch"], epoch);
    let acknowledged = load.finish();
    let gap = longest_gap(&acknowledged, killed, killed + Duration::from_millis(1000));
    eprintln!("longest pause while the arbiter was down: {gap:?}");
    assert!(
        first_ack_after(&acknowledged, killed + Duration::from_millis(500)).is_some(),
        "writes stopped while the arbiter was down"
    );
    check_acknowledged(cluster.members[primary].port, &acknowledged);
    cluster.wait_converged();
}

#[test]
fn switchover_then_automatic_switch_back_lose_nothing() {
    let cluster = Cluster::start(
        "failover-switchback",
        2,
        0,
        true,
        &["--switch-back-after-ms", "300"],
    );
    cluster.wait_in_sync("n2");
    let watch = EpochWatch::start(named_ports(&cluster));
    let load = Load::start(cluster.data_ports(), 20);
    thread::sleep(LOAD_BEFORE_FAULT);
    let (primary, _) = cluster.wait_serving("before the switchover");
    assert_eq!(cluster.members[primary].name, "n1");
    let started = Instant::now();
    let mut conn = RespConn::connect(cluster.members[primary].port);
    let reply = conn
        .call(&["DAISY", "SWITCHOVER", "n2", "5000"])
        .expect("reply");
    assert_eq!(reply, Resp::Simple(b"OK".to_vec()), "switchover to n2");
    let took = started.elapsed();
    // n1 is the preferred primary: once in sync again, it gets it back.
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some((i, info)) = cluster.serving() {
            let epoch: u64 = info["epoch"].parse().unwrap_or(0);
            if cluster.members[i].name == "n1" && epoch >= 3 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no switch back to n1");
        thread::sleep(POLL);
    }
    let back = Instant::now();
    thread::sleep(LOAD_BEFORE_FAULT);
    let acknowledged = load.finish();
    let epochs = watch.finish();
    eprintln!(
        "switchover took {took:?}; longest pause around it and the switch back: {:?}; epochs {epochs:?}",
        longest_gap(&acknowledged, started, back + Duration::from_millis(100))
    );
    check_at_the_end(&cluster, &acknowledged);
}

#[test]
fn a_spare_replaces_a_lost_secondary() {
    let mut cluster = Cluster::start(
        "failover-spare",
        3,
        1,
        false,
        &["--model", "active-spare", "--spare-after-ms", "500"],
    );
    cluster.wait_in_sync("n2");
    let load = Load::start(cluster.data_ports(), 10);
    thread::sleep(LOAD_BEFORE_FAULT);
    let secondary = cluster.index("n2");
    cluster.kill(secondary);
    let primary = cluster.wait_in_sync("n3");
    assert_eq!(cluster.members[primary].name, "n1");
    thread::sleep(LOAD_BEFORE_FAULT);
    let acknowledged = load.finish();
    check_acknowledged(cluster.members[primary].port, &acknowledged);
    cluster.wait_converged();
    // The spare holds every acknowledged write itself.
    let spare = cluster.index("n3");
    assert_eq!(
        digest(cluster.members[spare].port),
        digest(cluster.members[primary].port)
    );
}

#[test]
fn a_primary_cut_off_from_the_majority_stops_serving() {
    let cluster = Cluster::start_with(
        "failover-partition",
        2,
        0,
        true,
        true,
        &["--switch-back", "false"],
    );
    cluster.wait_in_sync("n2");
    let watch = EpochWatch::start(named_ports(&cluster));
    let load = Load::start(cluster.data_ports(), 10);
    thread::sleep(LOAD_BEFORE_FAULT);
    let (old, info) = cluster.wait_serving("before the partition");
    let old_epoch = info["epoch"].clone();
    cluster.isolate(old, true);
    let cut = Instant::now();
    let new = cluster.wait_failover_from(old, &old_epoch, "away from the cut-off primary");
    eprintln!(
        "cut off; {} serves after {:?}",
        cluster.members[new].name,
        cut.elapsed()
    );
    // Cut off, the old primary still believes it is primary, but serves
    // nothing: no lease.
    let mut direct = RespConn::connect(cluster.members[old].port);
    for round in 0..20 {
        for argv in [vec!["SET", "cut-off-write", "1"], vec!["GET", "w0:1"]] {
            let reply = direct.call(&argv).expect("a reply");
            assert!(
                reply.is_error(),
                "round {round}: the cut-off primary answered {argv:?} with {reply:?}"
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    cluster.isolate(old, false);
    cluster.wait_in_sync(&cluster.members[old].name.clone());
    let acknowledged = load.finish();
    watch.finish();
    let primary = check_at_the_end(&cluster, &acknowledged);
    assert_eq!(primary, new);
    let mut conn = RespConn::connect(cluster.members[primary].port);
    assert_eq!(
        conn.call(&["GET", "cut-off-write"]).expect("GET"),
        Resp::NullBulk
    );
}

#[test]
fn a_warm_standby_takes_over_with_every_acknowledged_write() {
    let mut cluster = Cluster::start(
        "failover-warm",
        2,
        0,
        true,
        &["--standby", "warm", "--switch-back", "false"],
    );
    cluster.wait_in_sync("n2");
    let load = Load::start(cluster.data_ports(), 10);
    thread::sleep(LOAD_BEFORE_FAULT);
    kill_primary_and_recover(&mut cluster);
    thread::sleep(LOAD_BEFORE_FAULT);
    let acknowledged = load.finish();
    let primary = check_at_the_end(&cluster, &acknowledged);
    assert_eq!(cluster.members[primary].name, "n2");
}

#[test]
fn a_one_safe_failover_records_its_event() {
    let mut cluster = Cluster::start(
        "failover-one-safe",
        2,
        0,
        true,
        &["--safeness", "1-safe", "--switch-back", "false"],
    );
    cluster.wait_in_sync("n2");
    let load = Load::start(cluster.data_ports(), 10);
    thread::sleep(LOAD_BEFORE_FAULT);
    kill_primary_and_recover(&mut cluster);
    let acknowledged = load.finish();
    let (_, info) = cluster.wait_serving("at the end");
    // The newest events: the promotion, and perhaps the records n1 set
    // aside when it came back.
    let events: Vec<&String> = (0..5)
        .filter_map(|i| info.get(&format!("event{i}")))
        .collect();
    assert!(
        events.iter().any(|event| event.contains("promoted=n2")
            && event.contains("from=n1")
            && event.contains("cause=Failover")),
        "the failover's event: {events:?}"
    );
    assert!(
        acknowledged.iter().any(|a| !a.sets.is_empty()),
        "writes went on"
    );
}

#[test]
fn the_records_a_one_safe_failover_lost_are_recorded_exactly() {
    let mut cluster = Cluster::start_with(
        "failover-set-aside",
        2,
        0,
        true,
        true,
        &["--safeness", "1-safe", "--switch-back", "false"],
    );
    cluster.wait_in_sync("n2");
    let (primary, _) = cluster.wait_serving("before the cut");
    let other = 1 - primary;
    let name = cluster.members[primary].name.clone();
    // At 1-safe the primary acknowledges what its secondary never gets.
    cluster.cut_between(primary, other, true);
    let port = cluster.members[primary].port;
    let ok = Resp::Simple(b"OK".to_vec());
    let alone = (0..20)
        .filter(|i| call(port, &["SET", &format!("alone{i}"), "x"]) == ok)
        .count();
    assert!(alone > 0, "the cut-off primary acknowledged nothing");
    cluster.kill(primary);
    cluster.wait_serving("after the kill");
    cluster.cut_between(primary, other, false);
    cluster.start_member(primary);
    cluster.wait_in_sync(&name);
    let set_aside = format!("set_aside_by={name},records=");
    wait_primary_field(&cluster, "event0", |event| event.contains(&set_aside));
    let (serving, info) = cluster.wait_serving("at the end");
    let event = info.get("event0").cloned().unwrap_or_default();
    let range = event.split("records=").nth(1).unwrap_or_default();
    let range = range.split(',').next().unwrap_or_default();
    let (first, last) = range.split_once('-').expect("a range");
    let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
    // Exactly the acknowledged writes the new primary lacks are recorded,
    // and saved in the old primary's divergent/.
    let new_primary = cluster.members[serving].port;
    let lost: Vec<String> = (0..20)
        .map(|i| format!("alone{i}"))
        .filter(|key| call(new_primary, &["GET", key]) == Resp::NullBulk)
        .collect();
    assert!(!lost.is_empty(), "the failover lost nothing: {event:?}");
    assert!(lost.len() <= alone);
    assert_eq!(
        lost.len() as u64,
        last - first + 1,
        "{lost:?} but {event:?}"
    );
    let divergent = cluster.members[primary].dir.join("divergent");
    let saved: String = std::fs::read_dir(&divergent)
        .expect("divergent/")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    for key in &lost {
        assert!(saved.contains(&format!("\r\n{key}\r\n")), "{key} not saved");
    }
}

#[test]
fn a_restarted_primary_serves_again_only_at_a_new_epoch() {
    let mut cluster = Cluster::start("failover-restart", 2, 0, true, &["--switch-back", "false"]);
    cluster.wait_in_sync("n2");
    let (n1, n2) = (cluster.index("n1"), cluster.index("n2"));
    // With n2 gone, nobody can replace n1: only n1 itself comes back.
    cluster.kill(n2);
    wait_primary_field(&cluster, "in_sync", str::is_empty);
    let ok = Resp::Simple(b"OK".to_vec());
    let port = cluster.members[n1].port;
    for i in 0..20 {
        assert_eq!(call(port, &["SET", &format!("k{i}"), "v"]), ok);
    }
    let (_, info) = cluster.wait_serving("before the restart");
    let epoch: u64 = info["epoch"].parse().unwrap();
    cluster.kill(n1);
    cluster.start_member(n1);
    let (serving, info) = cluster.wait_serving("after the restart");
    assert_eq!(serving, n1);
    let new_epoch: u64 = info["epoch"].parse().unwrap();
    assert_eq!(
        new_epoch,
        epoch + 1,
        "records shipped before the crash must not share an epoch with new ones"
    );
    let event = info.get("event0").cloned().unwrap_or_default();
    assert!(
        event.contains("promoted=n1") && event.contains("cause=Restart"),
        "{event:?}"
    );
    for i in 0..20 {
        assert_eq!(
            call(port, &["GET", &format!("k{i}")]),
            Resp::Bulk(b"v".to_vec())
        );
    }
    cluster.start_member(n2);
    cluster.wait_in_sync("n2");
}

/// A map change through any member, retried while the coordinator answers
/// TRYAGAIN (a leader change under way): the changes are idempotent.
fn change(port: u16, argv: &[&str]) -> Resp {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = call(port, argv);
        let retry = matches!(&reply, Resp::Error(text) if text.starts_with(b"TRYAGAIN"));
        if !retry || Instant::now() >= deadline {
            return reply;
        }
        thread::sleep(POLL);
    }
}

fn call(port: u16, argv: &[&str]) -> Resp {
    RespConn::connect(port).call(argv).expect("a reply")
}

/// Waits until the serving primary's `field` satisfies `check`.
fn wait_primary_field(cluster: &Cluster, field: &str, check: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some((_, info)) = cluster.serving() {
            if check(info.get(field).map_or("", String::as_str)) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{field} never changed as expected"
        );
        thread::sleep(POLL);
    }
}

#[test]
fn member_roles_change_at_run_time() {
    let mut cluster = Cluster::start("failover-roles", 3, 0, false, &["--switch-back", "false"]);
    cluster.wait_in_sync("n2");
    cluster.wait_in_sync("n3");
    let load = Load::start(cluster.data_ports(), 10);
    thread::sleep(LOAD_BEFORE_FAULT);
    let any = cluster.members[cluster.index("n2")].port;
    let ok = Resp::Simple(b"OK".to_vec());
    assert_eq!(change(any, &["DAISY", "MEMBER", "n3", "spare"]), ok);
    wait_primary_field(&cluster, "map_members", |m| m.contains("n3=spare"));
    wait_primary_field(&cluster, "in_sync", |s| s == "n2");
    assert_eq!(change(any, &["DAISY", "MEMBER", "n2", "dr"]), ok);
    wait_primary_field(&cluster, "in_sync", str::is_empty);
    assert_eq!(change(any, &["DAISY", "MEMBER", "n3", "sync"]), ok);
    cluster.wait_in_sync("n3");
    assert_eq!(change(any, &["DAISY", "PREFER", "none"]), ok);
    for (argv, error) in [
        (vec!["DAISY", "MEMBER", "n1", "bogus"], "kind must be"),
        (vec!["DAISY", "MEMBER", "n9", "sync"], "not a member"),
        (vec!["DAISY", "MEMBER", "n1", "dr"], "is the primary"),
    ] {
        let reply = call(any, &argv);
        assert!(
            reply.error_text().is_some_and(|e| e.contains(error)),
            "{argv:?}: {reply:?}"
        );
    }
    // n2 is a dr member now: only n3 may replace the primary.
    thread::sleep(LOAD_BEFORE_FAULT);
    let (primary, _) = cluster.wait_serving("before the kill");
    cluster.kill(primary);
    let (next, _) = cluster.wait_serving("after the kill");
    assert_eq!(cluster.members[next].name, "n3");
    thread::sleep(LOAD_BEFORE_FAULT);
    let acknowledged = load.finish();
    check_acknowledged(cluster.members[next].port, &acknowledged);
}
