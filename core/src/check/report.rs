//! The report of one door check: level, verdict, every check, and the evidence a record keeps.
//!
//! Only this module builds a report, and it builds the verdict from the checks itself, so a
//! "genuine" report without its passed checks cannot exist.

use serde::Serialize;

use super::verdict::{Level, Verdict, decide, required_checks};
use crate::card::CalendarDate;
use crate::card::Sex;
use crate::verify::challenge::ChallengeInputs;
use crate::verify::{CheckId, CheckResult, Reason};

/// What the card proved, kept for the proof record (see BRIEF.md "What each level proves"). Never
/// holds the face image, the Individual Number or its hash, or a PIN.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evidence {
    /// What the challenge binds; absent when the check stopped before a challenge was made.
    pub challenge: Option<ChallengeInputs>,
    /// The card's signature over the challenge (JPKI key at B/C, card-face key at A).
    #[serde(with = "hex_opt")]
    pub card_signature: Option<Vec<u8>>,
    /// End-entity certificate first, then the intermediates taken from the card (DER).
    #[serde(with = "hex_list")]
    pub certificates: Vec<Vec<u8>>,
    /// Level A: SHA-256 of the signed card-face bytes (`DF21`–`DF27` ‖ `DF29`); the bytes themselves hold
    /// the face photo and stay on the device.
    #[serde(with = "hex_opt")]
    pub card_face_signed_digest: Option<Vec<u8>>,
    /// Level A: the issuer signature `DF28`.
    #[serde(with = "hex_opt")]
    pub card_face_signature: Option<Vec<u8>>,
    /// The holder's attributes as verified (the record keeps what the sender's policy asks for).
    #[serde(skip)]
    pub attributes: Option<VerifiedAttributes>,
    /// Level M: what the phone's document and device signature need to be re-verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mdoc: Option<crate::mdoc::MdocEvidence>,
}

/// Attributes that passed their issuer's signature, with where they came from.
#[derive(Clone, Serialize)]
pub struct VerifiedAttributes {
    pub name: String,
    pub address: String,
    pub birth_date: CalendarDate,
    pub sex: Sex,
    /// `input_support` (B), `signing_certificate` (C) or `card_face` (A: birth date and sex
    /// only; name and address are images compared by eye).
    pub source: &'static str,
}

impl std::fmt::Debug for VerifiedAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifiedAttributes(from {}, redacted)", self.source)
    }
}

/// The outcome of a door check.
#[derive(Debug, Clone, Serialize)]
pub struct DoorCheckReport {
    level: Level,
    verdict: Verdict,
    checks: Vec<CheckResult>,
    #[serde(skip_serializing_if = "is_default_evidence")]
    evidence: Evidence,
}

fn is_default_evidence(e: &Evidence) -> bool {
    e.challenge.is_none()
        && e.certificates.is_empty()
        && e.card_face_signature.is_none()
        && e.mdoc.is_none()
}

impl DoorCheckReport {
    /// Completes the list (every check the level requires appears, "not checked" when the flow
    /// stopped before it) and derives the verdict.
    pub(crate) fn build(level: Level, mut checks: Vec<CheckResult>, evidence: Evidence) -> Self {
        for required in required_checks(level) {
            if !checks.iter().any(|r| r.check == *required) {
                checks.push(CheckResult::not_checked(*required, Reason::Skipped));
            }
        }
        let verdict = decide(level, &checks);
        Self {
            level,
            verdict,
            checks,
            evidence,
        }
    }

    pub fn level(&self) -> Level {
        self.level
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    pub fn checks(&self) -> &[CheckResult] {
        &self.checks
    }

    pub fn check(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|r| r.check == id)
    }

    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// The first failed check, which is what a courier is told first.
    pub fn first_failure(&self) -> Option<&CheckResult> {
        self.checks
            .iter()
            .find(|r| r.state == crate::verify::CheckState::Failed)
    }
}

mod hex_opt {
    pub fn serialize<S: serde::Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&super::to_hex(b)),
            None => s.serialize_none(),
        }
    }
}

mod hex_list {
    pub fn serialize<S: serde::Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|b| super::to_hex(b)))
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
