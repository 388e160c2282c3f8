//! The wire protocol between a device and the receiver, shared by both sides: how a batch
//! request is signed, and what a receipt says and how it is verified.
//!
//! - A batch is `POST /v1/batches` with the JSON body `{"records": [<envelope>, …]}` and the
//!   headers `x-honnin-device` (device id), `x-honnin-timestamp` (Unix seconds),
//!   `x-honnin-nonce` (32 hex digits, fresh per request) and `x-honnin-signature` (base64
//!   64-byte ECDSA P-256 `r ‖ s` by the device key over [`batch_message`]). The signature covers
//!   the body's SHA-256, so a body cannot be swapped under a valid header; the nonce makes a
//!   replayed request recognisable.
//! - A receipt is the receiver's ECDSA P-256 signature over the canonical JSON of a
//!   [`ReceiptBody`]. The device marks a record synced only after [`SignedReceipt::verify`]
//!   accepted a receipt naming that record's id and hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::canonical::to_canonical_bytes;
use crate::record::{DeviceKey, DeviceSigner, RecordError, hex_lower};

/// Domain tag of a batch request signature.
pub const BATCH_DOMAIN: &str = "honnin/batch/v1";
/// The value of `format` in every receipt of this version.
pub const RECEIPT_FORMAT: &str = "honnin.receipt.v1";

pub const HEADER_DEVICE: &str = "x-honnin-device";
pub const HEADER_TIMESTAMP: &str = "x-honnin-timestamp";
pub const HEADER_NONCE: &str = "x-honnin-nonce";
pub const HEADER_SIGNATURE: &str = "x-honnin-signature";
/// The app and version a device runs (e.g. `honnin-cli/0.4.0`), told with each signed
/// request so the operator sees which devices need an update; not covered by the signature,
/// and only ever shown, never trusted.
pub const HEADER_APP_VERSION: &str = "x-honnin-app-version";

/// What a device signs in place of a body when it asks for its manifest (`GET /v1/manifest`,
/// with the batch headers): binds the signed headers to that endpoint, so they cannot be used
/// for another.
pub const MANIFEST_REQUEST: &[u8] = b"GET /v1/manifest";

/// What a device signs in place of a body when it asks for the trust bundle
/// (`GET /v1/trust-bundle`, with the batch headers; see [`crate::trust_bundle`]).
pub const TRUST_BUNDLE_REQUEST: &[u8] = b"GET /v1/trust-bundle";

/// The bytes a device signs for a batch request.
pub fn batch_message(device_id: &str, timestamp: i64, nonce: &str, body: &[u8]) -> Vec<u8> {
    format!(
        "{BATCH_DOMAIN}\n{device_id}\n{timestamp}\n{nonce}\n{}",
        hex_lower(&Sha256::digest(body))
    )
    .into_bytes()
}

/// Signs a batch request with the device key: the `x-honnin-signature` value (base64 `r ‖ s`).
pub fn sign_batch(
    signer: &dyn DeviceSigner,
    key: &DeviceKey,
    device_id: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Result<String, RecordError> {
    let message = batch_message(device_id, timestamp, nonce, body);
    let returned = signer.sign(&message)?;
    let signature = key.accept_signature(&message, &returned)?;
    Ok(BASE64.encode(signature))
}

/// Whether `signature` (the header value) is `key`'s over the request.
pub fn verify_batch(
    key: &DeviceKey,
    device_id: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let Some(bytes) = BASE64
        .decode(signature.as_bytes())
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key.verifies(&batch_message(device_id, timestamp, nonce, body), &bytes)
}

/// What the receiver states about one record it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    pub format: String,
    pub record_id: String,
    /// SHA-256 of the record's canonical body, lowercase hex (the record's chain hash).
    pub record_hash: String,
    pub device_id: String,
    pub seq: u64,
    /// When the receiver first stored the record (Unix seconds).
    pub received_at: i64,
    /// `verified` or `failed`: the receiver's re-verification on ingest.
    pub outcome: String,
}

/// A receipt with the receiver's signature: `{"receipt": <body>, "signature": <base64 r‖s>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    pub receipt: ReceiptBody,
    pub signature: String,
}

/// Why a receipt is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    #[error("the receipt is not signed by the receiver's key")]
    BadSignature,
    #[error("the receipt is for another record than the one sent")]
    WrongRecord,
    #[error("the receipt has an unknown format")]
    UnknownFormat,
    #[error("the receipt cannot be encoded canonically")]
    NotCanonical,
}

impl SignedReceipt {
    /// Signs `receipt` with the receiver's key.
    pub fn sign(
        receipt: ReceiptBody,
        signer: &dyn DeviceSigner,
        key: &DeviceKey,
    ) -> Result<Self, RecordError> {
        let bytes = receipt_bytes(&receipt).map_err(|_| RecordError::Malformed {
            why: "the receipt cannot be encoded".into(),
        })?;
        let returned = signer.sign(&bytes)?;
        let signature = key.accept_signature(&bytes, &returned)?;
        Ok(Self {
            receipt,
            signature: BASE64.encode(signature),
        })
    }

    /// Checks the receiver's signature, and that the receipt names `record_id` with `hash`.
    pub fn verify(
        &self,
        receiver_key: &DeviceKey,
        record_id: &str,
        hash: &[u8; 32],
    ) -> Result<(), ReceiptError> {
        if self.receipt.format != RECEIPT_FORMAT {
            return Err(ReceiptError::UnknownFormat);
        }
        let bytes = receipt_bytes(&self.receipt).map_err(|_| ReceiptError::NotCanonical)?;
        let signature = BASE64
            .decode(self.signature.as_bytes())
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(ReceiptError::BadSignature)?;
        if !receiver_key.verifies(&bytes, &signature) {
            return Err(ReceiptError::BadSignature);
        }
        if self.receipt.record_id != record_id || self.receipt.record_hash != hex_lower(hash) {
            return Err(ReceiptError::WrongRecord);
        }
        Ok(())
    }
}

fn receipt_bytes(receipt: &ReceiptBody) -> Result<Vec<u8>, ()> {
    let value = serde_json::to_value(receipt).map_err(|_| ())?;
    to_canonical_bytes(&value).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SoftwareSigner;

    fn receipt() -> ReceiptBody {
        ReceiptBody {
            format: RECEIPT_FORMAT.into(),
            record_id: "00".repeat(16),
            record_hash: "11".repeat(32),
            device_id: "handheld-01".into(),
            seq: 1,
            received_at: 1_795_564_800,
            outcome: "verified".into(),
        }
    }

    #[test]
    fn receipts_verify_only_for_their_record_and_key() {
        let receiver = SoftwareSigner::from_secret_bytes(&[5; 32]).expect("key");
        let signed =
            SignedReceipt::sign(receipt(), &receiver, receiver.device_key()).expect("signs");
        let id = "00".repeat(16);
        assert_eq!(
            signed.verify(receiver.device_key(), &id, &[0x11; 32]),
            Ok(())
        );
        assert_eq!(
            signed.verify(receiver.device_key(), &id, &[0x12; 32]),
            Err(ReceiptError::WrongRecord)
        );
        let other = SoftwareSigner::from_secret_bytes(&[6; 32]).expect("key");
        assert_eq!(
            signed.verify(other.device_key(), &id, &[0x11; 32]),
            Err(ReceiptError::BadSignature)
        );
        let mut edited = signed.clone();
        edited.receipt.seq = 2;
        assert_eq!(
            edited.verify(receiver.device_key(), &id, &[0x11; 32]),
            Err(ReceiptError::BadSignature)
        );
    }

    #[test]
    fn batch_signatures_cover_the_body() {
        let device = SoftwareSigner::from_secret_bytes(&[7; 32]).expect("key");
        let key = device.device_key();
        let header = sign_batch(&device, key, "d", 10, "n", b"{}").expect("signs");
        assert!(verify_batch(key, "d", 10, "n", b"{}", &header));
        assert!(!verify_batch(key, "d", 10, "n", b"{ }", &header));
        assert!(!verify_batch(key, "d", 11, "n", b"{}", &header));
        assert!(!verify_batch(key, "d", 10, "n", b"{}", "junk"));
    }
}
