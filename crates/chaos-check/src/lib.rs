//! The checkers behind `daisy chaos`: given the history a fault-injection
//! run recorded, decide whether the database kept its promises.
//!
//! Owns: the judgement, nothing else. The harness runs clients against a
//! cluster while it kills, pauses and partitions nodes, records every
//! operation as an [`Event`] in a [`History`], and hands the history here.
//!
//! Must never: do I/O, read a clock or draw a random number. Every verdict
//! is a function of the history passed in, so a failing run can be checked
//! again, offline, from its recorded history. Must never cry wolf: when a
//! check cannot finish within its limits it answers "unknown", not "broken".
//!
//! Layout:
//! - [`history`]: the vocabulary ([`Op`], [`Outcome`], [`Event`],
//!   [`History`]);
//! - [`linearizable`]: [`check_registers`], a linearizability checker for
//!   single registers (read, write, compare-and-set), one key at a time;
//! - [`counter`]: [`check_counters_linearizable`], an exact
//!   linearizability check for counters that only grow by `INCR`;
//! - [`loss`]: [`check_sets`] and [`check_counters`], which count
//!   acknowledged writes that a final read no longer sees.
//!
//! Operations whose fate the client does not know ([`Outcome::Unknown`]) are
//! never held against the database: they may have taken effect at any time
//! after their invocation, or never.

pub mod counter;
pub mod history;
pub mod linearizable;
pub mod loss;

pub use counter::check_counters_linearizable;
pub use history::{Event, History, Op, Outcome, FINAL_READER};
pub use linearizable::{check_registers, KeyVerdict, Verdict, SEARCH_STEPS_MAX};
pub use loss::{check_counters, check_lists, check_sets, LossReport};
