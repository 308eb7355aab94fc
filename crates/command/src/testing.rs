//! Helpers for the unit tests of command families: run commands against a
//! `Db` without a server and look at the raw RESP reply and the effects.

use bytes::Bytes;
use daisy_keyspace::Db;
use daisy_protocol::{Protocol, Reply};

use crate::{execute, lookup, Ctx, Effect, Flow, Handler, Rng, Settings};

pub struct Harness {
    pub db: Db,
    pub rng: Rng,
    pub settings: Settings,
    pub protocol: Protocol,
    pub in_multi: bool,
    /// Effects of the last command, with `Effect::Verbatim` resolved to argv.
    pub effects: Vec<Vec<Bytes>>,
    pub last_flow: Flow,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        let mut db = Db::new(42);
        db.set_now(1_700_000_000_000);
        Harness {
            db,
            rng: Rng::new(7),
            settings: Settings::default(),
            protocol: Protocol::Resp2,
            in_multi: false,
            effects: Vec::new(),
            last_flow: Flow::Done,
        }
    }

    /// Runs one command (checking arity as the server does) and returns the
    /// raw RESP reply as text.
    pub fn run(&mut self, args: &[&str]) -> String {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        self.run_bytes(&argv)
    }

    pub fn run_bytes(&mut self, argv: &[Bytes]) -> String {
        let mut reply = Reply::new(self.protocol);
        self.effects.clear();
        let Some(spec) = lookup(&argv[0]) else {
            return "-ERR unknown command\r\n".into();
        };
        if !spec.arity_ok(argv.len()) {
            return format!(
                "-ERR wrong number of arguments for '{}' command\r\n",
                spec.name
            );
        }
        let Handler::Data(handler) = spec.handler else {
            panic!("{} is a session command", spec.name);
        };
        let mut effects = Vec::new();
        let mut ctx = Ctx {
            db: &mut self.db,
            reply: &mut reply,
            effects: &mut effects,
            rng: &mut self.rng,
            settings: &self.settings,
            in_multi: self.in_multi,
        };
        self.last_flow = execute(&mut ctx, handler, argv);
        let mut resolved: Vec<Vec<Bytes>> = self
            .db
            .take_expired()
            .into_iter()
            .map(|key| vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(&key)])
            .collect();
        for effect in effects {
            resolved.push(match effect {
                Effect::Verbatim => argv.to_vec(),
                Effect::Command(command) => command,
            });
        }
        self.effects = resolved;
        String::from_utf8_lossy(&reply.take()).into_owned()
    }

    /// Effects of the last command as space-joined strings.
    pub fn effects_text(&self) -> Vec<String> {
        self.effects
            .iter()
            .map(|argv| {
                argv.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// Advances the clock.
    pub fn advance_ms(&mut self, ms: u64) {
        let now = self.db.now_ms();
        self.db.set_now(now + ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_effects() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["SET", "k", "v", "EX", "10"]), "+OK\r\n");
        assert_eq!(h.effects_text(), vec!["SET k v PXAT 1700000010000"]);
        assert_eq!(h.run(&["GET", "k"]), "$1\r\nv\r\n");
        assert!(h.effects.is_empty());
        h.advance_ms(10_000);
        assert_eq!(h.run(&["GET", "k"]), "$-1\r\n");
        assert_eq!(h.effects_text(), vec!["DEL k"]);
        assert_eq!(
            h.run(&["SET", "k", "v", "NX", "XX"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            h.run(&["GET"]),
            "-ERR wrong number of arguments for 'get' command\r\n"
        );
    }
}
