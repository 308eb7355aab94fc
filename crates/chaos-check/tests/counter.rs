//! The counter check: exact linearizability of INCR results and reads.

use daisy_chaos_check::{check_counters_linearizable, Event, History, KeyVerdict, Op, Outcome};

fn incr(invoked_us: u64, completed_us: u64, outcome: Outcome) -> Event {
    Event {
        process: 1,
        op: Op::Incr { key: "c".into() },
        invoked_us,
        completed_us,
        outcome,
    }
}

fn counted(invoked_us: u64, completed_us: u64, value: u64) -> Event {
    incr(invoked_us, completed_us, Outcome::Counted(value))
}

fn read(invoked_us: u64, completed_us: u64, value: u64) -> Event {
    Event {
        process: 2,
        op: Op::ReadCounter { key: "c".into() },
        invoked_us,
        completed_us,
        outcome: Outcome::Counted(value),
    }
}

fn verdict(events: Vec<Event>) -> KeyVerdict {
    let mut history = History::default();
    for event in events {
        history.push(event);
    }
    let verdict = check_counters_linearizable(&history);
    assert_eq!(verdict.keys.len(), 1);
    verdict.keys[0].1.clone()
}

fn assert_violation(events: Vec<Event>, expected: &str) {
    match verdict(events) {
        KeyVerdict::NotLinearizable { explanation } => {
            assert!(explanation.contains(expected), "{explanation}")
        }
        other => panic!("expected a violation with '{expected}', got {other:?}"),
    }
}

#[test]
fn overlapping_increments_may_return_in_either_order() {
    let events = vec![
        counted(0, 100, 2),
        counted(10, 50, 1),
        counted(200, 210, 3),
        read(300, 310, 3),
    ];
    assert_eq!(verdict(events), KeyVerdict::Linearizable);
}

#[test]
fn two_increments_with_one_result_are_caught() {
    assert_violation(
        vec![counted(0, 10, 1), counted(20, 30, 2), counted(40, 50, 2)],
        "both returned 2",
    );
}

#[test]
fn a_result_lower_than_an_earlier_one_is_caught() {
    assert_violation(
        vec![counted(0, 10, 1), counted(20, 30, 3), counted(40, 50, 2)],
        "completed before",
    );
}

#[test]
fn a_gap_needs_an_unknown_increment_invoked_in_time() {
    let filled = vec![
        counted(0, 10, 1),
        incr(15, 2_000, Outcome::Unknown),
        counted(20, 30, 3),
        read(100, 110, 3),
    ];
    assert_eq!(verdict(filled), KeyVerdict::Linearizable);
    let too_late = vec![
        counted(0, 10, 1),
        counted(20, 30, 3),
        incr(40, 2_000, Outcome::Unknown),
        read(100, 110, 3),
    ];
    assert_violation(too_late, "increment 2 is accounted for by no operation");
    let failed_only = vec![
        counted(0, 10, 1),
        incr(15, 18, Outcome::Failed),
        counted(20, 30, 3),
    ];
    assert_violation(failed_only, "increment 2");
}

#[test]
fn a_final_read_below_an_acknowledged_result_is_caught() {
    assert_violation(
        vec![counted(0, 10, 1), counted(20, 30, 2), read(100, 110, 1)],
        "completed before",
    );
}

#[test]
fn a_final_read_above_what_could_have_happened_is_caught() {
    let events = vec![
        counted(0, 10, 1),
        incr(20, 2_000, Outcome::Unknown),
        read(3_000, 3_010, 3),
    ];
    assert_violation(events, "increment 3");
    let one_extra = vec![
        counted(0, 10, 1),
        incr(20, 2_000, Outcome::Unknown),
        read(3_000, 3_010, 2),
    ];
    assert_eq!(verdict(one_extra), KeyVerdict::Linearizable);
}

#[test]
fn a_read_must_fall_between_its_increment_and_the_next() {
    let events = vec![counted(0, 10, 1), read(20, 30, 0), counted(40, 50, 2)];
    assert_violation(events, "completed before");
    let after_the_next = vec![counted(0, 100, 1), counted(40, 50, 2), read(60, 70, 1)];
    assert_violation(after_the_next, "completed before");
    let before_a_slow_increment = vec![counted(0, 100, 1), read(20, 30, 0), counted(40, 50, 2)];
    assert_eq!(verdict(before_a_slow_increment), KeyVerdict::Linearizable);
    let overlapping = vec![counted(0, 100, 1), read(20, 30, 0), counted(40, 150, 2)];
    assert_eq!(verdict(overlapping), KeyVerdict::Linearizable);
}
