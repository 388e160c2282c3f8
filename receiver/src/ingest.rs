//! Ingest of one record: parse, check it comes from the authenticated device, re-verify it,
//! sign a receipt, store it — or return the receipt already given for it.
//!
//! A record whose device signature does not verify, or that another device sent, is refused and
//! not stored. Every other finding (a gap or fork in the device's chain, a certificate that does
//! not verify, a revoked card) is stored with the record and shown in its verification: flagged,
//! never hidden, and never a reason to lose evidence.

use honnin_core::record::{DeviceKey, SignedRecord};
use honnin_core::sync::protocol::{RECEIPT_FORMAT, ReceiptBody, SignedReceipt};
use honnin_core::verify::CheckState;
use honnin_core::verify::record::{RecordExpectation, verify_record};
use serde::Serialize;

use crate::storage::{NewRecord, StorageError};
use crate::{Receiver, now};

/// The receiver's answer for one record of a batch.
#[derive(Debug, Clone, Serialize)]
pub struct RecordResult {
    pub record_id: String,
    /// `accepted`, `duplicate` or `rejected`.
    pub status: &'static str,
    pub receipt: Option<serde_json::Value>,
    pub error: Option<String>,
}

impl RecordResult {
    fn rejected(record_id: String, error: impl Into<String>) -> Self {
        Self {
            record_id,
            status: "rejected",
            receipt: None,
            error: Some(error.into()),
        }
    }
}

/// Ingests one envelope sent by `device_id`.
pub fn ingest(
    receiver: &Receiver,
    device_id: &str,
    key: &DeviceKey,
    envelope: serde_json::Value,
) -> Result<RecordResult, StorageError> {
    let claimed_id = envelope["body"]["record_id"]
        .as_str()
        .map(|s| s.chars().take(64).collect())
        .unwrap_or_default();
    let record = match SignedRecord::from_value(envelope) {
        Ok(record) => record,
        Err(e) => return Ok(RecordResult::rejected(claimed_id, e.to_string())),
    };
    let body = record.body();
    let record_id = body.record_id().to_owned();
    if body.device_id() != device_id {
        return Ok(RecordResult::rejected(
            record_id,
            "the record was made by another device than the one sending it",
        ));
    }
    if let Some(held) = receiver.storage.held(&record_id)? {
        return Ok(if held.record_hash == record.hash_hex() {
            RecordResult {
                record_id,
                status: "duplicate",
                receipt: serde_json::from_str(&held.receipt).ok(),
                error: None,
            }
        } else {
            RecordResult::rejected(
                record_id,
                "another record with this id is held: record ids must be unique",
            )
        });
    }
    let previous = receiver.storage.device_head(device_id)?;
    let verification = verify_record(
        &record,
        &receiver.verifier,
        &RecordExpectation {
            device_key: key,
            item_id: None,
            sender_id: None,
            previous,
        },
    );
    if verification
        .check("device_signature")
        .is_some_and(|c| c.state != CheckState::Passed)
    {
        return Ok(RecordResult::rejected(
            record_id,
            "the record's device signature does not verify with the device's enrolled key",
        ));
    }
    let received_at = now();
    let receipt = SignedReceipt::sign(
        ReceiptBody {
            format: RECEIPT_FORMAT.to_owned(),
            record_id: record_id.clone(),
            record_hash: record.hash_hex(),
            device_id: device_id.to_owned(),
            seq: body.seq(),
            received_at,
            outcome: if verification.is_verified() {
                "verified".into()
            } else {
                "failed".into()
            },
        },
        &receiver.key,
        receiver.key.device_key(),
    )
    .map_err(|e| StorageError::Database {
        context: "signing a receipt",
        detail: e.to_string(),
    })?;
    let receipt_json = serde_json::to_string(&receipt).unwrap_or_default();
    let held = receiver.storage.insert(&NewRecord {
        record_id: record_id.clone(),
        record_hash: record.hash_hex(),
        device_id: device_id.to_owned(),
        seq: body.seq(),
        sender_id: body.sender_id().to_owned(),
        item_id: body.item_id().to_owned(),
        envelope: String::from_utf8_lossy(&record.to_envelope_bytes()).into_owned(),
        verification: serde_json::to_string(&verification).unwrap_or_default(),
        receipt: receipt_json.clone(),
        received_at,
    })?;
    // Another request stored it meanwhile: answer with the receipt that was kept.
    let status = if held.receipt == receipt_json {
        "accepted"
    } else {
        "duplicate"
    };
    Ok(RecordResult {
        record_id,
        status,
        receipt: serde_json::from_str(&held.receipt).ok(),
        error: None,
    })
}
