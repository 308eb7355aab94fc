//! One client connection: read requests, run them, write replies.
//!
//! The task reads into a buffer, parses every complete request in it, runs
//! them in order against the node (one borrow per batch, so pipelined
//! commands cost one wake-up), then writes all replies at once. A client
//! blocked in BLPOP and friends stops being processed until it is served,
//! times out or disconnects; its later pipelined requests wait, as in Redis.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use daisy_command::{flags, lookup, CommandSpec, Flow, Handler};
use daisy_protocol::{Limits, Reply, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use daisy_replication::Safeness;

use crate::client::{Blocked, ClientHandle};
use crate::node::{now_ms, Node};

/// Bytes requested from the socket per read when nothing bigger is pending.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Reply buffer capacity kept between batches; a larger one is released.
const REPLY_BUFFER_KEEP_BYTES: usize = 1024 * 1024;
/// How often a reply held for the log looks again at whether the log is
/// failing (and the reply need not wait for everything).
const LOG_FAILURE_RECHECK: Duration = Duration::from_millis(50);
/// Longest argument text quoted in an unknown-command error.
const UNKNOWN_COMMAND_ARG_BYTES: usize = 128;

/// What the connection does after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Continue,
    /// Stop processing: the client is blocked until served or timed out.
    Block,
    /// Write what is pending, then close.
    Close,
    /// WAIT: write what is pending, then wait for the secondaries before
    /// answering it and going on.
    Wait,
}

/// A WAIT in progress: how many secondaries must hold `lsn`, until when.
pub(crate) struct WaitRequest {
    pub lsn: u64,
    pub replicas: usize,
    pub deadline: Option<tokio::time::Instant>,
}

pub(crate) struct Queued {
    pub spec: &'static CommandSpec,
    pub argv: Vec<Bytes>,
}

pub(crate) struct Connection {
    pub(crate) node: Rc<RefCell<Node>>,
    pub(crate) client: Rc<ClientHandle>,
    stream: TcpStream,
    read_buf: BytesMut,
    parser: RequestParser,
    pub(crate) reply: Reply,
    /// Commands queued since MULTI.
    pub(crate) queued: Vec<Queued>,
    /// A command failed to queue: EXEC must abort.
    pub(crate) multi_failed: bool,
    limits: Limits,
    /// The clock, read once per batch of requests (Unix ms): every command
    /// of a batch runs at the same "now", and the hot path reads the clock
    /// once per wake-up instead of once per command.
    pub(crate) batch_now_ms: u64,
    /// The LSN the replies of the current batch wait for (commit watermark).
    reply_gate_lsn: u64,
    /// The newest record the batch itself (or a reply served to it through
    /// the outbox) produced, 0 if none.
    batch_write_lsn: u64,
    /// Keys the batch's reads looked at, so that while the log fails the
    /// batch waits only for the records that touched them.
    batch_read_keys: Vec<Bytes>,
    /// Where each command's reply of the batch starts in `reply`, so the
    /// replies can be replaced by errors if replication fails them.
    reply_marks: Vec<usize>,
    /// The batch ran a data command (on a secondary, only such batches
    /// wait for the primary's watermark).
    batch_reads_data: bool,
    /// The level this connection chose (CLIENT SAFENESS), if any.
    pub(crate) safeness: Option<Safeness>,
    /// The newest record this connection wrote (for WAIT).
    pub(crate) last_write_lsn: u64,
    pub(crate) wait_request: Option<WaitRequest>,
    /// DAISY SWITCHOVER in progress: the target and the deadline.
    pub(crate) switchover_wait: Option<(String, tokio::time::Instant)>,
    /// A map change to propose to the coordinator (DAISY MEMBER, PREFER).
    pub(crate) coordinator_wait: Option<daisy_coordinator::Command>,
}

impl Connection {
    pub(crate) fn new(
        node: Rc<RefCell<Node>>,
        client: Rc<ClientHandle>,
        stream: TcpStream,
    ) -> Self {
        let limits = node.borrow().config.limits();
        Connection {
            node,
            client,
            stream,
            read_buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
            parser: RequestParser::new(),
            reply: Reply::new(daisy_protocol::Protocol::Resp2),
            queued: Vec::new(),
            multi_failed: false,
            limits,
            batch_now_ms: 0,
            reply_gate_lsn: 0,
            batch_write_lsn: 0,
            batch_read_keys: Vec::new(),
            reply_marks: Vec::new(),
            batch_reads_data: false,
            safeness: None,
            last_write_lsn: 0,
            wait_request: None,
            switchover_wait: None,
            coordinator_wait: None,
        }
    }

    /// Serves the client until it disconnects, quits or is killed.
    pub(crate) async fn run(mut self) {
        if let Err(error) = self.serve().await {
            tracing::debug!(client = self.client.id, %error, "connection closed");
        }
        let node = self.node.clone();
        node.borrow_mut().remove_client(&self.client);
    }

    async fn serve(&mut self) -> io::Result<()> {
        loop {
            let step = self.process_input();
            self.wait_committed().await;
            self.flush().await?;
            if self.client.killed.get() {
                return Ok(());
            }
            match step {
                Step::Close => return Ok(()),
                Step::Block => self.wait_while_blocked().await?,
                Step::Wait => {
                    self.wait_for_replicas().await;
                    continue;
                }
                Step::Continue => {
                    if !self.read_more().await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Parses and runs every complete request in the read buffer.
    fn process_input(&mut self) -> Step {
        let node = self.node.clone();
        let mut node = node.borrow_mut();
        self.batch_now_ms = now_ms();
        let committed = node.committed_everywhere();
        if let Some(journal) = &mut node.journal {
            journal.refresh(committed);
        }
        let batch_start_lsn = node.last_lsn();
        self.reply_gate_lsn = 0;
        self.batch_read_keys.clear();
        self.reply_marks.clear();
        self.batch_reads_data = false;
        let had_outbox = !self.client.outbox.borrow().is_empty();
        self.drain_outbox();
        let step = self.process_requests(&mut node);
        node.end_unit();
        // The commit watermark: replies leave once every change they may
        // depend on is durable. Normally that is everything logged so far;
        // while the log fails, reads wait only for the records that touched
        // their keys, so they go on.
        self.batch_write_lsn = if had_outbox || node.last_lsn() > batch_start_lsn {
            node.last_lsn()
        } else {
            0
        };
        if self.batch_write_lsn > 0 {
            self.last_write_lsn = self.batch_write_lsn;
        }
        if !self.reply.is_empty() {
            let failing = self.failing(&node);
            self.reply_gate_lsn = match &node.journal {
                Some(_) if node.is_secondary() && !self.batch_reads_data => 0,
                Some(journal) if failing => self.failure_gate(journal),
                Some(journal) => journal.last_lsn(),
                None => 0,
            };
        }
        step
    }

    /// True while acknowledgements at this connection's level cannot be
    /// given for new writes: the log fails, or an in-sync secondary is
    /// missing. Reads then wait only for what they depend on.
    fn failing(&self, node: &Node) -> bool {
        node.journal.as_ref().is_some_and(|j| j.failure().is_some())
            || (node.repl.as_ref().is_some_and(|r| r.is_primary())
                && node
                    .replication_refusal(node.safeness_for(self.safeness))
                    .is_some())
    }

    /// The gate while the log fails: the batch's own records, and the
    /// records not yet durable that touched the keys it read.
    fn failure_gate(&self, journal: &crate::journal::Journal) -> u64 {
        let keys: Vec<&[u8]> = self.batch_read_keys.iter().map(|k| &k[..]).collect();
        self.batch_write_lsn.max(journal.read_gate(&keys))
    }

    /// Waits until the commit watermark of the connection's level covers
    /// what the batch's replies depend on: the local log, and at 2-safe
    /// and above the in-sync secondaries. If the log or replication starts
    /// failing meanwhile, the gate narrows to what the batch really depends
    /// on, so reads are not held behind writes that cannot be acknowledged.
    /// Past the sync timeout, the replies become -NOREPLICAS errors.
    async fn wait_committed(&mut self) {
        if self.reply_gate_lsn == 0 {
            return;
        }
        let (level, deadline, generation) = {
            let node = self.node.borrow();
            let level = node.safeness_for(self.safeness);
            let generation = node.repl.as_ref().map(|r| r.generation);
            // A secondary's reads wait for the primary's watermark, too.
            let replicated = node
                .repl
                .as_ref()
                .is_some_and(|r| !r.is_primary() || level.needs_secondaries());
            let timeout = Duration::from_millis(node.config.sync_timeout_ms);
            (
                level,
                replicated.then(|| tokio::time::Instant::now() + timeout),
                generation,
            )
        };
        let mut recheck = false;
        loop {
            let changed = self.node.borrow().repl.as_ref().map(|r| r.changed.clone());
            let idle = Rc::new(tokio::sync::Notify::new());
            let changed = changed.unwrap_or(idle);
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let durable = {
                let mut node = self.node.borrow_mut();
                if recheck {
                    recheck = false;
                    let committed = node.committed_everywhere();
                    if let Some(journal) = &mut node.journal {
                        journal.refresh(committed);
                    }
                    if self.failing(&node) {
                        if let Some(journal) = &node.journal {
                            self.reply_gate_lsn = self.failure_gate(journal);
                        }
                    }
                }
                // The node's role changed since the batch ran: its records
                // may be cut as divergent, and the watermark now belongs to
                // another primary's log; nothing here can be confirmed.
                if node.repl.as_ref().map(|r| r.generation) != generation {
                    drop(node);
                    self.fail_replies_with(
                        "TRYAGAIN This node's role changed (a failover or switchover) before the command was confirmed; its outcome is unknown.",
                    );
                    return;
                }
                let Some(journal) = &node.journal else {
                    return;
                };
                if node.commit_lsn(level) >= self.reply_gate_lsn {
                    return;
                }
                // A primary that lost its lease is being replaced: waiting
                // out sync-timeout-ms would only keep the client from the
                // new primary.
                if node.lease_refusal().is_some() {
                    drop(node);
                    self.fail_replies_with(
                        "TRYAGAIN This primary lost its lease before the command was confirmed; its outcome is unknown.",
                    );
                    return;
                }
                (journal.durable_lsn() < self.reply_gate_lsn).then(|| journal.durable().clone())
            };
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                _ = async { durable.as_ref().expect("some").wait_for(self.reply_gate_lsn).await }, if durable.is_some() => {}
                _ = &mut notified => {}
                _ = tokio::time::sleep(LOG_FAILURE_RECHECK) => recheck = true,
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                    self.fail_replies(level);
                    return;
                }
            }
        }
    }

    /// Replaces every reply of the batch by -NOREPLICAS: the secondaries
    /// did not acknowledge in time, so the outcome of its writes is unknown
    /// and what its reads saw may not survive a failover.
    fn fail_replies(&mut self, level: Safeness) {
        if self.reply_marks.is_empty() {
            return;
        }
        let message = {
            let node = self.node.borrow();
            if node.is_secondary() {
                "TRYAGAIN This secondary could not confirm with its primary within sync-timeout-ms that the data read is committed; retry, or read from the primary.".to_string()
            } else {
                let why = node
                    .replication_refusal(level)
                    .unwrap_or_else(|| "NOREPLICAS Not enough good replicas to write.".into());
                format!(
                    "{} The secondaries did not acknowledge within sync-timeout-ms; the outcome of this command is unknown.",
                    why.trim_end_matches('.')
                )
            }
        };
        self.fail_replies_with(&message);
    }

    /// Replaces every reply of the batch by the error `message`.
    fn fail_replies_with(&mut self, message: &str) {
        let Some(&first) = self.reply_marks.first() else {
            return;
        };
        let count = self.reply_marks.len();
        self.reply.truncate(first);
        for _ in 0..count {
            self.reply.error(message);
        }
        self.reply_gate_lsn = 0;
    }

    /// WAIT: until enough secondaries hold this connection's last write,
    /// or the timeout; then the number that do.
    async fn wait_for_replicas(&mut self) {
        if let Some(command) = self.coordinator_wait.take() {
            let node = self.node.clone();
            match crate::replication::coordination::propose(&node, command).await {
                Ok(()) => self.reply.ok(),
                Err(error) => self.reply.error(&error),
            }
            return;
        }
        if let Some((target, deadline)) = self.switchover_wait.take() {
            let node = self.node.clone();
            match crate::replication::complete_switchover(&node, &target, deadline).await {
                Ok(()) => self.reply.ok(),
                Err(error) => self.reply.error(&error),
            }
            return;
        }
        let Some(request) = self.wait_request.take() else {
            return;
        };
        loop {
            let changed = self.node.borrow().repl.as_ref().map(|r| r.changed.clone());
            let Some(changed) = changed else {
                break;
            };
            let notified = changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.replicas_holding(request.lsn) >= request.replicas {
                break;
            }
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(request.deadline.unwrap_or(far)), if request.deadline.is_some() => break,
            }
        }
        let count = self.replicas_holding(request.lsn);
        self.reply.int(count as i64);
    }

    pub(crate) fn replicas_holding(&self, lsn: u64) -> usize {
        let node = self.node.borrow();
        match &node.repl {
            Some(repl) if repl.is_primary() => repl.tracker.received_by(lsn),
            _ => 0,
        }
    }

    fn process_requests(&mut self, node: &mut Node) -> Step {
        if self.client.state.borrow().blocked.is_some() {
            return Step::Block;
        }
        loop {
            if self.client.killed.get() {
                return Step::Close;
            }
            self.parser
                .set_authenticated(self.client.state.borrow().authenticated);
            match self.parser.parse(&mut self.read_buf, &self.limits) {
                Ok(Some(argv)) => match self.dispatch(node, argv) {
                    Step::Continue => continue,
                    other => return other,
                },
                Ok(None) => return Step::Continue,
                Err(error) => {
                    let mut message = b"ERR ".to_vec();
                    message.extend_from_slice(&error.to_bytes());
                    self.reply.error_bytes(&message);
                    return Step::Close;
                }
            }
        }
    }

    /// Moves pushes and served replies produced elsewhere into the reply.
    pub(crate) fn drain_outbox(&mut self) {
        let mut outbox = self.client.outbox.borrow_mut();
        if !outbox.is_empty() {
            self.reply.raw(&outbox.split());
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.reply.is_empty() {
            return Ok(());
        }
        let limit = self.node.borrow().config.client_output_buffer_limit_normal;
        if limit > 0 && self.reply.len() > limit {
            tracing::warn!(
                client = self.client.id,
                "output buffer limit reached, disconnecting"
            );
            self.client.kill();
            return Ok(());
        }
        self.stream.write_all(self.reply.buffer()).await?;
        self.reply.truncate(0);
        if self.reply.buffer().capacity() > REPLY_BUFFER_KEEP_BYTES {
            *self.reply.buffer_mut() = BytesMut::with_capacity(READ_CHUNK_BYTES);
        }
        Ok(())
    }

    /// Waits for input or a wake-up. Returns false when the peer closed.
    async fn read_more(&mut self) -> io::Result<bool> {
        let wanted = self
            .parser
            .bytes_wanted()
            .min(self.limits.max_query_buffer_bytes)
            .max(READ_CHUNK_BYTES);
        self.read_buf.reserve(wanted);
        tokio::select! {
            biased;
            _ = self.client.notify.notified() => Ok(true),
            read = self.stream.read_buf(&mut self.read_buf) => {
                if read? == 0 {
                    return Ok(false);
                }
                self.check_query_buffer()
            }
        }
    }

    fn check_query_buffer(&mut self) -> io::Result<bool> {
        let len = self.read_buf.len();
        self.client.state.borrow_mut().query_buffer_bytes = len;
        if len > self.limits.max_query_buffer_bytes {
            tracing::warn!(
                client = self.client.id,
                "query buffer limit reached, disconnecting"
            );
            return Ok(false);
        }
        Ok(true)
    }

    /// Waits until the blocked command is served or times out, or the
    /// client goes away. Input that arrives meanwhile is kept for later.
    async fn wait_while_blocked(&mut self) -> io::Result<()> {
        loop {
            let deadline_ms = match &self.client.state.borrow().blocked {
                None => return Ok(()),
                Some(blocked) => blocked.deadline_ms,
            };
            if self.client.killed.get() {
                return Ok(());
            }
            let sleep = async {
                match deadline_ms {
                    Some(deadline) => {
                        let wait = deadline.saturating_sub(now_ms());
                        tokio::time::sleep(Duration::from_millis(wait)).await
                    }
                    None => std::future::pending().await,
                }
            };
            self.read_buf.reserve(READ_CHUNK_BYTES);
            tokio::select! {
                biased;
                _ = self.client.notify.notified() => {}
                _ = sleep => self.time_out_blocked(),
                read = self.stream.read_buf(&mut self.read_buf) => {
                    if read? == 0 || !self.check_query_buffer()? {
                        return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed while blocked"));
                    }
                }
            }
        }
    }

    fn time_out_blocked(&mut self) {
        let mut node = self.node.borrow_mut();
        if let Some(blocked) = node.unblock(&self.client) {
            daisy_command::blocking_timeout_reply(
                &String::from_utf8_lossy(&blocked.argv[0]),
                &mut self.reply,
            );
        }
    }

    /// Runs or queues one request.
    fn dispatch(&mut self, node: &mut Node, argv: Vec<Bytes>) -> Step {
        node.stats.commands_processed += 1;
        self.reply_marks.push(self.reply.len());
        self.client.state.borrow_mut().last_active_ms = self.batch_now_ms;
        let Some(spec) = lookup(&argv[0]) else {
            self.reply.error_bytes(&unknown_command_error(&argv));
            self.fail_queueing();
            return Step::Continue;
        };
        self.client.state.borrow_mut().last_command = spec.name;
        if let Some(error) = self.refusal(node, spec, &argv) {
            if spec.name == "exec" {
                // Redis answers a refused EXEC with EXECABORT, in MULTI or
                // not, quoting the error.
                self.end_multi(node);
                let reason = error.strip_prefix("ERR ").unwrap_or(&error);
                self.reply.error(&format!(
                    "EXECABORT Transaction discarded because of: {reason}"
                ));
                return Step::Continue;
            }
            self.reply.error(&error);
            self.fail_queueing();
            return Step::Continue;
        }
        if self.client.state.borrow().multi.is_some()
            && !matches!(
                spec.name,
                "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
            )
        {
            self.queued.push(Queued { spec, argv });
            self.client.state.borrow_mut().multi = Some(self.queued.len());
            self.reply.queued();
            return Step::Continue;
        }
        self.run_command(node, spec, argv, false)
    }

    /// Why a command may not run now, as the error text to send.
    fn refusal(&self, node: &Node, spec: &CommandSpec, argv: &[Bytes]) -> Option<String> {
        if !spec.arity_ok(argv.len()) {
            return Some(format!(
                "ERR wrong number of arguments for '{}' command",
                spec.name
            ));
        }
        let state = self.client.state.borrow();
        if !state.authenticated && !spec.has(flags::NO_AUTH) {
            return Some("NOAUTH Authentication required.".into());
        }
        if state.in_resp2_pubsub()
            && !matches!(
                spec.name,
                "subscribe"
                    | "unsubscribe"
                    | "psubscribe"
                    | "punsubscribe"
                    | "ping"
                    | "quit"
                    | "reset"
            )
        {
            return Some(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            ));
        }
        if spec.is_write() {
            if let Some(refusal) = node.write_refusal() {
                return Some(refusal);
            }
            if let Some(refusal) = node.replication_refusal(node.safeness_for(self.safeness)) {
                return Some(refusal);
            }
        } else if matches!(spec.handler, Handler::Data(_)) && !node.is_secondary() {
            if let Some(refusal) = node.read_refusal() {
                return Some(refusal);
            }
        } else if matches!(spec.handler, Handler::Data(_)) && node.is_secondary() {
            if node.holds_no_data() {
                return Some(
                    "READONLY This node is a warm standby: it applies the log only when promoted."
                        .into(),
                );
            }
            if node.repl.as_ref().is_some_and(|r| !r.link.verified) {
                return Some(
                    "TRYAGAIN This secondary has not yet confirmed its data with the primary; retry shortly or read from the primary."
                        .into(),
                );
            }
            if !state.readonly {
                return Some(
                    "READONLY This node is a secondary: send READONLY to read possibly stale data here, or use the primary."
                        .into(),
                );
            }
        }
        if spec.has(flags::DENYOOM)
            && node.config.maxmemory > 0
            && crate::memory::used_bytes() as u64 > node.config.maxmemory
        {
            return Some("OOM command not allowed when used memory > 'maxmemory'.".into());
        }
        None
    }

    /// Remembers the keys a read looks at, for the gate while the log fails.
    fn note_read_keys(&mut self, node: &Node, spec: &CommandSpec, argv: &[Bytes]) {
        if node.journal.is_none() || spec.is_write() {
            return;
        }
        for index in spec.key_indices(argv) {
            self.batch_read_keys.push(argv[index].clone());
        }
    }

    /// Inside MULTI, an error while queueing makes EXEC abort.
    fn fail_queueing(&mut self) {
        if self.client.state.borrow().multi.is_some() {
            self.multi_failed = true;
        }
    }

    /// Runs a command now (`in_exec` when it is part of EXEC).
    pub(crate) fn run_command(
        &mut self,
        node: &mut Node,
        spec: &'static CommandSpec,
        argv: Vec<Bytes>,
        in_exec: bool,
    ) -> Step {
        match spec.handler {
            Handler::Data(handler) => {
                if !in_exec {
                    node.db.set_now(self.batch_now_ms);
                }
                self.note_read_keys(node, spec, &argv);
                self.batch_reads_data = true;
                match node.run_data(handler, &argv, &mut self.reply, in_exec) {
                    Flow::Done => {
                        if !in_exec {
                            node.end_unit();
                            let written = written_keys(node, spec, &argv);
                            node.after_changes(&written);
                        }
                        Step::Continue
                    }
                    Flow::Block { keys, deadline_ms } => {
                        debug_assert!(!in_exec, "blocking commands answer at once in EXEC");
                        node.block(
                            &self.client,
                            Blocked {
                                argv,
                                handler,
                                keys,
                                deadline_ms,
                            },
                        );
                        Step::Block
                    }
                }
            }
            Handler::Session => self.run_session(node, spec, argv, in_exec),
        }
    }
}

/// Keys a write command may have changed, when some client is blocked and
/// may need them; empty otherwise (the common, allocation-free case).
pub(crate) fn written_keys(node: &Node, spec: &CommandSpec, argv: &[Bytes]) -> Vec<Bytes> {
    if !spec.is_write() || !node.has_blocked_clients() {
        return Vec::new();
    }
    spec.key_indices(argv)
        .into_iter()
        .map(|index| argv[index].clone())
        .collect()
}

/// Redis 7's text: `unknown command 'foo', with args beginning with: 'a' 'b' `,
/// with the bytes the client sent and the arguments cut to 128 bytes in all.
fn unknown_command_error(argv: &[Bytes]) -> Vec<u8> {
    let name = &argv[0][..argv[0].len().min(UNKNOWN_COMMAND_ARG_BYTES)];
    let mut args = Vec::new();
    for arg in &argv[1..] {
        if args.len() >= UNKNOWN_COMMAND_ARG_BYTES {
            break;
        }
        let room = UNKNOWN_COMMAND_ARG_BYTES - args.len();
        args.push(b'\'');
        args.extend_from_slice(&arg[..arg.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    let mut message = b"ERR unknown command '".to_vec();
    message.extend_from_slice(name);
    message.extend_from_slice(b"', with args beginning with: ");
    message.extend_from_slice(&args);
    message
}
