//! What INFO replication and ROLE say about replication.

use std::fmt::Write;

use daisy_protocol::Reply;

use crate::node::{now_ms, Node};

/// `host:port` split for Redis-style fields.
fn split_addr(addr: &str) -> (&str, &str) {
    addr.rsplit_once(':').unwrap_or((addr, "0"))
}

/// The `# Replication` section of INFO.
pub fn info(node: &Node, text: &mut String) {
    text.push_str("# Replication\r\n");
    let last_lsn = node.last_lsn();
    let durable = node.journal.as_ref().map_or(0, |j| j.durable_lsn());
    let Some(repl) = &node.repl else {
        let _ = write!(
            text,
            "role:master\r\nconnected_slaves:0\r\nmaster_repl_offset:{last_lsn}\r\nlast_lsn:{last_lsn}\r\ndurable_lsn:{durable}\r\n"
        );
        return;
    };
    let _ = write!(
        text,
        "role:{}\r\nnode_id:{}\r\nepoch:{}\r\nsafeness:{}\r\nlast_lsn:{last_lsn}\r\ndurable_lsn:{durable}\r\ncommit_lsn:{}\r\n",
        if repl.is_primary() { "master" } else { "slave" },
        repl.node_id,
        repl.state.epoch,
        repl.safeness,
        node.commit_lsn(repl.safeness),
    );
    if let Some(lsn) = repl.state.promoted_at_lsn {
        let _ = write!(text, "promoted_at_lsn:{lsn}\r\n");
    }
    if let Some(coordination) = &repl.coordination {
        coordinator_info(repl, coordination, text);
    }
    if repl.is_primary() {
        let secondaries = repl.tracker.secondaries();
        let connected = secondaries.iter().filter(|p| p.connected).count();
        let _ = write!(text, "connected_slaves:{connected}\r\n");
        let now = now_ms();
        let backlog = node.journal.as_ref().map(|j| j.backlog());
        for (index, p) in secondaries.iter().enumerate() {
            let state = match (p.connected, p.syncing) {
                (false, _) => "offline",
                (true, true) => "wait_bgsave",
                (true, false) => "online",
            };
            let (ip, port) = split_addr(&p.client_addr);
            let lag_bytes = backlog.map_or(0, |b| b.bytes_after(p.received_lsn));
            let _ = write!(
                text,
                "slave{index}:id={},ip={ip},port={port},state={state},type={},offset={},received_lsn={},applied_lsn={},lag_records={},lag_bytes={lag_bytes},lag={}\r\n",
                p.id,
                member_type(repl, p),
                p.received_lsn,
                p.received_lsn,
                p.applied_lsn,
                last_lsn.saturating_sub(p.received_lsn),
                if p.last_ack_ms == 0 { -1 } else { (now.saturating_sub(p.last_ack_ms) / 1000) as i64 },
            );
        }
        let _ = write!(text, "master_repl_offset:{last_lsn}\r\n");
    } else {
        let link = &repl.link;
        let (host, port) = split_addr(&link.primary_client_addr);
        let _ = write!(
            text,
            "master_host:{host}\r\nmaster_port:{port}\r\nmaster_node_id:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nsync_in_progress:{}\r\nsync_bytes_received:{}\r\nsync_bytes_total:{}\r\nfull_syncs:{}\r\nslave_repl_offset:{last_lsn}\r\nreceived_lsn:{durable}\r\napplied_lsn:{}\r\nslave_read_only:1\r\nstandby:{}\r\nmember_type:{}\r\nconnected_slaves:0\r\nmaster_repl_offset:{last_lsn}\r\n",
            repl.state.primary_id,
            if link.up { "up" } else { "down" },
            if link.last_contact_ms == 0 { -1 } else { (now_ms().saturating_sub(link.last_contact_ms) / 1000) as i64 },
            u8::from(link.syncing),
            u8::from(link.syncing),
            link.sync_bytes_received,
            link.sync_bytes_total,
            link.full_syncs,
            link.applied_lsn,
            if repl.warm { "warm" } else { "hot" },
            repl.coordination.as_ref().map_or(repl.my_kind().name(), |c| role_name(c.my_role())),
        );
    }
}

/// How many of the map's newest events INFO shows.
const EVENTS_SHOWN: usize = 5;

/// The coordinator's view: leader, map, in-sync set, lease.
fn coordinator_info(
    repl: &super::Replication,
    coordination: &super::coordination::Coordination,
    text: &mut String,
) {
    let map = &coordination.map;
    let name = |id| map.name_of(id).unwrap_or("?").to_string();
    let in_sync: Vec<String> = map.fragment.in_sync.iter().map(|&id| name(id)).collect();
    let _ = write!(
        text,
        "coordinator:on\r\ncoordinator_leader:{}\r\nmap_version:{}\r\nmap_epoch:{}\r\nmap_primary:{}\r\nin_sync:{}\r\nmodel:{}\r\n",
        coordination.agent.leader().map_or("-".to_string(), name),
        map.version,
        map.fragment.epoch,
        map.fragment.primary.map_or("-".to_string(), name),
        in_sync.join(","),
        map.fragment.model,
    );
    let members: Vec<String> = map
        .nodes
        .values()
        .map(|info| {
            let role = if map.fragment.primary == Some(info.id) {
                "primary"
            } else if info.kind == daisy_coordinator::NodeKind::Arbiter {
                "arbiter"
            } else {
                role_name(map.fragment.role_of(info.id))
            };
            format!("{}={role}", info.name)
        })
        .collect();
    let _ = write!(text, "map_members:{}\r\n", members.join(","));
    let range = |l: &daisy_coordinator::LsnRange| format!("{}-{}", l.first_lsn, l.last_lsn);
    for (index, event) in map.events.iter().rev().take(EVENTS_SHOWN).enumerate() {
        let _ = match &event.kind {
            daisy_coordinator::EventKind::Promotion {
                from,
                to,
                cause,
                lost,
            } => write!(
                text,
                "event{index}:seq={},epoch={},promoted={},from={},cause={cause:?},lost={}\r\n",
                event.seq,
                event.epoch,
                name(*to),
                from.map_or("-".to_string(), name),
                lost.as_ref().map_or("none".to_string(), range),
            ),
            daisy_coordinator::EventKind::SetAside {
                node,
                against,
                records,
            } => write!(
                text,
                "event{index}:seq={},epoch={},set_aside_by={},records={},against_epoch={against}\r\n",
                event.seq,
                event.epoch,
                name(*node),
                range(records),
            ),
        };
    }
    if repl.is_primary() {
        let left = coordination.agent.lease().remaining_ms(repl.state.epoch);
        let _ = write!(
            text,
            "lease:{}\r\nlease_ms_left:{left}\r\n",
            if left > 0 { "held" } else { "none" }
        );
    }
}

fn role_name(role: daisy_coordinator::Role) -> &'static str {
    match role {
        daisy_coordinator::Role::InSync => "in-sync",
        daisy_coordinator::Role::Async(daisy_coordinator::AsyncRole::Dr) => "dr",
        daisy_coordinator::Role::Async(daisy_coordinator::AsyncRole::Reporting) => "reporting",
        daisy_coordinator::Role::Spare => "spare",
        daisy_coordinator::Role::None => "catching-up",
    }
}

/// A secondary's type: its role in the map, or its member kind.
fn member_type(repl: &super::Replication, p: &daisy_replication::Progress) -> &'static str {
    match &repl.coordination {
        Some(coordination) => match coordination.map.id_of(&p.id) {
            Some(id) => role_name(coordination.map.fragment.role_of(id)),
            None => p.kind.name(),
        },
        None => p.kind.name(),
    }
}

/// ROLE: `master` with its secondaries, or `slave` with its primary.
pub fn role(node: &Node, reply: &mut Reply) {
    let last_lsn = node.last_lsn();
    let Some(repl) = node.repl.as_ref() else {
        reply.array(3);
        reply.bulk(b"master");
        reply.int(last_lsn as i64);
        reply.array(0);
        return;
    };
    if repl.is_primary() {
        let connected: Vec<_> = repl
            .tracker
            .secondaries()
            .iter()
            .filter(|p| p.connected)
            .collect();
        reply.array(3);
        reply.bulk(b"master");
        reply.int(last_lsn as i64);
        reply.array(connected.len());
        for p in connected {
            let (ip, port) = split_addr(&p.client_addr);
            reply.array(3);
            reply.bulk(ip.as_bytes());
            reply.bulk(port.as_bytes());
            reply.bulk(p.received_lsn.to_string().as_bytes());
        }
    } else {
        let link = &repl.link;
        let (host, port) = split_addr(&link.primary_client_addr);
        let state = match (link.up, link.syncing) {
            (_, true) => "sync",
            (true, false) => "connected",
            (false, false) => "connecting",
        };
        reply.array(5);
        reply.bulk(b"slave");
        reply.bulk(host.as_bytes());
        reply.int(port.parse().unwrap_or(0));
        reply.bulk(state.as_bytes());
        reply.int(link.applied_lsn.max(if repl.warm { last_lsn } else { 0 }) as i64);
    }
}
