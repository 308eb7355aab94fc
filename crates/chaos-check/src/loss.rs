//! Loss of acknowledged writes to sets and counters.
//!
//! These checks need no search: after the faults stop the harness reads
//! every set and counter once more (the *final read*) and compares what it
//! sees with what clients were told.
//!
//! Sets: every acknowledged Add must be in the key's final ReadSet. An
//! element present that no client ever tried to add, or whose only Adds
//! definitely failed, is `unexpected`. Adds with unknown outcome may be
//! present or absent.
//!
//! Lists: every acknowledged Append must be in the key's final ReadList,
//! once; an element no client tried to append (or whose append failed), or
//! that appears twice, is `unexpected`. Appends keep real-time order: an
//! acknowledged Append that completed before another acknowledged Append
//! was invoked must come before it in the list (each out-of-order pair's
//! later element counts as `unexpected`).
//!
//! Counters: the final ReadCounter must be at least the number of
//! acknowledged Incrs and at most acknowledged plus unknown ones. An Incr
//! acknowledged with its new value `v` also proves the counter reached
//! `v`, so a final value below `v` is a loss too.
//!
//! The final read is the last one invoked that completed with a value; it
//! must have been invoked after every Add or Incr with a definite outcome
//! completed. A key without such a read cannot be judged: it is reported as
//! "no final read" and makes the report not ok, since the harness must
//! always read.
//!
//! Invariant: `details` is empty exactly when nothing is wrong; it holds
//! at most [`DETAILS_MAX`] lines.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{Event, History, Op, Outcome};

/// The most lines `LossReport::details` holds; the last says how many more
/// problems were found.
pub const DETAILS_MAX: usize = 20;

/// The most elements named in one detail line.
pub const ELEMENTS_NAMED_MAX: usize = 10;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LossReport {
    /// Keys examined, including those without a final read.
    pub checked_keys: usize,
    /// Acknowledged Adds or Incrs.
    pub acknowledged: u64,
    /// Acknowledged operations the final read does not reflect.
    pub lost: u64,
    /// Operations that were never acknowledged but took effect, or counts
    /// above acknowledged + unknown.
    pub unexpected: u64,
    /// One line per problem, at most [`DETAILS_MAX`]; empty when none.
    pub details: Vec<String>,
}

impl LossReport {
    /// True when nothing was lost, nothing unexpected appeared and every
    /// key had a final read.
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.unexpected == 0 && self.details.is_empty()
    }

    fn problem(&mut self, line: String, problems_seen: &mut usize) {
        *problems_seen += 1;
        if self.details.len() < DETAILS_MAX - 1 {
            self.details.push(line);
        } else {
            let more = *problems_seen - (DETAILS_MAX - 1);
            self.details.truncate(DETAILS_MAX - 1);
            self.details.push(format!("... and {more} more problems"));
        }
    }
}

/// Sets: every acknowledged Add must be in the key's last ReadSet (that
/// read must come after all adds); an element never attempted is
/// `unexpected`; an element whose Add Failed but is present is
/// `unexpected`.
pub fn check_sets(history: &History) -> LossReport {
    let mut report = LossReport::default();
    let mut problems_seen = 0;
    for (key, events) in group(history, |op| {
        matches!(op, Op::Add { .. } | Op::ReadSet { .. })
    }) {
        report.checked_keys += 1;
        for line in check_set(key, &events, &mut report) {
            report.problem(line, &mut problems_seen);
        }
    }
    report
}

/// Lists: acknowledged appends present once each, nothing unexpected, and
/// real-time order kept.
pub fn check_lists(history: &History) -> LossReport {
    let mut report = LossReport::default();
    let mut problems_seen = 0;
    for (key, events) in group(history, |op| {
        matches!(op, Op::Append { .. } | Op::ReadList { .. })
    }) {
        report.checked_keys += 1;
        for line in check_list(key, &events, &mut report) {
            report.problem(line, &mut problems_seen);
        }
    }
    report
}

/// Counters: the key's last ReadCounter must be >= acknowledged Incrs and
/// <= acknowledged + unknown ones.
pub fn check_counters(history: &History) -> LossReport {
    let mut report = LossReport::default();
    let mut problems_seen = 0;
    for (key, events) in group(history, |op| {
        matches!(op, Op::Incr { .. } | Op::ReadCounter { .. })
    }) {
        report.checked_keys += 1;
        for line in check_counter(key, &events, &mut report) {
            report.problem(line, &mut problems_seen);
        }
    }
    report
}

fn group(history: &History, wanted: impl Fn(&Op) -> bool) -> BTreeMap<&str, Vec<&Event>> {
    let mut by_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in history.events.iter().filter(|event| wanted(&event.op)) {
        by_key.entry(event.op.key()).or_default().push(event);
    }
    by_key
}

/// The key's final read, or a problem line saying why there is none.
/// `is_read` picks the reads that completed with a value; `writes` are the
/// writes with a definite outcome, which the read must follow.
fn final_read<'a>(
    key: &str,
    events: &[&'a Event],
    is_read: impl Fn(&Event) -> bool,
) -> Result<&'a Event, String> {
    let Some(read) = events
        .iter()
        .copied()
        .filter(|event| is_read(event))
        .max_by_key(|event| event.invoked_us)
    else {
        return Err(format!("key {key}: no final read"));
    };
    let definite_write_late = events.iter().find(|event| {
        !is_read(event)
            && !matches!(
                event.op,
                Op::ReadSet { .. } | Op::ReadCounter { .. } | Op::ReadList { .. }
            )
            && event.outcome != Outcome::Unknown
            && event.completed_us > read.invoked_us
    });
    match definite_write_late {
        Some(write) => Err(format!(
            "key {key}: no final read: the last read `{read}` began before `{write}` completed"
        )),
        None => Ok(read),
    }
}

fn check_set(key: &str, events: &[&Event], report: &mut LossReport) -> Vec<String> {
    let mut problems = Vec::new();
    let mut acknowledged: BTreeSet<u64> = BTreeSet::new();
    let mut maybe: BTreeSet<u64> = BTreeSet::new();
    let mut failed: BTreeSet<u64> = BTreeSet::new();
    for event in events {
        match (&event.op, &event.outcome) {
            (Op::Add { element, .. }, Outcome::Written) => {
                report.acknowledged += 1;
                acknowledged.insert(*element);
            }
            (Op::Add { element, .. }, Outcome::Unknown) => {
                maybe.insert(*element);
            }
            (Op::Add { element, .. }, Outcome::Failed) => {
                failed.insert(*element);
            }
            (Op::ReadSet { .. }, Outcome::SetValue(_) | Outcome::Failed | Outcome::Unknown) => {}
            _ => problems.push(format!("key {key}: malformed event `{event}`")),
        }
    }
    let read = match final_read(key, events, |event| {
        matches!(event.outcome, Outcome::SetValue(_))
    }) {
        Ok(read) => read,
        Err(line) => {
            problems.push(line);
            return problems;
        }
    };
    let Outcome::SetValue(elements) = &read.outcome else {
        unreachable!("the final read was picked for its SetValue");
    };
    let present: BTreeSet<u64> = elements.iter().copied().collect();

    let lost: Vec<u64> = acknowledged.difference(&present).copied().collect();
    let attempted = |element: &u64| acknowledged.contains(element) || maybe.contains(element);
    let (unexpected_failed, unexpected_unknown): (Vec<u64>, Vec<u64>) = present
        .iter()
        .copied()
        .filter(|element| !attempted(element))
        .partition(|element| failed.contains(element));
    report.lost += lost.len() as u64;
    report.unexpected += (unexpected_failed.len() + unexpected_unknown.len()) as u64;
    if !lost.is_empty() {
        problems.push(format!(
            "key {key}: {} acknowledged adds missing from `{read}`: {}",
            lost.len(),
            name_elements(&lost)
        ));
    }
    if !unexpected_failed.is_empty() {
        problems.push(format!(
            "key {key}: {} elements present whose adds failed: {}",
            unexpected_failed.len(),
            name_elements(&unexpected_failed)
        ));
    }
    if !unexpected_unknown.is_empty() {
        problems.push(format!(
            "key {key}: {} elements present that no client added: {}",
            unexpected_unknown.len(),
            name_elements(&unexpected_unknown)
        ));
    }
    problems
}

fn check_list(key: &str, events: &[&Event], report: &mut LossReport) -> Vec<String> {
    let mut problems = Vec::new();
    // Acknowledged appends: element -> (invoked, completed).
    let mut acknowledged: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut maybe: BTreeSet<u64> = BTreeSet::new();
    for event in events {
        match (&event.op, &event.outcome) {
            (Op::Append { element, .. }, Outcome::Written) => {
                report.acknowledged += 1;
                acknowledged.insert(*element, (event.invoked_us, event.completed_us));
            }
            (Op::Append { element, .. }, Outcome::Unknown) => {
                maybe.insert(*element);
            }
            (Op::Append { .. }, Outcome::Failed) => {}
            (Op::ReadList { .. }, Outcome::ListValue(_) | Outcome::Failed | Outcome::Unknown) => {}
            _ => problems.push(format!("key {key}: malformed event `{event}`")),
        }
    }
    let read = match final_read(key, events, |event| {
        matches!(event.outcome, Outcome::ListValue(_))
    }) {
        Ok(read) => read,
        Err(line) => {
            problems.push(line);
            return problems;
        }
    };
    let Outcome::ListValue(elements) = &read.outcome else {
        unreachable!("the final read was picked for its ListValue");
    };
    let mut position: BTreeMap<u64, usize> = BTreeMap::new();
    let mut unexpected = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let attempted = acknowledged.contains_key(element) || maybe.contains(element);
        if !attempted || position.contains_key(element) {
            unexpected.push(*element);
        } else {
            position.insert(*element, index);
        }
    }
    let lost: Vec<u64> = acknowledged
        .keys()
        .filter(|element| !position.contains_key(element))
        .copied()
        .collect();
    // Real-time order: walk the present acknowledged appends by invocation;
    // every one must come after all those that completed before it began.
    let mut by_invocation: Vec<(u64, u64, usize)> = acknowledged
        .iter()
        .filter_map(|(element, (invoked, _))| {
            position.get(element).map(|&p| (*invoked, *element, p))
        })
        .collect();
    by_invocation.sort_unstable();
    let mut by_completion: Vec<(u64, usize)> = acknowledged
        .iter()
        .filter_map(|(element, (_, completed))| position.get(element).map(|&p| (*completed, p)))
        .collect();
    by_completion.sort_unstable();
    let mut done = 0;
    let mut latest_before: Option<usize> = None;
    let mut misordered = Vec::new();
    for (invoked, element, at) in by_invocation {
        while done < by_completion.len() && by_completion[done].0 < invoked {
            latest_before = latest_before.max(Some(by_completion[done].1));
            done += 1;
        }
        if latest_before.is_some_and(|before| before > at) {
            misordered.push(element);
        }
    }
    report.lost += lost.len() as u64;
    report.unexpected += (unexpected.len() + misordered.len()) as u64;
    if !lost.is_empty() {
        problems.push(format!(
            "key {key}: {} acknowledged appends missing from `{read}`: {}",
            lost.len(),
            name_elements(&lost)
        ));
    }
    if !unexpected.is_empty() {
        problems.push(format!(
            "key {key}: {} elements present twice or never appended: {}",
            unexpected.len(),
            name_elements(&unexpected)
        ));
    }
    if !misordered.is_empty() {
        problems.push(format!(
            "key {key}: {} appends before an append that completed before they began: {}",
            misordered.len(),
            name_elements(&misordered)
        ));
    }
    problems
}

fn check_counter(key: &str, events: &[&Event], report: &mut LossReport) -> Vec<String> {
    let mut problems = Vec::new();
    let mut acknowledged = 0u64;
    let mut unknown = 0u64;
    // The highest new value an acknowledged Incr reported, and that Incr.
    let mut highest_acknowledged: Option<(u64, &Event)> = None;
    for event in events {
        match (&event.op, &event.outcome) {
            (Op::Incr { .. }, Outcome::Written) => acknowledged += 1,
            (Op::Incr { .. }, Outcome::Counted(value)) => {
                acknowledged += 1;
                if highest_acknowledged.is_none_or(|(highest, _)| highest < *value) {
                    highest_acknowledged = Some((*value, event));
                }
            }
            (Op::Incr { .. }, Outcome::Unknown) => unknown += 1,
            (Op::Incr { .. }, Outcome::Failed) => {}
            (Op::ReadCounter { .. }, Outcome::Counted(_) | Outcome::Failed | Outcome::Unknown) => {}
            _ => problems.push(format!("key {key}: malformed event `{event}`")),
        }
    }
    report.acknowledged += acknowledged;
    let read = match final_read(key, events, |event| {
        matches!(event.op, Op::ReadCounter { .. }) && matches!(event.outcome, Outcome::Counted(_))
    }) {
        Ok(read) => read,
        Err(line) => {
            problems.push(line);
            return problems;
        }
    };
    let Outcome::Counted(final_value) = read.outcome else {
        unreachable!("the final read was picked for its Counted value");
    };

    let mut lost = acknowledged.saturating_sub(final_value);
    if lost > 0 {
        problems.push(format!(
            "key {key}: {acknowledged} acknowledged incrs but `{read}`: {lost} lost"
        ));
    }
    if let Some((reached, highest)) = highest_acknowledged {
        if reached > final_value {
            problems.push(format!(
                "key {key}: `{highest}` proves the counter reached {reached}, but `{read}`"
            ));
            lost = lost.max(reached - final_value);
        }
    }
    report.lost += lost;

    let ceiling = acknowledged + unknown;
    if final_value > ceiling {
        report.unexpected += final_value - ceiling;
        problems.push(format!(
            "key {key}: `{read}` is above {acknowledged} acknowledged + {unknown} unknown incrs"
        ));
    }
    problems
}

fn name_elements(elements: &[u64]) -> String {
    let named: Vec<String> = elements
        .iter()
        .take(ELEMENTS_NAMED_MAX)
        .map(u64::to_string)
        .collect();
    if elements.len() > ELEMENTS_NAMED_MAX {
        format!("{}, ...", named.join(", "))
    } else {
        named.join(", ")
    }
}
