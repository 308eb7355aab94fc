//! The chaos cluster: `daisy server` children on loopback, like `daisy
//! local`, with a proxy on every directed peer link so that any node can
//! be cut off; and the faults themselves (kill, restart, pause, resume,
//! isolate, slow or fill a disk, heal).
//!
//! With real disks (the disk faults), every data node keeps its data on a
//! file system of its own and runs in a block-I/O cgroup of its own
//! (`disk`), which it joins before it executes, on every start.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::client::{Connection, Reply};
use super::disk::NodeDisk;
use super::proxy::Proxy;

/// How long a node may take to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(20);
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

pub struct Node {
    pub name: String,
    /// The client port; an arbiter's peer port (it has no client port).
    pub port: u16,
    pub arbiter: bool,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    pub paused: bool,
    /// The node's own file system and cgroup, with real disks.
    disk: Option<Arc<NodeDisk>>,
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    /// (from, to, proxy) for every directed pair of nodes.
    proxies: Vec<(usize, usize, Proxy)>,
    binary: PathBuf,
}

/// A free port on loopback (released at once; the node binds it next).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl Cluster {
    /// Starts `data` data nodes, the last `spares` of them spares (plus an
    /// arbiter when they are even), in `dir`, each with the shared `flags`;
    /// with `real_disks`, each data node on a file system and in a cgroup
    /// of its own.
    pub fn start(
        dir: &Path,
        data: usize,
        spares: usize,
        flags: &[String],
        real_disks: bool,
    ) -> Result<Cluster, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let arbiter = data.is_multiple_of(2);
        let names: Vec<String> = (1..=data)
            .map(|i| format!("n{i}"))
            .chain(arbiter.then(|| "arbiter".to_string()))
            .collect();
        let mut disks = Vec::new();
        if real_disks {
            for name in &names[..data] {
                match NodeDisk::create(dir, name) {
                    Ok(disk) => disks.push(disk),
                    Err(error) => {
                        for disk in &disks {
                            let _ = disk.teardown();
                        }
                        return Err(error);
                    }
                }
            }
        }
        let mut ports = Vec::new();
        for _ in &names {
            ports.push((free_port()?, free_port()?));
        }
        let members = names
            .iter()
            .zip(&ports)
            .enumerate()
            .map(|(i, (name, (_, peer)))| {
                let kind = if name == "arbiter" {
                    "/arbiter"
                } else if i >= data - spares {
                    "/spare"
                } else {
                    ""
                };
                format!("{name}=127.0.0.1:{peer}{kind}")
            })
            .collect::<Vec<_>>()
            .join(",");
        let mut proxies = Vec::new();
        let mut nodes = Vec::new();
        for (from, name) in names.iter().enumerate() {
            let mut routes = Vec::new();
            for (to, target) in names.iter().enumerate() {
                if from != to {
                    let proxy = Proxy::start(ports[to].1).map_err(|e| format!("proxy: {e}"))?;
                    routes.push(format!("{target}=127.0.0.1:{}", proxy.port));
                    proxies.push((from, to, proxy));
                }
            }
            let is_arbiter = name == "arbiter";
            let disk = disks.get(from).cloned();
            let data_dir = disk
                .as_ref()
                .map_or_else(|| dir.join(name), |d| d.data_dir());
            let mut args = vec![
                "server".to_string(),
                "--node-id".into(),
                name.clone(),
                "--peer-addr".into(),
                format!("127.0.0.1:{}", ports[from].1),
                "--data-dir".into(),
                data_dir.display().to_string(),
                "--members".into(),
                members.clone(),
                "--peer-routes".into(),
                routes.join(","),
                "--primary".into(),
                "n1".into(),
            ];
            if is_arbiter {
                args.push("--arbiter".into());
            } else {
                args.extend([
                    "--client-addr".into(),
                    format!("127.0.0.1:{}", ports[from].0),
                ]);
            }
            args.extend(flags.iter().cloned());
            nodes.push(Node {
                name: name.clone(),
                port: if is_arbiter {
                    ports[from].1
                } else {
                    ports[from].0
                },
                arbiter: is_arbiter,
                args,
                log: dir.join(format!("{name}.log")),
                child: None,
                paused: false,
                disk,
            });
        }
        let binary = match std::env::current_exe() {
            Ok(binary) => binary,
            Err(error) => {
                for disk in &disks {
                    let _ = disk.teardown();
                }
                return Err(format!("cannot find daisy: {error}"));
            }
        };
        // From here on the cluster's drop stops the nodes and tears the
        // disks down.
        let mut cluster = Cluster {
            nodes,
            proxies,
            binary,
        };
        for i in 0..cluster.nodes.len() {
            cluster.restart(i)?;
        }
        Ok(cluster)
    }

    pub fn data_nodes(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes.iter().enumerate().filter(|(_, n)| !n.arbiter)
    }

    /// Starts node `i` (again) and waits until it answers.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        let node = &mut self.nodes[i];
        if node.child.is_some() {
            return Ok(());
        }
        let child =
            spawn(&self.binary, node).map_err(|e| format!("cannot start {}: {e}", node.name))?;
        node.child = Some(child);
        node.paused = false;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let ready = if node.arbiter {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], node.port));
                std::net::TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).is_ok()
            } else {
                Connection::open(node.port, PROBE_TIMEOUT)
                    .and_then(|mut c| c.call(&["PING"]))
                    .is_ok_and(|r| r == Reply::Simple("PONG".into()))
            };
            if ready {
                return Ok(());
            }
            if super::interrupted() {
                return Err("interrupted".into());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not start; see {}",
                    node.name,
                    node.log.display()
                ));
            }
            thread::sleep(POLL);
        }
    }

    fn signal(&self, i: usize, signal: i32) {
        if let Some(child) = &self.nodes[i].child {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: a signal to our own child's pid.
                unsafe {
                    libc::kill(pid, signal);
                }
            }
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self, i: usize) {
        self.signal(i, libc::SIGCONT);
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.nodes[i].paused = false;
    }

    pub fn pause(&mut self, i: usize) {
        self.signal(i, libc::SIGSTOP);
        self.nodes[i].paused = true;
    }

    pub fn resume(&mut self, i: usize) {
        self.signal(i, libc::SIGCONT);
        self.nodes[i].paused = false;
    }

    /// Cuts (or heals) every peer link to and from node `i`.
    pub fn isolate(&self, i: usize, cut: bool) {
        for (from, to, proxy) in &self.proxies {
            if *from == i || *to == i {
                proxy.set_cut(cut);
            }
        }
    }

    /// Cuts (or heals) the links between nodes `a` and `b`, both ways.
    pub fn cut_between(&self, a: usize, b: usize, cut: bool) {
        for (from, to, proxy) in &self.proxies {
            if (*from, *to) == (a, b) || (*from, *to) == (b, a) {
                proxy.set_cut(cut);
            }
        }
    }

    /// Waits until the primary `primary` serves without `member` in its
    /// in-sync set; false if that did not happen within `timeout`.
    pub fn wait_out_of_sync(&self, primary: usize, member: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let name = &self.nodes[member].name;
        while Instant::now() < deadline {
            let in_sync = self
                .info(primary)
                .and_then(|info| info.get("in_sync").cloned());
            if in_sync.is_some_and(|set| !set.split(',').any(|n| n == name)) {
                return true;
            }
            thread::sleep(POLL);
        }
        false
    }

    /// Slows node `i`'s disk to `write_iops` write operations a second.
    pub fn slow_disk(&self, i: usize, write_iops: u64) -> Result<(), String> {
        self.disk(i)?.throttle(write_iops)
    }

    /// Fills node `i`'s file system; returns the filler's size in bytes.
    pub fn fill_disk(&self, i: usize) -> Result<u64, String> {
        self.disk(i)?.fill()
    }

    /// Lifts any throttle and removes any filler from node `i`'s disk.
    pub fn heal_disk(&self, i: usize) -> Result<(), String> {
        let disk = self.disk(i)?;
        disk.throttle(0)?;
        disk.unfill()
    }

    fn disk(&self, i: usize) -> Result<&NodeDisk, String> {
        self.nodes[i]
            .disk
            .as_deref()
            .ok_or_else(|| format!("{} has no disk of its own", self.nodes[i].name))
    }

    /// Undoes every fault: links healed, disks healed, paused nodes
    /// resumed, dead ones started again.
    pub fn heal(&mut self) -> Result<(), String> {
        for (_, _, proxy) in &self.proxies {
            proxy.set_cut(false);
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].disk.is_some() {
                self.heal_disk(i)?;
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].paused {
                self.resume(i);
            }
            self.restart(i)?;
        }
        Ok(())
    }

    /// INFO replication of data node `i`, as field -> value.
    pub fn info(&self, i: usize) -> Option<BTreeMap<String, String>> {
        let node = &self.nodes[i];
        if node.arbiter || node.child.is_none() || node.paused {
            return None;
        }
        let mut connection = Connection::open(node.port, PROBE_TIMEOUT).ok()?;
        let Reply::Bulk(Some(text)) = connection.call(&["INFO", "replication"]).ok()? else {
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

    /// The data node that is primary and holds its lease, with its INFO.
    pub fn serving(&self) -> Option<(usize, BTreeMap<String, String>)> {
        self.data_nodes().find_map(|(i, _)| {
            let info = self.info(i)?;
            let serving = info.get("role")? == "master" && info.get("lease")? == "held";
            serving.then_some((i, info))
        })
    }

    /// Waits until every fault is undone and the cluster is whole again:
    /// a primary serving, every other data node but the spares in its
    /// in-sync set, every one of them with the primary's last LSN and, but
    /// a warm standby, its digest.
    pub fn settle(&self, timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("no primary serving");
        loop {
            if let Some((primary, info)) = self.serving() {
                let field = |name: &str| info.get(name).map_or("", String::as_str);
                let in_sync: Vec<&str> = field("in_sync").split(',').collect();
                let spares: Vec<&str> = field("map_members")
                    .split(',')
                    .filter_map(|member| member.strip_suffix("=spare"))
                    .collect();
                let holders: Vec<(usize, &Node)> = self
                    .data_nodes()
                    .filter(|(_, n)| !spares.contains(&n.name.as_str()))
                    .collect();
                let missing: Vec<&str> = holders
                    .iter()
                    .filter(|(i, n)| *i != primary && !in_sync.contains(&n.name.as_str()))
                    .map(|(_, n)| n.name.as_str())
                    .collect();
                let digests: Vec<Option<(String, Option<String>)>> = holders
                    .iter()
                    .map(|(i, _)| self.contents(*i, *i == primary))
                    .collect();
                let wanted = holders
                    .iter()
                    .position(|(i, _)| *i == primary)
                    .and_then(|p| digests[p].clone());
                let same = wanted.is_some_and(|(lsn, digest)| {
                    digests.iter().all(|d| {
                        d.as_ref()
                            .is_some_and(|(l, g)| *l == lsn && (g.is_none() || *g == digest))
                    })
                });
                if missing.is_empty() && same {
                    return Ok(primary);
                }
                last = format!("not in sync: {missing:?}; digests {digests:?}");
            }
            if super::interrupted() {
                return Err("interrupted".into());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the cluster did not settle within {timeout:?}: {last}"
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// What node `i` holds: its log's last LSN, and its keyspace's digest
    /// (none for a warm standby, which applies nothing until promoted).
    fn contents(&self, i: usize, primary: bool) -> Option<(String, Option<String>)> {
        let info = self.info(i)?;
        let field = |name: &str| info.get(name).cloned().unwrap_or_default();
        let lsn = field(if primary {
            "master_repl_offset"
        } else {
            "slave_repl_offset"
        });
        let digest = if !primary && field("standby") == "warm" {
            None
        } else {
            Some(self.digest(i)?)
        };
        Some((lsn, digest))
    }

    fn digest(&self, i: usize) -> Option<String> {
        let mut connection = Connection::open(self.nodes[i].port, PROBE_TIMEOUT).ok()?;
        match connection.call(&["DEBUG", "DIGEST"]).ok()? {
            Reply::Simple(text) => Some(text),
            Reply::Bulk(Some(text)) => Some(String::from_utf8_lossy(&text).into_owned()),
            _ => None,
        }
    }
}

/// Starts `node`'s process; with a disk of its own, the process joins the
/// node's cgroup before it executes, so every write it ever makes is
/// subject to the node's throttle.
fn spawn(binary: &Path, node: &Node) -> io::Result<Child> {
    let mut command = crate::local::node_command(binary, &node.args, &node.log)?;
    if let Some(disk) = &node.disk {
        let procs = CString::new(disk.cgroup_procs().as_os_str().as_encoded_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: open, write and close are async-signal-safe; the path was
        // allocated before the fork. Writing "0" moves the writing process.
        unsafe {
            command.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let written = libc::write(fd, c"0".as_ptr().cast(), 1);
                let error = io::Error::last_os_error();
                libc::close(fd);
                if written != 1 {
                    return Err(error);
                }
                Ok(())
            });
        }
    }
    command.spawn()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        for node in &self.nodes {
            if let Some(disk) = &node.disk {
                if let Err(error) = disk.teardown() {
                    eprintln!("daisy chaos: {error}");
                }
            }
        }
    }
}
