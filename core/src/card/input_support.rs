//! The input-support application (券面事項入力補助AP): the basic four attributes and the issuer
//! signature over them. EF 0001 (the Individual Number) is never selected: the signature covers
//! its hash, which arrives in EF 0003 and is only ever held in memory to check that signature.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::cv_certificate::CvCertificate;
use super::profile::{input_support as ef, tag};
use super::secrets::InputSupportPin;
use super::types::{CalendarDate, Sex};
use super::{PinState, guard_tries, text_field};
use crate::reader::{Application, CardError, CardSession};
use crate::tlv::{self, Children};
use crate::transport::CardTransport;

/// The holder's name, address, birth date and sex, with the exact EF bytes their hash covers.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct BasicAttributes {
    pub name: String,
    pub address: String,
    pub birth_date: CalendarDate,
    pub sex: Sex,
    /// The whole content of EF 0002 as read (`DF32` is its SHA-256).
    pub ef_content: Vec<u8>,
}

impl std::fmt::Debug for BasicAttributes {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAttributes(redacted)")
    }
}

impl BasicAttributes {
    pub fn parse(ef_content: Vec<u8>) -> Result<Self, tlv::TlvError> {
        let container = tlv::unwrap_single(&ef_content, u32::from(tag::CONTAINER))?;
        let children = Children::parse(container)?;
        let name = text_field(&children, tag::IS_NAME)?;
        let address = text_field(&children, tag::IS_ADDRESS)?;
        let birth = children.require(u32::from(tag::IS_BIRTH_DATE))?;
        let birth_date = CalendarDate::parse_yyyymmdd(birth.value)
            .ok_or_else(|| tlv::TlvError::Malformed("birth date is not a YYYYMMDD date".into()))?;
        let sex = Sex::from_code(children.require(u32::from(tag::IS_SEX))?.value)
            .ok_or_else(|| tlv::TlvError::Malformed("sex code is not 1, 2 or 9".into()))?;
        Ok(Self {
            name,
            address,
            birth_date,
            sex,
            ef_content,
        })
    }
}

/// EF 0003: `FF30 { DF31 hash of EF 0001, DF32 hash of EF 0002, DF33 signature }`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct InputSupportSignature {
    /// SHA-256 of the Individual Number EF. A 12-digit number's hash can be reversed by trying
    /// every number, so this is used only to check the signature, and never stored or sent.
    pub individual_number_hash: Vec<u8>,
    pub attributes_hash: Vec<u8>,
    pub signature: Vec<u8>,
    /// The encoded `DF31` and `DF32` TLVs, exactly as stored: what `DF33` signs.
    pub signed_bytes: Vec<u8>,
}

impl std::fmt::Debug for InputSupportSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InputSupportSignature(redacted)")
    }
}

impl InputSupportSignature {
    pub fn parse(bytes: &[u8]) -> Result<Self, tlv::TlvError> {
        let container = tlv::unwrap_single(bytes, u32::from(tag::IS_SIGNATURE_CONTAINER))?;
        let children = Children::parse(container)?;
        let number = children.require(u32::from(tag::IS_NUMBER_HASH))?;
        let attributes = children.require(u32::from(tag::IS_ATTRIBUTES_HASH))?;
        let signature = children.require(u32::from(tag::IS_SIGNATURE))?;
        let mut signed_bytes = number.encoded.to_vec();
        signed_bytes.extend_from_slice(attributes.encoded);
        Ok(Self {
            individual_number_hash: number.value.to_vec(),
            attributes_hash: attributes.value.to_vec(),
            signature: signature.value.to_vec(),
            signed_bytes,
        })
    }
}

/// The input-support application, selected.
pub struct InputSupport<'s, T: CardTransport> {
    pub(super) session: &'s mut CardSession<T>,
}

impl<'s, T: CardTransport> InputSupport<'s, T> {
    /// The CV certificate of the key that signs EF 0003 (readable without PIN).
    pub fn cv_certificate(&mut self) -> Result<CvCertificate, CardError> {
        self.session
            .measure("read input-support CV certificate", |s| {
                let bytes = s.read_tlv_ef(ef::CV_CERT)?;
                CvCertificate::parse(&bytes).map_err(|source| CardError::MalformedTlv {
                    operation: "read input-support CV certificate",
                    source,
                })
            })
    }

    pub fn pin_state(&mut self) -> Result<PinState, CardError> {
        self.session
            .measure("read input-support PIN tries", |s| s.pin_state(ef::PIN))
    }

    /// Reads the tries left, refuses at one try left, and only then sends the PIN.
    pub fn unlock(self, pin: &InputSupportPin) -> Result<InputSupportUnlocked<'s, T>, CardError> {
        self.session.measure("verify input-support PIN", |s| {
            guard_tries(s.pin_state(ef::PIN)?)?;
            s.verify(ef::PIN, pin.as_bytes())
        })?;
        Ok(InputSupportUnlocked {
            session: self.session,
        })
    }
}

/// The input-support application with its PIN accepted.
pub struct InputSupportUnlocked<'s, T: CardTransport> {
    session: &'s mut CardSession<T>,
}

impl<T: CardTransport> InputSupportUnlocked<'_, T> {
    pub fn basic_attributes(&mut self) -> Result<BasicAttributes, CardError> {
        const OPERATION: &str = "read basic four attributes";
        self.session.measure(OPERATION, |s| {
            let bytes = s.read_tlv_ef(ef::BASIC_ATTRIBUTES)?;
            BasicAttributes::parse(bytes).map_err(|source| CardError::MalformedTlv {
                operation: OPERATION,
                source,
            })
        })
    }

    pub fn signature(&mut self) -> Result<InputSupportSignature, CardError> {
        const OPERATION: &str = "read input-support signature";
        self.session.measure(OPERATION, |s| {
            let mut bytes = s.read_tlv_ef(ef::SIGNATURE)?;
            let parsed =
                InputSupportSignature::parse(&bytes).map_err(|source| CardError::MalformedTlv {
                    operation: OPERATION,
                    source,
                });
            bytes.zeroize();
            parsed
        })
    }
}

pub(super) const APPLICATION: Application = Application::InputSupport;
