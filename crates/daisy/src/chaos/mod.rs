//! `daisy chaos`: a real local cluster, a concurrent workload, faults on a
//! seeded schedule, a history of every operation, and checkers.
//!
//! - `cluster`: the nodes (child processes on loopback) with a cutting
//!   proxy on every peer link, and the faults;
//! - `disk`: for the disk faults, a real file system and a block-I/O
//!   cgroup per data node, and their teardown;
//! - `workload`: the clients (registers with read, write and
//!   compare-and-set, counters, sets and lists of unique elements), which follow
//!   the primary and record every operation with its outcome (ok, failed,
//!   or unknown);
//! - this module: the schedule of faults, the watch on epochs, the final
//!   reads once the cluster settled, the checks
//!   (`daisy_chaos_check`) and the report.
//!
//! The seed fixes the schedule of faults and every client's choice of
//! operations; the timing is the machine's. Every failure prints the
//! command that runs the same schedule again.
//!
//! Nothing outlives a run: the nodes die with it, and the cluster's drop
//! (normal end, error, Ctrl-C or SIGTERM, which every wait checks) and, when
//! panics abort, the panic hook unmount the disks, detach their loop
//! devices and remove their cgroups.

mod client;
mod cluster;
mod disk;
mod proxy;
mod workload;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use daisy_chaos_check::{
    check_counters, check_counters_linearizable, check_lists, check_registers, check_sets, History,
    KeyVerdict, Verdict,
};

use cluster::Cluster;
use workload::{Rng, Workload};

/// How long the cluster may take to settle once the faults stop.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How often the epoch watch samples every node.
const WATCH_INTERVAL: Duration = Duration::from_millis(25);
/// The epochs the report names (the first and last halves).
const EPOCHS_SHOWN: usize = 20;
/// How long `lag-kill` waits for the cut secondary to leave the in-sync set.
const LAG_TIMEOUT: Duration = Duration::from_secs(3);
/// `--spare-after-ms` of an active-spare chaos cluster.
const SPARE_AFTER_MS: u64 = 1_000;
/// The longest run `--duration` accepts.
const DURATION_MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// `90`, `90s`, `30m`, `2h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("'{text}': the unit must be s, m or h")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .map(Duration::from_secs)
        .filter(|d| *d <= DURATION_MAX)
        .ok_or_else(|| format!("'{text}' is not a duration of at most a week (90, 90s, 30m, 2h)"))
}

/// How often a wait looks for an interrupt.
const INTERRUPT_POLL: Duration = Duration::from_millis(50);
/// A disk fault lasts from `DISK_FAULT_MS_MIN` for up to `DISK_FAULT_MS_SPAN`
/// more: long enough for many slow fsyncs, or for writes to pile up
/// against a full disk.
const DISK_FAULT_MS_MIN: u64 = 1000;
const DISK_FAULT_MS_SPAN: u64 = 3000;
/// A slow disk takes `SLOW_DISK_IOPS_MIN` to `SLOW_DISK_IOPS_MIN +
/// SLOW_DISK_IOPS_SPAN - 1` writes a second: an fsync then takes tens to
/// hundreds of milliseconds.
const SLOW_DISK_IOPS_MIN: u64 = 3;
const SLOW_DISK_IOPS_SPAN: u64 = 18;

/// Set by SIGINT or SIGTERM; every wait of the run checks it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // A second interrupt: the teardown is stuck, leave at once.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) }
    }
}

/// Whether the run was asked to stop (Ctrl-C, SIGTERM).
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Sleeps for `duration`, or less if the run is interrupted.
fn nap(duration: Duration) -> Result<(), String> {
    let deadline = Instant::now() + duration;
    loop {
        if interrupted() {
            return Err("interrupted".into());
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        thread::sleep((deadline - now).min(INTERRUPT_POLL));
    }
}

/// Ctrl-C and SIGTERM stop the run through its ordinary exits, so that the
/// nodes are stopped and the disks torn down; when panics abort (release
/// builds), the panic hook tears the disks down itself.
fn catch_interrupts() {
    let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches an atomic (and calls _exit).
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    #[cfg(panic = "abort")]
    {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            disk::teardown_all();
        }));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// SIGKILL a node (the primary half the time), restart it a little later.
    Kill,
    /// SIGSTOP the primary for longer than its lease, then SIGCONT.
    Pause,
    /// Cut every peer link to and from a node, then heal.
    Partition,
    /// A combination: cut the links between the primary and one secondary
    /// until the secondary has left the in-sync set, let writes go on
    /// without it, then SIGKILL the primary; restart it and heal later.
    /// Only an in-sync member may replace it.
    LagKill,
    /// Two of kill, pause and partition at once: one on the primary, one
    /// on another node (the arbiter included).
    Double,
    /// Throttle a data node's disk to a few writes a second (the primary
    /// half the time), then lift it. Needs root.
    SlowDisk,
    /// Fill a data node's file system (the primary half the time), then
    /// free it. Needs root.
    DiskFull,
}

/// The faults `double` combines.
const SIMPLE_FAULTS: [Fault; 3] = [Fault::Kill, Fault::Pause, Fault::Partition];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::LagKill => "lag-kill",
            Fault::Double => "double",
            Fault::SlowDisk => "slow-disk",
            Fault::DiskFull => "disk-full",
        }
    }

    fn on_disk(self) -> bool {
        matches!(self, Fault::SlowDisk | Fault::DiskFull)
    }
}

#[derive(clap::Args, Clone, Debug)]
pub struct ChaosOptions {
    /// How long the faults and the workload run: seconds, or a number
    /// with s, m or h (90, 90s, 30m, 2h).
    #[arg(long, alias = "duration-secs", default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// The seed of the schedule of faults and operations [default: random].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Data nodes (an arbiter joins when they are even).
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Redundancy model: active-standby (every other data node a standby)
    /// or active-spare (the data nodes past the second are spares).
    #[arg(long, default_value = "active-standby", value_parser = ["active-standby", "active-spare"])]
    pub model: String,
    /// Hot standbys apply records as they arrive; warm ones only log them.
    #[arg(long, default_value = "hot", value_parser = ["hot", "warm"])]
    pub standby: String,
    /// Safeness level of the cluster.
    #[arg(long, default_value = "2-safe", value_parser = ["1-safe", "2-safe", "2-safe-committed", "very-safe"])]
    pub safeness: String,
    /// The faults to inject (comma-separated). slow-disk and disk-full
    /// give every data node a file system on a loop device and a
    /// block-I/O cgroup of its own: they need root, mkfs.ext4 and losetup.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kill,pause,partition,lag-kill,double"
    )]
    pub faults: Vec<Fault>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Directory for the nodes' data and logs [default: a new temporary one].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Break a guarantee on purpose, to see the checkers catch it:
    /// `ack-early` acknowledges 2-safe writes before any secondary has them;
    /// `promote-outside-in-sync` fails over to a member outside the in-sync
    /// set whenever there is one.
    #[arg(long, value_parser = ["ack-early", "promote-outside-in-sync"])]
    pub break_for_tests: Option<String>,
}

/// One fault as it was injected.
struct Injected {
    fault: Fault,
    target: String,
    /// How hard, when the fault has a degree (e.g. a slow disk's IOPS).
    detail: Option<String>,
    started: Instant,
    ended: Instant,
}

pub fn run(options: ChaosOptions) -> ExitCode {
    let seed = options.seed.unwrap_or_else(|| {
        std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now())
    });
    let repro = repro_command(&options, seed);
    catch_interrupts();
    match chaos(&options, seed) {
        Ok(report) if report.passed => {
            print!("{}", report.text);
            println!("PASS (seed {seed})");
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", report.text);
            println!("FAIL (seed {seed}); the same schedule again: {repro}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("daisy chaos: {error}");
            eprintln!("seed {seed}; the same schedule again: {repro}");
            ExitCode::FAILURE
        }
    }
}

fn repro_command(options: &ChaosOptions, seed: u64) -> String {
    let faults: Vec<&str> = options.faults.iter().map(|f| f.name()).collect();
    let mut command = format!(
        "daisy chaos --seed {seed} --duration {}s --nodes {} --model {} --standby {} --safeness {} --faults {} --clients {}",
        options.duration.as_secs(),
        options.nodes,
        options.model,
        options.standby,
        options.safeness,
        faults.join(","),
        options.clients
    );
    if let Some(broken) = &options.break_for_tests {
        let _ = write!(command, " --break-for-tests {broken}");
    }
    command
}

struct Report {
    passed: bool,
    text: String,
}

fn chaos(options: &ChaosOptions, seed: u64) -> Result<Report, String> {
    if !(2..=5).contains(&options.nodes) {
        return Err("--nodes must be 2 to 5".into());
    }
    if options.model == "active-spare" && options.nodes < 3 {
        return Err(
            "active-spare needs at least 3 data nodes (a primary, a standby, spares)".into(),
        );
    }
    if !(1..=64).contains(&options.clients) || options.duration.is_zero() {
        return Err("--clients must be 1 to 64 and --duration at least 1s".into());
    }
    let real_disks = options.faults.iter().any(|f| f.on_disk());
    if real_disks {
        disk::check_requirements()?;
    }
    let dir = match &options.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("daisy-chaos-{}-{seed}", std::process::id())),
    };
    let mut flags = vec![
        "--safeness".to_string(),
        options.safeness.clone(),
        "--switch-back".into(),
        "false".into(),
        "--fsync".into(),
        "always".into(),
        "--model".into(),
        options.model.clone(),
        "--standby".into(),
        options.standby.clone(),
    ];
    let spares = if options.model == "active-spare" {
        // Faults last up to 1.5 s: let spares replace within that.
        flags.extend(["--spare-after-ms".into(), SPARE_AFTER_MS.to_string()]);
        options.nodes - 2
    } else {
        0
    };
    if let Some(broken) = &options.break_for_tests {
        flags.extend(["--break-for-tests".into(), broken.clone()]);
    }
    println!(
        "daisy chaos: seed {seed}, {} data nodes ({}, {} standby), {}, faults {:?}, {} clients, {} s; data in {}",
        options.nodes,
        options.model,
        options.standby,
        options.safeness,
        options.faults,
        options.clients,
        options.duration.as_secs(),
        dir.display()
    );
    let mut cluster = Cluster::start(&dir, options.nodes, spares, &flags, real_disks)?;
    cluster.settle(SETTLE_TIMEOUT)?;
    let start = Instant::now();
    let ports: Vec<(String, u16)> = cluster
        .data_nodes()
        .map(|(_, n)| (n.name.clone(), n.port))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let watch = EpochWatch::start(ports.clone(), stop.clone());
    let workload = Workload::start(
        ports.iter().map(|(_, p)| *p).collect(),
        options.clients,
        seed,
        start,
        stop.clone(),
    );
    let injected = inject(&mut cluster, options, seed, start);
    stop.store(true, Ordering::Relaxed);
    let injected = injected?;
    let mut history = workload.finish();
    let epochs = watch.finish();
    cluster.heal()?;
    let settled = cluster.settle(SETTLE_TIMEOUT);
    if let Ok(primary) = &settled {
        workload::final_reads(cluster.nodes[*primary].port, start, &mut history)?;
    }
    Ok(report(&history, &injected, &epochs, &settled, start, &dir))
}

/// Injects faults on the seeded schedule until the duration is over.
fn inject(
    cluster: &mut Cluster,
    options: &ChaosOptions,
    seed: u64,
    start: Instant,
) -> Result<Vec<Injected>, String> {
    let mut random = Rng::new(seed ^ 0xFA17);
    let end = start + options.duration;
    let mut injected = Vec::new();
    if options.faults.is_empty() {
        nap(end.saturating_duration_since(Instant::now()))?;
        return Ok(injected);
    }
    loop {
        let quiet = Duration::from_millis(700 + random.below(1300));
        if Instant::now() + quiet >= end {
            nap(end.saturating_duration_since(Instant::now()))?;
            return Ok(injected);
        }
        nap(quiet)?;
        let fault = options.faults[random.below(options.faults.len() as u64) as usize];
        let primary = cluster.serving().map(|(i, _)| i);
        let data: Vec<usize> = cluster.data_nodes().map(|(i, _)| i).collect();
        let any = random.below(cluster.nodes.len() as u64) as usize;
        let target = match fault {
            Fault::Kill if random.below(2) == 0 => primary.unwrap_or(data[0]),
            Fault::Kill => data[random.below(data.len() as u64) as usize],
            Fault::Pause | Fault::LagKill | Fault::Double => primary.unwrap_or(data[0]),
            Fault::Partition if random.below(2) == 0 => primary.unwrap_or(any),
            Fault::Partition => any,
            Fault::SlowDisk | Fault::DiskFull if random.below(2) == 0 => primary.unwrap_or(data[0]),
            Fault::SlowDisk | Fault::DiskFull => data[random.below(data.len() as u64) as usize],
        };
        let others: Vec<usize> = data.iter().copied().filter(|&i| i != target).collect();
        let lagging = others[random.below(others.len() as u64) as usize];
        let nodes = cluster.nodes.len() as u64;
        let second = (target + 1 + random.below(nodes - 1) as usize) % nodes as usize;
        let pair = [
            (SIMPLE_FAULTS[random.below(3) as usize], target),
            (SIMPLE_FAULTS[random.below(3) as usize], second),
        ];
        let mut lasting = Duration::from_millis(300 + random.below(1200));
        if fault.on_disk() {
            lasting = Duration::from_millis(DISK_FAULT_MS_MIN + random.below(DISK_FAULT_MS_SPAN));
        }
        let write_iops = match fault {
            Fault::SlowDisk => SLOW_DISK_IOPS_MIN + random.below(SLOW_DISK_IOPS_SPAN),
            _ => 0,
        };
        // A lag-kill's fault, for the unavailability it causes, is the kill.
        let mut started = Instant::now();
        let mut name = cluster.nodes[target].name.clone();
        let mut detail = None;
        match fault {
            Fault::Kill | Fault::Pause | Fault::Partition => start_fault(cluster, fault, target),
            Fault::Double => {
                name = pair
                    .iter()
                    .map(|&(f, t)| format!("{} {}", f.name(), cluster.nodes[t].name))
                    .collect::<Vec<_>>()
                    .join(" + ");
                for (f, t) in pair {
                    start_fault(cluster, f, t);
                }
            }
            Fault::LagKill => {
                cluster.cut_between(target, lagging, true);
                let left = cluster.wait_out_of_sync(target, lagging, LAG_TIMEOUT);
                detail = Some(format!(
                    "cut from {}, {}",
                    cluster.nodes[lagging].name,
                    if left {
                        "which left the in-sync set"
                    } else {
                        "which did not leave the in-sync set in time"
                    }
                ));
                nap(Duration::from_millis(200 + random.below(300)))?;
                started = Instant::now();
                cluster.kill(target);
            }
            Fault::SlowDisk => {
                cluster.slow_disk(target, write_iops)?;
                detail = Some(format!("{write_iops} writes/s"));
            }
            Fault::DiskFull => {
                let filler = cluster.fill_disk(target)?;
                detail = Some(format!("filler {} MiB", filler >> 20));
            }
        }
        nap(lasting)?;
        match fault {
            Fault::Kill | Fault::Pause | Fault::Partition => stop_fault(cluster, fault, target)?,
            Fault::Double => {
                for (f, t) in pair.into_iter().rev() {
                    stop_fault(cluster, f, t)?;
                }
            }
            Fault::LagKill => {
                cluster.restart(target)?;
                cluster.cut_between(target, lagging, false);
            }
            Fault::SlowDisk | Fault::DiskFull => cluster.heal_disk(target)?,
        }
        injected.push(Injected {
            fault,
            target: name,
            detail,
            started,
            ended: Instant::now(),
        });
    }
}

/// Starts one of kill, pause and partition on node `target`.
fn start_fault(cluster: &mut Cluster, fault: Fault, target: usize) {
    match fault {
        Fault::Kill => cluster.kill(target),
        Fault::Pause => cluster.pause(target),
        Fault::Partition => cluster.isolate(target, true),
        Fault::LagKill | Fault::Double | Fault::SlowDisk | Fault::DiskFull => {
            unreachable!("{fault:?} is not a simple fault")
        }
    }
}

/// Undoes what `start_fault` did.
fn stop_fault(cluster: &mut Cluster, fault: Fault, target: usize) -> Result<(), String> {
    match fault {
        Fault::Kill => cluster.restart(target)?,
        Fault::Pause => cluster.resume(target),
        Fault::Partition => cluster.isolate(target, false),
        Fault::LagKill | Fault::Double | Fault::SlowDisk | Fault::DiskFull => {
            unreachable!("{fault:?} is not a simple fault")
        }
    }
    Ok(())
}

/// Samples every data node's role and epoch; any epoch claimed by two
/// primaries is a split brain.
struct EpochWatch {
    handle: thread::JoinHandle<()>,
    seen: Arc<Mutex<BTreeMap<u64, String>>>,
    conflicts: Arc<Mutex<Vec<String>>>,
}

impl EpochWatch {
    fn start(ports: Vec<(String, u16)>, stop: Arc<AtomicBool>) -> EpochWatch {
        let seen: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
        let conflicts: Arc<Mutex<Vec<String>>> = Arc::default();
        let (seen_in, conflicts_in) = (seen.clone(), conflicts.clone());
        let handle = thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for (name, port) in &ports {
                    let Some((epoch, primary)) = workload::role(*port) else {
                        continue;
                    };
                    if !primary {
                        continue;
                    }
                    let mut seen = seen_in.lock().unwrap_or_else(|e| e.into_inner());
                    let holder = seen.entry(epoch).or_insert_with(|| name.clone());
                    if holder != name {
                        let conflict = format!("epoch {epoch}: {holder} and {name}");
                        conflicts_in
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(conflict);
                    }
                }
                thread::sleep(WATCH_INTERVAL);
            }
        });
        EpochWatch {
            handle,
            seen,
            conflicts,
        }
    }

    /// The epochs seen with their primary, and the conflicts.
    fn finish(self) -> (BTreeMap<u64, String>, Vec<String>) {
        let _ = self.handle.join();
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let conflicts = self
            .conflicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (seen, conflicts)
    }
}

fn report(
    history: &History,
    injected: &[Injected],
    (epochs, conflicts): &(BTreeMap<u64, String>, Vec<String>),
    settled: &Result<usize, String>,
    start: Instant,
    dir: &std::path::Path,
) -> Report {
    let mut text = String::new();
    let mut passed = true;
    let counts = workload::count(history);
    let _ = writeln!(
        text,
        "operations: {} ({} ok, {} failed, {} unknown)",
        counts.total, counts.ok, counts.failed, counts.unknown
    );
    let _ = writeln!(text, "faults injected: {}", injected.len());
    let mut by_fault: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    // Writes begun during each kind of fault: acknowledged, failed,
    // unknown, and how long the faults of that kind lasted.
    let mut during: BTreeMap<&str, (usize, usize, usize, Duration)> = BTreeMap::new();
    for fault in injected {
        let since = fault.started.duration_since(start).as_micros() as u64;
        let first_ok = workload::first_write_ok_after(history, since)
            .map(|us| us.saturating_sub(since) as f64 / 1000.0);
        let until = fault.ended.duration_since(start).as_micros() as u64;
        let (acknowledged, failed, unknown) = workload::writes_during(history, since, until);
        let _ = writeln!(
            text,
            "  at {:>6.1} s: {} {}{} for {} ms; next acknowledged write {}; \
             writes begun during it: {acknowledged} ok, {failed} failed, {unknown} unknown",
            since as f64 / 1e6,
            fault.fault.name(),
            fault.target,
            fault
                .detail
                .as_ref()
                .map_or(String::new(), |d| format!(" ({d})")),
            fault.ended.duration_since(fault.started).as_millis(),
            first_ok.map_or("none".to_string(), |ms| format!(
                "{ms:.0} ms after it began"
            )),
        );
        by_fault
            .entry(fault.fault.name())
            .or_default()
            .push(first_ok.unwrap_or(f64::NAN));
        let sums = during.entry(fault.fault.name()).or_default();
        sums.0 += acknowledged;
        sums.1 += failed;
        sums.2 += unknown;
        sums.3 += fault.ended.duration_since(fault.started);
    }
    let _ = writeln!(
        text,
        "unavailability (fault start to the next acknowledged write):"
    );
    for (name, waits) in &by_fault {
        let mut sorted: Vec<f64> = waits.iter().copied().filter(|w| w.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let percentile = |p: f64| {
            sorted
                .get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or(f64::NAN)
        };
        let (acknowledged, failed, unknown, lasted) = during[name];
        let _ = writeln!(
            text,
            "  {name}: {} times; first acknowledged write after it: p50 {:.0} ms, max {:.0} ms; \
             while they lasted ({:.1} s): {acknowledged} writes acknowledged ({:.0}/s), {failed} failed, {unknown} unknown",
            waits.len(),
            percentile(0.5),
            percentile(1.0),
            lasted.as_secs_f64(),
            acknowledged as f64 / lasted.as_secs_f64().max(0.001),
        );
    }
    let mut seen: Vec<String> = epochs.iter().map(|(e, n)| format!("{e}:{n}")).collect();
    if seen.len() > EPOCHS_SHOWN {
        seen.drain(EPOCHS_SHOWN / 2..seen.len() - EPOCHS_SHOWN / 2);
        seen.insert(EPOCHS_SHOWN / 2, "...".into());
    }
    let _ = writeln!(
        text,
        "epochs seen: {} (epoch:primary {})",
        epochs.len(),
        seen.join(" ")
    );
    if !conflicts.is_empty() {
        passed = false;
        let _ = writeln!(text, "TWO PRIMARIES IN ONE EPOCH: {conflicts:?}");
    }
    match settled {
        Ok(_) => {
            let _ = writeln!(text, "replicas identical after the faults stopped: yes");
        }
        Err(error) => {
            passed = false;
            let _ = writeln!(text, "REPLICAS DID NOT SETTLE: {error}");
        }
    }
    for (name, verdict) in [
        ("registers", check_registers(history)),
        ("counters", check_counters_linearizable(history)),
    ] {
        passed &= linearizability(&mut text, name, &verdict);
    }
    for (name, loss) in [
        ("sets", check_sets(history)),
        ("lists", check_lists(history)),
        ("counters", check_counters(history)),
    ] {
        let _ = writeln!(
            text,
            "{name}: {} keys, {} acknowledged, {} lost, {} unexpected",
            loss.checked_keys, loss.acknowledged, loss.lost, loss.unexpected
        );
        if !loss.ok() {
            passed = false;
            for detail in &loss.details {
                let _ = writeln!(text, "  {detail}");
            }
        }
    }
    let _ = writeln!(text, "logs: {}", dir.display());
    Report { passed, text }
}

/// Reports one linearizability verdict; false if a key is not linearizable.
fn linearizability(text: &mut String, name: &str, verdict: &Verdict) -> bool {
    let unchecked: Vec<&(String, KeyVerdict)> = verdict
        .keys
        .iter()
        .filter(|(_, v)| matches!(v, KeyVerdict::Unknown { .. }))
        .collect();
    let summary = if !verdict.ok() {
        "NOT LINEARIZABLE"
    } else if unchecked.is_empty() {
        "all linearizable"
    } else {
        "no violation found, some keys not decided"
    };
    let _ = writeln!(
        text,
        "{name}: {} keys checked for linearizability, {summary}",
        verdict.checked()
    );
    for (key, verdict) in verdict.failures() {
        let _ = writeln!(text, "  {key}: {verdict:?}");
    }
    for (key, verdict) in unchecked {
        let _ = writeln!(text, "  {key} not decided: {verdict:?}");
    }
    verdict.ok()
}
