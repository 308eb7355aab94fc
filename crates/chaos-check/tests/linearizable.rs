//! The register checker must bite on real anomalies and never cry wolf on
//! histories a correct database could produce.

use daisy_chaos_check::{check_registers, Event, History, KeyVerdict, Op, Outcome, Verdict};

fn event(process: u32, op: Op, invoked_us: u64, completed_us: u64, outcome: Outcome) -> Event {
    Event {
        process,
        op,
        invoked_us,
        completed_us,
        outcome,
    }
}

fn write(process: u32, value: u64, span: (u64, u64), outcome: Outcome) -> Event {
    let op = Op::Write {
        key: "k".into(),
        value,
    };
    event(process, op, span.0, span.1, outcome)
}

fn read(process: u32, seen: Option<u64>, span: (u64, u64)) -> Event {
    let op = Op::Read { key: "k".into() };
    event(process, op, span.0, span.1, Outcome::ReadValue(seen))
}

fn cas(process: u32, from: u64, to: u64, span: (u64, u64), outcome: Outcome) -> Event {
    let op = Op::Cas {
        key: "k".into(),
        from,
        to,
    };
    event(process, op, span.0, span.1, outcome)
}

fn check(events: Vec<Event>) -> KeyVerdict {
    let mut history = History::default();
    for event in events {
        history.push(event);
    }
    let verdict = check_registers(&history);
    assert_eq!(verdict.checked(), 1);
    verdict.keys[0].1.clone()
}

fn assert_linearizable(events: Vec<Event>) {
    assert_eq!(check(events), KeyVerdict::Linearizable);
}

fn assert_not_linearizable(events: Vec<Event>) -> String {
    match check(events) {
        KeyVerdict::NotLinearizable { explanation } => explanation,
        other => panic!("expected NotLinearizable, got {other:?}"),
    }
}

#[test]
fn a_sequential_history_is_linearizable() {
    assert_linearizable(vec![
        read(1, None, (0, 10)),
        write(1, 1, (20, 30), Outcome::Written),
        read(2, Some(1), (40, 50)),
        write(2, 2, (60, 70), Outcome::Written),
        cas(1, 2, 3, (80, 90), Outcome::Swapped(true)),
        read(3, Some(3), (100, 110)),
    ]);
}

#[test]
fn a_read_overlapping_a_write_may_see_either_value() {
    // The read runs inside the write's interval: both orders are valid.
    for seen in [None, Some(1)] {
        assert_linearizable(vec![
            write(1, 1, (0, 100), Outcome::Written),
            read(2, seen, (10, 50)),
        ]);
    }
    // Touching intervals are concurrent too.
    assert_linearizable(vec![
        write(1, 1, (0, 100), Outcome::Written),
        read(2, None, (100, 150)),
    ]);
}

#[test]
fn a_stale_read_after_a_completed_write_is_caught() {
    let explanation = assert_not_linearizable(vec![
        write(1, 1, (0, 10), Outcome::Written),
        read(2, None, (20, 30)),
    ]);
    assert!(
        explanation.contains("p2 read -> nil [20..30 us]"),
        "{explanation}"
    );
}

#[test]
fn a_read_of_a_value_never_written_is_caught() {
    assert_not_linearizable(vec![
        write(1, 1, (0, 10), Outcome::Written),
        read(2, Some(7), (5, 20)),
    ]);
}

#[test]
fn an_unknown_write_may_have_happened_or_not() {
    let before = || {
        vec![
            write(1, 1, (0, 10), Outcome::Written),
            write(2, 2, (20, 30), Outcome::Unknown),
        ]
    };
    // Seen long after the client gave up: it took effect late.
    let mut seen_late = before();
    seen_late.push(read(3, Some(1), (40, 50)));
    seen_late.push(read(3, Some(2), (100, 110)));
    assert_linearizable(seen_late);
    // Never seen: it never took effect.
    let mut never_seen = before();
    never_seen.push(read(3, Some(1), (100, 110)));
    assert_linearizable(never_seen);
    // But it cannot take effect before it was invoked.
    let mut seen_early = before();
    seen_early.push(read(3, Some(2), (12, 18)));
    assert_not_linearizable(seen_early);
    // Nor be undone once seen.
    let mut seen_then_gone = before();
    seen_then_gone.push(read(3, Some(2), (40, 50)));
    seen_then_gone.push(read(3, Some(1), (60, 70)));
    assert_not_linearizable(seen_then_gone);
}

#[test]
fn a_failed_write_that_is_read_is_caught() {
    assert_not_linearizable(vec![
        write(1, 1, (0, 10), Outcome::Written),
        write(2, 2, (20, 30), Outcome::Failed),
        read(3, Some(2), (40, 50)),
    ]);
}

#[test]
fn compare_and_set_must_agree_with_the_register() {
    let written = || write(1, 1, (0, 10), Outcome::Written);
    // Swapped from the value it held; refused from one it did not hold.
    assert_linearizable(vec![
        written(),
        cas(2, 1, 2, (20, 30), Outcome::Swapped(true)),
        cas(3, 1, 3, (40, 50), Outcome::Swapped(false)),
        read(1, Some(2), (60, 70)),
    ]);
    // Swapped from a value it did not hold.
    assert_not_linearizable(vec![
        written(),
        cas(2, 5, 6, (20, 30), Outcome::Swapped(true)),
    ]);
    // Swapped on a register never written.
    assert_not_linearizable(vec![cas(2, 0, 6, (20, 30), Outcome::Swapped(true))]);
    // Refused although it held `from` and nothing else ran.
    assert_not_linearizable(vec![
        written(),
        cas(2, 1, 2, (20, 30), Outcome::Swapped(false)),
    ]);
    // Two concurrent swaps from the same value: only one can win.
    assert_not_linearizable(vec![
        written(),
        cas(2, 1, 2, (20, 40), Outcome::Swapped(true)),
        cas(3, 1, 3, (20, 40), Outcome::Swapped(true)),
    ]);
    // A refused swap changes nothing, a failed one is ignored, an unknown
    // one may have happened.
    assert_linearizable(vec![
        written(),
        cas(2, 9, 2, (20, 30), Outcome::Swapped(false)),
        cas(2, 1, 4, (35, 38), Outcome::Failed),
        read(3, Some(1), (40, 50)),
        cas(2, 1, 5, (60, 70), Outcome::Unknown),
        read(3, Some(5), (80, 90)),
    ]);
}

#[test]
fn a_lost_acknowledged_write_is_caught() {
    // p2's write of 2 is acknowledged; a failover then serves the old
    // value 1 to every later reader.
    let explanation = assert_not_linearizable(vec![
        write(1, 1, (0, 10), Outcome::Written),
        read(1, Some(1), (15, 18)),
        write(2, 2, (20, 30), Outcome::Written),
        read(3, Some(1), (40, 50)),
        read(1, Some(1), (60, 70)),
    ]);
    assert!(
        explanation.contains("p3 read -> 1 [40..50 us]"),
        "{explanation}"
    );
}

#[test]
fn only_keys_with_register_operations_are_checked_each_on_its_own() {
    let mut history = History::default();
    history.push(event(
        1,
        Op::Write {
            key: "a".into(),
            value: 1,
        },
        0,
        10,
        Outcome::Written,
    ));
    history.push(event(
        2,
        Op::Read { key: "b".into() },
        20,
        30,
        Outcome::ReadValue(None),
    ));
    history.push(event(
        2,
        Op::Read { key: "a".into() },
        20,
        30,
        Outcome::ReadValue(None),
    ));
    history.push(event(
        3,
        Op::Add {
            key: "s".into(),
            element: 1,
        },
        0,
        10,
        Outcome::Written,
    ));

    let verdict = check_registers(&history);
    assert_eq!(verdict.checked(), 2);
    assert!(!verdict.ok());
    let failures = verdict.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "a");
    assert_eq!(verdict.keys[1], ("b".to_owned(), KeyVerdict::Linearizable));
}

#[test]
fn an_outcome_that_does_not_fit_its_op_is_unknown_not_a_verdict() {
    let verdict = check(vec![event(
        1,
        Op::Read { key: "k".into() },
        0,
        10,
        Outcome::Written,
    )]);
    assert!(matches!(verdict, KeyVerdict::Unknown { ref why } if why.contains("malformed")));
}

/// splitmix64: a tiny deterministic generator, so the test is reproducible.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// A history of `operations` on one register by `processes` clients, each
/// sequential: operation n takes effect at 10·n us and its interval is
/// jittered around that point, so neighbours overlap. Values are unique;
/// about one operation in ten fails and `unknown_percent` in a hundred have
/// an unknown outcome.
fn valid_history(seed: u64, operations: u64, processes: u64, unknown_percent: u64) -> Vec<Event> {
    let mut random = Random(seed);
    let jitter_max_us = 5 * processes - 1;
    let mut register: Option<u64> = None;
    let mut events = Vec::new();
    for n in 0..operations {
        let at_us = 1_000 + 10 * n;
        let span = (
            at_us - random.below(jitter_max_us),
            at_us + random.below(jitter_max_us),
        );
        let process = (n % processes) as u32;
        let value = n + 1;
        let event = match random.below(100 - 5 + unknown_percent) {
            0..40 => read(process, register, span),
            40..70 => {
                register = Some(value);
                write(process, value, span, Outcome::Written)
            }
            70..85 => {
                // A refused swap expects a recent value, as a client with
                // a stale view would.
                let swapped = random.below(2) == 0 && register.is_some();
                let stale = n.saturating_sub(random.below(20)).max(1);
                let from = match register {
                    Some(current) if swapped => current,
                    Some(current) if current == stale => stale + 1,
                    _ => stale,
                };
                if swapped {
                    register = Some(value);
                }
                cas(process, from, value, span, Outcome::Swapped(swapped))
            }
            85..95 => write(process, value, span, Outcome::Failed),
            _ => {
                // Unknown: the client gave up; half the time it took effect.
                if random.below(2) == 0 {
                    register = Some(value);
                }
                write(process, value, span, Outcome::Unknown)
            }
        };
        events.push(event);
    }
    events
}

#[test]
fn a_large_valid_history_is_linearizable_and_quick() {
    let started = std::time::Instant::now();
    for seed in 0..4 {
        assert_linearizable(valid_history(seed, 5_000, 8, 5));
    }
    let elapsed = started.elapsed();
    assert!(elapsed.as_secs() < 20, "took {elapsed:?}");
}

#[test]
fn one_corrupted_read_in_a_large_history_is_caught() {
    // Without unknown outcomes: each pending unknown operation multiplies
    // what a refutation must explore, and a few hundred of them on one key
    // would exceed SEARCH_STEPS_MAX (the answer would be Unknown).
    let mut events = valid_history(7, 5_000, 8, 0);
    let victim = events
        .iter()
        .rposition(|event| matches!(event.op, Op::Read { .. }) && event.invoked_us < 40_000)
        .expect("the generator makes reads");
    events[victim].outcome = Outcome::ReadValue(Some(u64::MAX));
    assert_not_linearizable(events);
}

#[test]
fn a_search_too_large_is_unknown_never_a_wrong_answer() {
    // Thirty concurrent writes then an impossible read: proving there is
    // no valid order would take far more than SEARCH_STEPS_MAX steps.
    let mut events: Vec<Event> = (0..30)
        .map(|value| write(value as u32, value, (0, 1_000), Outcome::Written))
        .collect();
    events.push(read(99, Some(12_345), (2_000, 2_100)));
    let history = History { events };

    let verdict: Verdict = check_registers(&history);
    match &verdict.keys[0].1 {
        KeyVerdict::Unknown { why } => assert!(why.contains("search too large"), "{why}"),
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert!(verdict.ok());
    assert!(verdict.failures().is_empty());
}
