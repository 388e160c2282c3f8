//! The card-face application (券面AP), opened with 照合番号B — never with 照合番号A, which is the
//! Individual Number.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::cv_certificate::CvCertificate;
use super::profile::{card_face as ef, ins, tag};
use super::secrets::MatchingNumberB;
use super::types::{CalendarDate, RsaPublicKeyObject, Sex};
use super::{PinState, guard_tries};
use crate::apdu::{CardStatus, Command, Le, StatusWord};
use crate::reader::{Application, CardError, CardSession};
use crate::tlv::{self, Children, TlvError};
use crate::transport::CardTransport;

/// The data objects `DF21`–`DF27` that `DF28` signs, in card order (model v1).
const SIGNED_TAGS: [u16; 7] = [
    tag::OFFSETS,
    tag::CF_BIRTH_DATE,
    tag::CF_SEX,
    tag::CF_PUBLIC_KEY,
    tag::CF_NAME_IMAGE,
    tag::CF_ADDRESS_IMAGE,
    tag::CF_FACE_IMAGE,
];

/// EF 0002 of the card-face application. Held in memory for the check only; wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CardFaceData {
    pub birth_date: CalendarDate,
    pub sex: Sex,
    /// The chip's own card-face key, which answers INTERNAL AUTHENTICATE.
    #[zeroize(skip)]
    pub chip_public_key: RsaPublicKeyObject,
    /// PNG.
    pub name_image: Vec<u8>,
    /// PNG.
    pub address_image: Vec<u8>,
    /// JPEG 2000.
    pub face_image: Vec<u8>,
    pub signature: Vec<u8>,
    pub expiry: CalendarDate,
    /// PNG.
    pub security_code_image: Vec<u8>,
    /// The encoded `DF21`…`DF27` TLVs exactly as stored: what `DF28` signs.
    pub signed_bytes: Vec<u8>,
}

impl std::fmt::Debug for CardFaceData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardFaceData(redacted)")
    }
}

impl CardFaceData {
    pub fn parse(ef_content: &[u8]) -> Result<Self, TlvError> {
        let container = tlv::unwrap_single(ef_content, u32::from(tag::CONTAINER))?;
        let children = Children::parse(container)?;
        // The signature covers DF21..DF27 as they stand, in this order and nothing between.
        let items = children.items();
        let mut signed_bytes = Vec::new();
        for (position, expected) in SIGNED_TAGS.iter().enumerate() {
            let item = items
                .get(position)
                .ok_or(TlvError::Missing(u32::from(*expected)))?;
            if item.tag != u32::from(*expected) {
                return Err(TlvError::UnexpectedTag {
                    expected: u32::from(*expected),
                    found: item.tag,
                });
            }
            signed_bytes.extend_from_slice(item.encoded);
        }
        let value = |t: u16| children.require(u32::from(t)).map(|item| item.value);
        let date = |t: u16, what: &str| {
            CalendarDate::parse_yyyymmdd(value(t)?)
                .ok_or_else(|| TlvError::Malformed(format!("{what} is not a YYYYMMDD date")))
        };
        Ok(Self {
            birth_date: date(tag::CF_BIRTH_DATE, "birth date")?,
            sex: Sex::from_code(value(tag::CF_SEX)?)
                .ok_or_else(|| TlvError::Malformed("sex code is not 1, 2 or 9".into()))?,
            chip_public_key: RsaPublicKeyObject::parse(value(tag::CF_PUBLIC_KEY)?)?,
            name_image: value(tag::CF_NAME_IMAGE)?.to_vec(),
            address_image: value(tag::CF_ADDRESS_IMAGE)?.to_vec(),
            face_image: value(tag::CF_FACE_IMAGE)?.to_vec(),
            signature: value(tag::CF_SIGNATURE)?.to_vec(),
            expiry: date(tag::CF_EXPIRY, "card expiry")?,
            security_code_image: value(tag::CF_SECURITY_CODE_IMAGE)?.to_vec(),
            signed_bytes,
        })
    }
}

/// The answer to the live-chip challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalAuthentication {
    /// PKCS#1 v1.5 SHA-256 signature over the challenge by the chip's card-face key.
    Signed(Vec<u8>),
    /// The card answered a status word instead of a signature (`6D 00`, `6E 00`, `6A 81`, …).
    /// Every card carries its chip key in the signed `DF24`, so a card that has the key and does
    /// not use it is treated as a copy of the data onto another chip (card profile:
    /// `ins::INTERNAL_AUTHENTICATE`).
    Refused(StatusWord),
}

/// The card-face application, selected.
pub struct CardFace<'s, T: CardTransport> {
    pub(super) session: &'s mut CardSession<T>,
}

impl<'s, T: CardTransport> CardFace<'s, T> {
    pub fn cv_certificate(&mut self) -> Result<CvCertificate, CardError> {
        const OPERATION: &str = "read card-face CV certificate";
        self.session.measure(OPERATION, |s| {
            let bytes = s.read_tlv_ef(ef::CV_CERT)?;
            CvCertificate::parse(&bytes).map_err(|source| CardError::MalformedTlv {
                operation: OPERATION,
                source,
            })
        })
    }

    pub fn matching_number_state(&mut self) -> Result<PinState, CardError> {
        self.session.measure("read 照合番号B tries", |s| {
            s.pin_state(ef::MATCHING_NUMBER_B)
        })
    }

    /// Reads the tries left, refuses at one try left, and only then sends 照合番号B.
    pub fn open(self, number: &MatchingNumberB) -> Result<CardFaceOpened<'s, T>, CardError> {
        self.session.measure("verify 照合番号B", |s| {
            guard_tries(s.pin_state(ef::MATCHING_NUMBER_B)?)?;
            s.verify(ef::MATCHING_NUMBER_B, number.as_bytes())
        })?;
        Ok(CardFaceOpened {
            session: self.session,
        })
    }
}

/// The card-face application opened with 照合番号B.
pub struct CardFaceOpened<'s, T: CardTransport> {
    session: &'s mut CardSession<T>,
}

impl<T: CardTransport> CardFaceOpened<'_, T> {
    pub fn face_data(&mut self) -> Result<CardFaceData, CardError> {
        const OPERATION: &str = "read card-face data";
        self.session.measure(OPERATION, |s| {
            let mut bytes = s.read_tlv_ef(ef::FACE_DATA)?;
            let parsed = CardFaceData::parse(&bytes).map_err(|source| CardError::MalformedTlv {
                operation: OPERATION,
                source,
            });
            bytes.zeroize();
            parsed
        })
    }

    /// Asks the chip to sign a fresh challenge with its card-face key.
    pub fn internal_authenticate(
        &mut self,
        challenge: &[u8; ins::INTERNAL_AUTH_CHALLENGE_LEN],
    ) -> Result<InternalAuthentication, CardError> {
        self.session.measure("internal authenticate", |s| {
            let command = Command::new(0x00, ins::INTERNAL_AUTHENTICATE, 0x00, 0x00)
                .with_data(challenge.as_slice())
                .with_le(Le::short_max());
            let response = s.transmit_unlocked(&command)?;
            // Any status but success is the card's answer, not a link fault: the verifier judges
            // it (a refusal fails the live-chip check) instead of retrying or giving up.
            match response.status().decode() {
                CardStatus::Success => Ok(InternalAuthentication::Signed(response.into_data())),
                _ => Ok(InternalAuthentication::Refused(response.status())),
            }
        })
    }
}

pub(super) const APPLICATION: Application = Application::CardFace;
