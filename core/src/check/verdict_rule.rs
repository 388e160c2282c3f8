//! The verdict rule (docs/check-output.md, "The verdict rule"), checked over every reason code on
//! every check of every level: no reason can produce a verdict it does not justify.

use super::*;

/// Every reason code, in declaration order.
const EVERY_REASON: [Reason; 49] = [
    Reason::Verified,
    Reason::SignatureInvalid,
    Reason::HashMismatch,
    Reason::UnknownIssuer,
    Reason::ChainIncomplete,
    Reason::CertificateMalformed,
    Reason::Expired,
    Reason::NotYetValid,
    Reason::KeyUsageMissing,
    Reason::NotCa,
    Reason::PathLengthExceeded,
    Reason::PolicyMissing,
    Reason::UnsupportedAlgorithm,
    Reason::Sha1Accepted,
    Reason::UnknownCriticalExtension,
    Reason::Revoked,
    Reason::NotRevoked,
    Reason::NoRevocationList,
    Reason::RevocationListInvalid,
    Reason::CardExpired,
    Reason::MatchingNumberMismatch,
    Reason::NotSupportedByCard,
    Reason::NameMismatch,
    Reason::AddressMismatch,
    Reason::BirthDateMismatch,
    Reason::ComparedByEye,
    Reason::NoAddresseeGiven,
    Reason::TriesAvailable,
    Reason::PinGuardRefused,
    Reason::PinLocked,
    Reason::ConfirmedByCourier,
    Reason::RejectedByCourier,
    Reason::NotConfirmed,
    Reason::Skipped,
    Reason::WrongPin,
    Reason::CardRemoved,
    Reason::CardDataMalformed,
    Reason::CardRefusedCommand,
    Reason::NotAMyNumberCard,
    Reason::EndEntityIsCa,
    Reason::ChipRefusedChallenge,
    Reason::MsoExpired,
    Reason::MsoNotYetValid,
    Reason::DocTypeMismatch,
    Reason::DeviceSignatureInvalid,
    Reason::ElementsMissing,
    Reason::SessionMessageRejected,
    Reason::SessionReplayed,
    Reason::NotAnMdoc,
];

/// Every check, in declaration order.
const EVERY_CHECK: [CheckId; 27] = [
    CheckId::CardFaceCvCertificate,
    CheckId::CardFaceSignature,
    CheckId::MatchingNumberConsistency,
    CheckId::LiveChip,
    CheckId::InputSupportCvCertificate,
    CheckId::AttributesHash,
    CheckId::InputSupportSignature,
    CheckId::CertificateChain,
    CheckId::CertificateValidity,
    CheckId::KeyUsage,
    CheckId::BasicConstraints,
    CheckId::CertificatePolicy,
    CheckId::Revocation,
    CheckId::ChallengeSignature,
    CheckId::CardExpiry,
    CheckId::AddresseeMatch,
    CheckId::PinState,
    CheckId::FaceConfirmation,
    CheckId::CardCommunication,
    CheckId::MdocSession,
    CheckId::MdocIssuerCertificate,
    CheckId::MdocIssuerSignature,
    CheckId::MdocValidity,
    CheckId::MdocDocType,
    CheckId::MdocElementDigests,
    CheckId::MdocElementsComplete,
    CheckId::MdocDeviceAuthentication,
];

/// Position of a reason in [`EVERY_REASON`]. Exhaustive: a new reason does not compile until it
/// is listed here and above (the test below checks both agree).
fn reason_index(reason: Reason) -> usize {
    match reason {
        Reason::Verified => 0,
        Reason::SignatureInvalid => 1,
        Reason::HashMismatch => 2,
        Reason::UnknownIssuer => 3,
        Reason::ChainIncomplete => 4,
        Reason::CertificateMalformed => 5,
        Reason::Expired => 6,
        Reason::NotYetValid => 7,
        Reason::KeyUsageMissing => 8,
        Reason::NotCa => 9,
        Reason::PathLengthExceeded => 10,
        Reason::PolicyMissing => 11,
        Reason::UnsupportedAlgorithm => 12,
        Reason::Sha1Accepted => 13,
        Reason::UnknownCriticalExtension => 14,
        Reason::Revoked => 15,
        Reason::NotRevoked => 16,
        Reason::NoRevocationList => 17,
        Reason::RevocationListInvalid => 18,
        Reason::CardExpired => 19,
        Reason::MatchingNumberMismatch => 20,
        Reason::NotSupportedByCard => 21,
        Reason::NameMismatch => 22,
        Reason::AddressMismatch => 23,
        Reason::BirthDateMismatch => 24,
        Reason::ComparedByEye => 25,
        Reason::NoAddresseeGiven => 26,
        Reason::TriesAvailable => 27,
        Reason::PinGuardRefused => 28,
        Reason::PinLocked => 29,
        Reason::ConfirmedByCourier => 30,
        Reason::RejectedByCourier => 31,
        Reason::NotConfirmed => 32,
        Reason::Skipped => 33,
        Reason::WrongPin => 34,
        Reason::CardRemoved => 35,
        Reason::CardDataMalformed => 36,
        Reason::CardRefusedCommand => 37,
        Reason::NotAMyNumberCard => 38,
        Reason::EndEntityIsCa => 39,
        Reason::ChipRefusedChallenge => 40,
        Reason::MsoExpired => 41,
        Reason::MsoNotYetValid => 42,
        Reason::DocTypeMismatch => 43,
        Reason::DeviceSignatureInvalid => 44,
        Reason::ElementsMissing => 45,
        Reason::SessionMessageRejected => 46,
        Reason::SessionReplayed => 47,
        Reason::NotAnMdoc => 48,
    }
}

fn check_index(check: CheckId) -> usize {
    match check {
        CheckId::CardFaceCvCertificate => 0,
        CheckId::CardFaceSignature => 1,
        CheckId::MatchingNumberConsistency => 2,
        CheckId::LiveChip => 3,
        CheckId::InputSupportCvCertificate => 4,
        CheckId::AttributesHash => 5,
        CheckId::InputSupportSignature => 6,
        CheckId::CertificateChain => 7,
        CheckId::CertificateValidity => 8,
        CheckId::KeyUsage => 9,
        CheckId::BasicConstraints => 10,
        CheckId::CertificatePolicy => 11,
        CheckId::Revocation => 12,
        CheckId::ChallengeSignature => 13,
        CheckId::CardExpiry => 14,
        CheckId::AddresseeMatch => 15,
        CheckId::PinState => 16,
        CheckId::FaceConfirmation => 17,
        CheckId::CardCommunication => 18,
        CheckId::MdocSession => 19,
        CheckId::MdocIssuerCertificate => 20,
        CheckId::MdocIssuerSignature => 21,
        CheckId::MdocValidity => 22,
        CheckId::MdocDocType => 23,
        CheckId::MdocElementDigests => 24,
        CheckId::MdocElementsComplete => 25,
        CheckId::MdocDeviceAuthentication => 26,
    }
}

/// The codes that may make a card `forged`: a cryptographic or structural check proved it.
/// Written out as codes, not taken from the implementation, so that this test states the rule.
const PROOF_CODES: &[&str] = &[
    "signature_invalid",
    "hash_mismatch",
    "unknown_issuer",
    "chain_incomplete",
    "key_usage_missing",
    "not_ca",
    "path_length_exceeded",
    "policy_missing",
    "matching_number_mismatch",
    "end_entity_is_ca",
    "chip_refused_challenge",
    "doc_type_mismatch",
    "device_signature_invalid",
];
/// The codes that may make a card `not_addressee`: a verified field differs.
const FIELD_DIFFERS_CODES: &[&str] = &[
    "name_mismatch",
    "address_mismatch",
    "birth_date_mismatch",
    "rejected_by_courier",
];
const REFUSAL_CODES: &[&str] = &["pin_guard_refused", "pin_locked", "wrong_pin"];

fn all_passed(level: Level) -> Vec<CheckResult> {
    required_checks(level)
        .iter()
        .map(|c| CheckResult::passed(*c, Reason::Verified))
        .collect()
}

fn failing(level: Level, check: CheckId, reason: Reason) -> Vec<CheckResult> {
    let mut checks: Vec<CheckResult> = all_passed(level)
        .into_iter()
        .filter(|r| r.check != check)
        .collect();
    checks.push(CheckResult::failed(check, reason, ""));
    checks
}

#[test]
fn the_lists_name_every_reason_and_every_check_once() {
    for (i, reason) in EVERY_REASON.iter().enumerate() {
        assert_eq!(reason_index(*reason), i, "{reason:?}");
    }
    for (i, check) in EVERY_CHECK.iter().enumerate() {
        assert_eq!(check_index(*check), i, "{check:?}");
    }
    for code in PROOF_CODES
        .iter()
        .chain(FIELD_DIFFERS_CODES)
        .chain(REFUSAL_CODES)
    {
        assert!(
            EVERY_REASON.iter().any(|r| r.code() == *code),
            "{code} is no reason code"
        );
    }
}

#[test]
fn no_reason_produces_a_verdict_it_does_not_justify() {
    for level in [Level::A, Level::M, Level::B, Level::C] {
        for check in EVERY_CHECK {
            for reason in EVERY_REASON {
                let verdict = decide(level, &failing(level, check, reason));
                let code = reason.code();
                let expected = if PROOF_CODES.contains(&code) && proves_forgery(check) {
                    Verdict::Forged
                } else if REFUSAL_CODES.contains(&code) && check == CheckId::PinState {
                    Verdict::Refused
                } else if FIELD_DIFFERS_CODES.contains(&code)
                    && matches!(check, CheckId::AddresseeMatch | CheckId::FaceConfirmation)
                {
                    Verdict::NotAddressee
                } else {
                    // Not parsed, not read, not valid now, not confirmed, or a reason that does
                    // not fit the check: nothing proved, nothing disproved.
                    Verdict::Inconclusive
                };
                assert_eq!(verdict, expected, "{level:?}: {check:?} failed with {code}");
            }
        }
    }
}

#[test]
fn not_addressee_needs_every_other_check_settled() {
    for level in [Level::A, Level::M, Level::B, Level::C] {
        let mismatch = failing(level, CheckId::AddresseeMatch, Reason::NameMismatch);
        assert_eq!(decide(level, &mismatch), Verdict::NotAddressee, "{level:?}");
        for other in required_checks(level)
            .iter()
            .filter(|c| !matches!(c, CheckId::AddresseeMatch | CheckId::FaceConfirmation))
        {
            // The other check not passed (unparsed data, expired, not reached): the field that
            // differs was not read from verified data, so nothing is said about the person.
            let mut checks = mismatch.clone();
            let not_reached = CheckResult::not_checked(*other, Reason::Skipped);
            for r in &mut checks {
                if r.check == *other {
                    *r = not_reached.clone();
                }
            }
            if may_be_absent(&not_reached) {
                // Revocation not checked on the device is allowed (the receiver checks it).
                assert_eq!(decide(level, &checks), Verdict::NotAddressee);
                continue;
            }
            assert_eq!(
                decide(level, &checks),
                Verdict::Inconclusive,
                "{level:?} {other:?}"
            );
            let without: Vec<_> = mismatch
                .iter()
                .filter(|r| r.check != *other)
                .cloned()
                .collect();
            assert_eq!(
                decide(level, &without),
                Verdict::Inconclusive,
                "{level:?} {other:?}"
            );
        }
    }
}

#[test]
fn an_unparsable_certificate_attribute_is_never_not_addressee() {
    // Issue 16: the attributes of a verified signing certificate could not be parsed.
    let checks = failing(
        Level::C,
        CheckId::AddresseeMatch,
        Reason::CertificateMalformed,
    );
    assert_eq!(decide(Level::C, &checks), Verdict::Inconclusive);
}
