//! Linearizability of counters that only grow by `INCR`, one key at a time.
//!
//! Every acknowledged `INCR` returned the counter's new value `v`: in a
//! valid order it is the `v`-th increment. A read of `v` comes after the
//! `v`-th increment and before the next one. An increment whose outcome is
//! unknown may have taken effect at any time after its invocation, or
//! never; a failed one never did. The key's history is linearizable if and
//! only if:
//!
//! 1. no two acknowledged increments returned the same value;
//! 2. the acknowledged increments and the reads, in the order of their
//!    values, can be given points in time inside their intervals that never
//!    go backwards (computed from the end: each point as late as allowed);
//! 3. every value below the highest one seen that no acknowledged increment
//!    returned (a *gap*) is the result of a distinct unknown increment
//!    invoked before the point of the first operation that needs it. The
//!    gaps' deadlines never decrease, so counting suffices (Hall's
//!    condition for nested sets).
//!
//! The check is exact and linear in the history plus the highest value,
//! which is bounded by [`COUNTER_VALUE_MAX`].

use std::collections::BTreeMap;

use crate::history::{Event, History, Op, Outcome};
use crate::linearizable::{KeyVerdict, Verdict};

/// Above this value a key is not checked (gaps are walked one by one).
pub const COUNTER_VALUE_MAX: u64 = 100_000_000;

/// Checks every key that has `INCR` or counter reads.
pub fn check_counters_linearizable(history: &History) -> Verdict {
    let mut by_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in &history.events {
        if matches!(event.op, Op::Incr { .. } | Op::ReadCounter { .. }) {
            by_key.entry(event.op.key()).or_default().push(event);
        }
    }
    Verdict {
        keys: by_key
            .into_iter()
            .map(|(key, events)| (key.to_owned(), check_key(&events)))
            .collect(),
    }
}

/// An operation with a definite value: it must take effect inside its
/// interval, as the `value`-th increment, or as a read after it.
struct Fixed<'a> {
    value: u64,
    read: bool,
    event: &'a Event,
}

impl Fixed<'_> {
    /// Whether this operation needs the `g`-th increment to precede it.
    fn needs(&self, g: u64) -> bool {
        if self.read {
            g <= self.value
        } else {
            g < self.value
        }
    }
}

fn check_key(events: &[&Event]) -> KeyVerdict {
    let mut fixed: Vec<Fixed> = Vec::new();
    let mut unknown: Vec<u64> = Vec::new();
    for &event in events {
        let read = matches!(event.op, Op::ReadCounter { .. });
        match (&event.outcome, read) {
            (Outcome::Counted(value), _) => fixed.push(Fixed {
                value: *value,
                read,
                event,
            }),
            (Outcome::Unknown, false) => unknown.push(event.invoked_us),
            (Outcome::Failed, _) | (Outcome::Unknown, true) => {}
            _ => {
                return KeyVerdict::Unknown {
                    why: format!("cannot judge `{event}`: no value to place it by"),
                }
            }
        }
    }
    if let Some(too_big) = fixed.iter().find(|f| f.value > COUNTER_VALUE_MAX) {
        return KeyVerdict::Unknown {
            why: format!("`{}` is above {COUNTER_VALUE_MAX}", too_big.event),
        };
    }
    // The `v`-th increment comes before the reads of `v`, which come before
    // the increment `v + 1`.
    fixed.sort_by_key(|f| (f.value, f.read, f.event.invoked_us));
    if let Some(pair) = fixed
        .windows(2)
        .find(|pair| !pair[0].read && !pair[1].read && pair[0].value == pair[1].value)
    {
        return violation(format!(
            "`{}` and `{}` both returned {}",
            pair[0].event, pair[1].event, pair[0].value
        ));
    }
    // Latest points, from the end; each must not precede its invocation.
    let mut points = vec![0u64; fixed.len()];
    let mut next = u64::MAX;
    for (i, f) in fixed.iter().enumerate().rev() {
        let point = f.event.completed_us.min(next);
        if point < f.event.invoked_us {
            let blocker = fixed[i + 1..]
                .iter()
                .find(|later| later.event.completed_us < f.event.invoked_us)
                .map_or_else(String::new, |later| later.event.to_string());
            return violation(format!(
                "`{blocker}` completed before `{}` began, yet its value is higher",
                f.event
            ));
        }
        points[i] = point;
        next = point;
    }
    gaps_filled(&fixed, &points, unknown)
}

/// Condition 3: each gap has its own unknown increment in time.
fn gaps_filled(fixed: &[Fixed], points: &[u64], mut unknown: Vec<u64>) -> KeyVerdict {
    unknown.sort_unstable();
    let highest = fixed.iter().map(|f| f.value).max().unwrap_or(0);
    let mut returned = fixed.iter().filter(|f| !f.read).map(|f| f.value).peekable();
    // The first fixed operation that needs the current gap; it only moves
    // forward as the gap grows.
    let mut first_needing = 0;
    let mut gaps = 0u64;
    let mut available = 0usize;
    for g in 1..=highest {
        while returned.next_if(|&v| v < g).is_some() {}
        if returned.peek() == Some(&g) {
            continue;
        }
        while !fixed[first_needing].needs(g) {
            first_needing += 1;
        }
        let deadline = points[first_needing];
        while available < unknown.len() && unknown[available] < deadline {
            available += 1;
        }
        gaps += 1;
        if gaps > available as u64 {
            return violation(format!(
                "increment {g} is accounted for by no operation: {gaps} values up to it were \
                 returned by no acknowledged increment, but only {available} increments with \
                 unknown outcomes began before `{}` needed them",
                fixed[first_needing].event
            ));
        }
    }
    KeyVerdict::Linearizable
}

fn violation(explanation: String) -> KeyVerdict {
    KeyVerdict::NotLinearizable { explanation }
}
