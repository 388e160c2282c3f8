//! From a description of a card (whose keys, which certificates, what data) to a software card.
//!
//! Profiles start from [`CardSpec::genuine`] and change what makes them differ; anything altered
//! *after* signing (tampering, malformed TLV) is done on the assembled card by the profile.

use honnin_core::apdu::StatusWord;
use honnin_core::card::profile::{KEY_ID_LEN, aid, card_face, input_support, jpki};
use rsa::{PrivateKey, PublicKey};

use crate::card::{CardFacts, CardStats, SoftwareCard};
use crate::crypto::key_id;
use crate::error::SimError;
use crate::filesystem::{Access, Application};
use crate::fixtures::Fixtures;
use crate::holder::{
    AUTH_PIN, Holder, INPUT_SUPPORT_PIN, SIGN_PASSWORD, TEST_HOLDER, TEST_INDIVIDUAL_NUMBER,
};
use crate::layout::{self, BasicAttributes, CardFace, Signature};
use crate::link::LinkConfig;
use crate::names;
use crate::pin::Pin;

/// The private keys inside the chip.
pub struct ChipKeys {
    pub auth: PrivateKey,
    pub sign: PrivateKey,
    /// Answers INTERNAL AUTHENTICATE.
    pub face: PrivateKey,
}

/// Who signs the card-face and input-support data.
pub struct DataSigning {
    /// The issuer id written into both CV certificates.
    pub cv_issuer_id: [u8; KEY_ID_LEN],
    /// The key that actually signs the CV certificates.
    pub cv_issuer_key: PrivateKey,
    pub card_face_signer: PrivateKey,
    pub input_support_signer: PrivateKey,
}

/// Everything that makes one card.
pub struct CardSpec {
    pub profile: String,
    /// What the data says about the holder.
    pub holder: Holder,
    /// What the chip accepts as 照合番号B.
    pub matching_number_b: String,
    pub auth_cert: Vec<u8>,
    pub auth_ca_cert: Vec<u8>,
    pub sign_cert: Vec<u8>,
    pub sign_ca_cert: Vec<u8>,
    pub chip: ChipKeys,
    /// `DF24`: the card-face key the issuer certified (the chip's own, unless it is a clone).
    pub face_public_key: PublicKey,
    pub data_signing: DataSigning,
    pub name_image: Vec<u8>,
    pub address_image: Vec<u8>,
    pub face_image: Vec<u8>,
    pub security_code_image: Vec<u8>,
    pub internal_auth: bool,
}

impl CardSpec {
    /// The genuine test card.
    pub fn genuine(fixtures: &Fixtures, profile: &str) -> Result<Self, SimError> {
        let face = fixtures.key(names::CARD_FACE)?;
        let issuer = fixtures.key(names::DATA_ISSUER)?;
        Ok(Self {
            profile: profile.to_owned(),
            holder: TEST_HOLDER,
            matching_number_b: TEST_HOLDER.matching_number_b(),
            auth_cert: fixtures.cert(names::CARD_AUTH)?.to_vec(),
            auth_ca_cert: fixtures.cert(names::JPKI_AUTH_CA)?.to_vec(),
            sign_cert: fixtures.cert(names::CARD_SIGN)?.to_vec(),
            sign_ca_cert: fixtures.cert(names::JPKI_SIGN_CA)?.to_vec(),
            face_public_key: face.to_public_key(),
            chip: ChipKeys {
                auth: fixtures.key(names::CARD_AUTH)?,
                sign: fixtures.key(names::CARD_SIGN)?,
                face,
            },
            data_signing: DataSigning {
                cv_issuer_id: key_id(issuer.as_public_key())?,
                cv_issuer_key: issuer,
                card_face_signer: fixtures.key(names::CARD_FACE_SIGNER)?,
                input_support_signer: fixtures.key(names::INPUT_SUPPORT_SIGNER)?,
            },
            name_image: fixtures.file(names::NAME_IMAGE)?.to_vec(),
            address_image: fixtures.file(names::ADDRESS_IMAGE)?.to_vec(),
            face_image: fixtures.file(names::FACE_IMAGE)?.to_vec(),
            security_code_image: fixtures.file(names::SECURITY_CODE_IMAGE)?.to_vec(),
            internal_auth: true,
        })
    }

    /// The card-face data this spec describes.
    pub fn card_face_data(&self) -> CardFace<'_> {
        CardFace {
            birth_date: self.holder.birth_date,
            sex: self.holder.sex.code(),
            public_key: &self.face_public_key,
            name_image: &self.name_image,
            address_image: &self.address_image,
            face_image: &self.face_image,
            expiry: self.holder.card_expiry,
            security_code_image: &self.security_code_image,
        }
    }

    pub fn basic_attributes(&self) -> BasicAttributes<'_> {
        BasicAttributes {
            name: self.holder.name,
            address: self.holder.address,
            birth_date: self.holder.birth_date,
            sex: self.holder.sex.code(),
        }
    }

    /// Builds the card.
    pub fn assemble(self) -> Result<SoftwareCard, SimError> {
        let signing = &self.data_signing;
        let cv = |signer: &PrivateKey| {
            layout::cv_certificate(
                signing.cv_issuer_id,
                signer.as_public_key(),
                &signing.cv_issuer_key,
            )
        };
        let card_face_cv = cv(&signing.card_face_signer)?;
        let input_support_cv = cv(&signing.input_support_signer)?;
        let face_ef = layout::card_face(
            &self.card_face_data(),
            Signature::By(&signing.card_face_signer),
        )?;
        let number_ef = TEST_INDIVIDUAL_NUMBER.as_bytes().to_vec();
        let attributes_ef = layout::basic_attributes(&self.basic_attributes()).content;
        let signature_ef = layout::input_support_signature(
            &number_ef,
            &attributes_ef,
            &signing.input_support_signer,
        )?;

        let auth_pin = jpki::AUTH_PIN;
        let sign_pin = jpki::SIGN_PIN;
        let jpki_app = Application::new(aid::JPKI)
            .binary(jpki::TOKEN, layout::jpki_token(), Access::Free)
            .binary(jpki::AUTH_CERT, self.auth_cert, Access::Free)
            .binary(jpki::AUTH_CA_CERT, self.auth_ca_cert, Access::Free)
            .binary(
                jpki::SIGN_CERT,
                self.sign_cert,
                Access::AfterPin(vec![sign_pin]),
            )
            .binary(jpki::SIGN_CA_CERT, self.sign_ca_cert, Access::Free)
            .key(jpki::AUTH_KEY, self.chip.auth, auth_pin)
            .pin(
                auth_pin,
                Pin::new(AUTH_PIN.as_bytes(), jpki::AUTH_PIN_TRIES),
            )
            .key(jpki::SIGN_KEY, self.chip.sign, sign_pin)
            .pin(
                sign_pin,
                Pin::new(SIGN_PASSWORD.as_bytes(), jpki::SIGN_PIN_TRIES),
            );

        let is_pin = vec![input_support::PIN];
        let input_support_app = Application::new(aid::INPUT_SUPPORT)
            .binary(
                input_support::INDIVIDUAL_NUMBER_NEVER_READ,
                number_ef,
                Access::AfterPin(is_pin.clone()),
            )
            .binary(
                input_support::BASIC_ATTRIBUTES,
                attributes_ef,
                Access::AfterPin(is_pin.clone()),
            )
            .binary(
                input_support::SIGNATURE,
                signature_ef,
                Access::AfterPin(is_pin),
            )
            .binary(input_support::CV_CERT, input_support_cv, Access::Free)
            .binary(input_support::AP_INFO, layout::ap_info(), Access::Free)
            .pin(
                input_support::PIN,
                Pin::new(INPUT_SUPPORT_PIN.as_bytes(), input_support::PIN_TRIES),
            );

        let face_pins = vec![
            card_face::MATCHING_NUMBER_B,
            card_face::MATCHING_NUMBER_A_NEVER_USED,
        ];
        let card_face_app = Application::new(aid::CARD_FACE)
            .binary(
                card_face::FACE_DATA,
                face_ef.content,
                Access::AfterPin(face_pins.clone()),
            )
            .binary(card_face::CV_CERT, card_face_cv, Access::Free)
            .pin(
                card_face::MATCHING_NUMBER_B,
                Pin::new(
                    self.matching_number_b.as_bytes(),
                    card_face::MATCHING_NUMBER_B_TRIES,
                ),
            )
            .pin(
                card_face::MATCHING_NUMBER_A_NEVER_USED,
                Pin::new(
                    TEST_INDIVIDUAL_NUMBER.as_bytes(),
                    card_face::MATCHING_NUMBER_B_TRIES,
                ),
            )
            .with_internal_auth(self.chip.face, face_pins);

        Ok(SoftwareCard {
            apps: vec![jpki_app, input_support_app, card_face_app],
            current_app: None,
            current_ef: None,
            verified: Default::default(),
            internal_auth_supported: self.internal_auth,
            internal_auth_refusal: StatusWord::INS_NOT_SUPPORTED,
            link: LinkConfig::default(),
            faults: Vec::new(),
            log: Vec::new(),
            stats: CardStats::default(),
            ins_counts: Default::default(),
            variation: None,
            pending: Default::default(),
            facts: CardFacts {
                profile: self.profile,
                holder: self.holder,
                matching_number_b: self.matching_number_b,
                auth_pin: AUTH_PIN,
                sign_password: SIGN_PASSWORD,
                input_support_pin: INPUT_SUPPORT_PIN,
            },
        })
    }
}
