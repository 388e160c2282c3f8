//! Typed values read from the card.

use std::fmt;

use serde::Serialize;
use zeroize::Zeroize;

use super::profile::tag;
use crate::tlv::{self, TlvError};

/// An X.509 certificate as the card stores it (DER), not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateDer(pub Vec<u8>);

impl CertificateDer {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CertificateDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateDer({} bytes)", self.0.len())
    }
}

/// An RSA public key as ISO 7816-8 data objects: exponent `82`, then modulus `81` (model v1).
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKeyObject {
    /// Big-endian, as stored (leading zero bytes kept).
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
}

impl fmt::Debug for RsaPublicKeyObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let significant = self.modulus.iter().skip_while(|b| **b == 0).count();
        write!(f, "RsaPublicKeyObject({} modulus bits)", significant * 8)
    }
}

impl RsaPublicKeyObject {
    /// Parses the concatenated `82` and `81` TLVs.
    pub fn parse(bytes: &[u8]) -> Result<Self, TlvError> {
        let items = tlv::split(bytes)?;
        let find = |t: u8| {
            items
                .iter()
                .find(|item| item.tag == u32::from(t))
                .map(|item| item.value.to_vec())
                .ok_or(TlvError::Missing(u32::from(t)))
        };
        let exponent = find(tag::RSA_EXPONENT)?;
        let modulus = find(tag::RSA_MODULUS)?;
        if modulus.is_empty() || exponent.is_empty() {
            return Err(TlvError::Malformed(
                "RSA public key with an empty modulus or exponent".into(),
            ));
        }
        Ok(Self { modulus, exponent })
    }
}

/// A calendar date as the card writes it (`YYYYMMDD`, model v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Zeroize)]
pub struct CalendarDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl CalendarDate {
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year.is_multiple_of(4) && !year.is_multiple_of(100))
                || year.is_multiple_of(400) =>
            {
                29
            }
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month)
            .contains(&day)
            .then_some(Self { year, month, day })
    }

    /// Parses exactly 8 ASCII digits `YYYYMMDD`.
    pub fn parse_yyyymmdd(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 8 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let number = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
        };
        Self::new(number(0..4), number(4..6) as u8, number(6..8) as u8)
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Sex as the card codes it (ISO/IEC 5218: `1` male, `2` female, `9` not applicable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Zeroize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    NotApplicable,
}

impl Sex {
    pub fn from_code(bytes: &[u8]) -> Option<Self> {
        match bytes {
            b"1" => Some(Sex::Male),
            b"2" => Some(Sex::Female),
            b"9" => Some(Sex::NotApplicable),
            _ => None,
        }
    }
}

/// A PIN or 照合番号B counter's state when a check begins.
pub use crate::reader::PinState;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_validated() {
        assert_eq!(
            CalendarDate::parse_yyyymmdd(b"20240229"),
            CalendarDate::new(2024, 2, 29)
        );
        assert!(CalendarDate::parse_yyyymmdd(b"20230229").is_none());
        assert!(CalendarDate::parse_yyyymmdd(b"2023022").is_none());
        assert!(CalendarDate::parse_yyyymmdd(b"2023-2-1").is_none());
        assert!(CalendarDate::new(2023, 13, 1).is_none());
    }

    #[test]
    fn rsa_key_object() {
        let bytes = [0x82, 0x03, 1, 0, 1, 0x81, 0x02, 0xC0, 0x01];
        let key = RsaPublicKeyObject::parse(&bytes).expect("parses");
        assert_eq!(key.exponent, vec![1, 0, 1]);
        assert_eq!(key.modulus, vec![0xC0, 0x01]);
        assert_eq!(
            RsaPublicKeyObject::parse(&bytes[..5]),
            Err(TlvError::Missing(0x81))
        );
    }
}
