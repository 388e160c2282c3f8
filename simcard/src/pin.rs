//! PIN files: the value, the retry counter, and what VERIFY does to them.

use zeroize::Zeroizing;

/// Which PIN of the card, for tests that read or set counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinId {
    /// JPKI user-authentication PIN, EF 0018.
    Auth,
    /// JPKI signing password, EF 001B.
    Sign,
    /// Input-support PIN, EF 0011.
    InputSupport,
    /// Card-face 照合番号B, EF 0012.
    MatchingNumberB,
    /// Card-face 照合番号A (the Individual Number), EF 0013. honnin never sends it.
    MatchingNumberA,
}

/// A PIN held by an EF.
pub struct Pin {
    value: Zeroizing<Vec<u8>>,
    tries_left: u8,
    max_tries: u8,
}

/// What a VERIFY with data did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyOutcome {
    Verified,
    /// Wrong value; the counter was decremented to `tries_left` (0 means it just locked).
    Wrong {
        tries_left: u8,
    },
    /// The counter was already at zero; nothing was compared.
    Locked,
}

impl std::fmt::Debug for Pin {
    // The value is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pin({}/{} tries)", self.tries_left, self.max_tries)
    }
}

impl Pin {
    pub fn new(value: &[u8], max_tries: u8) -> Self {
        Self {
            value: Zeroizing::new(value.to_vec()),
            tries_left: max_tries,
            max_tries,
        }
    }

    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    pub fn is_locked(&self) -> bool {
        self.tries_left == 0
    }

    /// Sets the counter (for profiles and tests); capped at the maximum.
    pub fn set_tries_left(&mut self, tries: u8) {
        self.tries_left = tries.min(self.max_tries);
    }

    /// Compares `candidate` and updates the counter as a card does: a success resets it, a
    /// failure spends one try. A candidate of the wrong length is a wrong PIN (model: the card
    /// does not check lengths separately, so a malformed PIN costs a try too).
    pub fn verify(&mut self, candidate: &[u8]) -> VerifyOutcome {
        if self.is_locked() {
            return VerifyOutcome::Locked;
        }
        if constant_time_eq(&self.value, candidate) {
            self.tries_left = self.max_tries;
            VerifyOutcome::Verified
        } else {
            self.tries_left -= 1;
            VerifyOutcome::Wrong {
                tries_left: self.tries_left,
            }
        }
    }
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_pins_count_down_and_lock() {
        let mut pin = Pin::new(b"2468", 3);
        assert_eq!(pin.verify(b"0000"), VerifyOutcome::Wrong { tries_left: 2 });
        assert_eq!(pin.verify(b"00000"), VerifyOutcome::Wrong { tries_left: 1 });
        assert_eq!(pin.verify(b"0000"), VerifyOutcome::Wrong { tries_left: 0 });
        assert!(pin.is_locked());
        // Locked: even the right PIN is refused and nothing changes.
        assert_eq!(pin.verify(b"2468"), VerifyOutcome::Locked);
        assert_eq!(pin.tries_left(), 0);
    }

    #[test]
    fn success_resets_the_counter() {
        let mut pin = Pin::new(b"2468", 3);
        pin.verify(b"1111");
        assert_eq!(pin.tries_left(), 2);
        assert_eq!(pin.verify(b"2468"), VerifyOutcome::Verified);
        assert_eq!(pin.tries_left(), 3);
    }

    #[test]
    fn debug_hides_the_value() {
        let shown = format!("{:?}", Pin::new(b"2468", 3));
        assert!(!shown.contains("2468"), "{shown}");
    }
}
