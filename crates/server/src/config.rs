//! Every setting of a node, with its default, in one place.
//!
//! A setting can come from the TOML file given with `--config` and from a
//! command-line flag of the same name (dashes for underscores); the flag
//! wins. `CONFIG GET` and `CONFIG SET` see the same settings under Redis's
//! names where Redis has one.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the RESP client port listens on.
    pub client_addr: SocketAddr,
    /// Directory for this node's files.
    pub data_dir: PathBuf,
    /// Password clients must give with AUTH or HELLO; empty means none.
    pub requirepass: String,
    /// Memory limit in bytes for data; 0 means no limit. Writes that may
    /// grow memory fail with -OOM above it (no eviction).
    pub maxmemory: u64,
    /// Most clients connected at once.
    pub maxclients: usize,
    /// Close a client idle for this many seconds; 0 disables.
    pub timeout: u64,
    /// Largest bulk string a client may send, in bytes.
    pub proto_max_bulk_len: usize,
    /// Largest unparsed input buffered per client, in bytes.
    pub client_query_buffer_limit: usize,
    /// Largest number of arguments in one command.
    pub proto_max_multibulk_len: usize,
    /// Largest inline command, in bytes.
    pub proto_max_inline_len: usize,
    /// Output a pub/sub subscriber may have pending before it is
    /// disconnected, in bytes.
    pub client_output_buffer_limit_pubsub: usize,
    /// Output a normal client may have pending before it is disconnected,
    /// in bytes (0 means no limit, as in Redis).
    pub client_output_buffer_limit_normal: usize,
    /// Background tasks (active expiry, timeouts) run this many times a second.
    pub hz: u32,
    /// Seed for hash tables and random choices; 0 means pick one at start.
    pub seed: u64,
    /// Keep a transaction log and snapshots in `data_dir` (true), or hold
    /// data in memory only (false; a restart starts empty).
    pub persistence: bool,
    /// When a write is durable before it is acknowledged: `always` (fsync,
    /// with group commit), `everysec` (written at once, fsynced every
    /// second) or `no` (written at once, fsynced when the OS decides).
    pub fsync: String,
    /// Take a snapshot once the log has grown this many bytes since the
    /// last one; 0 disables this trigger.
    pub snapshot_log_bytes: u64,
    /// Take a snapshot this many seconds after the last one if anything
    /// changed; 0 disables this trigger.
    pub snapshot_interval_secs: u64,
    /// Size at which the log starts a new segment file, in bytes.
    pub log_segment_bytes: u64,
    /// With `fsync = always`: how long (µs) the log may wait for a burst of
    /// writes to finish arriving before one fsync covers them all; 0 syncs
    /// at once. Trades that much latency for far fewer fsyncs.
    pub group_commit_window_us: u64,
    /// This node's name in its cluster.
    pub node_id: String,
    /// Address the peer port (replication) listens on; empty for none.
    pub peer_addr: String,
    /// Every member of the fragment, this node included:
    /// `ID=HOST:PEERPORT[/KIND],...` with KIND `sync` (the default), `dr` or
    /// `reporting`. Empty for a standalone node.
    pub members: String,
    /// Where this node connects to some members, when not at the address
    /// the members list gives (a port forward, NAT, or a fault-injecting
    /// proxy): `ID=HOST:PORT,...`. The members list still names the
    /// cluster; only the dialling changes.
    pub peer_routes: String,
    /// The member that is primary on the cluster's first start; afterwards
    /// each node's saved replication state decides.
    pub primary: String,
    /// When writes are acknowledged: `1-safe`, `2-safe`, `2-safe-committed`
    /// or `very-safe` (DESIGN.md §1). A connection may choose its own.
    pub safeness: String,
    /// As a secondary: `hot` (apply continuously, serve READONLY reads) or
    /// `warm` (persist the log, apply only when promoted).
    pub standby: String,
    /// How long writes at 2-safe and above wait for a silent in-sync
    /// secondary before they fail with -NOREPLICAS, in ms.
    pub sync_timeout_ms: u64,
    /// Recent records kept in memory for secondaries that reconnect, in
    /// bytes (older ones are read from the log on disk).
    pub repl_backlog_bytes: u64,
    /// Run as an arbiter: a coordinator voter with no data and no client
    /// port (`node_id`, `peer_addr` and `members` still apply).
    pub arbiter: bool,
    /// The redundancy model: `single`, `active-standby` or `active-spare`.
    pub model: String,
    /// How often each node heartbeats the coordinator's voters, and the
    /// primary renews its lease, in ms.
    pub heartbeat_ms: u64,
    /// How long a lease renewal keeps the primary serving, in ms.
    pub lease_ms: u64,
    /// The coordinator fails a primary over once it has not heard from it
    /// for this long, in ms; the primary drops an in-sync secondary
    /// silent twice this long.
    pub failover_after_ms: u64,
    /// With `model = active-spare`: a spare replaces a secondary that has
    /// been unreachable this long, in ms.
    pub spare_after_ms: u64,
    /// Hand the primary role back to the preferred primary (the first
    /// one) when it has returned and caught up.
    pub switch_back: bool,
    /// How long the preferred primary must stay caught up before the
    /// switch back, in ms.
    pub switch_back_after_ms: u64,
    /// Breaks a guarantee on purpose so that `daisy chaos` can show its
    /// checkers catch it; never for real data. `ack-early`: a primary
    /// acknowledges 2-safe and stricter writes once they are durable
    /// locally, without waiting for any secondary.
    /// `promote-outside-in-sync`: failover promotes a live member outside
    /// the in-sync set whenever there is one.
    pub break_for_tests: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            client_addr: "127.0.0.1:6379".parse().expect("valid literal address"),
            data_dir: PathBuf::from("daisy-data"),
            requirepass: String::new(),
            maxmemory: 0,
            maxclients: 10_000,
            timeout: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            proto_max_multibulk_len: 4 * 1024 * 1024,
            proto_max_inline_len: 64 * 1024,
            client_output_buffer_limit_pubsub: 32 * 1024 * 1024,
            client_output_buffer_limit_normal: 0,
            hz: 10,
            seed: 0,
            persistence: true,
            fsync: "always".into(),
            snapshot_log_bytes: 64 * 1024 * 1024,
            snapshot_interval_secs: 3600,
            log_segment_bytes: daisy_log::SEGMENT_BYTES_DEFAULT,
            group_commit_window_us: 0,
            node_id: "node-1".into(),
            peer_addr: String::new(),
            members: String::new(),
            peer_routes: String::new(),
            primary: String::new(),
            safeness: "2-safe".into(),
            standby: "hot".into(),
            sync_timeout_ms: 1000,
            repl_backlog_bytes: 64 * 1024 * 1024,
            arbiter: false,
            model: "active-standby".into(),
            heartbeat_ms: 20,
            lease_ms: 150,
            failover_after_ms: 150,
            spare_after_ms: 3000,
            switch_back: true,
            switch_back_after_ms: 1000,
            break_for_tests: String::new(),
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys are an error so typos are caught.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("bad config file {}: {e}", path.display()))
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.maxclients == 0 {
            return Err("maxclients must be at least 1".into());
        }
        if !(1..=500).contains(&self.hz) {
            return Err("hz must be between 1 and 500".into());
        }
        if self.proto_max_bulk_len < 1024 {
            return Err("proto_max_bulk_len must be at least 1024".into());
        }
        if self.proto_max_inline_len < 1024 {
            return Err("proto_max_inline_len must be at least 1024".into());
        }
        self.fsync_policy()?;
        if self.group_commit_window_us > 10_000 {
            return Err("group_commit_window_us must be at most 10000".into());
        }
        if !(daisy_log::SEGMENT_BYTES_MIN..=daisy_log::SEGMENT_BYTES_MAX)
            .contains(&self.log_segment_bytes)
        {
            return Err(format!(
                "log_segment_bytes must be between {} and {}",
                daisy_log::SEGMENT_BYTES_MIN,
                daisy_log::SEGMENT_BYTES_MAX
            ));
        }
        if self.proto_max_multibulk_len == 0 {
            return Err("proto_max_multibulk_len must be at least 1".into());
        }
        self.validate_replication()
    }

    fn validate_replication(&self) -> Result<(), String> {
        daisy_replication::check_node_id(&self.node_id)?;
        self.safeness_level()?;
        if !matches!(self.standby.as_str(), "hot" | "warm") {
            return Err(format!(
                "standby must be hot or warm, not '{}'",
                self.standby
            ));
        }
        if !(10..=600_000).contains(&self.sync_timeout_ms) {
            return Err("sync_timeout_ms must be between 10 and 600000".into());
        }
        if !(1024 * 1024..=1 << 40).contains(&self.repl_backlog_bytes) {
            return Err("repl_backlog_bytes must be between 1mb and 1tb".into());
        }
        self.validate_coordination()?;
        let members = self.member_list()?;
        self.dial_list()?;
        if members.is_empty() {
            return Ok(());
        }
        if !self.persistence {
            return Err("replication (members) needs persistence = true".into());
        }
        let Some(me) = members.iter().find(|m| m.id == self.node_id) else {
            return Err(format!(
                "node_id '{}' is not one of the members",
                self.node_id
            ));
        };
        if self.peer_address()?.is_none() {
            return Err(format!(
                "a member needs a peer_addr (the members list gives {} for this node)",
                me.peer_addr
            ));
        }
        if me.kind == daisy_replication::MemberKind::Arbiter && !self.arbiter {
            return Err(format!(
                "member '{}' is an arbiter: start it with --arbiter",
                self.node_id
            ));
        }
        if self.arbiter && me.kind != daisy_replication::MemberKind::Arbiter {
            return Err(format!(
                "--arbiter, but the members list gives '{}' the kind {}",
                self.node_id,
                me.kind.name()
            ));
        }
        match members.iter().find(|m| m.id == self.primary) {
            Some(primary) if primary.kind == daisy_replication::MemberKind::Sync => Ok(()),
            Some(_) => Err(format!("primary '{}' is an async member", self.primary)),
            None => Err(format!(
                "primary must name one of the members, not '{}'",
                self.primary
            )),
        }
    }

    fn validate_coordination(&self) -> Result<(), String> {
        if !matches!(
            self.model.as_str(),
            "single" | "active-standby" | "active-spare"
        ) {
            return Err(format!(
                "model must be single, active-standby or active-spare, not '{}'",
                self.model
            ));
        }
        if !(5..=10_000).contains(&self.heartbeat_ms) {
            return Err("heartbeat_ms must be between 5 and 10000".into());
        }
        if self.lease_ms < 3 * self.heartbeat_ms || self.lease_ms > 600_000 {
            return Err("lease_ms must be at least 3 heartbeats and at most 600000".into());
        }
        if self.failover_after_ms < 3 * self.heartbeat_ms || self.failover_after_ms > 600_000 {
            return Err(
                "failover_after_ms must be at least 3 heartbeats and at most 600000".into(),
            );
        }
        if !matches!(
            self.break_for_tests.as_str(),
            "" | "ack-early" | "promote-outside-in-sync"
        ) {
            return Err(format!(
                "break_for_tests must be empty, ack-early or promote-outside-in-sync, not '{}'",
                self.break_for_tests
            ));
        }
        if !(10..=3_600_000).contains(&self.spare_after_ms)
            || !(10..=3_600_000).contains(&self.switch_back_after_ms)
        {
            return Err(
                "spare_after_ms and switch_back_after_ms must be between 10 and 3600000".into(),
            );
        }
        Ok(())
    }

    pub fn safeness_level(&self) -> Result<daisy_replication::Safeness, String> {
        self.safeness.parse()
    }

    pub fn member_list(&self) -> Result<Vec<daisy_replication::Member>, String> {
        daisy_replication::parse_members(&self.members)
    }

    /// The members as this node dials them: `peer_routes` applied.
    pub fn dial_list(&self) -> Result<Vec<daisy_replication::Member>, String> {
        let mut members = self.member_list()?;
        for route in self
            .peer_routes
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let (id, addr) = route
                .split_once('=')
                .ok_or_else(|| format!("peer route '{route}' must look like ID=HOST:PORT"))?;
            let addr = addr.parse().map_err(|_| {
                format!("peer route '{route}': '{addr}' is not a HOST:PORT address")
            })?;
            let member = members
                .iter_mut()
                .find(|m| m.id == id)
                .ok_or_else(|| format!("peer route '{route}' names no member"))?;
            member.peer_addr = addr;
        }
        Ok(members)
    }

    pub fn peer_address(&self) -> Result<Option<SocketAddr>, String> {
        if self.peer_addr.is_empty() {
            return Ok(None);
        }
        self.peer_addr
            .parse()
            .map(Some)
            .map_err(|_| format!("peer_addr '{}' is not a HOST:PORT address", self.peer_addr))
    }

    pub fn fsync_policy(&self) -> Result<daisy_log::FsyncPolicy, String> {
        match self.fsync.to_ascii_lowercase().as_str() {
            "always" => Ok(daisy_log::FsyncPolicy::Always),
            "everysec" => Ok(daisy_log::FsyncPolicy::EverySec),
            "no" => Ok(daisy_log::FsyncPolicy::No),
            other => Err(format!(
                "fsync must be always, everysec or no, not '{other}'"
            )),
        }
    }

    pub fn limits(&self) -> daisy_protocol::Limits {
        daisy_protocol::Limits {
            max_bulk_bytes: self.proto_max_bulk_len,
            max_args: self.proto_max_multibulk_len,
            max_inline_bytes: self.proto_max_inline_len,
            max_query_buffer_bytes: self.client_query_buffer_limit,
        }
    }

    /// The settings `CONFIG GET` reports: Redis name and current value.
    pub fn redis_view(&self) -> Vec<(&'static str, String)> {
        vec![
            ("bind", self.client_addr.ip().to_string()),
            ("port", self.client_addr.port().to_string()),
            ("dir", self.data_dir.display().to_string()),
            ("requirepass", self.requirepass.clone()),
            ("maxmemory", self.maxmemory.to_string()),
            ("maxmemory-policy", "noeviction".into()),
            ("maxclients", self.maxclients.to_string()),
            ("timeout", self.timeout.to_string()),
            ("proto-max-bulk-len", self.proto_max_bulk_len.to_string()),
            (
                "client-query-buffer-limit",
                self.client_query_buffer_limit.to_string(),
            ),
            (
                "client-output-buffer-limit",
                format!(
                    "normal {} 0 0 pubsub {} 0 0",
                    self.client_output_buffer_limit_normal, self.client_output_buffer_limit_pubsub
                ),
            ),
            ("hz", self.hz.to_string()),
            ("databases", "1".into()),
            (
                "save",
                if self.persistence && self.snapshot_interval_secs > 0 {
                    format!("{} 1", self.snapshot_interval_secs)
                } else {
                    String::new()
                },
            ),
            (
                "appendonly",
                if self.persistence { "yes" } else { "no" }.into(),
            ),
            ("appendfsync", self.fsync.clone()),
            ("safeness", self.safeness.clone()),
            ("sync-timeout-ms", self.sync_timeout_ms.to_string()),
            ("node-id", self.node_id.clone()),
            ("standby", self.standby.clone()),
            ("model", self.model.clone()),
            ("heartbeat-ms", self.heartbeat_ms.to_string()),
            ("lease-ms", self.lease_ms.to_string()),
            ("failover-after-ms", self.failover_after_ms.to_string()),
            ("spare-after-ms", self.spare_after_ms.to_string()),
            (
                "switch-back",
                if self.switch_back { "yes" } else { "no" }.into(),
            ),
            (
                "switch-back-after-ms",
                self.switch_back_after_ms.to_string(),
            ),
        ]
    }

    /// Applies `CONFIG SET name value` for the settings that can change at
    /// run time. Returns Redis's error text on failure.
    pub fn set_by_redis_name(&mut self, name: &str, value: &str) -> Result<(), String> {
        let mut next = self.clone();
        let number = |value: &str| -> Result<u64, String> {
            parse_memory(value).ok_or_else(|| "argument couldn't be parsed into an integer".into())
        };
        match name {
            "requirepass" => next.requirepass = value.to_string(),
            "maxmemory" => next.maxmemory = number(value)?,
            "maxclients" => next.maxclients = number(value)? as usize,
            "timeout" => next.timeout = number(value)?,
            "proto-max-bulk-len" => next.proto_max_bulk_len = number(value)? as usize,
            "client-query-buffer-limit" => next.client_query_buffer_limit = number(value)? as usize,
            "hz" => next.hz = number(value)?.clamp(1, 500) as u32,
            "maxmemory-policy" if value.eq_ignore_ascii_case("noeviction") => {}
            "maxmemory-policy" => {
                return Err("argument(s) must be one of the following: noeviction".into())
            }
            "appendfsync" => {
                next.fsync = value.to_ascii_lowercase();
                next.fsync_policy()?;
                if next.fsync != self.fsync {
                    return Err("changing appendfsync needs a restart".into());
                }
            }
            "safeness" => next.safeness = value.to_ascii_lowercase(),
            "sync-timeout-ms" => next.sync_timeout_ms = number(value)?,
            _ => return Err("Unsupported CONFIG parameter".into()),
        }
        next.validate()?;
        *self = next;
        Ok(())
    }
}

/// Parses a byte count with Redis's units (`100`, `1kb`, `5mb`, `1gb`,
/// `1k` = 1000, `1kb` = 1024).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1_024,
        "m" => 1_000_000,
        "mb" => 1_024 * 1_024,
        "g" => 1_000_000_000,
        "gb" => 1_024 * 1_024 * 1_024,
        _ => return None,
    };
    value.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("1x"), None);
    }

    #[test]
    fn toml_round_trip_and_typos_rejected() {
        let config: Config = toml::from_str("maxmemory = 100\nrequirepass = \"x\"").unwrap();
        assert_eq!(config.maxmemory, 100);
        assert!(toml::from_str::<Config>("maxmemroy = 1").is_err());
    }

    #[test]
    fn config_set_validates() {
        let mut config = Config::default();
        assert!(config.set_by_redis_name("maxmemory", "1mb").is_ok());
        assert_eq!(config.maxmemory, 1 << 20);
        assert!(config.set_by_redis_name("hz", "x").is_err());
        assert!(config.set_by_redis_name("nope", "1").is_err());
    }
}
