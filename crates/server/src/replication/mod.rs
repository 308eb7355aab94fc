//! Replication on a node: its role (primary or secondary), its epoch, and
//! the tasks that move the log between members over the peer port.
//!
//! - `primary`: the peer listener; for each secondary a sender (snapshot,
//!   then records, then heartbeats) and a reader of its acknowledgements;
//!   answering probes; watching for a newer epoch elsewhere.
//! - `secondary`: finding the primary, the handshake, receiving a
//!   snapshot, appending and applying records, acknowledging.
//! - `wire`: frames on a socket, with time limits.
//!
//! Invariants:
//! - a node serves writes only as primary, under the highest epoch it has
//!   seen; it saves a new epoch before acting under it;
//! - a secondary takes records only from a primary whose epoch is at least
//!   the highest it has seen, and only densely (LSN = last + 1);
//! - a former primary that comes back sets its divergent records aside in
//!   `divergent/` before it takes the new primary's data.
//!
//! The protocol is described in `docs/replication.md`.

pub mod coordination;
mod primary;
pub mod report;
mod secondary;
mod wire;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use daisy_replication::message::{ToPrimary, ToSecondary, View, HANDSHAKE_FRAME_BYTES_MAX};
use daisy_replication::{EpochHistory, Member, MemberKind, NodeState, Safeness, Tracker};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::node::{now_ms, Node};
use crate::Config;

pub use primary::peer_listener;

/// How long connecting to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a probe's answer may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// A primary sends a heartbeat when it has had nothing to send this long.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(100);
/// A link silent this long is dead.
const LINK_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between attempts to reach a primary.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How often a switchover looks at its progress.
const SWITCHOVER_POLL: Duration = Duration::from_millis(1);
/// Between two proposals of `Reclaim` after an unknown switchover outcome.
const RECLAIM_RETRY: Duration = Duration::from_millis(20);
/// How often a primary checks that no member knows a newer epoch.
const EPOCH_WATCH_INTERVAL: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Secondary,
}

/// A planned switchover in progress on the primary.
pub struct Switchover {
    pub target: String,
    /// The handover message went to the target.
    pub handed_over: bool,
}

/// A secondary's link to its primary.
#[derive(Default)]
pub struct Link {
    pub up: bool,
    pub primary_client_addr: String,
    /// A snapshot transfer is in progress.
    pub syncing: bool,
    pub sync_bytes_received: u64,
    pub sync_bytes_total: u64,
    /// Snapshot transfers received since start.
    pub full_syncs: u64,
    pub applied_lsn: u64,
    pub last_contact_ms: u64,
    /// A handshake confirmed this node's log is a prefix of the primary's:
    /// until then its data may hold records no primary has (it may be a
    /// former primary), and it serves no reads.
    pub verified: bool,
    /// The primary's commit watermark as last heard: reads here wait until
    /// it covers what they saw.
    pub primary_commit_lsn: std::cell::Cell<u64>,
}

pub struct Replication {
    pub node_id: String,
    pub members: Vec<Member>,
    /// The members as this node connects to them (`peer_routes` applied).
    pub dial: Vec<Member>,
    pub role: Role,
    pub state: NodeState,
    pub tracker: Tracker,
    /// The cluster's level; a connection may choose another.
    pub safeness: Safeness,
    /// As a secondary, only persist the log (apply on promotion).
    pub warm: bool,
    pub link: Link,
    /// Woken when acknowledgements arrive or the role changes.
    pub changed: Rc<Notify>,
    /// Woken only when the role changes (promotion, stepping down).
    role_changed: Rc<Notify>,
    /// Bumped on every role change: tasks of an older generation stop.
    pub generation: u64,
    /// Sessions of the senders, per secondary: a newer one replaces older.
    next_session: u64,
    /// The membership's fingerprint, checked in every handshake and probe.
    pub cluster: u64,
    pub switchover: Option<Switchover>,
    /// The coordinator's agent and map, in a cluster with three voters or
    /// more; `None` otherwise (member kinds decide, failover is manual).
    pub coordination: Option<coordination::Coordination>,
    /// Set when this node started as the primary: where its recovered log
    /// ended. Records a secondary holds after it at this epoch were shipped
    /// before the restart and may never have reached this node's disk; the
    /// LSNs are being reused for other records. Each secondary is cut back
    /// to it on its first handshake with this process (`rebased`).
    pub restart_floor: Option<u64>,
    /// The secondaries cut back to `restart_floor` since this process began.
    pub rebased: std::collections::HashSet<String>,
}

impl Replication {
    /// The replication of a node about to start, from its saved state or,
    /// on a first start, from the configuration.
    pub fn from_config(config: &Config) -> Result<Option<Replication>, String> {
        let members = config.member_list()?;
        if members.is_empty() {
            return Ok(None);
        }
        let state = match NodeState::load(&config.data_dir).map_err(|e| e.to_string())? {
            Some(state) => state,
            None => NodeState {
                epoch: 0,
                primary_id: config.primary.clone(),
                history: EpochHistory::new(),
                promoted_at_lsn: None,
            },
        };
        let coordination = match coordination::agent_config(config, &members)? {
            Some(agent_config) => {
                let agent = daisy_coordinator::agent::spawn(agent_config)
                    .map_err(|e| format!("cannot start the coordinator: {e}"))?;
                Some(coordination::Coordination::new(agent, config))
            }
            None => None,
        };
        let role = if state.primary_id == config.node_id {
            Role::Primary
        } else {
            Role::Secondary
        };
        Ok(Some(Replication {
            node_id: config.node_id.clone(),
            tracker: Tracker::new(&members, &config.node_id, config.sync_timeout_ms),
            cluster: daisy_replication::fingerprint(&members),
            switchover: None,
            coordination,
            dial: config.dial_list()?,
            members,
            role,
            state,
            safeness: config.safeness_level()?,
            warm: config.standby == "warm",
            link: Link::default(),
            changed: Rc::new(Notify::new()),
            role_changed: Rc::new(Notify::new()),
            generation: 0,
            next_session: 0,
            restart_floor: None,
            rebased: std::collections::HashSet::new(),
        }))
    }

    pub fn is_primary(&self) -> bool {
        self.role == Role::Primary
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn my_kind(&self) -> MemberKind {
        self.member(&self.node_id)
            .map_or(MemberKind::Sync, |m| m.kind)
    }

    fn new_session(&mut self) -> u64 {
        self.next_session += 1;
        self.next_session
    }

    fn bump_generation(&mut self) {
        self.generation += 1;
        self.changed.notify_waiters();
        self.role_changed.notify_waiters();
    }
}

impl Node {
    /// True on a secondary: data commands need READONLY, writes are refused.
    pub fn is_secondary(&self) -> bool {
        self.repl.as_ref().is_some_and(|r| !r.is_primary())
    }

    /// True when the keyspace does not hold the applied data (a warm
    /// standby): no reads, no snapshots.
    pub fn holds_no_data(&self) -> bool {
        self.repl
            .as_ref()
            .is_some_and(|r| !r.is_primary() && r.warm)
    }

    /// The highest LSN a reply at `level` may depend on.
    pub fn commit_lsn(&self, level: Safeness) -> u64 {
        let durable = self.journal.as_ref().map_or(0, |j| j.durable_lsn());
        match &self.repl {
            // A deliberately broken node for the chaos checkers' own test.
            Some(repl) if repl.is_primary() && self.config.break_for_tests == "ack-early" => {
                durable
            }
            Some(repl) if repl.is_primary() => repl.tracker.commit_lsn(level, durable),
            Some(repl) => durable.min(repl.link.primary_commit_lsn.get()),
            None => durable,
        }
    }

    /// The strictest watermark: records up to it can be lost by nothing.
    pub fn committed_everywhere(&self) -> u64 {
        self.commit_lsn(Safeness::VerySafe)
    }

    /// The level a connection's replies wait for.
    pub fn safeness_for(&self, chosen: Option<Safeness>) -> Safeness {
        chosen.unwrap_or_else(|| self.repl.as_ref().map_or(Safeness::OneSafe, |r| r.safeness))
    }

    /// Why a write at `level` cannot be accepted by replication now.
    pub fn replication_refusal(&self, level: Safeness) -> Option<String> {
        let repl = self.repl.as_ref()?;
        if !repl.is_primary() {
            return Some("READONLY You can't write against a read only replica.".into());
        }
        if let Some(switchover) = &repl.switchover {
            return Some(format!(
                "TRYAGAIN A switchover to {} is in progress; retry on the new primary in a moment.",
                switchover.target
            ));
        }
        if let Some(refusal) = self.lease_refusal() {
            return Some(refusal);
        }
        // With a coordinator the in-sync set shrinks when a secondary is
        // lost, so writes wait for that instead of failing; except at
        // very-safe, where the set never shrinks.
        if repl.coordination.is_some() && level != Safeness::VerySafe {
            return None;
        }
        repl.tracker
            .ready(level, now_ms())
            .err()
            .map(|why| format!("NOREPLICAS Not enough good replicas to write: {why}."))
    }

    /// Makes this secondary the primary at a new epoch (operator's
    /// decision). Without `force`, refused while the primary is connected.
    pub fn promote(&mut self, force: bool) -> Result<u64, String> {
        let Some(repl) = &self.repl else {
            return Err("ERR this node has no replication members".into());
        };
        if repl.is_primary() {
            return Err("ERR this node is already the primary".into());
        }
        if repl.coordination.is_some() {
            return Err("ERR this cluster's coordinator chooses the primary: failover is automatic; use DAISY SWITCHOVER for a planned change".into());
        }
        if repl.my_kind() == MemberKind::Reporting {
            return Err("ERR a reporting member cannot be promoted".into());
        }
        if repl.link.up && !force {
            return Err(format!(
                "ERR the primary {} is connected; DAISY PROMOTE FORCE promotes anyway",
                repl.state.primary_id
            ));
        }
        if repl.link.syncing {
            return Err("ERR this node is still loading a snapshot from the primary".into());
        }
        let epoch = repl.state.epoch + 1;
        let last_lsn = self.last_lsn();
        self.take_office(epoch, Some(last_lsn))?;
        tracing::warn!(
            "promoted to primary at epoch {epoch}, from LSN {last_lsn}: records of the old epoch after LSN {last_lsn} are not on this node"
        );
        Ok(epoch)
    }

    /// Becomes the primary at `epoch`: a warm standby loads its data, the
    /// new epoch is saved before anything is served under it.
    /// `promoted_at_lsn`: where the old epoch was cut off when records of
    /// it may be lost (an operator's promotion); `None` for a handover.
    fn take_office(&mut self, epoch: u64, promoted_at_lsn: Option<u64>) -> Result<(), String> {
        if self.repl.as_ref().is_some_and(|r| r.warm) {
            self.load_applied_state()?;
        }
        let last_lsn = self.last_lsn();
        let repl = self.repl.as_mut().expect("replication");
        let mut state = repl.state.clone();
        state.epoch = epoch;
        state.primary_id = repl.node_id.clone();
        state.history.begin(epoch, last_lsn + 1);
        state.promoted_at_lsn = promoted_at_lsn;
        state
            .save(&self.config.data_dir)
            .map_err(|e| format!("ERR cannot save the new epoch: {e}"))?;
        repl.state = state;
        repl.role = Role::Primary;
        repl.link = Link::default();
        repl.tracker = Tracker::new(&repl.members, &repl.node_id, self.config.sync_timeout_ms);
        repl.tracker.heard_all_at(now_ms());
        // A new epoch: what secondaries hold of older ones is judged by
        // the history.
        repl.restart_floor = None;
        if let Some(coordination) = &mut repl.coordination {
            coordination.restarted = false;
        }
        repl.bump_generation();
        if let Some(journal) = &mut self.journal {
            journal.set_epoch(epoch);
        }
        self.db.set_delete_expired(true);
        Ok(())
    }

    /// A planned handover from the primary: this secondary holds exactly
    /// the primary's log up to `last_lsn`; it takes office at `epoch`.
    pub fn accept_handover(&mut self, epoch: u64, last_lsn: u64) -> Result<(), String> {
        let repl = self.repl.as_ref().ok_or("no replication")?;
        if repl.is_primary() || epoch != repl.state.epoch + 1 {
            return Err(format!(
                "a handover to epoch {epoch} at epoch {}",
                repl.state.epoch
            ));
        }
        if self.last_lsn() != last_lsn {
            return Err(format!(
                "a handover at LSN {last_lsn}, but this log ends at {}",
                self.last_lsn()
            ));
        }
        self.take_office(epoch, None)?;
        tracing::info!(
            "took over as primary at epoch {epoch}, LSN {last_lsn} (planned switchover)"
        );
        Ok(())
    }

    /// Starts a planned switchover to `target`: writes pause, nothing
    /// expires, and the target's sender hands over once it has sent
    /// everything.
    pub fn begin_switchover(&mut self, target: &str) -> Result<(), String> {
        let Some(repl) = &mut self.repl else {
            return Err("ERR this node has no replication members".into());
        };
        if !repl.is_primary() {
            return Err("ERR only the primary can hand over; this node is a secondary".into());
        }
        if repl.switchover.is_some() {
            return Err("ERR a switchover is already in progress".into());
        }
        let Some(member) = repl.member(target) else {
            return Err(format!("ERR '{target}' is not a member"));
        };
        let eligible = match &repl.coordination {
            Some(coordination) => coordination.in_sync(target),
            None => member.kind == MemberKind::Sync,
        };
        if !eligible || target == repl.node_id {
            return Err(format!(
                "ERR '{target}' is not a secondary that can be primary"
            ));
        }
        let ready = repl
            .tracker
            .secondaries()
            .iter()
            .any(|p| p.id == target && p.connected && !p.syncing);
        if !ready {
            return Err(format!(
                "ERR secondary '{target}' is not connected and in step"
            ));
        }
        repl.switchover = Some(Switchover {
            target: target.to_string(),
            handed_over: false,
        });
        repl.changed.notify_waiters();
        self.db.set_delete_expired(false);
        tracing::info!("switchover to {target}: writes paused until it has every record");
        Ok(())
    }

    /// Gives up a switchover that did not complete: writes resume.
    pub fn abort_switchover(&mut self, why: &str) {
        if let Some(repl) = &mut self.repl {
            if repl.switchover.take().is_some() && repl.is_primary() {
                tracing::warn!("switchover abandoned: {why}; writes resume");
                self.db.set_delete_expired(true);
            }
        }
    }

    /// Stops acting as primary: another member is primary at `epoch`.
    pub fn step_down(&mut self, epoch: u64, primary_id: Option<String>) {
        let Some(repl) = &mut self.repl else {
            return;
        };
        if epoch <= repl.state.epoch && !repl.is_primary() {
            return;
        }
        tracing::warn!(
            "member {} is primary at epoch {epoch} (this node had epoch {}): becoming a secondary",
            primary_id.as_deref().unwrap_or("?"),
            repl.state.epoch
        );
        repl.state.epoch = repl.state.epoch.max(epoch);
        if let Some(primary_id) = primary_id {
            repl.state.primary_id = primary_id;
        }
        if let Err(error) = repl.state.save(&self.config.data_dir) {
            tracing::error!("cannot save the replication state: {error}");
        }
        repl.role = Role::Secondary;
        repl.switchover = None;
        repl.restart_floor = None;
        if let Some(coordination) = &mut repl.coordination {
            coordination.restarted = false;
        }
        repl.tracker = Tracker::new(&repl.members, &repl.node_id, self.config.sync_timeout_ms);
        repl.link = Link::default();
        repl.bump_generation();
        self.db.set_delete_expired(false);
    }

    /// A warm standby about to serve: load the snapshot and replay the log.
    fn load_applied_state(&mut self) -> Result<(), String> {
        let journal = self.journal.take().expect("replication needs persistence");
        journal
            .close()
            .map_err(|e| format!("ERR cannot close the log: {e}"))?;
        self.db = daisy_keyspace::Db::new(self.rng.next_u64());
        let recovered = crate::persistence::recover_node(
            &self.config,
            &mut self.db,
            &mut self.rng,
            &self.settings,
            true,
            &self.signals,
        )
        .map_err(|e| format!("ERR cannot load the data: {e}"))?;
        self.snapshots.lsn = recovered.snapshot_lsn;
        self.journal = Some(recovered.journal);
        Ok(())
    }

    /// What this node tells a prober.
    pub fn view(&self) -> View {
        let repl = self.repl.as_ref().expect("peer port needs replication");
        View {
            cluster: repl.cluster,
            node_id: repl.node_id.clone(),
            epoch: repl.state.epoch,
            is_primary: repl.is_primary(),
            primary_id: repl.state.primary_id.clone(),
            last_lsn: self.last_lsn(),
        }
    }
}

/// Asks the member at `addr` for its view.
pub async fn probe(addr: SocketAddr, my_id: &str) -> Option<View> {
    let attempt = async {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .ok()?
            .ok()?;
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let probe = ToPrimary::Probe {
            node_id: my_id.to_string(),
        };
        wire::write_message(&mut writer, &probe, PROBE_TIMEOUT)
            .await
            .ok()?;
        match wire::read_message(&mut reader, HANDSHAKE_FRAME_BYTES_MAX, PROBE_TIMEOUT).await {
            Ok(ToSecondary::View(view)) => Some(view),
            _ => None,
        }
    };
    attempt.await
}

/// Probes every other member at once (at the addresses in `members`); the
/// answers that came in time from members of the cluster `cluster`.
pub async fn probe_all(members: &[Member], my_id: &str, cluster: u64) -> Vec<View> {
    let probes = members.iter().filter(|m| m.id != my_id).map(|m| {
        let (addr, my_id) = (m.peer_addr, my_id.to_string());
        async move { probe(addr, &my_id).await }
    });
    let mut views = Vec::new();
    for view in futures_join_all(probes).await.into_iter().flatten() {
        if view.cluster == cluster {
            views.push(view);
        } else {
            tracing::warn!(
                "member {} answered with another membership; check its --members",
                view.node_id
            );
        }
    }
    views
}

/// Runs futures concurrently on this thread and collects their results.
async fn futures_join_all<F: std::future::Future + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(tokio::task::spawn_local).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        if let Ok(value) = handle.await {
            out.push(value);
        }
    }
    out
}

/// Before a node that believes it is primary serves anyone: if another
/// member knows a newer epoch, this node was deposed while it was away.
pub async fn check_epoch_before_serving(node: &Rc<RefCell<Node>>) {
    let (members, my_id, epoch, primary, cluster) = {
        let node = node.borrow();
        let Some(repl) = &node.repl else {
            return;
        };
        (
            repl.dial.clone(),
            repl.node_id.clone(),
            repl.state.epoch,
            repl.is_primary(),
            repl.cluster,
        )
    };
    if !primary {
        return;
    }
    let views = probe_all(&members, &my_id, cluster).await;
    if let Some(newer) = views
        .iter()
        .filter(|v| v.epoch > epoch)
        .max_by_key(|v| v.epoch)
    {
        let primary_id = (!newer.primary_id.is_empty()).then(|| newer.primary_id.clone());
        node.borrow_mut().step_down(newer.epoch, primary_id);
    }
}

/// Finishes a switchover begun with `Node::begin_switchover`: once the
/// target has been handed over, waits until it says it is primary at the
/// next epoch, then follows it. Gives up (writes resume here) at
/// `deadline`.
pub async fn complete_switchover(
    node: &Rc<RefCell<Node>>,
    target: &str,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    let (addr, my_id, next_epoch, agent) = {
        let node = node.borrow();
        let repl = node.repl.as_ref().expect("replication");
        let addr = repl
            .dial
            .iter()
            .find(|m| m.id == target)
            .expect("checked")
            .peer_addr;
        let agent = repl.coordination.as_ref().map(|c| c.agent.clone());
        (addr, repl.node_id.clone(), repl.state.epoch + 1, agent)
    };
    let mut proposed = false;
    let mut unknown = false;
    loop {
        let handed_over = {
            let node = node.borrow();
            let repl = node.repl.as_ref().expect("replication");
            if !repl.is_primary() {
                return Ok(());
            }
            match &repl.switchover {
                Some(s) => s.handed_over,
                None => return Err("ERR the switchover was abandoned".into()),
            }
        };
        match (&agent, handed_over) {
            // The target holds every record: the map changes, then the
            // target takes office from the map.
            (Some(agent), true) if !proposed => {
                proposed = true;
                match commit_switchover(node, agent, target, next_epoch - 1).await {
                    Ok(epoch) => {
                        node.borrow_mut().step_down(epoch, Some(target.to_string()));
                        return Ok(());
                    }
                    Err(Some(rejection)) => {
                        node.borrow_mut().abort_switchover(&rejection);
                        return Err(format!("ERR the coordinator refused: {rejection}"));
                    }
                    // Unknown: the map will tell (adopt_map steps down).
                    Err(None) => unknown = true,
                }
            }
            (None, true) => {
                if let Some(view) = probe(addr, &my_id).await {
                    if view.is_primary && view.epoch >= next_epoch {
                        node.borrow_mut()
                            .step_down(view.epoch, Some(target.to_string()));
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            if let (Some(agent), true) = (&agent, unknown) {
                tokio::task::spawn_local(reclaim(
                    node.clone(),
                    agent.clone(),
                    target.to_string(),
                    next_epoch - 1,
                ));
                return Err(format!(
                    "ERR the switchover to {target} has an unknown outcome; writes stay paused until the coordinator settles it"
                ));
            }
            node.borrow_mut()
                .abort_switchover("the target did not take over in time");
            return Err(format!(
                "ERR {target} did not take over in time; this node is still the primary"
            ));
        }
        tokio::time::sleep(SWITCHOVER_POLL).await;
    }
}

/// After a switchover whose commit this node could not learn: the
/// target may be primary at the next epoch, or not, so resuming at
/// `epoch` could make two primaries. The node stays paused and asks the
/// map to promote it again (`Reclaim`), which commits only if the
/// switchover did not, and fences it off; a stale epoch means the
/// switchover committed. Until the map answers, nothing resumes.
async fn reclaim(
    node: Rc<RefCell<Node>>,
    agent: Rc<daisy_coordinator::agent::AgentHandle>,
    target: String,
    epoch: u64,
) {
    let id = node
        .borrow()
        .repl
        .as_ref()
        .and_then(|r| r.coordination.as_ref())
        .map(|c| c.me)
        .expect("a coordinated node");
    let command = daisy_coordinator::Command::Promote {
        node: id,
        expected_epoch: epoch,
        cause: daisy_coordinator::PromotionCause::Reclaim,
        lost: None,
    };
    loop {
        let (primary, now_epoch) = {
            let node = node.borrow();
            let repl = node.repl.as_ref().expect("replication");
            (repl.is_primary(), repl.state.epoch)
        };
        if !primary {
            tracing::info!("the switchover to {target} committed; following it");
            return;
        }
        if now_epoch > epoch {
            node.borrow_mut().abort_switchover(
                "its outcome was unknown, and this node is primary again at a new epoch",
            );
            return;
        }
        match agent.propose(command.clone()).await {
            // Writes resume once the map is adopted (above).
            Ok(Ok(_)) => {}
            // The epoch moved: the switchover committed, and the map makes
            // this node follow the target.
            Ok(Err(_)) => {}
            Err(error) => {
                tracing::warn!(%error, "reclaiming after an unknown switchover outcome")
            }
        }
        tokio::time::sleep(RECLAIM_RETRY).await;
    }
}

/// Commits the switchover in the map: the new epoch, or the rejection
/// (`None`: the outcome is unknown).
async fn commit_switchover(
    node: &Rc<RefCell<Node>>,
    agent: &daisy_coordinator::agent::AgentHandle,
    target: &str,
    epoch: u64,
) -> Result<u64, Option<String>> {
    let id = node
        .borrow()
        .repl
        .as_ref()
        .and_then(|r| r.coordination.as_ref())
        .and_then(|c| c.map.id_of(target))
        .ok_or_else(|| Some(format!("{target} is not in the map")))?;
    let command = daisy_coordinator::Command::Promote {
        node: id,
        expected_epoch: epoch,
        cause: daisy_coordinator::PromotionCause::Switchover,
        lost: None,
    };
    match agent.propose(command).await {
        Ok(Ok(epoch)) => Ok(epoch),
        Ok(Err(rejection)) => Err(Some(rejection.to_string())),
        Err(error) => {
            tracing::warn!(%error, "switchover commit outcome unknown");
            Err(None)
        }
    }
}

/// Starts the node's replication: the first epoch on a first start, then
/// the task that plays the node's role, for as long as the node runs.
pub fn start(node: &Rc<RefCell<Node>>) -> Result<(), String> {
    let mut guard = node.borrow_mut();
    let node_ref = &mut *guard;
    let Some(repl) = &mut node_ref.repl else {
        return Ok(());
    };
    if repl.state.epoch == 0 && repl.is_primary() {
        let journal = node_ref
            .journal
            .as_ref()
            .expect("replication needs persistence");
        let epoch = journal.last_record_epoch().max(1);
        repl.state.epoch = epoch;
        repl.state.history.begin(epoch, 1);
        repl.state
            .save(&node_ref.config.data_dir)
            .map_err(|e| e.to_string())?;
    }
    if let Some(journal) = &mut node_ref.journal {
        journal.set_epoch(repl.state.epoch.max(journal.epoch()));
    }
    if !repl.is_primary() {
        node_ref.db.set_delete_expired(false);
    }
    let coordinated = repl.coordination.is_some();
    drop(guard);
    if coordinated {
        coordination::start(node);
    }
    tokio::task::spawn_local(drive(node.clone()));
    Ok(())
}

/// Plays the node's current role; starts over whenever the role changes.
async fn drive(node: Rc<RefCell<Node>>) {
    loop {
        let (primary, generation) = {
            let node = node.borrow();
            let repl = node.repl.as_ref().expect("replication");
            (repl.is_primary(), repl.generation)
        };
        if primary {
            primary::watch_epochs(&node, generation).await;
        } else {
            secondary::follow(&node, generation).await;
        }
    }
}

/// True while the node's role is still the one of `generation`.
fn current(node: &Rc<RefCell<Node>>, generation: u64) -> bool {
    node.borrow()
        .repl
        .as_ref()
        .is_some_and(|r| r.generation == generation)
}

/// Waits for a role change or `duration`, whichever comes first.
async fn pause(node: &Rc<RefCell<Node>>, duration: Duration) {
    let changed = node
        .borrow()
        .repl
        .as_ref()
        .map(|r| r.role_changed.clone())
        .expect("replication");
    let _ = tokio::time::timeout(duration, changed.notified()).await;
}
