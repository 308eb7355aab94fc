//! The coordinator group on the in-process transport: elections, commits,
//! convergence, and the faults a voter group must survive.

mod common;

use std::time::{Duration, Instant};

use common::{node_info, pair_commands, Cluster};
use daisy_coordinator::{Command, Knobs, NodeKind, PromotionCause, ProposeError, Rejection};

/// The longest a new leader may take to be agreed after the old one died
/// (test timings: heartbeat 10 ms, election windows from 40 ms).
const ELECTION_MAX: Duration = Duration::from_millis(1_500);

async fn formed_pair() -> Cluster {
    let cluster = Cluster::in_memory(3, Knobs::for_tests()).await;
    for command in pair_commands() {
        assert!(cluster.propose(command).await.is_ok());
    }
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_elect_a_leader_and_every_map_converges() {
    let mut cluster = formed_pair().await;
    let map = cluster.converged().await;
    assert_eq!(map.nodes.len(), 3);
    assert_eq!(map.fragment.primary, Some(1));
    assert_eq!(map.fragment.epoch, 1);
    assert!(map.fragment.in_sync.contains(&2));
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_is_elected_every_time_the_leader_dies() {
    let mut cluster = formed_pair().await;
    let mut slowest = Duration::ZERO;
    for round in 0..20u64 {
        // Kill whichever voter leads; the other two must agree on a new
        // leader within the bound, and it must commit.
        let leader = cluster.leader().await;
        cluster.stop(leader).await;
        let died = Instant::now();
        let survivors: Vec<_> = cluster.running_ids();
        let new_leader = cluster.leader_among(&survivors).await;
        let elected_in = died.elapsed();
        assert_ne!(new_leader, leader);
        assert!(
            elected_in < ELECTION_MAX,
            "round {round}: election took {elected_in:?}"
        );
        slowest = slowest.max(elected_in);
        let preferred = Some(1 + round % 2);
        assert!(cluster
            .propose(Command::SetPreferred { node: preferred })
            .await
            .is_ok());

        // The dead voter comes back on its old stores and catches up.
        cluster.start(leader).await;
        let map = cluster.converged().await;
        assert_eq!(map.fragment.preferred_primary, preferred);
    }
    println!("slowest election after a leader death: {slowest:?}");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_keeps_committing_when_a_follower_dies() {
    let mut cluster = formed_pair().await;
    let leader = cluster.leader().await;
    let follower = cluster
        .ids()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");
    cluster.stop(follower).await;

    // A majority (leader + one) remains: commits go on, under the same leader.
    for id in 10..20 {
        let outcome = cluster
            .coordinator(leader)
            .propose(Command::AddNode(node_info(id, NodeKind::Data)));
        assert!(outcome.await.expect("committed").is_ok());
    }
    assert_eq!(cluster.leader().await, leader);

    cluster.start(follower).await;
    let map = cluster.converged().await;
    assert_eq!(map.nodes.len(), 13);
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_minority_cannot_commit() {
    let mut cluster = formed_pair().await;
    let old_leader = cluster.leader().await;
    let majority: Vec<_> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != old_leader)
        .collect();
    cluster.transport.partition(&[&[old_leader], &majority]);

    // The cut-off leader accepts the proposal but can never commit it.
    let stranded = cluster
        .coordinator(old_leader)
        .propose(Command::AddNode(node_info(99, NodeKind::Data)))
        .await;
    assert!(
        matches!(
            stranded,
            Err(ProposeError::OutcomeUnknown(_)) | Err(ProposeError::NotLeader { .. })
        ),
        "minority proposal: {stranded:?}"
    );

    // The majority elects its own leader and commits.
    let new_leader = cluster.leader_among(&majority).await;
    assert_ne!(new_leader, old_leader);
    let outcome = cluster
        .coordinator(new_leader)
        .propose(Command::AddNode(node_info(50, NodeKind::Data)));
    assert!(outcome.await.expect("majority commits").is_ok());

    // Healed, the old leader follows and its stranded entry is gone.
    cluster.transport.heal();
    let map = cluster.converged().await;
    assert!(map.nodes.contains_key(&50));
    assert!(!map.nodes.contains_key(&99), "a minority write was applied");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_at_a_stale_epoch_is_rejected_by_every_voter() {
    let mut cluster = formed_pair().await;
    let promote = |expected_epoch| Command::Promote {
        node: 2,
        expected_epoch,
        cause: PromotionCause::Failover,
        lost: None,
    };
    assert_eq!(cluster.propose(promote(1)).await, Ok(2));
    let before = cluster.converged().await;
    assert_eq!(
        cluster.propose(promote(1)).await,
        Err(Rejection::StaleEpoch {
            expected: 1,
            actual: 2
        })
    );
    let after = cluster.converged().await;
    assert_eq!(before, after);
    assert_eq!(after.fragment.primary, Some(2));
    cluster.stop_all().await;
}
