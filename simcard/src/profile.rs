//! Card profiles: the genuine card, forgeries that each break one rule, and faulty links.
//!
//! Every profile is built from the committed fixtures; no key is generated at run time. The names
//! are what `--reader sim:<name>` takes.

use honnin_core::card::profile::{aid, card_face, input_support, ins};

use crate::assemble::CardSpec;
use crate::card::SoftwareCard;
use crate::error::SimError;
use crate::fixtures::Fixtures;
use crate::holder::{Holder, TEST_HOLDER};
use crate::layout::{self, Signature};
use crate::link::{Fault, When};
use crate::names;
use crate::pin::PinId;
use crate::variations::Variation;

/// The APDU at which `tag-loss` loses the card unless told otherwise: inside the first EF read
/// of any level (SELECT AP, SELECT EF, READ BINARY, …).
pub const DEFAULT_TAG_LOSS_AT: usize = 4;

/// The address the tampered input-support EF 0002 claims.
pub const TAMPERED_ADDRESS: &str = "東京都千代田区偽造町9-9-9";
/// The birth date the tampered card-face EF 0002 claims.
pub const TAMPERED_BIRTH_DATE: &str = "19800401";
/// The card-face expiry of the expired card (before the tests' clock of 2026-11-25).
pub const EXPIRED_CARD_EXPIRY: &str = "20250401";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Everything genuine and valid.
    Genuine,
    /// Certificates chain to a forger's CAs with the test PKI's names but other keys; the CV
    /// certificates claim the genuine issuer id but are signed by the forger's key.
    ForgedCa,
    /// Genuine data and certificates on another chip: the chip's signatures do not verify.
    Clone,
    /// Input-support address and card-face birth date changed after signing.
    TamperedAttribute,
    /// Card-face photo swapped for another person's after signing.
    TamperedFace,
    /// Card-face expiry (DF29) in the past.
    ExpiredCard,
    /// Authentication and signing certificates expired.
    ExpiredCertificate,
    /// Authentication and signing certificates not yet valid.
    NotYetValidCertificate,
    /// Authentication certificate keyCertSign only; signing certificate keyEncipherment only.
    WrongKeyUsage,
    /// Authentication and signing certificates listed in the test CRLs.
    Revoked,
    /// Authentication PIN counter at 1.
    PinOneTryLeft,
    /// Authentication PIN locked.
    PinLocked,
    /// The last item of card-face EF 0002 and of input-support EF 0002 claims more bytes than
    /// the EF holds.
    MalformedTlv,
    /// Every READ BINARY answer loses its last two bytes (its status word).
    TruncatedResponse,
    /// The card leaves the field at exchange `at`; with `command_executed` it has executed the
    /// command first and only the answer is lost.
    TagLoss { at: usize, command_executed: bool },
    /// The chip does not support INTERNAL AUTHENTICATE (`6D 00`).
    NoInternalAuth,
    /// A clone (genuine data on another chip) that hides by answering INTERNAL AUTHENTICATE with
    /// `6D 00` instead of a signature it cannot make (issue 17, level A downgrade).
    CloneNoInternalAuth,
    /// An expired card's signed data with `DF29` moved forward to 2034-04-01 after the issuer
    /// signed it, and a 照合番号B with the new year (issue 17: the expiry must be signed). The
    /// chip keeps the card-face key, so that only the signature over `DF29` can catch it; a
    /// clone doing the same would also fail the live-chip check.
    ExtendedExpiry,
    /// Card-face and input-support CV certificates issued by the JPKI root's key, naming it by
    /// its key id: a JPKI root must not certify card data (issue 17, anchors scoped by purpose).
    CvByJpkiRoot,
    /// A genuine card that differs in an allowed way (docs/card-variations.md); not in
    /// [`Profile::all`]: [`Variation::all`] lists them.
    Variation(Variation),
}

const ALL: [Profile; 20] = [
    Profile::Genuine,
    Profile::ForgedCa,
    Profile::Clone,
    Profile::TamperedAttribute,
    Profile::TamperedFace,
    Profile::ExpiredCard,
    Profile::ExpiredCertificate,
    Profile::NotYetValidCertificate,
    Profile::WrongKeyUsage,
    Profile::Revoked,
    Profile::PinOneTryLeft,
    Profile::PinLocked,
    Profile::MalformedTlv,
    Profile::TruncatedResponse,
    Profile::TagLoss {
        at: DEFAULT_TAG_LOSS_AT,
        command_executed: false,
    },
    Profile::TagLoss {
        at: DEFAULT_TAG_LOSS_AT,
        command_executed: true,
    },
    Profile::NoInternalAuth,
    Profile::CloneNoInternalAuth,
    Profile::ExtendedExpiry,
    Profile::CvByJpkiRoot,
];

impl Profile {
    /// Every profile (tag loss at [`DEFAULT_TAG_LOSS_AT`]).
    pub fn all() -> &'static [Profile] {
        &ALL
    }

    pub fn name(&self) -> &'static str {
        match self {
            Profile::Genuine => "genuine",
            Profile::ForgedCa => "forged-ca",
            Profile::Clone => "clone",
            Profile::TamperedAttribute => "tampered-attribute",
            Profile::TamperedFace => "tampered-face",
            Profile::ExpiredCard => "expired-card",
            Profile::ExpiredCertificate => "expired-certificate",
            Profile::NotYetValidCertificate => "not-yet-valid-certificate",
            Profile::WrongKeyUsage => "wrong-key-usage",
            Profile::Revoked => "revoked",
            Profile::PinOneTryLeft => "pin-one-try-left",
            Profile::PinLocked => "pin-locked",
            Profile::MalformedTlv => "malformed-tlv",
            Profile::TruncatedResponse => "truncated-response",
            Profile::TagLoss {
                command_executed: false,
                ..
            } => "tag-loss",
            Profile::TagLoss {
                command_executed: true,
                ..
            } => "tag-loss-executed",
            Profile::NoInternalAuth => "no-internal-auth",
            Profile::CloneNoInternalAuth => "clone-no-internal-auth",
            Profile::ExtendedExpiry => "extended-expiry",
            Profile::CvByJpkiRoot => "cv-by-jpki-root",
            Profile::Variation(v) => v.name(),
        }
    }

    /// One line for a CLI's list of simulated cards.
    pub fn description(&self) -> &'static str {
        match self {
            Profile::Genuine => "genuine card, everything valid",
            Profile::ForgedCa => "certificates and CV certificates from a forger with copied names",
            Profile::Clone => "genuine data on another chip: chip signatures do not verify",
            Profile::TamperedAttribute => {
                "input-support address and card-face birth date altered after signing"
            }
            Profile::TamperedFace => "face photo swapped after signing",
            Profile::ExpiredCard => "card expiry 2025-04-01",
            Profile::ExpiredCertificate => "JPKI certificates expired 2024-05-31",
            Profile::NotYetValidCertificate => "JPKI certificates valid from 2031-06-01",
            Profile::WrongKeyUsage => "JPKI certificates without the signing key usages",
            Profile::Revoked => "JPKI certificates listed in the test CRLs",
            Profile::PinOneTryLeft => "authentication PIN with one try left",
            Profile::PinLocked => "authentication PIN locked",
            Profile::MalformedTlv => "card-face and input-support data with an overrunning TLV",
            Profile::TruncatedResponse => "every READ BINARY answer loses its status word",
            Profile::TagLoss {
                command_executed: false,
                ..
            } => "card leaves the field before exchange N (tag-loss:N)",
            Profile::TagLoss { .. } => {
                "card executes exchange N, then its answer is lost (tag-loss-executed:N)"
            }
            Profile::NoInternalAuth => "chip without INTERNAL AUTHENTICATE",
            Profile::CloneNoInternalAuth => {
                "clone that answers 6D00 to INTERNAL AUTHENTICATE instead of signing"
            }
            Profile::ExtendedExpiry => "expired card's data with DF29 moved to 2034 after signing",
            Profile::CvByJpkiRoot => {
                "CV certificates issued by the JPKI root instead of the data issuer"
            }
            Profile::Variation(v) => v.description(),
        }
    }

    /// Parses a profile name; the tag-loss profiles take an optional exchange number,
    /// `tag-loss:7`.
    pub fn from_name(name: &str) -> Result<Self, SimError> {
        let unknown = || SimError::UnknownProfile {
            name: name.to_owned(),
            known: ALL.map(|p| p.name()).join(", "),
        };
        let (base, at) = match name.split_once(':') {
            Some((base, at)) => (base, Some(at.parse::<usize>().map_err(|_| unknown())?)),
            None => (name, None),
        };
        if let (Some(variation), None) = (Variation::from_name(base), at) {
            return Ok(Profile::Variation(variation));
        }
        let profile = ALL
            .iter()
            .find(|p| p.name() == base)
            .copied()
            .ok_or_else(unknown)?;
        match (profile, at) {
            (
                Profile::TagLoss {
                    command_executed, ..
                },
                Some(at),
            ) if at > 0 => Ok(Profile::TagLoss {
                at,
                command_executed,
            }),
            (_, None) => Ok(profile),
            _ => Err(unknown()),
        }
    }

    /// Builds the card from the fixtures compiled into this crate.
    pub fn build(&self) -> Result<SoftwareCard, SimError> {
        self.build_from(&Fixtures::embedded())
    }

    /// Builds the card from the given fixtures.
    pub fn build_from(&self, fx: &Fixtures) -> Result<SoftwareCard, SimError> {
        let mut spec = CardSpec::genuine(fx, self.name())?;
        match self {
            Profile::ForgedCa => {
                spec.auth_cert = fx.cert(names::FORGED_AUTH)?.to_vec();
                spec.sign_cert = fx.cert(names::FORGED_SIGN)?.to_vec();
                spec.auth_ca_cert = fx.cert(names::FORGER_AUTH_CA)?.to_vec();
                spec.sign_ca_cert = fx.cert(names::FORGER_SIGN_CA)?.to_vec();
                spec.chip.auth = fx.key(names::FORGED_AUTH)?;
                spec.chip.sign = fx.key(names::FORGED_SIGN)?;
                spec.chip.face = fx.key(names::FORGED_FACE)?;
                spec.face_public_key = spec.chip.face.to_public_key();
                // The genuine issuer id stays in the CV certificates: only the keys are forged.
                spec.data_signing.cv_issuer_key = fx.key(names::FORGER_DATA_ISSUER)?;
                spec.data_signing.card_face_signer = fx.key(names::FORGER_DATA_SIGNER)?;
                spec.data_signing.input_support_signer = fx.key(names::FORGER_DATA_SIGNER)?;
            }
            Profile::Clone | Profile::CloneNoInternalAuth => {
                // DF24 keeps the genuine public key: the cloner copied the signed data.
                spec.chip.auth = fx.key(names::CLONE_AUTH)?;
                spec.chip.sign = fx.key(names::CLONE_SIGN)?;
                spec.chip.face = fx.key(names::CLONE_FACE)?;
                spec.internal_auth = *self == Profile::Clone;
            }
            Profile::TamperedAttribute => return tampered_attribute(spec),
            Profile::TamperedFace => return tampered_face(spec, fx),
            Profile::ExtendedExpiry => return extended_expiry(spec),
            Profile::ExpiredCard => {
                spec.holder = Holder {
                    card_expiry: EXPIRED_CARD_EXPIRY,
                    ..TEST_HOLDER
                };
                spec.matching_number_b = spec.holder.matching_number_b();
            }
            Profile::ExpiredCertificate => {
                spec.auth_cert = fx.cert(names::CARD_AUTH_EXPIRED)?.to_vec();
                spec.sign_cert = fx.cert(names::CARD_SIGN_EXPIRED)?.to_vec();
            }
            Profile::NotYetValidCertificate => {
                spec.auth_cert = fx.cert(names::CARD_AUTH_NOT_YET_VALID)?.to_vec();
                spec.sign_cert = fx.cert(names::CARD_SIGN_NOT_YET_VALID)?.to_vec();
            }
            Profile::WrongKeyUsage => {
                spec.auth_cert = fx.cert(names::CARD_AUTH_WRONG_KU)?.to_vec();
                spec.sign_cert = fx.cert(names::CARD_SIGN_WRONG_KU)?.to_vec();
            }
            Profile::Revoked => {
                spec.auth_cert = fx.cert(names::CARD_AUTH_REVOKED)?.to_vec();
                spec.sign_cert = fx.cert(names::CARD_SIGN_REVOKED)?.to_vec();
            }
            Profile::NoInternalAuth => spec.internal_auth = false,
            Profile::CvByJpkiRoot => {
                let root = fx.key(names::JPKI_ROOT)?;
                spec.data_signing.cv_issuer_id = crate::crypto::key_id(root.as_public_key())?;
                spec.data_signing.cv_issuer_key = root;
            }
            Profile::Variation(variation) => return variation.build(spec, fx),
            Profile::Genuine
            | Profile::PinOneTryLeft
            | Profile::PinLocked
            | Profile::MalformedTlv
            | Profile::TruncatedResponse
            | Profile::TagLoss { .. } => {}
        }
        let mut card = spec.assemble()?;
        match *self {
            Profile::PinOneTryLeft => card.set_tries_left(PinId::Auth, 1),
            Profile::PinLocked => card.set_tries_left(PinId::Auth, 0),
            Profile::MalformedTlv => malform(&mut card)?,
            Profile::TruncatedResponse => {
                card = card.with_fault(Fault::Truncate {
                    when: When::EveryCommand {
                        ins: ins::READ_BINARY,
                    },
                    bytes: 2,
                })
            }
            Profile::TagLoss {
                at,
                command_executed,
            } => {
                let when = When::Exchange(at);
                card = card.with_fault(if command_executed {
                    Fault::TagLostAfter(when)
                } else {
                    Fault::TagLostBefore(when)
                });
            }
            _ => {}
        }
        Ok(card)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Profile::TagLoss { at, .. } if *at != DEFAULT_TAG_LOSS_AT => {
                write!(f, "{}:{at}", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        Profile::from_name(s)
    }
}

/// Replaces the content of a binary EF of the assembled card.
fn replace(
    card: &mut SoftwareCard,
    app: &[u8; 10],
    fid: u16,
    content: Vec<u8>,
) -> Result<(), SimError> {
    let slot = card
        .apps
        .iter_mut()
        .find(|a| &a.aid == app)
        .and_then(|a| a.content_mut(fid))
        .ok_or_else(|| SimError::fixture(&format!("EF {fid:04X}"), "missing on the card"))?;
    *slot = content;
    Ok(())
}

/// The genuine card-face signature for this spec's data.
fn genuine_face_signature(spec: &CardSpec) -> Result<Vec<u8>, SimError> {
    let built = layout::card_face(
        &spec.card_face_data(),
        Signature::By(&spec.data_signing.card_face_signer),
    )?;
    Ok(built.signature.unwrap_or_default())
}

/// The input-support address and the card-face birth date change after the issuer signed them.
/// The chip accepts the 照合番号B of the altered birth date (the forger printed a matching card
/// face), so the issuer signatures are the only thing that fails.
fn tampered_attribute(mut spec: CardSpec) -> Result<SoftwareCard, SimError> {
    let signature = genuine_face_signature(&spec)?;
    let claimed = Holder {
        birth_date: TAMPERED_BIRTH_DATE,
        ..TEST_HOLDER
    };
    let face = layout::card_face(
        &layout::CardFace {
            birth_date: claimed.birth_date,
            ..spec.card_face_data()
        },
        Signature::Copied(signature),
    )?;
    let attributes = layout::basic_attributes(&layout::BasicAttributes {
        address: TAMPERED_ADDRESS,
        ..spec.basic_attributes()
    });
    spec.matching_number_b = claimed.matching_number_b();
    let mut card = spec.assemble()?;
    replace(
        &mut card,
        &aid::CARD_FACE,
        card_face::FACE_DATA,
        face.content,
    )?;
    replace(
        &mut card,
        &aid::INPUT_SUPPORT,
        input_support::BASIC_ATTRIBUTES,
        attributes.content,
    )?;
    card.facts.holder = claimed;
    Ok(card)
}

/// The face photo is swapped for another person's after the issuer signed the data: a valid
/// JPEG 2000 image (it decodes and shows a face), so only the signature over it fails.
fn tampered_face(spec: CardSpec, fx: &Fixtures) -> Result<SoftwareCard, SimError> {
    let signature = genuine_face_signature(&spec)?;
    let face = layout::card_face(
        &layout::CardFace {
            face_image: fx.file(names::SWAPPED_FACE_IMAGE)?,
            ..spec.card_face_data()
        },
        Signature::Copied(signature),
    )?;
    let mut card = spec.assemble()?;
    replace(
        &mut card,
        &aid::CARD_FACE,
        card_face::FACE_DATA,
        face.content,
    )?;
    Ok(card)
}

/// The issuer signed an expired card (2025-04-01); `DF29` then says the genuine card's 2034-04-01
/// and the chip accepts the 照合番号B with 2034, as a forger who reprinted the card face would.
fn extended_expiry(mut spec: CardSpec) -> Result<SoftwareCard, SimError> {
    let claimed = spec.holder;
    spec.holder = Holder {
        card_expiry: EXPIRED_CARD_EXPIRY,
        ..claimed
    };
    let signature = genuine_face_signature(&spec)?;
    spec.holder = claimed;
    let face = layout::card_face(&spec.card_face_data(), Signature::Copied(signature))?;
    let mut card = spec.assemble()?;
    replace(
        &mut card,
        &aid::CARD_FACE,
        card_face::FACE_DATA,
        face.content,
    )?;
    Ok(card)
}

/// The last item of card-face EF 0002 and of input-support EF 0002 claims more bytes than follow.
fn malform(card: &mut SoftwareCard) -> Result<(), SimError> {
    for (app, fid) in [
        (aid::CARD_FACE, card_face::FACE_DATA),
        (aid::INPUT_SUPPORT, input_support::BASIC_ATTRIBUTES),
    ] {
        let content = card
            .apps
            .iter_mut()
            .find(|a| a.aid == app)
            .and_then(|a| a.content_mut(fid))
            .ok_or_else(|| SimError::fixture(&format!("EF {fid:04X}"), "missing on the card"))?;
        let last = crate::tlv::child_positions(content)
            .and_then(|p| p.last().copied())
            .ok_or_else(|| SimError::fixture(&format!("EF {fid:04X}"), "not a container"))?;
        if !layout::overflow_length(content, last) {
            return Err(SimError::fixture(
                &format!("EF {fid:04X}"),
                "no length to corrupt",
            ));
        }
    }
    Ok(())
}
