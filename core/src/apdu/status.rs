use std::fmt;

/// The two status bytes SW1 SW2 that end every response.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    pub const SUCCESS: Self = Self(0x9000);
    pub const WRONG_LENGTH: Self = Self(0x6700);
    pub const SECURITY_STATUS_NOT_SATISFIED: Self = Self(0x6982);
    pub const AUTH_METHOD_BLOCKED: Self = Self(0x6983);
    pub const CONDITIONS_NOT_SATISFIED: Self = Self(0x6985);
    pub const WRONG_DATA: Self = Self(0x6A80);
    pub const FUNCTION_NOT_SUPPORTED: Self = Self(0x6A81);
    pub const FILE_NOT_FOUND: Self = Self(0x6A82);
    pub const INCORRECT_P1P2: Self = Self(0x6A86);
    pub const WRONG_P1P2: Self = Self(0x6B00);
    pub const INS_NOT_SUPPORTED: Self = Self(0x6D00);
    pub const CLA_NOT_SUPPORTED: Self = Self(0x6E00);
    pub const END_OF_FILE: Self = Self(0x6282);

    pub const fn from_bytes(sw1: u8, sw2: u8) -> Self {
        Self(u16::from_be_bytes([sw1, sw2]))
    }

    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    pub const fn sw2(self) -> u8 {
        self.0 as u8
    }

    pub fn is_success(self) -> bool {
        self == Self::SUCCESS
    }

    /// What the status means for the caller.
    pub fn decode(self) -> CardStatus {
        match (self.sw1(), self.sw2()) {
            (0x90, 0x00) => CardStatus::Success,
            (0x61, n) => CardStatus::MoreData {
                available: if n == 0 { 256 } else { n as usize },
            },
            (0x62, 0x82) => CardStatus::EndOfFileReached,
            // 63 C0 and 69 83 both mean no try is left: treat both as locked (card-model.md).
            (0x63, 0xC0) | (0x69, 0x83) => CardStatus::PinLocked,
            (0x63, x) if x & 0xF0 == 0xC0 => CardStatus::WrongPin {
                tries_left: x & 0x0F,
            },
            (0x67, 0x00) => CardStatus::WrongLength { correct_le: None },
            (0x6C, n) => CardStatus::WrongLength {
                correct_le: Some(if n == 0 { 256 } else { n as usize }),
            },
            (0x69, 0x82) => CardStatus::SecurityStatusNotSatisfied,
            (0x69, 0x85) => CardStatus::ConditionsNotSatisfied,
            (0x6A, 0x82) => CardStatus::FileNotFound,
            (0x6A, 0x81) | (0x6D, 0x00) | (0x6E, 0x00) => CardStatus::NotSupported,
            (0x6A, 0x86) | (0x6B, 0x00) => CardStatus::WrongParameters,
            (0x6A, 0x80) => CardStatus::WrongData,
            _ => CardStatus::Other(self),
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SW {:02X}{:02X}", self.sw1(), self.sw2())
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A status word decoded into what it means to the reader of a My Number Card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    Success,
    /// `61 xx`: more response bytes wait for GET RESPONSE.
    MoreData {
        available: usize,
    },
    /// `62 82`: fewer bytes than asked for were returned because the file ended.
    EndOfFileReached,
    /// `63 Cx` after VERIFY with data: the PIN was wrong; `x` tries remain. Also the answer to a
    /// VERIFY without data, where it reports tries left without spending one.
    WrongPin {
        tries_left: u8,
    },
    /// `69 83` or `63 C0`: no tries left.
    PinLocked,
    /// `67 00` (no hint) or `6C xx` (the card tells the Le it can answer).
    WrongLength {
        correct_le: Option<usize>,
    },
    SecurityStatusNotSatisfied,
    ConditionsNotSatisfied,
    FileNotFound,
    /// Instruction, class or function the card does not support.
    NotSupported,
    WrongParameters,
    WrongData,
    Other(StatusWord),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pin_states() {
        assert_eq!(
            StatusWord(0x63C2).decode(),
            CardStatus::WrongPin { tries_left: 2 }
        );
        assert_eq!(StatusWord(0x63C0).decode(), CardStatus::PinLocked);
        assert_eq!(StatusWord(0x6983).decode(), CardStatus::PinLocked);
    }

    #[test]
    fn decodes_lengths() {
        assert_eq!(
            StatusWord(0x6C00).decode(),
            CardStatus::WrongLength {
                correct_le: Some(256)
            }
        );
        assert_eq!(
            StatusWord(0x6C20).decode(),
            CardStatus::WrongLength {
                correct_le: Some(32)
            }
        );
        assert_eq!(
            StatusWord(0x6700).decode(),
            CardStatus::WrongLength { correct_le: None }
        );
    }

    #[test]
    fn unknown_status_is_kept() {
        assert_eq!(
            StatusWord(0x6F00).decode(),
            CardStatus::Other(StatusWord(0x6F00))
        );
        assert_eq!(StatusWord(0x6F00).to_string(), "SW 6F00");
    }
}
