//! The receiver's TLS key pin: SHA-256 over the DER SubjectPublicKeyInfo of its certificate.
//!
//! A pin names a key, not a certificate, so the receiver may renew its certificate (new dates,
//! new names) without re-enrolling devices as long as it keeps the key. The text form is
//! `sha256/<base64>`, the form of HPKP's `pin-sha256` and Android's network security config;
//! curl's `--pinnedpubkey sha256//<base64>` form is accepted too.
//!
//! This module has no TLS dependency: the receiver computes and prints the pin, the sync
//! client (feature `sync-client`) enforces it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};

/// SHA-256 of a DER SubjectPublicKeyInfo.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpkiPin([u8; 32]);

/// Why a pin or a certificate could not be turned into a pin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    #[error(
        "a receiver pin is written sha256/<base64 of 32 bytes> (as `honnin-receiver` prints it)"
    )]
    Malformed,
    #[error("the certificate cannot be read as X.509 DER: {0}")]
    Certificate(String),
}

impl SpkiPin {
    const PREFIX: &'static str = "sha256/";

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The pin of a DER SubjectPublicKeyInfo.
    pub fn of_spki_der(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }

    /// The pin of the key in a DER X.509 certificate.
    pub fn of_certificate_der(certificate_der: &[u8]) -> Result<Self, PinError> {
        let certificate = x509_cert::Certificate::from_der(certificate_der)
            .map_err(|e| PinError::Certificate(e.to_string()))?;
        let spki = certificate
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| PinError::Certificate(e.to_string()))?;
        Ok(Self::of_spki_der(&spki))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Display for SpkiPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", Self::PREFIX, BASE64.encode(self.0))
    }
}

impl std::fmt::Debug for SpkiPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpkiPin({self})")
    }
}

impl std::str::FromStr for SpkiPin {
    type Err = PinError;

    fn from_str(text: &str) -> Result<Self, PinError> {
        let rest = text
            .trim()
            .strip_prefix(Self::PREFIX)
            .ok_or(PinError::Malformed)?;
        let decode = |encoded: &str| {
            BASE64
                .decode(encoded.as_bytes())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .map(Self)
        };
        // curl writes `sha256//<base64>`; the base64 itself may start with '/', so the extra
        // slash is dropped only when the text does not decode with it.
        decode(rest)
            .or_else(|| rest.strip_prefix('/').and_then(decode))
            .ok_or(PinError::Malformed)
    }
}

impl serde::Serialize for SpkiPin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SpkiPin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_accepts_curls_form() {
        let pin = SpkiPin::of_spki_der(b"not really a key");
        let text = pin.to_string();
        assert!(text.starts_with("sha256/"));
        assert_eq!(text.parse::<SpkiPin>(), Ok(pin));
        let curl = text.replacen("sha256/", "sha256//", 1);
        assert_eq!(curl.parse::<SpkiPin>(), Ok(pin));

        // A key hash whose base64 starts with '/' (a first byte of 0xFC or more: 1 key in 64),
        // in both forms.
        let slashed = SpkiPin([0xFE; 32]);
        let text = slashed.to_string();
        assert!(text.starts_with("sha256//"), "{text}");
        assert_eq!(text.parse::<SpkiPin>(), Ok(slashed));
        let curl = text.replacen("sha256/", "sha256//", 1);
        assert_eq!(curl.parse::<SpkiPin>(), Ok(slashed));
    }

    #[test]
    fn malformed_pins_are_refused() {
        for text in [
            "",
            "sha256/",
            "sha1/AAAA",
            "sha256/AAAA",
            "sha256/!!!!",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ] {
            assert_eq!(text.parse::<SpkiPin>(), Err(PinError::Malformed), "{text}");
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            SpkiPin::of_certificate_der(b"\x30\x03\x02\x01\x00"),
            Err(PinError::Certificate(_))
        ));
    }
}
