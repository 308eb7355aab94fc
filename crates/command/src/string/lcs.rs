//! LCS: the longest common subsequence of two strings, by the classic
//! dynamic-programming table, walked back the way Redis walks it so that
//! the same matches are reported in the same order.
//!
//! The table needs `(len(a) + 1) * (len(b) + 1)` 32-bit cells; as in Redis
//! it may not exceed the largest string size.

use bytes::Bytes;
use daisy_keyspace::Value;

use crate::args::{is, parse_i64};
use crate::{CmdError, CmdResult, Ctx, Flow};

/// The options after the two keys.
#[derive(Default)]
struct LcsOptions {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

impl LcsOptions {
    fn parse(options: &[Bytes]) -> Result<LcsOptions, CmdError> {
        let mut parsed = LcsOptions::default();
        let mut index = 0;
        while index < options.len() {
            let option = &options[index];
            if is(option, "IDX") {
                parsed.idx = true;
            } else if is(option, "LEN") {
                parsed.len = true;
            } else if is(option, "WITHMATCHLEN") {
                parsed.with_match_len = true;
            } else if is(option, "MINMATCHLEN") && index + 1 < options.len() {
                parsed.min_match_len = parse_i64(&options[index + 1])?.max(0) as u64;
                index += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            index += 1;
        }
        if parsed.idx && parsed.len {
            return Err(CmdError::Static(
                "ERR If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(parsed)
    }
}

/// The string at `key` (empty when missing), or `None` for another type.
fn string_or_empty(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<Bytes> {
    match ctx.db.get(key) {
        None => Some(Bytes::new()),
        Some(Value::Str(value)) => Some(Bytes::copy_from_slice(value)),
        Some(_) => None,
    }
}

pub(super) fn lcs(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (Some(a), Some(b)) = (
        string_or_empty(ctx, &argv[1]),
        string_or_empty(ctx, &argv[2]),
    ) else {
        return Err(CmdError::Static(
            "ERR The specified keys must contain string values",
        ));
    };
    let options = LcsOptions::parse(&argv[3..])?;
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    if cells.saturating_mul(4) > ctx.settings.max_string_bytes as u64 {
        return Err(CmdError::Static(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = Table::build(&a, &b);
    if options.len && !options.idx {
        ctx.reply.int(i64::from(table.at(a.len(), b.len())));
        return Ok(Flow::Done);
    }
    let (common, matches) = table.walk_back(&a, &b, &options);
    if !options.idx {
        ctx.reply.bulk(&common);
        return Ok(Flow::Done);
    }
    ctx.reply.map(2);
    ctx.reply.bulk(b"matches");
    ctx.reply.array(matches.len());
    for found in &matches {
        ctx.reply.array(2 + usize::from(options.with_match_len));
        for (start, end) in [found.a, found.b] {
            ctx.reply.array(2);
            ctx.reply.int(start as i64);
            ctx.reply.int(end as i64);
        }
        if options.with_match_len {
            ctx.reply.int(found.len() as i64);
        }
    }
    ctx.reply.bulk(b"len");
    ctx.reply.int(i64::from(table.at(a.len(), b.len())));
    Ok(Flow::Done)
}

/// One common run: inclusive byte ranges in each string.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

impl Match {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// `cells[i * (len(b) + 1) + j]` is the LCS length of `a[..i]` and `b[..j]`.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    fn build(a: &[u8], b: &[u8]) -> Table {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Table { cells, width }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks from the end of both strings to the start, collecting the
    /// common subsequence and its contiguous runs (last run first).
    fn walk_back(&self, a: &[u8], b: &[u8], options: &LcsOptions) -> (Vec<u8>, Vec<Match>) {
        let mut remaining = self.at(a.len(), b.len()) as usize;
        let mut common = vec![0u8; remaining];
        let mut matches = Vec::new();
        let mut current: Option<Match> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[remaining - 1] = a[i - 1];
                remaining -= 1;
                match current.as_mut() {
                    None => {
                        current = Some(Match {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        })
                    }
                    Some(run) if run.a.0 == i && run.b.0 == j => {
                        run.a.0 -= 1;
                        run.b.0 -= 1;
                    }
                    Some(_) => emit = true,
                }
                if current
                    .as_ref()
                    .is_some_and(|run| run.a.0 == 0 || run.b.0 == 0)
                {
                    emit = true;
                }
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = current.is_some();
            }
            if emit {
                if let Some(run) = current.take() {
                    if options.min_match_len == 0 || run.len() as u64 >= options.min_match_len {
                        matches.push(run);
                    }
                }
            }
        }
        (common, matches)
    }
}
