//! The glob matcher `ZSCAN ... MATCH` uses: Redis's `stringmatchlen`,
//! case-sensitive, byte for byte.
//!
//! Rules, as Redis applies them: `*` any run (consecutive stars collapse),
//! `?` one byte, `[...]` a class with `^` negation, `a-z` ranges (either
//! order; bytes compare as C's signed `char`), `\x` escapes; an unclosed
//! `[` class ends at the end of the pattern; a trailing lone `\` matches
//! itself. Where the C code reads its NUL terminator past the end of the
//! pattern, this reads 0.
//!
//! Limits: recursion stops at [`MAX_NESTING`] stars, and once a star has
//! failed to match the rest from every position, no longer match of an
//! earlier star is tried (Redis's `skipLongerMatches`), so a pattern costs
//! at most O(pattern * string).

/// Deepest chain of `*` matches tried before giving up (no match).
const MAX_NESTING: usize = 1000;

/// Whether `string` matches the glob `pattern`.
pub(crate) fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_from(pattern, string, &mut skip_longer, 0)
}

/// The pattern byte at `index`, or 0 past the end (C's terminator).
fn byte_at(pattern: &[u8], index: usize) -> u8 {
    pattern.get(index).copied().unwrap_or(0)
}

fn match_from(pattern: &[u8], string: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    let mut p = 0; // index into pattern
    let mut s = 0; // index into string
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if match_from(&pattern[p + 1..], &string[s..], skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                let (matched, class_end) = match_class(pattern, p + 1, string[s]);
                if !matched {
                    return false;
                }
                p = class_end;
                s += 1;
            }
            b'\\' => {
                if pattern.len() - p >= 2 {
                    p += 1;
                }
                if pattern[p] != string[s] {
                    return false;
                }
                s += 1;
            }
            literal => {
                if literal != string[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while byte_at(pattern, p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

/// Matches `byte` against the class starting at `start` (just after `[`).
/// Returns whether it matched and the index of the class's last byte
/// (its `]`, or the pattern's last byte when the class is unclosed).
fn match_class(pattern: &[u8], start: usize, byte: u8) -> (bool, usize) {
    let mut p = start;
    let negate = byte_at(pattern, p) == b'^';
    if negate {
        p += 1;
    }
    let mut matched = false;
    loop {
        let remaining = pattern.len().saturating_sub(p);
        let current = byte_at(pattern, p);
        if current == b'\\' && remaining >= 2 {
            p += 1;
            if pattern[p] == byte {
                matched = true;
            }
        } else if current == b']' && remaining >= 1 {
            break;
        } else if remaining == 0 {
            p -= 1;
            break;
        } else if remaining >= 3 && pattern[p + 1] == b'-' {
            let (mut low, mut high) = (pattern[p] as i8, pattern[p + 2] as i8);
            if low > high {
                std::mem::swap(&mut low, &mut high);
            }
            let signed = byte as i8;
            if signed >= low && signed <= high {
                matched = true;
            }
            p += 2;
        } else if current == byte {
            matched = true;
        }
        p += 1;
    }
    (matched != negate, p)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn matches(pattern: &str, string: &str) -> bool {
        glob_match(pattern.as_bytes(), string.as_bytes())
    }

    #[test]
    fn stars_and_questions() {
        // Redis's loop never runs on an empty string, so even "*" fails
        // there (ZSCAN skips matching for a lone "*").
        assert!(!matches("*", ""));
        assert!(matches("*", "anything"));
        assert!(matches("a*", "a"));
        assert!(matches("a*b", "axxb"));
        assert!(!matches("a*b", "axxc"));
        assert!(matches("a**b", "ab"));
        assert!(matches("?", "x"));
        assert!(!matches("?", ""));
        assert!(!matches("?", "xy"));
        assert!(matches("h?llo*", "hallo world"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(!matches("a", ""));
        assert!(matches("a*", "a"));
        assert!(matches("a***", "a"));
    }

    #[test]
    fn classes() {
        assert!(matches("h[ae]llo", "hello"));
        assert!(!matches("h[ae]llo", "hillo"));
        assert!(matches("h[^e]llo", "hallo"));
        assert!(!matches("h[^e]llo", "hello"));
        assert!(matches("h[a-b]llo", "hbllo"));
        assert!(matches("h[b-a]llo", "hallo"));
        assert!(!matches("h[a-b]llo", "hcllo"));
        assert!(matches("[\\]]", "]"));
        // "[a-]": the range runs from 'a' to the "]" (swapped: ']'..='a'),
        // and the class is then unclosed.
        assert!(matches("[a-]", "_"));
        assert!(!matches("[a-]", "-"));
        // An unclosed class ends at the end of the pattern.
        assert!(matches("[abc", "b"));
        assert!(!matches("[abc", "d"));
        assert!(!matches("[", "a"));
        // "[]" closes at once: an empty class matches nothing.
        assert!(!matches("[]a]", "a"));
    }

    #[test]
    fn escapes() {
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "axb"));
        assert!(matches("a\\", "a\\"));
        assert!(matches("\\?", "?"));
    }

    #[test]
    fn signed_byte_ranges_follow_c() {
        // 0x80..0xff are negative as C chars: [a-\xff] spans -1..=97.
        assert!(glob_match(b"[a-\xff]", b"\xff"));
        assert!(glob_match(b"[a-\xff]", b"0"));
        assert!(!glob_match(b"[a-\xff]", b"b"));
    }

    #[test]
    fn pathological_patterns_stay_cheap() {
        let string = "a".repeat(5_000);
        let pattern = format!("{}b", "*a".repeat(500));
        assert!(!matches(&pattern, &string));
        let deep = "*a".repeat(2_000);
        assert!(!matches(&deep, &string));
    }
}
