//! Linearizability of single registers, one key at a time.
//!
//! A key's history is linearizable if its operations can be put in one
//! order that (a) respects real time: an operation that completed before
//! another was invoked comes first, and (b) is a legal run of a register
//! that starts unwritten: every read sees the latest write, a Cas that
//! swapped found `from`, a Cas that did not swap found something else.
//! Keys are independent (a register's history composes), so each key is
//! checked on its own and gets its own [`KeyVerdict`].
//!
//! How outcomes enter the model:
//! - `Failed` operations had no effect and are dropped;
//! - `Unknown` writes and Cas may take effect anywhere after their
//!   invocation, or never; `Unknown` reads told the client nothing and are
//!   dropped;
//! - everything else must take effect somewhere inside its interval.
//!
//! The search is Wing & Gong's, with Lowe's just-in-time linearization and
//! memoization of (set of linearized operations, register value) as in
//! porcupine: walk the call and return events in time order; at a call,
//! try to take that operation next; at a return, the operation returning
//! must already have been taken, else undo the last choice and try the
//! next. A configuration already seen is never explored twice. See
//! `linearizable/search.rs`.
//!
//! Limits: at most [`SEARCH_STEPS_MAX`] steps and [`MEMO_WORDS_MAX`] words of
//! memo per key. A search that would exceed either answers
//! [`KeyVerdict::Unknown`] ("search too large"), never a guess. Valid
//! histories are found quickly; proving a history invalid can take far
//! longer, chiefly when it has many unknown writes (each one left pending
//! doubles what must be refuted). Unknown writes whose value nobody
//! observed are dropped first when that provably changes no answer (see
//! `drop_unobservable_unknowns`).

mod search;

use std::collections::{BTreeMap, HashSet};

use crate::history::{Event, History, Op, Outcome};
use search::{Operation, SearchOutcome, Step, Stuck};

/// The most steps (one per call or return event visited) the search takes
/// on one key before giving up with [`KeyVerdict::Unknown`].
pub const SEARCH_STEPS_MAX: u64 = 2_000_000;

/// The most 64-bit words the memo of visited configurations may hold for
/// one key (256 MiB) before the search gives up with [`KeyVerdict::Unknown`].
pub const MEMO_WORDS_MAX: usize = 32 * 1024 * 1024;

/// How many of the last operations taken an explanation lists.
pub const EXPLANATION_OPS_MAX: usize = 4;

/// The verdict on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyVerdict {
    Linearizable,
    NotLinearizable {
        /// A short human explanation with the smallest failing prefix or
        /// the ops involved.
        explanation: String,
    },
    /// The checker could not decide (search too large, malformed history).
    Unknown {
        why: String,
    },
}

/// The verdict on every key that has register operations, sorted by key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub keys: Vec<(String, KeyVerdict)>,
}

impl Verdict {
    /// True when no key is `NotLinearizable`; `Unknown` keys do not count
    /// against it.
    pub fn ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// How many keys were examined, whatever their verdict.
    pub fn checked(&self) -> usize {
        self.keys.len()
    }

    /// The keys found `NotLinearizable`.
    pub fn failures(&self) -> Vec<&(String, KeyVerdict)> {
        self.keys
            .iter()
            .filter(|(_, verdict)| matches!(verdict, KeyVerdict::NotLinearizable { .. }))
            .collect()
    }
}

/// Checks every key that has Read, Write or Cas events for
/// linearizability of a single register.
pub fn check_registers(history: &History) -> Verdict {
    check_registers_within(history, SEARCH_STEPS_MAX)
}

fn check_registers_within(history: &History, search_steps_max: u64) -> Verdict {
    let mut by_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in &history.events {
        if matches!(
            event.op,
            Op::Read { .. } | Op::Write { .. } | Op::Cas { .. }
        ) {
            by_key.entry(event.op.key()).or_default().push(event);
        }
    }
    let keys = by_key
        .into_iter()
        .map(|(key, events)| (key.to_owned(), check_key(&events, search_steps_max)))
        .collect();
    Verdict { keys }
}

fn check_key(events: &[&Event], search_steps_max: u64) -> KeyVerdict {
    let mut operations = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        match operation_of(event, index) {
            Ok(Some(operation)) => operations.push(operation),
            Ok(None) => {}
            Err(why) => return KeyVerdict::Unknown { why },
        }
    }
    drop_unobservable_unknowns(&mut operations);
    // Numbered in invocation order, the taken sets stay prefix-like and the
    // memo small.
    operations.sort_by_key(|operation| (operation.invoked_us, operation.event_index));
    match search::search(&operations, search_steps_max, MEMO_WORDS_MAX) {
        SearchOutcome::Linearizable => KeyVerdict::Linearizable,
        SearchOutcome::NotLinearizable(stuck) => KeyVerdict::NotLinearizable {
            explanation: explain(events, &operations, &stuck),
        },
        SearchOutcome::TooLarge { steps, memo_words } => KeyVerdict::Unknown {
            why: format!(
                "search too large: gave up after {steps} steps and {memo_words} memo words \
                 over {} operations (limits {search_steps_max} steps, {MEMO_WORDS_MAX} words)",
                operations.len()
            ),
        },
    }
}

/// The register operation an event stands for: `None` when it cannot
/// constrain the register (failed, or a read whose answer was lost).
fn operation_of(event: &Event, event_index: usize) -> Result<Option<Operation>, String> {
    if event.completed_us < event.invoked_us {
        return Err(format!(
            "malformed history: completed before invoked: {event}"
        ));
    }
    let step = match (&event.op, &event.outcome) {
        (_, Outcome::Failed) | (Op::Read { .. }, Outcome::Unknown) => return Ok(None),
        (Op::Read { .. }, Outcome::ReadValue(value)) => Step::Read { value: *value },
        (Op::Write { value, .. }, Outcome::Written | Outcome::Unknown) => {
            Step::Write { value: *value }
        }
        (Op::Cas { from, to, .. }, Outcome::Swapped(true) | Outcome::Unknown) => Step::Cas {
            from: *from,
            to: *to,
        },
        (Op::Cas { from, .. }, Outcome::Swapped(false)) => Step::CasRefused { from: *from },
        _ => {
            return Err(format!(
                "malformed history: outcome does not fit the op: {event}"
            ))
        }
    };
    let completed_us = (event.outcome != Outcome::Unknown).then_some(event.completed_us);
    Ok(Some(Operation {
        step,
        invoked_us: event.invoked_us,
        completed_us,
        event_index,
    }))
}

/// Drops the unknown writes (and unknown Cas) that no valid order needs.
///
/// An unknown operation that never returned stays a candidate for the
/// rest of the search, so each one can double the configurations the
/// search must refute; most are harmless to drop. Such an operation `U`
/// sets the register to `v`. If no Read ever saw `v` and no Cas expected
/// `v`, then in any valid order the operations between `U` and the next
/// write cannot have relied on `v`, except a refused Cas that needed the
/// register to *not* hold some `x` the register could otherwise have held.
/// So when no such refusal (one whose `x` some operation writes) can be
/// placed after `U`, removing `U` from any valid order leaves a valid
/// order, and dropping `U` loses no answer.
fn drop_unobservable_unknowns(operations: &mut Vec<Operation>) {
    let mut observed: HashSet<u64> = HashSet::new();
    let mut written: HashSet<u64> = HashSet::new();
    for operation in operations.iter() {
        match operation.step {
            Step::Read { value: Some(value) } => {
                observed.insert(value);
            }
            Step::Read { value: None } | Step::CasRefused { .. } => {}
            Step::Write { value } => {
                written.insert(value);
            }
            Step::Cas { from, to } => {
                observed.insert(from);
                written.insert(to);
            }
        }
    }
    let last_relevant_refusal_us = operations
        .iter()
        .filter(|operation| matches!(operation.step, Step::CasRefused { from } if written.contains(&from)))
        .filter_map(|operation| operation.completed_us)
        .max();
    operations.retain(|operation| {
        let value = match operation.step {
            Step::Write { value } | Step::Cas { to: value, .. } => value,
            Step::Read { .. } | Step::CasRefused { .. } => return true,
        };
        let may_help_a_refusal =
            last_relevant_refusal_us.is_some_and(|refused_us| refused_us >= operation.invoked_us);
        operation.completed_us.is_some() || observed.contains(&value) || may_help_a_refusal
    });
}

fn explain(events: &[&Event], operations: &[Operation], stuck: &Stuck) -> String {
    let describe = |operation: usize| events[operations[operation].event_index].to_string();
    let taken: Vec<String> = stuck.recent.iter().map(|&op| describe(op)).collect();
    let value = match stuck.value {
        Some(value) => value.to_string(),
        None => "nil (never written)".to_owned(),
    };
    format!(
        "no valid order: the longest valid order found takes {} of {} operations{}{}; \
         the register then holds {value}, and `{}` cannot take effect before it completed",
        stuck.taken,
        operations.len(),
        if taken.is_empty() {
            ""
        } else {
            ", ending with "
        },
        taken.join(", "),
        describe(stuck.blocked),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(process: u32, value: u64, invoked_us: u64, completed_us: u64) -> Event {
        Event {
            process,
            op: Op::Write {
                key: "k".into(),
                value,
            },
            invoked_us,
            completed_us,
            outcome: Outcome::Written,
        }
    }

    fn read(process: u32, value: Option<u64>, invoked_us: u64, completed_us: u64) -> Event {
        Event {
            process,
            op: Op::Read { key: "k".into() },
            invoked_us,
            completed_us,
            outcome: Outcome::ReadValue(value),
        }
    }

    #[test]
    fn a_tight_step_limit_gives_unknown_not_a_wrong_answer() {
        // Eight concurrent writes, then a read of a value nobody wrote: the
        // search must try many orders before it can say no.
        let mut history = History::default();
        for value in 0..8 {
            history.push(write(value as u32, value, 0, 100));
        }
        history.push(read(9, Some(99), 200, 300));

        let bounded = check_registers_within(&history, 50);
        assert!(
            matches!(bounded.keys[0].1, KeyVerdict::Unknown { ref why } if why.contains("search too large"))
        );
        assert!(bounded.ok());

        let unbounded = check_registers_within(&history, SEARCH_STEPS_MAX);
        assert!(matches!(
            unbounded.keys[0].1,
            KeyVerdict::NotLinearizable { .. }
        ));
    }
}
