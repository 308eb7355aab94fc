//! One unplanned-failover trial: under load, SIGKILL the primary and time
//! how long until a write is acknowledged by another node, then check that
//! every acknowledged increment survived.
//!
//! The clock starts just before `kill(2)` and stops at the first integer
//! reply from any node other than the killed one. Replies that the killed
//! node had sent before it died never stop the clock.

use std::time::Duration;

use tokio::time::{sleep, Instant};

use crate::knobs::{CONNECT_TIMEOUT, POLL, PRIMARY_WAIT, QUERY_TIMEOUT};
use crate::load::{self, Check, KillWatch, Load, LoadOptions};
use crate::resp::{Connection, Reply};
use crate::route::{self, Route};

pub struct FailoverOptions {
    pub route: Route,
    pub load: LoadOptions,
    /// The pid of each node's server process, by its client address.
    pub pids: Vec<(String, i32)>,
    pub warmup: Duration,
    pub settle: Duration,
    pub trial_timeout: Duration,
    /// DaisyDB only: send `DAISY PROMOTE` to the first surviving node right
    /// after the kill instead of waiting for an automatic failover.
    pub promote_after_kill: bool,
}

/// What one trial saw.
struct Outcome {
    killed: String,
    unavailable: Option<Duration>,
    all_clients: Option<Duration>,
    promote: Option<Duration>,
    acked: u64,
    unknown: u64,
    new_primary: Option<String>,
    check: Result<Check, String>,
}

/// Runs one trial and returns its report line.
pub async fn run(options: FailoverOptions) -> Result<String, String> {
    let killed = current_primary(&options.route)
        .await
        .ok_or("cannot find the primary before the trial")?;
    let pid = pid_of(&options.pids, &killed)?;
    let load = Load::start(&options.route, options.load, &load::run_prefix());
    load.wait_flowing().await?;
    sleep(options.warmup).await;
    if current_primary(&options.route).await.as_deref() != Some(killed.as_str()) {
        return Err(format!(
            "the primary moved away from {killed} during warm-up"
        ));
    }

    let killed_at = kill(&load, &killed, pid)?;
    let promote = if options.promote_after_kill {
        Some(promote_survivor(&options.route, &killed, killed_at + options.trial_timeout).await?)
    } else {
        None
    };
    let (unavailable, all_clients) = wait_recovery(&load, &options, killed_at).await;

    let record = load.stop().await;
    // After a timeout one look is enough: there was time to fail over.
    let primary_wait = match unavailable {
        Some(_) => options.trial_timeout,
        None => Duration::ZERO,
    };
    let new_primary = new_primary(&options.route, &killed, primary_wait).await;
    let check = match &new_primary {
        Some(addr) => load::check(addr, &record).await,
        None => Err("no new primary to read the counters from".into()),
    };
    Ok(report(&Outcome {
        killed,
        unavailable,
        all_clients,
        promote,
        acked: record.acked(),
        unknown: record.unknown(),
        new_primary,
        check,
    }))
}

fn pid_of(pids: &[(String, i32)], addr: &str) -> Result<i32, String> {
    pids.iter()
        .find(|(a, _)| a == addr)
        .map(|(_, pid)| *pid)
        .ok_or_else(|| format!("the primary is {addr}, which --kill-pid-of does not name"))
}

/// Starts watching for acknowledgements, then SIGKILLs `pid`.
fn kill(load: &Load, addr: &str, pid: i32) -> Result<Instant, String> {
    let mut record = load.record();
    let killed_at = Instant::now();
    record.kill = Some(KillWatch {
        killed_at,
        killed_addr: addr.to_string(),
        first_ack: None,
        recovered: vec![false; record.clients.len()],
        all_recovered_at: None,
    });
    drop(record);
    // SAFETY: kill(2) has no memory effects; the pid comes from the caller.
    if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
        return Err(format!(
            "kill -9 {pid} ({addr}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(killed_at)
}

/// Waits for the first acknowledgement from a surviving node (or the trial
/// timeout), then lets the load run for `settle` so every writer moves.
async fn wait_recovery(
    load: &Load,
    options: &FailoverOptions,
    killed_at: Instant,
) -> (Option<Duration>, Option<Duration>) {
    let deadline = killed_at + options.trial_timeout;
    let mut first = None;
    while first.is_none() && Instant::now() < deadline {
        sleep(POLL).await;
        first = load
            .record()
            .kill
            .as_ref()
            .and_then(|k| k.first_ack.as_ref().map(|(t, _)| *t));
    }
    if first.is_some() {
        sleep(options.settle).await;
    }
    let record = load.record();
    let all = record.kill.as_ref().and_then(|k| k.all_recovered_at);
    (first.map(|t| t - killed_at), all.map(|t| t - killed_at))
}

/// Sends `DAISY PROMOTE` to the first node of the route that is not
/// `killed`, again every poll until it accepts (it refuses while it still
/// sees the dead primary's link up); returns the time from the kill.
async fn promote_survivor(
    route: &Route,
    killed: &str,
    deadline: Instant,
) -> Result<Duration, String> {
    let Route::Nodes(nodes) = route else {
        return Err("--promote-after-kill is for DaisyDB nodes".into());
    };
    let survivor = nodes
        .iter()
        .find(|n| *n != killed)
        .ok_or("no node survives the kill to promote")?;
    let started = Instant::now();
    let mut last_error = String::new();
    while Instant::now() < deadline {
        if let Ok(mut conn) = Connection::connect(survivor, CONNECT_TIMEOUT).await {
            match conn.call_str(&["DAISY", "PROMOTE"], QUERY_TIMEOUT).await {
                Ok(Reply::Status(_)) => return Ok(started.elapsed()),
                Ok(other) => last_error = format!("{other:?}"),
                Err(e) => last_error = e.to_string(),
            }
        }
        sleep(POLL).await;
    }
    Err(format!(
        "DAISY PROMOTE on {survivor} did not succeed: {last_error}"
    ))
}

/// The primary now: the node whose ROLE says master, or the sentinels' answer.
async fn current_primary(route: &Route) -> Option<String> {
    match route {
        Route::Nodes(nodes) => route::wait_primary(nodes, PRIMARY_WAIT).await,
        Route::Sentinel { sentinels, master } => {
            for sentinel in sentinels {
                if let Some(addr) = route::master_addr(sentinel, master).await {
                    return Some(addr);
                }
            }
            None
        }
    }
}

/// Waits (bounded) for a primary other than `killed`.
async fn new_primary(route: &Route, killed: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let primary = match route {
            Route::Nodes(nodes) => {
                let survivors: Vec<String> =
                    nodes.iter().filter(|n| *n != killed).cloned().collect();
                route::find_primary(&survivors).await
            }
            Route::Sentinel { .. } => current_primary(route).await,
        };
        if primary.as_deref().is_some_and(|p| p != killed) {
            return primary;
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL * 10).await;
    }
}

fn millis(d: Option<Duration>) -> String {
    d.map_or("timeout".into(), |d| {
        format!("{:.1}", d.as_secs_f64() * 1e3)
    })
}

fn report(outcome: &Outcome) -> String {
    let mut line = format!(
        "unavailable_ms={} all_clients_ms={} killed={} new_primary={}",
        millis(outcome.unavailable),
        millis(outcome.all_clients),
        outcome.killed,
        outcome.new_primary.as_deref().unwrap_or("none"),
    );
    if let Some(promote) = outcome.promote {
        line += &format!(" promote_ms={}", millis(Some(promote)));
    }
    line += &format!(" acked={} unknown={}", outcome.acked, outcome.unknown);
    match &outcome.check {
        Ok(check) => {
            line += &format!(
                " lost={} lost_keys={} extra={}",
                check.lost, check.lost_keys, check.extra
            );
        }
        Err(why) => {
            eprintln!("failover-clock: counters not checked: {why}");
            line += " lost=unchecked";
        }
    }
    line
}
