//! The search for a valid order of one key's register operations.
//!
//! Events: every operation has a call event at `invoked_us`; an operation
//! that completed also has a return event at `completed_us`. An operation
//! whose outcome is unknown has no return event, so nothing ever forces it
//! in: it may be taken at any point after its call, or never.
//!
//! The events live in a doubly linked list sorted by time (a call before a
//! return at the same instant, so touching intervals count as concurrent
//! and neither order is ruled out). Taking an operation unlinks its call
//! and return; undoing relinks them, in reverse, like dancing links.
//!
//! Walk: at a call, if the operation is legal on the current value and the
//! resulting (taken set, value) was never seen, take it and restart from
//! the head; otherwise move on. At a return, the operation returning was
//! not taken in time on this path: undo the last operation taken and try
//! the call after it. Success is every completed operation taken; failure
//! is needing to undo with nothing taken.
//!
//! Invariants: the stack of taken operations and the list are always
//! consistent (an operation is on the stack iff its events are unlinked);
//! `required_left` counts the completed operations not on the stack.

use std::collections::HashSet;

/// What one operation does to, or asks of, the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Legal only when the register holds `value`.
    Read {
        value: Option<u64>,
    },
    Write {
        value: u64,
    },
    /// Legal only when the register holds `from`; then it holds `to`.
    Cas {
        from: u64,
        to: u64,
    },
    /// A Cas that reported no swap: legal only when the register does not
    /// hold `from`; changes nothing.
    CasRefused {
        from: u64,
    },
}

impl Step {
    /// The register's value after the step, or None if the step is not
    /// legal on `value`.
    fn apply(self, value: Option<u64>) -> Option<Option<u64>> {
        match self {
            Step::Read { value: seen } => (seen == value).then_some(value),
            Step::Write { value: written } => Some(Some(written)),
            Step::Cas { from, to } => (value == Some(from)).then_some(Some(to)),
            Step::CasRefused { from } => (value != Some(from)).then_some(value),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Operation {
    pub step: Step,
    pub invoked_us: u64,
    /// None: the outcome is unknown; the operation may never take effect.
    pub completed_us: Option<u64>,
    /// Where the operation's event is in the caller's list, to explain.
    pub event_index: usize,
}

/// Where the deepest attempt got stuck: the material of an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stuck {
    /// How many operations the attempt had taken.
    pub taken: usize,
    /// The last operations taken, oldest first (at most
    /// `EXPLANATION_OPS_MAX`).
    pub recent: Vec<usize>,
    /// The register's value then.
    pub value: Option<u64>,
    /// The operation that returned without a place in the order.
    pub blocked: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum SearchOutcome {
    Linearizable,
    NotLinearizable(Stuck),
    TooLarge { steps: u64, memo_words: usize },
}

const HEAD: usize = 0;
const END: usize = usize::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    operation: usize,
    is_call: bool,
    prev: usize,
    next: usize,
}

/// The time-ordered list of call and return events, with unlink and
/// relink in O(1).
struct Events {
    nodes: Vec<Node>,
    call_node: Vec<usize>,
    return_node: Vec<Option<usize>>,
}

impl Events {
    fn new(operations: &[Operation]) -> Events {
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(operations.len() * 2);
        for (index, operation) in operations.iter().enumerate() {
            order.push((operation.invoked_us, false, index));
            if let Some(completed_us) = operation.completed_us {
                order.push((completed_us, true, index));
            }
        }
        // (time, is_return, index): calls sort before returns at one instant.
        order.sort_unstable();

        let head = Node {
            operation: END,
            is_call: false,
            prev: END,
            next: END,
        };
        let mut events = Events {
            nodes: vec![head],
            call_node: vec![END; operations.len()],
            return_node: vec![None; operations.len()],
        };
        for (_, is_return, operation) in order {
            let position = events.nodes.len();
            events.nodes[position - 1].next = position;
            events.nodes.push(Node {
                operation,
                is_call: !is_return,
                prev: position - 1,
                next: END,
            });
            if is_return {
                events.return_node[operation] = Some(position);
            } else {
                events.call_node[operation] = position;
            }
        }
        events
    }

    fn unlink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = next;
        if next != END {
            self.nodes[next].prev = prev;
        }
    }

    fn relink(&mut self, node: usize) {
        let Node { prev, next, .. } = self.nodes[node];
        self.nodes[prev].next = node;
        if next != END {
            self.nodes[next].prev = node;
        }
    }

    fn take(&mut self, operation: usize) {
        self.unlink(self.call_node[operation]);
        if let Some(node) = self.return_node[operation] {
            self.unlink(node);
        }
    }

    fn untake(&mut self, operation: usize) {
        if let Some(node) = self.return_node[operation] {
            self.relink(node);
        }
        self.relink(self.call_node[operation]);
    }
}

/// An exact, compact copy of a taken set: see [`Taken::fingerprint`].
type Fingerprint = (usize, Box<[u64]>);

/// The set of operations taken, as a bitset.
struct Taken {
    words: Vec<u64>,
}

impl Taken {
    fn set(&mut self, operation: usize) {
        self.words[operation / 64] |= 1 << (operation % 64);
    }

    fn clear(&mut self, operation: usize) {
        self.words[operation / 64] &= !(1 << (operation % 64));
    }

    /// A compact, exact key for the memo. Operations are numbered in
    /// invocation order, so a taken set is mostly a full prefix followed by
    /// a short ragged edge: keep the count of full leading words and the
    /// words from there to the last nonzero one.
    fn fingerprint(&self) -> Fingerprint {
        let full = self
            .words
            .iter()
            .take_while(|&&word| word == u64::MAX)
            .count();
        let rest = &self.words[full..];
        let used = rest.len() - rest.iter().rev().take_while(|&&word| word == 0).count();
        (full, rest[..used].into())
    }
}

/// Searches for a valid order; `operations` must be sorted by `invoked_us`
/// only for the memo to stay small, not for correctness.
pub(super) fn search(
    operations: &[Operation],
    steps_max: u64,
    memo_words_max: usize,
) -> SearchOutcome {
    let mut events = Events::new(operations);
    let mut taken = Taken {
        words: vec![0; operations.len().div_ceil(64)],
    };
    let mut memo: HashSet<(Fingerprint, Option<u64>)> = HashSet::new();
    let mut memo_words = 0usize;
    let mut stack: Vec<(usize, Option<u64>)> = Vec::new();
    let mut value: Option<u64> = None;
    let mut required_left = operations
        .iter()
        .filter(|op| op.completed_us.is_some())
        .count();
    let mut deepest: Option<Stuck> = None;
    let mut steps = 0u64;
    let mut cursor = events.nodes[HEAD].next;

    while required_left > 0 {
        steps += 1;
        if steps > steps_max || memo_words > memo_words_max {
            return SearchOutcome::TooLarge { steps, memo_words };
        }
        // A completed operation not yet taken still has its return linked.
        assert!(
            cursor != END,
            "walked past every return with operations left"
        );
        let node = events.nodes[cursor];
        if node.is_call {
            let operation = node.operation;
            if let Some(next_value) = operations[operation].step.apply(value) {
                taken.set(operation);
                let fingerprint = taken.fingerprint();
                let fingerprint_words = fingerprint.1.len() + 2;
                if memo.insert((fingerprint, next_value)) {
                    memo_words += fingerprint_words;
                    stack.push((operation, value));
                    value = next_value;
                    if operations[operation].completed_us.is_some() {
                        required_left -= 1;
                    }
                    events.take(operation);
                    cursor = events.nodes[HEAD].next;
                    continue;
                }
                taken.clear(operation);
            }
            cursor = node.next;
        } else {
            if deepest
                .as_ref()
                .is_none_or(|stuck| stack.len() > stuck.taken)
            {
                deepest = Some(stuck_here(&stack, value, node.operation));
            }
            let Some((operation, previous_value)) = stack.pop() else {
                let stuck = deepest.unwrap_or_else(|| stuck_here(&stack, value, node.operation));
                return SearchOutcome::NotLinearizable(stuck);
            };
            taken.clear(operation);
            value = previous_value;
            if operations[operation].completed_us.is_some() {
                required_left += 1;
            }
            events.untake(operation);
            cursor = events.nodes[events.call_node[operation]].next;
        }
    }
    SearchOutcome::Linearizable
}

fn stuck_here(stack: &[(usize, Option<u64>)], value: Option<u64>, blocked: usize) -> Stuck {
    let recent_from = stack.len().saturating_sub(super::EXPLANATION_OPS_MAX);
    Stuck {
        taken: stack.len(),
        recent: stack[recent_from..].iter().map(|&(op, _)| op).collect(),
        value,
        blocked,
    }
}
