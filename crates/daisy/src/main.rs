//! The `daisy` binary: `daisy server` runs a node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod admin;
mod chaos;
mod local;
mod status;

use clap::{Args, Parser, Subcommand};
use daisy_server::config::parse_memory;
use daisy_server::memory::CountingAllocator;
use daisy_server::Config;

#[global_allocator]
static ALLOCATOR: CountingAllocator<mimalloc::MiMalloc> = CountingAllocator(mimalloc::MiMalloc);

#[derive(Parser)]
#[command(
    name = "daisy",
    version,
    about = "DaisyDB: a highly available, Redis-compatible database"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a DaisyDB node.
    Server(Box<ServerArgs>),
    /// Check a node's data directory offline: the log's segments and
    /// records, and every snapshot. Exits 1 if anything is damaged.
    Check {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Run a whole cluster on this machine (child processes on 127.0.0.1)
    /// until Ctrl-C: node nI listens on BASE_PORT+I-1 for clients and
    /// BASE_PORT+1000+I-1 for peers, with its data in DIR/nI.
    Local(local::LocalOptions),
    /// Show the replication state of a node's fragment: every member with
    /// its role, epoch, LSNs, lag and link.
    Status {
        /// Any member's client address.
        #[arg(long)]
        addr: String,
        /// Password, if the nodes require one.
        #[arg(long, env = "DAISY_PASSWORD")]
        password: Option<String>,
    },
    /// Planned switchover: the primary pauses writes, the target catches up
    /// exactly and takes over at the next epoch, the old primary follows it
    /// (sends DAISY SWITCHOVER to the primary).
    Switchover {
        /// The primary's client address.
        #[arg(long)]
        addr: String,
        /// The node id of the secondary to hand over to.
        #[arg(long)]
        to: String,
        /// Give up (writes resume on the primary) after this many ms.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        /// Password, if the node requires one.
        #[arg(long, env = "DAISY_PASSWORD")]
        password: Option<String>,
    },
    /// Fault injection: start a local cluster, run a concurrent workload,
    /// inject faults (kill, pause, partition) on a seeded schedule, record
    /// every operation, check the history (linearizable registers, no
    /// acknowledged write lost, one primary per epoch, identical replicas)
    /// and print a report. Exits 1 if any check fails.
    Chaos(chaos::ChaosOptions),
    /// Change a member's role in the cluster map at run time (needs a
    /// coordinator): `daisy members --addr A set NODE sync|dr|reporting|spare`,
    /// or `daisy members --addr A prefer NODE|none` (the preferred primary).
    Members {
        /// Any member's client address.
        #[arg(long)]
        addr: String,
        #[command(subcommand)]
        change: MemberChange,
        /// Password, if the node requires one.
        #[arg(long, env = "DAISY_PASSWORD")]
        password: Option<String>,
    },
    /// Make a secondary the primary at a new epoch (sends DAISY PROMOTE).
    Promote {
        /// The secondary's client address.
        #[arg(long)]
        addr: String,
        /// Promote even while the secondary is still connected to a live primary.
        #[arg(long)]
        force: bool,
        /// Password, if the node requires one.
        #[arg(long, env = "DAISY_PASSWORD")]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum MemberChange {
    /// Give NODE a kind: sync (joins the in-sync set once caught up), dr,
    /// reporting (asynchronous) or spare (holds nothing until needed).
    Set {
        node: String,
        #[arg(value_parser = ["sync", "dr", "reporting", "spare"])]
        kind: String,
    },
    /// Make NODE the preferred primary (switched back to when caught up),
    /// or `none`.
    Prefer { node: String },
}

/// Every setting is also a key of the TOML file given with --config (same
/// name, underscores for dashes); a flag overrides the file, and a flag
/// given twice takes its last value.
#[derive(Args)]
#[command(args_override_self = true)]
struct ServerArgs {
    /// TOML file with settings.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address of the RESP client port [default: 127.0.0.1:6379].
    #[arg(long)]
    client_addr: Option<SocketAddr>,
    /// Directory for this node's files [default: daisy-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Password clients must give with AUTH or HELLO.
    #[arg(long)]
    requirepass: Option<String>,
    /// Memory limit for data (bytes, or with a unit: 100mb, 2gb); writes fail with -OOM above it [default: 0 = none].
    #[arg(long, value_parser = parse_bytes)]
    maxmemory: Option<u64>,
    /// Most clients connected at once [default: 10000].
    #[arg(long)]
    maxclients: Option<usize>,
    /// Close clients idle for this many seconds [default: 0 = never].
    #[arg(long)]
    timeout: Option<u64>,
    /// Largest bulk string a client may send [default: 512mb].
    #[arg(long, value_parser = parse_bytes)]
    proto_max_bulk_len: Option<u64>,
    /// Largest unparsed input buffered per client [default: 1gb].
    #[arg(long, value_parser = parse_bytes)]
    client_query_buffer_limit: Option<u64>,
    /// Most arguments in one command [default: 4194304].
    #[arg(long)]
    proto_max_multibulk_len: Option<usize>,
    /// Largest inline command [default: 64kb].
    #[arg(long, value_parser = parse_bytes)]
    proto_max_inline_len: Option<u64>,
    /// Pending output at which a pub/sub subscriber is disconnected [default: 32mb].
    #[arg(long, value_parser = parse_bytes)]
    client_output_buffer_limit_pubsub: Option<u64>,
    /// Pending output at which a normal client is disconnected [default: 0 = none].
    #[arg(long, value_parser = parse_bytes)]
    client_output_buffer_limit_normal: Option<u64>,
    /// Background task frequency per second, 1..=500 [default: 10].
    #[arg(long)]
    hz: Option<u32>,
    /// Seed for hash tables and random choices [default: 0 = random].
    #[arg(long)]
    seed: Option<u64>,
    /// Keep a transaction log and snapshots in the data directory; false keeps data in memory only [default: true].
    #[arg(long)]
    persistence: Option<bool>,
    /// When a write is durable before its reply: always (fsync, group commit), everysec, or no [default: always].
    #[arg(long, value_parser = ["always", "everysec", "no"])]
    fsync: Option<String>,
    /// Take a snapshot after the log grows this much (bytes or 64mb; 0 = never) [default: 64mb].
    #[arg(long, value_parser = parse_bytes)]
    snapshot_log_bytes: Option<u64>,
    /// Take a snapshot this many seconds after the last one if anything changed (0 = never) [default: 3600].
    #[arg(long)]
    snapshot_interval_secs: Option<u64>,
    /// Size at which the log starts a new segment file [default: 64mb].
    #[arg(long, value_parser = parse_bytes)]
    log_segment_bytes: Option<u64>,
    /// With --fsync always: microseconds the log may wait for a burst of writes before one fsync covers them (0 = sync at once) [default: 0].
    #[arg(long)]
    group_commit_window_us: Option<u64>,
    /// This node's name in its cluster [default: node-1].
    #[arg(long)]
    node_id: Option<String>,
    /// Address of the peer port (replication); needed with --members.
    #[arg(long)]
    peer_addr: Option<String>,
    /// Every member, this node included: ID=HOST:PEERPORT[/KIND],... with KIND sync (default), dr, reporting, spare or arbiter.
    #[arg(long)]
    members: Option<String>,
    /// Where to connect to some members instead of their --members address (port forward, proxy): ID=HOST:PORT,...
    #[arg(long)]
    peer_routes: Option<String>,
    /// The member that is primary on the cluster's first start.
    #[arg(long)]
    primary: Option<String>,
    /// When writes are acknowledged: 1-safe, 2-safe, 2-safe-committed or very-safe [default: 2-safe].
    #[arg(long, value_parser = ["1-safe", "2-safe", "2-safe-committed", "very-safe"])]
    safeness: Option<String>,
    /// As a secondary: hot (apply continuously, serve READONLY reads) or warm (apply only when promoted) [default: hot].
    #[arg(long, value_parser = ["hot", "warm"])]
    standby: Option<String>,
    /// Milliseconds writes at 2-safe and above wait for a silent in-sync secondary before -NOREPLICAS [default: 1000].
    #[arg(long)]
    sync_timeout_ms: Option<u64>,
    /// Recent records kept in memory for reconnecting secondaries (bytes or 64mb) [default: 64mb].
    #[arg(long, value_parser = parse_bytes)]
    repl_backlog_bytes: Option<u64>,
    /// Run as an arbiter: a coordinator voter with no data and no client port.
    #[arg(long)]
    arbiter: bool,
    /// The redundancy model: single, active-standby or active-spare [default: active-standby].
    #[arg(long, value_parser = ["single", "active-standby", "active-spare"])]
    model: Option<String>,
    /// Milliseconds between heartbeats to the coordinator (and lease renewals) [default: 20].
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// Milliseconds a lease renewal keeps the primary serving [default: 150].
    #[arg(long)]
    lease_ms: Option<u64>,
    /// Milliseconds without a heartbeat before the primary is failed over (twice this before an in-sync secondary is dropped) [default: 150].
    #[arg(long)]
    failover_after_ms: Option<u64>,
    /// Milliseconds a secondary may be unreachable before a spare replaces it (active-spare) [default: 3000].
    #[arg(long)]
    spare_after_ms: Option<u64>,
    /// Switch back to the preferred (first) primary once it has returned and caught up [default: true].
    #[arg(long)]
    switch_back: Option<bool>,
    /// Milliseconds the preferred primary must stay caught up before the switch back [default: 1000].
    #[arg(long)]
    switch_back_after_ms: Option<u64>,
    /// Test only: break a guarantee so that `daisy chaos` can show its checkers catch it (ack-early: acknowledge 2-safe writes before any secondary has them; promote-outside-in-sync: fail over to a member outside the in-sync set). Never for real data.
    #[arg(long, value_parser = ["ack-early", "promote-outside-in-sync"], hide = true)]
    break_for_tests: Option<String>,
    /// Log filter, e.g. info, debug, daisy_server=trace [default: info,openraft=off; openraft=warn shows the Raft library's own messages].
    #[arg(long, env = "DAISY_LOG", default_value = "info,openraft=off")]
    log: String,
}

fn parse_bytes(text: &str) -> Result<u64, String> {
    parse_memory(text)
        .ok_or_else(|| format!("'{text}' is not a byte count (e.g. 1048576, 100mb, 2gb)"))
}

impl ServerArgs {
    fn into_config(self) -> Result<Config, String> {
        let mut config = match &self.config {
            Some(path) => Config::from_toml_file(path)?,
            None => Config::default(),
        };
        macro_rules! apply {
            ($($field:ident),*) => { $( if let Some(value) = self.$field { config.$field = value; } )* };
        }
        macro_rules! apply_size {
            ($($field:ident),*) => { $( if let Some(value) = self.$field { config.$field = value as usize; } )* };
        }
        apply!(
            client_addr,
            data_dir,
            requirepass,
            maxmemory,
            maxclients,
            timeout,
            proto_max_multibulk_len,
            hz,
            seed,
            persistence,
            fsync,
            snapshot_log_bytes,
            snapshot_interval_secs,
            log_segment_bytes,
            group_commit_window_us,
            node_id,
            peer_addr,
            members,
            peer_routes,
            primary,
            safeness,
            standby,
            sync_timeout_ms,
            repl_backlog_bytes,
            model,
            heartbeat_ms,
            lease_ms,
            failover_after_ms,
            spare_after_ms,
            switch_back,
            switch_back_after_ms,
            break_for_tests
        );
        apply_size!(
            proto_max_bulk_len,
            client_query_buffer_limit,
            proto_max_inline_len,
            client_output_buffer_limit_pubsub,
            client_output_buffer_limit_normal
        );
        config.arbiter |= self.arbiter;
        config.validate()?;
        Ok(config)
    }
}

/// Prints an admin command's result (or its error, as `daisy NAME: ...`).
fn finish(name: &str, result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("daisy {name}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { data_dir } => {
            let report = daisy_server::check_data_dir(&data_dir);
            print!("{}", report.text);
            if report.healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Local(options) => local::run(options),
        Command::Chaos(options) => chaos::run(options),
        Command::Status { addr, password } => {
            finish("status", status::render(&addr, password.as_deref()))
        }
        Command::Switchover {
            addr,
            to,
            timeout_ms,
            password,
        } => {
            let timeout = timeout_ms.to_string();
            let argv = ["DAISY", "SWITCHOVER", to.as_str(), timeout.as_str()];
            let result = admin::call(&addr, password.as_deref(), &argv)
                .map(|_| format!("{to} is the primary; {addr} follows it\n"));
            finish("switchover", result)
        }
        Command::Members {
            addr,
            change,
            password,
        } => {
            let (argv, done) = match &change {
                MemberChange::Set { node, kind } => (
                    vec!["DAISY", "MEMBER", node.as_str(), kind.as_str()],
                    format!("{node} is now {kind} in the cluster map\n"),
                ),
                MemberChange::Prefer { node } => (
                    vec!["DAISY", "PREFER", node.as_str()],
                    format!("the preferred primary is now {node}\n"),
                ),
            };
            let result = admin::call(&addr, password.as_deref(), &argv).map(|_| done);
            finish("members", result)
        }
        Command::Promote {
            addr,
            force,
            password,
        } => {
            let mut argv = vec!["DAISY", "PROMOTE"];
            if force {
                argv.push("FORCE");
            }
            let result = admin::call(&addr, password.as_deref(), &argv)
                .map(|reply| format!("{reply}: {addr} is the primary\n"));
            finish("promote", result)
        }
        Command::Server(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_new(&args.log)
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .init();
            let config = match args.into_config() {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("daisy server: {error}");
                    return ExitCode::from(2);
                }
            };
            match daisy_server::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("daisy server: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_from(args: &[&str]) -> Config {
        let cli = Cli::try_parse_from(["daisy", "server"].iter().chain(args)).expect("parses");
        match cli.command {
            Command::Server(args) => args.into_config().expect("valid"),
            _ => unreachable!("parsed a server command"),
        }
    }

    #[test]
    fn the_arbiter_flag_reaches_the_config() {
        let config = config_from(&[
            "--arbiter",
            "--node-id=c",
            "--peer-addr=127.0.0.1:7103",
            "--members=a=127.0.0.1:7101,b=127.0.0.1:7102,c=127.0.0.1:7103/arbiter",
            "--primary=a",
        ]);
        assert!(config.arbiter);
    }

    /// Every flag must reach the config: a flag that is parsed but not
    /// applied would silently run with the default.
    #[test]
    fn every_flag_reaches_the_config() {
        let config = config_from(&[
            "--client-addr=127.0.0.1:7777",
            "--data-dir=/tmp/x",
            "--requirepass=pw",
            "--maxmemory=1mb",
            "--maxclients=5",
            "--timeout=9",
            "--proto-max-bulk-len=2mb",
            "--client-query-buffer-limit=3mb",
            "--proto-max-multibulk-len=77",
            "--proto-max-inline-len=4kb",
            "--client-output-buffer-limit-pubsub=5mb",
            "--client-output-buffer-limit-normal=6mb",
            "--hz=20",
            "--seed=42",
            "--fsync=everysec",
            "--snapshot-log-bytes=1mb",
            "--snapshot-interval-secs=60",
            "--log-segment-bytes=2mb",
            "--group-commit-window-us=50",
            "--node-id=b",
            "--peer-addr=127.0.0.1:7102",
            "--members=a=127.0.0.1:7101,b=127.0.0.1:7102,c=127.0.0.1:7103/dr",
            "--peer-routes=a=127.0.0.1:9101",
            "--primary=a",
            "--safeness=very-safe",
            "--standby=warm",
            "--sync-timeout-ms=250",
            "--repl-backlog-bytes=2mb",
            "--model=active-spare",
            "--heartbeat-ms=25",
            "--lease-ms=200",
            "--failover-after-ms=300",
            "--spare-after-ms=4000",
            "--switch-back=false",
            "--switch-back-after-ms=2000",
            "--break-for-tests=ack-early",
        ]);
        let expected = Config {
            client_addr: "127.0.0.1:7777".parse().unwrap(),
            data_dir: PathBuf::from("/tmp/x"),
            requirepass: "pw".into(),
            maxmemory: 1 << 20,
            maxclients: 5,
            timeout: 9,
            proto_max_bulk_len: 2 << 20,
            client_query_buffer_limit: 3 << 20,
            proto_max_multibulk_len: 77,
            proto_max_inline_len: 4 << 10,
            client_output_buffer_limit_pubsub: 5 << 20,
            client_output_buffer_limit_normal: 6 << 20,
            hz: 20,
            seed: 42,
            persistence: true,
            fsync: "everysec".into(),
            snapshot_log_bytes: 1 << 20,
            snapshot_interval_secs: 60,
            log_segment_bytes: 2 << 20,
            group_commit_window_us: 50,
            node_id: "b".into(),
            peer_addr: "127.0.0.1:7102".into(),
            members: "a=127.0.0.1:7101,b=127.0.0.1:7102,c=127.0.0.1:7103/dr".into(),
            peer_routes: "a=127.0.0.1:9101".into(),
            primary: "a".into(),
            safeness: "very-safe".into(),
            standby: "warm".into(),
            sync_timeout_ms: 250,
            repl_backlog_bytes: 2 << 20,
            arbiter: false,
            model: "active-spare".into(),
            heartbeat_ms: 25,
            lease_ms: 200,
            failover_after_ms: 300,
            spare_after_ms: 4000,
            switch_back: false,
            switch_back_after_ms: 2000,
            break_for_tests: "ack-early".into(),
        };
        assert_eq!(config, expected);
        assert_ne!(
            Config::default(),
            expected,
            "every field differs from its default"
        );
        // Members need persistence, so this flag is checked on its own.
        assert!(!config_from(&["--persistence=false"]).persistence);
    }

    #[test]
    fn a_flag_given_twice_takes_its_last_value() {
        let config = config_from(&["--hz=20", "--hz=30"]);
        assert_eq!(config.hz, 30);
    }
}
