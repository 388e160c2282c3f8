//! The holder's attributes in a JPKI signing certificate (署名用電子証明書).
//!
//! J-LIS writes them into subjectAltName as `otherName`s under `1.2.392.200149.8.5.5` (public,
//! confirmed by readers of real cards and by J-LIS's profile specification as they cite it):
//!
//! | OID | value |
//! |---|---|
//! | `.1` | name (氏名), family and given name separated by U+3000 |
//! | `.2` | name substitute-character flags: one `0`/`1` per character of the name (optional: absent = no substitute) |
//! | `.3` | sex, one digit: `1` male, `2` female, `9` not applicable (JIS X 0303; one secondary source lists `3` for "unknown": refused until confirmed) |
//! | `.4` | birth date `EYYYYMMDD`: era digit (1 明治, 2 大正, 3 昭和, 4 平成, 5 令和, 0 unknown), then the **Gregorian** date |
//! | `.5` | address (住所) |
//! | `.6` | address substitute-character flags (optional, as `.2`) |
//!
//! Real cards write every value as a UTF8String, in the order 1, 4, 3, 5, 2, 6, so nothing here
//! relies on order. PrintableString and IA5String are accepted too (the signature covers the
//! value whatever its string type). A substitute flag `1` means the character shown is not the
//! one in the resident register: a name comparison must then be done by a person.
//!
//! The attributes are only reachable from a [`VerifiedChain`] for a signing key, and they never
//! reach a log: `Debug` is redacted and every value is wiped on drop.

use std::fmt;

use der::asn1::{Ia5StringRef, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::cert::ParsedCertificate;
use super::report::{KeyPurpose, VerifiedChain};
use crate::card::profile::jpki;
use crate::card::types::{CalendarDate, Sex};

const ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap(jpki::ATTRIBUTE_OID_ARC);
/// Longest value accepted (J-LIS allows up to 200 characters of address; 3 bytes each in UTF-8).
const MAX_VALUE_LEN: usize = 1024;

/// Why the attributes could not be read. Names the attribute, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    #[error("attributes are read only from a signing certificate, not an authentication one")]
    NotSigningCertificate,
    #[error("the signing certificate has no subjectAltName")]
    NoSubjectAltName,
    #[error("the signing certificate's subjectAltName cannot be parsed: {0}")]
    Malformed(String),
    #[error("the signing certificate lacks the {0} attribute")]
    Missing(&'static str),
    #[error("the signing certificate carries the {0} attribute twice")]
    Duplicate(&'static str),
    #[error("the {0} attribute is not a text string of the expected form")]
    Invalid(&'static str),
}

/// 元号 of the birth date, as the certificate states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Zeroize)]
pub enum Era {
    Unknown,
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

/// Name, address, birth date and sex of the holder, from a validated signing certificate.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SigningCertificateAttributes {
    pub name: String,
    pub address: String,
    pub birth_date: CalendarDate,
    pub birth_era: Era,
    pub sex: Sex,
    /// One flag per character of `name`: `true` where a substitute character is shown.
    pub name_substitutes: Vec<bool>,
    pub address_substitutes: Vec<bool>,
}

impl fmt::Debug for SigningCertificateAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningCertificateAttributes(<redacted>)")
    }
}

impl SigningCertificateAttributes {
    /// The attributes of a chain validated for [`KeyPurpose::Signing`].
    pub fn from_verified(chain: &VerifiedChain) -> Result<Self, AttributeError> {
        if chain.purpose() != KeyPurpose::Signing {
            return Err(AttributeError::NotSigningCertificate);
        }
        Self::parse(&chain.end_entity)
    }

    /// Whether any character of the name or the address is a substitute, so that text matching
    /// against the addressee cannot be exact and a person must compare.
    pub fn has_substitutes(&self) -> bool {
        self.name_substitutes
            .iter()
            .chain(&self.address_substitutes)
            .any(|s| *s)
    }

    pub(crate) fn parse(cert: &ParsedCertificate) -> Result<Self, AttributeError> {
        let san = cert
            .cert
            .tbs_certificate()
            .get_extension::<SubjectAltName>()
            .map_err(|e| AttributeError::Malformed(e.to_string()))?
            .map(|(_critical, san)| san)
            .ok_or(AttributeError::NoSubjectAltName)?;

        let mut values: [Option<String>; 6] = Default::default();
        for name in &san.0 {
            let GeneralName::OtherName(other) = name else {
                continue;
            };
            let Some(index) = attribute_index(&other.type_id) else {
                continue;
            };
            let label = LABELS[index];
            if values[index].is_some() {
                return Err(AttributeError::Duplicate(label));
            }
            let encoded = other
                .value
                .to_der()
                .map_err(|e| AttributeError::Malformed(e.to_string()))?;
            values[index] = Some(text(&encoded).ok_or(AttributeError::Invalid(label))?);
        }
        let [name, name_flags, sex, birth, address, address_flags] = values;
        let require = |value: Option<String>, index: usize| {
            value.ok_or(AttributeError::Missing(LABELS[index]))
        };
        let name = require(name, 0)?;
        let address = require(address, 4)?;
        let (birth_era, birth_date) =
            parse_birth_date(&require(birth, 3)?).ok_or(AttributeError::Invalid(LABELS[3]))?;
        let sex = Sex::from_code(require(sex, 2)?.as_bytes())
            .ok_or(AttributeError::Invalid(LABELS[2]))?;
        // The substitute flags exist to mark characters outside the character set; a card whose
        // name and address need none may leave them out. Absent means "no substitute"; present
        // but wrong is still an error.
        let name_substitutes = optional_flags(name_flags, &name, LABELS[1])?;
        let address_substitutes = optional_flags(address_flags, &address, LABELS[5])?;
        if name.trim().is_empty() {
            return Err(AttributeError::Invalid(LABELS[0]));
        }
        if address.trim().is_empty() {
            return Err(AttributeError::Invalid(LABELS[4]));
        }
        Ok(Self {
            name,
            address,
            birth_date,
            birth_era,
            sex,
            name_substitutes,
            address_substitutes,
        })
    }
}

/// Attribute names for errors, by the last arc minus one.
const LABELS: [&str; 6] = [
    "name (.5.1)",
    "name substitute flags (.5.2)",
    "sex (.5.3)",
    "birth date (.5.4)",
    "address (.5.5)",
    "address substitute flags (.5.6)",
];

/// `1.2.392.200149.8.5.5.n` for n in 1..=6 → n − 1.
fn attribute_index(oid: &ObjectIdentifier) -> Option<usize> {
    let bytes = oid.as_bytes();
    let arc = ARC.as_bytes();
    match bytes.strip_prefix(arc) {
        Some([last @ 1..=6]) => Some(usize::from(*last) - 1),
        _ => None,
    }
}

/// The value of a UTF8String, PrintableString or IA5String TLV.
fn text(encoded: &[u8]) -> Option<String> {
    if encoded.len() > MAX_VALUE_LEN + 4 {
        return None;
    }
    Utf8StringRef::from_der(encoded)
        .map(|s| s.as_str().to_owned())
        .or_else(|_| PrintableStringRef::from_der(encoded).map(|s| s.as_str().to_owned()))
        .or_else(|_| Ia5StringRef::from_der(encoded).map(|s| s.as_str().to_owned()))
        .ok()
}

/// `EYYYYMMDD` → era and Gregorian date.
fn parse_birth_date(value: &str) -> Option<(Era, CalendarDate)> {
    let bytes = value.as_bytes();
    let (era, date) = bytes.split_first()?;
    let era = match era {
        b'0' => Era::Unknown,
        b'1' => Era::Meiji,
        b'2' => Era::Taisho,
        b'3' => Era::Showa,
        b'4' => Era::Heisei,
        b'5' => Era::Reiwa,
        _ => return None,
    };
    Some((era, CalendarDate::parse_yyyymmdd(date)?))
}

/// Substitute flags when the certificate has them, else one `false` per character.
fn optional_flags(
    value: Option<String>,
    field: &str,
    label: &'static str,
) -> Result<Vec<bool>, AttributeError> {
    match value {
        Some(value) => flags(&value, field, label),
        None => Ok(vec![false; field.chars().count()]),
    }
}

/// Substitute flags: one `0`/`1` per character of the field they describe.
fn flags(value: &str, field: &str, label: &'static str) -> Result<Vec<bool>, AttributeError> {
    let flags: Option<Vec<bool>> = value
        .chars()
        .map(|c| match c {
            '0' => Some(false),
            '1' => Some(true),
            _ => None,
        })
        .collect();
    match flags {
        Some(flags) if flags.len() == field.chars().count() => Ok(flags),
        _ => Err(AttributeError::Invalid(label)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_carry_an_era_digit_and_a_gregorian_date() {
        assert_eq!(
            parse_birth_date("419900401"),
            Some((Era::Heisei, CalendarDate::new(1990, 4, 1).expect("valid")))
        );
        assert_eq!(
            parse_birth_date("319800217"),
            Some((Era::Showa, CalendarDate::new(1980, 2, 17).expect("valid")))
        );
        assert_eq!(
            parse_birth_date("019800217").map(|(era, _)| era),
            Some(Era::Unknown)
        );
        for bad in [
            "",
            "4",
            "19900401",
            "619900401",
            "419900431",
            "4199004011",
            "4１9900401",
        ] {
            assert_eq!(parse_birth_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_six_attribute_arcs_are_recognised() {
        let oid = |s| ObjectIdentifier::new(s).expect("valid OID");
        assert_eq!(attribute_index(&oid("1.2.392.200149.8.5.5.1")), Some(0));
        assert_eq!(attribute_index(&oid("1.2.392.200149.8.5.5.6")), Some(5));
        assert_eq!(attribute_index(&oid("1.2.392.200149.8.5.5.7")), None);
        assert_eq!(attribute_index(&oid("1.2.392.200149.8.5.5")), None);
        assert_eq!(attribute_index(&oid("1.2.392.200149.8.5.5.1.1")), None);
        assert_eq!(attribute_index(&oid("1.2.392.200149.8.5.4.1")), None);
    }

    #[test]
    fn substitute_flags_must_match_the_field_length() {
        assert_eq!(
            flags("0010", "試験　子", "x"),
            Ok(vec![false, false, true, false])
        );
        assert!(flags("000", "試験　子", "x").is_err());
        assert!(flags("0020", "試験　子", "x").is_err());
    }
}
