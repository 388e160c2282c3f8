//! mdoc authentication (ISO/IEC 18013-5 §9.1.3): the phone proves it holds the private key the
//! issuer bound the document to (the MSO's deviceKey), by signing DeviceAuthentication — a
//! structure that contains this session's SessionTranscript. An MSO copied onto another phone
//! verifies under the issuer, but the other phone cannot make this signature: a clone.
//!
//! The standard also allows a MAC (deviceMac, keyed by ECDH of the device key and the reader's
//! ephemeral key). honnin does not accept it: the sender must be able to re-verify the record,
//! and a MAC needs the reader's ephemeral private key, which is gone after the session. A phone
//! that only MACs is `inconclusive` with the reason, never `genuine`.

use ciborium::Value;
use coset::iana::Algorithm;
use coset::{CoseSign1, RegisteredLabelWithPrivate};
use p256::PublicKey;

use super::issuer_chain::verify_es256;
use super::response::{DeviceAuth, device_authentication_bytes};
use crate::verify::{CheckId, CheckResult, Reason};

/// Verifies the device signature over DeviceAuthentication for `transcript` and `doc_type`
/// with the MSO's `device_key`.
pub fn verify_device_signature(
    signature: &CoseSign1,
    device_key: &PublicKey,
    transcript: &Value,
    doc_type: &str,
    device_namespaces: &[u8],
) -> CheckResult {
    let id = CheckId::MdocDeviceAuthentication;
    if signature.protected.header.alg
        != Some(RegisteredLabelWithPrivate::Assigned(Algorithm::ES256))
    {
        return CheckResult::failed(
            id,
            Reason::UnsupportedAlgorithm,
            "device signature is not ES256",
        );
    }
    let payload = match device_authentication_bytes(transcript, doc_type, device_namespaces) {
        Ok(p) => p,
        Err(e) => return CheckResult::failed(id, Reason::CardDataMalformed, e.to_string()),
    };
    let verified = signature
        .verify_detached_signature(&payload, b"", |sig, data| {
            verify_es256(device_key, data, sig).then_some(()).ok_or(())
        })
        .is_ok();
    if verified {
        CheckResult::passed(id, Reason::Verified)
    } else {
        CheckResult::failed(
            id,
            Reason::DeviceSignatureInvalid,
            "the phone's signature over this session is not by the key the issuer bound to the document",
        )
    }
}

/// The device-authentication result for whatever the phone sent.
pub fn verify_device_auth(
    auth: &DeviceAuth,
    device_key: &PublicKey,
    transcript: &Value,
    doc_type: &str,
    device_namespaces: &[u8],
) -> CheckResult {
    match auth {
        DeviceAuth::Signature(signature) => verify_device_signature(
            signature,
            device_key,
            transcript,
            doc_type,
            device_namespaces,
        ),
        DeviceAuth::Mac(_) => CheckResult::failed(
            CheckId::MdocDeviceAuthentication,
            Reason::UnsupportedAlgorithm,
            "the phone authenticated with a MAC, which the sender could not re-verify; honnin needs a device signature",
        ),
    }
}
