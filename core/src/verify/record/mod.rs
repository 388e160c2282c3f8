//! Re-verification of a proof record by whoever receives it: the sender, or the receiver on
//! ingest. Nothing here trusts the handheld's word for what can be recomputed, and nothing the
//! handheld left out counts in its favour.
//!
//! From the record alone and the sender's own configuration (trust anchors, optionally CRLs),
//! [`verify_record`] checks:
//! - `device_signature`: the device's ECDSA P-256 signature over the canonical body, with the key
//!   the device enrolled (not a key the record names itself);
//! - `chain_link`: when the device's previous record is known, that this one follows it (next
//!   position, `prev_hash` equal to its hash);
//! - `check_time`: the record's claimed times lie inside the window the verifier knows
//!   independently (not before the device's previous record, not after the receipt plus the
//!   allowed clock skew), so a device cannot backdate a check to when an expired certificate
//!   was still valid;
//! - `item_binding`: the record is for the item and sender the verifier expects;
//! - `challenge_digest`: the challenge recomputed from the record's item, sender and device ids,
//!   time and nonce equals the digest the card signed, so the signature belongs to this parcel;
//! - `certificate_chain` … `certificate_policy`: the card's certificate path, validated again
//!   against the verifier's anchors at the time of the check;
//! - `revocation`: against the verifier's CRL when it has one, otherwise "not checked";
//! - `challenge_signature`: the card's RSA signature over the challenge, with the validated key;
//! - `attributes`: at level C, the holder attributes the record keeps, recomputed from the
//!   verified signing certificate.
//!
//! At level A the card signs with a key held inside the signed card-face data, which stays on the
//! device: that signature is reported "not checked" with the reason, never as passed.
//!
//! The outcome ([`RecordOutcome`]) is `failed` when any check failed; otherwise `verified` only
//! when every check the level's evidence consists of ([`evidence::required`]) is there as it
//! must be, and `unverified`, naming what is missing, when not. So a level-B record without its
//! certificates or its card signature is never `verified`. A record of a failed door check can
//! verify: verification says the evidence is authentic, the recorded verdict says what it showed.

mod card;
pub mod evidence;
mod phone;

use serde::Serialize;

use super::challenge::ChallengeInputs;
use super::{CheckResult, CheckState, UnixTime};
use crate::check::{Level, Verifier};
use crate::record::{DeviceKey, RecordError, SignedRecord, parse_hex};
pub use evidence::TimeWindow;

/// What the verifier knows independently of the record.
#[derive(Debug, Clone, Copy)]
pub struct RecordExpectation<'a> {
    /// The key the device enrolled with (from the receiver's enrolment, not from the record).
    pub device_key: &'a DeviceKey,
    /// The item the sender sent; `None` leaves `item_binding` not checked.
    pub item_id: Option<&'a str>,
    /// The sender's own id; `None` leaves it out of `item_binding`.
    pub sender_id: Option<&'a str>,
    /// The device's previous record `(seq, hash)`, when the verifier has it.
    pub previous: Option<(u64, [u8; 32])>,
    /// The times the record's own may lie between; [`TimeWindow::UNKNOWN`] leaves `check_time`
    /// not checked.
    pub time_window: TimeWindow,
}

/// One check of a record: id, state, reason code, detail (never personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordCheck {
    pub check: String,
    pub state: CheckState,
    pub reason: String,
    pub detail: String,
}

impl RecordCheck {
    fn new(check: &str, state: CheckState, reason: &str, detail: impl Into<String>) -> Self {
        Self {
            check: check.to_owned(),
            state,
            reason: reason.to_owned(),
            detail: detail.into(),
        }
    }

    fn from_result(result: &CheckResult) -> Self {
        let check = match serde_json::to_value(result.check) {
            Ok(serde_json::Value::String(code)) => code,
            _ => String::from("unknown"),
        };
        Self {
            check,
            state: result.state,
            reason: result.reason.code().to_owned(),
            detail: result.detail.clone(),
        }
    }
}

/// `failed` when a check failed; `unverified` when none failed but the level's evidence is not
/// all there ([`RecordVerification::missing`] says what); `verified` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordOutcome {
    Verified,
    Unverified,
    Failed,
}

impl RecordOutcome {
    pub fn code(self) -> &'static str {
        match self {
            RecordOutcome::Verified => "verified",
            RecordOutcome::Unverified => "unverified",
            RecordOutcome::Failed => "failed",
        }
    }
}

/// The result of [`verify_record`].
#[derive(Debug, Clone, Serialize)]
pub struct RecordVerification {
    pub format: &'static str,
    pub record_id: String,
    pub seq: u64,
    pub device_id: String,
    pub item_id: String,
    pub sender_id: String,
    pub level: Level,
    /// The verdict the device recorded (its word; the checks below say what was re-verified).
    pub recorded_verdict: crate::check::Verdict,
    pub outcome: RecordOutcome,
    pub checks: Vec<RecordCheck>,
    /// The checks of the level's evidence that are not in the state they must be in, with what
    /// each needed: empty when `verified`.
    pub missing: Vec<String>,
}

/// The value of `format` in a [`RecordVerification`]'s JSON.
pub const VERIFICATION_FORMAT: &str = "honnin.record-verification.v1";

impl RecordVerification {
    pub fn is_verified(&self) -> bool {
        self.outcome == RecordOutcome::Verified
    }

    pub fn check(&self, id: &str) -> Option<&RecordCheck> {
        self.checks.iter().find(|c| c.check == id)
    }

    /// Adds a check made outside the record (the receiver's `item_policy`), and settles the
    /// outcome again: a failed one fails the record.
    pub fn push_check(&mut self, check: RecordCheck) {
        self.checks.push(check);
        self.outcome = evidence::outcome(self.level, &self.checks, &mut self.missing);
    }
}

/// Re-verifies `record` with `verifier`'s anchors and CRLs, against what `expect` knows.
pub fn verify_record(
    record: &SignedRecord,
    verifier: &Verifier,
    expect: &RecordExpectation<'_>,
) -> RecordVerification {
    let body = record.body();
    let mut checks = vec![
        device_signature(record, expect.device_key),
        chain_link(record, expect.previous),
        evidence::check_time(body, expect.time_window),
        item_binding(record, expect),
    ];
    let challenge = challenge_inputs(record);
    checks.push(match &challenge {
        Ok(Some((_, true))) => {
            RecordCheck::new("challenge_digest", CheckState::Passed, "verified", "")
        }
        Ok(Some((_, false))) => RecordCheck::new(
            "challenge_digest",
            CheckState::Failed,
            "hash_mismatch",
            "the challenge recomputed from the record's item, sender, device, time and nonce is not the one recorded",
        ),
        Ok(None) => RecordCheck::new(
            "challenge_digest",
            CheckState::NotPresent,
            "no_challenge",
            "the door check stopped before a challenge was made",
        ),
        Err(why) => RecordCheck::new(
            "challenge_digest",
            CheckState::Failed,
            "malformed",
            why.clone(),
        ),
    });
    // What the card signed, when it is this parcel's challenge: the digest's preimage, so that
    // the signature is checked by a verifier that hashes for itself.
    let signed = match &challenge {
        Ok(Some((inputs, true))) => Some(inputs.preimage()),
        _ => None,
    };
    let at = body
        .challenge()
        .map(|c| UnixTime(c.time))
        .unwrap_or(body.time());
    match body.level() {
        Level::A => card::level_a_checks(record, &mut checks),
        Level::M => phone::level_m_checks(record, verifier, &mut checks),
        Level::B | Level::C => {
            card::jpki_checks(record, verifier, at, signed.as_deref(), &mut checks)
        }
    }
    let mut missing = Vec::new();
    let outcome = evidence::outcome(body.level(), &checks, &mut missing);
    RecordVerification {
        format: VERIFICATION_FORMAT,
        record_id: body.record_id().to_owned(),
        seq: body.seq(),
        device_id: body.device_id().to_owned(),
        item_id: body.item_id().to_owned(),
        sender_id: body.sender_id().to_owned(),
        level: body.level(),
        recorded_verdict: body.verdict(),
        outcome,
        checks,
        missing,
    }
}

fn device_signature(record: &SignedRecord, key: &DeviceKey) -> RecordCheck {
    let id = "device_signature";
    match record.verify(key) {
        Ok(()) => RecordCheck::new(id, CheckState::Passed, "verified", ""),
        Err(error @ RecordError::ForeignKey { .. }) => {
            RecordCheck::new(id, CheckState::Failed, "foreign_key", error.to_string())
        }
        Err(error) => RecordCheck::new(
            id,
            CheckState::Failed,
            "signature_invalid",
            error.to_string(),
        ),
    }
}

fn chain_link(record: &SignedRecord, previous: Option<(u64, [u8; 32])>) -> RecordCheck {
    let id = "chain_link";
    let link = record.link();
    let Some((seq, hash)) = previous else {
        if link.seq == 1 {
            return if link.prev_hash == [0u8; 32] {
                RecordCheck::new(
                    id,
                    CheckState::Passed,
                    "verified",
                    "the device's first record",
                )
            } else {
                RecordCheck::new(
                    id,
                    CheckState::Failed,
                    "broken_link",
                    "the first record names a previous record",
                )
            };
        }
        return RecordCheck::new(
            id,
            CheckState::NotChecked,
            "no_previous_record",
            "the device's previous record was not given",
        );
    };
    if link.seq != seq.saturating_add(1) {
        RecordCheck::new(
            id,
            CheckState::Failed,
            "not_next",
            format!(
                "the record is #{}, the previous record known is #{seq}: records between are missing or this one is out of place",
                link.seq
            ),
        )
    } else if link.prev_hash != hash {
        RecordCheck::new(
            id,
            CheckState::Failed,
            "broken_link",
            "prev_hash is not the hash of the previous record: the chain forks here",
        )
    } else {
        RecordCheck::new(id, CheckState::Passed, "verified", "")
    }
}

fn item_binding(record: &SignedRecord, expect: &RecordExpectation<'_>) -> RecordCheck {
    let id = "item_binding";
    let body = record.body();
    if expect.item_id.is_none() && expect.sender_id.is_none() {
        return RecordCheck::new(
            id,
            CheckState::NotChecked,
            "not_expected",
            "no item or sender was given to compare with",
        );
    }
    if let Some(item) = expect.item_id
        && item != body.item_id()
    {
        return RecordCheck::new(
            id,
            CheckState::Failed,
            "item_mismatch",
            "the record is for another item",
        );
    }
    if let Some(sender) = expect.sender_id
        && sender != body.sender_id()
    {
        return RecordCheck::new(
            id,
            CheckState::Failed,
            "sender_mismatch",
            "the record is for another sender",
        );
    }
    RecordCheck::new(id, CheckState::Passed, "verified", "")
}

/// The challenge rebuilt from the record's own fields, and whether its digest is the recorded one.
fn challenge_inputs(record: &SignedRecord) -> Result<Option<(ChallengeInputs, bool)>, String> {
    let body = record.body();
    let Some(entry) = body.challenge() else {
        return Ok(None);
    };
    let nonce = parse_hex::<32>(&entry.nonce)
        .ok_or_else(|| String::from("the challenge nonce is not 32 bytes in lowercase hex"))?;
    let recorded = parse_hex::<32>(&entry.digest)
        .ok_or_else(|| String::from("the challenge digest is not 32 bytes in lowercase hex"))?;
    let inputs = ChallengeInputs {
        item_id: body.item_id().to_owned(),
        sender_id: body.sender_id().to_owned(),
        device_id: body.device_id().to_owned(),
        time: UnixTime(entry.time),
        nonce,
    };
    let matches = inputs.digest() == recorded;
    Ok(Some((inputs, matches)))
}
