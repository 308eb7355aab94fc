//! Incremental request parser.
//!
//! A request is either a multibulk array of bulk strings
//! (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or an inline line (`GET k\r\n`), as in
//! Redis. The parser consumes bytes from the front of the connection's read
//! buffer and keeps the arguments parsed so far, so a request split across
//! many reads is never re-scanned.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::Limits;

/// Preallocation cap for argv, whatever count the client announces.
const ARGV_PREALLOCATE_MAX: usize = 1024;

/// A request that cannot be parsed. The connection replies with the error
/// (Redis wording) and then closes, because the stream is out of sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    TooBigInline,
    TooBigMultibulkCount,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
    TooBigBulkCount,
    UnbalancedQuotes,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::InvalidMultibulkLength => {
                f.write_str("Protocol error: invalid multibulk length")
            }
            ProtocolError::InvalidBulkLength => f.write_str("Protocol error: invalid bulk length"),
            ProtocolError::ExpectedDollar(got) => {
                write!(f, "Protocol error: expected '$', got '{}'", *got as char)
            }
            ProtocolError::TooBigInline => f.write_str("Protocol error: too big inline request"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("Protocol error: unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => {
                f.write_str("Protocol error: unauthenticated bulk length")
            }
            ProtocolError::TooBigMultibulkCount => {
                f.write_str("Protocol error: too big mbulk count string")
            }
            ProtocolError::TooBigBulkCount => {
                f.write_str("Protocol error: too big bulk count string")
            }
            ProtocolError::UnbalancedQuotes => {
                f.write_str("Protocol error: unbalanced quotes in request")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

impl ProtocolError {
    /// The error text as bytes: the offending byte of `ExpectedDollar` is
    /// sent as it came, as Redis does, not as UTF-8.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ProtocolError::ExpectedDollar(got) => {
                let mut text = b"Protocol error: expected '$', got '".to_vec();
                text.push(*got);
                text.push(b'\'');
                text
            }
            other => other.to_string().into_bytes(),
        }
    }
}

/// Most arguments a client that has not authenticated may send in one
/// request, as in Redis: enough for AUTH and HELLO, too few to make the
/// server allocate for a stranger.
const UNAUTHENTICATED_ARGS_MAX: i64 = 10;
/// Largest bulk string a client that has not authenticated may send.
const UNAUTHENTICATED_BULK_BYTES_MAX: i64 = 16 * 1024;

/// Parser state for one connection.
#[derive(Debug)]
pub struct RequestParser {
    /// False while the server requires a password the client has not given.
    authenticated: bool,
    /// Arguments of the multibulk request in progress.
    argv: Vec<Bytes>,
    /// Arguments still expected; 0 when no multibulk request is in progress.
    args_remaining: usize,
    /// Length of the bulk string whose header was read but whose body was not.
    bulk_len: Option<usize>,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser {
            authenticated: true,
            argv: Vec::new(),
            args_remaining: 0,
            bulk_len: None,
        }
    }
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the tighter limits for a client that must still authenticate.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// Bytes the parser knows it still needs before it can make progress,
    /// so the reader can reserve room for a large bulk string at once.
    pub fn bytes_wanted(&self) -> usize {
        self.bulk_len.map_or(0, |len| len + 2)
    }

    /// True while a request has been started but not completed.
    pub fn in_request(&self) -> bool {
        self.args_remaining > 0
    }

    /// Parses the next complete request from the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed. Empty requests (`*0`,
    /// blank inline lines) are skipped. After an error the connection must be
    /// closed: the parser state is unspecified.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.args_remaining == 0 {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                if first == b'*' {
                    match self.parse_multibulk_header(buf, limits)? {
                        Header::Incomplete => return Ok(None),
                        Header::Empty => continue,
                        Header::Started => {}
                    }
                } else {
                    match parse_inline(buf, limits)? {
                        Some(argv) if argv.is_empty() => continue,
                        Some(argv) => return Ok(Some(argv)),
                        None => return Ok(None),
                    }
                }
            }
            while self.args_remaining > 0 {
                let Some(arg) = self.parse_bulk(buf, limits)? else {
                    return Ok(None);
                };
                self.argv.push(arg);
                self.args_remaining -= 1;
            }
            return Ok(Some(std::mem::take(&mut self.argv)));
        }
    }

    fn parse_multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Header, ProtocolError> {
        let Some(line_end) = find_crlf(buf) else {
            if buf.len() > limits.max_inline_bytes {
                return Err(ProtocolError::TooBigMultibulkCount);
            }
            return Ok(Header::Incomplete);
        };
        let count = parse_i64(&buf[1..line_end]).ok_or(ProtocolError::InvalidMultibulkLength)?;
        buf.advance(line_end + 2);
        if count <= 0 {
            return Ok(Header::Empty);
        }
        if count as u64 > limits.max_args as u64 {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        if !self.authenticated && count > UNAUTHENTICATED_ARGS_MAX {
            return Err(ProtocolError::UnauthenticatedMultibulkLength);
        }
        let count = count as usize;
        self.args_remaining = count;
        self.argv = Vec::with_capacity(count.min(ARGV_PREALLOCATE_MAX));
        Ok(Header::Started)
    }

    fn parse_bulk(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Bytes>, ProtocolError> {
        let len = match self.bulk_len {
            Some(len) => len,
            None => {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                // Like Redis, wait for the whole line before judging it.
                let Some(line_end) = find_crlf(buf) else {
                    if buf.len() > limits.max_inline_bytes {
                        return Err(ProtocolError::TooBigBulkCount);
                    }
                    return Ok(None);
                };
                if first != b'$' {
                    return Err(ProtocolError::ExpectedDollar(first));
                }
                let len = parse_i64(&buf[1..line_end]).ok_or(ProtocolError::InvalidBulkLength)?;
                if len < 0 || len as u64 > limits.max_bulk_bytes as u64 {
                    return Err(ProtocolError::InvalidBulkLength);
                }
                if !self.authenticated && len > UNAUTHENTICATED_BULK_BYTES_MAX {
                    return Err(ProtocolError::UnauthenticatedBulkLength);
                }
                buf.advance(line_end + 2);
                self.bulk_len = Some(len as usize);
                len as usize
            }
        };
        if buf.len() < len + 2 {
            return Ok(None);
        }
        let arg = buf.split_to(len).freeze();
        buf.advance(2);
        self.bulk_len = None;
        Ok(Some(arg))
    }
}

enum Header {
    Incomplete,
    Empty,
    Started,
}

/// Position of the `\r` that ends a header line, as Redis finds it: the
/// first `\r` with at least one byte after it (the `\n`, which is skipped).
fn find_crlf(buf: &[u8]) -> Option<usize> {
    let carriage_return = find_before_nul(b'\r', buf)?;
    (carriage_return + 1 < buf.len()).then_some(carriage_return)
}

/// Position of `needle`, searching as Redis's `strchr` on the query buffer
/// does: a NUL byte ends the search, so a line with a NUL before its end is
/// never complete (until the size limit turns it into an error).
fn find_before_nul(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack
        .iter()
        .position(|&b| b == needle || b == 0)
        .filter(|&at| haystack[at] == needle)
}

/// C's `isspace` in the "C" locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses a signed 64-bit integer exactly as Redis's `string2ll` does:
/// an optional `-`, decimal digits with no leading zero, no spaces, no `+`,
/// no `-0`, no overflow. Used for protocol headers and command arguments.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        let d = i64::from(digit - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    if negative && value == 0 {
        return None;
    }
    Some(value)
}

/// Parses one inline command line. `Ok(None)` means the line is incomplete.
fn parse_inline(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(newline) = find_before_nul(b'\n', buf) else {
        if buf.len() > limits.max_inline_bytes {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(None);
    };
    if newline > limits.max_inline_bytes {
        return Err(ProtocolError::TooBigInline);
    }
    let line = buf.split_to(newline + 1);
    let mut text = &line[..newline];
    if let Some(stripped) = text.strip_suffix(b"\r") {
        text = stripped;
    }
    let argv = split_args(text).ok_or(ProtocolError::UnbalancedQuotes)?;
    if argv.len() > limits.max_args {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    Ok(Some(argv))
}

/// Splits an inline line into arguments with Redis's `sdssplitargs` rules:
/// spaces separate, "double quotes" understand `\n \r \t \b \a \\ \" \xHH`,
/// 'single quotes' understand `\'`, and a closing quote must be followed by
/// a space or the end of the line. Returns `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut argv = Vec::new();
    let mut pos = 0;
    loop {
        while pos < line.len() && is_c_space(line[pos]) {
            pos += 1;
        }
        if pos == line.len() {
            return Some(argv);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let &c = line.get(pos)?;
                if c == b'\\' && pos + 3 < line.len() && line[pos + 1] == b'x' {
                    if let (Some(hi), Some(lo)) = (hex(line[pos + 2]), hex(line[pos + 3])) {
                        current.push(hi * 16 + lo);
                        pos += 4;
                        continue;
                    }
                }
                if c == b'\\' && pos + 1 < line.len() {
                    current.push(match line[pos + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    pos += 2;
                    continue;
                }
                if c == b'"' {
                    if pos + 1 < line.len() && !is_c_space(line[pos + 1]) {
                        return None;
                    }
                    pos += 1;
                    break;
                }
                current.push(c);
                pos += 1;
            } else if in_single {
                let &c = line.get(pos)?;
                if c == b'\\' && pos + 1 < line.len() && line[pos + 1] == b'\'' {
                    current.push(b'\'');
                    pos += 2;
                    continue;
                }
                if c == b'\'' {
                    if pos + 1 < line.len() && !is_c_space(line[pos + 1]) {
                        return None;
                    }
                    pos += 1;
                    break;
                }
                current.push(c);
                pos += 1;
            } else {
                match line.get(pos) {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => current.push(c),
                }
                pos += 1;
            }
        }
        argv.push(Bytes::from(current));
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(argv) = parser.parse(&mut buf, &Limits::default())? {
            out.push(argv);
        }
        Ok(out)
    }

    fn args(list: &[&str]) -> Vec<Bytes> {
        list.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn multibulk_and_pipeline() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(got, vec![args(&["GET", "k"]), args(&["PING"])]);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_commands() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nPING\r\n";
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            while let Some(argv) = parser.parse(&mut buf, &Limits::default()).unwrap() {
                out.push(argv);
            }
        }
        assert_eq!(out, vec![args(&["SET", "key", "value"]), args(&["PING"])]);
    }

    #[test]
    fn inline_with_quotes() {
        let got = parse_all(b"SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n\r\n").unwrap();
        assert_eq!(got, vec![args(&["SET", "a b", "c'd", "A\n"])]);
    }

    #[test]
    fn errors_use_redis_wording() {
        assert_eq!(
            parse_all(b"*2\r\n+x\r\n").unwrap_err().to_string(),
            "Protocol error: expected '$', got '+'"
        );
        assert_eq!(
            parse_all(b"*abc\r\n").unwrap_err(),
            ProtocolError::InvalidMultibulkLength
        );
        assert_eq!(
            parse_all(b"*1\r\n$-5\r\n").unwrap_err(),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            parse_all(b"SET \"abc\r\n").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
        assert_eq!(
            parse_all(b"GET \"a\"b\r\n").unwrap_err(),
            ProtocolError::UnbalancedQuotes
        );
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_bulk_bytes: 10,
            max_args: 2,
            max_inline_bytes: 16,
            ..Limits::default()
        };
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*3\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &limits),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*1\r\n$11\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &limits),
            Err(ProtocolError::InvalidBulkLength)
        );
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&[b'a'; 17][..]);
        assert_eq!(
            parser.parse(&mut buf, &limits),
            Err(ProtocolError::TooBigInline)
        );
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(
            parse_all(b"*0\r\n*-1\r\n\r\n  \r\n").unwrap(),
            Vec::<Vec<Bytes>>::new()
        );
    }

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"12a"), None);
        assert_eq!(parse_i64(b"012"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"0"), Some(0));
    }
}
