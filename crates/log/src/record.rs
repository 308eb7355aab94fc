//! One log record as the log's users see it.

/// A record: the effects of one write command (or one `EXEC`), opaque to
/// the log, with the LSN and epoch it was made under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub lsn: u64,
    pub epoch: u64,
    pub payload: Vec<u8>,
}
