//! The set, list and counter checks count what an acknowledged write lost, flag
//! what appeared from nowhere, and refuse to pass a key they could not read.

use daisy_chaos_check::loss::DETAILS_MAX;
use daisy_chaos_check::{check_counters, check_lists, check_sets, Event, History, Op, Outcome};

fn event(op: Op, invoked_us: u64, completed_us: u64, outcome: Outcome) -> Event {
    Event {
        process: 1,
        op,
        invoked_us,
        completed_us,
        outcome,
    }
}

fn add(key: &str, element: u64, outcome: Outcome) -> Event {
    let op = Op::Add {
        key: key.into(),
        element,
    };
    event(op, element * 10, element * 10 + 5, outcome)
}

fn read_set(key: &str, at_us: u64, elements: &[u64]) -> Event {
    let op = Op::ReadSet { key: key.into() };
    event(op, at_us, at_us + 5, Outcome::SetValue(elements.to_vec()))
}

fn incr(key: &str, at_us: u64, outcome: Outcome) -> Event {
    let op = Op::Incr { key: key.into() };
    event(op, at_us, at_us + 5, outcome)
}

fn read_counter(key: &str, at_us: u64, value: u64) -> Event {
    let op = Op::ReadCounter { key: key.into() };
    event(op, at_us, at_us + 5, Outcome::Counted(value))
}

fn history(events: Vec<Event>) -> History {
    let mut history = History::default();
    for event in events {
        history.push(event);
    }
    history
}

#[test]
fn a_set_holding_every_acknowledged_add_is_ok() {
    let report = check_sets(&history(vec![
        add("s", 1, Outcome::Written),
        add("s", 2, Outcome::Written),
        add("s", 3, Outcome::Unknown),
        add("s", 4, Outcome::Unknown),
        add("s", 5, Outcome::Failed),
        read_set("s", 1_000, &[1, 2, 4]),
    ]));
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checked_keys, 1);
    assert_eq!(report.acknowledged, 2);
    assert_eq!((report.lost, report.unexpected), (0, 0));
    assert!(report.details.is_empty());
}

#[test]
fn a_missing_acknowledged_add_is_lost() {
    let report = check_sets(&history(vec![
        add("s", 1, Outcome::Written),
        add("s", 2, Outcome::Written),
        read_set("s", 1_000, &[1]),
    ]));
    assert!(!report.ok());
    assert_eq!((report.lost, report.unexpected), (1, 0));
    assert!(
        report.details[0].contains("missing"),
        "{:?}",
        report.details
    );
}

#[test]
fn elements_nobody_added_or_whose_add_failed_are_unexpected() {
    let report = check_sets(&history(vec![
        add("s", 1, Outcome::Written),
        add("s", 2, Outcome::Failed),
        read_set("s", 1_000, &[1, 2, 77]),
    ]));
    assert!(!report.ok());
    assert_eq!((report.lost, report.unexpected), (0, 2));
    assert_eq!(report.details.len(), 2, "{:?}", report.details);
}

#[test]
fn only_the_last_set_read_counts() {
    let report = check_sets(&history(vec![
        add("s", 1, Outcome::Written),
        read_set("s", 500, &[]),
        read_set("s", 1_000, &[1]),
    ]));
    assert!(report.ok(), "{report:?}");
}

#[test]
fn a_set_without_a_final_read_is_not_ok() {
    // Never read at all.
    let report = check_sets(&history(vec![add("s", 1, Outcome::Written)]));
    assert!(!report.ok());
    assert_eq!((report.lost, report.unexpected), (0, 0));
    assert!(report.details[0].contains("no final read"));

    // Read, but before an acknowledged add completed.
    let report = check_sets(&history(vec![
        add("s", 1, Outcome::Written),
        read_set("s", 3, &[]),
    ]));
    assert!(!report.ok());
    assert_eq!(report.lost, 0);
    assert!(report.details[0].contains("no final read"));
}

#[test]
fn a_counter_within_its_bounds_is_ok() {
    let report = check_counters(&history(vec![
        incr("c", 0, Outcome::Written),
        incr("c", 10, Outcome::Counted(2)),
        incr("c", 20, Outcome::Unknown),
        incr("c", 30, Outcome::Unknown),
        incr("c", 40, Outcome::Failed),
        read_counter("c", 1_000, 3),
    ]));
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.acknowledged, 2);
}

#[test]
fn a_counter_below_its_acknowledged_incrs_lost_some() {
    let report = check_counters(&history(vec![
        incr("c", 0, Outcome::Written),
        incr("c", 10, Outcome::Written),
        incr("c", 20, Outcome::Written),
        read_counter("c", 1_000, 1),
    ]));
    assert!(!report.ok());
    assert_eq!(
        (report.acknowledged, report.lost, report.unexpected),
        (3, 2, 0)
    );
}

#[test]
fn a_counter_below_a_value_an_incr_reported_lost_some() {
    // Two acknowledged incrs, and the final value 2 covers their number;
    // but one reported the counter at 4 (unknown incrs got there), so two
    // increments the client saw are gone.
    let report = check_counters(&history(vec![
        incr("c", 0, Outcome::Unknown),
        incr("c", 10, Outcome::Unknown),
        incr("c", 20, Outcome::Counted(3)),
        incr("c", 30, Outcome::Counted(4)),
        read_counter("c", 1_000, 2),
    ]));
    assert!(!report.ok());
    assert_eq!(report.lost, 2);
}

#[test]
fn a_counter_above_acknowledged_plus_unknown_is_unexpected() {
    let report = check_counters(&history(vec![
        incr("c", 0, Outcome::Written),
        incr("c", 10, Outcome::Unknown),
        incr("c", 20, Outcome::Failed),
        read_counter("c", 1_000, 3),
    ]));
    assert!(!report.ok());
    assert_eq!((report.lost, report.unexpected), (0, 1));
}

#[test]
fn a_counter_without_a_final_read_is_not_ok() {
    let report = check_counters(&history(vec![
        incr("c", 0, Outcome::Written),
        read_counter("c", 2, 0),
    ]));
    assert!(!report.ok());
    assert!(
        report.details[0].contains("no final read"),
        "{:?}",
        report.details
    );
    let report = check_counters(&history(vec![incr("c", 0, Outcome::Written)]));
    assert!(!report.ok());
    assert_eq!(report.checked_keys, 1);
}

#[test]
fn details_are_capped() {
    let mut events = Vec::new();
    for key in 0..30 {
        let key = format!("s{key}");
        events.push(add(&key, 1, Outcome::Written));
        events.push(read_set(&key, 1_000, &[]));
    }
    let report = check_sets(&history(events));
    assert_eq!(report.checked_keys, 30);
    assert_eq!(report.lost, 30);
    assert_eq!(report.details.len(), DETAILS_MAX);
    assert!(
        report.details[DETAILS_MAX - 1].contains("11 more"),
        "{:?}",
        report.details
    );
}

#[test]
fn sets_and_counters_ignore_each_other_and_registers() {
    let events = vec![
        add("s", 1, Outcome::Written),
        read_set("s", 1_000, &[1]),
        incr("c", 0, Outcome::Written),
        read_counter("c", 1_000, 1),
        event(Op::Read { key: "r".into() }, 0, 5, Outcome::ReadValue(None)),
    ];
    let history = history(events);
    let sets = check_sets(&history);
    let counters = check_counters(&history);
    assert!(sets.ok() && counters.ok());
    assert_eq!((sets.checked_keys, counters.checked_keys), (1, 1));
}

fn append(key: &str, element: u64, invoked_us: u64, completed_us: u64, outcome: Outcome) -> Event {
    let op = Op::Append {
        key: key.into(),
        element,
    };
    event(op, invoked_us, completed_us, outcome)
}

fn read_list(key: &str, at_us: u64, elements: &[u64]) -> Event {
    let op = Op::ReadList { key: key.into() };
    event(op, at_us, at_us + 5, Outcome::ListValue(elements.to_vec()))
}

#[test]
fn a_list_with_every_acknowledged_append_in_order_passes() {
    let report = check_lists(&history(vec![
        append("l", 1, 0, 10, Outcome::Written),
        // Concurrent with 1: either order is fine.
        append("l", 2, 5, 20, Outcome::Written),
        append("l", 3, 30, 40, Outcome::Unknown),
        append("l", 4, 50, 60, Outcome::Failed),
        read_list("l", 100, &[2, 1, 3]),
    ]));
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.acknowledged, report.lost), (2, 0));
}

#[test]
fn a_list_loses_duplicates_reorders_and_invents() {
    let report = check_lists(&history(vec![
        append("l", 1, 0, 10, Outcome::Written),
        append("l", 2, 20, 30, Outcome::Written),
        append("l", 3, 40, 50, Outcome::Written),
        append("l", 4, 60, 70, Outcome::Failed),
        // 3 lost, 2 before 1 although 1 completed before 2 began, 1 twice,
        // 4 failed but present, 9 never appended.
        read_list("l", 100, &[2, 1, 1, 4, 9]),
    ]));
    assert!(!report.ok());
    assert_eq!(report.lost, 1, "{report:?}");
    assert_eq!(report.unexpected, 4, "{report:?}");
    let text = report.details.join("\n");
    assert!(text.contains("missing") && text.contains("began"), "{text}");
}

#[test]
fn a_list_without_a_final_read_is_not_passed() {
    let report = check_lists(&history(vec![append("l", 1, 0, 10, Outcome::Written)]));
    assert!(!report.ok());
    assert!(report.details[0].contains("no final read"), "{report:?}");
}
