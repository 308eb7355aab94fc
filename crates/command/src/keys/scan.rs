//! Walking the keyspace: KEYS, SCAN and RANDOMKEY. Expired keys are never
//! listed.

use bytes::Bytes;
use daisy_keyspace::ValueKind;

use crate::args::{is, parse_i64};
use crate::glob;
use crate::scan_util::{parse_cursor, DEFAULT_SCAN_COUNT};
use crate::{CmdError, CmdResult, Ctx, Flow};

/// SCAN visits at most COUNT times this many buckets in one call, so a
/// sparse table cannot make one call walk it all.
const BUCKETS_PER_COUNT: u64 = 10;

/// A glob pattern, with Redis's shortcut for `*` (which also lists the
/// empty key).
struct Pattern<'a>(Option<&'a [u8]>);

impl<'a> Pattern<'a> {
    fn new(pattern: &'a [u8]) -> Self {
        Pattern((pattern != b"*").then_some(pattern))
    }

    fn matches(&self, key: &[u8]) -> bool {
        self.0.is_none_or(|pattern| glob::matches(pattern, key))
    }
}

pub(super) fn keys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let pattern = Pattern::new(&argv[1]);
    let found: Vec<&[u8]> = ctx
        .db
        .iter()
        .map(|(key, _)| key.as_slice())
        .filter(|key| pattern.matches(key))
        .collect();
    ctx.reply.array(found.len());
    for key in found {
        ctx.reply.bulk(key);
    }
    Ok(Flow::Done)
}

/// SCAN's options.
struct ScanOptions<'a> {
    count: u64,
    pattern: Pattern<'a>,
    /// `TYPE name`: only keys whose type name equals it (any case); an
    /// unknown name matches nothing.
    type_name: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    fn parse(options: &'a [Bytes]) -> Result<Self, CmdError> {
        let mut parsed = ScanOptions {
            count: DEFAULT_SCAN_COUNT,
            pattern: Pattern(None),
            type_name: None,
        };
        let mut index = 0;
        while index < options.len() {
            let (option, value) = (&options[index], options.get(index + 1));
            match value {
                Some(value) if is(option, "COUNT") => {
                    let count = parse_i64(value)?;
                    if count < 1 {
                        return Err(CmdError::Syntax);
                    }
                    parsed.count = count as u64;
                }
                Some(value) if is(option, "MATCH") => parsed.pattern = Pattern::new(value),
                Some(value) if is(option, "TYPE") => parsed.type_name = Some(value),
                _ => return Err(CmdError::Syntax),
            }
            index += 2;
        }
        Ok(parsed)
    }

    fn wants(&self, key: &[u8], kind: ValueKind) -> bool {
        let type_ok = self
            .type_name
            .is_none_or(|name| name.eq_ignore_ascii_case(kind.name().as_bytes()));
        type_ok && self.pattern.matches(key)
    }
}

pub(super) fn scan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut cursor = parse_cursor(&argv[1])?;
    let options = ScanOptions::parse(&argv[2..])?;
    // As in Redis, COUNT bounds the keys gathered before filtering, and
    // the buckets visited.
    let mut visited: Vec<(Bytes, ValueKind)> = Vec::new();
    let mut buckets_left = options.count.saturating_mul(BUCKETS_PER_COUNT);
    loop {
        cursor = ctx.db.scan(cursor, |key, value| {
            visited.push((Bytes::copy_from_slice(key), value.kind()));
        });
        if cursor == 0 || buckets_left == 0 || visited.len() as u64 >= options.count {
            break;
        }
        buckets_left -= 1;
    }
    let found: Vec<Bytes> = visited
        .into_iter()
        .filter(|(key, kind)| options.wants(key, *kind))
        .map(|(key, _)| key)
        .collect();
    ctx.reply.array(2);
    ctx.reply.bulk(cursor.to_string().as_bytes());
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
    Ok(Flow::Done)
}

pub(super) fn randomkey(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let rng = &mut *ctx.rng;
    match ctx.db.random_key(|| rng.next_u64()) {
        Some(key) => ctx.reply.bulk(&key),
        None => ctx.reply.null(),
    }
    Ok(Flow::Done)
}
