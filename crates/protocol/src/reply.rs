//! Reply encoding.
//!
//! Commands write their replies straight into the connection's output
//! buffer through [`Reply`], which knows the protocol version the client
//! negotiated. RESP3-only types fall back to their RESP2 forms as Redis does:
//! maps become flat arrays, sets become arrays, doubles become bulk strings,
//! booleans become integers, nulls become `$-1` / `*-1`.

use bytes::{BufMut, BytesMut};

/// The protocol version a connection speaks, chosen with `HELLO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// An output buffer plus the protocol to encode in.
#[derive(Debug, Default)]
pub struct Reply {
    buf: BytesMut,
    protocol: Protocol,
}

impl Reply {
    pub fn new(protocol: Protocol) -> Self {
        Reply {
            buf: BytesMut::with_capacity(16 * 1024),
            protocol,
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    pub fn is_resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    /// Bytes written so far; with [`Reply::truncate`] this lets a caller
    /// discard a partial reply.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn buffer(&self) -> &BytesMut {
        &self.buf
    }

    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Appends bytes that are already RESP-encoded.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn queued(&mut self) {
        self.buf.extend_from_slice(b"+QUEUED\r\n");
    }

    /// A simple string; the text must not contain CR or LF.
    pub fn simple(&mut self, text: &str) {
        debug_assert!(!text.contains(['\r', '\n']));
        self.buf.put_u8(b'+');
        self.buf.extend_from_slice(text.as_bytes());
        self.crlf();
    }

    /// An error reply. `message` starts with its code (`ERR`, `WRONGTYPE`,
    /// ...); line breaks are replaced by spaces so the stream stays in sync.
    pub fn error(&mut self, message: &str) {
        self.error_bytes(message.as_bytes());
    }

    /// An error reply whose text holds bytes as the client sent them.
    pub fn error_bytes(&mut self, message: &[u8]) {
        self.buf.put_u8(b'-');
        for &byte in message {
            self.buf.put_u8(if byte == b'\r' || byte == b'\n' {
                b' '
            } else {
                byte
            });
        }
        self.crlf();
    }

    pub fn int(&mut self, value: i64) {
        self.header(b':', value);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.crlf();
    }

    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` key/value pairs; the caller writes `2 * len` items.
    pub fn map(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', 2 * len as i64),
            Protocol::Resp3 => self.header(b'%', len as i64),
        }
    }

    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'~', len as i64),
        }
    }

    /// An out-of-band push (pub/sub messages).
    pub fn push(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'>', len as i64),
        }
    }

    pub fn double(&mut self, value: f64) {
        let text = format_double(value);
        match self.protocol {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.buf.put_u8(b',');
                self.buf.extend_from_slice(text.as_bytes());
                self.crlf();
            }
        }
    }

    pub fn boolean(&mut self, value: bool) {
        match self.protocol {
            Protocol::Resp2 => self.int(i64::from(value)),
            Protocol::Resp3 => {
                self.buf
                    .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" })
            }
        }
    }

    /// Verbatim text (`=` in RESP3 with a 3-letter format such as `txt`);
    /// a bulk string in RESP2.
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        debug_assert_eq!(format.len(), 3);
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', (text.len() + 4) as i64);
                self.buf.extend_from_slice(format.as_bytes());
                self.buf.put_u8(b':');
                self.buf.extend_from_slice(text);
                self.crlf();
            }
        }
    }

    /// Removes and returns everything written so far.
    pub fn take(&mut self) -> BytesMut {
        self.buf.split()
    }

    fn header(&mut self, kind: u8, value: i64) {
        self.buf.put_u8(kind);
        let mut digits = itoa_buffer();
        self.buf.extend_from_slice(format_i64(&mut digits, value));
        self.crlf();
    }

    fn crlf(&mut self) {
        self.buf.extend_from_slice(b"\r\n");
    }
}

fn itoa_buffer() -> [u8; 20] {
    [0; 20]
}

fn format_i64(buf: &mut [u8; 20], value: i64) -> &[u8] {
    let negative = value < 0;
    let mut magnitude = value.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if negative {
        // i64::MIN has 19 digits, so there is always room for the sign.
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Formats a double the way current Redis replies show scores: the shortest
/// text that reads back as the same value, `inf`/`-inf` for infinities, and
/// an exponent (`1e+300`) for very large or very small magnitudes.
pub fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value.is_nan() {
        return "nan".into();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-5..1e17).contains(&magnitude) {
        return format!("{value}");
    }
    let text = format!("{value:e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(protocol: Protocol, write: impl FnOnce(&mut Reply)) -> Vec<u8> {
        let mut reply = Reply::new(protocol);
        write(&mut reply);
        reply.take().to_vec()
    }

    #[test]
    fn resp2_and_resp3_forms() {
        assert_eq!(encode(Protocol::Resp2, |r| r.null()), b"$-1\r\n");
        assert_eq!(encode(Protocol::Resp3, |r| r.null()), b"_\r\n");
        assert_eq!(encode(Protocol::Resp2, |r| r.map(2)), b"*4\r\n");
        assert_eq!(encode(Protocol::Resp3, |r| r.map(2)), b"%2\r\n");
        assert_eq!(encode(Protocol::Resp2, |r| r.double(1.5)), b"$3\r\n1.5\r\n");
        assert_eq!(encode(Protocol::Resp3, |r| r.double(1.5)), b",1.5\r\n");
        assert_eq!(encode(Protocol::Resp3, |r| r.boolean(true)), b"#t\r\n");
        assert_eq!(
            encode(Protocol::Resp2, |r| r.int(i64::MIN)),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(
            encode(Protocol::Resp2, |r| r.error("ERR a\r\nb")),
            b"-ERR a  b\r\n"
        );
    }

    #[test]
    fn doubles_read_back_exactly() {
        assert_eq!(format_double(0.1), "0.1");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(1e300), "1e+300");
        assert_eq!(format_double(1.5e-10), "1.5e-10");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        for value in [0.1, 1e300, 1.5e-10, 123456.789, 1e16, 2.0f64.powi(60)] {
            assert_eq!(format_double(value).parse::<f64>().unwrap(), value);
        }
    }
}
