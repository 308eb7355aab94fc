//! `daisy status --addr HOST:PORT`: the replication state of a node and of
//! every member it knows, as a table.
//!
//! It asks the node for `INFO replication`; from a secondary it goes on to
//! the primary, and from the primary to each secondary it lists, so one
//! address shows the whole fragment.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::admin;

/// The `field:value` lines of an INFO section.
type Fields = BTreeMap<String, String>;

fn parse_info(text: &str) -> Fields {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

/// `a=1,b=2` as a map.
fn parse_pairs(text: &str) -> Fields {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn info(addr: &str, password: Option<&str>) -> Result<Fields, String> {
    admin::call(addr, password, &["INFO", "replication"]).map(|text| parse_info(&text))
}

/// One row of the table.
struct Row {
    node: String,
    addr: String,
    role: String,
    epoch: String,
    last_lsn: String,
    durable_lsn: String,
    applied_lsn: String,
    lag: String,
    link: String,
}

fn field(fields: &Fields, name: &str) -> String {
    fields.get(name).cloned().unwrap_or_else(|| "-".into())
}

fn row_of(addr: &str, fields: &Fields) -> Row {
    let primary = fields.get("role").is_some_and(|r| r == "master");
    Row {
        node: field(fields, "node_id"),
        addr: addr.to_string(),
        role: if primary { "primary" } else { "secondary" }.to_string(),
        epoch: field(fields, "epoch"),
        last_lsn: field(fields, "last_lsn"),
        durable_lsn: field(fields, "durable_lsn"),
        applied_lsn: if primary {
            field(fields, "last_lsn")
        } else {
            field(fields, "applied_lsn")
        },
        lag: "-".into(),
        link: if primary {
            let connected = format!("{} connected", field(fields, "connected_slaves"));
            match fields.get("lease") {
                Some(lease) if lease == "held" => format!(
                    "{connected}, lease held ({} ms left)",
                    field(fields, "lease_ms_left")
                ),
                Some(_) => format!("{connected}, NO LEASE (not serving)"),
                None => connected,
            }
        } else {
            let mut link = field(fields, "master_link_status");
            if fields.get("sync_in_progress").is_some_and(|s| s == "1") {
                link.push_str(" (loading snapshot)");
            }
            link
        },
    }
}

/// The status text for the fragment the node at `addr` belongs to.
pub fn render(addr: &str, password: Option<&str>) -> Result<String, String> {
    let first = info(addr, password)?;
    let (primary_addr, primary) = if first.get("role").is_some_and(|r| r == "master") {
        (addr.to_string(), Some(first.clone()))
    } else {
        let host = field(&first, "master_host");
        let port = field(&first, "master_port");
        let primary_addr = format!("{host}:{port}");
        let primary = if port == "-" || port == "0" {
            None
        } else {
            info(&primary_addr, password).ok()
        };
        (primary_addr, primary)
    };
    let mut rows = Vec::new();
    let mut seen = Vec::new();
    if let Some(primary) = &primary {
        rows.push(row_of(&primary_addr, primary));
        seen.push(primary_addr.clone());
        for index in 0.. {
            let Some(line) = primary.get(&format!("slave{index}")) else {
                break;
            };
            let entry = parse_pairs(line);
            let member_addr = format!("{}:{}", field(&entry, "ip"), field(&entry, "port"));
            let state = field(&entry, "state");
            let mut row = match info(&member_addr, password) {
                Ok(fields) if state != "offline" => row_of(&member_addr, &fields),
                _ => Row {
                    node: field(&entry, "id"),
                    addr: if state == "offline" {
                        "-".into()
                    } else {
                        member_addr.clone()
                    },
                    role: "secondary".into(),
                    epoch: "-".into(),
                    last_lsn: "-".into(),
                    durable_lsn: "-".into(),
                    applied_lsn: "-".into(),
                    lag: "-".into(),
                    link: "down".into(),
                },
            };
            row.role = format!("{} ({})", row.role, field(&entry, "type"));
            row.lag = format!(
                "{} rec / {} B",
                field(&entry, "lag_records"),
                field(&entry, "lag_bytes")
            );
            seen.push(member_addr);
            rows.push(row);
        }
    }
    if !seen.contains(&addr.to_string()) {
        rows.push(row_of(addr, &first));
    }
    // Members the primary does not list (the arbiter, spares, dead nodes).
    let described = primary.as_ref().unwrap_or(&first);
    for member in described
        .get("map_members")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter_map(|m| m.split_once('='))
    {
        let (name, role) = member;
        if rows.iter().any(|r| r.node == name) {
            continue;
        }
        rows.push(Row {
            node: name.to_string(),
            addr: "-".into(),
            role: role.to_string(),
            epoch: "-".into(),
            last_lsn: "-".into(),
            durable_lsn: "-".into(),
            applied_lsn: "-".into(),
            lag: "-".into(),
            link: if role == "arbiter" { "votes only" } else { "-" }.into(),
        });
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "fragment 0: safeness {}, primary {}",
        field(described, "safeness"),
        if primary.is_some() {
            primary_addr.as_str()
        } else {
            "unknown (not reachable)"
        },
    );
    if described.get("coordinator").is_some_and(|c| c == "on") {
        let _ = writeln!(
            out,
            "coordinator: leader {}, model {}, map version {}, epoch {}, in-sync [{}]",
            field(described, "coordinator_leader"),
            field(described, "model"),
            field(described, "map_version"),
            field(described, "map_epoch"),
            field(described, "in_sync"),
        );
    }
    let events: Vec<&String> = (0..)
        .map_while(|i| described.get(&format!("event{i}")))
        .collect();
    if !events.is_empty() {
        let _ = writeln!(out, "recent events (newest first):");
        for event in events {
            let _ = writeln!(out, "  {event}");
        }
    }
    let header = Row {
        node: "NODE".into(),
        addr: "CLIENT ADDR".into(),
        role: "ROLE".into(),
        epoch: "EPOCH".into(),
        last_lsn: "LAST LSN".into(),
        durable_lsn: "DURABLE".into(),
        applied_lsn: "APPLIED".into(),
        lag: "LAG".into(),
        link: "LINK".into(),
    };
    let all: Vec<&Row> = std::iter::once(&header).chain(rows.iter()).collect();
    let width = |f: fn(&Row) -> &str| all.iter().map(|r| f(r).len()).max().unwrap_or(0);
    let widths = [
        width(|r| &r.node),
        width(|r| &r.addr),
        width(|r| &r.role),
        width(|r| &r.epoch),
        width(|r| &r.last_lsn),
        width(|r| &r.durable_lsn),
        width(|r| &r.applied_lsn),
        width(|r| &r.lag),
    ];
    for row in all {
        let cells = [
            &row.node,
            &row.addr,
            &row.role,
            &row.epoch,
            &row.last_lsn,
            &row.durable_lsn,
            &row.applied_lsn,
            &row.lag,
        ];
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(out, "{cell:<width$}  ");
        }
        let _ = writeln!(out, "{}", row.link);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_and_pairs() {
        let fields =
            parse_info("# Replication\r\nrole:master\r\nslave0:id=b,ip=127.0.0.1,port=7002\r\n");
        assert_eq!(fields["role"], "master");
        let entry = parse_pairs(&fields["slave0"]);
        assert_eq!(entry["id"], "b");
        assert_eq!(entry["port"], "7002");
    }
}
