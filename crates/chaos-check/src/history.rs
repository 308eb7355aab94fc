//! What a chaos run records: one [`Event`] per client operation, with the
//! times it was invoked and completed and what the client was told.
//!
//! Times are microseconds on one monotonic clock shared by every client of
//! a run; only their order matters. An operation that completed before
//! another was invoked must take effect before it; operations whose
//! intervals overlap may take effect in either order.
//!
//! Invariant (asserted by [`History::push`]): `invoked_us <= completed_us`.

/// One client operation on one key. Register values are u64; a register
/// that was never written reads as None.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Read {
        key: String,
    },
    Write {
        key: String,
        value: u64,
    },
    /// Compare-and-set: if the register holds `from`, set it to `to`.
    Cas {
        key: String,
        from: u64,
        to: u64,
    },
    /// Add a unique element to a set.
    Add {
        key: String,
        element: u64,
    },
    /// Read a whole set (after the faults stop).
    ReadSet {
        key: String,
    },
    Incr {
        key: String,
    },
    /// Read a counter (after the faults stop).
    ReadCounter {
        key: String,
    },
    /// Append a unique element to the end of a list.
    Append {
        key: String,
        element: u64,
    },
    /// Read a whole list (after the faults stop).
    ReadList {
        key: String,
    },
}

impl Op {
    /// The key the operation touches.
    pub fn key(&self) -> &str {
        match self {
            Op::Read { key }
            | Op::Write { key, .. }
            | Op::Cas { key, .. }
            | Op::Add { key, .. }
            | Op::ReadSet { key }
            | Op::Incr { key }
            | Op::ReadCounter { key }
            | Op::Append { key, .. }
            | Op::ReadList { key } => key,
        }
    }
}

/// What the client was told about an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A Read completed and saw this value (None: never written).
    ReadValue(Option<u64>),
    /// A Write, Add or Incr was acknowledged (an Incr may instead report
    /// its new value as `Counted`).
    Written,
    /// An Incr was acknowledged with the counter's new value, or a
    /// ReadCounter saw this value.
    Counted(u64),
    /// A Cas completed: true = swapped; false = the register did not hold
    /// `from` (a definite failure: no effect).
    Swapped(bool),
    /// A ReadSet saw these elements.
    SetValue(Vec<u64>),
    /// A ReadList saw these elements, in list order.
    ListValue(Vec<u64>),
    /// Definitely did not happen (an error the server guarantees had no
    /// effect, e.g. a refused write).
    Failed,
    /// May or may not have happened (timeout, connection lost,
    /// -NOREPLICAS/-TRYAGAIN "outcome unknown"); it may take effect at any
    /// time after its invocation.
    Unknown,
}

/// One operation as one client process saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub process: u32,
    pub op: Op,
    pub invoked_us: u64,
    /// Completion time; for Unknown, when the client gave up (the op may
    /// still take effect later).
    pub completed_us: u64,
    pub outcome: Outcome,
}

/// Everything a run recorded, in the order it was recorded.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub events: Vec<Event>,
}

impl History {
    /// Records an event. Panics if it completed before it was invoked: the
    /// harness's clock or bookkeeping is broken, and no verdict on such a
    /// history could be trusted.
    pub fn push(&mut self, event: Event) {
        assert!(
            event.invoked_us <= event.completed_us,
            "event completed at {} us before it was invoked at {} us: {event:?}",
            event.completed_us,
            event.invoked_us,
        );
        self.events.push(event);
    }

    /// Every key touched, sorted, each once.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.events.iter().map(|e| e.op.key().to_owned()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The events on one key, in recorded order.
    pub fn on_key(&self, key: &str) -> Vec<&Event> {
        self.events.iter().filter(|e| e.op.key() == key).collect()
    }
}

/// The `process` of the reads a harness makes once the faults stopped.
pub const FINAL_READER: u32 = u32::MAX;

impl std::fmt::Display for Event {
    /// `p3 write 5 -> ok [100..180 us]`: short enough for an explanation.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.process == FINAL_READER {
            write!(f, "final ")?;
        } else {
            write!(f, "p{} ", self.process)?;
        }
        match &self.op {
            Op::Read { .. } => write!(f, "read")?,
            Op::Write { value, .. } => write!(f, "write {value}")?,
            Op::Cas { from, to, .. } => write!(f, "cas {from}->{to}")?,
            Op::Add { element, .. } => write!(f, "add {element}")?,
            Op::ReadSet { .. } => write!(f, "read-set")?,
            Op::Incr { .. } => write!(f, "incr")?,
            Op::ReadCounter { .. } => write!(f, "read-counter")?,
            Op::Append { element, .. } => write!(f, "append {element}")?,
            Op::ReadList { .. } => write!(f, "read-list")?,
        }
        match &self.outcome {
            Outcome::ReadValue(Some(value)) => write!(f, " -> {value}")?,
            Outcome::ReadValue(None) => write!(f, " -> nil")?,
            Outcome::Written => write!(f, " -> ok")?,
            Outcome::Counted(value) => write!(f, " -> {value}")?,
            Outcome::Swapped(swapped) => write!(f, " -> swapped={swapped}")?,
            Outcome::SetValue(elements) | Outcome::ListValue(elements) => {
                write!(f, " -> {} elements", elements.len())?
            }
            Outcome::Failed => write!(f, " -> failed")?,
            Outcome::Unknown => write!(f, " -> unknown")?,
        }
        write!(f, " [{}..{} us]", self.invoked_us, self.completed_us)
    }
}
