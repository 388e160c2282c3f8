//! A software phone presenting the My Number Card as an ISO/IEC 18013-5 mdoc, at APDU level, with
//! its own test issuer PKI ([`pki`]) and one profile per rule the reader must enforce.
//!
//! ```no_run
//! use honnin_simcard::mdoc::PhoneProfile;
//! let phone = PhoneProfile::Genuine.build().expect("builds");
//! ```

mod issuer;
pub mod phone;
pub mod pki;

pub use issuer::{IssueOptions, TAMPERED_FAMILY_NAME};
pub use phone::{Behaviour, SoftwarePhone};
pub use pki::MdocPki;

use honnin_core::mdoc::{IssuerAnchors, MdocProfile};

use crate::error::SimError;

/// The document type the wrong-doctype profile's MSO signs (an mDL instead of the asked one).
pub const OTHER_DOC_TYPE: &str = "org.iso.18013.5.1.mDL.other";

/// One software phone per rule of the phone check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneProfile {
    /// Everything verifies.
    Genuine,
    /// The family name changed after the issuer signed it: digest mismatch.
    ElementTampered,
    /// The MSO's validUntil has passed.
    MsoExpired,
    /// The MSO's validFrom is in the future.
    MsoNotYetValid,
    /// Signed by a document signer under a forger's IACA (same names, other key).
    UnknownIssuer,
    /// The issuer signature bytes altered.
    IssuerSignatureForged,
    /// The genuine MSO, presented by another phone with its own device key: a clone.
    Clone,
    /// The MSO signs another document type than the document claims.
    WrongDocType,
    /// Answers with a session message recorded from an earlier session.
    Replayed,
    /// Stops answering after the session began (leaves the field): card_removed.
    StopsAnswering,
    /// The decrypted DeviceResponse is malformed CBOR.
    MalformedCbor,
    /// Returns only the first element asked for.
    Partial,
}

impl PhoneProfile {
    pub const ALL: [PhoneProfile; 12] = [
        PhoneProfile::Genuine,
        PhoneProfile::ElementTampered,
        PhoneProfile::MsoExpired,
        PhoneProfile::MsoNotYetValid,
        PhoneProfile::UnknownIssuer,
        PhoneProfile::IssuerSignatureForged,
        PhoneProfile::Clone,
        PhoneProfile::WrongDocType,
        PhoneProfile::Replayed,
        PhoneProfile::StopsAnswering,
        PhoneProfile::MalformedCbor,
        PhoneProfile::Partial,
    ];

    /// The name after `sim:` on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PhoneProfile::Genuine => "mdoc-genuine",
            PhoneProfile::ElementTampered => "mdoc-element-tampered",
            PhoneProfile::MsoExpired => "mdoc-expired",
            PhoneProfile::MsoNotYetValid => "mdoc-not-yet-valid",
            PhoneProfile::UnknownIssuer => "mdoc-unknown-issuer",
            PhoneProfile::IssuerSignatureForged => "mdoc-signature-forged",
            PhoneProfile::Clone => "mdoc-clone",
            PhoneProfile::WrongDocType => "mdoc-wrong-doctype",
            PhoneProfile::Replayed => "mdoc-replayed",
            PhoneProfile::StopsAnswering => "mdoc-stops-answering",
            PhoneProfile::MalformedCbor => "mdoc-malformed-cbor",
            PhoneProfile::Partial => "mdoc-partial",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The phone, presenting the [`MdocProfile::default`] document.
    pub fn build(self) -> Result<SoftwarePhone, SimError> {
        self.build_with(&MdocProfile::default())
    }

    /// The phone, presenting `profile`'s document.
    pub fn build_with(self, profile: &MdocProfile) -> Result<SoftwarePhone, SimError> {
        self.build_behaving(profile, Behaviour::default())
    }

    /// The phone with extra misbehaviour on top of the profile's (fuzzing).
    pub fn build_behaving(
        self,
        profile: &MdocProfile,
        extra: Behaviour,
    ) -> Result<SoftwarePhone, SimError> {
        let mut options = IssueOptions::default();
        let mut behaviour = extra;
        match self {
            PhoneProfile::Genuine => {}
            PhoneProfile::ElementTampered => options.tamper_family_name = true,
            PhoneProfile::MsoExpired => options.validity = Some(issuer::EXPIRED_VALIDITY),
            PhoneProfile::MsoNotYetValid => options.validity = Some(issuer::FUTURE_VALIDITY),
            PhoneProfile::UnknownIssuer => options.unknown_issuer = true,
            PhoneProfile::IssuerSignatureForged => options.forge_signature = true,
            PhoneProfile::Clone => behaviour.clone_device_key = true,
            PhoneProfile::WrongDocType => options.mso_doc_type = Some(OTHER_DOC_TYPE),
            PhoneProfile::Replayed => behaviour.replay_earlier_session = true,
            PhoneProfile::StopsAnswering => behaviour.leave_during_transfer = true,
            PhoneProfile::MalformedCbor => behaviour.malformed_response = true,
            PhoneProfile::Partial => behaviour.partial = true,
        }
        let portrait = crate::Fixtures::embedded()
            .file(crate::names::FACE_IMAGE)?
            .to_vec();
        let document = issuer::issue(profile, &portrait, &MdocPki::build()?, options)?;
        SoftwarePhone::new(document, behaviour)
    }
}

/// The issuer anchors of the software phone (the test IACA), as a deployment would configure.
pub fn test_anchors() -> Result<IssuerAnchors, SimError> {
    IssuerAnchors::from_der(&[MdocPki::build()?.iaca])
        .map_err(|e| SimError::Encoding(e.to_string()))
}

/// `fixtures/pki/mdoc/anchors`: the directory form of [`test_anchors`].
pub fn anchors_dir() -> std::path::PathBuf {
    crate::fixtures::fixtures_dir().join("pki/mdoc/anchors")
}
