//! `daisy chaos`: a short run of every fault passes, and the checkers bite
//! when a guarantee is broken on purpose (`--break-for-tests`: `ack-early`
//! acknowledges 2-safe writes before any secondary has them;
//! `promote-outside-in-sync` fails over to a secondary that left the
//! in-sync set). The disk faults run on real file systems, loop devices
//! and cgroups, so their run needs root (CI runs as root); without it,
//! `daisy chaos` refuses them at once.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::temp_dir;

/// The longest a chaos run may take, start and settling included.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

struct Run {
    passed: bool,
    output: String,
    /// The `daisy chaos` process's id (it names the run's cgroups).
    pid: u32,
}

fn chaos(label: &str, args: &[&str]) -> Run {
    chaos_in(&temp_dir(label), &[], args)
}

/// Runs `daisy chaos` in `dir`, through `wrapper` (a command that runs
/// the rest) when it is not empty.
fn chaos_in(dir: &Path, wrapper: &[&str], args: &[&str]) -> Run {
    let daisy = env!("CARGO_BIN_EXE_daisy");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut command = Command::new(program);
            command.args(rest).arg(daisy);
            command
        }
        None => Command::new(daisy),
    };
    let mut child = command
        .arg("chaos")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daisy chaos starts");
    let pid = child.id();
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("daisy chaos {args:?} did not finish within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if status.success() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Run {
        passed: status.success(),
        output: text,
        pid,
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn a_short_chaos_run_with_every_fault_passes() {
    let run = chaos(
        "chaos-short",
        &["--duration-secs", "10", "--seed", "1", "--clients", "6"],
    );
    assert!(run.passed, "the run failed:\n{}", run.output);
    for expected in [
        "all linearizable",
        "0 lost",
        "replicas identical",
        "PASS (seed 1)",
    ] {
        assert!(
            run.output.contains(expected),
            "no '{expected}' in:\n{}",
            run.output
        );
    }
}

#[test]
fn warm_standbys_and_spares_pass_too() {
    let run = chaos(
        "chaos-warm-spare",
        &[
            "--duration",
            "8s",
            "--seed",
            "2",
            "--clients",
            "4",
            "--nodes",
            "3",
            "--model",
            "active-spare",
            "--standby",
            "warm",
        ],
    );
    assert!(run.passed, "the run failed:\n{}", run.output);
    assert!(
        run.output.contains("(active-spare, warm standby)") && run.output.contains("PASS (seed 2)"),
        "{}",
        run.output
    );
}

#[test]
fn the_checkers_catch_acknowledgements_before_replication() {
    let run = chaos(
        "chaos-broken",
        &[
            "--duration-secs",
            "12",
            "--seed",
            "7",
            "--clients",
            "6",
            "--faults",
            "partition",
            "--break-for-tests",
            "ack-early",
        ],
    );
    assert!(
        !run.passed,
        "acknowledging before replication went unnoticed:\n{}",
        run.output
    );
    assert!(
        run.output.contains("FAIL (seed 7)") && run.output.contains("daisy chaos --seed 7"),
        "a failure names its seed and the command that repeats it:\n{}",
        run.output
    );
}

#[test]
fn the_checkers_catch_a_promotion_outside_the_in_sync_set() {
    let args = [
        "--duration-secs",
        "10",
        "--seed",
        "3",
        "--clients",
        "6",
        "--faults",
        "lag-kill",
    ];
    let honest = chaos("chaos-lag-kill", &args);
    assert!(
        honest.passed && honest.output.contains("lag-kill: "),
        "lag-kill without the break must pass:\n{}",
        honest.output
    );
    let broken_args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--break-for-tests", "promote-outside-in-sync"])
        .collect();
    let broken = chaos("chaos-lag-kill-broken", &broken_args);
    assert!(
        !broken.passed && broken.output.contains("FAIL (seed 3)"),
        "promoting outside the in-sync set went unnoticed:\n{}",
        broken.output
    );
    assert!(
        broken
            .output
            .lines()
            .any(|line| line.contains("acknowledged")
                && line.contains(" lost")
                && !line.contains(" 0 lost")),
        "the failure is lost acknowledged writes:\n{}",
        broken.output
    );
}

#[test]
fn a_short_run_of_slow_and_full_disks_passes_and_leaves_nothing_behind() {
    if !is_root() {
        eprintln!(
            "\n!!!! SKIPPED: the slow-disk and disk-full faults need root (loop devices, \
             mounts, cgroups); run this test as root to exercise them !!!!\n"
        );
        return;
    }
    let dir = temp_dir("chaos-disks");
    let run = chaos_in(
        &dir,
        &[],
        &[
            "--duration-secs",
            "10",
            "--seed",
            "1",
            "--clients",
            "6",
            "--faults",
            "slow-disk,disk-full",
        ],
    );
    // Nothing of the run outlives it: no mount under its directory, no loop
    // device on its images, no cgroup named after its process.
    let dir_text = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    assert!(
        !mounts.contains(&dir_text),
        "a file system of the run is still mounted:\n{mounts}"
    );
    let loops = Command::new("losetup")
        .arg("-a")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        !loops.contains(&dir_text),
        "a loop device of the run is still attached:\n{loops}"
    );
    let prefix = format!("daisy-chaos-{}-", run.pid);
    for root in ["/sys/fs/cgroup/blkio", "/sys/fs/cgroup"] {
        let left: Vec<String> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "cgroups left in {root}: {left:?}");
    }
    assert!(run.passed, "the run failed:\n{}", run.output);
    for expected in [
        "  slow-disk: ",
        "  disk-full: ",
        "all linearizable",
        "0 lost",
        "replicas identical",
        "PASS (seed 1)",
    ] {
        assert!(
            run.output.contains(expected),
            "no '{expected}' in:\n{}",
            run.output
        );
    }
}

#[test]
fn disk_faults_without_root_are_refused_at_once_saying_what_they_need() {
    // As root, drop to an unprivileged user to see the refusal.
    let wrapper: &[&str] = if is_root() {
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    let dir = temp_dir("chaos-disks-refused");
    let started = Instant::now();
    let run = chaos_in(
        &dir,
        wrapper,
        &[
            "--duration-secs",
            "10",
            "--seed",
            "1",
            "--faults",
            "disk-full",
        ],
    );
    if is_root() && run.output.contains("setpriv") && !run.output.contains("CAP_SYS_ADMIN") {
        eprintln!(
            "\n!!!! SKIPPED: cannot drop privileges with setpriv: {} !!!!\n",
            run.output
        );
        return;
    }
    assert!(!run.passed, "disk faults ran without root:\n{}", run.output);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the refusal took {:?}",
        started.elapsed()
    );
    assert!(
        run.output.contains("missing: root with CAP_SYS_ADMIN"),
        "the refusal does not say what is needed:\n{}",
        run.output
    );
    assert!(
        !run.output.contains("data in"),
        "a cluster was started before the refusal:\n{}",
        run.output
    );
}
