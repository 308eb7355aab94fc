//! Shared support for the black-box tests of the `daisy` binary.
//!
//! Owns: starting servers (`daisy server` and, as the reference,
//! `redis-server`) on free loopback ports, stopping them whatever happens to
//! the test, and a raw RESP client that reads exactly one reply of any
//! RESP2/RESP3 type, so tests can compare replies byte for byte.
//!
//! Must never: talk to anything but 127.0.0.1, wait without a bound, or leave
//! a server process running after the test that started it.

#![allow(dead_code)]

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a test waits for one reply before calling it a hang.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts at starting a server, each on a fresh port, in case another
/// process took the port between our probe and the server's bind.
const START_ATTEMPTS: usize = 3;
/// Pause before starting a node again on its own port after a failed start.
const RESTART_PAUSE: Duration = Duration::from_millis(300);
/// Bounds on what the reply reader accepts, so a broken server cannot make
/// the test allocate without limit or recurse without end.
const MAX_REPLY_DEPTH: usize = 32;
const MAX_AGGREGATE_LEN: i64 = 1 << 20;
const MAX_BULK_LEN: i64 = 64 << 20;
const MAX_LINE_LEN: usize = 64 * 1024;

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A fresh, empty directory under the target directory, named after `label`.
pub fn temp_dir(label: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{label}-{}-{n}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Where test artifacts (failing command sequences, logs) are written.
pub fn artifact_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("daisy-test-artifacts");
    std::fs::create_dir_all(&dir).expect("create artifact dir");
    dir
}

/// A server process that is killed when this value is dropped, including
/// while a failing test unwinds.
pub struct ServerProcess {
    pub name: &'static str,
    pub port: u16,
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    /// True when `dir` is this process's scratch directory, removed after a
    /// passing test; false for a data directory that outlives the process
    /// so that a restart finds it ([`spawn_daisy_in`]).
    owns_dir: bool,
}

impl ServerProcess {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connect(&self) -> RespConn {
        RespConn::connect(self.port)
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and
    /// waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The file the server's output goes to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // The reference server's log says nothing useful; ours might.
            let tail = if self.name != "redis-server" {
                format!(" (last lines below)\n{}", self.log_tail(20))
            } else {
                String::new()
            };
            eprintln!(
                "{} on port {} stopped; its log is {}{tail}",
                self.name,
                self.port,
                self.log.display(),
            );
        } else if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Starts `daisy server` on a free port with a temporary data directory and
/// `extra_args`, and waits until it answers PING.
pub fn spawn_daisy(extra_args: &[&str]) -> ServerProcess {
    let binary = env!("CARGO_BIN_EXE_daisy");
    start_with_retries("daisy", |port, dir| {
        let mut command = Command::new(binary);
        command
            .arg("server")
            .arg("--client-addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir)
            .args(extra_args);
        command
    })
    .unwrap_or_else(|reason| panic!("daisy server did not start: {reason}"))
}

/// Starts `daisy server` on client port `port` with the data directory
/// `data_dir` and `extra_args`, and waits until it answers PING. Unlike
/// [`spawn_daisy`], the port and the directory are the caller's: the
/// directory is created if missing and kept when the process ends, so a node
/// can be killed and started again as itself (same address, same data), as
/// a cluster member must be. Output is appended to `<data_dir>.log`, so one
/// log covers every start of the node. Retries only a start that exited
/// early (the port may be briefly held), on the same port.
pub fn spawn_daisy_in(
    data_dir: &Path,
    port: u16,
    extra_args: &[&str],
) -> Result<ServerProcess, String> {
    let binary = env!("CARGO_BIN_EXE_daisy");
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let log = daisy_log_path(data_dir);
    let mut last_error = String::new();
    for attempt in 0..START_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(RESTART_PAUSE);
        }
        let mut log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let _ = writeln!(
            log_file,
            "--- test harness: starting daisy server on 127.0.0.1:{port} ---"
        );
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(binary)
            .arg("server")
            .arg("--client-addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run daisy: {e}"))?;
        // An arbiter has no client port: `port` is its peer port, and it
        // is ready once that accepts connections.
        let arbiter = extra_args.contains(&"--arbiter");
        let mut server = ServerProcess {
            name: if arbiter { "arbiter" } else { "daisy" },
            port,
            child,
            dir: data_dir.to_path_buf(),
            log: log.clone(),
            owns_dir: false,
        };
        match wait_until_ready(&mut server) {
            Ok(()) => return Ok(server),
            Err(reason) => {
                last_error = format!("{reason}; log {}:\n{}", log.display(), server.log_tail(20));
                if server.is_running() {
                    break;
                }
            }
        }
    }
    Err(last_error)
}

/// Where [`spawn_daisy_in`] appends the output of the node whose data
/// directory is `data_dir`: `<data_dir>.log`.
pub fn daisy_log_path(data_dir: &Path) -> PathBuf {
    let mut log = data_dir.as_os_str().to_owned();
    log.push(".log");
    PathBuf::from(log)
}

/// The last `lines` lines of a log file ("" if it cannot be read), for
/// failure messages about a node whose process is gone.
pub fn log_file_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// True when `DAISY_TEST_AGAINST=redis`: the server under test is then a
/// second `redis-server`, which proves a harness before DaisyDB can pass it.
pub fn subject_is_redis() -> bool {
    std::env::var("DAISY_TEST_AGAINST").is_ok_and(|v| v == "redis")
}

/// The server under test: `daisy server` with `extra_args`, or a
/// `redis-server` given the same options when [`subject_is_redis`].
pub fn spawn_subject(extra_args: &[&str]) -> ServerProcess {
    if !subject_is_redis() {
        return spawn_daisy(extra_args);
    }
    let mut args = Vec::new();
    let mut rest = extra_args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--requirepass" | "--maxmemory" => {
                args.push(*arg);
                args.extend(rest.next());
            }
            _ => {}
        }
    }
    spawn_redis(&args).expect("a redis-server to test instead of daisy")
}

/// True when tests may skip the comparison with Redis because no
/// `redis-server` is installed (`DAISY_ALLOW_NO_REDIS=1`).
pub fn redis_optional() -> bool {
    std::env::var("DAISY_ALLOW_NO_REDIS").is_ok_and(|v| v == "1")
}

/// The `redis-server` binary: `$REDIS_SERVER`, else the first on `PATH`.
fn redis_server_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("REDIS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// Starts a throwaway `redis-server` (no persistence) as the reference
/// implementation. Without one installed this panics, unless
/// `DAISY_ALLOW_NO_REDIS=1`, in which case it prints why and returns `None`.
pub fn spawn_redis(extra_args: &[&str]) -> Option<ServerProcess> {
    let Some(binary) = redis_server_binary() else {
        let reason =
            "redis-server not found on PATH (install it: apt-get install -y redis-server, \
                      or point REDIS_SERVER at the binary)";
        if redis_optional() {
            eprintln!("skipping the comparison with Redis: {reason}");
            return None;
        }
        panic!("{reason}; set DAISY_ALLOW_NO_REDIS=1 to skip comparisons with Redis");
    };
    let started = start_with_retries("redis-server", |port, dir| {
        let mut command = Command::new(&binary);
        command
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(dir)
            .args(extra_args);
        command
    });
    match started {
        Ok(server) => Some(server),
        Err(reason) => panic!("redis-server did not start: {reason}"),
    }
}

fn start_with_retries(
    name: &'static str,
    build: impl Fn(u16, &Path) -> Command,
) -> Result<ServerProcess, String> {
    let mut last_error = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        let dir = temp_dir(name);
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let child = build(port, &dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run {name}: {e}"))?;
        let mut server = ServerProcess {
            name,
            port,
            child,
            dir,
            log,
            owns_dir: true,
        };
        match wait_until_ready(&mut server) {
            Ok(()) => return Ok(server),
            Err(reason) => {
                last_error = format!("{reason}; log:\n{}", server.log_tail(20));
                // Only an early exit (e.g. the port was taken) is worth a retry.
                if server.is_running() {
                    break;
                }
            }
        }
    }
    Err(last_error)
}

fn wait_until_ready(server: &mut ServerProcess) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "{} exited during startup with {status}",
                server.name
            ));
        }
        if server.name == "arbiter" {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
        } else if let Ok(mut conn) = RespConn::try_connect(server.port, Duration::from_millis(500))
        {
            // PONG, or NOAUTH when a password is set: either way it serves.
            match conn.call(&["PING"]) {
                Ok(Resp::Simple(pong)) if pong == b"PONG" => return Ok(()),
                Ok(Resp::Error(text)) if text.starts_with(b"NOAUTH") => return Ok(()),
                _ => {}
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{} did not answer PING on port {} within {:?}",
                server.name, server.port, STARTUP_TIMEOUT
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One RESP2/RESP3 reply, kept close to the wire so comparisons are exact.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    /// `+text`
    Simple(Vec<u8>),
    /// `-text` (and RESP3 blob errors `!len`)
    Error(Vec<u8>),
    /// `:n`
    Int(i64),
    /// `$len` bulk string
    Bulk(Vec<u8>),
    /// `$-1`
    NullBulk,
    /// `*len`
    Array(Vec<Resp>),
    /// `*-1`
    NullArray,
    /// `_` (RESP3)
    Null,
    /// `,text` (RESP3), kept as text; compare with [`Resp::as_f64`].
    Double(String),
    /// `#t` / `#f` (RESP3)
    Bool(bool),
    /// `(digits` (RESP3)
    BigNumber(String),
    /// `=len fmt:text` (RESP3)
    Verbatim(String, Vec<u8>),
    /// `%len` (RESP3)
    Map(Vec<(Resp, Resp)>),
    /// `~len` (RESP3)
    Set(Vec<Resp>),
    /// `>len` (RESP3)
    Push(Vec<Resp>),
    /// `|len` attributes (RESP3) followed by the reply they annotate.
    Attributed(Vec<(Resp, Resp)>, Box<Resp>),
}

impl Resp {
    pub fn is_error(&self) -> bool {
        matches!(self, Resp::Error(_))
    }

    /// The error text, if this is an error.
    pub fn error_text(&self) -> Option<String> {
        match self {
            Resp::Error(text) => Some(String::from_utf8_lossy(text).into_owned()),
            _ => None,
        }
    }

    /// The number this reply carries, for a double or a numeric string.
    pub fn as_f64(&self) -> Option<f64> {
        let text = match self {
            Resp::Double(text) => text.as_bytes(),
            Resp::Bulk(bytes) | Resp::Simple(bytes) => bytes,
            _ => return None,
        };
        parse_redis_double(text)
    }

    /// Encodes this reply back into RESP bytes (for logs and raw checks).
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn header(out: &mut Vec<u8>, kind: u8, n: usize) {
            out.push(kind);
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        match self {
            Resp::Simple(s) => line(out, b'+', s),
            Resp::Error(s) => line(out, b'-', s),
            Resp::Int(n) => line(out, b':', n.to_string().as_bytes()),
            Resp::Bulk(b) => {
                header(out, b'$', b.len());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Resp::NullBulk => out.extend_from_slice(b"$-1\r\n"),
            Resp::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Resp::Null => out.extend_from_slice(b"_\r\n"),
            Resp::Array(items) | Resp::Set(items) | Resp::Push(items) => {
                let kind = match self {
                    Resp::Array(_) => b'*',
                    Resp::Set(_) => b'~',
                    _ => b'>',
                };
                header(out, kind, items.len());
                items.iter().for_each(|item| item.encode(out));
            }
            Resp::Double(text) => line(out, b',', text.as_bytes()),
            Resp::Bool(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Resp::BigNumber(text) => line(out, b'(', text.as_bytes()),
            Resp::Verbatim(format, text) => {
                header(out, b'=', text.len() + 4);
                out.extend_from_slice(format.as_bytes());
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Resp::Map(pairs) | Resp::Attributed(pairs, _) => {
                let kind = if matches!(self, Resp::Map(_)) {
                    b'%'
                } else {
                    b'|'
                };
                header(out, kind, pairs.len());
                for (k, v) in pairs {
                    k.encode(out);
                    v.encode(out);
                }
                if let Resp::Attributed(_, inner) = self {
                    inner.encode(out);
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Parses a number as Redis prints doubles: decimal, exponent, `inf`,
/// `-inf`, `nan`. Rejects what Rust accepts but Redis never prints
/// (`infinity`, leading `+`, surrounding space).
pub fn parse_redis_double(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    match text {
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        "nan" | "-nan" => return Some(f64::NAN),
        _ => {}
    }
    let looks_numeric = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+'))
        && text.bytes().any(|b| b.is_ascii_digit())
        && !text.starts_with('+');
    if !looks_numeric {
        return None;
    }
    text.parse().ok()
}

/// Shows a reply the way `redis-cli` would, on one line.
impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resp::Simple(s) => write!(f, "+{}", escape(s)),
            Resp::Error(s) => write!(f, "(error) {}", escape(s)),
            Resp::Int(n) => write!(f, "(integer) {n}"),
            Resp::Bulk(b) => write!(f, "\"{}\"", escape(b)),
            Resp::NullBulk => f.write_str("(nil bulk)"),
            Resp::NullArray => f.write_str("(nil array)"),
            Resp::Null => f.write_str("(null)"),
            Resp::Double(d) => write!(f, "(double) {d}"),
            Resp::Bool(b) => write!(f, "({b})"),
            Resp::BigNumber(n) => write!(f, "(big number) {n}"),
            Resp::Verbatim(format, text) => write!(f, "(verbatim {format}) \"{}\"", escape(text)),
            Resp::Array(items) => list(f, "[", items, "]"),
            Resp::Set(items) => list(f, "~{", items, "}"),
            Resp::Push(items) => list(f, ">[", items, "]"),
            Resp::Map(pairs) => pairs_fmt(f, pairs),
            Resp::Attributed(pairs, inner) => {
                f.write_str("|")?;
                pairs_fmt(f, pairs)?;
                write!(f, " {inner}")
            }
        }
    }
}

fn list(f: &mut fmt::Formatter<'_>, open: &str, items: &[Resp], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

fn pairs_fmt(f: &mut fmt::Formatter<'_>, pairs: &[(Resp, Resp)]) -> fmt::Result {
    f.write_str("{")?;
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{k} => {v}")?;
    }
    f.write_str("}")
}

/// Printable form of arbitrary bytes, with `\xHH` for the rest.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// A command line in `redis-cli` syntax: every argument double-quoted.
pub fn format_command<A: AsRef<[u8]>>(argv: &[A]) -> String {
    argv.iter()
        .map(|arg| format!("\"{}\"", escape(arg.as_ref())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Encodes `argv` as a RESP multibulk request.
pub fn encode_command<A: AsRef<[u8]>>(argv: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
    for arg in argv {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A blocking RESP connection with a read timeout on every reply.
pub struct RespConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RespConn {
    /// Connects to 127.0.0.1:`port`, panicking if it cannot.
    pub fn connect(port: u16) -> RespConn {
        Self::try_connect(port, REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to 127.0.0.1:{port}: {e}"))
    }

    pub fn try_connect(port: u16, timeout: Duration) -> io::Result<RespConn> {
        let addr = ([127, 0, 0, 1], port).into();
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        let writer = stream.try_clone()?;
        Ok(RespConn {
            reader: BufReader::new(stream),
            writer,
        })
    }

    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.writer.set_read_timeout(Some(timeout))
    }

    /// Sends `argv` as one multibulk request.
    pub fn send<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> io::Result<()> {
        self.writer.write_all(&encode_command(argv))
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Half-closes the connection: the server sees end of input.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.writer.shutdown(Shutdown::Write)
    }

    /// Sends `argv` and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> io::Result<Resp> {
        self.send(argv)?;
        self.read_reply()
    }

    /// Reads exactly one complete reply.
    pub fn read_reply(&mut self) -> io::Result<Resp> {
        self.read_value(0)
    }

    /// Reads everything until the server closes the connection or
    /// `timeout` passes; returns the bytes and whether it closed.
    pub fn read_until_close(&mut self, timeout: Duration) -> (Vec<u8>, bool) {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.writer.set_read_timeout(Some(left)).is_err() {
                return (out, false);
            }
            match self.reader.read(&mut chunk) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return (out, false)
                }
                // A reset also means the server dropped us.
                Err(_) => return (out, true),
            }
            if out.len() > MAX_LINE_LEN * 16 {
                return (out, false);
            }
        }
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_LINE_LEN as u64)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        if !line.ends_with(b"\r\n") {
            return Err(invalid(format!(
                "reply line not terminated by CRLF: \"{}\"",
                escape(&line)
            )));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    fn read_exact_crlf(&mut self, len: usize) -> io::Result<Vec<u8>> {
        let mut data = vec![0u8; len + 2];
        self.reader.read_exact(&mut data)?;
        if !data.ends_with(b"\r\n") {
            return Err(invalid("bulk payload not followed by CRLF".into()));
        }
        data.truncate(len);
        Ok(data)
    }

    fn read_value(&mut self, depth: usize) -> io::Result<Resp> {
        if depth > MAX_REPLY_DEPTH {
            return Err(invalid("reply nested too deeply".into()));
        }
        let line = self.read_line()?;
        let Some((&kind, rest)) = line.split_first() else {
            return Err(invalid("empty reply line".into()));
        };
        let text = || String::from_utf8_lossy(rest).into_owned();
        Ok(match kind {
            b'+' => Resp::Simple(rest.to_vec()),
            b'-' => Resp::Error(rest.to_vec()),
            b':' => Resp::Int(parse_len(rest, i64::MIN, i64::MAX)?),
            b'$' => match parse_len(rest, -1, MAX_BULK_LEN)? {
                -1 => Resp::NullBulk,
                n => Resp::Bulk(self.read_exact_crlf(n as usize)?),
            },
            b'!' => {
                let n = parse_len(rest, 0, MAX_BULK_LEN)?;
                Resp::Error(self.read_exact_crlf(n as usize)?)
            }
            b'=' => {
                let n = parse_len(rest, 4, MAX_BULK_LEN)?;
                let data = self.read_exact_crlf(n as usize)?;
                if data[3] != b':' {
                    return Err(invalid("verbatim string without 'fmt:' prefix".into()));
                }
                Resp::Verbatim(
                    String::from_utf8_lossy(&data[..3]).into_owned(),
                    data[4..].to_vec(),
                )
            }
            b'*' => match parse_len(rest, -1, MAX_AGGREGATE_LEN)? {
                -1 => Resp::NullArray,
                n => Resp::Array(self.read_items(n as usize, depth)?),
            },
            b'~' => Resp::Set(self.read_items(parse_count(rest)?, depth)?),
            b'>' => Resp::Push(self.read_items(parse_count(rest)?, depth)?),
            b'%' => Resp::Map(self.read_pairs(parse_count(rest)?, depth)?),
            b'|' => {
                let attributes = self.read_pairs(parse_count(rest)?, depth)?;
                Resp::Attributed(attributes, Box::new(self.read_value(depth + 1)?))
            }
            b'_' if rest.is_empty() => Resp::Null,
            b',' => Resp::Double(text()),
            b'#' => match rest {
                b"t" => Resp::Bool(true),
                b"f" => Resp::Bool(false),
                _ => return Err(invalid(format!("bad boolean '{}'", text()))),
            },
            b'(' => Resp::BigNumber(text()),
            _ => {
                return Err(invalid(format!(
                    "unknown reply type in line \"{}\"",
                    escape(&line)
                )))
            }
        })
    }

    fn read_items(&mut self, n: usize, depth: usize) -> io::Result<Vec<Resp>> {
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.read_value(depth + 1)?);
        }
        Ok(items)
    }

    fn read_pairs(&mut self, n: usize, depth: usize) -> io::Result<Vec<(Resp, Resp)>> {
        let mut pairs = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let key = self.read_value(depth + 1)?;
            let value = self.read_value(depth + 1)?;
            pairs.push((key, value));
        }
        Ok(pairs)
    }
}

fn parse_len(text: &[u8], min: i64, max: i64) -> io::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(format!("bad length or integer \"{}\"", escape(text))))
}

fn parse_count(text: &[u8]) -> io::Result<usize> {
    Ok(parse_len(text, 0, MAX_AGGREGATE_LEN)? as usize)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A small seeded generator (xorshift64*), so every run is reproducible
/// from its seed without extra dependencies.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Never zero, and nearby seeds start far apart.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo) as u64 + 1)) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
