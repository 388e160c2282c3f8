//! The overall verdict, derived from the check results and nothing else.

use serde::{Deserialize, Serialize};

use crate::verify::{CheckId, CheckResult, CheckState, Reason};

/// The check level the sender's policy asks for (see BRIEF.md "The check, in levels").
/// In records and on the wire exactly `A`, `B` or `C` (serde); [`FromStr`](std::str::FromStr)
/// also takes lowercase, for what people type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// 照合番号B, card-face data under the issuer signature, courier compares the face.
    A,
    /// The card in a phone's wallet (ISO/IEC 18013-5 mdoc): issuer-signed data, the phone's
    /// device signature over this session, courier compares the portrait. Ranked between A and
    /// B: like A it proves issuer data and a live holder device but no PIN; it satisfies a
    /// sender asking for A, not one asking for B or C.
    M,
    /// 4-digit PIN: JPKI authentication key signs the challenge; basic four attributes.
    B,
    /// Signing password: JPKI signing key signs the challenge; the signing certificate's
    /// attributes (the method 犯収法 names).
    C,
}

impl Level {
    /// The level's code in records and check output: `A`, `B` or `C`.
    pub fn code(self) -> &'static str {
        match self {
            Level::A => "A",
            Level::M => "M",
            Level::B => "B",
            Level::C => "C",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "A" | "a" => Ok(Level::A),
            "M" | "m" => Ok(Level::M),
            "B" | "b" => Ok(Level::B),
            "C" | "c" => Ok(Level::C),
            _ => Err(format!(
                "unknown level {text:?}: use A, B or C (or M for a phone)"
            )),
        }
    }
}

/// What the courier or clerk is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check of the level passed (revocation may be "not checked on device").
    Genuine,
    /// A signature, hash, chain or chip check failed: the card is not what it claims.
    Forged,
    /// Nothing proved forgery, but the check could not confirm the card or the holder (expired,
    /// revoked, card removed, courier did not confirm, …).
    Inconclusive,
    /// honnin refused to go on (PIN guard, locked PIN, wrong PIN): no verdict on the card.
    Refused,
    /// The card is genuine but its holder is not the addressee.
    NotAddressee,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Genuine => "genuine",
            Verdict::Forged => "forged",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Refused => "refused",
            Verdict::NotAddressee => "not_addressee",
        }
    }

    /// What the courier or clerk is told, in English.
    pub fn message_en(self) -> &'static str {
        match self {
            Verdict::Genuine => "Genuine card of the addressee: hand over the item.",
            Verdict::Forged => "FORGED card: do not hand over the item.",
            Verdict::Inconclusive => {
                "Not confirmed: do not hand over the item (see the failed or missing checks)."
            }
            Verdict::Refused => {
                "Check stopped to protect the card (PIN): offer the check without PIN (level A)."
            }
            Verdict::NotAddressee => "The card is not the addressee's: do not hand over the item.",
        }
    }

    /// What the courier or clerk is told, in Japanese.
    pub fn message_ja(self) -> &'static str {
        match self {
            Verdict::Genuine => "受取人本人の真正なカードです。お渡しください。",
            Verdict::Forged => "偽造カードです。お渡ししないでください。",
            Verdict::Inconclusive => {
                "確認できませんでした。お渡ししないでください（不合格・未実施の項目を確認）。"
            }
            Verdict::Refused => {
                "カード保護のため中止しました（暗証番号）。暗証番号なしの確認（レベルA）をご案内ください。"
            }
            Verdict::NotAddressee => "受取人本人のカードではありません。お渡ししないでください。",
        }
    }
}

/// Checks whose failure, on a reason that proves it ([`Ground::Proof`]), means the card is not
/// genuine.
fn proves_forgery(check: CheckId) -> bool {
    matches!(
        check,
        CheckId::CardFaceCvCertificate
            | CheckId::CardFaceSignature
            | CheckId::MatchingNumberConsistency
            | CheckId::LiveChip
            | CheckId::InputSupportCvCertificate
            | CheckId::AttributesHash
            | CheckId::InputSupportSignature
            | CheckId::CertificateChain
            | CheckId::KeyUsage
            | CheckId::BasicConstraints
            | CheckId::CertificatePolicy
            | CheckId::ChallengeSignature
            | CheckId::MdocIssuerCertificate
            | CheckId::MdocIssuerSignature
            | CheckId::MdocDocType
            | CheckId::MdocElementDigests
            | CheckId::MdocDeviceAuthentication
    )
}

/// What a failed check's reason establishes. The verdict rule (docs/check-output.md, "The verdict
/// rule") in one place: `forged` needs a proof, `not_addressee` needs a verified field that
/// differs, and everything the product could not read, parse or confirm is `inconclusive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ground {
    /// A cryptographic or structural check proved the card is not what it claims.
    Proof,
    /// The card's data was read and a field differs from the addressee (or the courier saw that
    /// the face or name does not match).
    FieldDiffers,
    /// honnin stopped to protect the card (PIN).
    Refusal,
    /// Nothing was proved either way: not read, not parsed, not valid now, not confirmed.
    NotEstablished,
}

/// The ground a reason gives, whatever check it is on. Exhaustive on purpose: a new reason code
/// does not compile until someone decides what it can justify.
pub(crate) fn reason_ground(reason: Reason) -> Ground {
    use Reason::*;
    match reason {
        SignatureInvalid
        | HashMismatch
        | UnknownIssuer
        | ChainIncomplete
        | KeyUsageMissing
        | NotCa
        | PathLengthExceeded
        | PolicyMissing
        | MatchingNumberMismatch
        // A card certificate that claims to be a CA, and a chip that holds the signed card-face
        // key yet will not sign with it (a clone): both structural proofs.
        | EndEntityIsCa
        | ChipRefusedChallenge
        // A phone whose document names another type than its issuer signed, or that cannot sign
        // with the key its issuer bound the document to (a copy): proofs, as for the card.
        | DocTypeMismatch
        | DeviceSignatureInvalid => Ground::Proof,
        NameMismatch | AddressMismatch | BirthDateMismatch | RejectedByCourier => {
            Ground::FieldDiffers
        }
        PinGuardRefused | PinLocked | WrongPin => Ground::Refusal,
        // Could not be parsed or read, or not valid at this time, or not confirmed.
        CertificateMalformed
        | UnsupportedAlgorithm
        | UnknownCriticalExtension
        | Expired
        | NotYetValid
        | Revoked
        | RevocationListInvalid
        | CardExpired
        | NotSupportedByCard
        | NoAddresseeGiven
        | ComparedByEye
        | NotConfirmed
        | Skipped
        | CardRemoved
        | CardDataMalformed
        | CardRefusedCommand
        | NotAMyNumberCard
        // Phone: not valid now, not all returned, session messages that do not belong to this
        // session (nothing about the document is proved either way), no mdoc at all.
        | MsoExpired
        | MsoNotYetValid
        | ElementsMissing
        | SessionMessageRejected
        | SessionReplayed
        | NotAnMdoc => Ground::NotEstablished,
        // Reasons of success: a "failed" result carrying one proves nothing.
        Verified | Sha1Accepted | NotRevoked | NoRevocationList | TriesAvailable
        | ConfirmedByCourier => Ground::NotEstablished,
    }
}

/// The addressee checks: the only ones whose failure can mean `not_addressee`.
fn is_addressee_check(check: CheckId) -> bool {
    matches!(check, CheckId::AddresseeMatch | CheckId::FaceConfirmation)
}

/// The ground one failed result gives: its reason's, where the check can carry it.
pub(crate) fn failure_ground(result: &CheckResult) -> Ground {
    match reason_ground(result.reason) {
        Ground::Proof if proves_forgery(result.check) => Ground::Proof,
        Ground::FieldDiffers if is_addressee_check(result.check) => Ground::FieldDiffers,
        Ground::Refusal if result.check == CheckId::PinState => Ground::Refusal,
        _ => Ground::NotEstablished,
    }
}

/// The checks each level must report; any of them not passed keeps the verdict from genuine,
/// except where [`may_be_absent`] allows it.
pub(crate) fn required_checks(level: Level) -> &'static [CheckId] {
    use CheckId::*;
    match level {
        Level::A => &[
            CardCommunication,
            CardFaceCvCertificate,
            PinState,
            CardFaceSignature,
            MatchingNumberConsistency,
            LiveChip,
            CardExpiry,
            AddresseeMatch,
            FaceConfirmation,
        ],
        Level::B => &[
            CardCommunication,
            CertificateChain,
            CertificateValidity,
            KeyUsage,
            BasicConstraints,
            CertificatePolicy,
            Revocation,
            PinState,
            ChallengeSignature,
            InputSupportCvCertificate,
            AttributesHash,
            InputSupportSignature,
            AddresseeMatch,
        ],
        Level::M => &[
            CardCommunication,
            MdocSession,
            MdocIssuerCertificate,
            MdocIssuerSignature,
            MdocDocType,
            MdocValidity,
            MdocElementDigests,
            MdocElementsComplete,
            MdocDeviceAuthentication,
            AddresseeMatch,
            FaceConfirmation,
        ],
        Level::C => &[
            CardCommunication,
            CertificateChain,
            CertificateValidity,
            KeyUsage,
            BasicConstraints,
            CertificatePolicy,
            Revocation,
            PinState,
            ChallengeSignature,
            AddresseeMatch,
        ],
    }
}

/// Not passed, yet no obstacle to a genuine verdict: revocation lists reach only entitled
/// operators (the receiver checks). The live-chip check has no such allowance: every card carries
/// its signed chip key, so a chip that does not prove it holds the key is not genuine.
fn may_be_absent(result: &CheckResult) -> bool {
    matches!(
        (result.check, result.state),
        (CheckId::Revocation, CheckState::NotChecked)
    )
}

pub(crate) fn decide(level: Level, checks: &[CheckResult]) -> Verdict {
    let grounds: Vec<Ground> = checks
        .iter()
        .filter(|r| r.state == CheckState::Failed)
        .map(failure_ground)
        .collect();
    if grounds.contains(&Ground::Proof) {
        return Verdict::Forged;
    }
    if grounds.contains(&Ground::Refusal) {
        return Verdict::Refused;
    }
    if grounds.contains(&Ground::NotEstablished) {
        return Verdict::Inconclusive;
    }
    let settled = |required: &CheckId| {
        checks
            .iter()
            .find(|r| r.check == *required)
            .is_some_and(|r| r.state == CheckState::Passed || may_be_absent(r))
    };
    if grounds.contains(&Ground::FieldDiffers) {
        // Only about data that was read and verified: every other check of the level settled.
        let verified = required_checks(level)
            .iter()
            .filter(|c| !is_addressee_check(**c))
            .all(settled);
        return if verified {
            Verdict::NotAddressee
        } else {
            Verdict::Inconclusive
        };
    }
    if required_checks(level).iter().all(settled) {
        Verdict::Genuine
    } else {
        Verdict::Inconclusive
    }
}

#[cfg(test)]
#[path = "verdict_rule.rs"]
mod verdict_rule;

#[cfg(test)]
mod tests {
    use super::*;

    fn all_passed(level: Level) -> Vec<CheckResult> {
        required_checks(level)
            .iter()
            .map(|c| CheckResult::passed(*c, Reason::Verified))
            .collect()
    }

    fn with(mut checks: Vec<CheckResult>, replacement: CheckResult) -> Vec<CheckResult> {
        for r in &mut checks {
            if r.check == replacement.check {
                *r = replacement.clone();
            }
        }
        checks
    }

    #[test]
    fn all_passed_is_genuine_at_every_level() {
        for level in [Level::A, Level::M, Level::B, Level::C] {
            assert_eq!(decide(level, &all_passed(level)), Verdict::Genuine);
        }
    }

    #[test]
    fn a_missing_required_check_is_never_genuine() {
        for level in [Level::A, Level::M, Level::B, Level::C] {
            for skip in required_checks(level) {
                let checks: Vec<_> = all_passed(level)
                    .into_iter()
                    .filter(|r| r.check != *skip)
                    .collect();
                assert_eq!(
                    decide(level, &checks),
                    Verdict::Inconclusive,
                    "{level:?} {skip:?}"
                );
            }
        }
    }

    #[test]
    fn revocation_not_checked_is_still_genuine_but_an_absent_live_chip_is_not() {
        let b = with(
            all_passed(Level::B),
            CheckResult::not_checked(CheckId::Revocation, Reason::NoRevocationList),
        );
        assert_eq!(decide(Level::B, &b), Verdict::Genuine);
        // Issue 17: a live-chip check reported absent no longer counts (level A downgrade).
        let a = with(
            all_passed(Level::A),
            CheckResult::not_present(CheckId::LiveChip, Reason::NotSupportedByCard),
        );
        assert_eq!(decide(Level::A, &a), Verdict::Inconclusive);
        let a = with(
            all_passed(Level::A),
            CheckResult::failed(CheckId::LiveChip, Reason::ChipRefusedChallenge, ""),
        );
        assert_eq!(decide(Level::A, &a), Verdict::Forged);
        // But a live-chip check that was possible and not run is not good enough.
        let a = with(
            all_passed(Level::A),
            CheckResult::not_checked(CheckId::LiveChip, Reason::Skipped),
        );
        assert_eq!(decide(Level::A, &a), Verdict::Inconclusive);
    }

    #[test]
    fn forgery_outranks_everything_else() {
        let checks = with(
            with(
                all_passed(Level::B),
                CheckResult::failed(CheckId::PinState, Reason::PinGuardRefused, ""),
            ),
            CheckResult::failed(CheckId::CertificateChain, Reason::SignatureInvalid, ""),
        );
        assert_eq!(decide(Level::B, &checks), Verdict::Forged);
    }

    #[test]
    fn classes_of_failure() {
        let cases = [
            (CheckId::PinState, Reason::WrongPin, Verdict::Refused),
            (
                CheckId::AddresseeMatch,
                Reason::NameMismatch,
                Verdict::NotAddressee,
            ),
            (
                CheckId::CertificateValidity,
                Reason::Expired,
                Verdict::Inconclusive,
            ),
            (CheckId::Revocation, Reason::Revoked, Verdict::Inconclusive),
            (
                CheckId::CardCommunication,
                Reason::CardRemoved,
                Verdict::Inconclusive,
            ),
            (
                CheckId::ChallengeSignature,
                Reason::SignatureInvalid,
                Verdict::Forged,
            ),
        ];
        for (check, reason, verdict) in cases {
            let checks = with(all_passed(Level::B), CheckResult::failed(check, reason, ""));
            assert_eq!(decide(Level::B, &checks), verdict, "{check:?}");
        }
        let a = with(
            all_passed(Level::A),
            CheckResult::failed(CheckId::FaceConfirmation, Reason::RejectedByCourier, ""),
        );
        assert_eq!(decide(Level::A, &a), Verdict::NotAddressee);
        let a = with(
            all_passed(Level::A),
            CheckResult::failed(CheckId::CardExpiry, Reason::CardExpired, ""),
        );
        assert_eq!(decide(Level::A, &a), Verdict::Inconclusive);
    }
}
