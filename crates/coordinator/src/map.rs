//! The cluster map: the coordinator's replicated state, and `apply`, the
//! pure function that changes it.
//!
//! `apply` reads nothing but the map and the command: no clock, no I/O, no
//! randomness, so every voter that applies the same log holds the same map.
//! It validates everything before it changes anything, and checks the map's
//! invariants after every change (a broken one is a bug: it panics).
//!
//! `version` counts the commands that changed the map (rejections do not),
//! so a reader can tell two maps apart cheaply and see that its copy moved.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::command::{Command, Outcome, Rejection};
use crate::event::{Event, EventKind, LsnRange, PromotionCause, EVENT_LOG_MAX};
use crate::fragment::{AsyncRole, Fragment, Model, Role, SafenessLevel};
use crate::NodeId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    /// Holds replicas and may vote.
    Data,
    /// Only votes in the coordinator.
    Arbiter,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: NodeId,
    /// The operator's name for the node (`--node-id`).
    pub name: String,
    pub client_addr: String,
    pub peer_addr: String,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMap {
    pub nodes: BTreeMap<NodeId, NodeInfo>,
    /// The one fragment (id 0) of the models built so far.
    pub fragment: Fragment,
    /// The newest `EVENT_LOG_MAX` events, oldest first.
    pub events: VecDeque<Event>,
    /// The `seq` of the newest event ever recorded (0: none).
    pub last_event_seq: u64,
    /// How many commands changed the map: one more after every `apply`
    /// that returns `Ok`, unchanged by rejections.
    pub version: u64,
}

impl Default for ClusterMap {
    fn default() -> Self {
        ClusterMap::new(Model::ActiveStandby, SafenessLevel::TwoSafe)
    }
}

impl ClusterMap {
    pub fn new(model: Model, safeness: SafenessLevel) -> ClusterMap {
        ClusterMap {
            nodes: BTreeMap::new(),
            fragment: Fragment::new(0, model, safeness),
            events: VecDeque::new(),
            last_event_seq: 0,
            version: 0,
        }
    }

    /// The operator's name for `node`.
    pub fn name_of(&self, node: NodeId) -> Option<&str> {
        self.nodes.get(&node).map(|info| info.name.as_str())
    }

    /// The node named `name` (the lowest id, should two share a name).
    pub fn id_of(&self, name: &str) -> Option<NodeId> {
        self.nodes
            .values()
            .find(|info| info.name == name)
            .map(|info| info.id)
    }

    /// Every node of the map, data node or arbiter, in id order: the voters
    /// of the coordinator and of the primary's lease.
    pub fn voters(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Applies one command. Deterministic; changes nothing when it rejects.
    pub fn apply(&mut self, command: &Command) -> Outcome {
        let outcome = match command {
            Command::AddNode(info) => self.add_node(info),
            Command::RemoveNode { node } => self.remove_node(*node),
            Command::Promote {
                node,
                expected_epoch,
                cause,
                lost,
            } => self.promote(*node, *expected_epoch, *cause, *lost),
            Command::SetRole {
                node,
                role,
                expected_epoch,
            } => self.set_role(*node, *role, *expected_epoch),
            Command::SetPreferred { node } => self.set_preferred(*node),
            Command::SetSafeness { level } => {
                self.fragment.safeness = *level;
                Ok(self.fragment.epoch)
            }
            Command::SetModel { model } => {
                self.fragment.model = *model;
                Ok(self.fragment.epoch)
            }
            Command::Form {
                nodes,
                primary,
                in_sync,
                async_members,
                spares,
                epoch,
                preferred,
                safeness,
                model,
            } => self.form(
                nodes,
                Fragment {
                    id: self.fragment.id,
                    primary: Some(*primary),
                    in_sync: in_sync.iter().copied().collect(),
                    async_members: async_members.iter().copied().collect(),
                    spares: spares.iter().copied().collect(),
                    epoch: *epoch,
                    preferred_primary: *preferred,
                    safeness: *safeness,
                    model: *model,
                },
                in_sync.len() + async_members.len() + spares.len(),
            ),
            Command::ReplaceWithSpare {
                dead,
                spare,
                expected_epoch,
            } => self.replace_with_spare(*dead, *spare, *expected_epoch),
            Command::RecordSetAside {
                node,
                epoch,
                records,
            } => self.record_set_aside(*node, *epoch, *records),
        };
        if outcome.is_ok() {
            self.version += 1;
        }
        self.check_invariants();
        outcome
    }

    /// `fragment` is the fragment `Form` asks for; `listed` is how many
    /// role entries the command listed (duplicates collapse in the sets).
    fn form(&mut self, nodes: &[NodeInfo], fragment: Fragment, listed: usize) -> Outcome {
        if !self.nodes.is_empty() {
            return Err(Rejection::AlreadyFormed);
        }
        validate_form(nodes, &fragment, listed).map_err(Rejection::Invalid)?;
        if fragment.epoch <= self.fragment.epoch {
            return Err(Rejection::Invalid(format!(
                "epoch {} would not be above the fragment's {}",
                fragment.epoch, self.fragment.epoch
            )));
        }
        let primary = fragment.primary;
        self.nodes = nodes.iter().map(|info| (info.id, info.clone())).collect();
        self.fragment = fragment;
        self.record(EventKind::Promotion {
            from: None,
            to: primary.expect("validated: a primary"),
            cause: PromotionCause::Bootstrap,
            lost: None,
        });
        Ok(self.fragment.epoch)
    }

    fn replace_with_spare(&mut self, dead: NodeId, spare: NodeId, expected_epoch: u64) -> Outcome {
        self.at_epoch(expected_epoch)?;
        self.data_node(dead)?;
        self.data_node(spare)?;
        if self.fragment.primary == Some(dead) {
            return Err(Rejection::IsPrimary(dead));
        }
        if !matches!(self.fragment.role_of(dead), Role::InSync | Role::None) {
            return Err(Rejection::NotReplaceable(dead));
        }
        if self.fragment.role_of(spare) != Role::Spare {
            return Err(Rejection::NotSpare(spare));
        }
        self.fragment.set_role(dead, Role::Spare);
        self.fragment.set_role(spare, Role::None);
        Ok(self.fragment.epoch)
    }

    fn add_node(&mut self, info: &NodeInfo) -> Outcome {
        if self.nodes.contains_key(&info.id) {
            return Err(Rejection::DuplicateNode(info.id));
        }
        self.nodes.insert(info.id, info.clone());
        Ok(self.fragment.epoch)
    }

    fn remove_node(&mut self, node: NodeId) -> Outcome {
        self.known(node)?;
        if self.fragment.primary == Some(node) {
            return Err(Rejection::IsPrimary(node));
        }
        self.fragment.clear_role(node);
        if self.fragment.preferred_primary == Some(node) {
            self.fragment.preferred_primary = None;
        }
        self.nodes.remove(&node);
        Ok(self.fragment.epoch)
    }

    fn promote(
        &mut self,
        node: NodeId,
        expected_epoch: u64,
        cause: PromotionCause,
        lost: Option<crate::LsnRange>,
    ) -> Outcome {
        self.at_epoch(expected_epoch)?;
        self.data_node(node)?;
        let from = self.fragment.primary;
        if from == Some(node) {
            if !matches!(cause, PromotionCause::Restart | PromotionCause::Reclaim) {
                return Err(Rejection::IsPrimary(node));
            }
            // The same primary at the next epoch; every role stays.
            self.fragment.epoch += 1;
            self.record(EventKind::Promotion {
                from,
                to: node,
                cause,
                lost: None,
            });
            return Ok(self.fragment.epoch);
        }
        if matches!(cause, PromotionCause::Restart | PromotionCause::Reclaim) {
            return Err(Rejection::Invalid(format!(
                "node {node} is not the primary: only the primary is promoted again ({cause:?})"
            )));
        }
        let promotable = match self.fragment.role_of(node) {
            _ if from.is_none() => true,
            Role::InSync => true,
            // A catching-up secondary: at 1-safe its missing tail is lost
            // (and reported in `lost`); above, it may lack acknowledged writes.
            Role::None => self.fragment.safeness == SafenessLevel::OneSafe,
            Role::Async(AsyncRole::Dr) => cause == PromotionCause::Operator,
            _ => false,
        };
        if !promotable {
            return Err(Rejection::NotPromotable(node));
        }
        self.fragment.clear_role(node);
        self.fragment.primary = Some(node);
        self.fragment.epoch += 1;
        self.record(EventKind::Promotion {
            from,
            to: node,
            cause,
            lost,
        });
        Ok(self.fragment.epoch)
    }

    fn set_role(&mut self, node: NodeId, role: Role, expected_epoch: u64) -> Outcome {
        self.at_epoch(expected_epoch)?;
        self.data_node(node)?;
        if self.fragment.primary == Some(node) {
            return Err(Rejection::IsPrimary(node));
        }
        self.fragment.set_role(node, role);
        Ok(self.fragment.epoch)
    }

    fn set_preferred(&mut self, node: Option<NodeId>) -> Outcome {
        if let Some(node) = node {
            self.data_node(node)?;
        }
        self.fragment.preferred_primary = node;
        Ok(self.fragment.epoch)
    }

    fn record_set_aside(&mut self, node: NodeId, epoch: u64, records: LsnRange) -> Outcome {
        if !self.nodes.contains_key(&node) {
            return Err(Rejection::UnknownNode(node));
        }
        if epoch > self.fragment.epoch || records.first_lsn > records.last_lsn {
            return Err(Rejection::Invalid(format!(
                "records {}..={} set aside at epoch {epoch} (the fragment is at {})",
                records.first_lsn, records.last_lsn, self.fragment.epoch
            )));
        }
        self.record(EventKind::SetAside {
            node,
            against: epoch,
            records,
        });
        Ok(self.fragment.epoch)
    }

    fn record(&mut self, kind: EventKind) {
        self.last_event_seq += 1;
        if self.events.len() == EVENT_LOG_MAX {
            self.events.pop_front();
        }
        self.events.push_back(Event {
            seq: self.last_event_seq,
            epoch: self.fragment.epoch,
            kind,
        });
    }

    fn at_epoch(&self, expected_epoch: u64) -> Result<(), Rejection> {
        if expected_epoch == self.fragment.epoch {
            Ok(())
        } else {
            Err(Rejection::StaleEpoch {
                expected: expected_epoch,
                actual: self.fragment.epoch,
            })
        }
    }

    fn known(&self, node: NodeId) -> Result<&NodeInfo, Rejection> {
        self.nodes.get(&node).ok_or(Rejection::UnknownNode(node))
    }

    fn data_node(&self, node: NodeId) -> Result<(), Rejection> {
        match self.known(node)?.kind {
            NodeKind::Data => Ok(()),
            NodeKind::Arbiter => Err(Rejection::NotDataNode(node)),
        }
    }

    /// Asserts the map's invariants; cheap enough for release builds.
    pub fn check_invariants(&self) {
        let fragment = &self.fragment;
        let members = fragment
            .in_sync
            .iter()
            .chain(fragment.async_members.keys())
            .chain(fragment.spares.iter())
            .chain(fragment.primary.iter())
            .chain(fragment.preferred_primary.iter());
        for node in members {
            let info = self.nodes.get(node);
            assert!(
                matches!(
                    info,
                    Some(NodeInfo {
                        kind: NodeKind::Data,
                        ..
                    })
                ),
                "fragment member {node} is not a data node of the map"
            );
        }
        let role_count =
            fragment.in_sync.len() + fragment.async_members.len() + fragment.spares.len();
        let distinct: std::collections::BTreeSet<_> = fragment
            .in_sync
            .iter()
            .chain(fragment.async_members.keys())
            .chain(fragment.spares.iter())
            .collect();
        assert_eq!(distinct.len(), role_count, "a node holds two roles");
        if let Some(primary) = fragment.primary {
            assert!(
                !distinct.contains(&primary),
                "the primary also holds a secondary role"
            );
        }
        assert!(self.events.len() <= EVENT_LOG_MAX);
        assert!(
            self.events
                .iter()
                .zip(self.events.iter().skip(1))
                .all(|(a, b)| a.seq + 1 == b.seq && a.epoch <= b.epoch),
            "event log out of order"
        );
    }
}

/// Checks a `Form` command: its nodes, and the fragment built from it
/// (`listed` is how many role entries it listed; duplicates collapse in the
/// fragment's sets). Returns why it is invalid.
fn validate_form(nodes: &[NodeInfo], fragment: &Fragment, listed: usize) -> Result<(), String> {
    let ids: BTreeSet<NodeId> = nodes.iter().map(|info| info.id).collect();
    let names: BTreeSet<&str> = nodes.iter().map(|info| info.name.as_str()).collect();
    if ids.len() != nodes.len() || names.len() != nodes.len() {
        return Err("two nodes share an id or a name".to_string());
    }
    if fragment.epoch == 0 {
        return Err("the epoch must be at least 1".to_string());
    }
    let is_data_node = |node: &NodeId| {
        nodes
            .iter()
            .any(|info| info.id == *node && info.kind == NodeKind::Data)
    };
    let role_holders = fragment
        .in_sync
        .iter()
        .chain(fragment.async_members.keys())
        .chain(fragment.spares.iter())
        .chain(fragment.primary.iter());
    let members = role_holders
        .clone()
        .chain(fragment.preferred_primary.iter());
    if let Some(node) = members.clone().find(|node| !is_data_node(node)) {
        return Err(format!("member {node} is not a data node of the map"));
    }
    let distinct = fragment.in_sync.len() + fragment.async_members.len() + fragment.spares.len();
    if distinct != listed {
        return Err("a node is listed twice in one role".to_string());
    }
    let mut seen = BTreeSet::new();
    for node in role_holders {
        if !seen.insert(*node) {
            return Err(format!("node {node} holds two roles"));
        }
    }
    Ok(())
}
