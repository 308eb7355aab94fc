//! Reading a segment through a window, so that scanning costs one read per
//! [`READ_WINDOW_BYTES`] rather than one per record, and memory stays
//! bounded whatever the file size.
//!
//! The file may be live (the writer appending to it): the length is the
//! one last read, and [`WindowReader::refresh_len`] reads it again. The
//! log never rewrites a byte below a file's length with a different value
//! (a cut tail is written again with the same bytes), so the window's
//! bytes stay true.

use std::io;

use crate::disk::{read_exact_at, DiskFile};
use crate::knobs::READ_WINDOW_BYTES;

pub(crate) struct WindowReader {
    file: Box<dyn DiskFile>,
    file_len: u64,
    window: Vec<u8>,
    window_start: u64,
}

impl WindowReader {
    pub fn new(file: Box<dyn DiskFile>, file_len: u64) -> Self {
        WindowReader {
            file,
            file_len,
            window: Vec::new(),
            window_start: 0,
        }
    }

    /// The file's length when it was last read.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Reads the file's length again, for a file that is being appended
    /// to (or was cut back to be written again: the window then forgets
    /// the bytes past the new end).
    pub fn refresh_len(&mut self) -> io::Result<u64> {
        self.file_len = self.file.len()?;
        let window_end = self.window_start + self.window.len() as u64;
        if window_end > self.file_len {
            let kept = self.file_len.saturating_sub(self.window_start) as usize;
            self.window.truncate(kept);
        }
        Ok(self.file_len)
    }

    /// Fills `out` with the bytes at `offset`. The caller has checked that
    /// they lie inside the file.
    pub fn read(&mut self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        if out.len() > READ_WINDOW_BYTES {
            return read_exact_at(self.file.as_ref(), offset, out);
        }
        let end = offset + out.len() as u64;
        let window_end = self.window_start + self.window.len() as u64;
        if offset < self.window_start || end > window_end {
            self.fill(offset)?;
            if end > self.window_start + self.window.len() as u64 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "read past the end of the segment",
                ));
            }
        }
        let start = (offset - self.window_start) as usize;
        out.copy_from_slice(&self.window[start..start + out.len()]);
        Ok(())
    }

    /// Continues `crc` over `len` bytes at `offset`, a window at a time,
    /// without holding them all.
    pub fn crc_append(&mut self, mut crc: u32, offset: u64, len: u64) -> io::Result<u32> {
        let mut done = 0u64;
        while done < len {
            let at = offset + done;
            let window_end = self.window_start + self.window.len() as u64;
            if at < self.window_start || at >= window_end {
                self.fill(at)?;
            }
            let start = (at - self.window_start) as usize;
            let available = (self.window.len() - start) as u64;
            let take = available.min(len - done) as usize;
            crc = crc32c::crc32c_append(crc, &self.window[start..start + take]);
            done += take as u64;
        }
        Ok(crc)
    }

    fn fill(&mut self, offset: u64) -> io::Result<()> {
        let len = (self.file_len.saturating_sub(offset)).min(READ_WINDOW_BYTES as u64) as usize;
        self.window.resize(len, 0);
        self.window_start = offset;
        if let Err(e) = read_exact_at(self.file.as_ref(), offset, &mut self.window) {
            self.window.clear();
            return Err(e);
        }
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the segment",
            ));
        }
        Ok(())
    }
}
