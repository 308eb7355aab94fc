//! A small RESP2 client: one connection, one command at a time.
//!
//! It owns nothing but its socket. Every connect and every reply has a
//! deadline, and every reply is bounded (bulk length, array length, depth),
//! so a misbehaving or dying server can delay a caller by at most the
//! timeout it passed and can never make it allocate without limit.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Longest bulk string accepted in a reply, in bytes.
const BULK_BYTES_MAX: usize = 1 << 20;
/// Most elements accepted in one array reply.
const ARRAY_LEN_MAX: usize = 4096;
/// Deepest nesting of arrays accepted in a reply.
const DEPTH_MAX: usize = 4;
/// Longest status, error or integer line, in bytes.
const LINE_BYTES_MAX: usize = 4096;

#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Status(String),
    /// An error reply (`-READONLY ...`): the server refused the command.
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Why a command got no reply: the connection is unusable afterwards, and
/// whether the server executed the command is unknown.
#[derive(Debug)]
pub enum Failure {
    Timeout,
    Io(std::io::Error),
    Closed,
    Protocol(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout => write!(f, "timed out"),
            Failure::Io(e) => write!(f, "{e}"),
            Failure::Closed => write!(f, "connection closed"),
            Failure::Protocol(why) => write!(f, "protocol error: {why}"),
        }
    }
}

pub struct Connection {
    stream: BufReader<TcpStream>,
    /// The address it was opened to, as given.
    pub addr: String,
}

impl Connection {
    pub async fn connect(addr: &str, limit: Duration) -> Result<Connection, Failure> {
        let stream = timeout(limit, TcpStream::connect(addr))
            .await
            .map_err(|_| Failure::Timeout)?
            .map_err(Failure::Io)?;
        stream.set_nodelay(true).map_err(Failure::Io)?;
        Ok(Connection {
            stream: BufReader::new(stream),
            addr: addr.to_string(),
        })
    }

    /// Sends one command and reads its reply, all within `limit`.
    pub async fn call(&mut self, argv: &[&[u8]], limit: Duration) -> Result<Reply, Failure> {
        let request = encode(argv);
        timeout(limit, async {
            self.stream
                .get_mut()
                .write_all(&request)
                .await
                .map_err(Failure::Io)?;
            read_reply(&mut self.stream, 0).await
        })
        .await
        .map_err(|_| Failure::Timeout)?
    }

    /// `call` with string arguments.
    pub async fn call_str(&mut self, argv: &[&str], limit: Duration) -> Result<Reply, Failure> {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        self.call(&argv, limit).await
    }
}

fn encode(argv: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for arg in argv {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Result<String, Failure> {
    let mut line = Vec::new();
    let read = (&mut *stream)
        .take(LINE_BYTES_MAX as u64)
        .read_until(b'\n', &mut line)
        .await
        .map_err(Failure::Io)?;
    if read == 0 {
        return Err(Failure::Closed);
    }
    if !line.ends_with(b"\r\n") {
        return Err(Failure::Protocol("line too long or cut off".into()));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| Failure::Protocol("line is not UTF-8".into()))
}

fn parse_len(text: &str, max: usize) -> Result<Option<usize>, Failure> {
    let n: i64 = text
        .parse()
        .map_err(|_| Failure::Protocol(format!("bad length '{text}'")))?;
    match n {
        -1 => Ok(None),
        n if n >= 0 && (n as usize) <= max => Ok(Some(n as usize)),
        n => Err(Failure::Protocol(format!("length {n} out of bounds"))),
    }
}

fn read_reply(
    stream: &mut BufReader<TcpStream>,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, Failure>> + Send + '_>> {
    Box::pin(async move {
        if depth > DEPTH_MAX {
            return Err(Failure::Protocol("reply nested too deeply".into()));
        }
        let line = read_line(stream).await?;
        let (kind, rest) = line.split_at(line.len().min(1));
        match kind {
            "+" => Ok(Reply::Status(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            ":" => rest
                .parse()
                .map(Reply::Integer)
                .map_err(|_| Failure::Protocol(format!("bad integer '{rest}'"))),
            "$" => {
                let Some(len) = parse_len(rest, BULK_BYTES_MAX)? else {
                    return Ok(Reply::Bulk(None));
                };
                let mut data = vec![0; len + 2];
                stream.read_exact(&mut data).await.map_err(Failure::Io)?;
                if !data.ends_with(b"\r\n") {
                    return Err(Failure::Protocol("bulk string not followed by CRLF".into()));
                }
                data.truncate(len);
                Ok(Reply::Bulk(Some(data)))
            }
            "*" => {
                let Some(len) = parse_len(rest, ARRAY_LEN_MAX)? else {
                    return Ok(Reply::Array(None));
                };
                let mut items = Vec::with_capacity(len);
                for _ in 0..len {
                    items.push(read_reply(stream, depth + 1).await?);
                }
                Ok(Reply::Array(Some(items)))
            }
            _ => Err(Failure::Protocol(format!("unexpected reply '{line}'"))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers every request with `canned`, once.
    async fn serve_once(canned: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 256];
            let _ = socket.read(&mut buf).await;
            let _ = socket.write_all(canned).await;
        });
        addr
    }

    async fn reply_to(canned: &'static [u8]) -> Result<Reply, Failure> {
        let addr = serve_once(canned).await;
        let limit = Duration::from_secs(5);
        let mut conn = Connection::connect(&addr, limit).await.expect("connect");
        conn.call_str(&["ROLE"], limit).await
    }

    #[tokio::test]
    async fn reads_a_role_reply() {
        let reply = reply_to(b"*3\r\n$6\r\nmaster\r\n:42\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n7002\r\n$2\r\n42\r\n")
            .await
            .expect("reply");
        let Reply::Array(Some(items)) = reply else {
            panic!("not an array: {reply:?}");
        };
        assert_eq!(items[0].as_text().as_deref(), Some("master"));
        assert_eq!(items[1], Reply::Integer(42));
    }

    #[tokio::test]
    async fn an_error_reply_is_a_reply_not_a_failure() {
        let reply = reply_to(b"-READONLY You can't write\r\n")
            .await
            .expect("reply");
        assert_eq!(reply, Reply::Error("READONLY You can't write".into()));
    }

    #[tokio::test]
    async fn a_huge_bulk_length_is_refused() {
        let failure = reply_to(b"$99999999999\r\n").await.expect_err("refused");
        assert!(matches!(failure, Failure::Protocol(_)), "{failure}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let limit = Duration::from_millis(50);
        let mut conn = Connection::connect(&addr, limit).await.expect("connect");
        let failure = conn.call_str(&["PING"], limit).await.expect_err("timeout");
        assert!(matches!(failure, Failure::Timeout));
        drop(listener);
    }
}
