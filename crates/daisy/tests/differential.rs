//! Differential test: one seeded random command sequence runs against
//! `daisy server` and against a real `redis-server` 7.0 side by side, and
//! every reply must be the same.
//!
//! The generator covers every data family (strings, bits, keys and expiry,
//! hashes, lists, sets, sorted sets), MULTI/EXEC and WATCH blocks, and calls
//! that must fail (wrong type, wrong arity, bad arguments). Keys and members
//! come from small pools so commands collide on the same keys.
//!
//! Replies are compared exactly, except where Redis itself does not fix the
//! result: element order of set-like replies (SMEMBERS, SINTER, HKEYS,
//! HGETALL pairs, KEYS, RESP3 sets and maps), the formatting of doubles
//! (Redis 7.0 prints 17 significant digits, DaisyDB the shortest form, so
//! scores compare by value), remaining TTLs (the clocks differ: only "has a
//! TTL" is compared) and random picks (only their size is compared).
//! Timing never decides a reply: expiry times are far in the future, and
//! GT/LT only ever compare absolute times.
//!
//! Environment:
//! - `DAISY_DIFF_SEED=<n>`: run only this seed (the failure message prints it);
//! - `DAISY_DIFF_COMMANDS=<n>`: commands per seed;
//! - `DAISY_DIFF_SKIP=cmd,cmd`: do not generate these commands (to look past
//!   a known mismatch);
//! - `DAISY_DIFF_KEEP_GOING=1`: record every mismatch, resynchronise both
//!   servers (FLUSHALL) and go on; report them all at the end;
//! - `DAISY_TEST_AGAINST=redis`: compare two redis-servers (checks the harness).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use support::{format_command, parse_redis_double, spawn_daisy, spawn_redis, Resp, RespConn};
use support::{ServerProcess, XorShift};

type Arg = Vec<u8>;
type Argv = Vec<Arg>;

macro_rules! argv {
    ($($part:expr),* $(,)?) => {
        vec![$(Arg::from(AsRef::<[u8]>::as_ref(&$part)),)*]
    };
}

/// Seeds and sizes of the default runs; together well under a minute.
const RESP2_SEEDS: &[u64] = &[1, 2, 3, 4, 5, 6];
const RESP2_COMMANDS: usize = 2500;
const RESP3_SEEDS: &[u64] = &[101, 102];
const RESP3_COMMANDS: usize = 1500;
const SELF_CHECK_SEEDS: &[u64] = &[7, 103];
const SELF_CHECK_COMMANDS: usize = 1500;
/// A run stops generating (and says so) past this wall-clock budget.
const TIME_BUDGET: Duration = Duration::from_secs(45);
/// Mismatches kept in keep-going mode before giving up on a seed.
const MAX_MISMATCHES_PER_SEED: usize = 25;
/// Runs this long are expected to have used every catalogued command.
const FULL_CATALOGUE_COMMANDS: usize = 10_000;
/// Commands shown before the failing one in a mismatch report.
const CONTEXT_COMMANDS: usize = 12;

// ---------------------------------------------------------------------------
// Tests

#[test]
fn daisy_matches_redis_resp2() {
    run_suite(
        "daisy_matches_redis_resp2",
        2,
        RESP2_SEEDS,
        RESP2_COMMANDS,
        Subject::from_env(),
    );
}

#[test]
fn daisy_matches_redis_resp3() {
    run_suite(
        "daisy_matches_redis_resp3",
        3,
        RESP3_SEEDS,
        RESP3_COMMANDS,
        Subject::from_env(),
    );
}

/// The harness itself: two Redis servers must agree on every reply once
/// normalised, so anything the daisy runs report is about DaisyDB.
#[test]
fn redis_matches_redis() {
    run_suite(
        "redis_matches_redis",
        2,
        &SELF_CHECK_SEEDS[..1],
        SELF_CHECK_COMMANDS,
        Subject::Redis,
    );
    run_suite(
        "redis_matches_redis",
        3,
        &SELF_CHECK_SEEDS[1..],
        SELF_CHECK_COMMANDS,
        Subject::Redis,
    );
}

#[test]
fn generator_is_deterministic_and_respects_skips() {
    let sequence = |seed| {
        let mut generator = Generator::new(seed, HashSet::new());
        (0..500).map(|_| generator.step().1).collect::<Vec<_>>()
    };
    assert_eq!(sequence(42), sequence(42));
    assert_ne!(sequence(42), sequence(43));
    let skip: HashSet<String> = ["set".to_string(), "zadd".to_string()].into();
    let mut generator = Generator::new(42, skip);
    for _ in 0..2000 {
        for action in generator.step().1 {
            let name = command_name(&action.argv);
            assert!(name != "set" && name != "zadd", "skipped command generated");
        }
    }
}

#[test]
fn normalisation_only_forgives_what_redis_leaves_open() {
    let bulk = |s: &str| Resp::Bulk(s.as_bytes().to_vec());
    let n = |cmd: &[&str], reply: Resp| normalise(&argv_of(cmd), reply, &[]);
    // Order of set members does not matter, order of list elements does.
    assert_eq!(
        n(&["SMEMBERS", "s"], Resp::Array(vec![bulk("a"), bulk("b")])),
        n(&["SMEMBERS", "s"], Resp::Array(vec![bulk("b"), bulk("a")]))
    );
    assert_ne!(
        n(
            &["LRANGE", "l", "0", "-1"],
            Resp::Array(vec![bulk("a"), bulk("b")])
        ),
        n(
            &["LRANGE", "l", "0", "-1"],
            Resp::Array(vec![bulk("b"), bulk("a")])
        )
    );
    // Scores compare by value; other strings exactly.
    assert_eq!(
        n(&["ZSCORE", "z", "a"], bulk("0.10000000000000001")),
        n(&["ZSCORE", "z", "a"], bulk("0.1"))
    );
    assert_ne!(n(&["GET", "k"], bulk("1.0")), n(&["GET", "k"], bulk("1")));
    // HGETALL pairs stay pairs.
    assert_ne!(
        n(
            &["HGETALL", "h"],
            Resp::Array(vec![bulk("f"), bulk("1"), bulk("g"), bulk("2")])
        ),
        n(
            &["HGETALL", "h"],
            Resp::Array(vec![bulk("f"), bulk("2"), bulk("g"), bulk("1")])
        )
    );
    // A TTL compares as present or not.
    assert_eq!(
        n(&["TTL", "k"], Resp::Int(99_999)),
        n(&["TTL", "k"], Resp::Int(100_000))
    );
    assert_ne!(
        n(&["TTL", "k"], Resp::Int(-1)),
        n(&["TTL", "k"], Resp::Int(100_000))
    );
    // Errors compare exactly.
    assert_ne!(
        n(&["GET", "k"], Resp::Error(b"ERR x".to_vec())),
        n(&["GET", "k"], Resp::Error(b"ERR y".to_vec()))
    );
}

fn argv_of(parts: &[&str]) -> Argv {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

// ---------------------------------------------------------------------------
// The suite runner

#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    Daisy,
    Redis,
}

impl Subject {
    fn from_env() -> Subject {
        if support::subject_is_redis() {
            Subject::Redis
        } else {
            Subject::Daisy
        }
    }

    fn name(self) -> &'static str {
        match self {
            Subject::Daisy => "daisy",
            Subject::Redis => "redis-2",
        }
    }
}

struct Options {
    commands: usize,
    skip: HashSet<String>,
    keep_going: bool,
}

fn env_options(default_commands: usize) -> Options {
    let commands = std::env::var("DAISY_DIFF_COMMANDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default_commands);
    let skip = std::env::var("DAISY_DIFF_SKIP")
        .unwrap_or_default()
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect();
    let keep_going = std::env::var("DAISY_DIFF_KEEP_GOING").is_ok_and(|v| v == "1");
    Options {
        commands,
        skip,
        keep_going,
    }
}

fn run_suite(test: &str, protocol: u8, seeds: &[u64], commands: usize, subject: Subject) {
    let Some(reference) = spawn_redis(&[]) else {
        return;
    };
    let server = match subject {
        Subject::Daisy => spawn_daisy(&[]),
        Subject::Redis => spawn_redis(&[]).expect("a second redis-server"),
    };
    let options = env_options(commands);
    let seeds: Vec<u64> = match std::env::var("DAISY_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => seeds.to_vec(),
    };
    let started = Instant::now();
    let mut coverage = Coverage::default();
    let mut mismatches = Vec::new();
    let mut completed_all = true;
    for &seed in &seeds {
        let mut run = Run::start(test, seed, protocol, &reference, &server, subject);
        let finished = run.execute(&options, started);
        completed_all &= finished;
        coverage.merge(&run.coverage);
        mismatches.extend(run.mismatches);
    }
    eprintln!(
        "{test}: {} seeds, RESP{protocol}, {} commands compared in {:.1?}; per family (sent/ok on redis): {}",
        seeds.len(),
        coverage.total(),
        started.elapsed(),
        coverage
            .families
            .iter()
            .map(|(family, (sent, ok))| format!("{family:?} {sent}/{ok}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !mismatches.is_empty() {
        panic!("{}", summarise(&mismatches));
    }
    if completed_all && std::env::var("DAISY_DIFF_SEED").is_err() {
        let full_catalogue = coverage.total() >= FULL_CATALOGUE_COMMANDS;
        coverage.check(&options.skip, full_catalogue);
    }
}

fn summarise(mismatches: &[String]) -> String {
    let mut text = format!("{} mismatch(es) with redis-server:\n", mismatches.len());
    for mismatch in mismatches {
        text.push_str(mismatch);
        text.push('\n');
    }
    text
}

/// One command of a step: which client sends it, and whether its reply is
/// read at once or only at the end of the step (a blocking command another
/// client will serve).
#[derive(Clone, Debug, PartialEq)]
struct Action {
    client: usize,
    argv: Argv,
    deferred: bool,
}

impl Action {
    fn first(argv: Argv) -> Action {
        Action {
            client: 0,
            argv,
            deferred: false,
        }
    }

    fn second(argv: Argv) -> Action {
        Action {
            client: 1,
            argv,
            deferred: false,
        }
    }

    fn first_later(argv: Argv) -> Action {
        Action {
            client: 0,
            argv,
            deferred: true,
        }
    }
}

/// Clients per server: the main one, and a second one that disturbs it
/// (modifies watched keys, serves blocked pops).
const CLIENTS: usize = 2;

/// A command sent whose reply has not been compared yet.
struct Pending {
    family: Family,
    argv: Argv,
    /// Its 1-based line in the history.
    line: usize,
}

/// One seed against one pair of servers.
struct Run<'a> {
    test: String,
    seed: u64,
    protocol: u8,
    reference: Vec<RespConn>,
    subject: Vec<RespConn>,
    subject_name: &'static str,
    servers: (&'a ServerProcess, &'a ServerProcess),
    /// Every command sent so far, in `redis-cli` syntax.
    history: Vec<String>,
    /// Per client: commands queued by its open MULTI (per the reference).
    queued: [Option<Vec<Argv>>; CLIENTS],
    /// Per client: deferred replies, in the order they are due.
    pending: [Vec<Pending>; CLIENTS],
    coverage: Coverage,
    mismatches: Vec<String>,
}

impl<'a> Run<'a> {
    fn start(
        test: &str,
        seed: u64,
        protocol: u8,
        reference: &'a ServerProcess,
        subject: &'a ServerProcess,
        kind: Subject,
    ) -> Run<'a> {
        let mut run = Run {
            test: test.to_string(),
            seed,
            protocol,
            reference: Vec::new(),
            subject: Vec::new(),
            subject_name: kind.name(),
            servers: (reference, subject),
            history: Vec::new(),
            queued: Default::default(),
            pending: Default::default(),
            coverage: Coverage::default(),
            mismatches: Vec::new(),
        };
        run.connect();
        run
    }

    /// (Re)connects every client, empties both servers and switches every
    /// connection to the protocol under test.
    fn connect(&mut self) {
        self.reference = (0..CLIENTS).map(|_| self.servers.0.connect()).collect();
        self.subject = (0..CLIENTS).map(|_| self.servers.1.connect()).collect();
        self.queued = Default::default();
        self.pending = Default::default();
        self.history.push("\"FLUSHALL\"".into());
        if self.protocol == 3 {
            self.history.push("\"HELLO\" \"3\"".into());
        }
        let names = ["redis", self.subject_name];
        for (name, conns) in names.iter().zip([&mut self.reference, &mut self.subject]) {
            let flushed = conns[0].call(&["FLUSHALL"]);
            assert!(
                matches!(&flushed, Ok(Resp::Simple(ok)) if ok == b"OK"),
                "{name}: FLUSHALL failed: {flushed:?}"
            );
            if self.protocol != 3 {
                continue;
            }
            for conn in conns.iter_mut() {
                let hello = conn.call(&["HELLO", "3"]);
                assert!(
                    matches!(hello, Ok(Resp::Map(_))),
                    "{name}: HELLO 3 did not answer with a map: {hello:?}"
                );
            }
        }
    }

    /// Runs the seed; false if it stopped early on the time budget.
    fn execute(&mut self, options: &Options, started: Instant) -> bool {
        let mut generator = Generator::new(self.seed, options.skip.clone());
        let mut sent = 0;
        while sent < options.commands {
            if started.elapsed() > TIME_BUDGET {
                eprintln!(
                    "{}: time budget of {TIME_BUDGET:?} used up at seed {} command {sent}; stopping early",
                    self.test, self.seed
                );
                return false;
            }
            let (family, step) = generator.step();
            sent += step.len();
            if let Err(failure) = self.run_step(family, &step) {
                let report = self.report(&failure);
                if !options.keep_going {
                    panic!("{report}");
                }
                self.mismatches.push(report);
                if self.mismatches.len() >= MAX_MISMATCHES_PER_SEED {
                    return true;
                }
                self.history
                    .push("# (resynchronised: new connections, FLUSHALL)".into());
                self.connect();
            }
        }
        true
    }

    /// Runs one step, then compares the replies it deferred.
    fn run_step(&mut self, family: Family, step: &[Action]) -> Result<(), Box<Failure>> {
        for action in step {
            self.history.push(match (action.client, action.deferred) {
                (0, false) => format_command(&action.argv),
                (client, deferred) => format!(
                    "# client {}{}: {}",
                    client + 1,
                    if deferred { ", reply read later" } else { "" },
                    format_command(&action.argv)
                ),
            });
            let line = self.history.len();
            let client = action.client;
            let sent = (
                self.reference[client].send(&action.argv),
                self.subject[client].send(&action.argv),
            );
            if let (Err(e), _) | (_, Err(e)) = sent {
                let mismatch = Mismatch::fatal(format!("send failed: {e}"), String::new());
                return Err(Failure::new(action.argv.clone(), line, mismatch));
            }
            let pending = Pending {
                family,
                argv: action.argv.clone(),
                line,
            };
            if action.deferred {
                self.pending[client].push(pending);
            } else {
                self.compare_reply(client, pending)?;
            }
        }
        for client in 0..CLIENTS {
            for pending in std::mem::take(&mut self.pending[client]) {
                self.compare_reply(client, pending)?;
            }
        }
        Ok(())
    }

    /// Reads the reply to `pending` from both servers and compares them.
    fn compare_reply(&mut self, client: usize, pending: Pending) -> Result<(), Box<Failure>> {
        let Pending { family, argv, line } = pending;
        let reference = self.reference[client].read_reply();
        let subject = self.subject[client].read_reply();
        let (reference, subject) = match (reference, subject) {
            (Ok(r), Ok(s)) => (r, s),
            (r, s) => {
                let mismatch = Mismatch::fatal(format!("{r:?}"), format!("{s:?}"));
                return Err(Failure::new(argv, line, mismatch));
            }
        };
        let name = command_name(&argv);
        self.coverage.record(family, &name, &reference);
        let queued = self.queued[client].clone().unwrap_or_default();
        let reference_n = normalise(&argv, reference.clone(), &queued);
        let subject_n = normalise(&argv, subject.clone(), &queued);
        self.track_transaction(client, &name, &argv, &reference);
        if reference_n == subject_n {
            return Ok(());
        }
        let mismatch = Mismatch {
            reference: reference.to_string(),
            subject: subject.to_string(),
            normalised: Some((reference_n.to_string(), subject_n.to_string())),
            fatal: false,
        };
        Err(Failure::new(argv, line, mismatch))
    }

    fn track_transaction(&mut self, client: usize, name: &str, argv: &Argv, reference: &Resp) {
        let queued = &mut self.queued[client];
        match (name, queued.as_mut()) {
            ("multi", None) if !reference.is_error() => *queued = Some(Vec::new()),
            ("exec" | "discard", Some(_)) => *queued = None,
            (_, Some(list)) if matches!(reference, Resp::Simple(s) if s == b"QUEUED") => {
                list.push(argv.clone());
            }
            _ => {}
        }
    }

    /// The failure message; `line` is the failing command's 1-based line
    /// in the sequence file.
    fn report(&self, failure: &Failure) -> String {
        let Failure {
            argv,
            line,
            mismatch,
        } = failure;
        let line = *line;
        let path = support::artifact_dir().join(format!(
            "differential-{}-seed{}-resp{}.txt",
            self.test, self.seed, self.protocol
        ));
        let mut sequence = String::new();
        for command in &self.history {
            sequence.push_str(command);
            sequence.push('\n');
        }
        let written = std::fs::write(&path, sequence).is_ok();
        let mut text = String::new();
        let _ = writeln!(
            text,
            "\n=== differential mismatch: seed {} (RESP{}), command at line {line}{}",
            self.seed,
            self.protocol,
            if mismatch.fatal { " (no reply)" } else { "" }
        );
        let _ = writeln!(text, "command:   {}", format_command(argv));
        let _ = writeln!(text, "redis:     {}", mismatch.reference);
        let _ = writeln!(
            text,
            "{:<10} {}",
            format!("{}:", self.subject_name),
            mismatch.subject
        );
        if let Some((reference, subject)) = &mismatch.normalised {
            if reference != &mismatch.reference || subject != &mismatch.subject {
                let _ = writeln!(text, "normalised redis: {reference}");
                let _ = writeln!(text, "normalised {}: {subject}", self.subject_name);
            }
        }
        let _ = writeln!(text, "preceding commands:");
        let from = (line - 1).saturating_sub(CONTEXT_COMMANDS);
        for (i, command) in self.history[from..line - 1].iter().enumerate() {
            let _ = writeln!(text, "  {:>5}: {command}", from + i + 1);
        }
        if written {
            let _ = writeln!(
                text,
                "full sequence ({} commands, redis-cli syntax): {}",
                self.history.len(),
                path.display()
            );
        }
        let _ = writeln!(
            text,
            "servers: redis pid {} port {}, {} pid {} port {}",
            self.servers.0.pid(),
            self.servers.0.port,
            self.subject_name,
            self.servers.1.pid(),
            self.servers.1.port
        );
        let mut env = format!("DAISY_DIFF_SEED={}", self.seed);
        if let Ok(skip) = std::env::var("DAISY_DIFF_SKIP") {
            let _ = write!(env, " DAISY_DIFF_SKIP={skip}");
        }
        if let Ok(n) = std::env::var("DAISY_DIFF_COMMANDS") {
            let _ = write!(env, " DAISY_DIFF_COMMANDS={n}");
        }
        let _ = writeln!(
            text,
            "reproduce: {env} cargo test -p daisy --test differential {}",
            self.test
        );
        text
    }
}

struct Mismatch {
    reference: String,
    subject: String,
    normalised: Option<(String, String)>,
    fatal: bool,
}

/// A mismatch with the command it happened on.
struct Failure {
    argv: Argv,
    /// The command's 1-based line in the history.
    line: usize,
    mismatch: Mismatch,
}

impl Failure {
    fn new(argv: Argv, line: usize, mismatch: Mismatch) -> Box<Failure> {
        Box::new(Failure {
            argv,
            line,
            mismatch,
        })
    }
}

impl Mismatch {
    /// No comparable reply from one side (closed, timed out, unparsable).
    fn fatal(reference: String, subject: String) -> Mismatch {
        Mismatch {
            reference,
            subject,
            normalised: None,
            fatal: true,
        }
    }
}

fn command_name(argv: &Argv) -> String {
    argv.first()
        .map(|name| String::from_utf8_lossy(name).to_ascii_lowercase())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Coverage: a generator family must not silently produce nothing

/// Per family and per command: how many were sent, and how many the
/// reference answered without an error.
#[derive(Default)]
struct Coverage {
    families: BTreeMap<Family, (usize, usize)>,
    commands: BTreeMap<String, (usize, usize)>,
}

impl Coverage {
    fn record(&mut self, family: Family, name: &str, reference: &Resp) {
        let ok = usize::from(!reference.is_error());
        let entry = self.families.entry(family).or_default();
        entry.0 += 1;
        entry.1 += ok;
        let entry = self.commands.entry(name.to_string()).or_default();
        entry.0 += 1;
        entry.1 += ok;
    }

    fn merge(&mut self, other: &Coverage) {
        for (family, (sent, ok)) in &other.families {
            let entry = self.families.entry(*family).or_default();
            entry.0 += sent;
            entry.1 += ok;
        }
        for (name, (sent, ok)) in &other.commands {
            let entry = self.commands.entry(name.clone()).or_default();
            entry.0 += sent;
            entry.1 += ok;
        }
    }

    fn total(&self) -> usize {
        self.families.values().map(|(sent, _)| sent).sum()
    }

    /// Every family ran, mostly succeeded (except the error family), and in
    /// a full run every catalogued command succeeded at least once.
    fn check(&self, skip: &HashSet<String>, full_catalogue: bool) {
        let mut problems = Vec::new();
        for family in ALL_FAMILIES {
            let (sent, ok) = self.families.get(&family).copied().unwrap_or_default();
            if sent == 0 {
                problems.push(format!("family {family:?} generated no commands"));
            } else if family == Family::Errors {
                if ok == sent {
                    problems.push("family Errors never produced an error".into());
                }
            } else if ok * 3 < sent {
                problems.push(format!(
                    "family {family:?}: only {ok} of {sent} commands succeeded on redis"
                ));
            }
        }
        if full_catalogue {
            for name in CATALOGUE.iter().flat_map(|(_, names)| names.iter()) {
                if skip.contains(*name) {
                    continue;
                }
                match self.commands.get(*name) {
                    None => problems.push(format!("command {name} never generated")),
                    Some((_, 0)) => {
                        problems.push(format!("command {name} never succeeded on redis"))
                    }
                    Some(_) => {}
                }
            }
        }
        assert!(problems.is_empty(), "generator coverage: {problems:#?}");
    }
}

/// Commands each family is expected to exercise successfully.
const CATALOGUE: &[(Family, &[&str])] = &[
    (
        Family::Strings,
        &[
            "set",
            "get",
            "getset",
            "getdel",
            "getex",
            "setnx",
            "setex",
            "psetex",
            "mset",
            "msetnx",
            "mget",
            "strlen",
            "append",
            "getrange",
            "substr",
            "setrange",
            "incr",
            "decr",
            "incrby",
            "decrby",
            "incrbyfloat",
            "lcs",
        ],
    ),
    (
        Family::Bits,
        &[
            "setbit",
            "getbit",
            "bitcount",
            "bitpos",
            "bitop",
            "bitfield",
            "bitfield_ro",
        ],
    ),
    (
        Family::Keys,
        &[
            "del",
            "unlink",
            "exists",
            "type",
            "rename",
            "renamenx",
            "copy",
            "expire",
            "pexpire",
            "expireat",
            "pexpireat",
            "persist",
            "ttl",
            "pttl",
            "expiretime",
            "pexpiretime",
            "touch",
            "keys",
            "dbsize",
            "randomkey",
        ],
    ),
    (
        Family::Hashes,
        &[
            "hset",
            "hsetnx",
            "hget",
            "hmget",
            "hmset",
            "hdel",
            "hlen",
            "hexists",
            "hkeys",
            "hvals",
            "hgetall",
            "hincrby",
            "hincrbyfloat",
            "hstrlen",
            "hrandfield",
        ],
    ),
    (
        Family::Lists,
        &[
            "lpush",
            "rpush",
            "lpushx",
            "rpushx",
            "lpop",
            "rpop",
            "llen",
            "lrange",
            "lindex",
            "lset",
            "lrem",
            "ltrim",
            "linsert",
            "lpos",
            "lmove",
            "rpoplpush",
            "lmpop",
            "blpop",
            "brpop",
            "blmove",
            "blmpop",
        ],
    ),
    (
        Family::Sets,
        &[
            "sadd",
            "srem",
            "scard",
            "sismember",
            "smismember",
            "smembers",
            "sinter",
            "sunion",
            "sdiff",
            "sinterstore",
            "sunionstore",
            "sdiffstore",
            "sintercard",
            "smove",
            "spop",
            "srandmember",
        ],
    ),
    (
        Family::ZSets,
        &[
            "zadd",
            "zincrby",
            "zscore",
            "zmscore",
            "zcard",
            "zcount",
            "zrank",
            "zrevrank",
            "zrem",
            "zrange",
            "zrangebyscore",
            "zrevrangebyscore",
            "zrevrange",
            "zrangestore",
            "zremrangebyrank",
            "zremrangebyscore",
            "zpopmin",
            "zpopmax",
            "zunionstore",
            "zinterstore",
            "zdiffstore",
            "zunion",
            "zinter",
            "zdiff",
            "zintercard",
            "zmpop",
            "bzpopmin",
            "bzpopmax",
            "zrandmember",
        ],
    ),
    (
        Family::Lex,
        &[
            "zrangebylex",
            "zrevrangebylex",
            "zlexcount",
            "zremrangebylex",
        ],
    ),
    (
        Family::Transactions,
        &["multi", "exec", "discard", "watch", "unwatch"],
    ),
];

// ---------------------------------------------------------------------------
// Normalisation

/// How a command's reply may legitimately differ between two correct servers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Exact,
    /// Elements in any order.
    Unordered,
    /// Field/value pairs in any order.
    Pairs,
    /// Scores compare by value.
    Scores,
    /// Only whether a TTL is set.
    TtlPresence,
    /// Random picks: only how many.
    SizeOnly,
}

fn shape_of(argv: &Argv) -> Shape {
    let name = command_name(argv);
    let has = |word: &str| {
        argv.iter()
            .skip(1)
            .any(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    };
    match name.as_str() {
        "smembers" | "sinter" | "sunion" | "sdiff" | "hkeys" | "hvals" | "keys" | "spop" => {
            Shape::Unordered
        }
        "hgetall" => Shape::Pairs,
        "ttl" | "pttl" | "expiretime" | "pexpiretime" => Shape::TtlPresence,
        "srandmember" | "hrandfield" | "zrandmember" | "randomkey" => Shape::SizeOnly,
        "zscore" | "zmscore" | "zincrby" | "zpopmin" | "zpopmax" | "bzpopmin" | "bzpopmax"
        | "zmpop" | "bzmpop" => Shape::Scores,
        "zadd" if has("incr") => Shape::Scores,
        "zrange" | "zrangebyscore" | "zrevrangebyscore" | "zrevrange" | "zunion" | "zinter"
        | "zdiff"
            if has("withscores") =>
        {
            Shape::Scores
        }
        _ => Shape::Exact,
    }
}

/// The canonical form of `reply` to `argv`; `queued` are the commands of
/// the transaction an EXEC reply answers.
fn normalise(argv: &Argv, reply: Resp, queued: &[Argv]) -> Resp {
    if command_name(argv) == "exec" {
        if let Resp::Array(items) = reply {
            return Resp::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match queued.get(i) {
                        Some(cmd) => normalise(cmd, item, &[]),
                        None => canonical_doubles(item, false),
                    })
                    .collect(),
            );
        }
        return reply;
    }
    if reply.is_error() {
        return reply;
    }
    let shape = shape_of(argv);
    let reply = canonical_doubles(reply, shape == Shape::Scores);
    match shape {
        Shape::Exact | Shape::Scores => reply,
        Shape::Unordered => match reply {
            Resp::Array(items) => Resp::Array(sorted(items)),
            other => other,
        },
        Shape::Pairs => match reply {
            Resp::Array(items) => {
                let mut pairs: Vec<Resp> = items
                    .chunks(2)
                    .map(|pair| Resp::Array(pair.to_vec()))
                    .collect();
                pairs = sorted(pairs);
                Resp::Array(pairs)
            }
            other => other,
        },
        Shape::TtlPresence => match reply {
            Resp::Int(n) if n >= 0 => Resp::Simple(b"<has ttl>".to_vec()),
            other => other,
        },
        Shape::SizeOnly => match reply {
            Resp::Array(items) | Resp::Set(items) => {
                Resp::Simple(format!("<{} random items>", items.len()).into_bytes())
            }
            Resp::Bulk(_) => Resp::Simple(b"<one random item>".to_vec()),
            other => other,
        },
    }
}

/// RESP3 doubles (everywhere) and numeric bulk strings (in score replies)
/// become one canonical text; RESP3 sets and maps become sorted.
fn canonical_doubles(reply: Resp, bulk_scores: bool) -> Resp {
    // Zero compares by value too: Redis keeps -0 in large sorted sets but
    // prints small ones' -0 as 0.
    let canon = |value: f64| {
        if value.is_nan() {
            "nan".to_string()
        } else if value == 0.0 {
            "0".to_string()
        } else {
            format!("{value}")
        }
    };
    match reply {
        Resp::Double(text) => match parse_redis_double(text.as_bytes()) {
            Some(value) => Resp::Double(canon(value)),
            None => Resp::Double(text),
        },
        Resp::Bulk(bytes) if bulk_scores => match parse_redis_double(&bytes) {
            Some(value) => Resp::Double(canon(value)),
            None => Resp::Bulk(bytes),
        },
        Resp::Array(items) => Resp::Array(
            items
                .into_iter()
                .map(|item| canonical_doubles(item, bulk_scores))
                .collect(),
        ),
        Resp::Set(items) => Resp::Set(sorted(
            items
                .into_iter()
                .map(|item| canonical_doubles(item, bulk_scores))
                .collect(),
        )),
        Resp::Map(pairs) => {
            let mut pairs: Vec<(Resp, Resp)> = pairs
                .into_iter()
                .map(|(k, v)| {
                    (
                        canonical_doubles(k, bulk_scores),
                        canonical_doubles(v, bulk_scores),
                    )
                })
                .collect();
            pairs.sort_by_key(|(k, v)| (encoded(k), encoded(v)));
            Resp::Map(pairs)
        }
        other => other,
    }
}

fn sorted(mut items: Vec<Resp>) -> Vec<Resp> {
    items.sort_by_cached_key(encoded);
    items
}

fn encoded(reply: &Resp) -> Vec<u8> {
    let mut out = Vec::new();
    reply.encode(&mut out);
    out
}

// ---------------------------------------------------------------------------
// The generator

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Family {
    Strings,
    Bits,
    Keys,
    Hashes,
    Lists,
    Sets,
    ZSets,
    /// Sorted sets whose members all have score 0 (lexicographic ranges
    /// are only defined there).
    Lex,
    Transactions,
    Errors,
    /// Two clients: blocked pops served by the other client, WATCH broken
    /// by the other client, commands between another client's MULTI and EXEC.
    Clients,
}

const ALL_FAMILIES: [Family; 11] = [
    Family::Strings,
    Family::Bits,
    Family::Keys,
    Family::Hashes,
    Family::Lists,
    Family::Sets,
    Family::ZSets,
    Family::Lex,
    Family::Transactions,
    Family::Errors,
    Family::Clients,
];

/// Relative weight of each family in the stream.
fn weight(family: Family) -> usize {
    match family {
        Family::Strings => 14,
        Family::Bits => 7,
        Family::Keys => 12,
        Family::Hashes => 11,
        Family::Lists => 13,
        Family::Sets => 11,
        Family::ZSets => 16,
        Family::Lex => 5,
        Family::Transactions => 5,
        Family::Errors => 6,
        Family::Clients => 4,
    }
}

/// Families whose commands may appear inside MULTI or be mutated.
const DATA_FAMILIES: [Family; 7] = [
    Family::Strings,
    Family::Bits,
    Family::Keys,
    Family::Hashes,
    Family::Lists,
    Family::Sets,
    Family::ZSets,
];

const STRING_KEYS: &[&str] = &["s0", "s1", "s2", "s3"];
const BIT_KEYS: &[&str] = &["b0", "b1", "b2"];
const HASH_KEYS: &[&str] = &["h0", "h1", "h2"];
const LIST_KEYS: &[&str] = &["l0", "l1", "l2"];
const SET_KEYS: &[&str] = &["S0", "S1", "S2"];
const ZSET_KEYS: &[&str] = &["z0", "z1", "z2"];
const LEX_KEYS: &[&str] = &["lex0", "lex1"];
const SHARED_KEYS: &[&str] = &["k0", "k1"];

const STRING_VALUES: &[&str] = &[
    "",
    "v",
    "hello",
    "hello world",
    "12",
    "-7",
    "0",
    "3.5",
    "9223372036854775807",
    "abc\x00\u{ff}",
    "10",
    "+5",
    "007",
    "-0",
    " 3",
    "1e3",
    "0x1a",
    "3.0",
    ".5",
    "inf",
    "1e300",
];
const FIELDS: &[&str] = &["f0", "f1", "f2", "f3", "n"];
const HASH_VALUES: &[&str] = &[
    "1",
    "x",
    "2.5",
    "-3",
    "9223372036854775806",
    "hello",
    "",
    "007",
    "+5",
    "1e3",
    "-0",
    "0.1",
];
const ELEMENTS: &[&str] = &["a", "b", "c", "a", "1", "x", ""];
const SET_MEMBERS: &[&str] = &["a", "b", "c", "d", "1", "2", "3", "-5", "10"];
const ZMEMBERS: &[&str] = &["a", "b", "c", "d", "e"];
const LEX_MEMBERS: &[&str] = &["a", "b", "bb", "c", "d", "e", "ab", ""];
const SCORES: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "2.5",
    "-0.5",
    "10",
    "1e3",
    "inf",
    "-inf",
    "0.1",
    "-0",
    "+inf",
    "0x10",
    "1e-310",
    "1e309",
    " 1",
    "1.5e300",
    "3.14159265358979323846",
    "5.",
    ".5",
];
const SCORE_BOUNDS: &[&str] = &[
    "-inf", "+inf", "0", "(0", "1", "(1", "2.5", "(2.5", "-1", "10", "(10", "inf",
];
const LEX_BOUNDS: &[&str] = &[
    "-", "+", "[a", "(a", "[b", "(bb", "[c", "(c", "[e", "[", "(", "[z",
];
/// Increments, exact in binary or not (Redis adds in long double).
const FLOAT_INCREMENTS: &[&str] = &[
    "0.5",
    "1.25",
    "-2.75",
    "3",
    "1e3",
    "-0.125",
    "10.5",
    "0.1",
    "-0.3",
    "1e-5",
    "3.3333333333",
    "+1.5",
    ".5",
    "5.",
    "0x10",
];
const RELATIVE_SECONDS: &[&str] = &["100000", "250000", "1000000"];
const RELATIVE_MILLIS: &[&str] = &["100000000", "250000000", "1000000000"];
const ABSOLUTE_SECONDS: &[&str] = &["4000000000", "4100000000", "4200000000"];
const ABSOLUTE_MILLIS: &[&str] = &["4000000000000", "4100000000000", "4200000000000"];
const KEY_PATTERNS: &[&str] = &[
    "*", "s*", "?0", "[hl]*", "k[0-1]", "*1", "\\*", "h?", "[^s]*", "z*", "[", "[a-", "\\", "[^",
    "**", "?*?", "[]", "[a-]", "*[", "\\[", "[\\]",
];
const BITFIELD_TYPES: &[&str] = &["i8", "u8", "i5", "u4", "i16", "u1", "i64", "u63", "u2"];
/// Replacement arguments for mutated commands: never a small positive
/// number, which could turn into a short expiry that makes timing matter.
const MUTATIONS: &[&str] = &[
    "",
    "x",
    "-1",
    "0",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551616",
    "1.5",
    "-inf",
    "nan",
    "NX",
    "WITHSCORES",
    "LIMIT",
];
/// Commands whose result is random or whose arguments decide a wait: never
/// mutated.
const NOT_MUTATED: &[&str] = &[
    "spop",
    "srandmember",
    "hrandfield",
    "zrandmember",
    "randomkey",
    "blpop",
    "brpop",
    "blmove",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    "flushdb",
    "flushall",
];

struct Generator {
    rng: XorShift,
    skip: HashSet<String>,
}

impl Generator {
    fn new(seed: u64, skip: HashSet<String>) -> Generator {
        Generator {
            rng: XorShift::new(seed),
            skip,
        }
    }

    /// The next step: one command, or a whole transaction.
    fn step(&mut self) -> (Family, Vec<Action>) {
        let total: usize = ALL_FAMILIES.iter().map(|f| weight(*f)).sum();
        for _ in 0..1000 {
            let mut roll = self.rng.below(total);
            let mut family = Family::Strings;
            for candidate in ALL_FAMILIES {
                if roll < weight(candidate) {
                    family = candidate;
                    break;
                }
                roll -= weight(candidate);
            }
            let step = match family {
                Family::Transactions => self.transaction().into_iter().map(Action::first).collect(),
                Family::Errors => vec![Action::first(self.bad_command())],
                Family::Clients => self.two_clients(),
                data => vec![Action::first(self.command(data))],
            };
            if !step.iter().any(|action| self.skipped(&action.argv)) {
                return (family, step);
            }
        }
        panic!("DAISY_DIFF_SKIP leaves nothing to generate");
    }

    fn skipped(&self, argv: &Argv) -> bool {
        !self.skip.is_empty() && self.skip.contains(&command_name(argv))
    }

    fn command(&mut self, family: Family) -> Argv {
        match family {
            Family::Strings => self.strings(),
            Family::Bits => self.bits(),
            Family::Keys => self.keys(),
            Family::Hashes => self.hashes(),
            Family::Lists => self.lists(),
            Family::Sets => self.sets(),
            Family::ZSets => self.zsets(),
            Family::Lex => self.lex(),
            Family::Transactions | Family::Errors | Family::Clients => {
                unreachable!("not a single-command family")
            }
        }
    }

    // -- small helpers ------------------------------------------------------

    fn pick(&mut self, items: &[&str]) -> Arg {
        self.rng.pick(items).as_bytes().to_vec()
    }

    fn int(&mut self, lo: i64, hi: i64) -> Arg {
        self.rng.range(lo, hi).to_string().into_bytes()
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.chance(percent)
    }

    fn general_key(&mut self) -> Arg {
        let pools = [
            STRING_KEYS,
            BIT_KEYS,
            HASH_KEYS,
            LIST_KEYS,
            SET_KEYS,
            ZSET_KEYS,
            SHARED_KEYS,
        ];
        let pool = *self.rng.pick(&pools);
        self.pick(pool)
    }

    /// A key for `family`: mostly from its own pool, sometimes any other
    /// key so that types collide.
    fn key(&mut self, family: Family) -> Arg {
        let own: &[&str] = match family {
            Family::Strings => STRING_KEYS,
            Family::Bits => BIT_KEYS,
            Family::Hashes => HASH_KEYS,
            Family::Lists => LIST_KEYS,
            Family::Sets => SET_KEYS,
            Family::ZSets => ZSET_KEYS,
            Family::Lex => return self.pick(LEX_KEYS),
            _ => return self.general_key(),
        };
        // Collide mostly on the shared keys, so a family's own keys do not
        // stay the wrong type for long.
        match self.rng.below(100) {
            0..=84 => self.pick(own),
            85..=96 => self.pick(SHARED_KEYS),
            _ => self.general_key(),
        }
    }

    fn keys_n(&mut self, family: Family, lo: usize, hi: usize) -> Vec<Arg> {
        let n = lo + self.rng.below(hi - lo + 1);
        (0..n).map(|_| self.key(family)).collect()
    }

    fn values(&mut self, pool: &[&str], lo: usize, hi: usize) -> Vec<Arg> {
        let n = lo + self.rng.below(hi - lo + 1);
        (0..n).map(|_| self.pick(pool)).collect()
    }

    /// An expiry option for SET/GETEX: relative or absolute, never short.
    fn expiry_option(&mut self) -> Vec<Arg> {
        match self.rng.below(4) {
            0 => vec![b"EX".to_vec(), self.pick(RELATIVE_SECONDS)],
            1 => vec![b"PX".to_vec(), self.pick(RELATIVE_MILLIS)],
            2 => vec![b"EXAT".to_vec(), self.pick(ABSOLUTE_SECONDS)],
            _ => vec![b"PXAT".to_vec(), self.pick(ABSOLUTE_MILLIS)],
        }
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.rng.below(i + 1);
            items.swap(i, j);
        }
    }

    fn with_options(&mut self, mut argv: Argv, mut groups: Vec<Vec<Arg>>) -> Argv {
        self.shuffle(&mut groups);
        argv.extend(groups.into_iter().flatten());
        argv
    }

    // -- strings ------------------------------------------------------------

    fn strings(&mut self) -> Argv {
        let f = Family::Strings;
        let key = self.key(f);
        match self.rng.below(24) {
            0..=2 => self.set_command(key),
            3 => argv!["GET", key],
            4 => argv!["GETSET", key, self.pick(STRING_VALUES)],
            5 => argv!["GETDEL", key],
            6 => {
                let mut groups = Vec::new();
                match self.rng.below(4) {
                    0 => groups.push(self.expiry_option()),
                    1 => groups.push(vec![b"PERSIST".to_vec()]),
                    2 if self.chance(20) => {
                        groups.push(self.expiry_option());
                        groups.push(vec![b"PERSIST".to_vec()]);
                    }
                    _ => {}
                }
                self.with_options(argv!["GETEX", key], groups)
            }
            7 => argv!["SETNX", key, self.pick(STRING_VALUES)],
            8 => argv![
                "SETEX",
                key,
                self.pick(RELATIVE_SECONDS),
                self.pick(STRING_VALUES)
            ],
            9 => argv![
                "PSETEX",
                key,
                self.pick(RELATIVE_MILLIS),
                self.pick(STRING_VALUES)
            ],
            10 | 11 => {
                let name = if self.chance(70) { "MSET" } else { "MSETNX" };
                let mut argv = argv![name];
                for _ in 0..1 + self.rng.below(3) {
                    argv.push(self.key(f));
                    argv.push(self.pick(STRING_VALUES));
                }
                argv
            }
            12 => {
                let mut argv = argv!["MGET"];
                argv.extend(self.keys_n(f, 1, 4));
                argv
            }
            13 => argv!["STRLEN", key],
            14 => argv!["APPEND", key, self.pick(&["x", "yz", "", "123", "hello"])],
            15 => {
                let name = if self.chance(85) {
                    "GETRANGE"
                } else {
                    "SUBSTR"
                };
                argv![name, key, self.int(-8, 12), self.int(-8, 12)]
            }
            16 => {
                let offset = if self.chance(95) {
                    self.int(0, 16)
                } else {
                    self.pick(&["-1", "536870912"])
                };
                argv![
                    "SETRANGE",
                    key,
                    offset,
                    self.pick(&["x", "abc", "", "\x00\x01"])
                ]
            }
            17 => argv![self.pick(&["INCR", "DECR"]), key],
            18 | 19 => {
                let by = if self.chance(90) {
                    self.int(-20, 20)
                } else {
                    self.pick(&["9223372036854775807", "-9223372036854775808", "x", "1.5"])
                };
                argv![self.pick(&["INCRBY", "DECRBY"]), key, by]
            }
            20 | 21 => {
                let by = if self.chance(92) {
                    self.pick(FLOAT_INCREMENTS)
                } else {
                    self.pick(&["inf", "x", "1e400", "-inf"])
                };
                argv!["INCRBYFLOAT", key, by]
            }
            _ => {
                let mut argv = argv!["LCS", key, self.key(f)];
                match self.rng.below(5) {
                    0 => argv.push(b"LEN".to_vec()),
                    1 => argv.push(b"IDX".to_vec()),
                    2 => argv.extend(argv!["IDX", "MINMATCHLEN", self.int(0, 3), "WITHMATCHLEN"]),
                    3 if self.chance(30) => argv.extend(argv!["LEN", "IDX"]),
                    _ => {}
                }
                argv
            }
        }
    }

    fn set_command(&mut self, key: Arg) -> Argv {
        let mut groups = Vec::new();
        if self.chance(30) {
            groups.push(vec![self.pick(&["NX", "XX"])]);
        }
        if self.chance(25) {
            groups.push(vec![b"GET".to_vec()]);
        }
        match self.rng.below(7) {
            0..=2 => groups.push(self.expiry_option()),
            3 => groups.push(vec![b"KEEPTTL".to_vec()]),
            _ => {}
        }
        if self.chance(4) {
            // Conflicting or malformed options: syntax errors on purpose.
            groups.push(match self.rng.below(4) {
                0 => argv!["NX", "XX"],
                1 => argv!["KEEPTTL", "EX", "100000"],
                2 => argv!["EX"],
                _ => argv!["PX", "0"],
            });
        }
        let value = self.pick(STRING_VALUES);
        self.with_options(argv!["SET", key, value], groups)
    }

    // -- bits ---------------------------------------------------------------

    fn bits(&mut self) -> Argv {
        let f = Family::Bits;
        let key = self.key(f);
        match self.rng.below(10) {
            0 | 1 => {
                let offset = if self.chance(90) {
                    self.int(0, 63)
                } else {
                    self.int(100, 200)
                };
                argv!["SETBIT", key, offset, self.pick(&["0", "1", "1"])]
            }
            2 => argv!["GETBIT", key, self.int(0, 80)],
            3 => {
                let mut argv = argv!["BITCOUNT", key];
                if self.chance(70) {
                    argv.push(self.int(-10, 10));
                    argv.push(self.int(-10, 10));
                    if self.chance(50) {
                        argv.push(self.pick(&["BYTE", "BIT"]));
                    }
                }
                argv
            }
            4 => {
                let mut argv = argv!["BITPOS", key, self.pick(&["0", "1"])];
                if self.chance(70) {
                    argv.push(self.int(-10, 10));
                    if self.chance(60) {
                        argv.push(self.int(-10, 40));
                        if self.chance(50) {
                            argv.push(self.pick(&["BYTE", "BIT"]));
                        }
                    }
                }
                argv
            }
            5 | 6 => {
                let op = self.pick(&["AND", "OR", "XOR", "NOT"]);
                let mut argv = argv!["BITOP", op.clone(), self.pick(BIT_KEYS)];
                let sources = if op == b"NOT" {
                    1
                } else {
                    1 + self.rng.below(3)
                };
                argv.extend(self.keys_n(f, sources, sources));
                argv
            }
            7 | 8 => {
                let mut argv = argv!["BITFIELD", key];
                for _ in 0..1 + self.rng.below(3) {
                    argv.extend(self.bitfield_op());
                }
                argv
            }
            _ => {
                let offset = self.bitfield_offset();
                argv!["BITFIELD_RO", key, "GET", self.pick(BITFIELD_TYPES), offset]
            }
        }
    }

    fn bitfield_offset(&mut self) -> Arg {
        if self.chance(20) {
            format!("#{}", self.rng.below(4)).into_bytes()
        } else {
            self.int(0, 40)
        }
    }

    fn bitfield_op(&mut self) -> Vec<Arg> {
        let kind = self.pick(BITFIELD_TYPES);
        let offset = self.bitfield_offset();
        match self.rng.below(4) {
            0 => argv!["GET", kind, offset],
            1 => argv!["SET", kind, offset, self.int(-300, 300)],
            2 => argv!["INCRBY", kind, offset, self.int(-200, 200)],
            _ => argv!["OVERFLOW", self.pick(&["WRAP", "SAT", "FAIL"])],
        }
    }

    // -- keys and expiry ------------------------------------------------------

    fn keys(&mut self) -> Argv {
        let f = Family::Keys;
        // Reads and deletes may touch the lexicographic keys; writes that
        // could store a zset with mixed scores into them may not.
        let any_key = if self.chance(8) {
            self.pick(LEX_KEYS)
        } else {
            self.key(f)
        };
        match self.rng.below(27) {
            0 | 1 => {
                let mut argv = argv![self.pick(&["DEL", "DEL", "UNLINK"])];
                argv.push(any_key);
                argv.extend(self.keys_n(f, 0, 2));
                argv
            }
            2 => {
                let mut argv = argv!["EXISTS", any_key];
                argv.extend(self.keys_n(f, 0, 3));
                argv
            }
            3 | 4 => argv!["TYPE", any_key],
            5 => argv![self.pick(&["RENAME", "RENAMENX"]), any_key, self.key(f)],
            6 => {
                let mut argv = argv!["COPY", any_key, self.key(f)];
                if self.chance(40) {
                    argv.push(b"REPLACE".to_vec());
                }
                argv
            }
            7 | 8 => {
                let mut argv = argv!["EXPIRE", self.key(f), self.pick(RELATIVE_SECONDS)];
                if self.chance(40) {
                    argv.push(self.pick(&["NX", "XX"]));
                }
                argv
            }
            9 => {
                let mut argv = argv!["PEXPIRE", self.key(f), self.pick(RELATIVE_MILLIS)];
                if self.chance(40) {
                    argv.push(self.pick(&["NX", "XX"]));
                }
                argv
            }
            10 | 11 => {
                let mut argv = argv!["EXPIREAT", self.key(f), self.pick(ABSOLUTE_SECONDS)];
                if self.chance(50) {
                    argv.push(self.pick(&["NX", "XX", "GT", "LT"]));
                }
                argv
            }
            12 => {
                let mut argv = argv!["PEXPIREAT", self.key(f), self.pick(ABSOLUTE_MILLIS)];
                if self.chance(50) {
                    argv.push(self.pick(&["NX", "XX", "GT", "LT"]));
                }
                argv
            }
            13 => {
                // Expiry in the past: deletes the key at once.
                let name = self.pick(&["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]);
                argv![name, self.key(f), self.pick(&["0", "-1", "-5"])]
            }
            14 | 15 => argv!["PERSIST", self.key(f)],
            16 | 17 => argv![self.pick(&["TTL", "PTTL"]), any_key],
            18 => argv![self.pick(&["EXPIRETIME", "PEXPIRETIME"]), any_key],
            19 => {
                let mut argv = argv!["TOUCH", any_key];
                argv.extend(self.keys_n(f, 0, 2));
                argv
            }
            20 | 21 => argv!["KEYS", self.pick(KEY_PATTERNS)],
            22 => argv!["DBSIZE"],
            23 => argv!["RANDOMKEY"],
            24 if self.chance(10) => argv!["FLUSHDB"],
            _ => argv!["EXISTS", any_key],
        }
    }

    // -- hashes -------------------------------------------------------------

    fn hashes(&mut self) -> Argv {
        let f = Family::Hashes;
        let key = self.key(f);
        match self.rng.below(18) {
            0..=2 => {
                let name = if self.chance(85) { "HSET" } else { "HMSET" };
                let mut argv = argv![name, key];
                for _ in 0..1 + self.rng.below(3) {
                    argv.push(self.pick(FIELDS));
                    argv.push(self.pick(HASH_VALUES));
                }
                argv
            }
            3 => argv!["HSETNX", key, self.pick(FIELDS), self.pick(HASH_VALUES)],
            4 => argv!["HGET", key, self.pick(FIELDS)],
            5 => {
                let mut argv = argv!["HMGET", key];
                argv.extend(self.values(FIELDS, 1, 4));
                argv
            }
            6 => {
                let mut argv = argv!["HDEL", key];
                argv.extend(self.values(FIELDS, 1, 3));
                argv
            }
            7 => argv!["HLEN", key],
            8 => argv!["HEXISTS", key, self.pick(FIELDS)],
            9 => argv!["HKEYS", key],
            10 => argv!["HVALS", key],
            11 | 12 => argv!["HGETALL", key],
            13 => argv!["HINCRBY", key, self.pick(FIELDS), self.int(-5, 5)],
            14 => argv![
                "HINCRBYFLOAT",
                key,
                self.pick(FIELDS),
                self.pick(FLOAT_INCREMENTS)
            ],
            15 => argv!["HSTRLEN", key, self.pick(FIELDS)],
            _ => {
                let mut argv = argv!["HRANDFIELD", key];
                if self.chance(70) {
                    argv.push(self.int(-5, 6));
                    if self.chance(50) {
                        argv.push(b"WITHVALUES".to_vec());
                    }
                }
                argv
            }
        }
    }

    // -- lists --------------------------------------------------------------

    fn lists(&mut self) -> Argv {
        let f = Family::Lists;
        let key = self.key(f);
        match self.rng.below(26) {
            0..=3 => {
                let name = self.pick(&["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]);
                let mut argv = argv![name, key];
                argv.extend(self.values(ELEMENTS, 1, 4));
                argv
            }
            4 | 5 => {
                let mut argv = argv![self.pick(&["LPOP", "RPOP"]), key];
                if self.chance(40) {
                    argv.push(self.int(0, 4));
                }
                argv
            }
            6 => argv!["LLEN", key],
            7 | 8 => argv!["LRANGE", key, self.int(-6, 4), self.int(-4, 8)],
            9 => argv!["LINDEX", key, self.int(-5, 5)],
            10 => argv!["LSET", key, self.int(-4, 4), self.pick(ELEMENTS)],
            11 => argv!["LREM", key, self.int(-2, 2), self.pick(ELEMENTS)],
            12 => argv!["LTRIM", key, self.int(-5, 3), self.int(-3, 8)],
            13 => {
                let side = self.pick(&["BEFORE", "AFTER"]);
                argv![
                    "LINSERT",
                    key,
                    side,
                    self.pick(ELEMENTS),
                    self.pick(ELEMENTS)
                ]
            }
            14 | 15 => {
                let mut groups = Vec::new();
                if self.chance(50) {
                    groups.push(argv!["RANK", self.pick(&["1", "2", "-1", "-2", "3"])]);
                }
                if self.chance(50) {
                    groups.push(argv!["COUNT", self.int(0, 3)]);
                }
                if self.chance(30) {
                    groups.push(argv!["MAXLEN", self.int(0, 4)]);
                }
                let element = self.pick(ELEMENTS);
                self.with_options(argv!["LPOS", key, element], groups)
            }
            16 | 17 => {
                let (from, to) = (self.pick(&["LEFT", "RIGHT"]), self.pick(&["LEFT", "RIGHT"]));
                argv!["LMOVE", key, self.key(f), from, to]
            }
            18 => argv!["RPOPLPUSH", key, self.key(f)],
            19 | 20 => {
                let keys = self.keys_n(f, 1, 3);
                let mut argv = argv!["LMPOP", keys.len().to_string()];
                argv.extend(keys);
                argv.push(self.pick(&["LEFT", "RIGHT"]));
                if self.chance(50) {
                    argv.extend(argv!["COUNT", self.int(1, 4)]);
                }
                argv
            }
            // Blocking forms, with a short timeout for when nothing is there.
            21 => {
                let mut argv = argv![self.pick(&["BLPOP", "BRPOP"])];
                argv.extend(self.keys_n(f, 1, 2));
                argv.push(b"0.01".to_vec());
                argv
            }
            22 => {
                let (from, to) = (self.pick(&["LEFT", "RIGHT"]), self.pick(&["LEFT", "RIGHT"]));
                argv!["BLMOVE", key, self.key(f), from, to, "0.01"]
            }
            23 => {
                let keys = self.keys_n(f, 1, 2);
                let mut argv = argv!["BLMPOP", "0.01", keys.len().to_string()];
                argv.extend(keys);
                argv.push(self.pick(&["LEFT", "RIGHT"]));
                argv
            }
            _ => argv!["LRANGE", key, "0", "-1"],
        }
    }

    // -- sets ---------------------------------------------------------------

    fn sets(&mut self) -> Argv {
        let f = Family::Sets;
        let key = self.key(f);
        match self.rng.below(22) {
            0..=3 => {
                let mut argv = argv!["SADD", key];
                argv.extend(self.values(SET_MEMBERS, 1, 4));
                argv
            }
            4 | 5 => {
                let mut argv = argv!["SREM", key];
                argv.extend(self.values(SET_MEMBERS, 1, 3));
                argv
            }
            6 => argv!["SCARD", key],
            7 => argv!["SISMEMBER", key, self.pick(SET_MEMBERS)],
            8 => {
                let mut argv = argv!["SMISMEMBER", key];
                argv.extend(self.values(SET_MEMBERS, 1, 4));
                argv
            }
            9 | 10 => argv!["SMEMBERS", key],
            11 | 12 => {
                let mut argv = argv![self.pick(&["SINTER", "SUNION", "SDIFF"])];
                argv.extend(self.keys_n(f, 1, 3));
                argv
            }
            13 | 14 => {
                let name = self.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
                let mut argv = argv![name, self.key(f)];
                argv.extend(self.keys_n(f, 1, 3));
                argv
            }
            15 => {
                let keys = self.keys_n(f, 1, 3);
                let mut argv = argv!["SINTERCARD", keys.len().to_string()];
                argv.extend(keys);
                if self.chance(40) {
                    argv.extend(argv!["LIMIT", self.int(0, 3)]);
                }
                argv
            }
            16 | 17 => argv!["SMOVE", key, self.key(f), self.pick(SET_MEMBERS)],
            // Only pops that take everything, so the result is no random pick.
            18 => argv!["SPOP", key, self.pick(&["100", "0"])],
            19 => {
                let mut argv = argv!["SRANDMEMBER", key];
                if self.chance(70) {
                    argv.push(self.int(-5, 6));
                }
                argv
            }
            _ => argv!["SCARD", key],
        }
    }

    // -- sorted sets --------------------------------------------------------

    fn zsets(&mut self) -> Argv {
        let f = Family::ZSets;
        let key = self.key(f);
        match self.rng.below(36) {
            0..=4 => self.zadd(key),
            5 => argv!["ZINCRBY", key, self.pick(SCORES), self.pick(ZMEMBERS)],
            6 => argv!["ZSCORE", key, self.pick(ZMEMBERS)],
            7 => {
                let mut argv = argv!["ZMSCORE", key];
                argv.extend(self.values(ZMEMBERS, 1, 3));
                argv
            }
            8 => argv!["ZCARD", key],
            9 => argv![
                "ZCOUNT",
                key,
                self.pick(SCORE_BOUNDS),
                self.pick(SCORE_BOUNDS)
            ],
            10 => argv![self.pick(&["ZRANK", "ZREVRANK"]), key, self.pick(ZMEMBERS)],
            11 => {
                let mut argv = argv!["ZREM", key];
                argv.extend(self.values(ZMEMBERS, 1, 3));
                argv
            }
            12..=14 => self.zrange_by_rank("ZRANGE", key),
            15 | 16 => {
                let mut argv = argv![
                    "ZRANGE",
                    key,
                    self.pick(SCORE_BOUNDS),
                    self.pick(SCORE_BOUNDS),
                    "BYSCORE"
                ];
                let mut groups = Vec::new();
                if self.chance(40) {
                    groups.push(argv!["REV"]);
                }
                if self.chance(40) {
                    groups.push(argv!["LIMIT", self.int(-1, 3), self.int(-1, 3)]);
                }
                if self.chance(50) {
                    groups.push(argv!["WITHSCORES"]);
                }
                self.shuffle(&mut groups);
                argv.extend(groups.into_iter().flatten());
                argv
            }
            17 | 18 => {
                let name = self.pick(&["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]);
                let argv = argv![name, key, self.pick(SCORE_BOUNDS), self.pick(SCORE_BOUNDS)];
                let mut groups = Vec::new();
                if self.chance(50) {
                    groups.push(argv!["WITHSCORES"]);
                }
                if self.chance(40) {
                    groups.push(argv!["LIMIT", self.int(0, 3), self.int(-1, 3)]);
                }
                self.with_options(argv, groups)
            }
            19 => self.zrange_by_rank("ZREVRANGE", key),
            20 => {
                let mut argv = argv!["ZRANGESTORE", self.key(f), key];
                if self.chance(50) {
                    argv.extend(argv![self.int(-4, 2), self.int(-2, 5)]);
                } else {
                    argv.extend(argv![
                        self.pick(SCORE_BOUNDS),
                        self.pick(SCORE_BOUNDS),
                        "BYSCORE"
                    ]);
                    if self.chance(30) {
                        argv.extend(argv!["LIMIT", self.int(0, 2), self.int(-1, 3)]);
                    }
                }
                if self.chance(30) {
                    argv.push(b"REV".to_vec());
                }
                argv
            }
            21 => argv!["ZREMRANGEBYRANK", key, self.int(-4, 2), self.int(-2, 4)],
            22 => argv![
                "ZREMRANGEBYSCORE",
                key,
                self.pick(SCORE_BOUNDS),
                self.pick(SCORE_BOUNDS)
            ],
            23 | 24 => {
                let mut argv = argv![self.pick(&["ZPOPMIN", "ZPOPMAX"]), key];
                if self.chance(50) {
                    argv.push(self.int(0, 3));
                }
                argv
            }
            25..=27 => {
                let name = self.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]);
                let destination = self.key(f);
                let with_aggregate = name != b"ZDIFFSTORE";
                self.zset_algebra(argv![name, destination], with_aggregate, false)
            }
            28 | 29 => {
                let name = self.pick(&["ZUNION", "ZINTER", "ZDIFF"]);
                let with_aggregate = name != b"ZDIFF";
                self.zset_algebra(argv![name], with_aggregate, true)
            }
            30 => {
                let keys = self.keys_n(f, 1, 3);
                let mut argv = argv!["ZINTERCARD", keys.len().to_string()];
                argv.extend(keys);
                if self.chance(40) {
                    argv.extend(argv!["LIMIT", self.int(0, 3)]);
                }
                argv
            }
            31 | 32 => {
                let keys = self.keys_n(f, 1, 3);
                let mut argv = argv!["ZMPOP", keys.len().to_string()];
                argv.extend(keys);
                argv.push(self.pick(&["MIN", "MAX"]));
                if self.chance(50) {
                    argv.extend(argv!["COUNT", self.int(1, 3)]);
                }
                argv
            }
            33 => {
                let mut argv = argv![self.pick(&["BZPOPMIN", "BZPOPMAX"])];
                argv.extend(self.keys_n(f, 1, 2));
                argv.push(b"0.01".to_vec());
                argv
            }
            34 => {
                let mut argv = argv!["ZRANDMEMBER", key];
                if self.chance(70) {
                    argv.push(self.int(-4, 6));
                    if self.chance(50) {
                        argv.push(b"WITHSCORES".to_vec());
                    }
                }
                argv
            }
            _ => argv!["ZRANGE", key, "0", "-1", "WITHSCORES"],
        }
    }

    fn zadd(&mut self, key: Arg) -> Argv {
        let mut argv = argv!["ZADD", key];
        if self.chance(25) {
            argv.push(self.pick(&["NX", "XX"]));
        }
        if self.chance(20) {
            argv.push(self.pick(&["GT", "LT"]));
        }
        if self.chance(25) {
            argv.push(b"CH".to_vec());
        }
        let incr = self.chance(12);
        if incr {
            argv.push(b"INCR".to_vec());
        }
        let pairs = if incr && self.chance(90) {
            1
        } else {
            1 + self.rng.below(3)
        };
        for _ in 0..pairs {
            argv.push(if self.chance(3) {
                b"nan".to_vec()
            } else {
                self.pick(SCORES)
            });
            argv.push(self.pick(ZMEMBERS));
        }
        argv
    }

    fn zrange_by_rank(&mut self, name: &str, key: Arg) -> Argv {
        let mut argv = argv![name, key, self.int(-5, 3), self.int(-3, 6)];
        if name == "ZRANGE" && self.chance(30) {
            argv.push(b"REV".to_vec());
        }
        if self.chance(50) {
            argv.push(b"WITHSCORES".to_vec());
        }
        argv
    }

    fn zset_algebra(&mut self, mut argv: Argv, with_aggregate: bool, withscores: bool) -> Argv {
        // Plain sets are valid inputs (every member scores 1).
        let keys: Vec<Arg> = (0..1 + self.rng.below(3))
            .map(|_| {
                if self.chance(15) {
                    self.pick(SET_KEYS)
                } else {
                    self.key(Family::ZSets)
                }
            })
            .collect();
        argv.push(keys.len().to_string().into_bytes());
        let count = keys.len();
        argv.extend(keys);
        let mut groups = Vec::new();
        if with_aggregate && self.chance(40) {
            let mut weights = argv!["WEIGHTS"];
            weights.extend(self.values(
                &["1", "2", "0.5", "-1", "0", "3", "0.1", "1e300"],
                count,
                count,
            ));
            groups.push(weights);
        }
        if with_aggregate && self.chance(40) {
            groups.push(argv!["AGGREGATE", self.pick(&["SUM", "MIN", "MAX"])]);
        }
        if withscores && self.chance(60) {
            groups.push(argv!["WITHSCORES"]);
        }
        self.with_options(argv, groups)
    }

    // -- lexicographic ranges -----------------------------------------------

    fn lex(&mut self) -> Argv {
        let key = self.key(Family::Lex);
        match self.rng.below(11) {
            0..=2 => {
                let mut argv = argv!["ZADD", key];
                if self.chance(20) {
                    argv.push(self.pick(&["NX", "XX", "CH"]));
                }
                for _ in 0..1 + self.rng.below(3) {
                    argv.push(b"0".to_vec());
                    argv.push(self.pick(LEX_MEMBERS));
                }
                argv
            }
            3 | 4 => {
                let name = self.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]);
                let mut argv = argv![name, key, self.pick(LEX_BOUNDS), self.pick(LEX_BOUNDS)];
                if self.chance(40) {
                    argv.extend(argv!["LIMIT", self.int(0, 2), self.int(-1, 3)]);
                }
                argv
            }
            5 => argv![
                "ZLEXCOUNT",
                key,
                self.pick(LEX_BOUNDS),
                self.pick(LEX_BOUNDS)
            ],
            6 => argv![
                "ZREMRANGEBYLEX",
                key,
                self.pick(LEX_BOUNDS),
                self.pick(LEX_BOUNDS)
            ],
            7 | 8 => {
                let mut argv = argv![
                    "ZRANGE",
                    key,
                    self.pick(LEX_BOUNDS),
                    self.pick(LEX_BOUNDS),
                    "BYLEX"
                ];
                if self.chance(40) {
                    argv.push(b"REV".to_vec());
                }
                if self.chance(40) {
                    argv.extend(argv!["LIMIT", self.int(0, 2), self.int(-1, 3)]);
                }
                argv
            }
            9 => {
                let mut argv = argv!["ZREM", key];
                argv.extend(self.values(LEX_MEMBERS, 1, 2));
                argv
            }
            _ => {
                let destination = self.pick(ZSET_KEYS);
                argv![
                    "ZRANGESTORE",
                    destination,
                    key,
                    self.pick(LEX_BOUNDS),
                    self.pick(LEX_BOUNDS),
                    "BYLEX"
                ]
            }
        }
    }

    // -- transactions -------------------------------------------------------

    fn data_command(&mut self) -> Argv {
        let family = *self.rng.pick(&DATA_FAMILIES);
        self.command(family)
    }

    fn transaction(&mut self) -> Vec<Argv> {
        let mut step = Vec::new();
        match self.rng.below(12) {
            0..=5 => {
                step.push(argv!["MULTI"]);
                for _ in 0..1 + self.rng.below(5) {
                    step.push(self.data_command());
                }
                if self.chance(10) {
                    // A command rejected while queueing aborts the EXEC.
                    step.push(self.fixed_bad_command());
                }
                step.push(if self.chance(88) {
                    argv!["EXEC"]
                } else {
                    argv!["DISCARD"]
                });
            }
            6..=8 => {
                // WATCH, maybe touch a watched key, then a transaction.
                let watched = self.keys_n(Family::Keys, 1, 2);
                let mut watch = argv!["WATCH"];
                watch.extend(watched);
                step.push(watch);
                if self.chance(50) {
                    step.push(self.data_command());
                }
                if self.chance(15) {
                    step.push(argv!["UNWATCH"]);
                }
                step.push(argv!["MULTI"]);
                for _ in 0..1 + self.rng.below(3) {
                    step.push(self.data_command());
                }
                step.push(argv!["EXEC"]);
            }
            9 => {
                step.push(argv!["MULTI"]);
                step.push(self.pick_argv(&[&["MULTI"], &["WATCH", "k0"]]));
                step.push(self.data_command());
                step.push(argv!["EXEC"]);
            }
            10 => step.push(self.pick_argv(&[&["EXEC"], &["DISCARD"], &["UNWATCH"]])),
            _ => {
                step.push(argv!["MULTI"]);
                step.push(argv!["EXEC"]);
            }
        }
        step
    }

    fn pick_argv(&mut self, choices: &[&[&str]]) -> Argv {
        let choice = *self.rng.pick(choices);
        choice.iter().map(|part| part.as_bytes().to_vec()).collect()
    }

    // -- two clients -----------------------------------------------------------

    fn two_clients(&mut self) -> Vec<Action> {
        match self.rng.below(3) {
            0 => self.blocked_then_served(),
            1 => self.watch_disturbed(),
            _ => self.multi_interleaved(),
        }
    }

    /// The first client blocks (unless it can be served at once); the
    /// second pushes to the key it waits on first, which must serve it.
    fn blocked_then_served(&mut self) -> Vec<Action> {
        const TIMEOUT: &str = "2";
        let lists = self.chance(65);
        let family = if lists { Family::Lists } else { Family::ZSets };
        let first = self.pick(if lists { LIST_KEYS } else { ZSET_KEYS });
        let mut keys = vec![first.clone()];
        if self.chance(40) {
            keys.push(self.key(family));
        }
        let count = keys.len().to_string();
        let side = |g: &mut Generator| g.pick(&["LEFT", "RIGHT"]);
        let blocking = if lists {
            match self.rng.below(5) {
                0 | 1 => {
                    let mut argv = argv![self.pick(&["BLPOP", "BRPOP"])];
                    argv.extend(keys);
                    argv.push(TIMEOUT.as_bytes().to_vec());
                    argv
                }
                2 => {
                    let (from, to) = (side(self), side(self));
                    argv!["BLMOVE", first.clone(), self.key(family), from, to, TIMEOUT]
                }
                3 => {
                    let mut argv = argv!["BLMPOP", TIMEOUT, count];
                    argv.extend(keys);
                    argv.push(side(self));
                    if self.chance(50) {
                        argv.extend(argv!["COUNT", self.int(1, 3)]);
                    }
                    argv
                }
                _ => argv!["BRPOPLPUSH", first.clone(), self.key(family), TIMEOUT],
            }
        } else if self.chance(60) {
            let mut argv = argv![self.pick(&["BZPOPMIN", "BZPOPMAX"])];
            argv.extend(keys);
            argv.push(TIMEOUT.as_bytes().to_vec());
            argv
        } else {
            let mut argv = argv!["BZMPOP", TIMEOUT, count];
            argv.extend(keys);
            argv.push(self.pick(&["MIN", "MAX"]));
            if self.chance(50) {
                argv.extend(argv!["COUNT", self.int(1, 3)]);
            }
            argv
        };
        let push = if lists {
            let mut argv = argv![self.pick(&["LPUSH", "RPUSH"]), first];
            argv.extend(self.values(ELEMENTS, 1, 3));
            argv
        } else {
            let mut argv = argv!["ZADD", first];
            for _ in 0..1 + self.rng.below(2) {
                argv.push(self.pick(&["0", "1", "2.5", "-1", "inf"]));
                argv.push(self.pick(ZMEMBERS));
            }
            argv
        };
        if self.chance(5) {
            // The key waited on is created with another type: the first
            // client keeps waiting, so its timeout is short here.
            let mut blocking = blocking;
            let at = match command_name(&blocking).as_str() {
                "blmpop" | "bzmpop" => 1,
                _ => blocking.len() - 1,
            };
            blocking[at] = b"0.2".to_vec();
            let other_type = argv!["SET", push[1].clone(), "x"];
            return vec![Action::first_later(blocking), Action::second(other_type)];
        }
        vec![Action::first_later(blocking), Action::second(push)]
    }

    /// WATCH, then the other client runs a command on the same family's
    /// keys (often a watched one), then a transaction.
    fn watch_disturbed(&mut self) -> Vec<Action> {
        let family = *self.rng.pick(&DATA_FAMILIES);
        let mut watch = argv!["WATCH", self.key(family)];
        if self.chance(30) {
            watch.push(self.key(family));
        }
        let mut step = vec![Action::first(watch), Action::second(self.command(family))];
        step.push(Action::first(argv!["MULTI"]));
        for _ in 0..1 + self.rng.below(3) {
            step.push(Action::first(self.command(family)));
        }
        step.push(Action::first(argv!["EXEC"]));
        step
    }

    /// The other client's commands run between MULTI and EXEC.
    fn multi_interleaved(&mut self) -> Vec<Action> {
        let family = *self.rng.pick(&DATA_FAMILIES);
        let mut step = vec![Action::first(argv!["MULTI"])];
        for _ in 0..1 + self.rng.below(3) {
            step.push(Action::first(self.command(family)));
            if self.chance(60) {
                step.push(Action::second(self.command(family)));
            }
        }
        step.push(Action::first(argv!["EXEC"]));
        step
    }

    // -- errors on purpose --------------------------------------------------

    fn bad_command(&mut self) -> Argv {
        if self.chance(50) {
            self.fixed_bad_command()
        } else {
            self.mutated_command()
        }
    }

    /// A valid command with one argument dropped, added, replaced or swapped.
    fn mutated_command(&mut self) -> Argv {
        let mut argv = loop {
            let candidate = self.data_command();
            // A swap could make a lexicographic key a destination.
            let touches_lex = candidate
                .iter()
                .any(|a| LEX_KEYS.iter().any(|k| k.as_bytes() == a));
            if !touches_lex && !NOT_MUTATED.contains(&command_name(&candidate).as_str()) {
                break candidate;
            }
        };
        if argv.len() < 2 {
            argv.push(self.pick(MUTATIONS));
            return argv;
        }
        match self.rng.below(4) {
            0 => {
                argv.pop();
            }
            1 => argv.push(self.pick(MUTATIONS)),
            2 => {
                let at = 1 + self.rng.below(argv.len() - 1);
                argv[at] = self.pick(MUTATIONS);
            }
            _ => {
                let (i, j) = (
                    1 + self.rng.below(argv.len() - 1),
                    1 + self.rng.below(argv.len() - 1),
                );
                argv.swap(i, j);
            }
        }
        argv
    }

    fn fixed_bad_command(&mut self) -> Argv {
        const BAD: &[&[&str]] = &[
            &["GET"],
            &["SET", "s0"],
            &["NOSUCHCOMMAND", "a", "b"],
            &["nosuchcommand"],
            &[""],
            &["HSET", "h0", "f"],
            &["LPOP", "l0", "-1"],
            &["SET", "s0", "v", "EX", "0"],
            &["SET", "s0", "v", "EX", "-5"],
            &["SET", "s0", "v", "NX", "XX"],
            &["SET", "s0", "v", "EX", "10", "PX", "10"],
            &["SET", "s0", "v", "KEEPTTL", "EX", "100000"],
            &["ZADD", "z0", "NX", "XX", "1", "a"],
            &["ZADD", "z0", "GT", "LT", "1", "a"],
            &["ZADD", "z0", "NX", "GT", "1", "a"],
            &["ZADD", "z0", "INCR", "1", "a", "2", "b"],
            &["ZADD", "z0", "1"],
            &["ZADD", "z0", "x", "a"],
            &["INCR", "h0"],
            &["INCRBY", "s0", "x"],
            &["EXPIRE", "s0", "10", "NX", "XX"],
            &["EXPIRE", "s0", "10", "GT", "LT"],
            &["EXPIRE", "s0", "x"],
            &["EXPIRE", "s0", "100000", "FOO"],
            &["LINSERT", "l0", "MIDDLE", "a", "b"],
            &["BITOP", "FOO", "b0", "b1"],
            &["BITOP", "NOT", "b0", "b1", "b2"],
            &["SETBIT", "b0", "-1", "1"],
            &["SETBIT", "b0", "1", "2"],
            &["SETBIT", "b0", "4294967296", "1"],
            &["GETBIT", "b0", "x"],
            &["BITCOUNT", "b0", "0"],
            &["BITCOUNT", "b0", "0", "1", "WORD"],
            &["BITPOS", "b0", "2"],
            &["BITFIELD", "b0", "GET", "i65", "0"],
            &["BITFIELD", "b0", "GET", "u64", "0"],
            &["BITFIELD", "b0", "SET", "i8", "-1", "1"],
            &["BITFIELD", "b0", "OVERFLOW", "BLAH"],
            &["BITFIELD", "b0", "FOO"],
            &["BITFIELD_RO", "b0", "SET", "i8", "0", "1"],
            &["SINTERCARD", "0", "S0"],
            &["SINTERCARD", "2", "S0"],
            &["SINTERCARD", "1", "S0", "LIMIT", "-1"],
            &["ZINTERCARD", "0", "z0"],
            &["ZRANGE", "z0", "0", "1", "BYLEX"],
            &["ZRANGE", "z0", "(1", "2"],
            &["ZRANGE", "z0", "0", "1", "LIMIT", "0", "1"],
            &["ZRANGE", "z0", "0", "1", "BYSCORE", "BYLEX"],
            &["ZRANGE", "z0", "0", "1", "WITHSCORES", "EXTRA"],
            &["ZRANGESTORE", "z1", "z0", "0", "1", "WITHSCORES"],
            &["ZRANGEBYSCORE", "z0", "x", "1"],
            &["ZRANGEBYLEX", "lex0", "a", "b"],
            &["ZUNIONSTORE", "z1", "0", "z0"],
            &["ZUNIONSTORE", "z1", "2", "z0"],
            &["ZUNIONSTORE", "z1", "1", "z0", "WEIGHTS", "x"],
            &["ZUNIONSTORE", "z1", "1", "z0", "WEIGHTS", "1", "2"],
            &["ZUNIONSTORE", "z1", "1", "z0", "AGGREGATE", "AVG"],
            &["ZINTER", "1", "z0", "WITHSCORES", "LIMIT"],
            &["ZDIFF", "1", "z0", "WEIGHTS", "1"],
            &["ZINCRBY", "z0", "x", "a"],
            &["ZPOPMIN", "z0", "-1"],
            &["ZMPOP", "1", "z0", "MIDDLE"],
            &["ZMPOP", "1", "z0", "MIN", "COUNT", "0"],
            &["LMPOP", "0", "l0", "LEFT"],
            &["LMPOP", "1", "l0", "UP"],
            &["LPOS", "l0", "a", "RANK", "0"],
            &["LPOS", "l0", "a", "COUNT", "-1"],
            &["LPOS", "l0", "a", "MAXLEN", "-1"],
            &["LPOS", "l0", "a", "RANK", "-9223372036854775808"],
            &["LSET", "l0", "100", "x"],
            &["LSET", "nokey", "0", "x"],
            &["LRANGE", "l0", "x", "1"],
            &["LMOVE", "l0", "l1", "UP", "LEFT"],
            &["HINCRBY", "h0", "f0", "x"],
            &["HINCRBYFLOAT", "h0", "f0", "nan"],
            &["HRANDFIELD", "h0", "1", "FOO"],
            &["HMSET", "h0", "f"],
            &["HSETNX", "h0", "f"],
            &["SETRANGE", "s0", "-1", "x"],
            &["SETRANGE", "s0", "536870912", "x"],
            &["GETRANGE", "s0", "x", "1"],
            &["GETEX", "s0", "EX", "100000", "PX", "100000"],
            &["GETEX", "s0", "PERSIST", "EX", "100000"],
            &["GETEX", "s0", "EX", "0"],
            &["MSET", "s0"],
            &["MSET", "s0", "v", "s1"],
            &["INCRBYFLOAT", "s0", "x"],
            &["LCS", "s0", "s1", "LEN", "IDX"],
            &["LCS", "s0", "s1", "MINMATCHLEN", "x"],
            &["COPY", "s0", "s1", "EXTRA"],
            &["RENAME", "nosuchkey", "s1"],
            &["RENAMENX", "nosuchkey", "s1"],
            &["EXPIREAT", "s0", "x"],
            &["SPOP", "S0", "-1"],
            &["SRANDMEMBER", "S0", "x"],
            &["SMOVE", "S0", "S1"],
            &["BLPOP", "l0", "-1"],
            &["BLPOP", "l0", "x"],
            &["BLPOP", "l0", "1e400"],
            &["TYPE"],
            &["KEYS"],
            &["DBSIZE", "extra"],
            &["EXEC", "extra"],
        ];
        self.pick_argv(BAD)
    }
}
