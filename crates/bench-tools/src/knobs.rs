//! Every limit and default of failover-clock, in one place.

use std::time::Duration;

/// Longest wait for a TCP connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// Longest wait for the reply to an admin or sentinel query (ROLE,
/// SENTINEL get-master-addr-by-name, GET during the check).
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1000);
/// Longest wait for DAISY SWITCHOVER's reply; the server gives up at its
/// own default of 10 s.
pub const SWITCHOVER_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for some node to say it is the primary between trials.
pub const PRIMARY_WAIT: Duration = Duration::from_secs(10);
/// Longest wait until every writer has had its first write acknowledged.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for the writers to stop (each is inside one bounded call).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the controller looks at shared state while it waits.
pub const POLL: Duration = Duration::from_millis(1);
/// Most open connections one writer keeps (one per node it has used).
pub const POOL_CONNECTIONS_MAX: usize = 4;
/// Most writer tasks.
pub const CLIENTS_MAX: usize = 1000;
/// Most nodes or sentinels on the command line.
pub const ADDRS_MAX: usize = 16;
/// Most trials of one switchover run.
pub const TRIALS_MAX: usize = 1000;

// Defaults of the command-line options (milliseconds).
pub const DEFAULT_CLIENTS: &str = "50";
/// How long a writer's write may wait for its reply.
pub const DEFAULT_WRITE_TIMEOUT_MS: &str = "1000";
/// The pause after a refused or failed write before the next attempt.
pub const DEFAULT_RETRY_DELAY_MS: &str = "1";
/// Load before the kill or switchover, once every writer is acknowledged.
pub const DEFAULT_WARMUP_MS: &str = "1000";
/// Load after the new primary's first acknowledgement, before the check.
pub const DEFAULT_SETTLE_MS: &str = "1000";
/// Give up on a trial when no write is acknowledged this long after it began.
pub const DEFAULT_TRIAL_TIMEOUT_MS: &str = "30000";
/// Quiet window measured before each switchover, for comparison.
pub const DEFAULT_BASELINE_MS: &str = "500";
