//! The secrets a holder or courier types: held only for the one command, wiped on drop, never
//! shown by `Debug`, and never part of an error message.

use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::profile::{card_face, input_support, jpki};

/// Why a typed secret has the wrong shape. Never includes the secret itself.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SecretFormatError {
    #[error("the PIN must be exactly 4 digits")]
    FourDigitPin,
    #[error("the signing password must be 6 to 16 letters A–Z or digits")]
    SigningPassword,
    #[error("照合番号B must be 14 digits: birth date YYMMDD, expiry year YYYY, security code")]
    MatchingNumberBLength,
    #[error("照合番号B starts with a birth date YYMMDD that is not a calendar date")]
    MatchingNumberBDate,
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
        pub struct $name(Vec<u8>);

        impl $name {
            /// The bytes VERIFY carries (ASCII).
            pub(crate) fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(redacted)"))
            }
        }
    };
}

secret_type!(
    /// The 4-digit user-authentication PIN of the JPKI application.
    AuthPin
);
secret_type!(
    /// The 4-digit PIN of the input-support application (usually the same digits as [`AuthPin`]).
    InputSupportPin
);
secret_type!(
    /// The 6–16 character signing password of the JPKI application.
    SigningPassword
);
secret_type!(
    /// 照合番号B, printed on the card face: birth date YYMMDD + expiry year YYYY + 4-digit
    /// security code. It opens the card-face application without the holder's PIN.
    MatchingNumberB
);

fn four_digits(input: &str, expected_len: usize) -> Result<Vec<u8>, SecretFormatError> {
    let bytes = input.trim().as_bytes();
    if bytes.len() == expected_len && bytes.iter().all(u8::is_ascii_digit) {
        Ok(bytes.to_vec())
    } else {
        Err(SecretFormatError::FourDigitPin)
    }
}

impl AuthPin {
    pub fn parse(input: &str) -> Result<Self, SecretFormatError> {
        four_digits(input, jpki::AUTH_PIN_LEN).map(Self)
    }
}

impl InputSupportPin {
    pub fn parse(input: &str) -> Result<Self, SecretFormatError> {
        four_digits(input, input_support::PIN_LEN).map(Self)
    }

    /// The same four digits as the authentication PIN: cards are issued with one 4-digit PIN for
    /// both, and the holder is asked once.
    pub fn from_auth_pin(pin: &AuthPin) -> Self {
        Self(pin.0.clone())
    }
}

impl SigningPassword {
    /// Lower-case letters are taken as upper case: the card only knows `A-Z0-9`, and holders
    /// type on keyboards that may not be in caps mode.
    pub fn parse(input: &str) -> Result<Self, SecretFormatError> {
        let bytes: Vec<u8> = input
            .trim()
            .bytes()
            .map(|b| b.to_ascii_uppercase())
            .collect();
        let valid = jpki::SIGN_PIN_LEN.contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if valid {
            Ok(Self(bytes))
        } else {
            let mut bytes = bytes;
            bytes.zeroize();
            Err(SecretFormatError::SigningPassword)
        }
    }
}

impl MatchingNumberB {
    /// Accepts the 14 digits with or without spaces or hyphens between groups.
    pub fn parse(input: &str) -> Result<Self, SecretFormatError> {
        let mut digits: Vec<u8> = input
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-'))
            .collect();
        if digits.len() != card_face::MATCHING_NUMBER_B_LEN
            || !digits.iter().all(u8::is_ascii_digit)
        {
            digits.zeroize();
            return Err(SecretFormatError::MatchingNumberBLength);
        }
        let number = Self(digits);
        let month = number.two_digits(2);
        let day = number.two_digits(4);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(SecretFormatError::MatchingNumberBDate);
        }
        Ok(number)
    }

    fn two_digits(&self, at: usize) -> u32 {
        u32::from(self.0[at] - b'0') * 10 + u32::from(self.0[at + 1] - b'0')
    }

    /// The birth date part, `YYMMDD` as printed (two-digit year).
    pub fn birth_date_yymmdd(&self) -> (u32, u32, u32) {
        (self.two_digits(0), self.two_digits(2), self.two_digits(4))
    }

    /// The card's expiry year as printed.
    pub fn expiry_year(&self) -> u32 {
        self.two_digits(6) * 100 + self.two_digits(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digit_pins() {
        assert!(AuthPin::parse("0123").is_ok());
        assert_eq!(AuthPin::parse("123"), Err(SecretFormatError::FourDigitPin));
        assert_eq!(AuthPin::parse("12a4"), Err(SecretFormatError::FourDigitPin));
        assert_eq!(
            InputSupportPin::parse("12345"),
            Err(SecretFormatError::FourDigitPin)
        );
    }

    #[test]
    fn signing_password_is_upper_cased() {
        let pw = SigningPassword::parse("abc123").expect("valid");
        assert_eq!(pw.as_bytes(), b"ABC123");
        assert_eq!(
            SigningPassword::parse("ABC12"),
            Err(SecretFormatError::SigningPassword)
        );
        assert_eq!(
            SigningPassword::parse("ABC-1234"),
            Err(SecretFormatError::SigningPassword)
        );
        assert_eq!(
            SigningPassword::parse(&"A".repeat(17)),
            Err(SecretFormatError::SigningPassword)
        );
    }

    #[test]
    fn matching_number_b_parts() {
        let b = MatchingNumberB::parse("900401-2034-1234").expect("valid");
        assert_eq!(b.birth_date_yymmdd(), (90, 4, 1));
        assert_eq!(b.expiry_year(), 2034);
        assert_eq!(
            MatchingNumberB::parse("9004012034123"),
            Err(SecretFormatError::MatchingNumberBLength)
        );
        assert_eq!(
            MatchingNumberB::parse("90130120341234"),
            Err(SecretFormatError::MatchingNumberBDate)
        );
    }

    #[test]
    fn debug_is_redacted() {
        let pin = AuthPin::parse("4321").expect("valid");
        assert_eq!(format!("{pin:?}"), "AuthPin(redacted)");
    }
}
