//! Reading and writing peer frames on a socket, with time limits.

use std::io;
use std::time::Duration;

use daisy_replication::message::{decode, encode, frame_len};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Reads one frame of at most `limit` bytes, within `timeout`.
pub async fn read_message<T: DeserializeOwned>(
    reader: &mut (impl AsyncRead + Unpin),
    limit: u32,
    timeout: Duration,
) -> io::Result<T> {
    let read = async {
        let mut header = [0u8; 4];
        reader.read_exact(&mut header).await?;
        let len = frame_len(header, limit).map_err(invalid)?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await?;
        decode(&body).map_err(invalid)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the peer went silent"))?
}

/// Writes one frame within `timeout`.
pub async fn write_message<T: Serialize>(
    writer: &mut (impl AsyncWrite + Unpin),
    message: &T,
    timeout: Duration,
) -> io::Result<()> {
    let frame = encode(message);
    tokio::time::timeout(timeout, writer.write_all(&frame))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the peer stopped reading"))?
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
