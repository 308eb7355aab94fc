//! A deterministic simulation of the lease and failover protocol.
//!
//! Two data nodes and an arbiter run the same pure pieces the agents run
//! (`Grants`, `LeaseHolder`, `Detector`, `ClusterMap::apply`) on a virtual
//! clock, over a simulated network with delays, with crashes, pauses longer
//! than the lease, partitions (of a node, or of one link only, so that the
//! primary may still reach one voter but not the leader) and clock-rate
//! drift chosen by a seed. The
//! Raft group is an oracle: a committed map, a term, and a leader that is
//! replaced (after an election delay) when it cannot reach a majority;
//! voters learn a new term when they can reach its leader.
//!
//! What it checks, at every event:
//! - **safety**: at no instant do two nodes hold a valid lease as primary
//!   (each judged by its own drifting clock, a paused node included);
//! - **liveness**: once the faults stop, a primary serves again within a
//!   bound.
//!
//! Each seed's run is a trace of events; the same seed gives the same
//! trace. `DAISY_SIM_SEEDS=N` runs N seeds (default 300); a failure names
//! its seed, and `DAISY_SIM_SEED=S` runs that one alone with its trace.
//!
//! Not simulated: the agent's async glue (the real one runs in
//! `tests/failover.rs` with real processes) and openraft itself.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use daisy_coordinator::{
    ClusterMap, Command, Decision, Detector, DetectorConfig, Grants, LeaseHolder, Model, NodeId,
    NodeInfo, NodeKind, PromotionCause, Report, SafenessLevel, DRIFT_PERCENT,
};

const HEARTBEAT_MS: u64 = 20;
const LEASE_MS: u64 = 150;
const FAILOVER_AFTER_MS: u64 = 150;
/// How long the oracle takes to replace a leader that lost its majority.
const ELECTION_MS: u64 = 120;
/// The faults stop here; the run ends `SETTLE_MS` later.
const FAULTS_END_MS: u64 = 20_000;
const SETTLE_MS: u64 = 5_000;
/// Within this of the faults' end a primary must be serving.
const RECOVERY_MS: u64 = 3_000;
/// Clock rates differ from real time by at most this many parts per million.
const DRIFT_PPM_MAX: u64 = 10_000;
const SEEDS_DEFAULT: u64 = 300;
/// A failover whose revocation no majority answered within this is
/// abandoned (the agent's `REVOKE_TIMEOUT`).
const REVOKE_TIMEOUT_MS: u64 = 200;

const VOTERS: [NodeId; 3] = [1, 2, 3];
const DATA: [NodeId; 2] = [1, 2];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Debug)]
enum Message {
    Heartbeat {
        report: Report,
        lease: Option<(u64, u64)>,
    },
    Granted {
        round: u64,
    },
    Revoke {
        primary: NodeId,
        epoch: u64,
        term: u64,
    },
    Revoked {
        remaining_ms: u64,
        attempt: u64,
    },
    Unrevoke {
        epoch: u64,
        term: u64,
    },
    Map(Box<ClusterMap>),
}

#[derive(Clone, Debug)]
enum Event {
    Tick(NodeId),
    Lead,
    Deliver {
        from: NodeId,
        to: NodeId,
        message: Message,
        attempt: u64,
    },
    Promote {
        attempt: u64,
    },
    Crash(NodeId),
    Restart(NodeId),
    Pause(NodeId),
    Resume(NodeId),
    Cut(NodeId),
    Heal(NodeId),
    /// Cut the link between two nodes only (an asymmetric partition: each
    /// still reaches the third).
    CutLink(NodeId, NodeId),
    HealLink(NodeId, NodeId),
}

struct Node {
    rate_ppm: i64,
    offset_ms: u64,
    up: bool,
    paused: bool,
    cut: bool,
    // Voter state.
    grants: Grants,
    map: ClusterMap,
    applied_term: u64,
    detector: Detector,
    // Data node state (its saved epoch and role survive a crash).
    epoch: u64,
    primary: bool,
    holder: LeaseHolder,
}

impl Node {
    fn local(&self, real_ms: u64) -> u64 {
        let scaled = (real_ms as i128 * (1_000_000 + self.rate_ppm as i128)) / 1_000_000;
        self.offset_ms + scaled as u64
    }

    /// Real milliseconds that pass while this node's clock counts `local_ms`.
    fn real_span(&self, local_ms: u64) -> u64 {
        let real = (local_ms as i128 * 1_000_000) / (1_000_000 + self.rate_ppm as i128);
        real as u64 + 1
    }

    fn detector_config() -> DetectorConfig {
        DetectorConfig {
            failover_after_ms: FAILOVER_AFTER_MS,
            spare_after_ms: 3_000,
            switch_back: false,
            switch_back_after_ms: 1_000,
            break_promote_outside_in_sync: false,
        }
    }

    /// Whether this node holds a valid lease as primary now (by its clock).
    fn serving(&self, real_ms: u64) -> bool {
        self.up && self.primary && self.holder.is_valid(self.epoch, self.local(real_ms))
    }
}

/// A failover under way on the leader.
struct Failover {
    attempt: u64,
    term: u64,
    dead: NodeId,
    candidate: NodeId,
    expected_epoch: u64,
    answers: Vec<u64>,
    scheduled: bool,
    started: u64,
}

struct Sim {
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: Vec<Option<Event>>,
    nodes: BTreeMap<NodeId, Node>,
    rng: Rng,
    /// The oracle: the committed map, the term, the leader.
    committed: ClusterMap,
    term: u64,
    leader: Option<NodeId>,
    leader_lost_at: Option<u64>,
    failover: Option<Failover>,
    attempts: u64,
    trace: Vec<String>,
    last_serving: u64,
    /// Links cut on their own, as (lower id, higher id).
    cut_links: std::collections::BTreeSet<(NodeId, NodeId)>,
    /// Broken on purpose: promote without waiting out the old lease.
    careless: bool,
}

fn formed_map() -> ClusterMap {
    let mut map = ClusterMap::default();
    let node = |id: NodeId, kind| NodeInfo {
        id,
        name: format!("n{id}"),
        client_addr: String::new(),
        peer_addr: String::new(),
        kind,
    };
    map.apply(&Command::Form {
        nodes: vec![
            node(1, NodeKind::Data),
            node(2, NodeKind::Data),
            node(3, NodeKind::Arbiter),
        ],
        primary: 1,
        in_sync: vec![2],
        async_members: vec![],
        spares: vec![],
        epoch: 1,
        preferred: None,
        safeness: SafenessLevel::TwoSafe,
        model: Model::ActiveStandby,
    })
    .expect("form");
    map
}

impl Sim {
    fn new(seed: u64, careless: bool) -> Sim {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let committed = formed_map();
        let mut nodes = BTreeMap::new();
        for id in VOTERS {
            let rate_ppm = rng.below(2 * DRIFT_PPM_MAX + 1) as i64 - DRIFT_PPM_MAX as i64;
            let offset_ms = rng.below(1_000_000);
            let primary = id == 1;
            nodes.insert(
                id,
                Node {
                    rate_ppm,
                    offset_ms,
                    up: true,
                    paused: false,
                    cut: false,
                    grants: Grants::new(LEASE_MS, offset_ms),
                    map: committed.clone(),
                    applied_term: 1,
                    detector: Detector::new(Node::detector_config(), offset_ms),
                    epoch: 1,
                    primary,
                    holder: LeaseHolder::new(VOTERS.to_vec(), LEASE_MS),
                },
            );
        }
        let mut sim = Sim {
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            nodes,
            rng,
            committed,
            term: 1,
            leader: Some(3),
            leader_lost_at: None,
            failover: None,
            attempts: 0,
            trace: Vec::new(),
            last_serving: 0,
            cut_links: std::collections::BTreeSet::new(),
            careless,
        };
        for id in DATA {
            sim.at(1 + id, Event::Tick(id));
        }
        sim.at(5, Event::Lead);
        sim.schedule_faults();
        sim
    }

    fn at(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.events.push(Some(event));
        self.queue
            .push(Reverse((time, self.seq, self.events.len() - 1)));
    }

    fn schedule_faults(&mut self) {
        let mut time = 500;
        while time < FAULTS_END_MS {
            let target = VOTERS[self.rng.below(3) as usize];
            let lasting = 100 + self.rng.below(1_500);
            let end = (time + lasting).min(FAULTS_END_MS);
            let other = VOTERS[(VOTERS.iter().position(|&v| v == target).unwrap_or(0)
                + 1
                + self.rng.below(2) as usize)
                % 3];
            let (start, stop) = match self.rng.below(4) {
                0 => (Event::Crash(target), Event::Restart(target)),
                1 => (Event::Pause(target), Event::Resume(target)),
                2 => (Event::Cut(target), Event::Heal(target)),
                _ => (
                    Event::CutLink(target, other),
                    Event::HealLink(target, other),
                ),
            };
            self.at(time, start);
            self.at(end, stop);
            time = end + 100 + self.rng.below(1_500);
        }
    }

    /// Whether `a` and `b` can talk now (both up, not paused, not cut).
    fn linked(&self, a: NodeId, b: NodeId) -> bool {
        let ok = |id: NodeId| {
            let node = &self.nodes[&id];
            node.up && !node.paused
        };
        let cut = |id: NodeId| self.nodes[&id].cut;
        let link_cut = self.cut_links.contains(&(a.min(b), a.max(b)));
        ok(a) && ok(b) && (a == b || (!cut(a) && !cut(b) && !link_cut))
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: Message, attempt: u64) {
        let delay = if from == to { 0 } else { 1 + self.rng.below(4) };
        self.at(
            self.now + delay,
            Event::Deliver {
                from,
                to,
                message,
                attempt,
            },
        );
    }

    fn majority_linked(&self, voter: NodeId) -> bool {
        VOTERS.iter().filter(|&&v| self.linked(voter, v)).count() >= 2
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(Reverse((time, _, index))) = self.queue.pop() {
            if time > FAULTS_END_MS + SETTLE_MS {
                break;
            }
            self.now = time;
            let event = self.events[index].take().expect("each event once");
            self.trace.push(format!("{time} {event:?}"));
            self.handle(event);
            self.check()?;
        }
        if self.last_serving + RECOVERY_MS < FAULTS_END_MS + SETTLE_MS {
            return Err(format!(
                "no primary has served since {} ms (the faults stopped at {FAULTS_END_MS} ms)",
                self.last_serving
            ));
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), String> {
        let serving: Vec<NodeId> = DATA
            .iter()
            .copied()
            .filter(|id| self.nodes[id].serving(self.now))
            .collect();
        if serving.len() > 1 {
            return Err(format!(
                "at {} ms two primaries hold a lease: {serving:?}",
                self.now
            ));
        }
        if !serving.is_empty() {
            self.last_serving = self.now;
        }
        Ok(())
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Tick(id) => {
                self.tick(id);
                let period = self.nodes[&id].real_span(HEARTBEAT_MS);
                self.at(self.now + period, Event::Tick(id));
            }
            Event::Lead => {
                self.lead();
                self.at(self.now + HEARTBEAT_MS / 2, Event::Lead);
            }
            Event::Deliver {
                from,
                to,
                message,
                attempt,
            } => {
                if self.linked(from, to) {
                    self.deliver(from, to, message, attempt);
                }
            }
            Event::Promote { attempt } => self.promote(attempt),
            Event::Crash(id) => {
                let node = self.nodes.get_mut(&id).expect("node");
                node.up = false;
            }
            Event::Restart(id) => {
                let local = self.nodes[&id].local(self.now);
                let node = self.nodes.get_mut(&id).expect("node");
                let saved = node.grants.revoked_with_term();
                node.grants = Grants::new(LEASE_MS, local);
                if let Some((primary, epoch, term)) = saved {
                    node.grants.revoke(primary, epoch, term, local);
                }
                node.holder = LeaseHolder::new(VOTERS.to_vec(), LEASE_MS);
                node.detector = Detector::new(Node::detector_config(), local);
                node.up = true;
                node.paused = false;
            }
            Event::Pause(id) => self.nodes.get_mut(&id).expect("node").paused = true,
            Event::Resume(id) => self.nodes.get_mut(&id).expect("node").paused = false,
            Event::Cut(id) => self.nodes.get_mut(&id).expect("node").cut = true,
            Event::Heal(id) => self.nodes.get_mut(&id).expect("node").cut = false,
            Event::CutLink(a, b) => {
                self.cut_links.insert((a.min(b), a.max(b)));
            }
            Event::HealLink(a, b) => {
                self.cut_links.remove(&(a.min(b), a.max(b)));
            }
        }
    }

    /// A data node's heartbeat; its lease round while primary.
    fn tick(&mut self, id: NodeId) {
        let node = &self.nodes[&id];
        if !node.up || node.paused {
            return;
        }
        let local = node.local(self.now);
        let node = self.nodes.get_mut(&id).expect("node");
        let lease = if node.primary && node.map.fragment.primary == Some(id) {
            Some((node.holder.start_round(node.epoch, local), node.epoch))
        } else {
            node.holder.relinquish();
            None
        };
        let report = Report {
            node: id,
            epoch: node.epoch,
            is_primary: node.primary,
            last_lsn: 0,
            applied_lsn: 0,
            log_failing: false,
        };
        for voter in VOTERS {
            let message = Message::Heartbeat {
                report: report.clone(),
                lease,
            };
            self.send(id, voter, message, 0);
        }
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, message: Message, attempt: u64) {
        let local = self.nodes[&to].local(self.now);
        match message {
            Message::Heartbeat { report, lease } => {
                let node = self.nodes.get_mut(&to).expect("node");
                node.detector.observe(report, local);
                if let Some((round, epoch)) = lease {
                    if node.grants.request(&node.map, from, epoch, local).is_ok() {
                        self.send(to, from, Message::Granted { round }, 0);
                    }
                }
                let map = self.nodes[&to].map.clone();
                if map.version > self.nodes[&from].map.version {
                    self.send(to, from, Message::Map(Box::new(map)), 0);
                }
            }
            Message::Granted { round } => {
                self.nodes
                    .get_mut(&to)
                    .expect("node")
                    .holder
                    .granted(round, from);
            }
            Message::Revoke {
                primary,
                epoch,
                term,
            } => {
                let node = self.nodes.get_mut(&to).expect("node");
                let remaining_ms = node.grants.revoke(primary, epoch, term, local);
                self.send(
                    to,
                    from,
                    Message::Revoked {
                        remaining_ms,
                        attempt,
                    },
                    attempt,
                );
            }
            Message::Revoked {
                remaining_ms,
                attempt,
            } => self.revoked(to, remaining_ms, attempt),
            Message::Unrevoke { epoch, term } => {
                self.nodes
                    .get_mut(&to)
                    .expect("node")
                    .grants
                    .unrevoke(epoch, term);
            }
            Message::Map(map) => self.adopt(to, *map),
        }
    }

    fn adopt(&mut self, id: NodeId, map: ClusterMap) {
        let node = self.nodes.get_mut(&id).expect("node");
        if map.version <= node.map.version {
            return;
        }
        let (primary, epoch) = (map.fragment.primary, map.fragment.epoch);
        node.map = map;
        if DATA.contains(&id) {
            if primary == Some(id) && node.epoch < epoch {
                node.epoch = epoch;
                node.primary = true;
            } else if primary != Some(id) && node.primary {
                node.primary = false;
                node.epoch = node.epoch.max(epoch);
                node.holder.relinquish();
            }
        }
    }

    /// The oracle's leader: replaced when it cannot reach a majority; then
    /// the detector's decisions.
    fn lead(&mut self) {
        let leader_ok = self.leader.is_some_and(|l| {
            self.nodes[&l].up && !self.nodes[&l].paused && self.majority_linked(l)
        });
        if !leader_ok {
            let lost = *self.leader_lost_at.get_or_insert(self.now);
            if self.now < lost + ELECTION_MS {
                return;
            }
            let Some(next) = VOTERS
                .iter()
                .copied()
                .find(|&v| self.nodes[&v].up && !self.nodes[&v].paused && self.majority_linked(v))
            else {
                return;
            };
            self.term += 1;
            self.leader = Some(next);
            self.leader_lost_at = None;
            self.failover = None;
            self.trace
                .push(format!("{} leader {next} term {}", self.now, self.term));
        }
        let leader = self.leader.expect("a leader");
        // The new term's entry: every voter linked to the leader applies it.
        for voter in VOTERS {
            if self.linked(leader, voter) {
                let node = self.nodes.get_mut(&voter).expect("node");
                node.applied_term = node.applied_term.max(self.term);
                let (epoch, term) = (node.map.fragment.epoch, node.applied_term);
                node.grants.settle(epoch, term);
            }
        }
        if let Some(failover) = &self.failover {
            // No majority answered in time: give up, as the agent does.
            if !failover.scheduled && self.now > failover.started + REVOKE_TIMEOUT_MS {
                let (epoch, term) = (failover.expected_epoch, failover.term);
                self.failover = None;
                self.unrevoke(leader, epoch, term);
            }
            return;
        }
        let local = self.nodes[&leader].local(self.now);
        let committed = self.committed.clone();
        self.adopt(leader, committed.clone());
        let node = self.nodes.get_mut(&leader).expect("node");
        let decision = node.detector.decide(&committed, local);
        if let Decision::Failover {
            dead,
            candidate,
            expected_epoch,
            ..
        } = decision
        {
            self.attempts += 1;
            let attempt = self.attempts;
            self.failover = Some(Failover {
                attempt,
                term: self.term,
                dead,
                candidate,
                expected_epoch,
                answers: Vec::new(),
                scheduled: false,
                started: self.now,
            });
            for voter in VOTERS {
                let revoke = Message::Revoke {
                    primary: dead,
                    epoch: expected_epoch,
                    term: self.term,
                };
                self.send(leader, voter, revoke, attempt);
            }
        }
    }

    fn revoked(&mut self, leader: NodeId, remaining_ms: u64, attempt: u64) {
        let span = {
            let Some(failover) = self.failover.as_mut() else {
                return;
            };
            if failover.attempt != attempt || failover.scheduled || self.leader != Some(leader) {
                return;
            }
            failover.answers.push(remaining_ms);
            if failover.answers.len() < 2 {
                return;
            }
            failover.scheduled = true;
            let longest = failover.answers.iter().copied().max().unwrap_or(0);
            if self.careless {
                0
            } else {
                longest + LEASE_MS * DRIFT_PERCENT / 100 + 2
            }
        };
        let real = self.nodes[&leader].real_span(span);
        self.at(self.now + real, Event::Promote { attempt });
    }

    fn promote(&mut self, attempt: u64) {
        let Some(failover) = self.failover.take() else {
            return;
        };
        if failover.attempt != attempt {
            self.failover = Some(failover);
            return;
        }
        let leader = self.leader.expect("leader");
        if failover.term != self.term {
            return;
        }
        if !self.majority_linked(leader) {
            self.unrevoke(leader, failover.expected_epoch, failover.term);
            return;
        }
        let command = Command::Promote {
            node: failover.candidate,
            expected_epoch: failover.expected_epoch,
            cause: PromotionCause::Failover,
            lost: None,
        };
        if self.committed.apply(&command).is_ok() {
            self.trace.push(format!(
                "{} promoted {} over {} at epoch {}",
                self.now, failover.candidate, failover.dead, self.committed.fragment.epoch
            ));
            let map = self.committed.clone();
            for id in VOTERS {
                if self.linked(leader, id) {
                    self.send(leader, id, Message::Map(Box::new(map.clone())), 0);
                }
            }
        }
    }
}

impl Sim {
    fn unrevoke(&mut self, leader: NodeId, epoch: u64, term: u64) {
        for voter in VOTERS {
            self.send(leader, voter, Message::Unrevoke { epoch, term }, 0);
        }
    }
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("DAISY_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let count = std::env::var("DAISY_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEEDS_DEFAULT);
    (1..=count).collect()
}

#[test]
fn no_two_primaries_hold_a_lease_and_a_primary_returns() {
    let mut failovers = 0;
    for seed in seeds() {
        let mut sim = Sim::new(seed, false);
        if let Err(error) = sim.run() {
            // The faults, elections, revocations, promotions and maps;
            // not the steady heartbeats.
            let notable: Vec<&String> = sim
                .trace
                .iter()
                .filter(|line| {
                    !["Tick(", " Lead", "Heartbeat", "Granted"]
                        .iter()
                        .any(|routine| line.contains(routine))
                })
                .collect();
            let tail = notable[notable.len().saturating_sub(40)..]
                .iter()
                .map(|line| line.chars().take(200).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "seed {seed}: {error}\nlast events:\n{tail}\n(run it alone: DAISY_SIM_SEED={seed})"
            );
        }
        failovers += sim.committed.fragment.epoch - 1;
    }
    assert!(failovers > 0, "the faults never caused a failover");
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let run = |seed| {
        let mut sim = Sim::new(seed, false);
        let _ = sim.run();
        sim.trace
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}

#[test]
fn promoting_before_the_old_lease_ran_out_is_caught() {
    let caught = (1..=50).find_map(|seed| {
        let mut sim = Sim::new(seed, true);
        sim.run().err().filter(|e| e.contains("two primaries"))
    });
    assert!(
        caught.is_some(),
        "a failover that does not wait out the old lease went unnoticed in 50 seeds"
    );
}
