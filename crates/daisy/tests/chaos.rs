//! `daisy chaos`: a short run of every fault passes, and the checkers bite
//! when a guarantee is broken on purpose (`--break-for-tests`: `ack-early`
//! acknowledges 2-safe writes before any secondary has them;
//! `promote-outside-in-sync` fails over to a secondary that left the
//! in-sync set).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::temp_dir;

/// The longest a chaos run may take, start and settling included.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

struct Run {
    passed: bool,
    output: String,
}

fn chaos(label: &str, args: &[&str]) -> Run {
    let dir = temp_dir(label);
    let mut child = Command::new(env!("CARGO_BIN_EXE_daisy"))
        .arg("chaos")
        .arg("--dir")
        .arg(&dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daisy chaos starts");
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
        let _ = std::fs::remove_dir_all(&dir);
    }
    Run {
        passed: status.success(),
        output: text,
    }
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
