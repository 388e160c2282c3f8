//! Re-verification of a proof record, for whoever receives one (a sender's tool, an audit app):
//! the core's `verify_record` with the caller's own trust anchors and the device key the caller
//! learnt at enrolment, never the handheld's word.

use std::sync::Arc;

use honnin_core::check::{Level, Verdict};
use honnin_core::record::{DeviceKey, SignedRecord};
use honnin_core::verify::CheckState;
use honnin_core::verify::record::{
    RecordCheck as CoreCheck, RecordExpectation as CoreExpectation, TimeWindow,
    verify_record as core_verify,
};

use crate::check::Verifier;
use crate::error::HonninError;

/// What the verifier knows independently of the record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordExpectation {
    /// The device's public key (DER SubjectPublicKeyInfo) as the device enrolled it.
    pub device_public_key: Vec<u8>,
    /// The item the sender sent; `None` leaves `item_binding` not checked.
    #[uniffi(default = None)]
    pub item_id: Option<String>,
    /// The sender's own id.
    #[uniffi(default = None)]
    pub sender_id: Option<String>,
    /// The device's previous record, when the verifier has it: this one must follow it.
    #[uniffi(default = None)]
    pub previous: Option<ChainPosition>,
    /// The earliest time the record may claim (Unix seconds): the device's previous record's.
    #[uniffi(default = None)]
    pub not_before: Option<i64>,
    /// The latest time the record may claim: when it was received, plus the clock skew allowed.
    #[uniffi(default = None)]
    pub not_after: Option<i64>,
}

/// A record's place in its device's chain.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChainPosition {
    pub position: u64,
    /// SHA-256 of the record's canonical body (32 bytes).
    pub hash: Vec<u8>,
}

/// One check of a record: `device_signature`, `chain_link`, `item_binding`, `challenge_digest`,
/// `certificate_chain` … `certificate_policy`, `revocation`, `challenge_signature`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordCheck {
    pub check: String,
    pub state: CheckState,
    pub reason_code: String,
    /// In English; never personal data.
    pub detail: String,
}

impl From<&CoreCheck> for RecordCheck {
    fn from(c: &CoreCheck) -> Self {
        RecordCheck {
            check: c.check.clone(),
            state: c.state,
            reason_code: c.reason.clone(),
            detail: c.detail.clone(),
        }
    }
}

/// The result of [`verify_record`]. `verified` is true when no check failed; the recorded
/// verdict is what the door check showed (a record of a forged card can verify).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordVerification {
    /// The level's whole evidence is there and every check passed.
    pub verified: bool,
    /// When not verified and no check failed: the checks of the level's evidence that are
    /// missing, each with the state it must be in (e.g. `challenge_signature (must be passed,
    /// is not_present)`).
    pub missing: Vec<String>,
    pub record_id: String,
    pub position: u64,
    pub device_id: String,
    pub item_id: String,
    pub sender_id: String,
    pub level: Option<Level>,
    pub recorded_verdict: Option<Verdict>,
    pub checks: Vec<RecordCheck>,
}

/// A record's identity and place, read without verifying it (for building a
/// [`RecordExpectation::previous`], or an index).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordIdentity {
    pub record_id: String,
    pub device_id: String,
    /// SHA-256 of the device key the record names, hex.
    pub device_key_id: String,
    pub chain: ChainPosition,
}

/// The record in `json`: a record envelope (`{"body": …, "device_signature": …}`, what
/// `RecordStore.recordEnvelope` gives) or an entry of the receiver's feed (`{"record": …}`).
fn parse(json: &[u8]) -> Result<SignedRecord, HonninError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| HonninError::RecordMalformed {
            detail: format!("not JSON (line {}, column {})", e.line(), e.column()),
        })?;
    let envelope = match value.get_mut("record") {
        Some(record) => record.take(),
        None => value,
    };
    Ok(SignedRecord::from_value(envelope)?)
}

/// Reads a record's id and chain position (record envelope or feed entry) without verifying it.
#[uniffi::export]
pub fn record_identity(record: Vec<u8>) -> Result<RecordIdentity, HonninError> {
    let record = parse(&record)?;
    let body = record.body();
    Ok(RecordIdentity {
        record_id: body.record_id().to_owned(),
        device_id: body.device_id().to_owned(),
        device_key_id: body.device_key_id().to_owned(),
        chain: ChainPosition {
            position: body.seq(),
            hash: record.hash().to_vec(),
        },
    })
}

/// Re-verifies a record (envelope or feed entry, JSON bytes) with `verifier`'s trust anchors and
/// revocation lists: the device signature with the enrolled key, the chain link, the item
/// binding, the challenge recomputed from the record, the card's certificate path and its
/// signature over the challenge. Every check comes back with its state; a malformed record
/// throws `RecordMalformed`.
#[uniffi::export]
pub fn verify_record(
    record: Vec<u8>,
    verifier: Arc<Verifier>,
    expectation: RecordExpectation,
) -> Result<RecordVerification, HonninError> {
    let record = parse(&record)?;
    let key = DeviceKey::from_spki_der(&expectation.device_public_key).map_err(|_| {
        HonninError::invalid_argument("device_public_key is not a P-256 SubjectPublicKeyInfo")
    })?;
    let previous = match &expectation.previous {
        None => None,
        Some(p) => {
            let hash = <[u8; 32]>::try_from(p.hash.as_slice()).map_err(|_| {
                HonninError::invalid_argument("previous.hash must be 32 bytes (SHA-256)")
            })?;
            Some((p.position, hash))
        }
    };
    let result = core_verify(
        &record,
        verifier.core(),
        &CoreExpectation {
            device_key: &key,
            item_id: expectation.item_id.as_deref(),
            sender_id: expectation.sender_id.as_deref(),
            previous,
            time_window: TimeWindow {
                not_before: expectation.not_before,
                not_after: expectation.not_after,
            },
        },
    );
    Ok(RecordVerification {
        verified: result.is_verified(),
        missing: result.missing.clone(),
        record_id: result.record_id,
        position: result.seq,
        device_id: result.device_id,
        item_id: result.item_id,
        sender_id: result.sender_id,
        level: Some(result.level),
        recorded_verdict: Some(result.recorded_verdict),
        checks: result.checks.iter().map(RecordCheck::from).collect(),
    })
}
