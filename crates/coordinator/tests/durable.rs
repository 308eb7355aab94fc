//! The durable stores: a voter group that stops entirely comes back with its
//! vote, log and applied map; a torn log tail is cut; snapshots carry the
//! map across a purged log.

mod common;

use std::io::Write;

use common::{node_info, pair_commands, test_dir, Cluster};
use daisy_coordinator::{Command, Knobs, LogStore, NodeKind, StateMachineStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_group_recovers_its_map_from_disk() {
    let root = test_dir("restart");
    let mut cluster = Cluster::durable(3, Knobs::for_tests(), &root).await;
    for command in pair_commands() {
        assert!(cluster.propose(command).await.is_ok());
    }
    let before = cluster.converged().await;
    let term_before = cluster.coordinator(cluster.leader().await).term();

    // Every voter stops; new processes open the same directories and find
    // the vote and log they had.
    cluster.stop_all().await;
    for index in 0..cluster.voters.len() {
        let (vote, last_log_id) = (
            cluster.voters[index].log.vote(),
            cluster.voters[index].log.last_log_id(),
        );
        let id = cluster.voters[index].id;
        cluster.reopen_stores(id);
        assert_eq!(cluster.voters[index].log.vote(), vote, "voter {id}'s vote");
        assert_eq!(
            cluster.voters[index].log.last_log_id(),
            last_log_id,
            "voter {id}'s log"
        );
        cluster.start(id).await;
    }
    let leader = cluster.leader().await;
    assert!(cluster.coordinator(leader).term() >= term_before);
    assert_eq!(cluster.converged().await, before);

    // And the group goes on committing.
    assert!(cluster
        .propose(Command::SetPreferred { node: Some(2) })
        .await
        .is_ok());
    assert_eq!(
        cluster.converged().await.fragment.preferred_primary,
        Some(2)
    );
    cluster.stop_all().await;
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_survives_snapshots_and_a_purged_log() {
    let root = test_dir("snapshot");
    let knobs = Knobs {
        snapshot_every_entries: 5,
        log_kept_after_snapshot: 2,
        ..Knobs::for_tests()
    };
    let mut cluster = Cluster::durable(3, knobs, &root).await;
    for id in 10..40 {
        assert!(cluster
            .propose(Command::AddNode(node_info(id, NodeKind::Data)))
            .await
            .is_ok());
    }
    let before = cluster.converged().await;
    cluster.stop_all().await;
    for id in cluster.ids() {
        assert!(root.join(id.to_string()).join("map.snapshot").exists());
        cluster.reopen_stores(id);
    }
    // Before any election: each voter rebuilt its map from its snapshot and
    // the committed entries after it.
    for id in cluster.ids() {
        cluster.start(id).await;
        assert_eq!(
            cluster.coordinator(id).map(),
            before,
            "voter {id} after restart"
        );
    }
    cluster.stop_all().await;
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_log_tail_is_cut_and_damage_before_it_is_refused() {
    let root = test_dir("torn");
    let mut cluster = Cluster::durable(3, Knobs::for_tests(), &root).await;
    assert!(cluster
        .propose(Command::AddNode(node_info(10, NodeKind::Data)))
        .await
        .is_ok());
    cluster.converged().await;
    cluster.stop_all().await;

    // A record cut short by a crash: recovery drops it and goes on.
    let log_path = root.join("1").join("raft.log");
    let intact = std::fs::read(&log_path).expect("read log");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .expect("open log");
    file.write_all(&[0, 0, 0, 40, 1, 2, 3])
        .expect("append torn record");
    drop(file);
    LogStore::open(&root.join("1")).expect("a torn tail is not fatal");
    assert_eq!(
        std::fs::read(&log_path).expect("read log"),
        intact,
        "the torn record was cut"
    );

    // A damaged record with valid ones after it is corruption.
    let mut damaged = intact.clone();
    damaged[20] ^= 0xff;
    std::fs::write(&log_path, &damaged).expect("write damaged log");
    let error = LogStore::open(&root.join("1"))
        .err()
        .expect("damage is refused");
    assert!(error.to_string().contains("offset"), "{error}");

    // A damaged snapshot is refused too, naming the file.
    std::fs::write(root.join("1").join("map.snapshot"), b"DAISYRSN garbage").expect("write");
    let error = StateMachineStore::open(&root.join("1"))
        .err()
        .expect("refused");
    assert!(error.to_string().contains("map.snapshot"), "{error}");
    let _ = std::fs::remove_dir_all(&root);
}
