//! What a data command sees while it runs.

use bytes::Bytes;
use daisy_keyspace::Db;
use daisy_protocol::Reply;

/// The deterministic form of a change, ready to be logged and replayed.
/// Replaying the effects of a command on a copy of the keyspace as it was
/// before the command gives the same keyspace as running the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The command's own arguments are already deterministic.
    Verbatim,
    /// A rewritten command (e.g. `SPOP` becomes `SREM` of the chosen members,
    /// `EXPIRE` becomes `PEXPIREAT`).
    Command(Vec<Bytes>),
}

/// Settings a data command needs. All are bounds on what one command may do.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest string value a command may create (APPEND, SETRANGE, SETBIT).
    pub max_string_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_string_bytes: 512 * 1024 * 1024,
        }
    }
}

/// A small, fast pseudo-random generator (xorshift64*). The executor seeds
/// it; commands draw from it, so a test can make random choices repeatable.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng {
            state: seed | 1, // xorshift must not start at zero
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        self.next_u64() % bound
    }
}

pub struct Ctx<'a> {
    pub db: &'a mut Db,
    pub reply: &'a mut Reply,
    pub effects: &'a mut Vec<Effect>,
    pub rng: &'a mut Rng,
    pub settings: &'a Settings,
    /// True inside `EXEC`: blocking commands must answer at once.
    pub in_multi: bool,
}

impl Ctx<'_> {
    pub fn now_ms(&self) -> u64 {
        self.db.now_ms()
    }

    /// Records that the command changed the keyspace exactly as its
    /// arguments say.
    pub fn propagate_verbatim(&mut self) {
        self.effects.push(Effect::Verbatim);
    }

    /// Records a rewritten, deterministic command as the change.
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        self.effects.push(Effect::Command(argv));
    }

    /// Builds and records a rewritten command from byte slices.
    pub fn propagate_args(&mut self, argv: &[&[u8]]) {
        self.propagate(argv.iter().map(|a| Bytes::copy_from_slice(a)).collect());
    }

    /// A random number from the executor's generator.
    pub fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }
}
