//! `ClusterMap::apply` without Raft: each command's validation and effect,
//! the map's version, and determinism (the same commands give the same map).

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

fn form_command() -> Command {
    Command::Form {
        nodes: vec![
            node(1, NodeKind::Data),
            node(2, NodeKind::Data),
            node(3, NodeKind::Data),
            node(4, NodeKind::Data),
            node(9, NodeKind::Arbiter),
        ],
        primary: 2,
        in_sync: vec![1],
        async_members: vec![(3, AsyncRole::Reporting)],
        spares: vec![4],
        epoch: 5,
        preferred: Some(1),
        safeness: SafenessLevel::TwoSafeCommitted,
        model: Model::ActiveSpare,
    }
}

#[test]
fn form_builds_the_whole_map_in_one_entry() {
    let mut map = ClusterMap::default();
    assert_eq!(map.apply(&form_command()), Ok(5));
    let fragment = &map.fragment;
    assert_eq!(fragment.primary, Some(2));
    assert_eq!(fragment.epoch, 5);
    assert_eq!(fragment.role_of(1), Role::InSync);
    assert_eq!(fragment.role_of(3), Role::Async(AsyncRole::Reporting));
    assert_eq!(fragment.role_of(4), Role::Spare);
    assert_eq!(fragment.preferred_primary, Some(1));
    assert_eq!(fragment.safeness, SafenessLevel::TwoSafeCommitted);
    assert_eq!(fragment.model, Model::ActiveSpare);
    assert_eq!(map.version, 1);
    let event = map.events.back().expect("an event");
    assert_eq!((event.seq, event.epoch), (1, 5));
    assert_eq!(
        event.kind,
        EventKind::Promotion {
            from: None,
            to: 2,
            cause: PromotionCause::Bootstrap,
            lost: None
        }
    );

    // Formed once: a second Form, even a valid one, is rejected.
    let before = map.clone();
    assert_eq!(map.apply(&form_command()), Err(Rejection::AlreadyFormed));
    assert_eq!(map, before);
    assert_eq!(pair().apply(&form_command()), Err(Rejection::AlreadyFormed));
}

/// Makes a valid `Form` command invalid in one way.
type Spoil = fn(&mut Command);

#[test]
fn form_validates_everything_before_changing_anything() {
    let invalid: Vec<(&str, Spoil)> = vec![
        ("arbiter primary", |c| set_primary(c, 9)),
        ("unknown primary", |c| set_primary(c, 7)),
        ("primary in sync", |c| set_primary(c, 1)),
        ("epoch 0", |c| set_epoch(c, 0)),
        ("spare in sync", |c| set_spares(c, vec![4, 1])),
        ("spare twice", |c| set_spares(c, vec![4, 4])),
        ("arbiter spare", |c| set_spares(c, vec![9])),
        ("unknown spare", |c| set_spares(c, vec![8])),
        ("arbiter preferred", |c| set_preferred(c, 9)),
        ("duplicate id", |c| push_node(c, node(1, NodeKind::Data))),
        ("duplicate name", |c| {
            push_node(
                c,
                NodeInfo {
                    name: "n1".to_string(),
                    ..node(5, NodeKind::Data)
                },
            )
        }),
    ];
    for (what, spoil) in invalid {
        let mut command = form_command();
        spoil(&mut command);
        let mut map = ClusterMap::default();
        let outcome = map.apply(&command);
        assert!(
            matches!(outcome, Err(Rejection::Invalid(_))),
            "{what}: {outcome:?}"
        );
        assert_eq!(map, ClusterMap::default(), "{what}: the map changed");
    }
}

fn set_primary(command: &mut Command, node: u64) {
    if let Command::Form { primary, .. } = command {
        *primary = node;
    }
}

fn set_epoch(command: &mut Command, value: u64) {
    if let Command::Form { epoch, .. } = command {
        *epoch = value;
    }
}

fn set_spares(command: &mut Command, nodes: Vec<u64>) {
    if let Command::Form { spares, .. } = command {
        *spares = nodes;
    }
}

fn set_preferred(command: &mut Command, node: u64) {
    if let Command::Form { preferred, .. } = command {
        *preferred = Some(node);
    }
}

fn push_node(command: &mut Command, info: NodeInfo) {
    if let Command::Form { nodes, .. } = command {
        nodes.push(info);
    }
}

fn replace(dead: u64, spare: u64, expected_epoch: u64) -> Command {
    Command::ReplaceWithSpare {
        dead,
        spare,
        expected_epoch,
    }
}

#[test]
fn a_spare_replaces_a_failed_secondary() {
    let mut map = ClusterMap::default();
    map.apply(&form_command()).expect("form");
    assert_eq!(map.apply(&replace(1, 4, 5)), Ok(5), "the epoch stays");
    assert_eq!(map.fragment.role_of(1), Role::Spare);
    assert_eq!(
        map.fragment.role_of(4),
        Role::None,
        "it catches up before it joins the in-sync set"
    );
    let rejoin = Command::SetRole {
        node: 4,
        role: Role::InSync,
        expected_epoch: 5,
    };
    map.apply(&rejoin).expect("caught up");

    // A catching-up secondary (Role::None) may be replaced too.
    let catching_up = Command::SetRole {
        node: 4,
        role: Role::None,
        expected_epoch: 5,
    };
    map.apply(&catching_up).expect("behind again");
    assert_eq!(map.apply(&replace(4, 1, 5)), Ok(5));
    assert_eq!(map.fragment.role_of(4), Role::Spare);
    assert_eq!(map.fragment.role_of(1), Role::None);
}

#[test]
fn replace_with_spare_is_fenced_and_checks_both_roles() {
    let mut map = ClusterMap::default();
    map.apply(&form_command()).expect("form");
    let before = map.clone();
    assert_eq!(
        map.apply(&replace(1, 4, 4)),
        Err(Rejection::StaleEpoch {
            expected: 4,
            actual: 5
        })
    );
    assert_eq!(map.apply(&replace(2, 4, 5)), Err(Rejection::IsPrimary(2)));
    assert_eq!(
        map.apply(&replace(3, 4, 5)),
        Err(Rejection::NotReplaceable(3)),
        "an async member is not replaced by a spare"
    );
    assert_eq!(
        map.apply(&replace(4, 4, 5)),
        Err(Rejection::NotReplaceable(4))
    );
    assert_eq!(map.apply(&replace(1, 3, 5)), Err(Rejection::NotSpare(3)));
    assert_eq!(map.apply(&replace(9, 4, 5)), Err(Rejection::NotDataNode(9)));
    assert_eq!(map.apply(&replace(1, 8, 5)), Err(Rejection::UnknownNode(8)));
    assert_eq!(map, before);
}

#[test]
fn the_version_counts_accepted_commands_only() {
    assert_eq!(ClusterMap::default().version, 0);
    let mut map = pair();
    assert_eq!(map.version, 5, "3 nodes, bootstrap, in sync");
    map.apply(&failover(2, 0)).expect_err("stale");
    map.apply(&Command::AddNode(node(1, NodeKind::Data)))
        .expect_err("duplicate");
    assert_eq!(map.version, 5);
    map.apply(&Command::SetSafeness {
        level: SafenessLevel::OneSafe,
    })
    .expect("safeness");
    assert_eq!(map.version, 6);
}

#[test]
fn names_ids_and_voters() {
    let map = pair();
    assert_eq!(map.name_of(2), Some("n2"));
    assert_eq!(map.name_of(7), None);
    assert_eq!(map.id_of("n3"), Some(3));
    assert_eq!(map.id_of("nobody"), None);
    assert_eq!(map.voters(), vec![1, 2, 3], "the arbiter votes too");
}

#[test]
fn at_one_safe_a_catching_up_secondary_may_be_promoted() {
    let mut map = pair();
    map.apply(&Command::AddNode(node(4, NodeKind::Data)))
        .expect("add");
    assert_eq!(map.apply(&failover(4, 1)), Err(Rejection::NotPromotable(4)));
    map.apply(&Command::SetSafeness {
        level: SafenessLevel::OneSafe,
    })
    .expect("1-safe");
    let lost = Some(LsnRange {
        first_lsn: 8,
        last_lsn: 9,
    });
    let command = Command::Promote {
        node: 4,
        expected_epoch: 1,
        cause: PromotionCause::Failover,
        lost,
    };
    assert_eq!(map.apply(&command), Ok(2));
    assert_eq!(map.fragment.primary, Some(4));
}

#[test]
fn a_set_aside_is_recorded_at_its_epoch_and_changes_nothing_else() {
    let mut map = pair();
    assert_eq!(map.apply(&failover(2, 1)), Ok(2));
    let fragment = map.fragment.clone();
    let records = LsnRange {
        first_lsn: 41,
        last_lsn: 44,
    };
    let set_aside = |node, epoch| Command::RecordSetAside {
        node,
        epoch,
        records,
    };
    assert_eq!(map.apply(&set_aside(1, 2)), Ok(2));
    assert_eq!(map.fragment, fragment);
    let event = map.events.back().expect("an event");
    let kind = EventKind::SetAside {
        node: 1,
        against: 2,
        records,
    };
    assert_eq!((event.epoch, &event.kind), (2, &kind));
    // One that commits after a later promotion is recorded at the map's
    // epoch, naming the epoch it was set aside against: the log stays in
    // order.
    let rejoined = Command::SetRole {
        node: 1,
        role: Role::InSync,
        expected_epoch: 2,
    };
    assert_eq!(map.apply(&rejoined), Ok(2));
    assert_eq!(map.apply(&failover(1, 2)), Ok(3));
    assert_eq!(map.apply(&set_aside(2, 2)), Ok(3));
    let event = map.events.back().expect("an event");
    let kind = EventKind::SetAside {
        node: 2,
        against: 2,
        records,
    };
    assert_eq!((event.epoch, &event.kind), (3, &kind));
    let version = map.version;
    assert_eq!(map.apply(&set_aside(9, 2)), Err(Rejection::UnknownNode(9)));
    assert!(matches!(
        map.apply(&set_aside(1, 4)),
        Err(Rejection::Invalid(_))
    ));
    let backwards = Command::RecordSetAside {
        node: 1,
        epoch: 2,
        records: LsnRange {
            first_lsn: 5,
            last_lsn: 4,
        },
    };
    assert!(matches!(map.apply(&backwards), Err(Rejection::Invalid(_))));
    assert_eq!(map.version, version, "rejections change nothing");
}

#[test]
fn a_restarted_primary_is_promoted_again_at_the_next_epoch() {
    for cause in [PromotionCause::Restart, PromotionCause::Reclaim] {
        promoted_again(cause);
    }
}

fn promoted_again(cause: PromotionCause) {
    let mut map = pair();
    let again = |node, expected_epoch| Command::Promote {
        node,
        expected_epoch,
        cause,
        lost: None,
    };
    let fragment = map.fragment.clone();
    assert_eq!(map.apply(&again(1, 1)), Ok(2));
    assert_eq!(map.fragment.primary, Some(1));
    assert_eq!(map.fragment.in_sync, fragment.in_sync, "every role stays");
    let event = map.events.back().expect("an event");
    assert_eq!(
        (event.epoch, &event.kind),
        (
            2,
            &EventKind::Promotion {
                from: Some(1),
                to: 1,
                cause,
                lost: None,
            }
        )
    );
    let version = map.version;
    assert!(matches!(
        map.apply(&again(1, 1)),
        Err(Rejection::StaleEpoch { .. })
    ));
    assert!(matches!(
        map.apply(&again(2, 2)),
        Err(Rejection::Invalid(_))
    ));
    assert_eq!(map.apply(&failover(1, 2)), Err(Rejection::IsPrimary(1)));
    assert_eq!(map.version, version);
}
