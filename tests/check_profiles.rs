//! Door checks of every software-card profile, in-process: each gives its expected verdict, and
//! the check that decided it has the expected state and reason.

use honnin_core::apdu::StatusWord;
use honnin_core::card::{AuthPin, MatchingNumberB};
use honnin_core::check::{DoorCheckReport, FaceDecision, Level, Verdict, Verifier};
use honnin_core::reader::CardSession;
use honnin_core::verify::{CheckId, CheckState, Reason};
use honnin_e2e::{
    CountingRandom, addressee, auth_pin, clock, request, verifier, verifier_with_crl,
};
use honnin_simcard::{PinId, Profile, SoftwareCard};

fn level_a(profile: Profile, decision: FaceDecision) -> (DoorCheckReport, SoftwareCard) {
    level_a_on(profile.build().expect("builds"), decision)
}

fn level_a_on(card: SoftwareCard, decision: FaceDecision) -> (DoorCheckReport, SoftwareCard) {
    let number = MatchingNumberB::parse(&card.facts().matching_number_b).expect("well-formed");
    let mut session = CardSession::new(card);
    let awaiting = verifier().check_level_a(
        &mut session,
        &request(Some(addressee())),
        &number,
        &clock(),
        &mut CountingRandom(0),
    );
    (awaiting.confirm(decision), session.into_transport())
}

fn level_b_with(
    verifier: &Verifier,
    profile: Profile,
    pin: &AuthPin,
) -> (DoorCheckReport, SoftwareCard) {
    let card = profile.build().expect("builds");
    let mut session = CardSession::new(card);
    let report = verifier.check_level_b(
        &mut session,
        &request(Some(addressee())),
        pin,
        &clock(),
        &mut CountingRandom(0),
    );
    (report, session.into_transport())
}

fn level_b(profile: Profile) -> (DoorCheckReport, SoftwareCard) {
    level_b_with(&verifier_with_crl(), profile, &auth_pin())
}

#[track_caller]
fn assert_decided_by(
    report: &DoorCheckReport,
    verdict: Verdict,
    check: CheckId,
    state: CheckState,
    reason: Reason,
) {
    assert_eq!(report.verdict(), verdict, "{report:#?}");
    let result = report
        .check(check)
        .unwrap_or_else(|| panic!("{check:?} missing: {report:#?}"));
    assert_eq!(
        (result.state, result.reason),
        (state, reason),
        "{report:#?}"
    );
}

#[test]
fn level_a_genuine_card_confirmed_by_the_courier_is_genuine() {
    let (report, card) = level_a(Profile::Genuine, FaceDecision::Confirmed);
    assert_eq!(report.verdict(), Verdict::Genuine, "{report:#?}");
    for check in report.checks() {
        assert_eq!(check.state, CheckState::Passed, "{check:?}");
    }
    // Card face read only: no PIN of the holder was touched.
    assert_eq!(card.tries_left(PinId::Auth), Some(3));
    assert_eq!(card.tries_left(PinId::MatchingNumberB), Some(3));
}

#[test]
fn level_a_without_the_couriers_confirmation_is_inconclusive() {
    let (report, _) = level_a(Profile::Genuine, FaceDecision::NotGiven);
    assert_decided_by(
        &report,
        Verdict::Inconclusive,
        CheckId::FaceConfirmation,
        CheckState::NotChecked,
        Reason::NotConfirmed,
    );
    let (report, _) = level_a(Profile::Genuine, FaceDecision::Rejected);
    assert_decided_by(
        &report,
        Verdict::NotAddressee,
        CheckId::FaceConfirmation,
        CheckState::Failed,
        Reason::RejectedByCourier,
    );
}

#[test]
fn level_a_catches_each_forgery_with_its_own_reason() {
    use CheckId::*;
    let cases = [
        (
            Profile::ForgedCa,
            Verdict::Forged,
            CardFaceCvCertificate,
            CheckState::Failed,
            Reason::SignatureInvalid,
        ),
        (
            Profile::Clone,
            Verdict::Forged,
            LiveChip,
            CheckState::Failed,
            Reason::SignatureInvalid,
        ),
        (
            Profile::TamperedAttribute,
            Verdict::Forged,
            CardFaceSignature,
            CheckState::Failed,
            Reason::SignatureInvalid,
        ),
        (
            Profile::TamperedFace,
            Verdict::Forged,
            CardFaceSignature,
            CheckState::Failed,
            Reason::SignatureInvalid,
        ),
        (
            Profile::ExpiredCard,
            Verdict::Inconclusive,
            CardExpiry,
            CheckState::Failed,
            Reason::CardExpired,
        ),
        // Issue 17: a card whose signed data carries the chip key and that does not sign the
        // challenge is a clone, whether or not its chip really lacks the command.
        (
            Profile::NoInternalAuth,
            Verdict::Forged,
            LiveChip,
            CheckState::Failed,
            Reason::ChipRefusedChallenge,
        ),
        // Issue 17, defect 6: the JPKI root is a trust anchor, but not for CV certificates.
        (
            Profile::CvByJpkiRoot,
            Verdict::Forged,
            CardFaceCvCertificate,
            CheckState::Failed,
            Reason::UnknownIssuer,
        ),
        // Issue 17, defect 3b: DF28 covers DF29, so a moved expiry breaks the signature.
        (
            Profile::ExtendedExpiry,
            Verdict::Forged,
            CardFaceSignature,
            CheckState::Failed,
            Reason::SignatureInvalid,
        ),
        (
            Profile::CloneNoInternalAuth,
            Verdict::Forged,
            LiveChip,
            CheckState::Failed,
            Reason::ChipRefusedChallenge,
        ),
        (
            Profile::MalformedTlv,
            Verdict::Inconclusive,
            CardCommunication,
            CheckState::Failed,
            Reason::CardDataMalformed,
        ),
    ];
    for (profile, verdict, check, state, reason) in cases {
        let (report, _) = level_a(profile, FaceDecision::Confirmed);
        assert_eq!(report.verdict(), verdict, "{}: {report:#?}", profile.name());
        let result = report.check(check).expect("reported");
        assert_eq!(
            (result.state, result.reason),
            (state, reason),
            "{}: {report:#?}",
            profile.name()
        );
    }
}

/// Issue 17, defect 3a: a clone cannot downgrade the live-chip check to "not present" by answering
/// INTERNAL AUTHENTICATE with any status word instead of the signature it cannot make.
#[test]
fn level_a_clone_refusing_internal_authenticate_with_any_status_is_forged() {
    for status in [0x6D00, 0x6E00, 0x6A81, 0x6982, 0x6F00] {
        let card = Profile::Clone
            .build()
            .expect("builds")
            .with_internal_auth_refusal(StatusWord(status));
        let (report, _) = level_a_on(card, FaceDecision::Confirmed);
        assert_decided_by(
            &report,
            Verdict::Forged,
            CheckId::LiveChip,
            CheckState::Failed,
            Reason::ChipRefusedChallenge,
        );
        assert_eq!(report.evidence().card_signature, None, "{status:04X}");
    }
}

#[test]
fn level_a_survives_a_tag_loss_during_free_reads() {
    let (report, _) = level_a(
        Profile::TagLoss {
            at: 3,
            command_executed: false,
        },
        FaceDecision::Confirmed,
    );
    assert_eq!(report.verdict(), Verdict::Genuine, "{report:#?}");
}

#[test]
fn level_b_genuine_card_with_matching_addressee_is_genuine() {
    let (report, card) = level_b(Profile::Genuine);
    assert_eq!(report.verdict(), Verdict::Genuine, "{report:#?}");
    assert_decided_by(
        &report,
        Verdict::Genuine,
        CheckId::Revocation,
        CheckState::Passed,
        Reason::NotRevoked,
    );
    assert_eq!(card.tries_left(PinId::Auth), Some(3));
    // The record gets the chain and a challenge signature bound to this parcel.
    let evidence = report.evidence();
    assert_eq!(evidence.certificates.len(), 2);
    assert_eq!(evidence.card_signature.as_ref().map(Vec::len), Some(256));
    assert_eq!(
        evidence.challenge.as_ref().map(|c| c.item_id.as_str()),
        Some("JP-ITEM-0001")
    );
}

#[test]
fn level_b_without_a_revocation_list_says_revocation_not_checked() {
    let (report, _) = level_b_with(&verifier(), Profile::Revoked, &auth_pin());
    assert_decided_by(
        &report,
        Verdict::Genuine,
        CheckId::Revocation,
        CheckState::NotChecked,
        Reason::NoRevocationList,
    );
}

#[test]
fn level_b_catches_each_forgery_and_fault_with_its_own_reason() {
    use CheckId::*;
    let cases = [
        (
            Profile::ForgedCa,
            Verdict::Forged,
            CertificateChain,
            CheckState::Failed,
        ),
        (
            Profile::Clone,
            Verdict::Forged,
            ChallengeSignature,
            CheckState::Failed,
        ),
        (
            Profile::TamperedAttribute,
            Verdict::Forged,
            AttributesHash,
            CheckState::Failed,
        ),
        (
            Profile::CvByJpkiRoot,
            Verdict::Forged,
            InputSupportCvCertificate,
            CheckState::Failed,
        ),
        (
            Profile::ExpiredCertificate,
            Verdict::Inconclusive,
            CertificateValidity,
            CheckState::Failed,
        ),
        (
            Profile::NotYetValidCertificate,
            Verdict::Inconclusive,
            CertificateValidity,
            CheckState::Failed,
        ),
        (
            Profile::WrongKeyUsage,
            Verdict::Forged,
            KeyUsage,
            CheckState::Failed,
        ),
        (
            Profile::Revoked,
            Verdict::Inconclusive,
            Revocation,
            CheckState::Failed,
        ),
        (
            Profile::PinOneTryLeft,
            Verdict::Refused,
            PinState,
            CheckState::Failed,
        ),
        (
            Profile::PinLocked,
            Verdict::Refused,
            PinState,
            CheckState::Failed,
        ),
    ];
    for (profile, verdict, check, state) in cases {
        let (report, _) = level_b(profile);
        assert_eq!(report.verdict(), verdict, "{}: {report:#?}", profile.name());
        let result = report.check(check).expect("reported");
        assert_eq!(result.state, state, "{}: {report:#?}", profile.name());
    }
    let reasons = [
        (Profile::ExpiredCertificate, Reason::Expired),
        (Profile::NotYetValidCertificate, Reason::NotYetValid),
        (Profile::WrongKeyUsage, Reason::KeyUsageMissing),
        (Profile::Revoked, Reason::Revoked),
        (Profile::PinOneTryLeft, Reason::PinGuardRefused),
        (Profile::PinLocked, Reason::PinLocked),
        (Profile::TamperedAttribute, Reason::HashMismatch),
    ];
    for (profile, reason) in reasons {
        let (report, _) = level_b(profile);
        let failure = report.first_failure().expect("a check failed");
        assert_eq!(failure.reason, reason, "{}: {report:#?}", profile.name());
    }
}

#[test]
fn level_b_rejects_bad_certificates_before_any_pin_try() {
    for profile in [
        Profile::ForgedCa,
        Profile::ExpiredCertificate,
        Profile::NotYetValidCertificate,
        Profile::WrongKeyUsage,
        Profile::Revoked,
    ] {
        let (report, card) = level_b(profile);
        assert_ne!(report.verdict(), Verdict::Genuine);
        assert!(
            !card.was_sent(&honnin_core::card::profile::aid::JPKI, 0x2A),
            "{}: the card was asked to sign",
            profile.name()
        );
        let pin_state = report.check(CheckId::PinState).expect("reported");
        assert_eq!(
            pin_state.state,
            CheckState::NotChecked,
            "{}",
            profile.name()
        );
        assert_eq!(card.tries_left(PinId::Auth), Some(3), "{}", profile.name());
    }
}

#[test]
fn level_b_for_someone_else_is_not_the_addressee() {
    let card = Profile::Genuine.build().expect("builds");
    let mut session = CardSession::new(card);
    let mut someone_else = addressee();
    someone_else.name = "試験 太郎".into();
    let report = verifier_with_crl().check_level_b(
        &mut session,
        &request(Some(someone_else)),
        &auth_pin(),
        &clock(),
        &mut CountingRandom(0),
    );
    assert_decided_by(
        &report,
        Verdict::NotAddressee,
        CheckId::AddresseeMatch,
        CheckState::Failed,
        Reason::NameMismatch,
    );
}

#[test]
fn level_b_with_a_wrong_pin_is_refused_and_says_tries_left() {
    let wrong = AuthPin::parse("0000").expect("well-formed");
    let (report, card) = level_b_with(&verifier_with_crl(), Profile::Genuine, &wrong);
    assert_decided_by(
        &report,
        Verdict::Refused,
        CheckId::PinState,
        CheckState::Failed,
        Reason::WrongPin,
    );
    assert_eq!(card.tries_left(PinId::Auth), Some(2));
}

#[test]
fn level_b_without_an_addressee_is_inconclusive() {
    let card = Profile::Genuine.build().expect("builds");
    let mut session = CardSession::new(card);
    let report = verifier().check_level_b(
        &mut session,
        &request(None),
        &auth_pin(),
        &clock(),
        &mut CountingRandom(0),
    );
    assert_decided_by(
        &report,
        Verdict::Inconclusive,
        CheckId::AddresseeMatch,
        CheckState::NotChecked,
        Reason::NoAddresseeGiven,
    );
}

#[test]
fn reports_never_contain_secrets_or_the_individual_number() {
    let (report, _) = level_b(Profile::Genuine);
    let json = serde_json::to_string(&report).expect("serializes");
    for secret in [
        honnin_simcard::holder::AUTH_PIN,
        honnin_simcard::holder::TEST_INDIVIDUAL_NUMBER,
        "TESTPASS1",
    ] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
    let _ = Level::B;
}

fn level_c(profile: Profile) -> (DoorCheckReport, SoftwareCard) {
    let card = profile.build().expect("builds");
    let mut session = CardSession::new(card);
    let report = verifier_with_crl().check_level_c(
        &mut session,
        &request(Some(addressee())),
        &honnin_e2e::signing_password(),
        &clock(),
        &mut CountingRandom(0),
    );
    (report, session.into_transport())
}

#[test]
fn level_c_genuine_card_is_genuine_with_the_signing_certificate_attributes() {
    let (report, card) = level_c(Profile::Genuine);
    assert_eq!(report.verdict(), Verdict::Genuine, "{report:#?}");
    let attributes = report
        .evidence()
        .attributes
        .as_ref()
        .expect("verified attributes");
    assert_eq!(attributes.source, "signing_certificate");
    assert_eq!(attributes.name, honnin_simcard::holder::TEST_HOLDER.name);
    assert_eq!(card.tries_left(PinId::Sign), Some(5));
}

#[test]
fn level_c_catches_each_forgery_and_fault_with_its_own_reason() {
    use CheckId::*;
    let cases = [
        (
            Profile::ForgedCa,
            Verdict::Forged,
            CertificateChain,
            Reason::SignatureInvalid,
        ),
        (
            Profile::Clone,
            Verdict::Forged,
            ChallengeSignature,
            Reason::SignatureInvalid,
        ),
        (
            Profile::ExpiredCertificate,
            Verdict::Inconclusive,
            CertificateValidity,
            Reason::Expired,
        ),
        (
            Profile::NotYetValidCertificate,
            Verdict::Inconclusive,
            CertificateValidity,
            Reason::NotYetValid,
        ),
        (
            Profile::WrongKeyUsage,
            Verdict::Forged,
            KeyUsage,
            Reason::KeyUsageMissing,
        ),
        (
            Profile::Revoked,
            Verdict::Inconclusive,
            Revocation,
            Reason::Revoked,
        ),
    ];
    for (profile, verdict, check, reason) in cases {
        let (report, card) = level_c(profile);
        assert_eq!(report.verdict(), verdict, "{}: {report:#?}", profile.name());
        let result = report.check(check).expect("reported");
        assert_eq!(
            (result.state, result.reason),
            (CheckState::Failed, reason),
            "{}: {report:#?}",
            profile.name()
        );
        // Forged, expired and revoked certificates are caught on the free authentication chain,
        // before the signing password is sent.
        if profile != Profile::Clone {
            assert_eq!(card.tries_left(PinId::Sign), Some(5), "{}", profile.name());
            assert!(
                !card.was_sent(&honnin_core::card::profile::aid::JPKI, 0x2A),
                "{}",
                profile.name()
            );
        }
    }
}

#[test]
fn every_report_has_one_result_per_check_and_every_required_check() {
    for profile in Profile::all() {
        let (a, _) = level_a(*profile, FaceDecision::Confirmed);
        let (b, _) = level_b(*profile);
        let (c, _) = level_c(*profile);
        for report in [a, b, c] {
            let mut ids: Vec<_> = report
                .checks()
                .iter()
                .map(|r| format!("{:?}", r.check))
                .collect();
            let count = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(
                ids.len(),
                count,
                "{} {:?}: {report:#?}",
                profile.name(),
                report.level()
            );
            assert!(count >= 9, "{} {:?}", profile.name(), report.level());
        }
    }
}
