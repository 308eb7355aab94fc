//! The static membership of a fragment: every node with its peer address
//! and what kind of member it is.

use std::net::SocketAddr;

/// Most members a fragment may list.
pub const MEMBERS_MAX: usize = 64;
/// Longest node id, in bytes.
pub const NODE_ID_BYTES_MAX: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberKind {
    /// A replica that may be primary, and as a secondary is in the in-sync
    /// set: acknowledgements at 2-safe and above wait for it.
    Sync,
    /// Disaster recovery: receives the log asynchronously, never holds up an
    /// acknowledgement, promoted only by an operator.
    Dr,
    /// A read-only copy for reports, fed asynchronously.
    Reporting,
    /// A data node that waits, holding nothing, until the coordinator
    /// gives it a replica (the `active-spare` model).
    Spare,
    /// Only votes in the coordinator; holds no data.
    Arbiter,
}

impl MemberKind {
    pub fn name(self) -> &'static str {
        match self {
            MemberKind::Sync => "sync",
            MemberKind::Dr => "dr",
            MemberKind::Reporting => "reporting",
            MemberKind::Spare => "spare",
            MemberKind::Arbiter => "arbiter",
        }
    }

    pub fn is_async(self) -> bool {
        matches!(self, MemberKind::Dr | MemberKind::Reporting)
    }

    /// Whether the member votes in the coordinator: every member but the
    /// asynchronous ones, which may be far away.
    pub fn votes(self) -> bool {
        !self.is_async()
    }

    /// Whether the member holds (or may hold) a replica.
    pub fn holds_data(self) -> bool {
        self != MemberKind::Arbiter
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub peer_addr: SocketAddr,
    pub kind: MemberKind,
}

/// Parses `ID=HOST:PORT[/KIND],...` (KIND: `sync`, `dr`, `reporting`).
/// An empty text is no members (a standalone node).
pub fn parse_members(text: &str) -> Result<Vec<Member>, String> {
    let mut members: Vec<Member> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, rest) = item
            .split_once('=')
            .ok_or_else(|| format!("member '{item}' must look like ID=HOST:PORT[/KIND]"))?;
        check_node_id(id)?;
        let (addr, kind) = match rest.split_once('/') {
            Some((addr, kind)) => (addr, kind),
            None => (rest, "sync"),
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "sync" => MemberKind::Sync,
            "dr" => MemberKind::Dr,
            "reporting" => MemberKind::Reporting,
            "spare" => MemberKind::Spare,
            "arbiter" => MemberKind::Arbiter,
            other => {
                return Err(format!(
                "member '{id}': kind must be sync, dr, reporting, spare or arbiter, not '{other}'"
            ))
            }
        };
        let peer_addr = addr
            .parse()
            .map_err(|_| format!("member '{id}': '{addr}' is not a HOST:PORT address"))?;
        if members.iter().any(|m| m.id == id) {
            return Err(format!("member '{id}' is listed twice"));
        }
        if members.len() == MEMBERS_MAX {
            return Err(format!("at most {MEMBERS_MAX} members"));
        }
        members.push(Member {
            id: id.to_string(),
            peer_addr,
            kind,
        });
    }
    Ok(members)
}

/// A number naming the membership, the same on every node configured with
/// the same members (in any order): a peer with another one belongs to
/// another cluster, or is misconfigured, and is refused.
pub fn fingerprint(members: &[Member]) -> u64 {
    let mut canonical: Vec<String> = members
        .iter()
        .map(|m| format!("{}={}/{}", m.id, m.peer_addr, m.kind.name()))
        .collect();
    canonical.sort();
    let text = canonical.join(",");
    let low = crc32c::crc32c(text.as_bytes());
    let high = crc32c::crc32c_append(low ^ 0x5bd1_e995, text.as_bytes());
    (u64::from(high) << 32) | u64::from(low)
}

/// A node id: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn check_node_id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= NODE_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "node id '{id}' must be 1 to {NODE_ID_BYTES_MAX} letters, digits, '-', '_' or '.'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_defaults_to_sync() {
        let members = parse_members(
            "a=127.0.0.1:7101, b=127.0.0.1:7102/sync,c=127.0.0.1:7103/DR,d=127.0.0.1:1/reporting",
        )
        .unwrap();
        let kinds: Vec<_> = members.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [
                MemberKind::Sync,
                MemberKind::Sync,
                MemberKind::Dr,
                MemberKind::Reporting
            ]
        );
        assert_eq!(members[1].peer_addr.port(), 7102);
        assert!(parse_members("").unwrap().is_empty());
    }

    #[test]
    fn fingerprint_ignores_order_but_not_content() {
        let a = parse_members("a=127.0.0.1:1,b=127.0.0.1:2/dr").unwrap();
        let b = parse_members("b=127.0.0.1:2/dr,a=127.0.0.1:1").unwrap();
        let c = parse_members("a=127.0.0.1:1,b=127.0.0.1:2").unwrap();
        let d = parse_members("a=127.0.0.1:1,b=127.0.0.1:3/dr").unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_ne!(fingerprint(&a), fingerprint(&d));
    }

    #[test]
    fn refuses_bad_lists() {
        for bad in [
            "a",
            "a=nowhere",
            "a=127.0.0.1:1/primary",
            "a=127.0.0.1:1,a=127.0.0.1:2",
            "a b=127.0.0.1:1",
            "=127.0.0.1:1",
        ] {
            assert!(parse_members(bad).is_err(), "{bad}");
        }
    }
}
