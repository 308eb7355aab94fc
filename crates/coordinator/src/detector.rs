//! Failure detection: what the coordinator leader decides from the data
//! nodes' heartbeats and the map. Pure: time comes in as `now_ms`, and a
//! decision is only a proposal; the agent carries it out (revoking the old
//! primary's lease first, for a failover) and the map's epoch fences it.
//!
//! The rules, in order, for the map's one fragment (none apply without a
//! primary, or in the `single` model):
//!
//! 1. **Failover.** The primary was not heard for more than
//!    `failover_after_ms`, or its heartbeats have not claimed the role at
//!    the map's epoch for that long since the map named it (it could not
//!    take office). Candidates are the live members of the in-sync
//!    set (at 1-safe also live catching-up secondaries, data nodes with
//!    `Role::None`), never async members, spares or arbiters, and only those
//!    that reported. The highest `last_lsn` wins; ties go to the preferred
//!    primary, then to the lowest id. At 1-safe, the records the old primary
//!    reported beyond the winner's are the `lost` range. No candidate:
//!    `NoCandidate`, since any other choice would lose acknowledged writes.
//! 2. **Spare** (`active-spare`). A secondary (in sync or catching up) not
//!    heard for more than `spare_after_ms` is replaced by a live spare
//!    (lowest ids first).
//! 3. **Switch back.** The preferred primary is in sync, alive, and its
//!    `last_lsn` has been within `SWITCH_BACK_LAG_MAX` records of the
//!    primary's (both reports at the map's epoch; under load an in-sync
//!    secondary is always a few records behind, and the switchover itself
//!    waits until it holds every record) for `switch_back_after_ms`
//!    without a break; then
//!    `switch_back_after_ms` must pass before the next `SwitchBack`.
//!
//! A node never heard from counts as heard at the detector's start: a new
//! leader gives every node a full grace period. A node's newest report is
//! the one that arrived last (a node's heartbeats travel in order).

use std::collections::BTreeMap;

/// How many records the preferred primary may lag and still count as
/// caught up for a switch back.
pub const SWITCH_BACK_LAG_MAX: u64 = 1_000;

use serde::{Deserialize, Serialize};

use crate::event::LsnRange;
use crate::fragment::{Model, Role, SafenessLevel};
use crate::map::{ClusterMap, NodeKind};
use crate::NodeId;

/// A data node's heartbeat: what it holds of the fragment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub node: NodeId,
    /// The fragment epoch the node is at.
    pub epoch: u64,
    pub is_primary: bool,
    /// The newest record in its log.
    pub last_lsn: u64,
    /// The newest record it applied.
    pub applied_lsn: u64,
    /// Its log cannot be written (a full or failing disk): as a primary it
    /// refuses writes, and it is no candidate for promotion.
    pub log_failing: bool,
}

#[derive(Clone, Debug)]
pub struct DetectorConfig {
    /// A primary silent for longer is replaced; a node heard within it is alive.
    pub failover_after_ms: u64,
    /// A secondary silent for longer is replaced by a spare (`active-spare`).
    pub spare_after_ms: u64,
    /// Whether to switch back to the preferred primary.
    pub switch_back: bool,
    /// How long the preferred primary must stay caught up before switching
    /// back, and the least time between two switch backs.
    pub switch_back_after_ms: u64,
    /// Breaks a guarantee on purpose, so that `daisy chaos` can show its
    /// checkers catch it; never for real data: failover promotes any live
    /// data member, one outside the in-sync set first.
    pub break_promote_outside_in_sync: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    /// Revoke `dead`'s lease, then promote `candidate` at `expected_epoch`.
    Failover {
        dead: NodeId,
        candidate: NodeId,
        expected_epoch: u64,
        lost: Option<LsnRange>,
    },
    /// The primary is gone and no member may replace it without losing acknowledged writes.
    NoCandidate {
        dead: NodeId,
        why: String,
    },
    ReplaceWithSpare {
        dead: NodeId,
        spare: NodeId,
        expected_epoch: u64,
    },
    /// A planned switchover from the primary to the preferred primary.
    SwitchBack {
        from: NodeId,
        to: NodeId,
    },
}

#[derive(Clone, Debug)]
struct Heard {
    report: Report,
    at_ms: u64,
}

/// Since when `to` has been caught up with the primary `from`.
#[derive(Clone, Copy, Debug)]
struct CaughtUp {
    from: NodeId,
    to: NodeId,
    since_ms: u64,
}

pub struct Detector {
    config: DetectorConfig,
    started_ms: u64,
    heard: BTreeMap<NodeId, Heard>,
    /// Per node, the epoch and arrival of its newest report that claimed
    /// the primary role.
    claims: BTreeMap<NodeId, (u64, u64)>,
    /// The primary and epoch the map names, and since when (by `decide`).
    named: Option<(NodeId, u64, u64)>,
    caught_up: Option<CaughtUp>,
    /// No `SwitchBack` before this.
    switch_back_quiet_until_ms: u64,
    /// Since when each node has reported its log failing, without a break.
    log_failing_since: BTreeMap<NodeId, u64>,
}

impl Detector {
    pub fn new(config: DetectorConfig, now_ms: u64) -> Detector {
        Detector {
            config,
            started_ms: now_ms,
            heard: BTreeMap::new(),
            claims: BTreeMap::new(),
            named: None,
            caught_up: None,
            switch_back_quiet_until_ms: 0,
            log_failing_since: BTreeMap::new(),
        }
    }

    /// A report (heartbeat) from a data node arrived at `now_ms`; keeps the newest.
    pub fn observe(&mut self, report: Report, now_ms: u64) {
        if report.is_primary {
            self.claims.insert(report.node, (report.epoch, now_ms));
        }
        if report.log_failing {
            self.log_failing_since.entry(report.node).or_insert(now_ms);
        } else {
            self.log_failing_since.remove(&report.node);
        }
        let heard = Heard {
            report,
            at_ms: now_ms,
        };
        self.heard.insert(heard.report.node, heard);
    }

    /// When `node` was last heard from (the detector's start if never: a new
    /// leader gives everyone a full grace period).
    pub fn last_seen_ms(&self, node: NodeId) -> u64 {
        self.heard
            .get(&node)
            .map_or(self.started_ms, |heard| heard.at_ms)
    }

    /// Heard within `failover_after_ms`.
    pub fn alive(&self, node: NodeId, now_ms: u64) -> bool {
        !self.silent_for(node, self.config.failover_after_ms, now_ms)
    }

    pub fn report(&self, node: NodeId) -> Option<&Report> {
        self.heard.get(&node).map(|heard| &heard.report)
    }

    pub fn decide(&mut self, map: &ClusterMap, now_ms: u64) -> Decision {
        let fragment = &map.fragment;
        let Some(primary) = fragment.primary else {
            self.caught_up = None;
            return Decision::Nothing;
        };
        if fragment.model == Model::Single {
            self.caught_up = None;
            return Decision::Nothing;
        }
        if !self.alive(primary, now_ms) || !self.serving(map, primary, now_ms) {
            self.caught_up = None;
            return self.failover(map, primary, now_ms);
        }
        // Rule 1b: a primary whose log has failed for as long as a silent
        // one would have been is replaced, if a healthy member can be.
        if self.log_failing_for(primary, now_ms) > self.config.failover_after_ms {
            self.caught_up = None;
            let decision = self.failover(map, primary, now_ms);
            if matches!(decision, Decision::Failover { .. }) {
                return decision;
            }
        }
        let switch_back_due = self.track_switch_back(map, primary, now_ms);
        if let Some(decision) = self.replace_with_spare(map, now_ms) {
            return decision;
        }
        match switch_back_due {
            Some(to) => {
                self.caught_up = None;
                self.switch_back_quiet_until_ms = now_ms + self.config.switch_back_after_ms;
                Decision::SwitchBack { from: primary, to }
            }
            None => Decision::Nothing,
        }
    }

    /// Whether the primary has claimed the role at the map's epoch within
    /// `failover_after_ms`, or was named less than that ago. A primary that
    /// heartbeats but cannot take office (its state cannot be saved) is
    /// as good as dead.
    fn serving(&mut self, map: &ClusterMap, primary: NodeId, now_ms: u64) -> bool {
        let epoch = map.fragment.epoch;
        let since = match self.named {
            Some((named, named_epoch, since)) if named == primary && named_epoch == epoch => since,
            _ => {
                self.named = Some((primary, epoch, now_ms));
                now_ms
            }
        };
        let limit = self.config.failover_after_ms;
        let in_grace = now_ms.saturating_sub(since) <= limit;
        let claimed = self
            .claims
            .get(&primary)
            .is_some_and(|&(claimed_epoch, at_ms)| {
                claimed_epoch >= epoch && now_ms.saturating_sub(at_ms) <= limit
            });
        in_grace || claimed
    }

    /// How long `node` has reported its log failing (0 if it does not).
    fn log_failing_for(&self, node: NodeId, now_ms: u64) -> u64 {
        self.log_failing_since
            .get(&node)
            .map_or(0, |&since| now_ms.saturating_sub(since))
    }

    fn silent_for(&self, node: NodeId, limit_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_seen_ms(node)) > limit_ms
    }

    /// Rule 1: the primary `dead` is silent.
    fn failover(&self, map: &ClusterMap, dead: NodeId, now_ms: u64) -> Decision {
        let fragment = &map.fragment;
        let one_safe = fragment.safeness == SafenessLevel::OneSafe;
        let broken = self.config.break_promote_outside_in_sync;
        let eligible = |node: &NodeId| match fragment.role_of(*node) {
            Role::InSync => true,
            Role::None => (one_safe || broken) && *node != dead,
            Role::Async(_) | Role::Spare => false,
        };
        let best = map
            .nodes
            .values()
            .filter(|info| info.kind == NodeKind::Data && eligible(&info.id))
            .filter(|info| self.alive(info.id, now_ms))
            .filter_map(|info| self.report(info.id))
            .filter(|report| !report.log_failing)
            .max_by_key(|report| {
                let outside = broken && fragment.role_of(report.node) == Role::None;
                let preferred = fragment.preferred_primary == Some(report.node);
                (
                    outside,
                    report.last_lsn,
                    preferred,
                    std::cmp::Reverse(report.node),
                )
            });
        let Some(candidate) = best else {
            let why = format!(
                "primary {dead} silent for {} ms and no live {} secondary has reported",
                now_ms.saturating_sub(self.last_seen_ms(dead)),
                if one_safe {
                    "in-sync or catching-up"
                } else {
                    "in-sync"
                },
            );
            return Decision::NoCandidate { dead, why };
        };
        let dead_last_lsn = self.report(dead).map(|report| report.last_lsn);
        let lost = match dead_last_lsn {
            Some(last_lsn) if one_safe && last_lsn > candidate.last_lsn => Some(LsnRange {
                first_lsn: candidate.last_lsn + 1,
                last_lsn,
            }),
            _ => None,
        };
        Decision::Failover {
            dead,
            candidate: candidate.node,
            expected_epoch: fragment.epoch,
            lost,
        }
    }

    /// Rule 2 (`active-spare`): a silent secondary and a live spare.
    fn replace_with_spare(&self, map: &ClusterMap, now_ms: u64) -> Option<Decision> {
        let fragment = &map.fragment;
        if fragment.model != Model::ActiveSpare {
            return None;
        }
        let dead = map.nodes.values().find(|info| {
            info.kind == NodeKind::Data
                && fragment.primary != Some(info.id)
                && matches!(fragment.role_of(info.id), Role::InSync | Role::None)
                && self.silent_for(info.id, self.config.spare_after_ms, now_ms)
        })?;
        let spare = fragment
            .spares
            .iter()
            .find(|spare| self.alive(**spare, now_ms))?;
        Some(Decision::ReplaceWithSpare {
            dead: dead.id,
            spare: *spare,
            expected_epoch: fragment.epoch,
        })
    }

    /// Rule 3: keeps the caught-up window up to date; returns the preferred
    /// primary once a switch back to it is due.
    fn track_switch_back(
        &mut self,
        map: &ClusterMap,
        primary: NodeId,
        now_ms: u64,
    ) -> Option<NodeId> {
        let Some(to) = self.caught_up_preferred(map, primary, now_ms) else {
            self.caught_up = None;
            return None;
        };
        let since_ms = match self.caught_up {
            Some(window) if window.from == primary && window.to == to => window.since_ms,
            _ => now_ms,
        };
        self.caught_up = Some(CaughtUp {
            from: primary,
            to,
            since_ms,
        });
        let held = now_ms.saturating_sub(since_ms) >= self.config.switch_back_after_ms;
        let quiet = now_ms < self.switch_back_quiet_until_ms;
        (held && !quiet).then_some(to)
    }

    /// The preferred primary, if it is not the primary, is in sync, alive,
    /// and caught up with the primary (both reports at the map's epoch).
    fn caught_up_preferred(
        &self,
        map: &ClusterMap,
        primary: NodeId,
        now_ms: u64,
    ) -> Option<NodeId> {
        let fragment = &map.fragment;
        if !self.config.switch_back {
            return None;
        }
        let preferred = fragment.preferred_primary?;
        if preferred == primary
            || !fragment.in_sync.contains(&preferred)
            || !self.alive(preferred, now_ms)
        {
            return None;
        }
        let current = |node| {
            self.report(node)
                .filter(|report| report.epoch == fragment.epoch)
        };
        let (theirs, ours) = (current(preferred)?, current(primary)?);
        (theirs.last_lsn + SWITCH_BACK_LAG_MAX >= ours.last_lsn).then_some(preferred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::fragment::AsyncRole;
    use crate::map::NodeInfo;

    const FAILOVER_MS: u64 = 1_000;
    const SPARE_MS: u64 = 5_000;
    const SWITCH_BACK_MS: u64 = 2_000;

    fn config(switch_back: bool) -> DetectorConfig {
        DetectorConfig {
            failover_after_ms: FAILOVER_MS,
            spare_after_ms: SPARE_MS,
            switch_back,
            switch_back_after_ms: SWITCH_BACK_MS,
            break_promote_outside_in_sync: false,
        }
    }

    fn node(id: NodeId, kind: NodeKind) -> NodeInfo {
        NodeInfo {
            id,
            name: format!("n{id}"),
            client_addr: String::new(),
            peer_addr: String::new(),
            kind,
        }
    }

    /// Data nodes 1..=5 and arbiter 9; primary 1 at epoch 7; `in_sync`,
    /// async `dr` member 4 and spare 5; the rest (of 2, 3) catch up.
    fn formed(in_sync: &[NodeId], safeness: SafenessLevel, model: Model) -> ClusterMap {
        let mut map = ClusterMap::default();
        let mut nodes: Vec<NodeInfo> = (1..=5).map(|id| node(id, NodeKind::Data)).collect();
        nodes.push(node(9, NodeKind::Arbiter));
        let form = Command::Form {
            nodes,
            primary: 1,
            in_sync: in_sync.to_vec(),
            async_members: vec![(4, AsyncRole::Dr)],
            spares: vec![5],
            epoch: 7,
            preferred: None,
            safeness,
            model,
        };
        map.apply(&form).expect("form");
        map
    }

    fn report(node: NodeId, last_lsn: u64) -> Report {
        Report {
            node,
            epoch: 7,
            is_primary: node == 1,
            last_lsn,
            applied_lsn: last_lsn,
            log_failing: false,
        }
    }

    /// Every node in `lsns` reports at `now_ms`.
    fn hear(detector: &mut Detector, lsns: &[(NodeId, u64)], now_ms: u64) {
        for (node, last_lsn) in lsns {
            detector.observe(report(*node, *last_lsn), now_ms);
        }
    }

    #[test]
    fn a_primary_that_never_takes_office_is_failed_over() {
        let map = formed(&[2, 3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 0);
        let not_claiming = |node, last_lsn| Report {
            is_primary: false,
            ..report(node, last_lsn)
        };
        detector.observe(not_claiming(1, 10), 0);
        hear(&mut detector, &[(2, 10), (3, 9)], 0);
        assert_eq!(detector.decide(&map, 0), Decision::Nothing, "grace");
        detector.observe(not_claiming(1, 10), FAILOVER_MS);
        hear(&mut detector, &[(2, 10), (3, 9)], FAILOVER_MS);
        assert_eq!(detector.decide(&map, FAILOVER_MS), Decision::Nothing);
        detector.observe(not_claiming(1, 10), FAILOVER_MS + 1);
        hear(&mut detector, &[(2, 10), (3, 9)], FAILOVER_MS + 1);
        assert_eq!(
            detector.decide(&map, FAILOVER_MS + 1),
            Decision::Failover {
                dead: 1,
                candidate: 2,
                expected_epoch: 7,
                lost: None
            },
            "alive, but never primary at the map's epoch"
        );
        detector.observe(report(1, 10), FAILOVER_MS + 2);
        assert_eq!(detector.decide(&map, FAILOVER_MS + 2), Decision::Nothing);
    }

    #[test]
    fn nothing_without_a_primary_or_in_the_single_model() {
        let mut detector = Detector::new(config(true), 0);
        assert_eq!(
            detector.decide(&ClusterMap::default(), 10 * FAILOVER_MS),
            Decision::Nothing
        );
        let single = formed(&[2], SafenessLevel::TwoSafe, Model::Single);
        assert_eq!(
            detector.decide(&single, 10 * FAILOVER_MS),
            Decision::Nothing
        );
    }

    #[test]
    fn a_silent_primary_fails_over_to_the_most_advanced_in_sync_member() {
        let map = formed(&[2, 3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 0);
        hear(&mut detector, &[(1, 50), (2, 40), (3, 45), (4, 60)], 100);
        assert_eq!(detector.decide(&map, 100 + FAILOVER_MS), Decision::Nothing);
        hear(&mut detector, &[(2, 40), (3, 45), (4, 60)], 1_000);
        assert_eq!(
            detector.decide(&map, 101 + FAILOVER_MS),
            Decision::Failover {
                dead: 1,
                candidate: 3,
                expected_epoch: 7,
                lost: None,
            },
            "the dr member 4 is ahead but never a candidate; no loss above 1-safe"
        );
    }

    #[test]
    fn a_primary_whose_log_keeps_failing_is_replaced_by_a_healthy_member() {
        let map = formed(&[2, 3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 0);
        let failing = |node, last_lsn| Report {
            log_failing: true,
            ..report(node, last_lsn)
        };
        // Node 3 is ahead but its log fails too: never a candidate.
        let mut now_ms = 0;
        while now_ms <= FAILOVER_MS + 100 {
            detector.observe(failing(1, 50), now_ms);
            detector.observe(failing(3, 50), now_ms);
            detector.observe(report(2, 40), now_ms);
            let expected = if now_ms > FAILOVER_MS {
                Decision::Failover {
                    dead: 1,
                    candidate: 2,
                    expected_epoch: 7,
                    lost: None,
                }
            } else {
                Decision::Nothing
            };
            assert_eq!(detector.decide(&map, now_ms), expected, "at {now_ms} ms");
            now_ms += 50;
        }
        // A log that recovers, even once, starts the count again.
        detector.observe(report(1, 51), now_ms);
        detector.observe(failing(1, 51), now_ms + 10);
        assert_eq!(detector.decide(&map, now_ms + 10), Decision::Nothing);
        // With no healthy in-sync member the failing primary stays: it
        // still serves reads.
        let alone = formed(&[3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let later_ms = now_ms + 20 + FAILOVER_MS;
        detector.observe(failing(1, 51), later_ms);
        detector.observe(failing(3, 51), later_ms);
        assert_eq!(detector.decide(&alone, later_ms), Decision::Nothing);
    }

    #[test]
    fn the_test_only_break_promotes_outside_the_in_sync_set() {
        let map = formed(&[3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let broken = DetectorConfig {
            break_promote_outside_in_sync: true,
            ..config(false)
        };
        for (config, expected) in [(config(false), 3), (broken, 2)] {
            let mut detector = Detector::new(config, 0);
            hear(&mut detector, &[(2, 10), (3, 45)], 1_000);
            assert_eq!(
                detector.decide(&map, 1_500),
                Decision::Failover {
                    dead: 1,
                    candidate: expected,
                    expected_epoch: 7,
                    lost: None,
                },
            );
        }
    }

    #[test]
    fn ties_go_to_the_preferred_primary_then_the_lowest_id() {
        let mut map = formed(&[2, 3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 0);
        hear(&mut detector, &[(1, 50)], 0);
        hear(&mut detector, &[(3, 45), (2, 45)], 1_500);
        let failover_to =
            |detector: &mut Detector, map: &ClusterMap| match detector.decide(map, 1_600) {
                Decision::Failover { candidate, .. } => candidate,
                other => panic!("expected a failover, got {other:?}"),
            };
        assert_eq!(failover_to(&mut detector, &map), 2);
        map.apply(&Command::SetPreferred { node: Some(3) })
            .expect("preferred");
        assert_eq!(failover_to(&mut detector, &map), 3);
    }

    #[test]
    fn at_one_safe_a_catching_up_node_may_win_and_the_loss_is_reported() {
        let map = formed(&[2], SafenessLevel::OneSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 0);
        hear(&mut detector, &[(1, 50)], 0);
        hear(&mut detector, &[(2, 40), (3, 44), (5, 49), (9, 99)], 1_500);
        assert_eq!(
            detector.decide(&map, 1_600),
            Decision::Failover {
                dead: 1,
                candidate: 3,
                expected_epoch: 7,
                lost: Some(LsnRange {
                    first_lsn: 45,
                    last_lsn: 50
                }),
            },
            "3 catches up (Role::None); the spare 5 and arbiter 9 never win"
        );
    }

    #[test]
    fn no_candidate_when_no_in_sync_member_is_alive() {
        let map = formed(&[2], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 0);
        hear(&mut detector, &[(1, 50), (2, 50)], 0);
        hear(&mut detector, &[(3, 50)], 1_500);
        match detector.decide(&map, 1_600) {
            Decision::NoCandidate { dead: 1, why } => assert!(why.contains("in-sync"), "{why}"),
            other => panic!("expected no candidate, got {other:?}"),
        }
    }

    #[test]
    fn a_never_heard_node_gets_the_grace_period() {
        let map = formed(&[2], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 10_000);
        assert_eq!(detector.last_seen_ms(1), 10_000);
        assert!(detector.alive(1, 10_000 + FAILOVER_MS));
        assert_eq!(
            detector.decide(&map, 10_000 + FAILOVER_MS),
            Decision::Nothing
        );
        hear(&mut detector, &[(2, 5)], 10_900);
        assert!(matches!(
            detector.decide(&map, 10_001 + FAILOVER_MS),
            Decision::Failover { candidate: 2, .. }
        ));
    }

    #[test]
    fn a_stale_report_makes_no_candidate() {
        let map = formed(&[2, 3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        let mut detector = Detector::new(config(false), 0);
        hear(&mut detector, &[(1, 50), (2, 50)], 0);
        hear(&mut detector, &[(3, 30)], 1_500);
        assert!(!detector.alive(2, 1_600));
        assert_eq!(detector.report(2).map(|report| report.last_lsn), Some(50));
        assert!(
            matches!(
                detector.decide(&map, 1_600),
                Decision::Failover { candidate: 3, .. }
            ),
            "2 was ahead but is silent"
        );
        hear(&mut detector, &[(3, 35)], 1_700);
        assert_eq!(
            detector.report(3).map(|report| report.last_lsn),
            Some(35),
            "the newest report replaces the older"
        );
    }

    #[test]
    fn a_silent_secondary_is_replaced_by_a_live_spare() {
        let map = formed(&[2, 3], SafenessLevel::TwoSafe, Model::ActiveSpare);
        let mut detector = Detector::new(config(false), 0);
        hear(&mut detector, &[(1, 9), (2, 9), (3, 9), (5, 0)], 0);
        for now_ms in (500..=6_000).step_by(500) {
            hear(&mut detector, &[(1, 9), (3, 9), (5, 0)], now_ms);
        }
        assert_eq!(detector.decide(&map, SPARE_MS), Decision::Nothing);
        assert_eq!(
            detector.decide(&map, SPARE_MS + 1),
            Decision::ReplaceWithSpare {
                dead: 2,
                spare: 5,
                expected_epoch: 7
            }
        );
        let standby = formed(&[2, 3], SafenessLevel::TwoSafe, Model::ActiveStandby);
        assert_eq!(
            detector.decide(&standby, SPARE_MS + 1),
            Decision::Nothing,
            "only in active-spare"
        );
    }

    #[test]
    fn no_replacement_without_a_live_spare() {
        let map = formed(&[2], SafenessLevel::TwoSafe, Model::ActiveSpare);
        let mut detector = Detector::new(config(false), 0);
        hear(&mut detector, &[(1, 9), (2, 9), (3, 9), (5, 0)], 0);
        hear(&mut detector, &[(1, 9), (3, 9)], 5_500);
        assert_eq!(detector.decide(&map, 5_600), Decision::Nothing);
    }

    /// Primary 1, preferred 2 in sync; the detector starts at 0.
    fn switch_back_setup() -> (ClusterMap, Detector) {
        let mut map = formed(&[2], SafenessLevel::TwoSafe, Model::ActiveStandby);
        map.apply(&Command::SetPreferred { node: Some(2) })
            .expect("preferred");
        (map, Detector::new(config(true), 0))
    }

    #[test]
    fn switch_back_once_the_preferred_primary_stayed_caught_up() {
        let (map, mut detector) = switch_back_setup();
        hear(&mut detector, &[(1, 10), (2, 10)], 0);
        assert_eq!(detector.decide(&map, 0), Decision::Nothing);
        hear(&mut detector, &[(1, 12), (2, 12)], 1_500);
        assert_eq!(detector.decide(&map, SWITCH_BACK_MS - 1), Decision::Nothing);
        assert_eq!(
            detector.decide(&map, SWITCH_BACK_MS),
            Decision::SwitchBack { from: 1, to: 2 }
        );
        hear(&mut detector, &[(1, 12), (2, 12)], SWITCH_BACK_MS + 500);
        assert_eq!(
            detector.decide(&map, SWITCH_BACK_MS + 600),
            Decision::Nothing,
            "a new window starts"
        );
        hear(&mut detector, &[(1, 12), (2, 12)], 2 * SWITCH_BACK_MS + 500);
        assert_eq!(
            detector.decide(&map, 2 * SWITCH_BACK_MS + 600),
            Decision::SwitchBack { from: 1, to: 2 },
            "the window held and the quiet time passed"
        );
    }

    #[test]
    fn a_broken_caught_up_window_starts_again() {
        let (map, mut detector) = switch_back_setup();
        hear(&mut detector, &[(1, 10), (2, 10)], 0);
        assert_eq!(detector.decide(&map, 0), Decision::Nothing);
        let far = 12 + SWITCH_BACK_LAG_MAX + 1;
        hear(&mut detector, &[(1, far), (2, 12)], 1_000);
        assert_eq!(detector.decide(&map, 1_000), Decision::Nothing);
        hear(&mut detector, &[(1, far), (2, far - 1)], 1_500);
        assert_eq!(detector.decide(&map, 1_500), Decision::Nothing);
        hear(&mut detector, &[(1, far), (2, far)], 2_500);
        assert_eq!(
            detector.decide(&map, 2_500),
            Decision::Nothing,
            "the window restarted at 1500"
        );
        hear(&mut detector, &[(1, far), (2, far)], 3_400);
        assert_eq!(
            detector.decide(&map, 1_500 + SWITCH_BACK_MS),
            Decision::SwitchBack { from: 1, to: 2 }
        );
    }

    #[test]
    fn no_switch_back_when_off_not_in_sync_or_on_an_old_epoch() {
        let (map, _) = switch_back_setup();
        let mut off = Detector::new(config(false), 0);
        hear(&mut off, &[(1, 10), (2, 10)], 0);
        off.decide(&map, 0);
        hear(&mut off, &[(1, 10), (2, 10)], SWITCH_BACK_MS);
        assert_eq!(off.decide(&map, SWITCH_BACK_MS), Decision::Nothing);

        let mut old_epoch = Detector::new(config(true), 0);
        let behind = Report {
            epoch: 6,
            ..report(2, 10)
        };
        for now_ms in [0, SWITCH_BACK_MS] {
            old_epoch.observe(report(1, 10), now_ms);
            old_epoch.observe(behind.clone(), now_ms);
            assert_eq!(old_epoch.decide(&map, now_ms), Decision::Nothing);
        }

        let mut not_in_sync = map.clone();
        not_in_sync
            .apply(&Command::SetRole {
                node: 2,
                role: Role::None,
                expected_epoch: 7,
            })
            .expect("catching up");
        let mut detector = Detector::new(config(true), 0);
        for now_ms in [0, SWITCH_BACK_MS] {
            hear(&mut detector, &[(1, 10), (2, 10)], now_ms);
            assert_eq!(detector.decide(&not_in_sync, now_ms), Decision::Nothing);
        }
    }
}
