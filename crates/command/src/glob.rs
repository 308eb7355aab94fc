//! Glob-style matching with Redis's `stringmatchlen` rules, used by KEYS,
//! SCAN MATCH, PSUBSCRIBE and CONFIG GET.
//!
//! `*` any sequence, `?` any one byte, `[abc]` `[^abc]` `[a-z]` classes,
//! `\x` a literal `x`. Runs in O(pattern × text) time whatever the pattern
//! (a star backtracks only to the most recent star), so a hostile pattern
//! cannot stall the server.

/// True when `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    matches_with(pattern, text, false)
}

/// Case-insensitive variant (ASCII), as `CONFIG GET` uses.
pub fn matches_nocase(pattern: &[u8], text: &[u8]) -> bool {
    matches_with(pattern, text, true)
}

fn matches_with(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    let mut p = 0;
    let mut t = 0;
    // Where to resume after the most recent star: (pattern after it, text).
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            star = Some((p, t));
            continue;
        }
        if let Some(next_p) = match_one(pattern, p, text[t], nocase) {
            p = next_p;
            t += 1;
            continue;
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Matches one text byte against the pattern token at `p`; returns the
/// position after the token on success.
fn match_one(pattern: &[u8], p: usize, byte: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match *pattern.get(p)? {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p + 1, byte, nocase),
        b'\\' if p + 1 < pattern.len() => eq(pattern[p + 1], byte).then_some(p + 2),
        literal => eq(literal, byte).then_some(p + 1),
    }
}

/// Matches a `[...]` class starting after the `[`. An unterminated class
/// runs to the end of the pattern, as in Redis.
fn match_class(pattern: &[u8], mut p: usize, byte: u8, nocase: bool) -> Option<usize> {
    let fold = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let byte = fold(byte);
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let mut matched = false;
    loop {
        match pattern.get(p) {
            None => break,
            Some(b']') => {
                p += 1;
                break;
            }
            Some(b'\\') if p + 1 < pattern.len() => {
                matched |= fold(pattern[p + 1]) == byte;
                p += 2;
            }
            Some(&low) if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() => {
                let high = pattern[p + 2];
                let (low, high) = if low <= high {
                    (low, high)
                } else {
                    (high, low)
                };
                matched |= (fold(low)..=fold(high)).contains(&byte);
                p += 3;
            }
            Some(&c) => {
                matched |= fold(c) == byte;
                p += 1;
            }
        }
    }
    (matched != negate).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_examples() {
        assert!(matches(b"h?llo", b"hello"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"h[b-a]llo", b"hbllo"));
        assert!(matches(b"*", b""));
        assert!(!matches(b"?", b""));
        assert!(matches(b"a\\*b", b"a*b"));
        assert!(!matches(b"a\\*b", b"axb"));
        assert!(matches(b"*a*b*c*", b"xxaxxbxxcxx"));
        assert!(!matches(b"*a*b*c*d", b"xxaxxbxxcxx"));
        assert!(matches_nocase(b"MAX*", b"maxmemory"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pattern = [b'*', b'a'].repeat(50);
        let text = vec![b'a'; 10_000];
        let start = std::time::Instant::now();
        assert!(matches(&pattern, &text));
        assert!(!matches(&[pattern.as_slice(), b"b"].concat(), &text));
        assert!(start.elapsed().as_secs() < 5);
    }
}
