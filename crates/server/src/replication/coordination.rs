//! Following the coordinator: a node of a cluster with at least three
//! voters (data nodes and arbiters, see `MemberKind::votes`) runs an agent
//! (`daisy_coordinator::agent`) and does what the cluster map says.
//!
//! - The map names the primary and its epoch: a node the map makes primary
//!   at a newer epoch takes office; a primary the map no longer names
//!   steps down; a secondary follows whoever the map names.
//! - The primary serves (reads and writes) only while it holds its lease
//!   (`Node::lease_refusal`).
//! - The in-sync set is the map's: the primary proposes to drop a
//!   secondary silent for twice `failover_after_ms` (except at very-safe) and to
//!   add one that holds every acknowledged write. Writes wait for a
//!   joining secondary before the proposal, so when the map says "in sync"
//!   it is true.
//! - A spare follows nobody until the map gives it a replica.
//!
//! Without a coordinator (fewer than three voters) none of this runs and
//! the member kinds decide, as in `docs/replication.md`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use daisy_coordinator::agent::{AgentConfig, AgentHandle, LocalState, Order, Timing};
use daisy_coordinator::{
    AsyncRole, ClusterMap, Command, DetectorConfig, Knobs, LsnRange, Model, NodeId, NodeInfo,
    NodeKind, PromotionCause, Role,
};
use daisy_replication::{Member, MemberKind, Safeness};

use crate::node::{now_ms, Node};
use crate::Config;

/// How long a node waits for the map that holds a change it proposed.
const MAP_WAIT: Duration = Duration::from_millis(500);
/// Between two proposals of a map change the coordinator could not take
/// (no leader known, or it could not be reached).
const PROPOSE_RETRY: Duration = Duration::from_millis(100);
/// A switch back asked for by the coordinator must finish within this.
const SWITCH_BACK_TIMEOUT: Duration = Duration::from_secs(5);
/// A joining secondary that has not reached its join LSN by then is
/// dropped again (writes stop waiting for it).
const JOIN_TIMEOUT_MS: u64 = 2_000;
/// A secondary joins only when it is at most this many records behind.
const JOIN_LAG_MAX: u64 = 10_000;

/// The node's side of the coordinator.
pub struct Coordination {
    pub agent: Rc<AgentHandle>,
    pub me: NodeId,
    /// The map as the node last adopted it.
    pub map: ClusterMap,
    /// Secondaries with an in-sync change proposed and not yet answered.
    pending: HashSet<String>,
    /// Secondaries joining the in-sync set: writes wait for them already;
    /// proposed once they hold `lsn` (everything acknowledged before).
    joining: HashMap<String, Joining>,
    failover_after_ms: u64,
    heartbeat_ms: u64,
    /// This process started as the primary: it writes nothing, holds no
    /// lease and applies no expiry until the map promotes it again at the
    /// next epoch (`PromotionCause::Restart`) or names another primary.
    /// Records it shipped before the crash but had not made durable may be
    /// on a secondary; reusing their LSNs at the same epoch would give one
    /// (epoch, LSN) two records.
    pub restarted: bool,
}

/// What proposing a map change gave: committed, rejected (`Ok(Err)`), or
/// not known (`Err`: the leader did not answer, or there is none).
type ProposeOutcome = Result<daisy_coordinator::Outcome, String>;

struct Joining {
    lsn: u64,
    since_ms: u64,
    /// A proposal to put it in the in-sync set had an unknown outcome: it
    /// may be in the set already, or be put there later, so writes must go
    /// on waiting for it until a committed change says it is not
    /// (`SetRole None`), whatever happens to it meanwhile.
    uncertain: bool,
}

/// A member's id in the map: its position in the members list, from 1.
pub fn node_id(members: &[Member], name: &str) -> Option<NodeId> {
    members
        .iter()
        .position(|m| m.id == name)
        .map(|i| i as NodeId + 1)
}

/// The agent's configuration for this node, or `None` when the cluster
/// has fewer than three voters (no automatic failover: two voters cannot
/// tell a dead peer from a partition).
pub fn agent_config(config: &Config, members: &[Member]) -> Result<Option<AgentConfig>, String> {
    let dial = config.dial_list()?;
    let voters: Vec<(NodeId, SocketAddr)> = dial
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind.votes())
        .map(|(i, m)| (i as NodeId + 1, m.peer_addr))
        .collect();
    if voters.len() < 3 {
        return Ok(None);
    }
    let me = node_id(members, &config.node_id).ok_or("this node is not a member")?;
    if !voters.iter().any(|(id, _)| *id == me) {
        return Ok(None);
    }
    let cluster = daisy_replication::fingerprint(members);
    let heartbeat_ms = config.heartbeat_ms;
    // openraft 0.9: a follower that had a leader stands for election
    // only `election_timeout_max + its drawn timeout` after the leader's
    // last message, and refuses votes for its own `election_timeout_max`.
    // With voter i's window [2h + i*w, 2h + (i+1)*w), w = 3h/4 (h the
    // heartbeat), the second voter stands about 6h after the first one
    // dies, and every later voter's refusal has lapsed by then (2h > 2w).
    let knobs = Knobs {
        cluster_name: format!("daisy-{cluster:016x}"),
        heartbeat_ms: (heartbeat_ms / 2).max(2),
        election_base_ms: 2 * heartbeat_ms,
        election_window_ms: (heartbeat_ms * 3 / 4).max(2),
        unreachable_backoff_ms: heartbeat_ms,
        ..Knobs::default()
    };
    let timing = Timing {
        heartbeat_ms,
        lease_ms: config.lease_ms,
        detector: DetectorConfig {
            failover_after_ms: config.failover_after_ms,
            spare_after_ms: config.spare_after_ms,
            switch_back: config.switch_back,
            switch_back_after_ms: config.switch_back_after_ms,
            break_promote_outside_in_sync: config.break_for_tests == "promote-outside-in-sync",
        },
    };
    Ok(Some(AgentConfig {
        me,
        voters,
        cluster,
        dir: config.data_dir.join("coordinator"),
        knobs,
        timing,
        form: form(config, members)?,
        data_node: !config.arbiter,
        listener: None,
    }))
}

/// The map a cluster starts with, from the configuration every member
/// shares: the first primary, the sync members in sync, the others in
/// their kinds.
fn form(config: &Config, members: &[Member]) -> Result<Command, String> {
    let id = |name: &str| node_id(members, name).ok_or(format!("'{name}' is not a member"));
    let primary = id(&config.primary)?;
    let nodes = members
        .iter()
        .enumerate()
        .map(|(i, m)| NodeInfo {
            id: i as NodeId + 1,
            name: m.id.clone(),
            client_addr: String::new(),
            peer_addr: m.peer_addr.to_string(),
            kind: if m.kind.holds_data() {
                NodeKind::Data
            } else {
                NodeKind::Arbiter
            },
        })
        .collect();
    let with_kind = |kind: MemberKind| -> Vec<NodeId> {
        members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == kind)
            .map(|(i, _)| i as NodeId + 1)
            .filter(|&n| n != primary)
            .collect()
    };
    let async_members = members
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let role = match m.kind {
                MemberKind::Dr => AsyncRole::Dr,
                MemberKind::Reporting => AsyncRole::Reporting,
                _ => return None,
            };
            Some((i as NodeId + 1, role))
        })
        .collect();
    Ok(Command::Form {
        nodes,
        primary,
        in_sync: with_kind(MemberKind::Sync),
        async_members,
        spares: with_kind(MemberKind::Spare),
        epoch: 1,
        preferred: config.switch_back.then_some(primary),
        safeness: config.safeness_level()?.into(),
        model: config.model.parse::<Model>()?,
    })
}

impl Coordination {
    pub fn new(agent: AgentHandle, config: &Config) -> Coordination {
        Coordination {
            me: agent.me,
            agent: Rc::new(agent),
            map: ClusterMap::default(),
            pending: HashSet::new(),
            joining: HashMap::new(),
            failover_after_ms: config.failover_after_ms,
            heartbeat_ms: config.heartbeat_ms,
            restarted: false,
        }
    }

    /// This node's role in the fragment, as the map says.
    pub fn my_role(&self) -> Role {
        self.map.fragment.role_of(self.me)
    }

    /// Whether the map makes this node a spare: it follows nobody.
    pub fn is_spare(&self) -> bool {
        !self.map.nodes.is_empty() && self.my_role() == Role::Spare
    }

    fn id_of(&self, name: &str) -> Option<NodeId> {
        self.map.id_of(name)
    }

    /// Whether `name` is in the map's in-sync set.
    pub fn in_sync(&self, name: &str) -> bool {
        self.id_of(name)
            .is_some_and(|id| self.map.fragment.in_sync.contains(&id))
    }
}

/// A change of the in-sync set the primary proposes.
struct Change {
    name: String,
    command: Command,
}

impl Node {
    fn coordination(&self) -> Option<&Coordination> {
        self.repl.as_ref()?.coordination.as_ref()
    }

    /// Records in the map's event log that this node set aside records
    /// `first_lsn..=last_lsn` when it rejoined at `epoch`, so that the
    /// exact loss of a 1-safe failover is known cluster-wide.
    pub fn record_set_aside(&self, epoch: u64, first_lsn: u64, last_lsn: u64) {
        let Some(coordination) = self.coordination() else {
            return;
        };
        let agent = coordination.agent.clone();
        let command = Command::RecordSetAside {
            node: coordination.me,
            epoch,
            records: LsnRange {
                first_lsn,
                last_lsn,
            },
        };
        tokio::task::spawn_local(async move {
            match agent.propose(command).await {
                Ok(Ok(_)) => {}
                Ok(Err(rejection)) => tracing::warn!(%rejection, "set-aside event not recorded"),
                Err(error) => tracing::warn!(%error, "set-aside event not recorded"),
            }
        });
    }

    /// Why this primary may not serve now: it does not hold its lease.
    pub fn lease_refusal(&self) -> Option<String> {
        let repl = self.repl.as_ref()?;
        let coordination = repl.coordination.as_ref()?;
        if !repl.is_primary() || coordination.agent.lease().holds(repl.state.epoch) {
            return None;
        }
        Some(
            "TRYAGAIN This primary does not hold its lease (it cannot reach a majority of the coordinator's voters, or a failover is under way); retry in a moment."
                .into(),
        )
    }

    /// Why this primary may not serve a read now: no lease, or a
    /// switchover is handing its data to another node.
    pub fn read_refusal(&self) -> Option<String> {
        let repl = self.repl.as_ref()?;
        if let (Some(switchover), Some(_)) = (&repl.switchover, &repl.coordination) {
            return Some(format!(
                "TRYAGAIN A switchover to {} is in progress; retry on the new primary in a moment.",
                switchover.target
            ));
        }
        self.lease_refusal()
    }

    /// Acts on a new map: take office, step down, follow another primary,
    /// and take the in-sync set.
    pub fn adopt_map(&mut self, map: ClusterMap) {
        if map.nodes.is_empty() {
            return;
        }
        let last_lsn = self.last_lsn();
        let repl = self.repl.as_mut().expect("replication");
        let coordination = repl.coordination.as_mut().expect("coordination");
        let was_spare = coordination.is_spare();
        coordination.map = map;
        let now_spare = coordination.is_spare();
        let me = coordination.me;
        let (primary, epoch) = (
            coordination.map.fragment.primary,
            coordination.map.fragment.epoch,
        );
        let primary_name = primary
            .and_then(|p| coordination.map.name_of(p))
            .map(str::to_string);
        if primary == Some(me) {
            // Not yet in office at the map's epoch. The node may already be
            // at it: a peer that learned the map first told it the epoch
            // (and it stepped down to it) before the map arrived here. It
            // never began that epoch, which the map gave to it alone.
            let not_begun = repl.state.history.last_epoch() < epoch;
            let stepped_down_to_it = repl.state.epoch == epoch && !repl.is_primary();
            if repl.state.epoch < epoch || (stepped_down_to_it && not_begun) {
                match self.take_office(epoch, Some(last_lsn)) {
                    Ok(()) => tracing::warn!(
                        "the coordinator made this node primary at epoch {epoch}, from LSN {last_lsn}"
                    ),
                    Err(error) => tracing::error!("cannot take office: {error}"),
                }
            }
        } else if let Some(name) = primary_name {
            if repl.is_primary() {
                self.step_down(epoch, Some(name));
            } else if repl.state.primary_id != name || was_spare != now_spare {
                repl.state.primary_id = name;
                repl.bump_generation();
            }
        }
        self.take_in_sync_set();
    }

    /// The primary's tracker takes the map's in-sync set, plus the
    /// secondaries joining it.
    fn take_in_sync_set(&mut self) {
        let Some(repl) = self.repl.as_mut() else {
            return;
        };
        if !repl.is_primary() {
            return;
        }
        let coordination = repl.coordination.as_mut().expect("coordination");
        let names: Vec<String> = repl
            .tracker
            .secondaries()
            .iter()
            .map(|p| p.id.clone())
            .collect();
        for name in names {
            let in_map = coordination.in_sync(&name);
            if in_map {
                coordination.joining.remove(&name);
            }
            let in_sync = in_map || coordination.joining.contains_key(&name);
            if let Some(progress) = repl.tracker.get_mut(&name) {
                progress.in_sync = in_sync;
            }
        }
        repl.changed.notify_waiters();
    }

    /// What the node tells its agent, and the in-sync changes to propose.
    fn coordination_tick(&mut self) -> (LocalState, Vec<Change>) {
        let last_lsn = self.last_lsn();
        let log_failing = self.journal.as_ref().is_some_and(|j| j.failure().is_some());
        let repl = self.repl.as_mut().expect("replication");
        let restarted = repl.coordination.as_ref().is_some_and(|c| c.restarted);
        let state = LocalState {
            epoch: repl.state.epoch,
            is_primary: repl.is_primary() && !restarted,
            last_lsn,
            applied_lsn: if repl.is_primary() {
                last_lsn
            } else {
                repl.link.applied_lsn
            },
            log_failing,
        };
        let cluster_level = repl.safeness;
        let epoch = repl.state.epoch;
        let serving = repl.is_primary() && repl.switchover.is_none();
        let coordination = repl.coordination.as_mut().expect("coordination");
        if restarted {
            let fragment = &coordination.map.fragment;
            let again = fragment.primary == Some(coordination.me)
                && fragment.epoch == epoch
                && repl.state.history.last_epoch() == epoch;
            let name = repl.node_id.clone();
            if !again || !coordination.pending.insert(name.clone()) {
                return (state, Vec::new());
            }
            let command = Command::Promote {
                node: coordination.me,
                expected_epoch: epoch,
                cause: PromotionCause::Restart,
                lost: None,
            };
            return (state, vec![Change { name, command }]);
        }
        if !serving
            || coordination.map.nodes.is_empty()
            || coordination.map.fragment.primary != Some(coordination.me)
            || coordination.map.fragment.epoch != epoch
        {
            coordination.joining.clear();
            return (state, Vec::new());
        }
        let now = now_ms();
        let mut changes = Vec::new();
        for progress in repl.tracker.secondaries() {
            let name = &progress.id;
            let Some(id) = coordination.id_of(name) else {
                continue;
            };
            if coordination.pending.contains(name) {
                continue;
            }
            let role = coordination.map.fragment.role_of(id);
            let quiet_ms = now.saturating_sub(progress.last_ack_ms);
            let silent = !progress.connected
                || progress.syncing
                || quiet_ms > coordination.failover_after_ms;
            // Dropping a secondary from the set makes it unpromotable, so a
            // short stall should not do it: twice the failover delay.
            let gone = quiet_ms > 2 * coordination.failover_after_ms;
            let set_role = |role| Change {
                name: name.clone(),
                command: Command::SetRole {
                    node: id,
                    role,
                    expected_epoch: epoch,
                },
            };
            match role {
                Role::InSync if gone && cluster_level != Safeness::VerySafe => {
                    changes.push(set_role(Role::None));
                }
                Role::None => {
                    if let Some(joining) = coordination.joining.get(name) {
                        let given_up =
                            silent || now.saturating_sub(joining.since_ms) > JOIN_TIMEOUT_MS;
                        if given_up && joining.uncertain {
                            changes.push(set_role(Role::None));
                        } else if given_up {
                            coordination.joining.remove(name);
                        } else if progress.received_lsn >= joining.lsn {
                            changes.push(set_role(Role::InSync));
                        }
                    } else if !silent
                        && last_lsn.saturating_sub(progress.received_lsn) <= JOIN_LAG_MAX
                    {
                        coordination.joining.insert(
                            name.clone(),
                            Joining {
                                lsn: last_lsn,
                                since_ms: now,
                                uncertain: false,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        for change in &changes {
            coordination.pending.insert(change.name.clone());
        }
        self.take_in_sync_set();
        (state, changes)
    }

    /// An in-sync change proposed for `name` was answered. A joining
    /// secondary stops being waited for only when no proposal that would
    /// put it in the set can still commit: its own was rejected, or a
    /// committed change says it is not in the set. An unknown outcome
    /// (no answer from the leader) keeps it waited for.
    fn proposal_answered(&mut self, name: &str, command: &Command, outcome: &ProposeOutcome) {
        if let Some(coordination) = self.repl.as_mut().and_then(|r| r.coordination.as_mut()) {
            coordination.pending.remove(name);
            let joins = matches!(
                command,
                Command::SetRole {
                    role: Role::InSync,
                    ..
                }
            );
            let uncertain = coordination.joining.get(name).is_some_and(|j| j.uncertain);
            match outcome {
                Ok(Ok(_)) if joins => {
                    // The map says so now (or soon): `take_in_sync_set`.
                }
                Ok(Ok(_)) => {
                    coordination.joining.remove(name);
                }
                Ok(Err(_)) if joins && !uncertain => {
                    coordination.joining.remove(name);
                }
                Ok(Err(_)) => {}
                Err(_) => {
                    if let Some(joining) = coordination.joining.get_mut(name) {
                        joining.uncertain |= joins;
                    }
                }
            }
        }
        self.take_in_sync_set();
    }
}

/// The map change `DAISY MEMBER <node> <kind>` or `DAISY PREFER
/// <node>|NONE` asks for, checked against this node's map.
pub fn map_change(node: &Node, argv: &[bytes::Bytes]) -> Result<Command, String> {
    let coordination = node
        .coordination()
        .ok_or("ERR this node has no coordinator (it needs three voters or more)")?;
    let map = &coordination.map;
    let text = |i: usize| argv.get(i).map(|a| String::from_utf8_lossy(a).into_owned());
    let find = |name: &str| {
        map.id_of(name)
            .ok_or_else(|| format!("ERR '{name}' is not a member"))
    };
    let subcommand = text(1).unwrap_or_default().to_ascii_uppercase();
    match (subcommand.as_str(), argv.len()) {
        ("MEMBER", 4) => {
            let node = find(&text(2).unwrap_or_default())?;
            // A member made `sync` catches up first: the primary adds it
            // to the in-sync set once it holds every acknowledged write.
            let role = match text(3).unwrap_or_default().to_ascii_lowercase().as_str() {
                "sync" => Role::None,
                "dr" => Role::Async(AsyncRole::Dr),
                "reporting" => Role::Async(AsyncRole::Reporting),
                "spare" => Role::Spare,
                other => {
                    return Err(format!(
                        "ERR member kind must be sync, dr, reporting or spare, not '{other}'"
                    ))
                }
            };
            Ok(Command::SetRole {
                node,
                role,
                expected_epoch: map.fragment.epoch,
            })
        }
        ("PREFER", 3) => {
            let name = text(2).unwrap_or_default();
            let node = if name.eq_ignore_ascii_case("none") {
                None
            } else {
                Some(find(&name)?)
            };
            Ok(Command::SetPreferred { node })
        }
        _ => Err(
            "ERR usage: DAISY MEMBER <node-id> SYNC|DR|REPORTING|SPARE, or DAISY PREFER <node-id>|NONE"
                .into(),
        ),
    }
}

/// Proposes `command` through this node's agent; waits for the map that
/// holds it, so the caller's next command sees the change.
pub async fn propose(node: &Rc<RefCell<Node>>, command: Command) -> Result<(), String> {
    let agent = node
        .borrow()
        .coordination()
        .map(|c| c.agent.clone())
        .ok_or("ERR this node has no coordinator")?;
    let mut maps = agent.map();
    maps.borrow_and_update();
    match agent.propose(command).await {
        Ok(Ok(_)) => {
            let _ = tokio::time::timeout(MAP_WAIT, maps.changed()).await;
            Ok(())
        }
        Ok(Err(rejection)) => Err(format!("ERR the coordinator refused: {rejection}")),
        Err(error) => Err(format!(
            "TRYAGAIN the coordinator did not commit the change ({error}); read INFO replication to see whether it took effect"
        )),
    }
}

/// Starts the node's coordinator tasks.
pub fn start(node: &Rc<RefCell<Node>>) {
    tokio::task::spawn_local(follow_map(node.clone()));
    tokio::task::spawn_local(maintain(node.clone()));
    tokio::task::spawn_local(carry_out_orders(node.clone()));
}

async fn follow_map(node: Rc<RefCell<Node>>) {
    let Some(mut maps) = node.borrow().coordination().map(|c| c.agent.map()) else {
        return;
    };
    loop {
        let map = maps.borrow_and_update().clone();
        node.borrow_mut().adopt_map(map);
        if maps.changed().await.is_err() {
            return;
        }
    }
}

/// Every heartbeat: report to the agent, propose in-sync changes.
async fn maintain(node: Rc<RefCell<Node>>) {
    let Some((agent, period)) = node
        .borrow()
        .coordination()
        .map(|c| (c.agent.clone(), Duration::from_millis(c.heartbeat_ms)))
    else {
        return;
    };
    loop {
        let (state, changes) = node.borrow_mut().coordination_tick();
        agent.report(state);
        for change in changes {
            let (node, agent) = (node.clone(), agent.clone());
            tokio::task::spawn_local(async move {
                let mut maps = agent.map();
                maps.borrow_and_update();
                let outcome = agent.propose(change.command.clone()).await;
                match &outcome {
                    Ok(Ok(_)) => tracing::info!(
                        "the coordinator committed {:?} for {}",
                        change.command,
                        change.name
                    ),
                    Ok(Err(rejection)) => {
                        tracing::info!(%rejection, "map change {:?} for {} rejected", change.command, change.name)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "map change {:?} for {} not made", change.command, change.name)
                    }
                }
                // The map carries the result; wait for it before retrying.
                // Without a leader, retry every PROPOSE_RETRY, not every tick.
                match outcome {
                    Ok(_) => {
                        let _ = tokio::time::timeout(MAP_WAIT, maps.changed()).await;
                    }
                    Err(_) => tokio::time::sleep(PROPOSE_RETRY).await,
                }
                node.borrow_mut()
                    .proposal_answered(&change.name, &change.command, &outcome);
            });
        }
        tokio::time::sleep(period).await;
    }
}

/// Carries out the coordinator's orders (a switch back).
async fn carry_out_orders(node: Rc<RefCell<Node>>) {
    let Some(mut orders) = node.borrow().coordination().and_then(|c| c.agent.orders()) else {
        return;
    };
    while let Some(order) = orders.recv().await {
        match order {
            Order::Switchover { to } => {
                let target = node
                    .borrow()
                    .coordination()
                    .and_then(|c| c.map.name_of(to).map(str::to_string));
                let Some(target) = target else {
                    continue;
                };
                if let Err(error) = node.borrow_mut().begin_switchover(&target) {
                    tracing::info!("switch back to {target} not started: {error}");
                    continue;
                }
                let deadline = tokio::time::Instant::now() + SWITCH_BACK_TIMEOUT;
                match super::complete_switchover(&node, &target, deadline).await {
                    Ok(()) => tracing::info!("switched back to the preferred primary {target}"),
                    Err(error) => tracing::warn!("switch back to {target} failed: {error}"),
                }
            }
        }
    }
}
