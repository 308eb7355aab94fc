//! The INFO command's text.

use std::fmt::Write;

use bytes::Bytes;

use crate::memory::{human_bytes, resident_bytes, used_bytes};
use crate::node::{now_ms, Node};
use crate::session::REDIS_COMPATIBLE_VERSION;

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
];

/// Renders the requested sections (`default`, `all`, `everything` or names).
pub fn render(node: &Node, args: &[Bytes]) -> String {
    let mut sections: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if sections.is_empty()
        || sections
            .iter()
            .any(|s| matches!(s.as_str(), "default" | "all" | "everything"))
    {
        sections = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
    }
    let mut text = String::new();
    for section in DEFAULT_SECTIONS {
        if !sections.iter().any(|s| s == section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        match *section {
            "server" => server(node, &mut text),
            "clients" => clients(node, &mut text),
            "memory" => memory(node, &mut text),
            "persistence" => persistence(node, &mut text),
            "stats" => stats(node, &mut text),
            "replication" => crate::replication::report::info(node, &mut text),
            "cpu" => cpu(&mut text),
            "keyspace" => keyspace(node, &mut text),
            _ => {}
        }
    }
    text
}

fn server(node: &Node, text: &mut String) {
    let uptime_s = now_ms().saturating_sub(node.started_ms) / 1000;
    let _ = write!(
        text,
        "# Server\r\nredis_version:{REDIS_COMPATIBLE_VERSION}\r\ndaisy_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime_s}\r\nuptime_in_days:{}\r\nhz:{}\r\nexecutable:{}\r\nconfig_file:\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        node.config.client_addr.port(),
        uptime_s / 86_400,
        node.config.hz,
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
}

fn clients(node: &Node, text: &mut String) {
    let pubsub_clients = node
        .clients
        .values()
        .filter(|c| c.state.borrow().subscription_count() > 0)
        .count();
    let _ = write!(
        text,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\npubsub_clients:{pubsub_clients}\r\n",
        node.clients.len(),
        node.config.maxclients,
        node.blocked_client_count(),
    );
}

fn memory(node: &Node, text: &mut String) {
    let used = used_bytes();
    let rss = resident_bytes();
    let _ = write!(
        text,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:noeviction\r\nmem_allocator:mimalloc\r\n",
        human_bytes(used),
        human_bytes(rss),
        node.config.maxmemory,
        human_bytes(node.config.maxmemory as usize),
    );
}

fn persistence(node: &Node, text: &mut String) {
    let snapshots = &node.snapshots;
    let saved_ms = if snapshots.saved_ms > 0 {
        snapshots.saved_ms
    } else {
        node.started_ms
    };
    let _ = write!(
        text,
        "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\naof_enabled:{}\r\n",
        node.stats.changes.saturating_sub(snapshots.changes_at_snapshot),
        u8::from(snapshots.job.is_some()),
        saved_ms / 1000,
        if snapshots.last_error.is_some() { "err" } else { "ok" },
        u8::from(node.journal.is_some()),
    );
    if let Some(journal) = &node.journal {
        let _ = write!(
            text,
            "fsync:{}\r\nlog_last_lsn:{}\r\nlog_durable_lsn:{}\r\nlog_epoch:{}\r\nlog_status:{}\r\nsnapshot_lsn:{}\r\nsnapshot_last_error:{}\r\n",
            node.config.fsync,
            journal.last_lsn(),
            journal.durable_lsn(),
            journal.epoch(),
            journal.failure().unwrap_or("ok"),
            snapshots.lsn,
            snapshots.last_error.as_deref().unwrap_or(""),
        );
    }
}

fn stats(node: &Node, text: &mut String) {
    let _ = write!(
        text,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\ntotal_changes:{}\r\npubsub_messages_published:{}\r\n",
        node.stats.connections_received,
        node.stats.commands_processed,
        node.stats.connections_rejected,
        node.stats.expired_keys,
        node.pubsub.channel_count(),
        node.pubsub.pattern_count(),
        node.stats.changes,
        node.stats.pubsub_messages,
    );
}

fn cpu(text: &mut String) {
    let (user, system) = cpu_seconds();
    let _ = write!(
        text,
        "# CPU\r\nused_cpu_sys:{system:.6}\r\nused_cpu_user:{user:.6}\r\n"
    );
}

fn keyspace(node: &Node, text: &mut String) {
    text.push_str("# Keyspace\r\n");
    if !node.db.is_empty() {
        let _ = write!(
            text,
            "db0:keys={},expires={},avg_ttl=0\r\n",
            node.db.len(),
            node.db.expires_len()
        );
    }
}

/// User and system CPU seconds of this process, from /proc (0 elsewhere).
fn cpu_seconds() -> (f64, f64) {
    const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let Some(after_name) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return (0.0, 0.0);
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> f64 {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        ticks(11) / CLOCK_TICKS_PER_SECOND,
        ticks(12) / CLOCK_TICKS_PER_SECOND,
    )
}
