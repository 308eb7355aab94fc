//! Connection and server commands: the ones that act on the session (its
//! protocol, authentication, transaction, subscriptions) or on the node
//! rather than on keys.

use bytes::Bytes;
use daisy_command::args::{is, parse_i64_opt};
use daisy_command::{all_commands, flags, lookup, CommandSpec};
use daisy_protocol::{Protocol, Reply};

use daisy_replication::Safeness;

use crate::connection::{written_keys, Connection, Step, WaitRequest};
use crate::node::{now_ms, Node};

/// The Redis version DaisyDB reports, for clients that check features.
pub const REDIS_COMPATIBLE_VERSION: &str = "7.0.15";
/// Longest client name accepted by CLIENT SETNAME.
const CLIENT_NAME_MAX_BYTES: usize = 1024;

impl Connection {
    pub(crate) fn run_session(
        &mut self,
        node: &mut Node,
        spec: &'static CommandSpec,
        argv: Vec<Bytes>,
        in_exec: bool,
    ) -> Step {
        match spec.name {
            "ping" => self.ping(&argv),
            "echo" => self.reply.bulk(&argv[1]),
            "hello" => self.hello(node, &argv),
            "auth" => self.auth(node, &argv),
            "select" => match parse_i64_opt(&argv[1]) {
                Some(0) => self.reply.ok(),
                Some(_) => self.reply.error("ERR DB index is out of range"),
                None => self
                    .reply
                    .error("ERR value is not an integer or out of range"),
            },
            "quit" => {
                self.reply.ok();
                return Step::Close;
            }
            "reset" => self.reset(node),
            "client" => return self.client_command(node, &argv),
            "command" => command_command(&mut self.reply, &argv),
            "info" => {
                let text = crate::info::render(node, &argv[1..]);
                self.reply.verbatim("txt", text.as_bytes());
            }
            "config" => self.config_command(node, &argv),
            "debug" => {
                // Inside EXEC the transaction's clock, as its commands see.
                let now_ms = if in_exec {
                    node.db.now_ms()
                } else {
                    self.batch_now_ms
                };
                crate::debug::debug_command(&node.db, now_ms, &mut self.reply, &argv);
            }
            "time" => {
                let micros = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros());
                self.reply.array(2);
                self.reply.bulk((micros / 1_000_000).to_string().as_bytes());
                self.reply.bulk((micros % 1_000_000).to_string().as_bytes());
            }
            "multi" => self.multi(in_exec),
            "exec" => self.exec(node, in_exec),
            "discard" => self.discard(node),
            "watch" => self.watch(node, &argv, in_exec),
            "unwatch" => {
                node.unwatch_all(&self.client);
                self.reply.ok();
            }
            "subscribe" => self.subscribe(node, &argv[1..], false),
            "psubscribe" => self.subscribe(node, &argv[1..], true),
            "unsubscribe" => self.unsubscribe(node, &argv[1..], false),
            "punsubscribe" => self.unsubscribe(node, &argv[1..], true),
            "publish" => self.publish(node, &argv),
            "pubsub" => pubsub_command(node, &mut self.reply, &argv),
            "readonly" => {
                self.client.state.borrow_mut().readonly = true;
                self.reply.ok();
            }
            "readwrite" => {
                self.client.state.borrow_mut().readonly = false;
                self.reply.ok();
            }
            "role" => crate::replication::report::role(node, &mut self.reply),
            "wait" => return self.wait_command(node, &argv, in_exec),
            "daisy" => return self.daisy_command(node, &argv),
            "lastsave" => {
                let saved_ms = if node.snapshots.saved_ms > 0 {
                    node.snapshots.saved_ms
                } else {
                    node.started_ms
                };
                self.reply.int((saved_ms / 1000) as i64)
            }
            "save" => match node.save_now() {
                Ok(()) => self.reply.ok(),
                Err(error) => self.reply.error(&format!("ERR {error}")),
            },
            "bgsave" => {
                let schedule = argv.get(1).is_some_and(|a| is(a, "SCHEDULE"));
                if argv.len() > 2 || (argv.len() == 2 && !schedule) {
                    self.reply.error("ERR syntax error");
                } else {
                    match node.start_snapshot() {
                        Ok(()) => self.reply.simple("Background saving started"),
                        Err(error) if error.contains("already") && schedule => {
                            self.reply.simple("Background saving scheduled")
                        }
                        Err(error) => self.reply.error(&format!("ERR {error}")),
                    }
                }
            }
            "shutdown" => {
                tracing::info!("SHUTDOWN requested by client {}", self.client.id);
                node.shutdown_requested = true;
                return Step::Close;
            }
            other => unreachable!("session command {other} has no implementation"),
        }
        Step::Continue
    }

    /// WAIT numreplicas timeout: answered once enough secondaries hold
    /// this connection's last write, or at the timeout (0 waits forever).
    fn wait_command(&mut self, node: &mut Node, argv: &[Bytes], in_exec: bool) -> Step {
        let (Some(replicas), Some(timeout)) = (parse_i64_opt(&argv[1]), parse_i64_opt(&argv[2]))
        else {
            self.reply
                .error("ERR value is not an integer or out of range");
            return Step::Continue;
        };
        if timeout < 0 {
            self.reply.error("ERR timeout is negative");
            return Step::Continue;
        }
        let lsn = self
            .last_write_lsn
            .max(node.last_lsn().min(self.last_write_lsn));
        let holding = match &node.repl {
            Some(repl) if repl.is_primary() => repl.tracker.received_by(lsn),
            _ => 0,
        };
        let enough = replicas <= 0 || holding >= replicas as usize;
        if in_exec || enough || node.repl.as_ref().is_none_or(|r| !r.is_primary()) {
            self.reply.int(holding as i64);
            return Step::Continue;
        }
        self.wait_request = Some(WaitRequest {
            lsn,
            replicas: replicas as usize,
            deadline: (timeout > 0).then(|| {
                tokio::time::Instant::now() + std::time::Duration::from_millis(timeout as u64)
            }),
        });
        Step::Wait
    }

    /// DAISY PROMOTE [FORCE] | DAISY SWITCHOVER <node-id> [timeout-ms] |
    /// DAISY MEMBER <node-id> SYNC|DR|REPORTING|SPARE | DAISY PREFER <node-id>|NONE.
    fn daisy_command(&mut self, node: &mut Node, argv: &[Bytes]) -> Step {
        if is(&argv[1], "SWITCHOVER") {
            return self.switchover_command(node, argv);
        }
        if is(&argv[1], "MEMBER") || is(&argv[1], "PREFER") {
            return match crate::replication::coordination::map_change(node, argv) {
                Ok(command) => {
                    self.coordinator_wait = Some(command);
                    Step::Wait
                }
                Err(error) => {
                    self.reply.error(&error);
                    Step::Continue
                }
            };
        }
        self.promote_command(node, argv);
        Step::Continue
    }

    fn switchover_command(&mut self, node: &mut Node, argv: &[Bytes]) -> Step {
        const DEFAULT_TIMEOUT_MS: i64 = 10_000;
        let timeout = match argv.get(3).map(|a| parse_i64_opt(a)) {
            None => DEFAULT_TIMEOUT_MS,
            Some(Some(ms)) if (1..=600_000).contains(&ms) && argv.len() == 4 => ms,
            Some(_) => {
                self.reply
                    .error("ERR usage: DAISY SWITCHOVER <node-id> [timeout-ms 1..600000]");
                return Step::Continue;
            }
        };
        let Some(target) = argv.get(2) else {
            self.reply
                .error("ERR usage: DAISY SWITCHOVER <node-id> [timeout-ms 1..600000]");
            return Step::Continue;
        };
        let target = String::from_utf8_lossy(target).into_owned();
        match node.begin_switchover(&target) {
            Ok(()) => {
                let deadline =
                    tokio::time::Instant::now() + std::time::Duration::from_millis(timeout as u64);
                self.switchover_wait = Some((target, deadline));
                Step::Wait
            }
            Err(error) => {
                self.reply.error(&error);
                Step::Continue
            }
        }
    }

    fn promote_command(&mut self, node: &mut Node, argv: &[Bytes]) {
        let force = match argv.get(2) {
            None => false,
            Some(arg) if is(arg, "FORCE") && argv.len() == 3 => true,
            Some(_) => {
                self.reply.error("ERR syntax error");
                return;
            }
        };
        if !is(&argv[1], "PROMOTE") {
            self.reply.error(&format!(
                "ERR unknown subcommand '{}'. Try DAISY PROMOTE [FORCE], DAISY SWITCHOVER <node-id>, DAISY MEMBER <node-id> <kind> or DAISY PREFER <node-id>|NONE.",
                String::from_utf8_lossy(&argv[1])
            ));
            return;
        }
        match node.promote(force) {
            Ok(epoch) => {
                tracing::info!("promoted by client {} to epoch {epoch}", self.client.id);
                self.reply.ok();
            }
            Err(error) => self.reply.error(&error),
        }
    }

    fn ping(&mut self, argv: &[Bytes]) {
        if argv.len() > 2 {
            self.reply
                .error("ERR wrong number of arguments for 'ping' command");
            return;
        }
        if self.client.state.borrow().in_resp2_pubsub() {
            self.reply.array(2);
            self.reply.bulk(b"pong");
            self.reply.bulk(argv.get(1).map_or(&b""[..], |a| a));
        } else if let Some(message) = argv.get(1) {
            self.reply.bulk(message);
        } else {
            self.reply.simple("PONG");
        }
    }

    fn check_password(
        &self,
        node: &Node,
        user: &[u8],
        password: &[u8],
    ) -> Result<(), &'static str> {
        let wrong = "WRONGPASS invalid username-password pair or user is disabled.";
        if user != b"default" {
            return Err(wrong);
        }
        if node.config.requirepass.is_empty() || node.config.requirepass.as_bytes() == password {
            Ok(())
        } else {
            Err(wrong)
        }
    }

    fn auth(&mut self, node: &mut Node, argv: &[Bytes]) {
        if argv.len() > 3 {
            self.reply.error("ERR syntax error");
            return;
        }
        let (user, password) = match argv {
            [_, password] => (&b"default"[..], password),
            [_, user, password] => (&user[..], password),
            _ => unreachable!("arity is checked"),
        };
        if argv.len() == 2 && node.config.requirepass.is_empty() {
            self.reply.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            return;
        }
        match self.check_password(node, user, password) {
            Ok(()) => {
                self.client.state.borrow_mut().authenticated = true;
                self.reply.ok();
            }
            Err(error) => self.reply.error(error),
        }
    }

    fn hello(&mut self, node: &mut Node, argv: &[Bytes]) {
        let mut protocol = self.client.state.borrow().protocol;
        let mut index = 1;
        if let Some(version) = argv.get(1) {
            protocol = match parse_i64_opt(version) {
                Some(2) => Protocol::Resp2,
                Some(3) => Protocol::Resp3,
                Some(_) => {
                    self.reply.error("NOPROTO unsupported protocol version");
                    return;
                }
                None => {
                    self.reply
                        .error("ERR Protocol version is not an integer or out of range");
                    return;
                }
            };
            index = 2;
        }
        let mut auth = None;
        let mut name = None;
        while index < argv.len() {
            let remaining = argv.len() - index - 1;
            if is(&argv[index], "AUTH") && remaining >= 2 {
                auth = Some((argv[index + 1].clone(), argv[index + 2].clone()));
                index += 3;
            } else if is(&argv[index], "SETNAME") && remaining >= 1 {
                name = Some(argv[index + 1].clone());
                index += 2;
            } else {
                self.reply.error(&format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&argv[index])
                ));
                return;
            }
        }
        if let Some((user, password)) = &auth {
            if let Err(error) = self.check_password(node, user, password) {
                self.reply.error(error);
                return;
            }
        }
        if !self.client.state.borrow().authenticated && auth.is_none() {
            self.reply.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }
        if let Some(name) = &name {
            if let Err(error) = validate_client_name(name) {
                self.reply.error(error);
                return;
            }
        }
        {
            let mut state = self.client.state.borrow_mut();
            if auth.is_some() {
                state.authenticated = true;
            }
            if let Some(name) = name {
                state.name = (!name.is_empty()).then_some(name);
            }
            state.protocol = protocol;
        }
        self.reply.set_protocol(protocol);
        self.reply.map(7);
        self.reply.bulk(b"server");
        self.reply.bulk(b"redis");
        self.reply.bulk(b"version");
        self.reply.bulk(REDIS_COMPATIBLE_VERSION.as_bytes());
        self.reply.bulk(b"proto");
        self.reply
            .int(if protocol == Protocol::Resp3 { 3 } else { 2 });
        self.reply.bulk(b"id");
        self.reply.int(self.client.id as i64);
        self.reply.bulk(b"mode");
        self.reply.bulk(b"standalone");
        self.reply.bulk(b"role");
        self.reply.bulk(b"master");
        self.reply.bulk(b"modules");
        self.reply.array(0);
    }

    fn reset(&mut self, node: &mut Node) {
        self.queued.clear();
        self.multi_failed = false;
        node.unwatch_all(&self.client);
        self.unsubscribe_all(node);
        let requires_auth = !node.config.requirepass.is_empty();
        {
            let mut state = self.client.state.borrow_mut();
            state.multi = None;
            state.name = None;
            state.protocol = Protocol::Resp2;
            state.readonly = false;
            if requires_auth {
                state.authenticated = false;
            }
        }
        self.reply.set_protocol(Protocol::Resp2);
        self.reply.simple("RESET");
    }

    fn multi(&mut self, in_exec: bool) {
        let mut state = self.client.state.borrow_mut();
        if state.multi.is_some() || in_exec {
            drop(state);
            self.reply.error("ERR MULTI calls can not be nested");
            return;
        }
        state.multi = Some(0);
        drop(state);
        self.queued.clear();
        self.multi_failed = false;
        self.reply.ok();
    }

    fn discard(&mut self, node: &mut Node) {
        if self.client.state.borrow().multi.is_none() {
            self.reply.error("ERR DISCARD without MULTI");
            return;
        }
        self.end_multi(node);
        self.reply.ok();
    }

    pub(crate) fn end_multi(&mut self, node: &mut Node) {
        self.queued.clear();
        self.multi_failed = false;
        self.client.state.borrow_mut().multi = None;
        node.unwatch_all(&self.client);
    }

    fn exec(&mut self, node: &mut Node, in_exec: bool) {
        if self.client.state.borrow().multi.is_none() || in_exec {
            self.reply.error("ERR EXEC without MULTI");
            return;
        }
        if self.multi_failed {
            self.end_multi(node);
            self.reply
                .error("EXECABORT Transaction discarded because of previous errors.");
            return;
        }
        // A watched key that expired since WATCH counts as changed: look
        // each one up so lazy expiry reports it.
        node.db.set_now(now_ms());
        let watched = self.client.state.borrow().watched.clone();
        for key in &watched {
            node.db.contains(key);
        }
        node.note_expired();
        node.after_changes(&[]);
        if self.client.state.borrow().watch_dirty {
            self.end_multi(node);
            self.reply.null_array();
            return;
        }
        let queued = std::mem::take(&mut self.queued);
        self.client.state.borrow_mut().multi = None;
        node.unwatch_all(&self.client);
        self.reply.array(queued.len());
        let mut written = Vec::new();
        for command in queued {
            written.extend(written_keys(node, command.spec, &command.argv));
            self.run_command(node, command.spec, command.argv, true);
        }
        // The whole transaction is one record.
        node.end_unit();
        node.after_changes(&written);
    }

    fn watch(&mut self, node: &mut Node, argv: &[Bytes], in_exec: bool) {
        if self.client.state.borrow().multi.is_some() || in_exec {
            self.reply.error("ERR WATCH inside MULTI is not allowed");
            return;
        }
        node.db.set_now(now_ms());
        for key in &argv[1..] {
            // Purge a key that had already expired, so only an expiry after
            // WATCH makes EXEC fail.
            node.db.contains(key);
            node.note_expired();
            node.watch(&self.client, key);
        }
        self.reply.ok();
    }

    fn subscribe(&mut self, node: &mut Node, names: &[Bytes], pattern: bool) {
        let kind: &[u8] = if pattern { b"psubscribe" } else { b"subscribe" };
        for name in names {
            let added = {
                let mut state = self.client.state.borrow_mut();
                let set = if pattern {
                    &mut state.patterns
                } else {
                    &mut state.channels
                };
                set.insert(name.clone())
            };
            if added {
                if pattern {
                    node.pubsub.psubscribe(name, self.client.id);
                } else {
                    node.pubsub.subscribe(name, self.client.id);
                }
            }
            let count = self.client.state.borrow().subscription_count();
            self.reply.push(3);
            self.reply.bulk(kind);
            self.reply.bulk(name);
            self.reply.int(count as i64);
        }
    }

    fn unsubscribe(&mut self, node: &mut Node, names: &[Bytes], pattern: bool) {
        let kind: &[u8] = if pattern {
            b"punsubscribe"
        } else {
            b"unsubscribe"
        };
        let names: Vec<Bytes> = if names.is_empty() {
            let state = self.client.state.borrow();
            let set = if pattern {
                &state.patterns
            } else {
                &state.channels
            };
            set.iter().cloned().collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            let count = self.client.state.borrow().subscription_count();
            self.reply.push(3);
            self.reply.bulk(kind);
            self.reply.null();
            self.reply.int(count as i64);
            return;
        }
        for name in names {
            let removed = {
                let mut state = self.client.state.borrow_mut();
                let set = if pattern {
                    &mut state.patterns
                } else {
                    &mut state.channels
                };
                set.remove(&name)
            };
            if removed {
                if pattern {
                    node.pubsub.punsubscribe(&name, self.client.id);
                } else {
                    node.pubsub.unsubscribe(&name, self.client.id);
                }
            }
            let count = self.client.state.borrow().subscription_count();
            self.reply.push(3);
            self.reply.bulk(kind);
            self.reply.bulk(&name);
            self.reply.int(count as i64);
        }
    }

    /// Drops every subscription without replying (RESET).
    fn unsubscribe_all(&mut self, node: &mut Node) {
        let mut state = self.client.state.borrow_mut();
        for channel in state.channels.drain() {
            node.pubsub.unsubscribe(&channel, self.client.id);
        }
        for pattern in state.patterns.drain() {
            node.pubsub.punsubscribe(&pattern, self.client.id);
        }
    }

    fn publish(&mut self, node: &mut Node, argv: &[Bytes]) {
        let limit = node.config.client_output_buffer_limit_pubsub;
        let receivers = node
            .pubsub
            .publish(&argv[1], &argv[2], |id| node.client(id), limit);
        node.stats.pubsub_messages += 1;
        // A RESP3 client subscribed to its own channel sees the message
        // before the reply, as in Redis.
        self.drain_outbox();
        self.reply.int(receivers as i64);
    }

    fn client_command(&mut self, node: &mut Node, argv: &[Bytes]) -> Step {
        let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
        let now = now_ms();
        match (sub.as_str(), argv.len()) {
            ("id", 2) => self.reply.int(self.client.id as i64),
            ("safeness", 2) => {
                let level = node.safeness_for(self.safeness);
                self.reply.bulk(level.name().as_bytes());
            }
            ("safeness", 3) => match String::from_utf8_lossy(&argv[2]).parse::<Safeness>() {
                Ok(level) => {
                    self.safeness = Some(level);
                    self.reply.ok();
                }
                Err(error) => self.reply.error(&format!("ERR {error}")),
            },
            ("getname", 2) => match &self.client.state.borrow().name {
                Some(name) => self.reply.bulk(name),
                None => self.reply.null(),
            },
            ("setname", 3) => match validate_client_name(&argv[2]) {
                Ok(()) => {
                    self.client.state.borrow_mut().name =
                        (!argv[2].is_empty()).then(|| argv[2].clone());
                    self.reply.ok();
                }
                Err(error) => self.reply.error(error),
            },
            ("setinfo", 4) => {
                let value = argv[3].clone();
                if value
                    .iter()
                    .any(|&b| b == b' ' || b == b'\n' || !(b'!'..=b'~').contains(&b))
                {
                    self.reply.error(&format!(
                        "ERR {} cannot contain spaces, newlines or special characters.",
                        String::from_utf8_lossy(&argv[2]).to_ascii_lowercase()
                    ));
                    return Step::Continue;
                }
                let mut state = self.client.state.borrow_mut();
                if is(&argv[2], "LIB-NAME") {
                    state.lib_name = Some(value);
                } else if is(&argv[2], "LIB-VER") {
                    state.lib_version = Some(value);
                } else {
                    drop(state);
                    self.reply.error(&format!(
                        "ERR Unrecognized option '{}'",
                        String::from_utf8_lossy(&argv[2])
                    ));
                    return Step::Continue;
                }
                drop(state);
                self.reply.ok();
            }
            ("info", 2) => {
                let line = format!("{}\n", self.client.describe(now));
                self.reply.verbatim("txt", line.as_bytes());
            }
            ("list", _) => self.client_list(node, argv, now),
            ("kill", _) => return self.client_kill(node, argv),
            ("unblock", 3 | 4) => self.client_unblock(node, argv),
            ("no-evict", 3) | ("no-touch", 3) => {
                if is(&argv[2], "ON") || is(&argv[2], "OFF") {
                    self.reply.ok();
                } else {
                    self.reply.error("ERR syntax error");
                }
            }
            ("help", 2) => {
                let lines = [
                    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "ID",
                    "    Return the ID of the current connection.",
                    "GETNAME",
                    "    Return the name of the current connection.",
                    "SETNAME <name>",
                    "    Assign the name <name> to the current connection.",
                    "SETINFO <LIB-NAME|LIB-VER> <value>",
                    "    Set client library information.",
                    "INFO",
                    "    Return information about the current client connection.",
                    "LIST [TYPE <normal|pubsub>] [ID <id> ...]",
                    "    Return information about client connections.",
                    "KILL <ip:port> | ID <id> | ADDR <ip:port> | LADDR <ip:port> | SKIPME <yes|no>",
                    "    Kill connections.",
                    "UNBLOCK <id> [TIMEOUT|ERROR]",
                    "    Unblock a client blocked in a blocking command.",
                    "NO-EVICT <ON|OFF>",
                    "    Accepted for compatibility; DaisyDB never evicts.",
                    "HELP",
                    "    Print this help.",
                ];
                reply_lines(&mut self.reply, &lines);
            }
            _ => self.reply.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&argv[1])
            )),
        }
        Step::Continue
    }

    fn client_list(&mut self, node: &Node, argv: &[Bytes], now: u64) {
        let mut ids: Option<Vec<u64>> = None;
        let mut kind: Option<String> = None;
        let mut index = 2;
        while index < argv.len() {
            if is(&argv[index], "TYPE") && index + 1 < argv.len() {
                let name = String::from_utf8_lossy(&argv[index + 1]).to_ascii_lowercase();
                if !matches!(
                    name.as_str(),
                    "normal" | "pubsub" | "master" | "replica" | "slave"
                ) {
                    self.reply
                        .error(&format!("ERR Unknown client type '{name}'"));
                    return;
                }
                kind = Some(name);
                index += 2;
            } else if is(&argv[index], "ID") && index + 1 < argv.len() {
                let mut list = Vec::new();
                for arg in &argv[index + 1..] {
                    match parse_i64_opt(arg) {
                        Some(id) if id > 0 => list.push(id as u64),
                        _ => {
                            self.reply.error("ERR Invalid client ID");
                            return;
                        }
                    }
                }
                ids = Some(list);
                index = argv.len();
            } else {
                self.reply.error("ERR syntax error");
                return;
            }
        }
        let mut clients: Vec<_> = node.clients.values().collect();
        clients.sort_by_key(|c| c.id);
        let mut text = String::new();
        for client in clients {
            if ids.as_ref().is_some_and(|ids| !ids.contains(&client.id)) {
                continue;
            }
            let subscribed = client.state.borrow().subscription_count() > 0;
            let matches_kind = match kind.as_deref() {
                None => true,
                Some("pubsub") => subscribed,
                Some("normal") => !subscribed,
                Some(_) => false,
            };
            if matches_kind {
                text.push_str(&client.describe(now));
                text.push('\n');
            }
        }
        self.reply.verbatim("txt", text.as_bytes());
    }

    fn client_kill(&mut self, node: &mut Node, argv: &[Bytes]) -> Step {
        // Old form: CLIENT KILL addr:port.
        if argv.len() == 3 {
            let target = argv[2].clone();
            let found = node
                .clients
                .values()
                .find(|c| c.peer_addr.to_string().as_bytes() == &target[..])
                .cloned();
            return match found {
                Some(client) => {
                    client.kill();
                    self.reply.ok();
                    if client.id == self.client.id {
                        Step::Close
                    } else {
                        Step::Continue
                    }
                }
                None => {
                    self.reply.error("ERR No such client");
                    Step::Continue
                }
            };
        }
        let mut filters: Vec<(String, Bytes)> = Vec::new();
        let mut skip_me = true;
        let mut index = 2;
        while index < argv.len() {
            let Some(value) = argv.get(index + 1) else {
                self.reply.error("ERR syntax error");
                return Step::Continue;
            };
            let name = String::from_utf8_lossy(&argv[index]).to_ascii_lowercase();
            match name.as_str() {
                "id" | "addr" | "laddr" | "type" | "user" => filters.push((name, value.clone())),
                "skipme" if is(value, "yes") => skip_me = true,
                "skipme" if is(value, "no") => skip_me = false,
                _ => {
                    self.reply.error("ERR syntax error");
                    return Step::Continue;
                }
            }
            index += 2;
        }
        let mut killed = 0;
        let mut killed_self = false;
        let clients: Vec<_> = node.clients.values().cloned().collect();
        for client in clients {
            if skip_me && client.id == self.client.id {
                continue;
            }
            let all_match = filters.iter().all(|(name, value)| match name.as_str() {
                "id" => parse_i64_opt(value) == Some(client.id as i64),
                "addr" => client.peer_addr.to_string().as_bytes() == &value[..],
                "laddr" => client.local_addr.to_string().as_bytes() == &value[..],
                "user" => &value[..] == b"default",
                "type" => {
                    let subscribed = client.state.borrow().subscription_count() > 0;
                    (is(value, "pubsub") && subscribed) || (is(value, "normal") && !subscribed)
                }
                _ => false,
            });
            if all_match {
                client.kill();
                killed += 1;
                killed_self |= client.id == self.client.id;
            }
        }
        self.reply.int(killed);
        if killed_self {
            Step::Close
        } else {
            Step::Continue
        }
    }

    fn client_unblock(&mut self, node: &mut Node, argv: &[Bytes]) {
        let Some(id) = parse_i64_opt(&argv[2]) else {
            self.reply
                .error("ERR value is not an integer or out of range");
            return;
        };
        let with_error = match argv.get(3) {
            None => false,
            Some(mode) if is(mode, "TIMEOUT") => false,
            Some(mode) if is(mode, "ERROR") => true,
            Some(_) => {
                self.reply
                    .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        };
        let target = u64::try_from(id).ok().and_then(|id| node.client(id));
        let Some(target) = target else {
            self.reply.int(0);
            return;
        };
        let Some(blocked) = node.unblock(&target) else {
            self.reply.int(0);
            return;
        };
        let mut reply = Reply::new(target.state.borrow().protocol);
        if with_error {
            reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        } else {
            daisy_command::blocking_timeout_reply(
                &String::from_utf8_lossy(&blocked.argv[0]),
                &mut reply,
            );
        }
        target.deliver(reply.buffer());
        self.reply.int(1);
    }

    fn config_command(&mut self, node: &mut Node, argv: &[Bytes]) {
        let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
        match sub.as_str() {
            "get" if argv.len() >= 3 => {
                let view = node.config.redis_view();
                let matched: Vec<_> = view
                    .iter()
                    .filter(|(name, _)| {
                        argv[2..].iter().any(|pattern| {
                            daisy_command::glob::matches_nocase(pattern, name.as_bytes())
                        })
                    })
                    .collect();
                self.reply.map(matched.len());
                for (name, value) in matched {
                    self.reply.bulk(name.as_bytes());
                    self.reply.bulk(value.as_bytes());
                }
            }
            "set" if argv.len() >= 4 && argv.len().is_multiple_of(2) => {
                let mut next = node.config.clone();
                for pair in argv[2..].chunks(2) {
                    let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                    let value = String::from_utf8_lossy(&pair[1]).into_owned();
                    if let Err(error) = next.set_by_redis_name(&name, &value) {
                        self.reply.error(&format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - {error}"
                        ));
                        return;
                    }
                }
                node.config = next;
                node.config_changed();
                self.reply.ok();
            }
            "resetstat" if argv.len() == 2 => {
                // The change count is not a statistic: snapshots pace on it.
                let changes = node.stats.changes;
                node.stats = Default::default();
                node.stats.changes = changes;
                self.reply.ok();
            }
            "rewrite" if argv.len() == 2 => {
                self.reply
                    .error("ERR The server is running without a config file");
            }
            "help" if argv.len() == 2 => {
                let lines = [
                    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "GET <pattern>",
                    "    Return parameters matching the glob-like <pattern> and their values.",
                    "SET <directive> <value>",
                    "    Set the configuration <directive> to <value>.",
                    "RESETSTAT",
                    "    Reset statistics reported by the INFO command.",
                    "HELP",
                    "    Print this help.",
                ];
                reply_lines(&mut self.reply, &lines);
            }
            _ => self.reply.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
                String::from_utf8_lossy(&argv[1])
            )),
        }
    }
}

fn validate_client_name(name: &[u8]) -> Result<(), &'static str> {
    if name.len() > CLIENT_NAME_MAX_BYTES {
        return Err("ERR Client names are limited to 1024 bytes");
    }
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}

fn pubsub_command(node: &Node, reply: &mut Reply, argv: &[Bytes]) {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    match (sub.as_str(), argv.len()) {
        ("channels", 2 | 3) => {
            let channels = node.pubsub.active_channels(argv.get(2).map(|p| &p[..]));
            reply.array(channels.len());
            for channel in channels {
                reply.bulk(&channel);
            }
        }
        ("numsub", _) => {
            reply.map(argv.len() - 2);
            for channel in &argv[2..] {
                reply.bulk(channel);
                reply.int(node.pubsub.subscriber_count(channel) as i64);
            }
        }
        ("numpat", 2) => reply.int(node.pubsub.pattern_count() as i64),
        ("shardchannels", 2 | 3) => reply.array(0),
        ("shardnumsub", _) => {
            reply.map(argv.len() - 2);
            for channel in &argv[2..] {
                reply.bulk(channel);
                reply.int(0);
            }
        }
        _ => reply.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}

/// COMMAND, COMMAND COUNT / INFO / DOCS / LIST / GETKEYS.
fn command_command(reply: &mut Reply, argv: &[Bytes]) {
    let sub = argv
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase());
    match sub.as_deref() {
        None => {
            let all = all_commands();
            reply.array(all.len());
            for spec in all {
                command_info(reply, spec);
            }
        }
        Some("count") if argv.len() == 2 => reply.int(all_commands().len() as i64),
        Some("list") => {
            let all = all_commands();
            reply.array(all.len());
            for spec in all {
                reply.bulk(spec.name.as_bytes());
            }
        }
        Some("info") => {
            let specs: Vec<_> = if argv.len() == 2 {
                all_commands().into_iter().map(Some).collect()
            } else {
                argv[2..].iter().map(|name| lookup(name)).collect()
            };
            reply.array(specs.len());
            for spec in specs {
                match spec {
                    Some(spec) => command_info(reply, spec),
                    None => reply.null_array(),
                }
            }
        }
        Some("docs") => {
            let specs: Vec<_> = if argv.len() == 2 {
                all_commands()
            } else {
                argv[2..].iter().filter_map(|name| lookup(name)).collect()
            };
            reply.map(specs.len());
            for spec in specs {
                reply.bulk(spec.name.as_bytes());
                reply.map(3);
                reply.bulk(b"summary");
                reply.bulk(spec.summary.as_bytes());
                reply.bulk(b"since");
                reply.bulk(b"1.0.0");
                reply.bulk(b"group");
                reply.bulk(spec.group.as_bytes());
            }
        }
        Some("getkeys") if argv.len() >= 3 => {
            let target = &argv[2..];
            match lookup(&target[0]) {
                None => reply.error("ERR Invalid command specified"),
                Some(spec) if !spec.arity_ok(target.len()) => {
                    reply.error("ERR Invalid number of arguments specified for command")
                }
                Some(spec) => {
                    let keys = spec.key_indices(target);
                    if keys.is_empty() {
                        reply.error("ERR The command has no key arguments");
                        return;
                    }
                    reply.array(keys.len());
                    for index in keys {
                        reply.bulk(&target[index]);
                    }
                }
            }
        }
        _ => reply.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&argv[1])
        )),
    }
}

fn command_info(reply: &mut Reply, spec: &CommandSpec) {
    reply.array(10);
    reply.bulk(spec.name.as_bytes());
    reply.int(spec.arity as i64);
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(flag, _)| spec.has(*flag))
        .map(|(_, name)| *name)
        .collect();
    reply.set(names.len());
    for name in names {
        reply.simple(name);
    }
    let (first, last, step) = spec.legacy_key_range();
    reply.int(first);
    reply.int(last);
    reply.int(step);
    reply.set(1);
    reply.simple(&format!("@{}", spec.group));
    reply.set(0);
    reply.array(0);
    reply.array(0);
}

/// A HELP reply: one simple string per line.
fn reply_lines(reply: &mut Reply, lines: &[&str]) {
    reply.array(lines.len());
    for line in lines {
        reply.simple(line);
    }
}
