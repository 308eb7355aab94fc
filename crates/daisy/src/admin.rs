//! A minimal RESP client for the admin subcommands (`daisy promote`):
//! one command, one reply, with time limits.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
/// Longest reply line or bulk string accepted.
const REPLY_BYTES_MAX: usize = 1024 * 1024;

/// Sends `argv` (after AUTH when a password is given) and returns the
/// reply as text; an error reply is an `Err`.
pub fn call(addr: &str, password: Option<&str>, argv: &[&str]) -> Result<String, String> {
    let target = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let stream =
        TcpStream::connect_timeout(&target, TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    if let Some(password) = password {
        send(&mut writer, &["AUTH", password])?;
        read_reply(&mut reader)?;
    }
    send(&mut writer, argv)?;
    read_reply(&mut reader)
}

fn send(writer: &mut impl Write, argv: &[&str]) -> Result<(), String> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for arg in argv {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    writer.write_all(&out).map_err(|e| e.to_string())
}

fn read_reply(reader: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    reader
        .take(REPLY_BYTES_MAX as u64)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let line = line.trim_end();
    match line.as_bytes().first() {
        Some(b'+') | Some(b':') => Ok(line[1..].to_string()),
        Some(b'-') => Err(line[1..].to_string()),
        Some(b'$') => {
            let len: usize = line[1..].parse().map_err(|_| format!("bad reply {line}"))?;
            if len > REPLY_BYTES_MAX {
                return Err("reply too long".into());
            }
            let mut body = vec![0; len + 2];
            reader.read_exact(&mut body).map_err(|e| e.to_string())?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        _ => Err(format!("unexpected reply '{line}'")),
    }
}
