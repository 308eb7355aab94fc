//! The chaos workload: clients that follow the primary the way an
//! application would (any error: try the next node) and record every
//! operation with its outcome.
//!
//! - registers `r0.0..` (fresh keys every `REGISTER_WINDOW_SECS`): `GET`,
//!   `SET` of a value unique to the run, and
//!   compare-and-set as `WATCH`, `GET`, then `MULTI`/`SET`/`EXEC` when the
//!   value is the expected one (an aborted `EXEC` had no effect);
//! - counters `c0..`: `INCR`;
//! - sets `s0..`: `SADD` of an element unique to the run;
//! - lists `l0..`: `RPUSH` of an element unique to the run.
//!
//! Outcomes: a reply is ok; an error reply had no effect unless it says
//! the outcome is unknown (`-NOREPLICAS ... unknown`, a role change); a
//! lost connection or a timeout leaves a write unknown and a read failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use daisy_chaos_check::{Event, History, Op, Outcome, FINAL_READER};

use super::client::{Connection, Reply};

const REGISTERS: u64 = 4;
/// Registers get fresh keys every this many seconds (`r<i>.<window>`), so
/// each key's history stays small enough to check for linearizability.
const REGISTER_WINDOW_SECS: u64 = 5;
const COUNTERS: u64 = 3;
const SETS: u64 = 3;
const LISTS: u64 = 3;
/// A client's timeout on any one reply.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Pause before a client tries the next node.
const RETRY_PAUSE: Duration = Duration::from_millis(5);
/// Pause between two operations of a client.
const THINK: Duration = Duration::from_millis(1);

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub struct Workload {
    handles: Vec<thread::JoinHandle<Vec<Event>>>,
}

impl Workload {
    pub fn start(
        ports: Vec<u16>,
        clients: usize,
        seed: u64,
        start: Instant,
        stop: Arc<AtomicBool>,
    ) -> Workload {
        let handles = (0..clients)
            .map(|id| {
                let (ports, stop) = (ports.clone(), stop.clone());
                thread::spawn(move || Client::new(id as u32, ports, seed, start).run(&stop))
            })
            .collect();
        Workload { handles }
    }

    pub fn finish(self) -> History {
        let mut history = History::default();
        for handle in self.handles {
            for event in handle.join().unwrap_or_default() {
                history.push(event);
            }
        }
        history
    }
}

struct Client {
    id: u32,
    ports: Vec<u16>,
    node: usize,
    connection: Option<Connection>,
    random: Rng,
    start: Instant,
    sequence: u64,
    /// The last value this client saw in each register of the current
    /// window (the `from` of its next compare-and-set).
    seen: Vec<Option<u64>>,
    window: u64,
    events: Vec<Event>,
}

impl Client {
    fn new(id: u32, ports: Vec<u16>, seed: u64, start: Instant) -> Client {
        Client {
            node: id as usize % ports.len(),
            ports,
            id,
            connection: None,
            random: Rng::new(seed ^ (u64::from(id) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            start,
            sequence: 0,
            seen: vec![None; REGISTERS as usize],
            window: 0,
            events: Vec::new(),
        }
    }

    fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// A value no other operation of the run uses.
    fn unique(&mut self) -> u64 {
        self.sequence += 1;
        (u64::from(self.id) + 1) * 1_000_000_000 + self.sequence
    }

    fn run(mut self, stop: &AtomicBool) -> Vec<Event> {
        while !stop.load(Ordering::Relaxed) {
            self.one();
            thread::sleep(THINK);
        }
        self.events
    }

    /// The key of `register` in the current window.
    fn register_key(&mut self, register: u64) -> String {
        let window = self.start.elapsed().as_secs() / REGISTER_WINDOW_SECS;
        if window != self.window {
            self.window = window;
            self.seen = vec![None; REGISTERS as usize];
        }
        format!("r{register}.{window}")
    }

    fn one(&mut self) {
        let choice = self.random.below(10);
        let (op, outcome) = match choice {
            0..=1 => self.read(),
            2..=3 => self.write(),
            4 => self.compare_and_set(),
            5..=6 => self.increment(),
            7 => self.append(),
            _ => self.add(),
        };
        let failed = !matches!(
            outcome.1,
            Outcome::ReadValue(_) | Outcome::Written | Outcome::Counted(_) | Outcome::Swapped(_)
        );
        self.events.push(Event {
            process: self.id,
            op,
            invoked_us: outcome.0,
            completed_us: self.now_us(),
            outcome: outcome.1,
        });
        if failed {
            self.connection = None;
            self.node = (self.node + 1) % self.ports.len();
            thread::sleep(RETRY_PAUSE);
        }
    }

    /// Sends one command on the current connection (opening one if need
    /// be).
    fn call(&mut self, argv: &[&str]) -> Result<Reply, ()> {
        if self.connection.is_none() {
            self.connection = Connection::open(self.ports[self.node], CLIENT_TIMEOUT).ok();
        }
        let connection = self.connection.as_mut().ok_or(())?;
        connection.call(argv).map_err(|_| ())
    }

    fn read(&mut self) -> (Op, (u64, Outcome)) {
        let register = self.random.below(REGISTERS);
        let key = self.register_key(register);
        let invoked = self.now_us();
        let outcome = match self.call(&["GET", &key]) {
            Ok(Reply::Bulk(value)) => {
                let value = value.and_then(|v| String::from_utf8_lossy(&v).parse().ok());
                self.seen[register as usize] = value;
                Outcome::ReadValue(value)
            }
            Ok(_) | Err(()) => Outcome::Failed,
        };
        (Op::Read { key }, (invoked, outcome))
    }

    fn write(&mut self) -> (Op, (u64, Outcome)) {
        let register = self.random.below(REGISTERS);
        let key = self.register_key(register);
        let value = self.unique();
        let invoked = self.now_us();
        let outcome = match self.call(&["SET", &key, &value.to_string()]) {
            Ok(Reply::Simple(ok)) if ok == "OK" => {
                self.seen[register as usize] = Some(value);
                Outcome::Written
            }
            reply => undone(reply),
        };
        (Op::Write { key, value }, (invoked, outcome))
    }

    fn compare_and_set(&mut self) -> (Op, (u64, Outcome)) {
        let register = self.random.below(REGISTERS);
        let key = self.register_key(register);
        let from = self.seen[register as usize].unwrap_or(0);
        let to = self.unique();
        let invoked = self.now_us();
        let op = Op::Cas {
            key: key.clone(),
            from,
            to,
        };
        let current = match (self.call(&["WATCH", &key]), self.call(&["GET", &key])) {
            (Ok(Reply::Simple(_)), Ok(Reply::Bulk(value))) => {
                value.and_then(|v| String::from_utf8_lossy(&v).parse::<u64>().ok())
            }
            _ => return (op, (invoked, Outcome::Failed)),
        };
        if current != Some(from) {
            // A refusal read the register: recorded as the read it was, it
            // tells the checker what the value was, not only what it was not.
            let _ = self.call(&["UNWATCH"]);
            self.seen[register as usize] = current;
            return (Op::Read { key }, (invoked, Outcome::ReadValue(current)));
        }
        let queued = matches!(self.call(&["MULTI"]), Ok(Reply::Simple(_)))
            && matches!(
                self.call(&["SET", &key, &to.to_string()]),
                Ok(Reply::Simple(_))
            );
        if !queued {
            let _ = self.call(&["DISCARD"]);
            return (op, (invoked, Outcome::Failed));
        }
        let outcome = match self.call(&["EXEC"]) {
            Ok(Reply::Array(None)) => Outcome::Failed,
            Ok(Reply::Array(Some(replies)))
                if replies.first() == Some(&Reply::Simple("OK".into())) =>
            {
                self.seen[register as usize] = Some(to);
                Outcome::Swapped(true)
            }
            Ok(Reply::Array(Some(replies))) => match replies.first() {
                Some(Reply::Error(text)) if text.contains("unknown") => Outcome::Unknown,
                _ => Outcome::Failed,
            },
            reply => undone(reply),
        };
        (op, (invoked, outcome))
    }

    fn increment(&mut self) -> (Op, (u64, Outcome)) {
        let key = format!("c{}", self.random.below(COUNTERS));
        let invoked = self.now_us();
        let outcome = match self.call(&["INCR", &key]) {
            Ok(Reply::Int(value)) => Outcome::Counted(value.max(0) as u64),
            reply => undone(reply),
        };
        (Op::Incr { key }, (invoked, outcome))
    }

    fn append(&mut self) -> (Op, (u64, Outcome)) {
        let key = format!("l{}", self.random.below(LISTS));
        let element = self.unique();
        let invoked = self.now_us();
        let outcome = match self.call(&["RPUSH", &key, &element.to_string()]) {
            Ok(Reply::Int(_)) => Outcome::Written,
            reply => undone(reply),
        };
        (Op::Append { key, element }, (invoked, outcome))
    }

    fn add(&mut self) -> (Op, (u64, Outcome)) {
        let key = format!("s{}", self.random.below(SETS));
        let element = self.unique();
        let invoked = self.now_us();
        let outcome = match self.call(&["SADD", &key, &element.to_string()]) {
            Ok(Reply::Int(_)) => Outcome::Written,
            reply => undone(reply),
        };
        (Op::Add { key, element }, (invoked, outcome))
    }
}

/// The outcome of a write that got no success reply.
fn undone(reply: Result<Reply, ()>) -> Outcome {
    match reply {
        Ok(Reply::Error(text)) if text.contains("unknown") => Outcome::Unknown,
        Ok(_) => Outcome::Failed,
        Err(()) => Outcome::Unknown,
    }
}

/// After the cluster settled: every register, counter and set read on
/// the primary at `port`, added to the history.
pub fn final_reads(port: u16, start: Instant, history: &mut History) -> Result<(), String> {
    let mut connection = Connection::open(port, CLIENT_TIMEOUT)
        .map_err(|e| format!("final reads on port {port}: {e}"))?;
    let now = || start.elapsed().as_micros() as u64;
    let failed = |what: &str| format!("final read of {what} failed");
    let windows = start.elapsed().as_secs() / REGISTER_WINDOW_SECS;
    for (window, register) in (0..=windows).flat_map(|w| (0..REGISTERS).map(move |r| (w, r))) {
        let key = format!("r{register}.{window}");
        let invoked = now();
        let Ok(Reply::Bulk(value)) = connection.call(&["GET", &key]) else {
            return Err(failed(&key));
        };
        let value = value.and_then(|v| String::from_utf8_lossy(&v).parse().ok());
        history.push(final_event(
            Op::Read { key },
            invoked,
            now(),
            Outcome::ReadValue(value),
        ));
    }
    for counter in 0..COUNTERS {
        let key = format!("c{counter}");
        let invoked = now();
        let value = match connection.call(&["GET", &key]) {
            Ok(Reply::Bulk(value)) => value
                .and_then(|v| String::from_utf8_lossy(&v).parse().ok())
                .unwrap_or(0),
            _ => return Err(failed(&key)),
        };
        history.push(final_event(
            Op::ReadCounter { key },
            invoked,
            now(),
            Outcome::Counted(value),
        ));
    }
    for set in 0..SETS {
        let key = format!("s{set}");
        let invoked = now();
        let Ok(Reply::Array(Some(items))) = connection.call(&["SMEMBERS", &key]) else {
            return Err(failed(&key));
        };
        let elements = items
            .into_iter()
            .filter_map(|item| match item {
                Reply::Bulk(Some(v)) => String::from_utf8_lossy(&v).parse().ok(),
                _ => None,
            })
            .collect();
        history.push(final_event(
            Op::ReadSet { key },
            invoked,
            now(),
            Outcome::SetValue(elements),
        ));
    }
    for list in 0..LISTS {
        let key = format!("l{list}");
        let invoked = now();
        let Ok(Reply::Array(Some(items))) = connection.call(&["LRANGE", &key, "0", "-1"]) else {
            return Err(failed(&key));
        };
        let elements = items
            .into_iter()
            .filter_map(|item| match item {
                Reply::Bulk(Some(v)) => String::from_utf8_lossy(&v).parse().ok(),
                _ => None,
            })
            .collect();
        history.push(final_event(
            Op::ReadList { key },
            invoked,
            now(),
            Outcome::ListValue(elements),
        ));
    }
    Ok(())
}

fn final_event(op: Op, invoked_us: u64, completed_us: u64, outcome: Outcome) -> Event {
    Event {
        process: FINAL_READER,
        op,
        invoked_us,
        completed_us,
        outcome,
    }
}

/// A node's epoch and whether it is primary and holds its lease.
pub fn role(port: u16) -> Option<(u64, bool)> {
    let mut connection = Connection::open(port, Duration::from_millis(300)).ok()?;
    let Reply::Bulk(Some(text)) = connection.call(&["INFO", "replication"]).ok()? else {
        return None;
    };
    let text = String::from_utf8_lossy(&text);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let epoch = field("epoch")?.parse().ok()?;
    Some((
        epoch,
        field("role") == Some("master") && field("lease") == Some("held"),
    ))
}

pub struct Counts {
    pub total: usize,
    pub ok: usize,
    pub failed: usize,
    pub unknown: usize,
}

pub fn count(history: &History) -> Counts {
    let mut counts = Counts {
        total: history.events.len(),
        ok: 0,
        failed: 0,
        unknown: 0,
    };
    for event in &history.events {
        match event.outcome {
            Outcome::Failed => counts.failed += 1,
            Outcome::Unknown => counts.unknown += 1,
            _ => counts.ok += 1,
        }
    }
    counts
}

/// When the first write invoked at or after `since_us` was acknowledged.
pub fn first_write_ok_after(history: &History, since_us: u64) -> Option<u64> {
    history
        .events
        .iter()
        .filter(|e| e.invoked_us >= since_us && e.process != FINAL_READER)
        .filter(|e| {
            matches!(
                e.outcome,
                Outcome::Written | Outcome::Counted(_) | Outcome::Swapped(true)
            )
        })
        .map(|e| e.completed_us)
        .min()
}

/// Writes invoked in `from_us..to_us`: (acknowledged, failed, unknown).
/// A compare-and-set that found another value wrote nothing and is not
/// counted.
pub fn writes_during(history: &History, from_us: u64, to_us: u64) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    let writes = history.events.iter().filter(|e| {
        (from_us..to_us).contains(&e.invoked_us)
            && e.process != FINAL_READER
            && matches!(
                e.op,
                Op::Write { .. }
                    | Op::Cas { .. }
                    | Op::Add { .. }
                    | Op::Incr { .. }
                    | Op::Append { .. }
            )
    });
    for event in writes {
        match event.outcome {
            Outcome::Written | Outcome::Counted(_) | Outcome::Swapped(true) => counts.0 += 1,
            Outcome::Failed => counts.1 += 1,
            Outcome::Unknown => counts.2 += 1,
            _ => {}
        }
    }
    counts
}
