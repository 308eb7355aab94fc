//! `daisy local`: a whole cluster on this machine, as child processes on
//! loopback, for trying DaisyDB out and for development.
//!
//! Node `nI` (I from 1) gets client port `base + I - 1`, peer port
//! `base + 1000 + I - 1` and data directory `DIR/nI` (log in `DIR/nI.log`).
//! When the data nodes are an even number, an arbiter (`arbiter`, peer
//! port after the last node's, no client port) makes the voters odd, so a
//! pair fails over automatically. The first node is the primary on a first
//! start; afterwards the coordinator decides. Ctrl-C (or SIGTERM) stops
//! every node cleanly.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// How long the nodes may take to answer after they start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the children are checked.
const POLL: Duration = Duration::from_millis(100);
/// Peer ports sit this far above the client ports.
const PEER_PORT_OFFSET: u16 = 1000;
/// Most nodes `daisy local` starts.
pub const NODES_MAX: usize = 9;

#[derive(clap::Args)]
pub struct LocalOptions {
    /// Redundancy model: single (one node), active-standby (a primary and standbys) or active-spare (a primary, a standby and spares).
    #[arg(long, default_value = "active-standby", value_parser = ["single", "active-standby", "active-spare"])]
    pub model: String,
    /// When writes are acknowledged.
    #[arg(long, default_value = "2-safe", value_parser = ["1-safe", "2-safe", "2-safe-committed", "very-safe"])]
    pub safeness: String,
    /// Data nodes (active-standby: 2 to 9, active-spare: 3 to 9) [default: 2; single: 1; active-spare: 3].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// First client port.
    #[arg(long, default_value_t = 7001)]
    pub base_port: u16,
    /// Directory for the nodes' data and logs.
    #[arg(long, default_value = "daisy-local")]
    pub dir: PathBuf,
    /// Secondaries are hot (apply continuously) or warm (apply when promoted).
    #[arg(long, default_value = "hot", value_parser = ["hot", "warm"])]
    pub standby: String,
    /// Hand the primary role back to n1 once it has returned and caught up.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub switch_back: bool,
}

struct Node {
    id: String,
    /// The client port; an arbiter has none and is checked on its peer port.
    client_port: u16,
    arbiter: bool,
    child: Child,
    exited: bool,
}

/// The arbiter's node id.
const ARBITER_ID: &str = "arbiter";

pub fn run(options: LocalOptions) -> ExitCode {
    match start(&options) {
        Ok(nodes) => supervise(nodes, &options),
        Err(error) => {
            eprintln!("daisy local: {error}");
            ExitCode::FAILURE
        }
    }
}

fn node_count(options: &LocalOptions) -> Result<usize, String> {
    match (options.model.as_str(), options.nodes) {
        ("single", None | Some(1)) => Ok(1),
        ("single", Some(_)) => Err("the single model has one node".into()),
        ("active-standby", None) => Ok(2),
        ("active-standby", Some(n)) if (2..=NODES_MAX).contains(&n) => Ok(n),
        ("active-standby", Some(n)) => Err(format!(
            "active-standby needs 2 to {NODES_MAX} nodes, not {n}"
        )),
        ("active-spare", None) => Ok(3),
        ("active-spare", Some(n)) if (3..=NODES_MAX).contains(&n) => Ok(n),
        ("active-spare", Some(n)) => Err(format!(
            "active-spare needs 3 to {NODES_MAX} nodes (a primary, a standby, spares), not {n}"
        )),
        (other, _) => Err(format!("model '{other}' is not available")),
    }
}

fn start(options: &LocalOptions) -> Result<Vec<Node>, String> {
    let count = node_count(options)?;
    let arbiter = count > 1 && count % 2 == 0;
    let last_peer = u32::from(options.base_port)
        + u32::from(PEER_PORT_OFFSET)
        + count as u32
        + u32::from(arbiter);
    if options.base_port < 1024 || last_peer > u32::from(u16::MAX) {
        return Err(format!(
            "--base-port {} leaves no room for {count} client and peer ports",
            options.base_port
        ));
    }
    fs::create_dir_all(&options.dir)
        .map_err(|e| format!("cannot create {}: {e}", options.dir.display()))?;
    let ids: Vec<String> = (1..=count).map(|i| format!("n{i}")).collect();
    let client_port = |i: usize| options.base_port + i as u16;
    let peer_port = |i: usize| options.base_port + PEER_PORT_OFFSET + i as u16;
    let kind = |i: usize| {
        if options.model == "active-spare" && i >= 2 {
            "/spare"
        } else {
            ""
        }
    };
    let mut members = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("{id}=127.0.0.1:{}{}", peer_port(i), kind(i)))
        .collect::<Vec<_>>();
    if arbiter {
        members.push(format!(
            "{ARBITER_ID}=127.0.0.1:{}/arbiter",
            peer_port(count)
        ));
    }
    let members = members.join(",");
    let shared = |args: &mut Vec<String>| {
        args.extend([
            "--members".into(),
            members.clone(),
            "--primary".into(),
            ids[0].clone(),
            "--safeness".into(),
            options.safeness.clone(),
            "--model".into(),
            options.model.clone(),
            "--switch-back".into(),
            options.switch_back.to_string(),
        ]);
    };
    let binary = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut nodes = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let mut args = vec![
            "server".to_string(),
            "--node-id".into(),
            id.clone(),
            "--client-addr".into(),
            format!("127.0.0.1:{}", client_port(i)),
            "--data-dir".into(),
            options.dir.join(id).display().to_string(),
        ];
        if count > 1 {
            args.extend([
                "--peer-addr".into(),
                format!("127.0.0.1:{}", peer_port(i)),
                "--standby".into(),
                options.standby.clone(),
            ]);
            shared(&mut args);
        }
        match spawn(&binary, &args, &options.dir.join(format!("{id}.log"))) {
            Ok(child) => nodes.push(Node {
                id: id.clone(),
                client_port: client_port(i),
                arbiter: false,
                child,
                exited: false,
            }),
            Err(error) => {
                stop_all(&mut nodes);
                return Err(format!("cannot start {id}: {error}"));
            }
        }
    }
    if arbiter {
        let mut args = vec![
            "server".to_string(),
            "--arbiter".into(),
            "--node-id".into(),
            ARBITER_ID.into(),
            "--peer-addr".into(),
            format!("127.0.0.1:{}", peer_port(count)),
            "--data-dir".into(),
            options.dir.join(ARBITER_ID).display().to_string(),
        ];
        shared(&mut args);
        let log = options.dir.join(format!("{ARBITER_ID}.log"));
        match spawn(&binary, &args, &log) {
            Ok(child) => nodes.push(Node {
                id: ARBITER_ID.into(),
                client_port: peer_port(count),
                arbiter: true,
                child,
                exited: false,
            }),
            Err(error) => {
                stop_all(&mut nodes);
                return Err(format!("cannot start the arbiter: {error}"));
            }
        }
    }
    let ready =
        wait_ready(&mut nodes, &options.dir).and_then(|()| wait_replicating(&nodes, options));
    if let Err(error) = ready {
        stop_all(&mut nodes);
        return Err(error);
    }
    Ok(nodes)
}

pub(crate) fn spawn(binary: &Path, args: &[String], log: &Path) -> io::Result<Child> {
    node_command(binary, args, log)?.spawn()
}

/// The command that starts a node with `args`, its output appended to
/// `log`, and that dies with this process.
pub(crate) fn node_command(binary: &Path, args: &[String], log: &Path) -> io::Result<Command> {
    let log_file = OpenOptions::new().create(true).append(true).open(log)?;
    let mut command = Command::new(binary);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to send
    // SIGTERM to the child if this process dies first, so no node outlives
    // `daisy local` even when it is killed.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(command)
}

/// Waits until every node accepts connections on its client port.
fn wait_ready(nodes: &mut [Node], dir: &Path) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    for node in nodes.iter_mut() {
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                return Err(format!(
                    "{} exited during startup ({status}); see {}",
                    node.id,
                    dir.join(format!("{}.log", node.id)).display()
                ));
            }
            let addr = ([127, 0, 0, 1], node.client_port).into();
            if TcpStream::connect_timeout(&addr, POLL).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not answer on port {} within {START_TIMEOUT:?}",
                    node.id, node.client_port
                ));
            }
            std::thread::sleep(POLL);
        }
    }
    Ok(())
}

/// Waits until the primary has its standby connected and, with a
/// coordinator, holds its lease, so the first write is acknowledged
/// rather than refused.
fn wait_replicating(nodes: &[Node], options: &LocalOptions) -> Result<(), String> {
    let data_nodes = nodes.iter().filter(|n| !n.arbiter).count();
    let Some(primary) = nodes.first().filter(|_| data_nodes > 1) else {
        return Ok(());
    };
    let addr = format!("127.0.0.1:{}", primary.client_port);
    let wanted = if options.model == "active-spare" {
        1
    } else {
        data_nodes - 1
    };
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let info = crate::admin::call(&addr, None, &["INFO", "replication"]).unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
                .map(str::to_string)
        };
        let connected = field("connected_slaves").and_then(|n| n.parse::<usize>().ok());
        let serving = field("coordinator").is_none() || field("lease").as_deref() == Some("held");
        if connected.is_some_and(|n| n >= wanted) && serving {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the secondaries did not connect to {} within {START_TIMEOUT:?}",
                primary.id
            ));
        }
        std::thread::sleep(POLL);
    }
}

fn print_banner(nodes: &[Node], options: &LocalOptions) {
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "DaisyDB local cluster: {} node(s), model {}, safeness {}",
        nodes.len(),
        options.model,
        options.safeness
    );
    for (i, node) in nodes.iter().enumerate() {
        if node.arbiter {
            let _ = writeln!(
                out,
                "  {}  peer port {}  votes in the coordinator, holds no data",
                node.id, node.client_port
            );
            continue;
        }
        let role = match i {
            0 => "primary on first start",
            1 => "secondary (send READONLY to read)",
            _ if options.model == "active-spare" => "spare (takes a lost secondary's place)",
            _ => "secondary (send READONLY to read)",
        };
        let _ = writeln!(
            out,
            "  {}  redis-cli -p {:<5}  {role}",
            node.id, node.client_port
        );
    }
    if nodes.len() >= 3 {
        let _ = writeln!(
            out,
            "Failover is automatic: kill the primary and a secondary takes over within a fraction of a second."
        );
    }
    let first = nodes.first().map_or(0, |n| n.client_port);
    let _ = writeln!(
        out,
        "Status: daisy status --addr 127.0.0.1:{first}. Data and logs: {}.",
        options.dir.display()
    );
    let _ = writeln!(out, "Ctrl-C stops every node.");
    let _ = out.flush();
}

/// Runs until Ctrl-C or SIGTERM, reporting nodes that exit; then stops them.
fn supervise(mut nodes: Vec<Node>, options: &LocalOptions) -> ExitCode {
    print_banner(&nodes, options);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("daisy local: {error}");
            stop_all(&mut nodes);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        let mut poll = tokio::time::interval(POLL);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate.recv() => break,
                _ = poll.tick() => {
                    for node in nodes.iter_mut().filter(|n| !n.exited) {
                        if let Ok(Some(status)) = node.child.try_wait() {
                            node.exited = true;
                            println!("{} exited ({status}); the others keep running", node.id);
                        }
                    }
                    if nodes.iter().all(|n| n.exited) {
                        println!("every node has exited");
                        return;
                    }
                }
            }
        }
    });
    println!(
        "stopping {} node(s)",
        nodes.iter().filter(|n| !n.exited).count()
    );
    stop_all(&mut nodes);
    ExitCode::SUCCESS
}

/// SIGTERM to every node still running, then SIGKILL to any that has not
/// stopped within the timeout.
fn stop_all(nodes: &mut [Node]) {
    for node in nodes.iter_mut() {
        if let Ok(pid) = i32::try_from(node.child.id()) {
            // SAFETY: sending a signal to our own child's pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    for node in nodes.iter_mut() {
        loop {
            match node.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!("{} did not stop in time; killing it", node.id);
                    let _ = node.child.kill();
                    let _ = node.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(POLL),
            }
        }
    }
}
