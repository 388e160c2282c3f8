//! The My Number Card's applications, read through typed sessions.
//!
//! `session.jpki()`, `session.input_support()` and `session.card_face()` select an application
//! and borrow the session, so only one application can be in use at a time — as on the card,
//! where selecting another application drops the security state. Protected data is reachable only
//! through the value that unlocking returns, and unlocking always reads the tries-left counter
//! first and refuses when one more wrong try could lock the card.

pub mod card_face;
pub mod cv_certificate;
pub mod input_support;
pub mod jpki;
pub mod profile;
pub mod secrets;
pub mod types;

pub use card_face::{CardFace, CardFaceData, CardFaceOpened, InternalAuthentication};
pub use cv_certificate::CvCertificate;
pub use input_support::{
    BasicAttributes, InputSupport, InputSupportSignature, InputSupportUnlocked,
};
pub use jpki::{Jpki, JpkiAuthentication, JpkiSigning, sha256_digest_info};
pub use secrets::{AuthPin, InputSupportPin, MatchingNumberB, SecretFormatError, SigningPassword};
pub use types::{CalendarDate, CertificateDer, RsaPublicKeyObject, Sex};

use crate::reader::{CardError, CardSession, PinState};
use crate::tlv::{Children, TlvError};
use crate::transport::CardTransport;

/// Fewest tries that must be left before honnin sends a secret: with one left, a typo would lock
/// the card, so the product refuses and offers the check without PIN instead.
pub const MIN_TRIES_TO_SEND_PIN: u8 = 2;

fn guard_tries(state: PinState) -> Result<(), CardError> {
    match state {
        PinState::Locked => Err(CardError::PinLocked),
        PinState::TriesLeft(n) if n < MIN_TRIES_TO_SEND_PIN => {
            Err(CardError::PinGuard { tries_left: n })
        }
        PinState::TriesLeft(_) | PinState::AlreadyVerified => Ok(()),
    }
}

fn text_field(children: &Children<'_>, tag: u16) -> Result<String, TlvError> {
    let item = children.require(u32::from(tag))?;
    String::from_utf8(item.value.to_vec())
        .map_err(|_| TlvError::Malformed(format!("data object {tag:04X} is not UTF-8 text")))
}

impl<T: CardTransport> CardSession<T> {
    /// Selects the JPKI application. A card that answers this SELECT is taken to be a My Number
    /// Card (never matched by ATR).
    pub fn jpki(&mut self) -> Result<Jpki<'_, T>, CardError> {
        self.measure("select JPKI", |s| s.select_application(jpki::APPLICATION))?;
        Ok(Jpki { session: self })
    }

    pub fn input_support(&mut self) -> Result<InputSupport<'_, T>, CardError> {
        self.measure("select input support", |s| {
            s.select_application(input_support::APPLICATION)
        })?;
        Ok(InputSupport { session: self })
    }

    pub fn card_face(&mut self) -> Result<CardFace<'_, T>, CardError> {
        self.measure("select card face", |s| {
            s.select_application(card_face::APPLICATION)
        })?;
        Ok(CardFace { session: self })
    }
}
