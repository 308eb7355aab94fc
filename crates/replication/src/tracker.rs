//! The primary's view of its secondaries: what each acknowledged, and from
//! that the commit watermark of each safeness level.
//!
//! Invariants: a secondary's `received_lsn` and `applied_lsn` only grow
//! while it stays connected; `applied_lsn <= received_lsn` as reported;
//! the watermark of a level never passes what every in-sync secondary
//! acknowledged at that level, nor the local durable LSN.

use crate::members::{Member, MemberKind};
use crate::safeness::Safeness;

/// One secondary, as its primary sees it.
#[derive(Clone, Debug)]
pub struct Progress {
    pub id: String,
    pub kind: MemberKind,
    pub connected: bool,
    /// A snapshot is being sent to it: it acknowledges nothing new yet.
    pub syncing: bool,
    /// Highest LSN it holds durably.
    pub received_lsn: u64,
    /// Highest LSN it applied (0 for a warm standby).
    pub applied_lsn: u64,
    /// When it last acknowledged anything (Unix ms).
    pub last_ack_ms: u64,
    /// Its client address, as it reported it.
    pub client_addr: String,
    /// Whether it applies what it receives (a hot standby).
    pub applies: bool,
    /// The primary's number for its current connection.
    pub session: u64,
    /// In the in-sync set: every write at 2-safe and above waits for it.
    /// From the member kind (`sync`) without a coordinator; from the
    /// cluster map with one.
    pub in_sync: bool,
}

pub struct Tracker {
    secondaries: Vec<Progress>,
    sync_timeout_ms: u64,
}

impl Tracker {
    /// Tracks every member but `self_id`.
    pub fn new(members: &[Member], self_id: &str, sync_timeout_ms: u64) -> Tracker {
        let secondaries = members
            .iter()
            .filter(|m| m.id != self_id && m.kind.holds_data())
            .map(|m| Progress {
                id: m.id.clone(),
                kind: m.kind,
                connected: false,
                syncing: false,
                received_lsn: 0,
                applied_lsn: 0,
                last_ack_ms: 0,
                client_addr: String::new(),
                applies: true,
                session: 0,
                in_sync: m.kind == MemberKind::Sync,
            })
            .collect();
        Tracker {
            secondaries,
            sync_timeout_ms,
        }
    }

    pub fn secondaries(&self) -> &[Progress] {
        &self.secondaries
    }

    /// Counts every secondary as heard at `now_ms`: a new primary gives
    /// each one the full delay before calling it silent.
    pub fn heard_all_at(&mut self, now_ms: u64) {
        for progress in &mut self.secondaries {
            progress.last_ack_ms = progress.last_ack_ms.max(now_ms);
        }
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Progress> {
        self.secondaries.iter_mut().find(|p| p.id == id)
    }

    pub fn set_sync_timeout_ms(&mut self, ms: u64) {
        self.sync_timeout_ms = ms;
    }

    pub fn sync_timeout_ms(&self) -> u64 {
        self.sync_timeout_ms
    }

    /// Records an acknowledgement. Values never go back while connected.
    pub fn acknowledge(&mut self, id: &str, received_lsn: u64, applied_lsn: u64, now_ms: u64) {
        if let Some(p) = self.get_mut(id) {
            p.received_lsn = p.received_lsn.max(received_lsn);
            p.applied_lsn = p.applied_lsn.max(applied_lsn.min(received_lsn));
            p.last_ack_ms = now_ms;
        }
    }

    fn in_sync(&self) -> impl Iterator<Item = &Progress> {
        self.secondaries.iter().filter(|p| p.in_sync)
    }

    /// The highest LSN a reply at `level` may depend on: local durability,
    /// and for 2-safe and above what every in-sync secondary acknowledged.
    pub fn commit_lsn(&self, level: Safeness, durable_lsn: u64) -> u64 {
        if !level.needs_secondaries() {
            return durable_lsn;
        }
        self.in_sync()
            .map(|p| {
                if level.needs_applied() {
                    p.applied_lsn
                } else {
                    p.received_lsn
                }
            })
            .fold(durable_lsn, u64::min)
    }

    /// Whether a write at `level` can be acknowledged now: every in-sync
    /// secondary is connected, past its snapshot, and acknowledged within
    /// the sync timeout. The error says which one is missing.
    pub fn ready(&self, level: Safeness, now_ms: u64) -> Result<(), String> {
        if !level.needs_secondaries() {
            return Ok(());
        }
        for p in self.in_sync() {
            if !p.connected {
                return Err(format!("in-sync secondary {} is not connected", p.id));
            }
            if p.syncing {
                return Err(format!(
                    "in-sync secondary {} is still loading a snapshot",
                    p.id
                ));
            }
            if level.needs_applied() && !p.applies {
                return Err(format!(
                    "in-sync secondary {} is a warm standby and applies nothing",
                    p.id
                ));
            }
            let silent_ms = now_ms.saturating_sub(p.last_ack_ms);
            if silent_ms > self.sync_timeout_ms {
                return Err(format!(
                    "in-sync secondary {} has been silent for {silent_ms} ms",
                    p.id
                ));
            }
        }
        Ok(())
    }

    /// How many secondaries of any kind hold `lsn` durably (WAIT).
    pub fn received_by(&self, lsn: u64) -> usize {
        self.secondaries
            .iter()
            .filter(|p| p.connected && p.received_lsn >= lsn)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::members::parse_members;

    fn tracker() -> Tracker {
        let members =
            parse_members("a=127.0.0.1:1,b=127.0.0.1:2,c=127.0.0.1:3,d=127.0.0.1:4/dr").unwrap();
        let mut t = Tracker::new(&members, "a", 1000);
        for id in ["b", "c", "d"] {
            t.get_mut(id).unwrap().connected = true;
        }
        t
    }

    #[test]
    fn watermarks_take_the_slowest_in_sync_secondary() {
        let mut t = tracker();
        t.acknowledge("b", 10, 8, 100);
        t.acknowledge("c", 7, 7, 100);
        t.acknowledge("d", 1, 1, 100);
        assert_eq!(t.commit_lsn(Safeness::OneSafe, 12), 12);
        assert_eq!(t.commit_lsn(Safeness::TwoSafe, 12), 7);
        t.acknowledge("c", 12, 9, 100);
        assert_eq!(t.commit_lsn(Safeness::TwoSafe, 12), 10);
        assert_eq!(t.commit_lsn(Safeness::TwoSafeCommitted, 12), 8);
        assert_eq!(t.commit_lsn(Safeness::VerySafe, 12), 8);
        // Never past the local durable LSN.
        assert_eq!(t.commit_lsn(Safeness::TwoSafe, 5), 5);
        // The dr member holds nothing up, but WAIT counts it.
        assert_eq!(t.received_by(1), 3);
        assert_eq!(t.received_by(11), 1);
    }

    #[test]
    fn acknowledgements_never_go_back() {
        let mut t = tracker();
        t.acknowledge("b", 10, 10, 1);
        t.acknowledge("b", 5, 3, 2);
        let b = &t.secondaries()[0];
        assert_eq!((b.received_lsn, b.applied_lsn, b.last_ack_ms), (10, 10, 2));
    }

    #[test]
    fn ready_needs_every_in_sync_secondary() {
        let mut t = tracker();
        for id in ["b", "c", "d"] {
            t.acknowledge(id, 0, 0, 1000);
        }
        assert!(t.ready(Safeness::TwoSafe, 1500).is_ok());
        assert!(t
            .ready(Safeness::TwoSafe, 2500)
            .unwrap_err()
            .contains("silent"));
        assert!(t.ready(Safeness::OneSafe, 99_999).is_ok());
        t.acknowledge("b", 0, 0, 2400);
        t.acknowledge("c", 0, 0, 2400);
        t.get_mut("d").unwrap().connected = false;
        assert!(t.ready(Safeness::VerySafe, 2500).is_ok(), "dr is async");
        t.get_mut("c").unwrap().syncing = true;
        assert!(t
            .ready(Safeness::TwoSafe, 2500)
            .unwrap_err()
            .contains("snapshot"));
        t.get_mut("c").unwrap().syncing = false;
        t.get_mut("b").unwrap().connected = false;
        assert!(t
            .ready(Safeness::TwoSafe, 2500)
            .unwrap_err()
            .contains("not connected"));
    }

    #[test]
    fn a_single_node_commits_at_its_durable_lsn() {
        let members = parse_members("a=127.0.0.1:1").unwrap();
        let t = Tracker::new(&members, "a", 1000);
        assert_eq!(t.commit_lsn(Safeness::VerySafe, 42), 42);
        assert!(t.ready(Safeness::VerySafe, 0).is_ok());
    }
}
