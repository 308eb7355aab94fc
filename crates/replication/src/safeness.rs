//! The safeness levels (DESIGN.md §1): when a write is acknowledged.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Safeness {
    /// Durable locally (per the fsync policy).
    OneSafe,
    /// Durable locally and received durably by every in-sync secondary.
    TwoSafe,
    /// As `TwoSafe`, and applied (visible) on every in-sync secondary.
    TwoSafeCommitted,
    /// As `TwoSafeCommitted`; the in-sync set never shrinks below its size:
    /// writes stop instead.
    VerySafe,
}

impl Safeness {
    pub const ALL: [Safeness; 4] = [
        Safeness::OneSafe,
        Safeness::TwoSafe,
        Safeness::TwoSafeCommitted,
        Safeness::VerySafe,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Safeness::OneSafe => "1-safe",
            Safeness::TwoSafe => "2-safe",
            Safeness::TwoSafeCommitted => "2-safe-committed",
            Safeness::VerySafe => "very-safe",
        }
    }

    /// True when acknowledgements wait for the in-sync secondaries.
    pub fn needs_secondaries(self) -> bool {
        self != Safeness::OneSafe
    }

    /// True when acknowledgements wait for secondaries to apply, not only
    /// to receive.
    pub fn needs_applied(self) -> bool {
        matches!(self, Safeness::TwoSafeCommitted | Safeness::VerySafe)
    }
}

impl fmt::Display for Safeness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Safeness {
    type Err = String;

    fn from_str(text: &str) -> Result<Safeness, String> {
        Safeness::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!(
                    "safeness must be 1-safe, 2-safe, 2-safe-committed or very-safe, not '{text}'"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for level in Safeness::ALL {
            assert_eq!(level.name().parse::<Safeness>(), Ok(level));
        }
        assert_eq!("2-SAFE".parse::<Safeness>(), Ok(Safeness::TwoSafe));
        assert!("3-safe".parse::<Safeness>().is_err());
        assert!(Safeness::OneSafe < Safeness::VerySafe);
    }
}
