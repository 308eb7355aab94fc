//! `failover-clock`: failover unavailability as a client sees it.
//!
//! Under a load of writers (`INCR` on one key each, in a loop), it kills
//! the primary with SIGKILL and measures the time until the first write is
//! acknowledged by another node, for DaisyDB (`daisy`) or for Redis with
//! Sentinel (`sentinel`); or it asks a DaisyDB primary for a planned
//! switchover and measures the writers' longest pause (`switchover`).
//! Afterwards it reads every counter back and reports acknowledged
//! increments that are missing: a failover that loses writes says so.
//!
//! Output: one line of `name=value` fields per trial on stdout, e.g.
//! `unavailable_ms=183.2 ... acked=12345 unknown=50 lost=0 ...`; diagnostics
//! on stderr. Exit status 1 when a trial could not be run at all.
//!
//! Layout: `resp` (a bounded RESP client), `route` (where a writer goes
//! next), `load` (the writers and their record), `failover` and
//! `switchover` (the trials), `knobs` (every limit and default).

mod failover;
mod knobs;
mod load;
mod resp;
mod route;
mod switchover;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use knobs::*;
use load::LoadOptions;
use route::Route;

#[derive(Parser)]
#[command(
    name = "failover-clock",
    about = "Failover unavailability as a client sees it"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// SIGKILL a DaisyDB primary; time until another node acknowledges a write.
    Daisy {
        /// Every node's client address, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        nodes: Vec<String>,
        #[command(flatten)]
        kill: KillArgs,
        /// Send DAISY PROMOTE to the first surviving node right after the
        /// kill, instead of waiting for the cluster to fail over by itself.
        #[arg(long)]
        promote_after_kill: bool,
    },
    /// SIGKILL a Redis master watched by Sentinel; time until the new master acknowledges a write.
    Sentinel {
        /// Every sentinel's address, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        sentinels: Vec<String>,
        /// The master's name in the sentinels' configuration.
        #[arg(long, default_value = "mymaster")]
        master_name: String,
        #[command(flatten)]
        kill: KillArgs,
    },
    /// DAISY SWITCHOVER under load; the writers' longest pause, per trial.
    Switchover {
        /// Every node as NODE_ID=HOST:PORT (client address), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        nodes: Vec<String>,
        /// Target node id [default: the node after the current primary in --nodes].
        #[arg(long, conflicts_with = "trials")]
        to: Option<String>,
        /// Where to send DAISY SWITCHOVER [default: the current primary].
        #[arg(long)]
        admin: Option<String>,
        /// Switchovers to run, each to the next node in turn.
        #[arg(long, default_value = "1")]
        trials: usize,
        /// Quiet window measured before each switchover, for comparison (ms).
        #[arg(long, default_value = DEFAULT_BASELINE_MS)]
        baseline_ms: u64,
        #[command(flatten)]
        load: LoadArgs,
        /// Load after each switchover before the next step (ms).
        #[arg(long, default_value = DEFAULT_SETTLE_MS)]
        settle_ms: u64,
    },
}

#[derive(Args)]
struct KillArgs {
    /// The server pid of each node, as HOST:PORT=PID, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    kill_pid_of: Vec<String>,
    #[command(flatten)]
    load: LoadArgs,
    /// Load after the first acknowledgement on the new primary, before the
    /// counters are checked (ms).
    #[arg(long, default_value = DEFAULT_SETTLE_MS)]
    settle_ms: u64,
    /// Give up when no write is acknowledged this long after the kill (ms).
    #[arg(long, default_value = DEFAULT_TRIAL_TIMEOUT_MS)]
    timeout_ms: u64,
}

#[derive(Args)]
struct LoadArgs {
    /// Writer tasks, one connection and one key each.
    #[arg(long, default_value = DEFAULT_CLIENTS)]
    clients: usize,
    /// Load before the kill or switchover, once every writer is acknowledged (ms).
    #[arg(long, default_value = DEFAULT_WARMUP_MS)]
    warmup_ms: u64,
    /// How long a write may wait for its reply (ms).
    #[arg(long, default_value = DEFAULT_WRITE_TIMEOUT_MS)]
    write_timeout_ms: u64,
    /// Pause after a refused or failed write before the next attempt (ms).
    #[arg(long, default_value = DEFAULT_RETRY_DELAY_MS)]
    retry_delay_ms: u64,
}

impl LoadArgs {
    fn options(&self) -> Result<LoadOptions, String> {
        if !(1..=CLIENTS_MAX).contains(&self.clients) {
            return Err(format!("--clients must be 1 to {CLIENTS_MAX}"));
        }
        if self.write_timeout_ms == 0 {
            return Err("--write-timeout-ms must be at least 1".into());
        }
        Ok(LoadOptions {
            clients: self.clients,
            write_timeout: Duration::from_millis(self.write_timeout_ms),
            retry_delay: Duration::from_millis(self.retry_delay_ms),
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error.to_string()),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn fail(error: &str) -> ExitCode {
    eprintln!("failover-clock: {error}");
    ExitCode::FAILURE
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Daisy {
            nodes,
            kill,
            promote_after_kill,
        } => {
            let route = Route::Nodes(addrs(nodes)?);
            let line = failover::run(kill.options(route, promote_after_kill)?).await?;
            println!("{line}");
        }
        Command::Sentinel {
            sentinels,
            master_name,
            kill,
        } => {
            let route = Route::Sentinel {
                sentinels: addrs(sentinels)?,
                master: master_name,
            };
            let line = failover::run(kill.options(route, false)?).await?;
            println!("{line}");
        }
        Command::Switchover {
            nodes,
            to,
            admin,
            trials,
            baseline_ms,
            load,
            settle_ms,
        } => {
            if !(1..=TRIALS_MAX).contains(&trials) {
                return Err(format!("--trials must be 1 to {TRIALS_MAX}"));
            }
            let nodes = addrs(nodes)?
                .iter()
                .map(|n| split_pair(n))
                .collect::<Result<Vec<_>, _>>()?;
            switchover::run(switchover::SwitchoverOptions {
                nodes,
                load: load.options()?,
                to,
                admin,
                trials,
                warmup: Duration::from_millis(load.warmup_ms),
                baseline: Duration::from_millis(baseline_ms),
                settle: Duration::from_millis(settle_ms),
            })
            .await?;
        }
    }
    Ok(())
}

impl KillArgs {
    fn options(
        &self,
        route: Route,
        promote_after_kill: bool,
    ) -> Result<failover::FailoverOptions, String> {
        let pids = self
            .kill_pid_of
            .iter()
            .map(|pair| {
                let (addr, pid) = split_pair(pair)?;
                let pid: i32 = pid
                    .parse()
                    .ok()
                    .filter(|p| *p > 1)
                    .ok_or_else(|| format!("--kill-pid-of {pair}: not a pid"))?;
                Ok((addr, pid))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(failover::FailoverOptions {
            route,
            load: self.load.options()?,
            pids,
            warmup: Duration::from_millis(self.load.warmup_ms),
            settle: Duration::from_millis(self.settle_ms),
            trial_timeout: Duration::from_millis(self.timeout_ms),
            promote_after_kill,
        })
    }
}

fn addrs(list: Vec<String>) -> Result<Vec<String>, String> {
    if list.is_empty() || list.len() > ADDRS_MAX {
        return Err(format!("give 1 to {ADDRS_MAX} addresses"));
    }
    Ok(list)
}

/// `LEFT=RIGHT` as its two halves.
fn split_pair(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .filter(|(l, r)| !l.is_empty() && !r.is_empty())
        .map(|(l, r)| (l.to_string(), r.to_string()))
        .ok_or_else(|| format!("'{pair}' is not NAME=VALUE"))
}
