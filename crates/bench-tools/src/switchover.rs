//! Planned switchover trials: under load, `DAISY SWITCHOVER <id>` on the
//! primary, and the pause the writers saw.
//!
//! The pause of a trial is the longest gap between two consecutive
//! acknowledgements of any one writer that overlaps the time from sending
//! the command to its reply. For comparison, each trial first measures the
//! same statistic over a quiet window of `baseline` with no switchover.
//! The writers run across all trials; their counters are checked at the end.

use std::time::Duration;

use tokio::time::{sleep, Instant};

use crate::knobs::{CONNECT_TIMEOUT, PRIMARY_WAIT, SWITCHOVER_TIMEOUT};
use crate::load::{self, GapWindow, Load, LoadOptions};
use crate::resp::{Connection, Reply};
use crate::route::{self, Route};

pub struct SwitchoverOptions {
    /// Every node as (node id, client address), in order.
    pub nodes: Vec<(String, String)>,
    pub load: LoadOptions,
    /// The target; by default the node after the current primary.
    pub to: Option<String>,
    /// Where to send the command; by default the current primary.
    pub admin: Option<String>,
    pub trials: usize,
    pub warmup: Duration,
    pub baseline: Duration,
    pub settle: Duration,
}

/// Runs every trial, printing one line each, then the check line.
pub async fn run(options: SwitchoverOptions) -> Result<(), String> {
    let addrs: Vec<String> = options.nodes.iter().map(|(_, a)| a.clone()).collect();
    let load = Load::start(
        &Route::Nodes(addrs.clone()),
        options.load,
        &load::run_prefix(),
    );
    load.wait_flowing().await?;
    sleep(options.warmup).await;
    for trial in 1..=options.trials {
        let line = run_trial(&load, &options, &addrs).await?;
        println!("trial={trial} {line}");
        sleep(options.settle).await;
    }
    let record = load.stop().await;
    let primary = route::wait_primary(&addrs, PRIMARY_WAIT)
        .await
        .ok_or("no primary to read the counters from")?;
    let check = load::check(&primary, &record).await?;
    println!(
        "check acked={} unknown={} lost={} lost_keys={} extra={}",
        record.acked(),
        record.unknown(),
        check.lost,
        check.lost_keys,
        check.extra
    );
    Ok(())
}

async fn run_trial(
    load: &Load,
    options: &SwitchoverOptions,
    addrs: &[String],
) -> Result<String, String> {
    let primary = route::wait_primary(addrs, PRIMARY_WAIT)
        .await
        .ok_or_else(|| format!("no node said it was the primary within {PRIMARY_WAIT:?}"))?;
    let from = node_id(&options.nodes, &primary)?;
    let to = match &options.to {
        Some(to) => to.clone(),
        None => next_node(&options.nodes, &primary),
    };
    let admin = options.admin.clone().unwrap_or_else(|| primary.clone());

    let start = open_window(load);
    sleep(options.baseline).await;
    let baseline = close_window(load, start, options.settle).await;

    let start = open_window(load);
    let reply = switchover(&admin, &to).await;
    let command = start.elapsed();
    let pause = close_window(load, start, options.settle).await;
    let new_primary = route::wait_primary(addrs, PRIMARY_WAIT).await;
    let result = match reply {
        Ok(()) => "ok".to_string(),
        Err(why) => {
            eprintln!("failover-clock: DAISY SWITCHOVER {to} on {admin}: {why}");
            "error".to_string()
        }
    };
    Ok(format!(
        "from={from} to={to} result={result} pause_ms={} command_ms={} baseline_gap_ms={} new_primary={}",
        millis(pause),
        millis(command),
        millis(baseline),
        new_primary.as_deref().unwrap_or("none"),
    ))
}

fn open_window(load: &Load) -> Instant {
    let start = Instant::now();
    load.record().window = Some(GapWindow {
        start,
        end: None,
        max_gap: Duration::ZERO,
    });
    start
}

/// Ends the window now, waits (at most `limit`) until every writer has been
/// acknowledged after it, and returns its longest gap. A writer still
/// waiting then counts with the time since its last acknowledgement.
async fn close_window(load: &Load, start: Instant, limit: Duration) -> Duration {
    let end = Instant::now();
    if let Some(window) = &mut load.record().window {
        window.end = Some(end);
    }
    load.wait_acked_after(end, end + limit).await;
    let mut record = load.record();
    let now = Instant::now();
    let stalled = record
        .clients
        .iter()
        .filter_map(|c| c.last_ack)
        .filter(|t| *t <= end)
        .map(|t| now - t.max(start))
        .max()
        .unwrap_or_default();
    let gap = record.window.take().map_or(Duration::ZERO, |w| w.max_gap);
    gap.max(stalled)
}

async fn switchover(admin: &str, to: &str) -> Result<(), String> {
    let mut conn = Connection::connect(admin, CONNECT_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    match conn
        .call_str(&["DAISY", "SWITCHOVER", to], SWITCHOVER_TIMEOUT)
        .await
    {
        Ok(Reply::Status(_)) => Ok(()),
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn node_id(nodes: &[(String, String)], addr: &str) -> Result<String, String> {
    nodes
        .iter()
        .find(|(_, a)| a == addr)
        .map(|(id, _)| id.clone())
        .ok_or_else(|| format!("the primary {addr} is not in --nodes"))
}

/// The node after `addr` in `nodes`, wrapping around.
fn next_node(nodes: &[(String, String)], addr: &str) -> String {
    let here = nodes.iter().position(|(_, a)| a == addr).unwrap_or(0);
    nodes[(here + 1) % nodes.len()].0.clone()
}

fn millis(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_node_wraps_around() {
        let nodes = vec![
            ("n1".to_string(), "127.0.0.1:1".to_string()),
            ("n2".to_string(), "127.0.0.1:2".to_string()),
        ];
        assert_eq!(next_node(&nodes, "127.0.0.1:1"), "n2");
        assert_eq!(next_node(&nodes, "127.0.0.1:2"), "n1");
    }
}
