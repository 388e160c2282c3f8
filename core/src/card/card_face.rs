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

/// The data objects of card-face EF 0002 in card order, and whether `DF28` signs each (card
/// profile, `tag::CF_SIGNATURE`). `DF29` (expiry) is signed because `check_expiry` relies on it:
/// everything a check relies on must be covered by the signature it checked (issue 17).
const LAYOUT: [(u16, bool); 10] = [
    (tag::OFFSETS, true),
    (tag::CF_BIRTH_DATE, true),
    (tag::CF_SEX, true),
    (tag::CF_PUBLIC_KEY, true),
    (tag::CF_NAME_IMAGE, true),
    (tag::CF_ADDRESS_IMAGE, true),
    (tag::CF_FACE_IMAGE, true),
    (tag::CF_SIGNATURE, false),
    (tag::CF_EXPIRY, true),
    (tag::CF_SECURITY_CODE_IMAGE, false),
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
    /// The encoded `DF21`…`DF27` and `DF29` TLVs exactly as stored, concatenated in card order:
    /// what `DF28` signs.
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
        // The signature covers DF21..DF27 and DF29 as they stand, each at its place in card order
        // (Children refuses a second copy of a tag, so each field below is read from the item
        // the signature covered).
        let items = children.items();
        let mut signed_bytes = Vec::new();
        for (position, (expected, signed)) in LAYOUT.iter().enumerate() {
            let item = items
                .get(position)
                .ok_or(TlvError::Missing(u32::from(*expected)))?;
            if item.tag != u32::from(*expected) {
                return Err(TlvError::UnexpectedTag {
                    expected: u32::from(*expected),
                    found: item.tag,
                });
            }
            if *signed {
                signed_bytes.extend_from_slice(item.encoded);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The genuine software card's EF 0002 (fixtures/README.md).
    const GENUINE: &[u8] = include_bytes!("../../../fixtures/cards/genuine/card-face-0002.bin");

    fn items(ef: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let container = tlv::unwrap_single(ef, u32::from(tag::CONTAINER)).expect("FF20");
        tlv::split(container)
            .expect("items")
            .iter()
            .map(|item| (item.tag, item.encoded.to_vec()))
            .collect()
    }

    fn container(items: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let value: Vec<u8> = items.iter().flat_map(|(_, e)| e.clone()).collect();
        tlv::encode(u32::from(tag::CONTAINER), &value)
    }

    #[test]
    fn the_signature_covers_the_expiry_the_expiry_check_relies_on() {
        let face = CardFaceData::parse(GENUINE).expect("parses");
        let all = items(GENUINE);
        let expiry = &all
            .iter()
            .find(|(t, _)| *t == u32::from(tag::CF_EXPIRY))
            .expect("DF29")
            .1;
        assert!(face.signed_bytes.ends_with(expiry), "DF29 must be signed");
        let unsigned = [tag::CF_SIGNATURE, tag::CF_SECURITY_CODE_IMAGE];
        let expected: Vec<u8> = all
            .iter()
            .filter(|(t, _)| !unsigned.iter().any(|u| u32::from(*u) == *t))
            .flat_map(|(_, e)| e.clone())
            .collect();
        assert_eq!(face.signed_bytes, expected);
    }

    #[test]
    fn an_expiry_out_of_its_place_is_refused() {
        // DF29 in front of DF28 would be read but could fall outside what was signed.
        let mut all = items(GENUINE);
        all.swap(7, 8);
        assert!(matches!(
            CardFaceData::parse(&container(&all)),
            Err(TlvError::UnexpectedTag { .. })
        ));
        // And without DF29 there is nothing to check the expiry against.
        let mut all = items(GENUINE);
        all.remove(8);
        assert!(CardFaceData::parse(&container(&all)).is_err());
    }
}
