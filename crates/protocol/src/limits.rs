/// Bounds on what one request may make the server hold in memory.
///
/// The defaults follow Redis: 512 MiB per bulk string, 64 KiB per inline
/// command, 1 GiB of unparsed query buffer per client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string (`$<len>`) accepted, in bytes.
    pub max_bulk_bytes: usize,
    /// Largest number of arguments in one multibulk request (`*<count>`).
    pub max_args: usize,
    /// Largest inline command line, and largest `*`/`$` header line, in bytes.
    pub max_inline_bytes: usize,
    /// Largest amount of unparsed input one client may have buffered.
    pub max_query_buffer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_bytes: 512 * 1024 * 1024,
            max_args: 4 * 1024 * 1024,
            max_inline_bytes: 64 * 1024,
            max_query_buffer_bytes: 1024 * 1024 * 1024,
        }
    }
}
