//! Glob-style matching with exactly the results of Redis's
//! `stringmatchlen`, used by KEYS, SCAN MATCH, the HSCAN/SSCAN/ZSCAN
//! families, PSUBSCRIBE and CONFIG GET.
//!
//! `*` any sequence, `?` any one byte, `[abc]` `[^abc]` `[a-z]` classes,
//! `\x` a literal `x`. Runs in O(pattern x text) time whatever the pattern
//! (a star backtracks only to the most recent star), so a hostile pattern
//! cannot stall the server.

/// True when `string` matches `pattern`, case-sensitively.
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    string_match(pattern, string)
}

/// ASCII case-insensitive variant, as `CONFIG GET` uses.
pub fn matches_nocase(pattern: &[u8], string: &[u8]) -> bool {
    string_match(&pattern.to_ascii_lowercase(), &string.to_ascii_lowercase())
}

/// One piece of a glob pattern. Every piece but `Star` matches one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// Any run of bytes, including none.
    Star,
    /// `?`: any one byte.
    AnyByte,
    /// A literal byte (possibly escaped in the pattern).
    Byte(u8),
    /// `[...]`: the class body is `pattern[body_start..body_end]`.
    Class {
        body_start: usize,
        body_end: usize,
        negated: bool,
    },
}

/// True when `string` matches the glob `pattern`, case-sensitively, with
/// exactly the results of Redis's `stringmatchlen(pattern, string, 0)`.
/// Tokens are read from the pattern as the walk reaches them, so matching
/// allocates nothing whatever the pattern's size.
fn string_match(pattern: &[u8], string: &[u8]) -> bool {
    // Redis's loop never starts on an empty string: only the empty pattern
    // matches it (even "*" does not).
    if string.is_empty() {
        return pattern.is_empty();
    }
    // Where the pattern resumes after the last star, and the string
    // position that star last stopped at.
    let mut backtrack: Option<(usize, usize)> = None;
    let (mut pattern_index, mut string_index) = (0, 0);
    while string_index < string.len() {
        if pattern_index < pattern.len() {
            let (token, next) = token_at(pattern, pattern_index);
            if token == Token::Star {
                backtrack = Some((next, string_index));
                pattern_index = next;
                continue;
            }
            if token_matches(pattern, token, string[string_index]) {
                pattern_index = next;
                string_index += 1;
                continue;
            }
        }
        // Let the last star swallow one more byte and retry.
        let Some((after_star, resume)) = backtrack else {
            return false;
        };
        backtrack = Some((after_star, resume + 1));
        pattern_index = after_star;
        string_index = resume + 1;
    }
    while pattern_index < pattern.len() {
        let (token, next) = token_at(pattern, pattern_index);
        if token != Token::Star {
            return false;
        }
        pattern_index = next;
    }
    true
}

/// The token starting at `pattern[index]` and the index after it.
fn token_at(pattern: &[u8], index: usize) -> (Token, usize) {
    let remaining = pattern.len() - index;
    match pattern[index] {
        b'*' => (Token::Star, index + 1),
        b'?' => (Token::AnyByte, index + 1),
        b'[' => parse_class(pattern, index),
        b'\\' if remaining >= 2 => (Token::Byte(pattern[index + 1]), index + 2),
        byte => (Token::Byte(byte), index + 1),
    }
}

fn token_matches(pattern: &[u8], token: Token, byte: u8) -> bool {
    match token {
        Token::Star => false,
        Token::AnyByte => true,
        Token::Byte(expected) => expected == byte,
        Token::Class {
            body_start,
            body_end,
            negated,
        } => class_matches(pattern, body_start, body_end, byte) != negated,
    }
}

/// Parses the class opened at `pattern[open] == '['` exactly as Redis
/// walks it: `\x` escapes, `a-z` ranges take three bytes whenever three
/// remain in the whole pattern (so `[a-]` is the range `a..]`), the first
/// unescaped `]` at a step boundary closes the class, and an unclosed
/// class runs to the end of the pattern. Returns the token and the index
/// after it.
fn parse_class(pattern: &[u8], open: usize) -> (Token, usize) {
    let mut index = open + 1;
    let negated = pattern.get(index) == Some(&b'^');
    if negated {
        index += 1;
    }
    let body_start = index;
    loop {
        let remaining = pattern.len() - index;
        if remaining == 0 {
            let end = pattern.len();
            let token = class_token(body_start, end, negated);
            return (token, end);
        }
        match pattern[index] {
            b'\\' if remaining >= 2 => index += 2,
            b']' => return (class_token(body_start, index, negated), index + 1),
            _ if remaining >= 3 && pattern[index + 1] == b'-' => index += 3,
            _ => index += 1,
        }
    }
}

fn class_token(body_start: usize, body_end: usize, negated: bool) -> Token {
    Token::Class {
        body_start,
        body_end,
        negated,
    }
}

/// Whether `byte` is in the class body `pattern[start..end]`, stepping
/// through it as [`parse_class`] did. Range bounds compare as C `char`s,
/// which are signed on the platforms Redis runs on: bytes from 0x80 sort
/// below 0x00.
fn class_matches(pattern: &[u8], start: usize, end: usize, byte: u8) -> bool {
    let signed = |b: u8| i32::from(b as i8);
    let mut matched = false;
    let mut index = start;
    while index < end {
        let remaining = pattern.len() - index;
        if pattern[index] == b'\\' && remaining >= 2 {
            matched |= pattern[index + 1] == byte;
            index += 2;
        } else if remaining >= 3 && pattern[index + 1] == b'-' {
            let (mut low, mut high) = (signed(pattern[index]), signed(pattern[index + 2]));
            if low > high {
                std::mem::swap(&mut low, &mut high);
            }
            matched |= (low..=high).contains(&signed(byte));
            index += 3;
        } else {
            matched |= pattern[index] == byte;
            index += 1;
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, string: &str) -> bool {
        string_match(pattern.as_bytes(), string.as_bytes())
    }

    #[test]
    fn literals_and_wildcards() {
        assert!(glob("hello", "hello"));
        assert!(!glob("hello", "hell"));
        assert!(!glob("hell", "hello"));
        assert!(glob("h?llo", "hallo"));
        assert!(!glob("h?llo", "hllo"));
        assert!(glob("h*llo", "hllo"));
        assert!(glob("h*llo", "heeeello"));
        assert!(glob("*", "anything"));
        assert!(glob("**", "x"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("*a", "banana"));
        assert!(glob("*an*an*", "banana"));
        assert!(!glob("*an*an*an*", "banana"));
        assert!(glob("a*", "a"));
        assert!(glob("a**", "a"));
        assert!(!glob("a*?", "a"));
    }

    #[test]
    fn empty_string_matches_only_the_empty_pattern() {
        assert!(glob("", ""));
        assert!(!glob("*", ""));
        assert!(!glob("?", ""));
        assert!(!glob("", "a"));
    }

    #[test]
    fn classes() {
        assert!(glob("h[ae]llo", "hello"));
        assert!(glob("h[ae]llo", "hallo"));
        assert!(!glob("h[ae]llo", "hillo"));
        assert!(glob("h[^e]llo", "hallo"));
        assert!(!glob("h[^e]llo", "hello"));
        assert!(glob("h[a-b]llo", "hbllo"));
        assert!(!glob("h[a-b]llo", "hcllo"));
        // Reversed ranges are swapped.
        assert!(glob("[z-a]", "m"));
        // An escaped bracket or dash inside a class is literal.
        assert!(glob("[\\]]", "]"));
        assert!(glob("[a\\-z]", "-"));
        assert!(!glob("[a\\-z]", "m"));
        // `]` first closes an empty class that matches nothing.
        assert!(!glob("[]a]", "a"));
        assert!(!glob("[]a]", "]a]"));
        assert!(glob("[^]a", "xa"));
    }

    #[test]
    fn class_quirks_of_redis() {
        // `[a-]` is the range from ']' (93) to 'a' (97).
        assert!(glob("[a-]", "_"));
        assert!(glob("[a-]", "]"));
        assert!(!glob("[a-]", "-"));
        // Unterminated classes run to the end of the pattern.
        assert!(glob("[abc", "b"));
        assert!(!glob("[abc", "d"));
        assert!(!glob("[", "["));
        assert!(glob("[^", "x"));
        // Ranges compare signed bytes: 0xff is -1, inside [\xff-a].
        assert!(string_match(b"[\xff-a]", b"\x00"));
        assert!(!string_match(b"[\x00-\x7f]", b"\x80"));
    }

    #[test]
    fn escapes() {
        assert!(glob("\\*", "*"));
        assert!(!glob("\\*", "a"));
        assert!(glob("a\\?b", "a?b"));
        assert!(!glob("a\\?b", "axb"));
        // A trailing backslash is a literal backslash.
        assert!(glob("a\\", "a\\"));
        // An escaped star at the end is not skipped like a star.
        assert!(!glob("a\\*", "a"));
    }

    #[test]
    fn binary_bytes_and_long_inputs() {
        assert!(string_match(b"a\x00*", b"a\x00bc"));
        let string = vec![b'a'; 10_000];
        let mut pattern = b"*a".repeat(500);
        pattern.push(b'b');
        // Would be exponential without pruning; here it is quick.
        assert!(!string_match(&pattern, &string));
    }

    fn redis_stringmatchlen(pattern: &[u8], string: &[u8]) -> bool {
        fn at(bytes: &[u8], index: usize) -> i32 {
            i32::from(bytes.get(index).copied().unwrap_or(0) as i8)
        }
        fn walk(
            pattern: &[u8],
            mut p: usize,
            string: &[u8],
            mut s: usize,
            skip: &mut bool,
        ) -> bool {
            let mut plen = pattern.len() as isize - p as isize;
            let mut slen = string.len() as isize - s as isize;
            while plen > 0 && slen > 0 {
                match at(pattern, p) as u8 {
                    b'*' => {
                        while plen > 0 && at(pattern, p + 1) == i32::from(b'*') {
                            p += 1;
                            plen -= 1;
                        }
                        if plen == 1 {
                            return true;
                        }
                        while slen > 0 {
                            if walk(pattern, p + 1, string, s, skip) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            s += 1;
                            slen -= 1;
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => {
                        s += 1;
                        slen -= 1;
                    }
                    b'[' => {
                        p += 1;
                        plen -= 1;
                        let not = at(pattern, p) == i32::from(b'^');
                        if not {
                            p += 1;
                            plen -= 1;
                        }
                        let mut matched = false;
                        loop {
                            if at(pattern, p) == i32::from(b'\\') && plen >= 2 {
                                p += 1;
                                plen -= 1;
                                if at(pattern, p) == at(string, s) {
                                    matched = true;
                                }
                            } else if at(pattern, p) == i32::from(b']') {
                                break;
                            } else if plen == 0 {
                                p -= 1;
                                plen += 1;
                                break;
                            } else if plen >= 3 && at(pattern, p + 1) == i32::from(b'-') {
                                let (mut start, mut end) = (at(pattern, p), at(pattern, p + 2));
                                let c = at(string, s);
                                if start > end {
                                    std::mem::swap(&mut start, &mut end);
                                }
                                p += 2;
                                plen -= 2;
                                if c >= start && c <= end {
                                    matched = true;
                                }
                            } else if at(pattern, p) == at(string, s) {
                                matched = true;
                            }
                            p += 1;
                            plen -= 1;
                        }
                        if not {
                            matched = !matched;
                        }
                        if !matched {
                            return false;
                        }
                        s += 1;
                        slen -= 1;
                    }
                    other => {
                        let mut literal = other;
                        if other == b'\\' && plen >= 2 {
                            p += 1;
                            plen -= 1;
                            literal = at(pattern, p) as u8;
                        }
                        if i32::from(literal as i8) != at(string, s) {
                            return false;
                        }
                        s += 1;
                        slen -= 1;
                    }
                }
                p += 1;
                plen -= 1;
                if slen == 0 {
                    while at(pattern, p) == i32::from(b'*') && plen > 0 {
                        p += 1;
                        plen -= 1;
                    }
                    break;
                }
            }
            plen == 0 && slen == 0
        }
        let mut skip = false;
        walk(pattern, 0, string, 0, &mut skip)
    }

    #[test]
    fn agrees_with_redis_on_random_patterns() {
        let mut rng = crate::Rng::new(99);
        let pattern_bytes = b"ab*?[]^-\\\x00\xff";
        let string_bytes = b"ab-]^\\\x00\xff*";
        let mut pick = |alphabet: &[u8], max_len: u64| -> Vec<u8> {
            let len = rng.below(max_len + 1) as usize;
            (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect()
        };
        for _ in 0..200_000 {
            let pattern = pick(pattern_bytes, 7);
            let string = pick(string_bytes, 6);
            assert_eq!(
                string_match(&pattern, &string),
                redis_stringmatchlen(&pattern, &string),
                "pattern {pattern:?} string {string:?}"
            );
        }
    }
}
