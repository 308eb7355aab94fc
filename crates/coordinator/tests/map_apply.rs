//! `ClusterMap::apply` without Raft: each command's validation and effect,
//! and determinism (the same commands give the same map).

use daisy_coordinator::{
    AsyncRole, ClusterMap, Command, EventKind, LsnRange, Model, NodeInfo, NodeKind, PromotionCause,
    Rejection, Role, SafenessLevel, EVENT_LOG_MAX,
};

fn node(id: u64, kind: NodeKind) -> NodeInfo {
    NodeInfo {
        id,
        name: format!("n{id}"),
        client_addr: format!("127.0.0.1:{}", 7000 + id),
        peer_addr: format!("127.0.0.1:{}", 7100 + id),
        kind,
    }
}

/// Two data nodes (1, 2) and an arbiter (3); 1 is primary at epoch 1, 2 in sync.
fn pair() -> ClusterMap {
    let mut map = ClusterMap::new(Model::ActiveStandby, SafenessLevel::TwoSafe);
    for info in [
        node(1, NodeKind::Data),
        node(2, NodeKind::Data),
        node(3, NodeKind::Arbiter),
    ] {
        assert_eq!(map.apply(&Command::AddNode(info)), Ok(0));
    }
    let bootstrap = Command::Promote {
        node: 1,
        expected_epoch: 0,
        cause: PromotionCause::Bootstrap,
        lost: None,
    };
    assert_eq!(map.apply(&bootstrap), Ok(1));
    let in_sync = Command::SetRole {
        node: 2,
        role: Role::InSync,
        expected_epoch: 1,
    };
    assert_eq!(map.apply(&in_sync), Ok(1));
    map
}

fn failover(node: u64, expected_epoch: u64) -> Command {
    Command::Promote {
        node,
        expected_epoch,
        cause: PromotionCause::Failover,
        lost: None,
    }
}

#[test]
fn promote_bumps_the_epoch_and_records_an_event() {
    let mut map = pair();
    let lost = Some(LsnRange {
        first_lsn: 10,
        last_lsn: 12,
    });
    let command = Command::Promote {
        node: 2,
        expected_epoch: 1,
        cause: PromotionCause::Failover,
        lost,
    };
    assert_eq!(map.apply(&command), Ok(2));
    assert_eq!(map.fragment.primary, Some(2));
    assert!(
        map.fragment.in_sync.is_empty(),
        "the old primary rejoins only through SetRole"
    );
    let event = map.events.back().expect("an event");
    assert_eq!(event.epoch, 2);
    assert_eq!(
        event.kind,
        EventKind::Promotion {
            from: Some(1),
            to: 2,
            cause: PromotionCause::Failover,
            lost
        }
    );
}

#[test]
fn promote_with_a_stale_epoch_is_rejected_and_changes_nothing() {
    let mut map = pair();
    let before = map.clone();
    assert_eq!(
        map.apply(&failover(2, 0)),
        Err(Rejection::StaleEpoch {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(map, before);
}

#[test]
fn only_in_sync_data_nodes_are_promoted() {
    let mut map = pair();
    assert_eq!(map.apply(&failover(3, 1)), Err(Rejection::NotDataNode(3)));
    assert_eq!(map.apply(&failover(1, 1)), Err(Rejection::IsPrimary(1)));
    assert_eq!(map.apply(&failover(9, 1)), Err(Rejection::UnknownNode(9)));
    map.apply(&Command::AddNode(node(4, NodeKind::Data)))
        .expect("add");
    let dr = Command::SetRole {
        node: 4,
        role: Role::Async(AsyncRole::Dr),
        expected_epoch: 1,
    };
    map.apply(&dr).expect("dr member");
    assert_eq!(map.apply(&failover(4, 1)), Err(Rejection::NotPromotable(4)));
    let by_operator = Command::Promote {
        node: 4,
        expected_epoch: 1,
        cause: PromotionCause::Operator,
        lost: None,
    };
    assert_eq!(
        map.apply(&by_operator),
        Ok(2),
        "an operator may promote a dr member"
    );
}

#[test]
fn set_role_moves_a_node_between_sets_and_is_fenced_by_epoch() {
    let mut map = pair();
    let to_spare = Command::SetRole {
        node: 2,
        role: Role::Spare,
        expected_epoch: 1,
    };
    map.apply(&to_spare).expect("spare");
    assert_eq!(map.fragment.role_of(2), Role::Spare);
    assert!(map.fragment.in_sync.is_empty());
    let stale = Command::SetRole {
        node: 2,
        role: Role::None,
        expected_epoch: 0,
    };
    assert!(matches!(
        map.apply(&stale),
        Err(Rejection::StaleEpoch { .. })
    ));
    let primary = Command::SetRole {
        node: 1,
        role: Role::InSync,
        expected_epoch: 1,
    };
    assert_eq!(map.apply(&primary), Err(Rejection::IsPrimary(1)));
}

#[test]
fn nodes_are_added_once_and_the_primary_is_never_removed() {
    let mut map = pair();
    assert_eq!(
        map.apply(&Command::AddNode(node(2, NodeKind::Data))),
        Err(Rejection::DuplicateNode(2))
    );
    assert_eq!(
        map.apply(&Command::RemoveNode { node: 1 }),
        Err(Rejection::IsPrimary(1))
    );
    map.apply(&Command::SetPreferred { node: Some(2) })
        .expect("preferred");
    map.apply(&Command::RemoveNode { node: 2 }).expect("remove");
    assert!(!map.nodes.contains_key(&2));
    assert_eq!(map.fragment.preferred_primary, None);
    assert!(map.fragment.in_sync.is_empty());
}

#[test]
fn preferred_safeness_and_model_are_set() {
    let mut map = pair();
    assert_eq!(
        map.apply(&Command::SetPreferred { node: Some(3) }),
        Err(Rejection::NotDataNode(3))
    );
    map.apply(&Command::SetPreferred { node: Some(1) })
        .expect("preferred");
    map.apply(&Command::SetSafeness {
        level: SafenessLevel::VerySafe,
    })
    .expect("safeness");
    map.apply(&Command::SetModel {
        model: Model::ActiveSpare,
    })
    .expect("model");
    assert_eq!(map.fragment.preferred_primary, Some(1));
    assert_eq!(map.fragment.safeness, SafenessLevel::VerySafe);
    assert_eq!(map.fragment.model, Model::ActiveSpare);
    let level: daisy_replication::Safeness = map.fragment.safeness.into();
    assert_eq!(level.name(), "very-safe");
}

#[test]
fn the_event_log_is_bounded_and_keeps_counting() {
    let mut map = pair();
    let promotions = EVENT_LOG_MAX as u64 + 10;
    for _ in 0..promotions {
        let epoch = map.fragment.epoch;
        let old = map.fragment.primary.expect("primary");
        let new = if old == 1 { 2 } else { 1 };
        map.apply(&failover(new, epoch)).expect("failover");
        let rejoin = Command::SetRole {
            node: old,
            role: Role::InSync,
            expected_epoch: epoch + 1,
        };
        map.apply(&rejoin).expect("rejoin");
    }
    assert_eq!(map.events.len(), EVENT_LOG_MAX);
    assert_eq!(map.last_event_seq, promotions + 1);
    assert_eq!(
        map.events.back().map(|event| event.seq),
        Some(promotions + 1)
    );
    assert_eq!(map.fragment.epoch, promotions + 1);
}

#[test]
fn apply_is_deterministic() {
    let commands = [
        Command::AddNode(node(4, NodeKind::Data)),
        failover(2, 1),
        Command::SetRole {
            node: 4,
            role: Role::InSync,
            expected_epoch: 2,
        },
        failover(1, 1),
        failover(4, 2),
        Command::RemoveNode { node: 2 },
    ];
    let (mut first, mut second) = (pair(), pair());
    let outcomes_first: Vec<_> = commands
        .iter()
        .map(|command| first.apply(command))
        .collect();
    let outcomes_second: Vec<_> = commands
        .iter()
        .map(|command| second.apply(command))
        .collect();
    assert_eq!(outcomes_first, outcomes_second);
    assert_eq!(first, second);
    assert_eq!(
        postcard::to_allocvec(&first).ok(),
        postcard::to_allocvec(&second).ok()
    );
}
