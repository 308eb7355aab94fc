//! Replication as clients see it, over real `daisy server` processes on
//! loopback: a primary, its secondaries and async members, each with fixed
//! client and peer ports and its own data directory, so that a node killed
//! with SIGKILL comes back as itself.
//!
//! What must hold (DESIGN §1, §5):
//! - at 2-safe, 2-safe-committed and very-safe, no acknowledged write is
//!   lost when the primary dies and its secondary is promoted;
//! - at 1-safe, what is lost is exactly what the deposed primary reports in
//!   `<data-dir>/divergent/*.aof`, and it never serves that data again;
//! - a deposed primary rejoins as a secondary at the new epoch;
//! - a restarted secondary resumes from the log, a new one starts from a
//!   snapshot;
//! - hot and warm secondaries and async members answer as documented.
//!
//! Every run is reproducible from the seed its failure message prints:
//! `DAISY_REPL_SEED` fixes the seed, `DAISY_REPL_ROUNDS` repeats the
//! failover rounds, `DAISY_REPL_BIG=1` copies 1M keys instead of 200k to the
//! new secondary.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::{
    daisy_log_path, encode_command, format_command, free_port, log_file_tail, spawn_daisy_in,
    temp_dir, Resp, RespConn, ServerProcess, XorShift, REPLY_TIMEOUT,
};

/// Failover rounds per safeness level; `DAISY_REPL_ROUNDS` raises it.
const ROUNDS_DEFAULT: usize = 1;
/// Concurrent writers against the primary in the failover tests.
const WRITERS: usize = 10;
/// Counters the writers INCR, shared between writers.
const COUNTERS: usize = 4;
/// Writers run for MIN plus up to SPREAD milliseconds (drawn from the seed)
/// before the primary is killed.
const WRITE_PHASE_MIN_MS: u64 = 700;
const WRITE_PHASE_SPREAD_MS: u64 = 600;
/// Fewer acknowledged SETs than this and a failover round proves nothing.
const ACKNOWLEDGED_MIN: usize = 20;
/// Writes the 1-safe primary must acknowledge while its secondary is dead,
/// so that the lost suffix is never empty.
const ONE_SAFE_SOLO_WRITES: usize = 50;
/// Pause of a writer after a -NOREPLICAS, so a refusing primary is not spun on.
const REFUSED_WRITE_PAUSE: Duration = Duration::from_millis(10);
/// Bound on any wait for the cluster to reach a state: a link up, a
/// catch-up, equal digests, writes accepted again.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on a new secondary's full copy (debug build, loaded machine).
const JOIN_TIMEOUT: Duration = Duration::from_secs(120);
const JOIN_TIMEOUT_BIG: Duration = Duration::from_secs(600);
/// Bound on getting a secondary promoted.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on finding the divergent files once the old primary follows.
const DIVERGENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two polls of a node's state.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Commands sent before their replies are read, when loading data.
const PIPELINE_BATCH: usize = 1000;
/// Keys loaded before a new secondary joins (`DAISY_REPL_BIG=1`: the large count).
const JOIN_KEYS: usize = 200_000;
const JOIN_KEYS_BIG: usize = 1_000_000;
/// Keys written while the new secondary is being copied.
const JOIN_LIVE_KEYS: usize = 5_000;
/// A backlog and log segments small enough that the join test's data has
/// left both once a snapshot is taken.
const SMALL_BACKLOG_BYTES: &str = "1048576";
const SMALL_SEGMENT_BYTES: &str = "1048576";
/// `--sync-timeout-ms` for tests that wait for -NOREPLICAS, to keep them fast.
const SYNC_TIMEOUT_MS: u64 = 300;
/// How much later than sync-timeout-ms a -NOREPLICAS may come on a loaded
/// test machine running a debug build.
const NOREPLICAS_SLACK: Duration = Duration::from_secs(2);
/// Reply timeout for commands whose cost grows with the data.
const SLOW_REPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// Reply timeout for probes of a node that may be between states.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Lines of each node's log in a failure message.
const LOG_TAIL_LINES: usize = 25;
/// Items listed in a failure message before "...".
const REPORT_ITEMS: usize = 10;
/// The exact refusal of a write on a secondary (REPL_SPEC, as Redis words it).
const READONLY_REPLY: &str = "READONLY You can't write against a read only replica.";
/// DEBUG DIGEST of an empty keyspace.
const EMPTY_DIGEST: &str = "0000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------
// Reproduction

/// What a failure message needs to rerun a test the same way.
struct Repro {
    seed: u64,
    rounds: usize,
    line: String,
}

fn repro(test: &str) -> Repro {
    let seed = env_parse("DAISY_REPL_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        (std::process::id() as u64) << 32 ^ nanos
    });
    let rounds = env_parse("DAISY_REPL_ROUNDS").unwrap_or(ROUNDS_DEFAULT);
    let line = format!(
        "reproduce: DAISY_REPL_SEED={seed} DAISY_REPL_ROUNDS={rounds} \
         cargo test -p daisy --test replication -- --exact {test}"
    );
    Repro { seed, rounds, line }
}

fn env_parse<T: FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|text| text.parse().ok())
}

fn write_phase(random: &mut XorShift) -> Duration {
    Duration::from_millis(WRITE_PHASE_MIN_MS + random.next_u64() % WRITE_PHASE_SPREAD_MS)
}

// ---------------------------------------------------------------------------
// INFO replication

/// The fields of one `INFO replication` reply.
#[derive(Clone, Debug, Default)]
struct Info {
    fields: BTreeMap<String, String>,
}

impl Info {
    fn parse(text: &[u8]) -> Info {
        let fields = String::from_utf8_lossy(text)
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Info { fields }
    }

    /// The field's value, or "" when the field is absent.
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.get(name).parse().ok()
    }

    /// The `slaveN:` lines of a primary, each split into its `k=v` pairs.
    fn secondaries(&self) -> Vec<BTreeMap<String, String>> {
        (0..)
            .map_while(|n| self.fields.get(&format!("slave{n}")))
            .map(|line| {
                line.split(',')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    }

    fn follows(&self, primary: &str) -> bool {
        self.get("role") == "slave"
            && self.get("master_link_status") == "up"
            && self.get("master_node_id") == primary
            && self.get("sync_in_progress") == "0"
    }
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<String> = self
            .fields
            .iter()
            .map(|(name, value)| format!("{name}:{value}"))
            .collect();
        write!(f, "[{}]", pairs.join(" "))
    }
}

// ---------------------------------------------------------------------------
// Talking to a node without a cluster at hand (probes, writer threads)

/// Sends one command on a fresh connection; any failure is a value.
fn probe(port: u16, argv: &[&str], timeout: Duration) -> Result<Resp, String> {
    let mut conn =
        RespConn::try_connect(port, timeout).map_err(|e| format!("connect to port {port}: {e}"))?;
    conn.set_read_timeout(timeout).map_err(|e| e.to_string())?;
    conn.call(argv)
        .map_err(|e| format!("{} on port {port}: {e}", format_command(argv)))
}

fn info_replication(port: u16) -> Result<Info, String> {
    match probe(port, &["INFO", "replication"], REPLY_TIMEOUT)? {
        Resp::Bulk(text) | Resp::Verbatim(_, text) => Ok(Info::parse(&text)),
        other => Err(format!("INFO replication gave {other}")),
    }
}

fn digest(port: u16) -> Result<String, String> {
    match probe(port, &["DEBUG", "DIGEST"], SLOW_REPLY_TIMEOUT)? {
        Resp::Bulk(hex) | Resp::Simple(hex)
            if hex.len() == 40 && hex.iter().all(u8::is_ascii_hexdigit) =>
        {
            Ok(String::from_utf8_lossy(&hex).into_owned())
        }
        other => Err(format!("DEBUG DIGEST gave {other}, not 40 hex digits")),
    }
}

fn is_ok(reply: &Resp) -> bool {
    matches!(reply, Resp::Simple(ok) if ok == b"OK")
}

/// The text of a bulk or simple string.
fn text(reply: &Resp) -> Option<String> {
    match reply {
        Resp::Bulk(bytes) | Resp::Simple(bytes) => Some(String::from_utf8_lossy(bytes).into()),
        _ => None,
    }
}

/// A number sent as an integer or as a numeric string.
fn number(reply: &Resp) -> Option<u64> {
    match reply {
        Resp::Int(n) => u64::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

/// Sets `<prefix>:<i>` to `<prefix>-value-<i>` for every i in `range`,
/// PIPELINE_BATCH commands at a time; every reply must be +OK.
fn load_keys(port: u16, prefix: &str, range: Range<usize>) -> Result<(), String> {
    let mut conn = RespConn::try_connect(port, REPLY_TIMEOUT).map_err(|e| e.to_string())?;
    conn.set_read_timeout(SLOW_REPLY_TIMEOUT)
        .map_err(|e| e.to_string())?;
    let mut start = range.start;
    while start < range.end {
        let end = (start + PIPELINE_BATCH).min(range.end);
        let mut batch = Vec::new();
        for i in start..end {
            let (key, value) = loaded_pair(prefix, i);
            batch.extend(encode_command(&["SET", &key, &value]));
        }
        conn.send_raw(&batch)
            .map_err(|e| format!("sending {prefix}:{start}..{end}: {e}"))?;
        for i in start..end {
            match conn.read_reply() {
                Ok(reply) if is_ok(&reply) => {}
                Ok(reply) => return Err(format!("SET {prefix}:{i} gave {reply}")),
                Err(e) => return Err(format!("SET {prefix}:{i}: {e}")),
            }
        }
        start = end;
    }
    Ok(())
}

fn loaded_pair(prefix: &str, i: usize) -> (String, String) {
    (format!("{prefix}:{i}"), format!("{prefix}-value-{i}"))
}

// ---------------------------------------------------------------------------
// The cluster

/// One member: its ports and data directory stay the same across restarts,
/// as they would on a real machine.
struct Member {
    id: &'static str,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    /// The flags of its first start, reused by every restart.
    args: Vec<String>,
    process: Option<ServerProcess>,
}

/// A test cluster: every member gets the same `--members` and `--primary`.
/// Dropping it stops every node; the files stay when a test fails.
struct Cluster {
    base: PathBuf,
    members: Vec<Member>,
    shared_args: Vec<String>,
    reproduce: String,
}

impl Cluster {
    /// Lays out (does not start) members `layout` = [(id, type)], with
    /// `primary` as the initial primary and `common` flags for all.
    fn new(
        label: &str,
        layout: &[(&'static str, &'static str)],
        primary: &str,
        common: &[&str],
        reproduce: &str,
    ) -> Cluster {
        let base = temp_dir(label);
        let mut taken = HashSet::new();
        let mut port = || loop {
            let port = free_port();
            if taken.insert(port) {
                return port;
            }
        };
        let mut members = Vec::new();
        let mut list = Vec::new();
        for &(id, kind) in layout {
            let member = Member {
                id,
                client_port: port(),
                peer_port: port(),
                data_dir: base.join(id),
                args: Vec::new(),
                process: None,
            };
            let suffix = if kind == "sync" {
                String::new()
            } else {
                format!("/{kind}")
            };
            list.push(format!("{id}=127.0.0.1:{}{suffix}", member.peer_port));
            members.push(member);
        }
        let mut shared_args = vec![
            "--members".to_string(),
            list.join(","),
            "--primary".to_string(),
            primary.to_string(),
        ];
        shared_args.extend(common.iter().map(|arg| arg.to_string()));
        Cluster {
            base,
            members,
            shared_args,
            reproduce: reproduce.to_string(),
        }
    }

    fn index(&self, id: &str) -> usize {
        self.members
            .iter()
            .position(|member| member.id == id)
            .unwrap_or_else(|| panic!("no member {id} in this cluster"))
    }

    fn port(&self, id: &str) -> u16 {
        self.members[self.index(id)].client_port
    }

    fn data_dir(&self, id: &str) -> &Path {
        &self.members[self.index(id)].data_dir
    }

    /// Starts member `id` for the first time, with `extra` flags on top of
    /// the cluster's.
    fn start(&mut self, id: &str, extra: &[&str]) {
        let index = self.index(id);
        let member = &self.members[index];
        let mut args = vec![
            "--node-id".to_string(),
            id.to_string(),
            "--peer-addr".to_string(),
            format!("127.0.0.1:{}", member.peer_port),
        ];
        args.extend(self.shared_args.iter().cloned());
        args.extend(extra.iter().map(|arg| arg.to_string()));
        self.members[index].args = args;
        self.launch(index);
    }

    /// Starts a killed member again: same ports, data directory and flags.
    fn restart(&mut self, id: &str) {
        let index = self.index(id);
        let running = self.members[index]
            .process
            .as_mut()
            .is_some_and(ServerProcess::is_running);
        assert!(!running, "node {id} restarted while running");
        self.launch(index);
    }

    fn launch(&mut self, index: usize) {
        let member = &self.members[index];
        let args: Vec<&str> = member.args.iter().map(String::as_str).collect();
        let started = spawn_daisy_in(&member.data_dir, member.client_port, &args);
        match started {
            Ok(process) => self.members[index].process = Some(process),
            Err(reason) => panic!(
                "node {} did not start: {reason}\n{}",
                member.id,
                self.context()
            ),
        }
    }

    /// SIGKILL: no chance to flush or say goodbye.
    fn kill(&mut self, id: &str) {
        let index = self.index(id);
        if let Some(process) = self.members[index].process.as_mut() {
            process.kill();
        }
    }

    /// The reproduce line and each node's last log lines.
    fn context(&self) -> String {
        let mut text = format!("{}\ncluster files: {}", self.reproduce, self.base.display());
        for member in &self.members {
            let log = daisy_log_path(&member.data_dir);
            let tail = if log.exists() {
                log_file_tail(&log, LOG_TAIL_LINES)
            } else {
                "(never started)".to_string()
            };
            let _ = write!(
                text,
                "\n--- node {} (client port {}, peer port {}) log tail ---\n{tail}",
                member.id, member.client_port, member.peer_port
            );
        }
        text
    }

    fn connect(&self, id: &str) -> RespConn {
        RespConn::try_connect(self.port(id), REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to node {id}: {e}\n{}", self.context()))
    }

    /// A connection that has sent READONLY, as a client reading a secondary.
    fn readonly(&self, id: &str) -> RespConn {
        let mut conn = self.connect(id);
        let reply = self.call(&mut conn, &["READONLY"]);
        self.expect(
            is_ok(&reply),
            &format!("READONLY on node {id} gave {reply}"),
        );
        conn
    }

    fn call(&self, conn: &mut RespConn, argv: &[&str]) -> Resp {
        conn.call(argv)
            .unwrap_or_else(|e| panic!("{} failed: {e}\n{}", format_command(argv), self.context()))
    }

    /// Restarts the deposed primary `old`: it must follow `new` at `epoch`,
    /// having cut its divergent records back rather than copied everything.
    fn restart_old_primary(&mut self, old: &str, new: &str, epoch: u64, what: &str) {
        self.restart(old);
        let rejoined = self.wait_following(old, new, SETTLE_TIMEOUT);
        self.expect(
            rejoined.number("epoch") == Some(epoch),
            &format!("{what}: the old primary rejoined at the wrong epoch: {rejoined}"),
        );
        self.expect(
            rejoined.number("full_syncs") == Some(0),
            &format!("{what}: the old primary needed a full copy to rejoin: {rejoined}"),
        );
    }

    /// SAVE on `id`, waiting out a background snapshot already running.
    fn save(&self, id: &str) {
        self.wait_for(&format!("SAVE on node {id}"), SETTLE_TIMEOUT, || {
            let mut conn = self.connect(id);
            conn.set_read_timeout(SLOW_REPLY_TIMEOUT)
                .expect("set timeout");
            match self.call(&mut conn, &["SAVE"]) {
                reply if is_ok(&reply) => Ok(()),
                reply => Err(reply.to_string()),
            }
        });
    }

    /// One command on a fresh connection.
    fn call_once(&self, id: &str, argv: &[&str]) -> Resp {
        let mut conn = self.connect(id);
        self.call(&mut conn, argv)
    }

    fn info(&self, id: &str) -> Info {
        info_replication(self.port(id))
            .unwrap_or_else(|e| panic!("node {id}: {e}\n{}", self.context()))
    }

    fn expect(&self, holds: bool, what: &str) {
        if !holds {
            panic!("{what}\n{}", self.context());
        }
    }

    /// Asserts `reply` is an error starting with `prefix`; returns its text.
    fn expect_error(&self, reply: &Resp, prefix: &str, what: &str) -> String {
        let text = reply.error_text().unwrap_or_default();
        self.expect(
            text.starts_with(prefix),
            &format!("{what}: expected -{prefix}..., got {reply}"),
        );
        text
    }

    fn load(&self, id: &str, prefix: &str, range: Range<usize>) {
        if let Err(reason) = load_keys(self.port(id), prefix, range) {
            panic!("loading node {id}: {reason}\n{}", self.context());
        }
    }

    /// GETs `keys` on `conn`, PIPELINE_BATCH at a time.
    fn get_many(&self, conn: &mut RespConn, keys: &[&str]) -> Vec<Resp> {
        let mut replies = Vec::with_capacity(keys.len());
        for batch in keys.chunks(PIPELINE_BATCH) {
            let mut bytes = Vec::new();
            for key in batch {
                bytes.extend(encode_command(&["GET", key]));
            }
            if let Err(e) = conn.send_raw(&bytes) {
                panic!("sending GETs: {e}\n{}", self.context());
            }
            for key in batch {
                match conn.read_reply() {
                    Ok(reply) => replies.push(reply),
                    Err(e) => panic!("GET {key}: {e}\n{}", self.context()),
                }
            }
        }
        replies
    }

    /// Polls `probe` until it gives a value; panics with its last complaint
    /// and the cluster's context after `timeout`.
    fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match probe() {
                Ok(value) => return value,
                Err(state) if Instant::now() >= deadline => panic!(
                    "{what}: not reached within {timeout:?}; last seen: {state}\n{}",
                    self.context()
                ),
                Err(_) => thread::sleep(POLL_INTERVAL),
            }
        }
    }

    /// Waits until `id` is a secondary of `primary` with its link up and no
    /// sync in progress; returns its INFO replication.
    fn wait_following(&self, id: &str, primary: &str, timeout: Duration) -> Info {
        let port = self.port(id);
        self.wait_for(
            &format!("node {id} following {primary} with its link up"),
            timeout,
            || {
                let info = info_replication(port)?;
                if info.follows(primary) {
                    Ok(info)
                } else {
                    Err(info.to_string())
                }
            },
        )
    }

    /// Waits until the primary `id` acknowledges a write at its level.
    fn wait_writable(&self, id: &str) {
        let port = self.port(id);
        let key = format!("harness:writable:{id}");
        self.wait_for(
            &format!("node {id} acknowledging writes"),
            SETTLE_TIMEOUT,
            || match probe(port, &["SET", &key, "1"], REPLY_TIMEOUT)? {
                reply if is_ok(&reply) => Ok(()),
                reply => Err(reply.to_string()),
            },
        );
    }

    /// Waits until every node in `ids` has the same DEBUG DIGEST (writes
    /// must have stopped); returns it.
    fn wait_same_data(&self, ids: &[&str], timeout: Duration) -> String {
        let what = format!("the same DEBUG DIGEST on nodes {ids:?}");
        self.wait_for(&what, timeout, || {
            let mut digests = Vec::new();
            for id in ids {
                digests.push((*id, digest(self.port(id))?));
            }
            if digests.iter().all(|(_, d)| *d == digests[0].1) {
                Ok(digests[0].1.clone())
            } else {
                Err(format!("{digests:?}"))
            }
        })
    }

    /// Promotes the secondary `id`: DAISY PROMOTE, and DAISY PROMOTE FORCE
    /// when the plain one is refused (its link to the dead primary may
    /// still look up for a moment). It must then be primary at
    /// `epoch_before + 1`; returns its INFO replication.
    fn promote(&self, id: &str, epoch_before: u64) -> Info {
        let port = self.port(id);
        let mut refusals: Vec<String> = Vec::new();
        let how = self.wait_for(&format!("node {id} promoted"), PROMOTE_TIMEOUT, || {
            for argv in [
                &["DAISY", "PROMOTE"][..],
                &["DAISY", "PROMOTE", "FORCE"][..],
            ] {
                match probe(port, argv, REPLY_TIMEOUT) {
                    Ok(reply) if is_ok(&reply) => return Ok(format_command(argv)),
                    Ok(reply) => refusals.push(format!("{} -> {reply}", format_command(argv))),
                    Err(e) => refusals.push(e),
                }
            }
            // A refusal may come from a promotion already under way.
            match info_replication(port) {
                Ok(info) if info.get("role") == "master" => Ok("(already master)".into()),
                _ => Err(refusals[refusals.len().saturating_sub(4)..].join("; ")),
            }
        });
        let info = self.info(id);
        self.expect(
            info.get("role") == "master" && info.number("epoch") == Some(epoch_before + 1),
            &format!(
                "after {how}, node {id} must be master at epoch {}: {info}",
                epoch_before + 1
            ),
        );
        eprintln!(
            "node {id} promoted by {how} to epoch {} (refusals first: {refusals:?})",
            epoch_before + 1
        );
        info
    }

    fn epoch(&self, info: &Info, id: &str) -> u64 {
        info.number("epoch")
            .unwrap_or_else(|| panic!("node {id} reports no epoch: {info}\n{}", self.context()))
    }

    /// What of `acked` node `id` lacks. A counter above the INCRs sent is a
    /// write applied twice: that fails here and now.
    fn missing_on(&self, id: &str, acked: &Acknowledged) -> Missing {
        let mut conn = self.connect(id);
        let mut keys: Vec<&str> = acked.sets.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let replies = self.get_many(&mut conn, &keys);
        let mut missing = Missing::default();
        for (key, reply) in keys.iter().zip(replies) {
            let value = &acked.sets[*key];
            if reply != Resp::Bulk(value.as_bytes().to_vec()) {
                missing.sets.push((key.to_string(), value.clone(), reply));
            }
        }
        for counter in 0..COUNTERS {
            let got = match self.call(&mut conn, &["GET", &counter_key(counter)]) {
                Resp::NullBulk => 0,
                reply => number(&reply).unwrap_or_else(|| {
                    panic!(
                        "{} on node {id} is {reply}\n{}",
                        counter_key(counter),
                        self.context()
                    )
                }),
            };
            self.expect(
                got <= acked.incrs_sent[counter],
                &format!(
                    "{} on node {id} is {got}, more than the {} INCRs sent",
                    counter_key(counter),
                    acked.incrs_sent[counter]
                ),
            );
            missing.counter_values[counter] = got;
            if got < acked.incrs_acked[counter] {
                missing
                    .counters
                    .push((counter, got, acked.incrs_acked[counter]));
            }
        }
        missing
    }

    fn assert_nothing_missing(&self, id: &str, acked: &Acknowledged, when: &str) {
        let missing = self.missing_on(id, acked);
        self.expect(
            missing.is_empty(),
            &format!(
                "{when}: node {id} lacks acknowledged writes: {} of {} SETs (first: {}), \
                 counters (counter, value, acknowledged) {:?}",
                missing.sets.len(),
                acked.sets.len(),
                missing.describe_sets(),
                missing.counters
            ),
        );
    }

    /// A node that lost `missing` must never serve it: a READONLY GET of a
    /// lost key does not return the lost value.
    fn assert_not_served(&self, id: &str, missing: &Missing, when: &str) {
        let mut conn = self.readonly(id);
        let keys: Vec<&str> = missing
            .sets
            .iter()
            .map(|(key, _, _)| key.as_str())
            .collect();
        let replies = self.get_many(&mut conn, &keys);
        let served: Vec<String> = missing
            .sets
            .iter()
            .zip(&replies)
            .filter(|((_, value, _), reply)| **reply == Resp::Bulk(value.as_bytes().to_vec()))
            .map(|((key, value, _), _)| format!("{key}={value}"))
            .take(REPORT_ITEMS)
            .collect();
        self.expect(
            served.is_empty(),
            &format!("{when}: node {id} served writes the new primary lost: {served:?}"),
        );
    }

    fn check_writers(&self, acked: &Acknowledged, what: &str) {
        self.expect(
            acked.unexpected.is_empty(),
            &format!(
                "{what}: writers got unexpected replies: {:?}",
                acked.unexpected
            ),
        );
        self.expect(
            acked.sets.len() >= ACKNOWLEDGED_MIN,
            &format!(
                "{what}: only {} SETs were acknowledged, too few to mean anything",
                acked.sets.len()
            ),
        );
        eprintln!(
            "{what}: {} SETs acknowledged, {} of unknown outcome, {} INCRs acknowledged of {} sent",
            acked.sets.len(),
            acked.sets_unknown,
            acked.incrs_acked.iter().sum::<u64>(),
            acked.incrs_sent.iter().sum::<u64>()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for member in &mut self.members {
            member.process = None;
        }
        if !thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

// ---------------------------------------------------------------------------
// Writers and what they saw acknowledged

fn counter_key(counter: usize) -> String {
    format!("counter:{counter}")
}

/// What the writers saw, for checking after a failover.
#[derive(Default)]
struct Acknowledged {
    /// Key -> value of every SET that got +OK.
    sets: HashMap<String, String>,
    /// SETs that got -NOREPLICAS: they may or may not have happened.
    sets_unknown: usize,
    /// Per counter: INCRs acknowledged, and INCRs sent in all.
    incrs_acked: [u64; COUNTERS],
    incrs_sent: [u64; COUNTERS],
    /// Replies that are neither an acknowledgement, -NOREPLICAS, nor a
    /// broken connection.
    unexpected: Vec<String>,
}

/// What a write's reply says about its fate.
enum Outcome {
    Acknowledged,
    /// -NOREPLICAS: the write may still have happened.
    Unknown,
    /// The node went away mid-write: outcome unknown, and this writer stops.
    ConnectionLost,
    Unexpected(String),
}

fn outcome(reply: io::Result<Resp>, acknowledged: impl Fn(&Resp) -> bool) -> Outcome {
    match reply {
        Err(_) => Outcome::ConnectionLost,
        Ok(reply) if acknowledged(&reply) => Outcome::Acknowledged,
        Ok(Resp::Error(text)) if text.starts_with(b"NOREPLICAS") => Outcome::Unknown,
        Ok(reply) => Outcome::Unexpected(reply.to_string()),
    }
}

/// WRITERS threads SETting unique keys and INCRing shared counters on one
/// node until stopped or disconnected.
struct Writers {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acknowledged>>,
    handles: Vec<JoinHandle<()>>,
}

impl Writers {
    fn start(port: u16, prefix: &str, count: usize) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Acknowledged::default()));
        let handles = (0..count)
            .map(|id| {
                let (stop, acked) = (stop.clone(), acked.clone());
                let prefix = format!("{prefix}:w{id}");
                thread::spawn(move || write_until_stopped(port, &prefix, id, &stop, &acked))
            })
            .collect();
        Writers {
            stop,
            acked,
            handles,
        }
    }

    fn acknowledged_sets(&self) -> usize {
        self.acked.lock().unwrap().sets.len()
    }

    fn stop(self) -> Acknowledged {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.handles {
            handle.join().expect("writer thread panicked");
        }
        std::mem::take(&mut *self.acked.lock().unwrap())
    }
}

fn write_until_stopped(
    port: u16,
    prefix: &str,
    id: usize,
    stop: &AtomicBool,
    acked: &Mutex<Acknowledged>,
) {
    let Ok(mut conn) = RespConn::try_connect(port, Duration::from_secs(2)) else {
        return;
    };
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("{prefix}:{i}");
        let value = format!("v{i}");
        match outcome(conn.call(&["SET", &key, &value]), is_ok) {
            Outcome::Acknowledged => {
                acked.lock().unwrap().sets.insert(key, value);
            }
            Outcome::Unknown => {
                acked.lock().unwrap().sets_unknown += 1;
                thread::sleep(REFUSED_WRITE_PAUSE);
            }
            Outcome::ConnectionLost => return,
            Outcome::Unexpected(reply) => {
                acked
                    .lock()
                    .unwrap()
                    .unexpected
                    .push(format!("SET {key}: {reply}"));
                return;
            }
        }
        let counter = (id + i as usize) % COUNTERS;
        acked.lock().unwrap().incrs_sent[counter] += 1;
        let reply = conn.call(&["INCR", &counter_key(counter)]);
        match outcome(reply, |reply| matches!(reply, Resp::Int(_))) {
            Outcome::Acknowledged => acked.lock().unwrap().incrs_acked[counter] += 1,
            Outcome::Unknown => thread::sleep(REFUSED_WRITE_PAUSE),
            Outcome::ConnectionLost => return,
            Outcome::Unexpected(reply) => {
                let text = format!("INCR {}: {reply}", counter_key(counter));
                acked.lock().unwrap().unexpected.push(text);
                return;
            }
        }
        i += 1;
    }
}

/// Acknowledged writes a node lacks.
#[derive(Default)]
struct Missing {
    /// (key, acknowledged value, what the node has).
    sets: Vec<(String, String, Resp)>,
    /// (counter, the node's value, INCRs acknowledged), where value < acknowledged.
    counters: Vec<(usize, u64, u64)>,
    /// Every counter's value on the node.
    counter_values: [u64; COUNTERS],
}

impl Missing {
    fn is_empty(&self) -> bool {
        self.sets.is_empty() && self.counters.is_empty()
    }

    fn describe_sets(&self) -> String {
        let listed: Vec<String> = self
            .sets
            .iter()
            .take(REPORT_ITEMS)
            .map(|(key, value, got)| format!("{key}={value} but {got}"))
            .collect();
        listed.join(", ")
    }
}

// ---------------------------------------------------------------------------
// Divergent files

/// One command: its arguments as bytes.
type Command = Vec<Vec<u8>>;

/// Every command in `<data_dir>/divergent/*.aof`, files in name order;
/// none when there is no such directory (nothing diverged).
fn divergent_commands(data_dir: &Path) -> Result<Vec<Command>, String> {
    let dir = data_dir.join("divergent");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "aof"))
        .collect();
    files.sort();
    let mut commands = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed = parse_commands(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        commands.extend(parsed);
    }
    Ok(commands)
}

/// Parses RESP multibulk commands, as `redis-cli --pipe` would replay them.
fn parse_commands(bytes: &[u8]) -> Result<Vec<Command>, String> {
    const MAX_ARGS: usize = 1 << 20;
    const MAX_ARG_BYTES: usize = 512 << 20;
    let mut commands = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (count, next) = resp_header(bytes, at, b'*', MAX_ARGS)?;
        at = next;
        let mut argv = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let (len, start) = resp_header(bytes, at, b'$', MAX_ARG_BYTES)?;
            let end = start + len;
            if bytes.get(end..end + 2) != Some(b"\r\n".as_slice()) {
                return Err(format!(
                    "argument at offset {start} is not {len} bytes and CRLF"
                ));
            }
            argv.push(bytes[start..end].to_vec());
            at = end + 2;
        }
        commands.push(argv);
    }
    Ok(commands)
}

/// Reads `<kind><n>\r\n` at `at`; returns n and the offset after it.
fn resp_header(bytes: &[u8], at: usize, kind: u8, max: usize) -> Result<(usize, usize), String> {
    if bytes.get(at) != Some(&kind) {
        return Err(format!("expected '{}' at offset {at}", kind as char));
    }
    let line_end = bytes[at..]
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .map(|offset| at + offset)
        .ok_or_else(|| format!("unterminated header at offset {at}"))?;
    let n = std::str::from_utf8(&bytes[at + 1..line_end])
        .ok()
        .and_then(|digits| digits.parse::<usize>().ok())
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("bad length at offset {at}"))?;
    Ok((n, line_end + 2))
}

fn command_name(argv: &Command) -> String {
    argv.first()
        .map(|name| String::from_utf8_lossy(name).to_ascii_uppercase())
        .unwrap_or_default()
}

fn argument(argv: &Command, index: usize) -> Option<&[u8]> {
    argv.get(index).map(Vec::as_slice)
}

/// True when the commands contain `SET key value`.
fn sets_key_to(commands: &[Command], key: &str, value: &str) -> bool {
    commands.iter().any(|argv| {
        command_name(argv) == "SET"
            && argument(argv, 1) == Some(key.as_bytes())
            && argument(argv, 2) == Some(value.as_bytes())
    })
}

/// A counter's value after replaying `commands` on top of `start`. A
/// record may carry an INCR as INCR, INCRBY or as the SET of its result.
fn counter_after(commands: &[Command], key: &str, start: u64) -> Result<i64, String> {
    let mut value = start as i64;
    for argv in commands
        .iter()
        .filter(|argv| argument(argv, 1) == Some(key.as_bytes()))
    {
        let operand = || {
            argument(argv, 2)
                .and_then(|arg| std::str::from_utf8(arg).ok())
                .and_then(|arg| arg.parse::<i64>().ok())
                .ok_or_else(|| format!("bad operand in {}", format_command(argv)))
        };
        match command_name(argv).as_str() {
            "INCR" => value += 1,
            "INCRBY" => value += operand()?,
            "SET" => value = operand()?,
            _ => {
                return Err(format!(
                    "unexpected command on {key}: {}",
                    format_command(argv)
                ))
            }
        }
    }
    Ok(value)
}

// ---------------------------------------------------------------------------
// ROLE

/// Checks the primary's ROLE: ["master", last_lsn, [[ip, port, lsn], ...]]
/// with an entry for the secondary on `secondary_port`; returns last_lsn.
fn check_primary_role(cluster: &Cluster, role: &Resp, secondary_port: u16) -> u64 {
    let shape = || format!("ROLE on the primary has the wrong shape: {role}");
    let Resp::Array(items) = role else {
        panic!("{}\n{}", shape(), cluster.context());
    };
    cluster.expect(items.len() == 3, &shape());
    cluster.expect(text(&items[0]).as_deref() == Some("master"), &shape());
    let last_lsn = number(&items[1]).unwrap_or_else(|| panic!("{}", shape()));
    let Resp::Array(secondaries) = &items[2] else {
        panic!("{}\n{}", shape(), cluster.context());
    };
    let entry = secondaries.iter().find_map(|entry| match entry {
        Resp::Array(fields) if fields.len() == 3 => {
            let port = number(&fields[1])?;
            (port == secondary_port as u64).then_some(fields)
        }
        _ => None,
    });
    let Some(fields) = entry else {
        panic!(
            "ROLE on the primary lists no secondary on port {secondary_port}: {role}\n{}",
            cluster.context()
        );
    };
    cluster.expect(text(&fields[0]).as_deref() == Some("127.0.0.1"), &shape());
    let lsn = number(&fields[2]).unwrap_or(u64::MAX);
    cluster.expect(
        lsn <= last_lsn,
        &format!("{} (lsn beyond last_lsn)", shape()),
    );
    last_lsn
}

/// Checks a secondary's ROLE: ["slave", ip, port, state, applied_lsn];
/// returns (state, applied_lsn).
fn secondary_role(cluster: &Cluster, role: &Resp, primary_port: u16) -> (String, u64) {
    let shape = || format!("ROLE on the secondary has the wrong shape: {role}");
    let Resp::Array(items) = role else {
        panic!("{}\n{}", shape(), cluster.context());
    };
    cluster.expect(items.len() == 5, &shape());
    cluster.expect(text(&items[0]).as_deref() == Some("slave"), &shape());
    cluster.expect(text(&items[1]).as_deref() == Some("127.0.0.1"), &shape());
    cluster.expect(number(&items[2]) == Some(primary_port as u64), &shape());
    let state = text(&items[3]).unwrap_or_default();
    let known = ["connect", "connecting", "sync", "connected"];
    cluster.expect(known.contains(&state.as_str()), &shape());
    let applied_lsn = number(&items[4]).unwrap_or_else(|| panic!("{}", shape()));
    (state, applied_lsn)
}

// ---------------------------------------------------------------------------
// 1. No acknowledged write is lost at the 2-safe levels

/// At every level that promises it, the primary is killed under concurrent
/// writers and its secondary promoted: every acknowledged write is on the
/// new primary, which refuses writes while alone; the old primary rejoins
/// as its secondary and both end with the same data.
#[test]
fn acknowledged_writes_survive_primary_kill_at_each_level() {
    let repro = repro("acknowledged_writes_survive_primary_kill_at_each_level");
    let mut random = XorShift::new(repro.seed);
    for round in 0..repro.rounds {
        for level in ["2-safe", "2-safe-committed", "very-safe"] {
            for fate in [SecondaryFate::StaysUp, SecondaryFate::DiesFirst] {
                failover_without_loss(level, fate, round, &mut random, &repro.line);
            }
        }
    }
}

/// With `SecondaryFate::DiesFirst` the secondary is killed while the
/// writers run and restarted after the primary died: whatever the primary
/// acknowledged meanwhile would exist on the primary alone, so at 2-safe and
/// above nothing may have been acknowledged then.
fn failover_without_loss(
    level: &str,
    fate: SecondaryFate,
    round: usize,
    random: &mut XorShift,
    reproduce: &str,
) {
    let layout = [("a", "sync"), ("b", "sync")];
    let label = format!("failover-{level}-{fate:?}-{round}");
    let mut cluster = Cluster::new(&label, &layout, "a", &["--safeness", level], reproduce);
    let what = format!("{level}, secondary {fate:?}, round {round}");

    // Phase 1: a primary with one hot, in-sync secondary.
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    let epoch = cluster.epoch(&cluster.wait_following("b", "a", SETTLE_TIMEOUT), "b");
    cluster.wait_writable("a");

    // Phase 2: writers run; the primary dies under them.
    let writers = Writers::start(cluster.port("a"), &format!("{level}:r{round}"), WRITERS);
    let phase = write_phase(random);
    if fate == SecondaryFate::DiesFirst {
        thread::sleep(phase / 2);
        cluster.kill("b");
        thread::sleep(phase / 2);
    } else {
        thread::sleep(phase);
    }
    cluster.kill("a");
    let acked = writers.stop();
    cluster.check_writers(&acked, &what);
    if fate == SecondaryFate::DiesFirst {
        cluster.restart("b");
    }

    // Phase 3: the secondary is promoted and has every acknowledged write.
    cluster.promote("b", epoch);
    cluster.assert_nothing_missing("b", &acked, &format!("{what}, after failover"));

    // Phase 4: alone, the new primary cannot meet the level; it says so
    // instead of quietly acknowledging less.
    let alone = cluster.call_once("b", &["SET", "written-alone", "x"]);
    cluster.expect_error(
        &alone,
        "NOREPLICAS",
        &format!("{what}: a write with no secondary"),
    );

    // Phase 5: the old primary comes back as the new one's secondary; writes
    // flow again and both hold the same data.
    cluster.restart_old_primary("a", "b", epoch + 1, &what);
    cluster.wait_writable("b");
    cluster.load("b", &format!("after:{level}:r{round}"), 0..100);
    let digest = cluster.wait_same_data(&["b", "a"], SETTLE_TIMEOUT);
    cluster.expect(
        digest != EMPTY_DIGEST,
        "the data digest is that of an empty keyspace",
    );
    cluster.assert_nothing_missing("b", &acked, &format!("{what}, after the rejoin"));
}

// ---------------------------------------------------------------------------
// 2. At 1-safe the loss is reported, exactly

/// At 1-safe the primary acknowledges writes before its secondary has them.
/// After the primary dies and the secondary is promoted, every acknowledged
/// write the new primary lacks is in the old primary's divergent files,
/// nothing there is on the new primary, and the old primary, now a
/// secondary, never serves the lost data. Each round runs twice: once with
/// the secondary up to the end (the loss is whatever it lagged, maybe
/// nothing), once with the secondary dying first (the loss is certain).
#[test]
fn one_safe_loss_is_exactly_the_reported_divergent_suffix() {
    let repro = repro("one_safe_loss_is_exactly_the_reported_divergent_suffix");
    let mut random = XorShift::new(repro.seed);
    for round in 0..repro.rounds {
        for fate in [SecondaryFate::StaysUp, SecondaryFate::DiesFirst] {
            one_safe_failover(round, fate, &mut random, &repro.line);
        }
    }
}

/// What happens to the secondary before the 1-safe primary is killed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SecondaryFate {
    /// It runs on and is promoted live, lagging by whatever it lagged.
    StaysUp,
    /// It is killed while the writers run, so the primary alone holds the
    /// writes it acknowledges from then on; it restarts before promotion.
    DiesFirst,
}

fn one_safe_failover(round: usize, fate: SecondaryFate, random: &mut XorShift, reproduce: &str) {
    let layout = [("a", "sync"), ("b", "sync")];
    let label = format!("one-safe-{fate:?}-{round}");
    let mut cluster = Cluster::new(&label, &layout, "a", &["--safeness", "1-safe"], reproduce);
    let what = format!("1-safe, secondary {fate:?}, round {round}");
    let prefix = format!("1-safe:{fate:?}:r{round}");

    // Phase 1: primary and secondary.
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    let epoch = cluster.epoch(&cluster.wait_following("b", "a", SETTLE_TIMEOUT), "b");
    cluster.wait_writable("a");

    // Phase 2: writers run and the primary dies under them; in DiesFirst
    // the secondary dies before it, and the primary goes on acknowledging
    // (1-safe) writes only it holds.
    let writers = Writers::start(cluster.port("a"), &prefix, WRITERS);
    thread::sleep(write_phase(random) / 2);
    if fate == SecondaryFate::DiesFirst {
        cluster.kill("b");
        let before = writers.acknowledged_sets();
        cluster.wait_for(
            "the 1-safe primary acknowledging writes without its secondary",
            SETTLE_TIMEOUT,
            || match writers.acknowledged_sets() - before {
                n if n >= ONE_SAFE_SOLO_WRITES => Ok(()),
                n => Err(format!("{n} acknowledged since the secondary died")),
            },
        );
    } else {
        thread::sleep(write_phase(random) / 2);
    }
    cluster.kill("a");
    let acked = writers.stop();
    cluster.check_writers(&acked, &what);

    // Phase 3: the secondary (back, in DiesFirst) is promoted; what it
    // lacks is the 1-safe loss, and it takes new writes.
    if fate == SecondaryFate::DiesFirst {
        cluster.restart("b");
    }
    let promoted = cluster.promote("b", epoch);
    let promoted_at = promoted.number("promoted_at_lsn");
    cluster.expect(
        promoted_at.is_some(),
        &format!("the new primary reports no promoted_at_lsn: {promoted}"),
    );
    let missing = cluster.missing_on("b", &acked);
    cluster.expect(
        fate == SecondaryFate::StaysUp || !missing.sets.is_empty(),
        &format!("{what}: writes acknowledged while the secondary was dead are on it"),
    );
    cluster.load("b", &format!("after:{prefix}"), 0..100);

    // Phase 4: the deposed primary rejoins; it never serves what was lost.
    cluster.restart_old_primary("a", "b", epoch + 1, &what);
    cluster.assert_not_served("a", &missing, &format!("{what}, as it rejoined"));

    // Phase 5: it reported every lost acknowledged write.
    let data_dir = cluster.data_dir("a").to_path_buf();
    let divergent = cluster.wait_for(
        "divergent files holding every acknowledged write the new primary lacks",
        DIVERGENT_TIMEOUT,
        || {
            let commands = divergent_commands(&data_dir)?;
            let unreported: Vec<&String> = missing
                .sets
                .iter()
                .filter(|(key, value, _)| !sets_key_to(&commands, key, value))
                .map(|(key, _, _)| key)
                .take(REPORT_ITEMS)
                .collect();
            if unreported.is_empty() {
                Ok(commands)
            } else {
                Err(format!(
                    "{} commands; not reported: {unreported:?}",
                    commands.len()
                ))
            }
        },
    );
    for counter in 0..COUNTERS {
        let key = counter_key(counter);
        let on_new_primary = missing.counter_values[counter];
        let replayed = counter_after(&divergent, &key, on_new_primary)
            .unwrap_or_else(|e| panic!("{what}: {e}\n{}", cluster.context()));
        cluster.expect(
            replayed >= acked.incrs_acked[counter] as i64,
            &format!(
                "{what}: {key} is {on_new_primary} on the new primary and {replayed} with the \
                 divergent records replayed, below the {} INCRs acknowledged",
                acked.incrs_acked[counter]
            ),
        );
    }

    // Phase 6: nothing reported was kept: the divergent writers' keys are
    // absent on the new primary.
    let reported: Vec<&str> = divergent
        .iter()
        .filter(|argv| command_name(argv) == "SET")
        .filter_map(|argv| argument(argv, 1).and_then(|key| std::str::from_utf8(key).ok()))
        .filter(|key| key.starts_with(&format!("{prefix}:")))
        .collect();
    let on_new_primary = cluster.get_many(&mut cluster.connect("b"), &reported);
    for (key, reply) in reported.iter().zip(&on_new_primary) {
        cluster.expect(
            *reply == Resp::NullBulk,
            &format!("{what}: {key} is reported divergent yet the new primary has {reply}"),
        );
    }

    // Phase 7: once settled, both hold the same data.
    cluster.wait_same_data(&["b", "a"], SETTLE_TIMEOUT);
    cluster.assert_not_served("a", &missing, &format!("{what}, settled"));
    eprintln!(
        "{what}: {} acknowledged SETs lost and reported in {} divergent commands \
         (promoted at lsn {promoted_at:?})",
        missing.sets.len(),
        divergent.len()
    );
}

// ---------------------------------------------------------------------------
// 3. A restarted secondary resumes

/// A secondary killed and restarted resumes from where its own log ends: it
/// catches up with what it missed (a snapshot on the primary meanwhile
/// included) without a full copy.
#[test]
fn secondary_restart_catches_up_without_full_copy() {
    let repro = repro("secondary_restart_catches_up_without_full_copy");
    let layout = [("a", "sync"), ("b", "sync")];
    let common = ["--safeness", "1-safe"];
    let mut cluster = Cluster::new("resume", &layout, "a", &common, &repro.line);

    // Phase 1: the secondary holds what the primary holds.
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.load("a", "before", 0..2000);
    cluster.wait_same_data(&["a", "b"], SETTLE_TIMEOUT);

    // Phase 2: it dies; the primary writes on and takes a snapshot.
    cluster.kill("b");
    cluster.load("a", "during", 0..2000);
    cluster.save("a");
    cluster.load("a", "after-save", 0..500);

    // Phase 3: back, it resumes from its own position.
    cluster.restart("b");
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.wait_same_data(&["a", "b"], SETTLE_TIMEOUT);
    let info = cluster.info("b");
    cluster.expect(
        info.number("full_syncs") == Some(0),
        &format!("the restarted secondary was copied in full instead of resuming: {info}"),
    );
}

// ---------------------------------------------------------------------------
// 4. A new secondary starts from a snapshot

/// A new, empty secondary joins a primary whose log no longer holds its
/// data: it receives a snapshot, then the log from the snapshot's LSN while
/// writes go on, and ends with the same data.
#[test]
fn new_secondary_joins_from_snapshot() {
    let repro = repro("new_secondary_joins_from_snapshot");
    let big = std::env::var("DAISY_REPL_BIG").is_ok_and(|v| v == "1");
    let (keys, join_timeout) = if big {
        (JOIN_KEYS_BIG, JOIN_TIMEOUT_BIG)
    } else {
        (JOIN_KEYS, JOIN_TIMEOUT)
    };
    let layout = [("a", "sync"), ("b", "sync")];
    let common = [
        "--safeness",
        "1-safe",
        "--repl-backlog-bytes",
        SMALL_BACKLOG_BYTES,
        "--log-segment-bytes",
        SMALL_SEGMENT_BYTES,
    ];
    let mut cluster = Cluster::new("join", &layout, "a", &common, &repro.line);

    // Phase 1: the primary, alone, loads the data; a snapshot then replaces
    // the log segments that held it.
    cluster.start("a", &[]);
    let loading = Instant::now();
    cluster.load("a", "bulk", 0..keys);
    let load_time = loading.elapsed();
    cluster.save("a");
    cluster.load("a", "tail", 0..1000);

    // Phase 2: the new secondary starts empty while a writer goes on.
    let joining = Instant::now();
    let port = cluster.port("a");
    let live = thread::spawn(move || load_keys(port, "live", 0..JOIN_LIVE_KEYS));
    cluster.start("b", &[]);
    cluster.wait_following("b", "a", join_timeout);
    let written = live.join().expect("live writer thread");
    if let Err(reason) = written {
        panic!("writing during the join: {reason}\n{}", cluster.context());
    }
    cluster.wait_same_data(&["a", "b"], join_timeout);
    let catch_up = joining.elapsed();

    // Phase 3: it got exactly one full copy.
    let info = cluster.info("b");
    cluster.expect(
        info.number("full_syncs") == Some(1),
        &format!("the new secondary must have had one full sync: {info}"),
    );
    eprintln!(
        "new secondary: {keys} keys loaded in {load_time:?}; copied and caught up \
         (with {JOIN_LIVE_KEYS} live writes) in {catch_up:?}"
    );
}

// ---------------------------------------------------------------------------
// 5. A deposed primary is fenced by the epoch

/// The old primary comes back believing it is primary at the old epoch,
/// holding writes only it has. From its first reply on it never
/// acknowledges a write nor serves those writes; the new primary keeps its
/// role and epoch and never takes the old epoch's records; the old primary
/// ends as a secondary at the new epoch, refusing writes with -READONLY.
#[test]
fn stale_epoch_is_refused_and_old_primary_never_serves_divergent_writes() {
    let repro = repro("stale_epoch_is_refused_and_old_primary_never_serves_divergent_writes");
    let layout = [("a", "sync"), ("b", "sync")];
    let timeout = SYNC_TIMEOUT_MS.to_string();
    let common = ["--safeness", "2-safe", "--sync-timeout-ms", &timeout];
    let mut cluster = Cluster::new("fencing", &layout, "a", &common, &repro.line);
    const DIVERGENT: usize = 50;
    let divergent_pair = |i: usize| (format!("divergent:{i}"), format!("only-on-a:{i}"));

    // Phase 1: both hold the shared data.
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    let epoch = cluster.epoch(&cluster.wait_following("b", "a", SETTLE_TIMEOUT), "b");
    cluster.wait_writable("a");
    cluster.load("a", "shared", 0..100);

    // Phase 2: the secondary dies; a 1-safe connection writes on the
    // primary alone; then the primary dies.
    cluster.kill("b");
    let mut solo = cluster.connect("a");
    let reply = cluster.call(&mut solo, &["CLIENT", "SAFENESS", "1-safe"]);
    cluster.expect(
        is_ok(&reply),
        &format!("CLIENT SAFENESS 1-safe gave {reply}"),
    );
    for i in 0..DIVERGENT {
        let (key, value) = divergent_pair(i);
        let reply = cluster.call(&mut solo, &["SET", &key, &value]);
        cluster.expect(is_ok(&reply), &format!("1-safe SET {key} gave {reply}"));
    }
    drop(solo);
    cluster.kill("a");

    // Phase 3: the secondary is promoted and writes at 1-safe.
    cluster.restart("b");
    cluster.promote("b", epoch);
    let new_epoch = epoch + 1;
    let mut writer = cluster.connect("b");
    let reply = cluster.call(&mut writer, &["CLIENT", "SAFENESS", "1-safe"]);
    cluster.expect(
        is_ok(&reply),
        &format!("CLIENT SAFENESS 1-safe gave {reply}"),
    );
    for i in 0..50 {
        let (key, value) = loaded_pair("after", i);
        let reply = cluster.call(&mut writer, &["SET", &key, &value]);
        cluster.expect(
            is_ok(&reply),
            &format!("SET {key} on the new primary gave {reply}"),
        );
    }

    // Phase 4: the old primary returns. Until it follows the new primary,
    // watch both: no write acknowledged by it, no divergent value served by
    // it, no change of role or epoch on the new primary.
    cluster.restart("a");
    let (port_a, port_b) = (cluster.port("a"), cluster.port("b"));
    let mut watched = 0usize;
    cluster.wait_for(
        "the old primary following the new one at its epoch",
        SETTLE_TIMEOUT,
        || {
            let (key, value) = divergent_pair(watched % DIVERGENT);
            watched += 1;
            let read = RespConn::try_connect(port_a, PROBE_TIMEOUT).and_then(|mut conn| {
                conn.set_read_timeout(PROBE_TIMEOUT)?;
                conn.call(&["READONLY"])?;
                conn.call(&["GET", &key])
            });
            if let Ok(reply) = &read {
                cluster.expect(
                    *reply != Resp::Bulk(value.clone().into_bytes()),
                    &format!("the returning old primary served its divergent {key}={value}"),
                );
            }
            let write = probe(
                port_a,
                &["SET", "written-on-old-primary", "x"],
                PROBE_TIMEOUT,
            );
            if let Ok(reply) = &write {
                cluster.expect(
                    !is_ok(reply),
                    "the returning old primary acknowledged a write",
                );
            }
            let primary = info_replication(port_b)?;
            cluster.expect(
                primary.get("role") == "master" && primary.number("epoch") == Some(new_epoch),
                &format!("the new primary changed role or epoch: {primary}"),
            );
            let old = info_replication(port_a)?;
            if old.follows("b") && old.number("epoch") == Some(new_epoch) {
                Ok(())
            } else {
                Err(old.to_string())
            }
        },
    );

    // Phase 5: settled, the old primary is a read-only secondary.
    let refused = cluster.call_once("a", &["SET", "k", "v"]);
    cluster.expect_error(&refused, "READONLY", "a write on the old primary");
    let mut reader = cluster.readonly("a");
    let refused = cluster.call(&mut reader, &["SET", "k", "v"]);
    cluster.expect(
        refused.error_text().as_deref() == Some(READONLY_REPLY),
        &format!("a write on a READONLY connection to the old primary gave {refused}"),
    );
    cluster.wait_same_data(&["b", "a"], SETTLE_TIMEOUT);
    let keys: Vec<String> = (0..DIVERGENT).map(|i| divergent_pair(i).0).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    for (id, conn) in [("b", &mut cluster.connect("b")), ("a", &mut reader)] {
        let replies = cluster.get_many(conn, &keys);
        let kept: Vec<String> = keys
            .iter()
            .zip(&replies)
            .filter(|(_, reply)| **reply != Resp::NullBulk)
            .map(|(key, reply)| format!("{key}={reply}"))
            .collect();
        cluster.expect(
            kept.is_empty(),
            &format!("the old epoch's divergent writes are on node {id}: {kept:?}"),
        );
    }
    let (key, value) = loaded_pair("after", 49);
    let reply = cluster.call(&mut reader, &["GET", &key]);
    cluster.expect(
        reply == Resp::Bulk(value.into_bytes()),
        &format!("the old primary, now a secondary, lacks the new primary's {key}: {reply}"),
    );

    // Phase 6: and the divergent writes are reported, not dropped.
    let commands = divergent_commands(cluster.data_dir("a"))
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.context()));
    for i in 0..DIVERGENT {
        let (key, value) = divergent_pair(i);
        cluster.expect(
            sets_key_to(&commands, &key, &value),
            &format!("the divergent write {key}={value} is not in the divergent files"),
        );
    }
    cluster.expect(watched > 0, "the returning old primary was never watched");
}

// ---------------------------------------------------------------------------
// 6. What a secondary and a primary answer

/// The documented replies: INFO replication on both roles, reads on a hot
/// secondary through READONLY and -READONLY otherwise, WAIT, ROLE, CLIENT
/// SAFENESS; and with the secondary gone, a 1-safe write still works while
/// a 2-safe one fails with -NOREPLICAS within about sync-timeout-ms.
#[test]
fn secondary_replies() {
    let repro = repro("secondary_replies");
    let layout = [("a", "sync"), ("b", "sync")];
    let timeout = SYNC_TIMEOUT_MS.to_string();
    let common = ["--safeness", "2-safe", "--sync-timeout-ms", &timeout];
    let mut cluster = Cluster::new("replies", &layout, "a", &common, &repro.line);
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.wait_writable("a");
    let (port_a, port_b) = (cluster.port("a"), cluster.port("b"));

    // Phase 1: INFO replication, as documented, on both.
    let primary = cluster.info("a");
    let secondary = cluster.info("b");
    check_primary_info(&cluster, &primary, port_b);
    check_secondary_info(&cluster, &secondary, port_a);
    cluster.expect(
        secondary.number("epoch") == primary.number("epoch"),
        &format!("primary and secondary disagree on the epoch: {primary} / {secondary}"),
    );

    // Phase 2: a write, WAIT for the secondary, the connection's level.
    let mut writer = cluster.connect("a");
    let reply = cluster.call(&mut writer, &["SET", "greeting", "hello"]);
    cluster.expect(is_ok(&reply), &format!("SET gave {reply}"));
    let reply = cluster.call(&mut writer, &["WAIT", "1", "1000"]);
    cluster.expect(reply == Resp::Int(1), &format!("WAIT 1 1000 gave {reply}"));
    let reply = cluster.call(&mut writer, &["CLIENT", "SAFENESS"]);
    cluster.expect(
        text(&reply).as_deref() == Some("2-safe"),
        &format!("CLIENT SAFENESS gave {reply}"),
    );

    // Phase 3: the hot secondary serves READONLY reads and nothing else.
    let mut reader = cluster.readonly("b");
    cluster.wait_for(
        "the secondary applying the write",
        SETTLE_TIMEOUT,
        || match reader.call(&["GET", "greeting"]) {
            Ok(Resp::Bulk(value)) if value == b"hello" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    let reply = cluster.call(&mut reader, &["SET", "greeting", "bye"]);
    cluster.expect(
        reply.error_text().as_deref() == Some(READONLY_REPLY),
        &format!("a write on the secondary gave {reply}"),
    );
    let reply = cluster.call_once("b", &["GET", "greeting"]);
    cluster.expect_error(&reply, "READONLY", "a read on a secondary without READONLY");
    let reply = cluster.call(&mut reader, &["READWRITE"]);
    cluster.expect(is_ok(&reply), &format!("READWRITE gave {reply}"));
    let reply = cluster.call(&mut reader, &["GET", "greeting"]);
    cluster.expect_error(&reply, "READONLY", "a read on a secondary after READWRITE");

    // Phase 4: ROLE on both, once the secondary has applied everything.
    let last_lsn = check_primary_role(&cluster, &cluster.call_once("a", &["ROLE"]), port_b);
    cluster.wait_for(
        "the secondary's ROLE at the primary's last LSN",
        SETTLE_TIMEOUT,
        || {
            let role = probe(port_b, &["ROLE"], REPLY_TIMEOUT)?;
            match secondary_role(&cluster, &role, port_a) {
                (state, applied) if state == "connected" && applied >= last_lsn => Ok(()),
                _ => Err(role.to_string()),
            }
        },
    );

    // Phase 5: the secondary dies. A 1-safe connection still writes (and
    // WAIT finds no one); a 2-safe write fails within about sync-timeout-ms.
    cluster.kill("b");
    let mut relaxed = cluster.connect("a");
    let reply = cluster.call(&mut relaxed, &["CLIENT", "SAFENESS", "1-safe"]);
    cluster.expect(
        is_ok(&reply),
        &format!("CLIENT SAFENESS 1-safe gave {reply}"),
    );
    let reply = cluster.call(&mut relaxed, &["CLIENT", "SAFENESS"]);
    cluster.expect(
        text(&reply).as_deref() == Some("1-safe"),
        &format!("CLIENT SAFENESS after setting 1-safe gave {reply}"),
    );
    let reply = cluster.call(&mut relaxed, &["SET", "relaxed", "1"]);
    cluster.expect(
        is_ok(&reply),
        &format!("a 1-safe write without secondary gave {reply}"),
    );
    let reply = cluster.call(&mut relaxed, &["WAIT", "1", "300"]);
    cluster.expect(
        reply == Resp::Int(0),
        &format!("WAIT 1 300 without secondary gave {reply}"),
    );
    let mut strict = cluster.connect("a");
    let started = Instant::now();
    let reply = cluster.call(&mut strict, &["SET", "strict", "1"]);
    let elapsed = started.elapsed();
    cluster.expect_error(&reply, "NOREPLICAS", "a 2-safe write without secondary");
    let bound = Duration::from_millis(SYNC_TIMEOUT_MS) + NOREPLICAS_SLACK;
    cluster.expect(
        elapsed <= bound,
        &format!("-NOREPLICAS came after {elapsed:?}, more than {bound:?}"),
    );
}

fn check_primary_info(cluster: &Cluster, info: &Info, secondary_port: u16) {
    let fields_hold = info.get("role") == "master"
        && info.get("node_id") == "a"
        && info.get("safeness") == "2-safe"
        && info.get("connected_slaves") == "1"
        && ["epoch", "last_lsn", "durable_lsn", "commit_lsn"]
            .iter()
            .all(|name| info.number(name).is_some());
    cluster.expect(
        fields_hold,
        &format!("INFO replication on the primary: {info}"),
    );
    let secondaries = info.secondaries();
    let entry = secondaries.first();
    let entry_holds = entry.is_some_and(|s| {
        let get = |name: &str| s.get(name).map_or("", String::as_str);
        get("id") == "b"
            && get("ip") == "127.0.0.1"
            && get("port") == secondary_port.to_string()
            && get("state") == "online"
            && get("type") == "sync"
            && ["received_lsn", "applied_lsn", "lag_records", "lag_bytes"]
                .iter()
                .all(|name| get(name).parse::<u64>().is_ok())
    });
    cluster.expect(
        entry_holds,
        &format!("slave0 in INFO replication on the primary: {info}"),
    );
}

fn check_secondary_info(cluster: &Cluster, info: &Info, primary_port: u16) {
    let holds = info.get("role") == "slave"
        && info.get("node_id") == "b"
        && info.get("master_host") == "127.0.0.1"
        && info.get("master_port") == primary_port.to_string()
        && info.get("master_link_status") == "up"
        && info.get("master_node_id") == "a"
        && info.get("standby") == "hot"
        && info.get("sync_in_progress") == "0"
        && ["epoch", "received_lsn", "applied_lsn"]
            .iter()
            .all(|name| info.number(name).is_some());
    cluster.expect(holds, &format!("INFO replication on the secondary: {info}"));
}

// ---------------------------------------------------------------------------
// 7. An async member does not hold up writes

/// A `dr` member receives the log but is not waited for: with it dead,
/// 2-safe writes go on with the sync secondary alone.
#[test]
fn async_dr_member_does_not_hold_up_writes() {
    let repro = repro("async_dr_member_does_not_hold_up_writes");
    let layout = [("a", "sync"), ("b", "sync"), ("c", "dr")];
    let timeout = SYNC_TIMEOUT_MS.to_string();
    let common = ["--safeness", "2-safe", "--sync-timeout-ms", &timeout];
    let mut cluster = Cluster::new("dr", &layout, "a", &common, &repro.line);
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    cluster.start("c", &[]);
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.wait_following("c", "a", SETTLE_TIMEOUT);
    cluster.wait_writable("a");

    // Phase 1: the primary lists both members with their types; the dr
    // member receives the log (WAIT counts members of any type).
    cluster.load("a", "before", 0..200);
    let mut conn = cluster.connect("a");
    let reply = cluster.call(&mut conn, &["SET", "counted", "1"]);
    cluster.expect(is_ok(&reply), &format!("SET gave {reply}"));
    let reply = cluster.call(&mut conn, &["WAIT", "2", "1000"]);
    cluster.expect(reply == Resp::Int(2), &format!("WAIT 2 1000 gave {reply}"));
    let info = cluster.info("a");
    let types: BTreeMap<String, String> = info
        .secondaries()
        .into_iter()
        .filter_map(|s| Some((s.get("id")?.clone(), s.get("type")?.clone())))
        .collect();
    let expected: BTreeMap<String, String> = [
        ("b".to_string(), "sync".to_string()),
        ("c".to_string(), "dr".to_string()),
    ]
    .into();
    cluster.expect(
        types == expected && info.get("connected_slaves") == "2",
        &format!("INFO replication on the primary lists {types:?}, not b sync and c dr: {info}"),
    );
    let last_lsn = info.number("last_lsn").unwrap_or(u64::MAX);
    let port_c = cluster.port("c");
    cluster.wait_for("the dr member receiving the log", SETTLE_TIMEOUT, || {
        let info = info_replication(port_c)?;
        match info.number("received_lsn") {
            Some(lsn) if lsn >= last_lsn => Ok(()),
            _ => Err(info.to_string()),
        }
    });

    // Phase 2: the dr member dies; 2-safe writes go on, none held up.
    cluster.kill("c");
    let mut slowest = Duration::ZERO;
    for i in 0..200 {
        let (key, value) = loaded_pair("after", i);
        let started = Instant::now();
        let reply = cluster.call(&mut conn, &["SET", &key, &value]);
        slowest = slowest.max(started.elapsed());
        cluster.expect(
            is_ok(&reply),
            &format!("2-safe SET {key} with the dr member dead gave {reply}"),
        );
    }
    cluster.wait_same_data(&["a", "b"], SETTLE_TIMEOUT);
    eprintln!("200 2-safe writes with the dr member dead; slowest took {slowest:?}");
}

// ---------------------------------------------------------------------------
// 8. A warm standby applies on promotion

/// A warm standby persists the log but serves no data; promoted after the
/// primary's death, it applies the log and has every acknowledged write.
#[test]
fn warm_standby_applies_on_promotion() {
    let repro = repro("warm_standby_applies_on_promotion");
    let mut random = XorShift::new(repro.seed);
    let layout = [("a", "sync"), ("b", "sync")];
    let mut cluster = Cluster::new("warm", &layout, "a", &["--safeness", "2-safe"], &repro.line);
    cluster.start("a", &[]);
    cluster.start("b", &["--standby", "warm"]);
    let info = cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.expect(
        info.get("standby") == "warm",
        &format!("a warm standby's INFO replication: {info}"),
    );
    let epoch = cluster.epoch(&info, "b");
    cluster.wait_writable("a");

    // Phase 1: it holds no applied data, so it answers no data command.
    let mut reader = cluster.readonly("b");
    let reply = cluster.call(&mut reader, &["GET", "harness:writable:a"]);
    cluster.expect_error(&reply, "READONLY", "a READONLY read on a warm standby");
    let reply = cluster.call(&mut reader, &["SET", "k", "v"]);
    cluster.expect_error(&reply, "READONLY", "a write on a warm standby");
    let reply = cluster.call_once("b", &["GET", "harness:writable:a"]);
    cluster.expect_error(&reply, "READONLY", "a read on a warm standby");
    drop(reader);

    // Phase 2: writers; the primary dies under them.
    let writers = Writers::start(cluster.port("a"), "warm", WRITERS);
    thread::sleep(write_phase(&mut random));
    cluster.kill("a");
    let acked = writers.stop();
    cluster.check_writers(&acked, "warm standby");

    // Phase 3: promoted, it applies the log and has every acknowledged write.
    cluster.promote("b", epoch);
    cluster.assert_nothing_missing("b", &acked, "warm standby after promotion");
}

// ---------------------------------------------------------------------------
// A peer from another cluster

/// A node whose `--members` differ (another cluster, or a typo) is refused
/// at the handshake: it never receives the primary's data, and the primary
/// does not count it.
#[test]
fn a_peer_with_other_members_is_refused() {
    let repro = repro("a_peer_with_other_members_is_refused");
    let layout = [("a", "sync"), ("b", "sync")];
    let mut cluster = Cluster::new(
        "foreign",
        &layout,
        "a",
        &["--safeness", "1-safe"],
        &repro.line,
    );
    cluster.start("a", &[]);
    cluster.load("a", "mine", 0..10);
    let members = format!(
        "a=127.0.0.1:{},b=127.0.0.1:{},c=127.0.0.1:{}",
        cluster.members[0].peer_port,
        cluster.members[1].peer_port,
        free_port()
    );
    cluster.start("b", &["--members", &members]);
    thread::sleep(Duration::from_millis(1500));
    let b = cluster.info("b");
    cluster.expect(
        b.get("master_link_status") == "down" && b.number("last_lsn") == Some(0),
        &format!("a node of another membership must not follow: {b}"),
    );
    let a = cluster.info("a");
    cluster.expect(
        a.number("connected_slaves") == Some(0),
        &format!("the primary counted a foreign node: {a}"),
    );
    let log = std::fs::read_to_string(daisy_log_path(cluster.data_dir("a"))).unwrap_or_default();
    cluster.expect(
        log.contains("another membership"),
        "the primary's log does not say why it refused the node",
    );
}

// ---------------------------------------------------------------------------
// The cluster's level changes at run time

/// CONFIG SET safeness changes the level of every connection that did not
/// choose its own: with the secondary gone, 2-safe writes are refused,
/// 1-safe ones are acknowledged.
#[test]
fn config_set_safeness_changes_the_level() {
    let repro = repro("config_set_safeness_changes_the_level");
    let layout = [("a", "sync"), ("b", "sync")];
    let timeout = SYNC_TIMEOUT_MS.to_string();
    let common = ["--sync-timeout-ms", &timeout];
    let mut cluster = Cluster::new("config-level", &layout, "a", &common, &repro.line);
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.wait_writable("a");
    cluster.kill("b");
    let mut conn = cluster.connect("a");
    cluster.wait_for("writes refused without b", SETTLE_TIMEOUT, || match cluster
        .call(&mut conn, &["SET", "k", "v"])
    {
        reply
            if reply
                .error_text()
                .is_some_and(|e| e.starts_with("NOREPLICAS")) =>
        {
            Ok(())
        }
        reply => Err(reply.to_string()),
    });
    let set = cluster.call(&mut conn, &["CONFIG", "SET", "safeness", "1-safe"]);
    cluster.expect(is_ok(&set), &format!("CONFIG SET safeness gave {set}"));
    let get = cluster.call(&mut conn, &["CONFIG", "GET", "safeness"]);
    cluster.expect(
        get.to_string().contains("1-safe"),
        &format!("CONFIG GET safeness gave {get}"),
    );
    let write = cluster.call(&mut conn, &["SET", "k", "v"]);
    cluster.expect(is_ok(&write), &format!("a 1-safe write gave {write}"));
    let bad = cluster.call(&mut conn, &["CONFIG", "SET", "safeness", "3-safe"]);
    cluster.expect(
        bad.is_error(),
        &format!("CONFIG SET safeness 3-safe gave {bad}"),
    );
}

// ---------------------------------------------------------------------------
// Garbage on the peer port

/// The peer port takes input from the network like the client port:
/// random bytes, an absurd frame length, a frame that is no message, or an
/// acknowledgement before any handshake close that connection only; the
/// node goes on serving clients and its secondary.
#[test]
fn garbage_on_the_peer_port_closes_only_that_connection() {
    use std::io::{Read, Write};
    let repro = repro("garbage_on_the_peer_port_closes_only_that_connection");
    let layout = [("a", "sync"), ("b", "sync")];
    let mut cluster = Cluster::new("peer-garbage", &layout, "a", &[], &repro.line);
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    let peer = cluster.members[0].peer_port;
    let mut random = XorShift::new(repro.seed);
    let mut payloads: Vec<Vec<u8>> = vec![
        u32::MAX.to_be_bytes().to_vec(),
        vec![0, 0, 0, 3, 0xff, 0xff, 0xff],
        vec![0, 0, 0, 0],
        // An Ack (variant 1) with no handshake first.
        vec![0, 0, 0, 4, 1, 1, 1, 1],
        b"*1\r\n$4\r\nPING\r\n".to_vec(),
    ];
    for _ in 0..20 {
        let len = 1 + random.below(4096);
        payloads.push((0..len).map(|_| random.next_u64() as u8).collect());
    }
    for payload in &payloads {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", peer)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = stream.write_all(payload);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = stream.take(1 << 20).read_to_end(&mut sink);
    }
    let reply = cluster.call_once("a", &["SET", "after-garbage", "1"]);
    cluster.expect(
        is_ok(&reply),
        &format!("a write after peer garbage gave {reply}"),
    );
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.wait_same_data(&["a", "b"], SETTLE_TIMEOUT);
}

// ---------------------------------------------------------------------------
// A silent secondary

/// A secondary that stops answering without closing its connection
/// (SIGSTOP): a 2-safe write waits about `sync-timeout-ms`, then fails with
/// -NOREPLICAS (never an acknowledgement); once the secondary runs again
/// writes are acknowledged again and nothing was lost.
#[test]
fn a_silent_secondary_turns_writes_into_noreplicas() {
    let repro = repro("a_silent_secondary_turns_writes_into_noreplicas");
    let layout = [("a", "sync"), ("b", "sync")];
    let timeout = SYNC_TIMEOUT_MS.to_string();
    let common = ["--sync-timeout-ms", &timeout];
    let mut cluster = Cluster::new("silent", &layout, "a", &common, &repro.line);
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.wait_writable("a");
    let pid = cluster.members[1].process.as_ref().expect("b runs").pid();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} {pid}");
    };
    signal("STOP");
    let mut conn = cluster.connect("a");
    let started = Instant::now();
    let reply = cluster.call(&mut conn, &["SET", "while-silent", "1"]);
    let waited = started.elapsed();
    signal("CONT");
    cluster.expect_error(&reply, "NOREPLICAS", "a 2-safe write while b is stopped");
    cluster.expect(
        waited >= Duration::from_millis(SYNC_TIMEOUT_MS / 2)
            && waited <= Duration::from_millis(SYNC_TIMEOUT_MS) + NOREPLICAS_SLACK,
        &format!("the write failed after {waited:?}, not about {SYNC_TIMEOUT_MS} ms"),
    );
    cluster.wait_writable("a");
    let reply = cluster.call(&mut conn, &["SET", "after-silence", "1"]);
    cluster.expect(
        is_ok(&reply),
        &format!("a write after SIGCONT gave {reply}"),
    );
    cluster.wait_same_data(&["a", "b"], SETTLE_TIMEOUT);
}

// ---------------------------------------------------------------------------
// daisy status

/// `daisy status --addr` on any member prints every member of the fragment
/// with its role, epoch and LSNs; a dead member shows as down.
#[test]
fn daisy_status_prints_the_fragment() {
    let repro = repro("daisy_status_prints_the_fragment");
    let layout = [("a", "sync"), ("b", "sync"), ("c", "dr")];
    let mut cluster = Cluster::new("status", &layout, "a", &[], &repro.line);
    for id in ["a", "b", "c"] {
        cluster.start(id, &[]);
    }
    cluster.wait_following("b", "a", SETTLE_TIMEOUT);
    cluster.wait_following("c", "a", SETTLE_TIMEOUT);
    cluster.load("a", "status", 0..10);
    let status = |port: u16| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_daisy"))
            .args(["status", "--addr", &format!("127.0.0.1:{port}")])
            .output()
            .expect("daisy status runs");
        assert!(output.status.success(), "daisy status failed: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let text = status(cluster.port("b"));
    let line = |text: &str, node: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{node} ")))
            .unwrap_or_else(|| panic!("no line for {node} in:\n{text}"))
            .to_string()
    };
    cluster.expect(
        line(&text, "a").contains("primary") && line(&text, "b").contains("secondary (sync)"),
        &format!("daisy status from b:\n{text}"),
    );
    cluster.expect(
        line(&text, "c").contains("secondary (dr)") && line(&text, "c").ends_with("up"),
        &format!("daisy status from b:\n{text}"),
    );
    cluster.kill("c");
    cluster.wait_for("c shown down", SETTLE_TIMEOUT, || {
        let text = status(cluster.port("a"));
        if line(&text, "c").ends_with("down") {
            Ok(())
        } else {
            Err(text)
        }
    });
}

// ---------------------------------------------------------------------------
// Planned switchover

/// A writer that follows the primary across a switchover: on -TRYAGAIN or
/// -READONLY it tries the other node. Returns the keys acknowledged and the
/// longest time between two acknowledgements (the pause it saw).
fn follow_primary_writes(
    ports: [u16; 2],
    prefix: &str,
    stop: &AtomicBool,
) -> (Vec<(String, String)>, Duration, Vec<String>) {
    let mut conns = ports.map(RespConn::connect);
    let mut on = 0;
    let mut acked = Vec::new();
    let mut odd = Vec::new();
    let mut last_ack = Instant::now();
    let mut longest = Duration::ZERO;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let (key, value) = (format!("{prefix}:{i}"), format!("v{i}"));
        match conns[on].call(&["SET", &key, &value]) {
            Ok(reply) if is_ok(&reply) => {
                acked.push((key, value));
                longest = longest.max(last_ack.elapsed());
                last_ack = Instant::now();
                i += 1;
            }
            Ok(Resp::Error(text))
                if text.starts_with(b"TRYAGAIN") || text.starts_with(b"READONLY") =>
            {
                on = 1 - on;
                i += 1;
            }
            Ok(Resp::Error(text)) if text.starts_with(b"NOREPLICAS") => i += 1,
            other => {
                odd.push(format!("SET {key}: {other:?}"));
                return (acked, longest, odd);
            }
        }
    }
    (acked, longest, odd)
}

/// DAISY SWITCHOVER under writers: the target takes over at the next epoch
/// with every acknowledged write, the old primary follows it without a
/// copy, the writers' pause is short, and switching back works the same.
#[test]
fn switchover_and_back_under_load_lose_nothing() {
    let repro = repro("switchover_and_back_under_load_lose_nothing");
    let layout = [("a", "sync"), ("b", "sync")];
    let mut cluster = Cluster::new("switchover", &layout, "a", &[], &repro.line);
    cluster.start("a", &[]);
    cluster.start("b", &[]);
    let epoch = cluster.epoch(&cluster.wait_following("b", "a", SETTLE_TIMEOUT), "b");
    cluster.wait_writable("a");
    let ports = [cluster.port("a"), cluster.port("b")];
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let stop = stop.clone();
            thread::spawn(move || follow_primary_writes(ports, &format!("sw:w{w}"), &stop))
        })
        .collect();
    for (round, (from, to)) in [("a", "b"), ("b", "a")].into_iter().enumerate() {
        thread::sleep(Duration::from_millis(400));
        let reply = cluster.call_once(from, &["DAISY", "SWITCHOVER", to]);
        cluster.expect(
            is_ok(&reply),
            &format!("DAISY SWITCHOVER {to} on {from} gave {reply}"),
        );
        let info = cluster.info(to);
        cluster.expect(
            info.get("role") == "master" && info.number("epoch") == Some(epoch + 1 + round as u64),
            &format!("{to} after the switchover: {info}"),
        );
        let old = cluster.wait_following(from, to, SETTLE_TIMEOUT);
        cluster.expect(
            old.number("full_syncs") == Some(0),
            &format!("{from} needed a full copy to follow {to}: {old}"),
        );
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut longest = Duration::ZERO;
    for writer in writers {
        let (keys, pause, odd) = writer.join().expect("writer");
        cluster.expect(odd.is_empty(), &format!("unexpected replies: {odd:?}"));
        acked.extend(keys);
        longest = longest.max(pause);
    }
    cluster.expect(
        acked.len() > 100,
        &format!("only {} writes acknowledged", acked.len()),
    );
    let mut conn = cluster.connect("a");
    let keys: Vec<&str> = acked.iter().map(|(k, _)| k.as_str()).collect();
    let values = cluster.get_many(&mut conn, &keys);
    for ((key, value), got) in acked.iter().zip(values) {
        cluster.expect(
            got == Resp::Bulk(value.clone().into_bytes()),
            &format!("acknowledged {key}={value} but the primary has {got}"),
        );
    }
    cluster.wait_same_data(&["a", "b"], SETTLE_TIMEOUT);
    println!(
        "switchover: {} writes acknowledged across two switchovers, longest pause a writer saw {longest:?}",
        acked.len()
    );
}
