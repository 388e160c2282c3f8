//! The JPKI application: certificates, PIN counters, and signatures by the card's keys.
//!
//! The keys can only be used through [`JpkiAuthentication`] and [`JpkiSigning`], which exist only
//! after the matching PIN was accepted, and the PIN is only sent after the counter was read and
//! found safe (see [`super::guard_tries`]).

use super::profile::{RSA_2048_SIGNATURE_LEN, ins, jpki};
use super::secrets::{AuthPin, SigningPassword};
use super::types::CertificateDer;
use super::{PinState, guard_tries};
use crate::apdu::{Command, Le};
use crate::reader::{Application, CardError, CardSession};
use crate::transport::CardTransport;

/// SHA-256 DigestInfo prefix (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A DER DigestInfo over a SHA-256 hash: what COMPUTE DIGITAL SIGNATURE signs.
pub fn sha256_digest_info(hash: &[u8; 32]) -> [u8; 51] {
    let mut out = [0u8; 51];
    out[..19].copy_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    out[19..].copy_from_slice(hash);
    out
}

/// The JPKI application, selected.
pub struct Jpki<'s, T: CardTransport> {
    pub(super) session: &'s mut CardSession<T>,
}

impl<'s, T: CardTransport> Jpki<'s, T> {
    /// The 32-byte token of EF 0006 — `JPKIAPICCTOKEN` on a My Number Card.
    pub fn token(&mut self) -> Result<String, CardError> {
        self.session.measure("read JPKI token", |s| {
            let raw = s.read_fixed_ef(jpki::TOKEN, jpki::TOKEN_LEN)?;
            let text: Vec<u8> = raw.iter().copied().take_while(|b| *b != 0).collect();
            let text = String::from_utf8(text).map_err(|_| CardError::Malformed {
                operation: "read JPKI token",
                detail: "token is not text".into(),
            })?;
            Ok(text.trim_end().to_string())
        })
    }

    pub fn authentication_certificate(&mut self) -> Result<CertificateDer, CardError> {
        self.read_certificate("read authentication certificate", jpki::AUTH_CERT)
    }

    pub fn authentication_ca_certificate(&mut self) -> Result<CertificateDer, CardError> {
        self.read_certificate("read authentication CA certificate", jpki::AUTH_CA_CERT)
    }

    pub fn signing_ca_certificate(&mut self) -> Result<CertificateDer, CardError> {
        self.read_certificate("read signing CA certificate", jpki::SIGN_CA_CERT)
    }

    pub fn authentication_pin_state(&mut self) -> Result<PinState, CardError> {
        self.session.measure("read authentication PIN tries", |s| {
            s.pin_state(jpki::AUTH_PIN)
        })
    }

    pub fn signing_pin_state(&mut self) -> Result<PinState, CardError> {
        self.session
            .measure("read signing PIN tries", |s| s.pin_state(jpki::SIGN_PIN))
    }

    /// Reads the tries left, refuses at one try left, and only then sends the PIN.
    pub fn unlock_authentication(
        self,
        pin: &AuthPin,
    ) -> Result<JpkiAuthentication<'s, T>, CardError> {
        self.session.measure("verify authentication PIN", |s| {
            guard_tries(s.pin_state(jpki::AUTH_PIN)?)?;
            s.verify(jpki::AUTH_PIN, pin.as_bytes())
        })?;
        Ok(JpkiAuthentication {
            session: self.session,
        })
    }

    /// Reads the tries left, refuses at one try left, and only then sends the password.
    pub fn unlock_signing(
        self,
        password: &SigningPassword,
    ) -> Result<JpkiSigning<'s, T>, CardError> {
        self.session.measure("verify signing password", |s| {
            guard_tries(s.pin_state(jpki::SIGN_PIN)?)?;
            s.verify(jpki::SIGN_PIN, password.as_bytes())
        })?;
        Ok(JpkiSigning {
            session: self.session,
        })
    }

    fn read_certificate(
        &mut self,
        operation: &'static str,
        ef: u16,
    ) -> Result<CertificateDer, CardError> {
        self.session
            .measure(operation, |s| s.read_tlv_ef(ef).map(CertificateDer))
    }
}

/// The JPKI application with the authentication PIN accepted.
pub struct JpkiAuthentication<'s, T: CardTransport> {
    session: &'s mut CardSession<T>,
}

impl<T: CardTransport> JpkiAuthentication<'_, T> {
    /// Signs a DigestInfo with the user-authentication key (PKCS#1 v1.5 added by the card).
    pub fn sign(&mut self, digest_info: &[u8]) -> Result<Vec<u8>, CardError> {
        self.session.measure("sign with authentication key", |s| {
            compute_signature(s, jpki::AUTH_KEY, digest_info)
        })
    }
}

/// The JPKI application with the signing password accepted.
pub struct JpkiSigning<'s, T: CardTransport> {
    session: &'s mut CardSession<T>,
}

impl<T: CardTransport> JpkiSigning<'_, T> {
    /// The signing certificate, which carries the holder's name, address, birth date and sex.
    pub fn signing_certificate(&mut self) -> Result<CertificateDer, CardError> {
        self.session.measure("read signing certificate", |s| {
            s.read_tlv_ef(jpki::SIGN_CERT).map(CertificateDer)
        })
    }

    /// The signing CA certificate (free to read; the password does not have to be sent again).
    pub fn signing_ca_certificate(&mut self) -> Result<CertificateDer, CardError> {
        self.session.measure("read signing CA certificate", |s| {
            s.read_tlv_ef(jpki::SIGN_CA_CERT).map(CertificateDer)
        })
    }

    /// Signs a DigestInfo with the signing key.
    pub fn sign(&mut self, digest_info: &[u8]) -> Result<Vec<u8>, CardError> {
        self.session.measure("sign with signing key", |s| {
            compute_signature(s, jpki::SIGN_KEY, digest_info)
        })
    }
}

fn compute_signature<T: CardTransport>(
    session: &mut CardSession<T>,
    key_ef: u16,
    digest_info: &[u8],
) -> Result<Vec<u8>, CardError> {
    session.select_ef(key_ef)?;
    let command = Command::new(
        ins::CLA_PROPRIETARY,
        ins::COMPUTE_DIGITAL_SIGNATURE,
        0x00,
        0x80,
    )
    .with_data(digest_info)
    .with_le(Le::short_max());
    let response = session.transmit_unlocked(&command)?;
    if !response.status().is_success() {
        return Err(CardError::refused(
            "COMPUTE DIGITAL SIGNATURE",
            response.status(),
        ));
    }
    let signature = response.into_data();
    if signature.len() != RSA_2048_SIGNATURE_LEN {
        return Err(CardError::Malformed {
            operation: "COMPUTE DIGITAL SIGNATURE",
            detail: format!(
                "signature is {} bytes, an RSA-2048 signature is {RSA_2048_SIGNATURE_LEN}",
                signature.len()
            ),
        });
    }
    Ok(signature)
}

pub(super) const APPLICATION: Application = Application::Jpki;
