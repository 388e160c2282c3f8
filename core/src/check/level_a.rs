//! Level A: 照合番号B opens the card-face application; its data is verified under the issuer
//! signature, the chip proves it holds the card-face key, and the courier compares the face.
//!
//! The flow has two phases because a person is in it: [`Verifier::check_level_a`] reads and
//! verifies, then hands the decoded images to the courier in [`AwaitingFaceConfirmation`]; only
//! [`AwaitingFaceConfirmation::confirm`] makes the report.

use sha2::{Digest, Sha256};

use super::report::{DoorCheckReport, Evidence, VerifiedAttributes};
use super::request::{CheckRequest, Verifier};
use super::steps::{Steps, pin_state_result};
use super::verdict::{Level, Verdict, decide};
use crate::card::{CardFaceData, CvCertificate, InternalAuthentication, MatchingNumberB};
use crate::image::{RgbaImage, decode_jpeg2000, decode_png};
use crate::reader::CardSession;
use crate::transport::CardTransport;
use crate::verify::addressee::Addressee;
use crate::verify::challenge::ChallengeInputs;
use crate::verify::crypto::{key_id_of, rsa_public_key_from_object, verify_pkcs1v15_sha256};
use crate::verify::{CheckId, CheckResult, CheckState, Clock, RandomSource, Reason};

/// The card-face images, decoded for the courier. Memory only; wiped on drop.
#[derive(Debug, Default)]
pub struct FaceImages {
    pub face: Option<RgbaImage>,
    pub name: Option<RgbaImage>,
    pub address: Option<RgbaImage>,
}

/// What the courier decided after comparing the person with the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceDecision {
    /// Face and name match the person and the parcel.
    Confirmed,
    /// They do not.
    Rejected,
    /// No decision (scripted use without confirmation): the check stays inconclusive.
    NotGiven,
}

/// Level A after the card was read and verified, waiting for the courier.
#[derive(Debug)]
pub struct AwaitingFaceConfirmation {
    steps: Vec<CheckResult>,
    evidence: Evidence,
    images: FaceImages,
    birth_date_mismatch: Option<CheckResult>,
}

impl AwaitingFaceConfirmation {
    /// The images to show; `None` where the card had none or it could not be decoded.
    pub fn images(&self) -> &FaceImages {
        &self.images
    }

    /// The verdict the card alone supports (before the courier's decision). A forged card is
    /// forged whatever the courier decides, so the UI can say so at once.
    pub fn card_verdict(&self) -> Verdict {
        let mut checks = self.steps.clone();
        checks.push(CheckResult::passed(
            CheckId::FaceConfirmation,
            Reason::ConfirmedByCourier,
        ));
        checks.push(CheckResult::passed(
            CheckId::AddresseeMatch,
            Reason::ComparedByEye,
        ));
        decide(Level::A, &checks)
    }

    /// Records the courier's decision and makes the report. The images are dropped (wiped).
    pub fn confirm(self, decision: FaceDecision) -> DoorCheckReport {
        let mut checks = self.steps;
        let face_visible = self.images.face.is_some();
        let confirmation = match decision {
            FaceDecision::Confirmed if face_visible => {
                CheckResult::passed(CheckId::FaceConfirmation, Reason::ConfirmedByCourier)
            }
            FaceDecision::Confirmed => {
                CheckResult::not_checked(CheckId::FaceConfirmation, Reason::NotConfirmed)
                    .with_detail(
                        "the face photo could not be shown, so a confirmation cannot count",
                    )
            }
            FaceDecision::Rejected => {
                CheckResult::failed(CheckId::FaceConfirmation, Reason::RejectedByCourier, "")
            }
            FaceDecision::NotGiven => {
                CheckResult::not_checked(CheckId::FaceConfirmation, Reason::NotConfirmed)
            }
        };
        let confirmed = confirmation.state == CheckState::Passed;
        checks.push(confirmation);
        // The name on the card is an image: the courier's confirmation is the name comparison.
        checks.push(match self.birth_date_mismatch {
            Some(mismatch) => mismatch,
            None if confirmed => {
                CheckResult::passed(CheckId::AddresseeMatch, Reason::ComparedByEye)
            }
            None if decision == FaceDecision::Rejected => {
                CheckResult::failed(CheckId::AddresseeMatch, Reason::RejectedByCourier, "")
            }
            None => CheckResult::not_checked(CheckId::AddresseeMatch, Reason::NotConfirmed),
        });
        DoorCheckReport::build(Level::A, checks, self.evidence)
    }
}

/// Verifies a CV certificate under the configured anchors (model v1: the anchor whose key id is
/// the certificate's issuer id), and that its subject id is its own key's id.
pub(crate) fn check_cv_certificate(
    verifier: &Verifier,
    id: CheckId,
    cv: &CvCertificate,
) -> CheckResult {
    let Some(anchor) = verifier.anchors.cv_issuer(&cv.issuer_key_id) else {
        return CheckResult::failed(
            id,
            Reason::UnknownIssuer,
            "no configured anchor has the CV certificate's issuer key id",
        );
    };
    if !verify_pkcs1v15_sha256(anchor.key(), &cv.signed_body, &cv.signature) {
        return CheckResult::failed(id, Reason::SignatureInvalid, "CV certificate signature");
    }
    let subject_matches = rsa_public_key_from_object(&cv.public_key)
        .ok()
        .and_then(|key| key_id_of(&key).ok())
        .is_some_and(|key_id| key_id == cv.subject_key_id);
    if !subject_matches {
        return CheckResult::failed(
            id,
            // The subject id is a hash of the key: a structural proof, not a parse failure.
            Reason::HashMismatch,
            "CV certificate subject id is not its key's id",
        );
    }
    CheckResult::passed(id, Reason::Verified)
}

/// Verifies a signature by the key a passed CV certificate certifies.
pub(crate) fn check_signed_by_cv(
    id: CheckId,
    cv_result: &CheckResult,
    cv: &CvCertificate,
    message: &[u8],
    signature: &[u8],
) -> CheckResult {
    if cv_result.state != CheckState::Passed {
        return CheckResult::not_checked(id, Reason::Skipped);
    }
    match rsa_public_key_from_object(&cv.public_key) {
        Ok(key) if verify_pkcs1v15_sha256(&key, message, signature) => {
            CheckResult::passed(id, Reason::Verified)
        }
        Ok(_) => CheckResult::failed(id, Reason::SignatureInvalid, ""),
        Err(e) => CheckResult::failed(id, Reason::CertificateMalformed, e.to_string()),
    }
}

fn check_consistency(face: &CardFaceData, number: &MatchingNumberB) -> CheckResult {
    let (yy, mm, dd) = number.birth_date_yymmdd();
    let birth = face.birth_date;
    let birth_matches = u32::from(birth.year) % 100 == yy
        && u32::from(birth.month) == mm
        && u32::from(birth.day) == dd;
    let expiry_matches = u32::from(face.expiry.year) == number.expiry_year();
    match (birth_matches, expiry_matches) {
        (true, true) => CheckResult::passed(CheckId::MatchingNumberConsistency, Reason::Verified),
        (false, _) => CheckResult::failed(
            CheckId::MatchingNumberConsistency,
            Reason::MatchingNumberMismatch,
            "field: birth_date",
        ),
        (true, false) => CheckResult::failed(
            CheckId::MatchingNumberConsistency,
            Reason::MatchingNumberMismatch,
            "field: expiry_year",
        ),
    }
}

fn check_expiry(face: &CardFaceData, now: crate::verify::UnixTime) -> CheckResult {
    let (year, month, day) = now.date();
    let today = (year, month, day);
    let expiry = (
        i32::from(face.expiry.year),
        u32::from(face.expiry.month),
        u32::from(face.expiry.day),
    );
    // The card is valid through its expiry date.
    if expiry >= today {
        CheckResult::passed(CheckId::CardExpiry, Reason::Verified)
    } else {
        CheckResult::failed(
            CheckId::CardExpiry,
            Reason::CardExpired,
            format!("expired {}", face.expiry),
        )
    }
}

fn check_live_chip(
    signed_data: &CheckResult,
    face: &CardFaceData,
    answer: &InternalAuthentication,
    challenge: &[u8; 32],
) -> CheckResult {
    let id = CheckId::LiveChip;
    // The chip key in DF24 is only trustworthy when DF28 covers it; without it the card is
    // already forged or unreadable, and the chip's answer proves nothing either way.
    if signed_data.state != CheckState::Passed {
        return CheckResult::not_checked(id, Reason::Skipped);
    }
    match answer {
        // Every card carries its signed chip key in DF24 (the parser requires it): a card that
        // has the key and will not use it is a copy of the data onto another chip, whatever the
        // status word claims. Accepting a refusal would let any clone downgrade the check.
        InternalAuthentication::Refused(status) => CheckResult::failed(
            id,
            Reason::ChipRefusedChallenge,
            format!("INTERNAL AUTHENTICATE answered {status}"),
        ),
        InternalAuthentication::Signed(signature) => {
            match rsa_public_key_from_object(&face.chip_public_key) {
                Ok(key) if verify_pkcs1v15_sha256(&key, challenge, signature) => {
                    CheckResult::passed(id, Reason::Verified)
                }
                Ok(_) => CheckResult::failed(
                    id,
                    Reason::SignatureInvalid,
                    "the chip's answer does not verify with the card-face key: data copied onto another chip",
                ),
                Err(e) => CheckResult::failed(id, Reason::CertificateMalformed, e.to_string()),
            }
        }
    }
}

fn decode_images(face: &CardFaceData) -> FaceImages {
    FaceImages {
        face: decode_jpeg2000(&face.face_image).ok(),
        name: decode_png(&face.name_image).ok(),
        address: decode_png(&face.address_image).ok(),
    }
}

impl Verifier {
    /// Reads and verifies the card-face application with 照合番号B; the courier then confirms.
    pub fn check_level_a<T: CardTransport>(
        &self,
        session: &mut CardSession<T>,
        request: &CheckRequest,
        number: &MatchingNumberB,
        clock: &dyn Clock,
        random: &mut dyn RandomSource,
    ) -> AwaitingFaceConfirmation {
        let mut steps = Steps::default();
        let mut evidence = Evidence::default();
        let now = clock.now();
        let challenge = ChallengeInputs::fresh(
            &request.item_id,
            &request.sender_id,
            &request.device_id,
            now,
            random,
        );
        let digest = challenge.digest();
        evidence.challenge = Some(challenge);

        let read = (|| {
            let mut app = session.card_face()?;
            // Free data first: a forged CV certificate is caught before 照合番号B is sent.
            let cv = app.cv_certificate()?;
            let cv_result = check_cv_certificate(self, CheckId::CardFaceCvCertificate, &cv);
            let cv_passed = cv_result.state == CheckState::Passed;
            steps.push(cv_result);
            if !cv_passed {
                return Ok(None);
            }
            let state = app.matching_number_state()?;
            let state_result = pin_state_result(state);
            let may_send = state_result.state == CheckState::Passed;
            steps.push(state_result);
            if !may_send {
                return Ok(None);
            }
            let mut opened = app.open(number)?;
            let face = opened.face_data()?;
            let answer = opened.internal_authenticate(&digest)?;
            Ok(Some((cv, face, answer)))
        })();

        let (cv, face, answer) = match read {
            Ok(Some(read)) => read,
            Ok(None) => {
                return AwaitingFaceConfirmation {
                    steps: steps.results,
                    evidence,
                    images: FaceImages::default(),
                    birth_date_mismatch: None,
                };
            }
            Err(error) => {
                steps.card_failed(&error);
                return AwaitingFaceConfirmation {
                    steps: steps.results,
                    evidence,
                    images: FaceImages::default(),
                    birth_date_mismatch: None,
                };
            }
        };
        steps.card_completed();

        let cv_result = steps
            .results
            .iter()
            .find(|r| r.check == CheckId::CardFaceCvCertificate)
            .cloned()
            .unwrap_or_else(|| {
                CheckResult::not_checked(CheckId::CardFaceCvCertificate, Reason::Skipped)
            });
        let signature = check_signed_by_cv(
            CheckId::CardFaceSignature,
            &cv_result,
            &cv,
            &face.signed_bytes,
            &face.signature,
        );
        let live = check_live_chip(&signature, &face, &answer, &digest);
        let signature_passed = signature.state == CheckState::Passed;
        steps.push(signature);
        steps.push(check_consistency(&face, number));
        steps.push(live);
        steps.push(check_expiry(&face, now));

        evidence.card_face_signed_digest = Some(Sha256::digest(&face.signed_bytes).to_vec());
        evidence.card_face_signature = Some(face.signature.clone());
        if let InternalAuthentication::Signed(sig) = &answer {
            evidence.card_signature = Some(sig.clone());
        }
        if signature_passed {
            evidence.attributes = Some(VerifiedAttributes {
                name: String::new(),
                address: String::new(),
                birth_date: face.birth_date,
                sex: face.sex,
                source: "card_face",
            });
        }
        let birth_date_mismatch = birth_date_mismatch(request.addressee.as_ref(), &face);
        AwaitingFaceConfirmation {
            steps: steps.results,
            evidence,
            images: decode_images(&face),
            birth_date_mismatch,
        }
    }
}

/// At level A only the birth date is text; compare it when the sender registered one.
fn birth_date_mismatch(addressee: Option<&Addressee>, face: &CardFaceData) -> Option<CheckResult> {
    let expected = addressee?.birth_date?;
    (expected != face.birth_date).then(|| {
        CheckResult::failed(
            CheckId::AddresseeMatch,
            Reason::BirthDateMismatch,
            "field: birth_date",
        )
    })
}
