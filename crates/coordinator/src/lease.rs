//! Primary leases granted by a quorum of voters (DESIGN.md section 6): the
//! pure logic of both sides, with the time passed in (`now_ms`), no I/O.
//!
//! A primary P serves only while it holds a lease. Every heartbeat it starts
//! a *round* (`LeaseHolder::start_round`) and asks every voter (itself too,
//! if it is one) for a grant at its epoch. A round sent at P's time `t` is
//! valid until `t + lease_ms * (100 - DRIFT_PERCENT) / 100` once a majority
//! of the voters granted it. A voter (`Grants`) grants only if its map says
//! P is primary at that epoch and it has not revoked P at that epoch.
//!
//! Before a failover the coordinator leader revokes P at a majority of the
//! voters (`Grants::revoke`). Each of them stops granting P at that epoch
//! and answers how long its newest grant, to anyone, may still be in force;
//! the leader waits the largest answer (plus a margin for the drift between
//! its clock and the voters') before it proposes the promotion.
//!
//! # Why no two primaries serve at once
//!
//! - *Each round needs a revoker.* Every round that gives P a lease was
//!   granted by a majority of the voters; every revocation reached a
//!   majority. Two majorities of one voter set intersect, so each of P's
//!   rounds was granted by at least one voter V that also revoked P.
//! - *V's grant came before its revocation.* After revoking, V refuses P at
//!   that epoch (and at every older epoch), so its grant to that round was
//!   given at V's time `g`, before the revocation, and after P sent the
//!   round at P's time `t`.
//! - *V's answer covers the round.* The round ends once P's clock has moved
//!   `lease_ms * (100 - DRIFT_PERCENT) / 100` past `t`. With clock rates
//!   differing by at most `DRIFT_PERCENT`, that takes at most `lease_ms` on
//!   V's clock, counted from before `g`: the round is over by V's time
//!   `g + lease_ms`, which is no later than V's newest grant plus
//!   `lease_ms`, the end V reported. The leader starts waiting only after
//!   the answer arrived, so it waits at least that long.
//! - So when the leader proposes (and a fortiori when the promotion
//!   commits), every lease P obtained at that epoch has ended, and no new
//!   one can be obtained.
//!
//! A voter that restarted remembers no grants, so it treats its own start as
//! a grant: it answers `start + lease_ms - now` at least. Revocations are
//! kept in memory too: an agent that wants them to outlive a restart must
//! store `Grants::revoked()` (with its term) before answering, and call
//! `revoke` again at start. Otherwise a voter restarting between a
//! revocation and the commit of the promotion could grant P again.
//!
//! # When a revocation is lifted
//!
//! (a) the voter's map epoch moved past the revoked epoch (P is no longer
//! primary there: the map alone refuses it); (b) the revoking leader sends
//! `unrevoke` with the same term (it gave up before proposing); (c) the
//! voter applied a Raft entry of a term greater than the revoking term while
//! its map is still at the revoked epoch: by log matching and leader
//! completeness, an entry proposed in the revoking term that is not in the
//! voter's log before that later-term entry can never commit, so the
//! promotion the revocation prepared never will.
//!
//! Even lifted, a revocation leaves a floor: a voter never grants again at
//! an epoch below the highest it was ever asked to revoke, since that epoch
//! was already in a committed map.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::map::ClusterMap;
use crate::NodeId;

/// How much faster one node's clock may run than another's, in percent. A
/// primary shortens its lease by this much.
pub const DRIFT_PERCENT: u64 = 5;

/// How many unanswered rounds a `LeaseHolder` keeps; older ones are dropped.
pub const ROUNDS_PENDING_MAX: usize = 32;

/// Why a voter refused a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Denial {
    /// The voter's map has another primary, or is at another epoch.
    NotPrimary { primary: Option<NodeId>, epoch: u64 },
    /// The voter revoked the lease at `epoch` (a failover is being prepared,
    /// or the epoch is superseded): stop serving.
    Revoked { epoch: u64 },
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denial::NotPrimary {
                primary: Some(primary),
                epoch,
            } => write!(f, "not primary: node {primary} is at epoch {epoch}"),
            Denial::NotPrimary {
                primary: None,
                epoch,
            } => write!(f, "not primary: no primary at epoch {epoch}"),
            Denial::Revoked { epoch } => write!(f, "lease revoked at epoch {epoch}"),
        }
    }
}

impl std::error::Error for Denial {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Revocation {
    primary: NodeId,
    epoch: u64,
    /// The Raft term of the leader that revoked.
    term: u64,
}

/// The voter's side: whom it grants leases to, and what it revoked.
#[derive(Clone, Debug)]
pub struct Grants {
    lease_ms: u64,
    /// The newest grant given to anyone, or the start time.
    newest_grant_ms: u64,
    revocation: Option<Revocation>,
    /// No grant at an epoch below this (the highest epoch ever revoked).
    epoch_floor: u64,
}

impl Grants {
    /// A voter that starts at `now_ms`; it counts its start as a grant,
    /// since it cannot know what it granted before.
    pub fn new(lease_ms: u64, now_ms: u64) -> Grants {
        Grants {
            lease_ms,
            newest_grant_ms: now_ms,
            revocation: None,
            epoch_floor: 0,
        }
    }

    /// P asks for a grant at `epoch`.
    pub fn request(
        &mut self,
        map: &ClusterMap,
        from: NodeId,
        epoch: u64,
        now_ms: u64,
    ) -> Result<(), Denial> {
        let fragment = &map.fragment;
        if self
            .revocation
            .is_some_and(|revoked| fragment.epoch > revoked.epoch)
        {
            self.revocation = None;
        }
        if fragment.primary != Some(from) || fragment.epoch != epoch {
            return Err(Denial::NotPrimary {
                primary: fragment.primary,
                epoch: fragment.epoch,
            });
        }
        let revoked = self
            .revocation
            .is_some_and(|revoked| revoked.epoch == epoch);
        if revoked || epoch < self.epoch_floor {
            return Err(Denial::Revoked { epoch });
        }
        self.newest_grant_ms = self.newest_grant_ms.max(now_ms);
        Ok(())
    }

    /// Stops granting `primary` at `epoch`; returns ms the newest grant (to
    /// anyone; or the start time) may still be in force.
    pub fn revoke(&mut self, primary: NodeId, epoch: u64, term: u64, now_ms: u64) -> u64 {
        let revocation = Revocation {
            primary,
            epoch,
            term,
        };
        let replaces = match self.revocation {
            None => true,
            Some(held) => (epoch, term) > (held.epoch, held.term),
        };
        if replaces {
            self.revocation = Some(revocation);
        }
        self.epoch_floor = self.epoch_floor.max(epoch);
        (self.newest_grant_ms + self.lease_ms).saturating_sub(now_ms)
    }

    /// The leader of `term` gave up the failover it revoked `epoch` for.
    pub fn unrevoke(&mut self, epoch: u64, term: u64) {
        if self
            .revocation
            .is_some_and(|held| held.epoch == epoch && held.term == term)
        {
            self.revocation = None;
        }
    }

    /// The voter's map is at `map_epoch` and the newest entry it applied is
    /// of `applied_term`: lifts a revocation that can no longer lead to a
    /// promotion (rules (a) and (c) of the module doc).
    pub fn settle(&mut self, map_epoch: u64, applied_term: u64) {
        let Some(held) = self.revocation else {
            return;
        };
        let superseded = map_epoch > held.epoch;
        let abandoned = map_epoch == held.epoch && applied_term > held.term;
        if superseded || abandoned {
            self.revocation = None;
        }
    }

    /// The revocation in force: (primary, epoch).
    pub fn revoked(&self) -> Option<(NodeId, u64)> {
        self.revocation.map(|held| (held.primary, held.epoch))
    }

    /// The revocation in force with the term of the leader that made it, for
    /// an agent that stores it.
    pub fn revoked_with_term(&self) -> Option<(NodeId, u64, u64)> {
        self.revocation
            .map(|held| (held.primary, held.epoch, held.term))
    }
}

#[derive(Clone, Debug)]
struct Round {
    id: u64,
    epoch: u64,
    sent_ms: u64,
    granted: BTreeSet<NodeId>,
}

/// The primary's side: its rounds of grant requests and the lease they won.
#[derive(Clone, Debug)]
pub struct LeaseHolder {
    /// Sorted, without duplicates.
    voters: Vec<NodeId>,
    lease_ms: u64,
    /// The id the next round gets; ids are never reused.
    next_round: u64,
    /// Unanswered rounds, oldest first, all of one epoch.
    rounds: VecDeque<Round>,
    /// The epoch the lease was granted at, and when it ends (P's clock).
    lease: Option<(u64, u64)>,
}

impl LeaseHolder {
    pub fn new(voters: Vec<NodeId>, lease_ms: u64) -> LeaseHolder {
        let mut holder = LeaseHolder {
            voters: Vec::new(),
            lease_ms,
            next_round: 1,
            rounds: VecDeque::new(),
            lease: None,
        };
        holder.set_voters(voters);
        holder
    }

    /// Begins a round at `epoch`; returns its id. Rounds of an older epoch
    /// are forgotten (and a lease of an older epoch ends); at most
    /// `ROUNDS_PENDING_MAX` pending rounds are kept (oldest dropped).
    pub fn start_round(&mut self, epoch: u64, now_ms: u64) -> u64 {
        self.rounds.retain(|round| round.epoch == epoch);
        if self.lease.is_some_and(|(leased, _)| leased != epoch) {
            self.lease = None;
        }
        if self.rounds.len() == ROUNDS_PENDING_MAX {
            self.rounds.pop_front();
        }
        let id = self.next_round;
        self.next_round += 1;
        self.rounds.push_back(Round {
            id,
            epoch,
            sent_ms: now_ms,
            granted: BTreeSet::new(),
        });
        id
    }

    /// `voter` granted `round`; extends the lease once a majority of voters
    /// granted it. Unknown rounds/voters are ignored.
    pub fn granted(&mut self, round: u64, voter: NodeId) {
        if self.voters.binary_search(&voter).is_err() {
            return;
        }
        let Some(index) = self.rounds.iter().position(|pending| pending.id == round) else {
            return;
        };
        let pending = &mut self.rounds[index];
        pending.granted.insert(voter);
        if pending.granted.len() * 2 <= self.voters.len() {
            return;
        }
        let (epoch, sent_ms) = (pending.epoch, pending.sent_ms);
        let until_ms = sent_ms + self.lease_ms * (100 - DRIFT_PERCENT) / 100;
        let until_ms = match self.lease {
            Some((leased, old_until_ms)) if leased == epoch => old_until_ms.max(until_ms),
            _ => until_ms,
        };
        self.lease = Some((epoch, until_ms));
        // Older rounds could only give an earlier end.
        self.rounds.drain(..=index);
    }

    /// When the lease ends on P's clock (0: no lease).
    /// The epoch of the lease held (0: none).
    pub fn epoch(&self) -> u64 {
        self.lease.map_or(0, |(epoch, _)| epoch)
    }

    pub fn valid_until_ms(&self) -> u64 {
        self.lease.map_or(0, |(_, until_ms)| until_ms)
    }

    /// Whether P may serve at `epoch` now: only for the epoch the lease was
    /// granted at.
    pub fn is_valid(&self, epoch: u64, now_ms: u64) -> bool {
        self.lease
            .is_some_and(|(leased, until_ms)| leased == epoch && now_ms < until_ms)
    }

    /// Gives the lease up (stepping down, or a revocation heard): invalid at
    /// once. Pending rounds are forgotten too, so a late grant cannot bring
    /// the lease back; only a new round can.
    pub fn relinquish(&mut self) {
        self.lease = None;
        self.rounds.clear();
    }

    /// The voters change. Grants from nodes that are no longer voters stop
    /// counting; the lease in force is kept.
    pub fn set_voters(&mut self, voters: Vec<NodeId>) {
        let mut voters = voters;
        voters.sort_unstable();
        voters.dedup();
        for round in &mut self.rounds {
            round
                .granted
                .retain(|voter| voters.binary_search(voter).is_ok());
        }
        self.voters = voters;
    }

    pub fn voters(&self) -> &[NodeId] {
        &self.voters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::fragment::{Model, SafenessLevel};
    use crate::map::{NodeInfo, NodeKind};

    const LEASE_MS: u64 = 1_000;
    /// LEASE_MS shortened by DRIFT_PERCENT.
    const HELD_MS: u64 = 950;

    fn node(id: NodeId, kind: NodeKind) -> NodeInfo {
        NodeInfo {
            id,
            name: format!("n{id}"),
            client_addr: String::new(),
            peer_addr: String::new(),
            kind,
        }
    }

    /// Nodes 1 and 2 (data) and 3 (arbiter); 1 is primary at `epoch`.
    fn map_at(primary: NodeId, epoch: u64) -> ClusterMap {
        let mut map = ClusterMap::default();
        let form = Command::Form {
            nodes: vec![
                node(1, NodeKind::Data),
                node(2, NodeKind::Data),
                node(3, NodeKind::Arbiter),
            ],
            primary,
            in_sync: vec![3 - primary],
            async_members: vec![],
            spares: vec![],
            epoch,
            preferred: None,
            safeness: SafenessLevel::TwoSafe,
            model: Model::ActiveStandby,
        };
        map.apply(&form).expect("form");
        map
    }

    #[test]
    fn a_lease_needs_a_majority_of_three_voters() {
        let mut holder = LeaseHolder::new(vec![3, 1, 2], LEASE_MS);
        let round = holder.start_round(1, 100);
        holder.granted(round, 1);
        assert!(!holder.is_valid(1, 100), "one of three is no majority");
        holder.granted(round, 1);
        assert!(!holder.is_valid(1, 100), "a repeated grant counts once");
        holder.granted(round, 9);
        assert!(!holder.is_valid(1, 100), "not a voter");
        holder.granted(round + 1, 2);
        assert!(!holder.is_valid(1, 100), "an unknown round");
        holder.granted(round, 2);
        assert!(holder.is_valid(1, 100));
        assert_eq!(holder.valid_until_ms(), 100 + HELD_MS);
        assert!(holder.is_valid(1, 100 + HELD_MS - 1));
        assert!(!holder.is_valid(1, 100 + HELD_MS));
        assert!(!holder.is_valid(2, 100), "only at the epoch granted");
    }

    #[test]
    fn a_lease_needs_three_of_five_voters_and_runs_from_the_round_sent() {
        let mut holder = LeaseHolder::new(vec![1, 2, 3, 4, 5], LEASE_MS);
        let first = holder.start_round(4, 0);
        let second = holder.start_round(4, 50);
        holder.granted(second, 1);
        holder.granted(second, 2);
        assert!(!holder.is_valid(4, 60), "two of five");
        holder.granted(second, 5);
        assert_eq!(holder.valid_until_ms(), 50 + HELD_MS);
        for voter in [1, 2, 3] {
            holder.granted(first, voter);
        }
        assert_eq!(
            holder.valid_until_ms(),
            50 + HELD_MS,
            "an older round never shortens nor extends a newer one"
        );
    }

    #[test]
    fn a_new_epoch_forgets_the_old_rounds_and_lease() {
        let mut holder = LeaseHolder::new(vec![1, 2, 3], LEASE_MS);
        let old = holder.start_round(1, 0);
        holder.granted(old, 1);
        let new = holder.start_round(2, 10);
        holder.granted(old, 2);
        assert!(!holder.is_valid(1, 20), "the epoch-1 round was forgotten");
        holder.granted(new, 1);
        holder.granted(new, 3);
        assert!(holder.is_valid(2, 20));
        assert!(!holder.is_valid(1, 20));
        assert_eq!(holder.valid_until_ms(), 10 + HELD_MS);
    }

    #[test]
    fn only_the_newest_rounds_are_kept() {
        let mut holder = LeaseHolder::new(vec![1, 2, 3], LEASE_MS);
        let oldest = holder.start_round(1, 0);
        for sent_ms in 1..=ROUNDS_PENDING_MAX as u64 {
            holder.start_round(1, sent_ms);
        }
        holder.granted(oldest, 1);
        holder.granted(oldest, 2);
        assert!(!holder.is_valid(1, 40), "the oldest round was dropped");
        holder.granted(oldest + 1, 1);
        holder.granted(oldest + 1, 2);
        assert!(holder.is_valid(1, 40));
    }

    #[test]
    fn relinquishing_ends_the_lease_and_late_grants_do_not_revive_it() {
        let mut holder = LeaseHolder::new(vec![1, 2, 3], LEASE_MS);
        let round = holder.start_round(1, 0);
        holder.granted(round, 1);
        holder.granted(round, 2);
        let late = holder.start_round(1, 10);
        holder.granted(late, 1);
        holder.relinquish();
        assert!(!holder.is_valid(1, 20));
        assert_eq!(holder.valid_until_ms(), 0);
        holder.granted(late, 2);
        assert!(!holder.is_valid(1, 20));
    }

    #[test]
    fn grants_from_removed_voters_stop_counting() {
        let mut holder = LeaseHolder::new(vec![1, 2, 3], LEASE_MS);
        let round = holder.start_round(1, 0);
        holder.granted(round, 3);
        holder.set_voters(vec![1, 2, 4]);
        holder.granted(round, 1);
        assert!(!holder.is_valid(1, 10), "3 no longer votes");
        holder.granted(round, 4);
        assert!(holder.is_valid(1, 10));
        assert_eq!(holder.voters(), &[1, 2, 4]);
    }

    #[test]
    fn a_voter_grants_only_the_primary_of_its_map_at_its_epoch() {
        let map = map_at(1, 3);
        let mut grants = Grants::new(LEASE_MS, 0);
        assert_eq!(grants.request(&map, 1, 3, 10), Ok(()));
        let not_primary = Denial::NotPrimary {
            primary: Some(1),
            epoch: 3,
        };
        assert_eq!(grants.request(&map, 2, 3, 10), Err(not_primary.clone()));
        assert_eq!(grants.request(&map, 1, 2, 10), Err(not_primary.clone()));
        assert_eq!(grants.request(&map, 1, 4, 10), Err(not_primary));
        let empty = ClusterMap::default();
        assert_eq!(
            grants.request(&empty, 1, 0, 10),
            Err(Denial::NotPrimary {
                primary: None,
                epoch: 0
            })
        );
    }

    #[test]
    fn revoke_answers_how_long_the_newest_grant_lasts() {
        let map = map_at(1, 1);
        let mut grants = Grants::new(LEASE_MS, 0);
        grants.request(&map, 1, 1, 5_000).expect("grant");
        assert_eq!(grants.revoke(1, 1, 7, 5_300), LEASE_MS - 300);
        assert_eq!(
            grants.request(&map, 1, 1, 5_400),
            Err(Denial::Revoked { epoch: 1 }),
            "a grant after revoke is refused"
        );
        assert_eq!(
            grants.revoke(1, 1, 7, 5_500),
            LEASE_MS - 500,
            "the refused request was no grant"
        );
        assert_eq!(grants.revoke(1, 1, 7, 9_000), 0);
        assert_eq!(grants.revoked(), Some((1, 1)));
    }

    #[test]
    fn a_restarted_voter_counts_its_start_as_a_grant() {
        let mut grants = Grants::new(LEASE_MS, 20_000);
        assert_eq!(grants.revoke(1, 1, 2, 20_100), LEASE_MS - 100);
        assert_eq!(grants.revoke(1, 1, 2, 21_000), 0);
    }

    #[test]
    fn a_newer_map_epoch_lifts_a_revocation() {
        let mut grants = Grants::new(LEASE_MS, 0);
        grants.revoke(1, 1, 5, 2_000);
        grants.settle(1, 5);
        assert_eq!(grants.revoked(), Some((1, 1)), "same epoch and term");
        grants.settle(2, 5);
        assert_eq!(grants.revoked(), None);

        // `request` sees the newer map itself, too.
        grants.revoke(1, 2, 6, 2_000);
        let map = map_at(2, 3);
        assert_eq!(grants.request(&map, 2, 3, 2_100), Ok(()));
        assert_eq!(grants.revoked(), None);
    }

    #[test]
    fn unrevoke_lifts_only_the_same_terms_revocation() {
        let map = map_at(1, 4);
        let mut grants = Grants::new(LEASE_MS, 0);
        grants.revoke(1, 4, 8, 2_000);
        grants.unrevoke(4, 7);
        grants.unrevoke(3, 8);
        assert_eq!(grants.revoked(), Some((1, 4)));
        grants.unrevoke(4, 8);
        assert_eq!(grants.revoked(), None);
        assert_eq!(grants.request(&map, 1, 4, 2_100), Ok(()));
    }

    #[test]
    fn a_later_terms_entry_lifts_a_revocation_at_the_same_epoch() {
        let mut grants = Grants::new(LEASE_MS, 0);
        grants.revoke(1, 4, 8, 2_000);
        grants.settle(3, 9);
        assert_eq!(grants.revoked(), Some((1, 4)), "the map lags: keep it");
        grants.settle(4, 8);
        assert_eq!(grants.revoked(), Some((1, 4)), "the revoking term itself");
        grants.settle(4, 9);
        assert_eq!(grants.revoked(), None);
    }

    #[test]
    fn a_newer_leaders_revocation_outlives_the_older_ones_unrevoke() {
        let mut grants = Grants::new(LEASE_MS, 0);
        grants.revoke(1, 4, 8, 2_000);
        grants.revoke(1, 4, 9, 2_000);
        grants.revoke(1, 4, 7, 2_000);
        grants.unrevoke(4, 8);
        assert_eq!(grants.revoked_with_term(), Some((1, 4, 9)));
    }

    #[test]
    fn no_grant_below_the_highest_epoch_ever_revoked() {
        let lagging = map_at(1, 4);
        let mut grants = Grants::new(LEASE_MS, 0);
        grants.revoke(1, 4, 8, 2_000);
        grants.revoke(2, 5, 9, 2_000);
        grants.unrevoke(5, 9);
        assert_eq!(grants.revoked(), None);
        assert_eq!(
            grants.request(&lagging, 1, 4, 2_100),
            Err(Denial::Revoked { epoch: 4 }),
            "epoch 5 exists: epoch 4 is over"
        );
    }
}
