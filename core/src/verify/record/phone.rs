//! Level M (a phone): re-verification of the mdoc evidence a record keeps, from the record alone
//! and the verifier's own IACA anchors — the same core functions the door check ran:
//!
//! - `mdoc_issuer_certificate`: the document signer in the MSO's `x5chain`, by key to an anchor,
//!   at the record's time;
//! - `mdoc_issuer_signature`: the ES256 signature over the MSO;
//! - `mdoc_doc_type` and `mdoc_validity`: the MSO's document type is the recorded one, and the
//!   MSO was valid at the record's time;
//! - `mdoc_element_digests`: every recorded digest is the MSO's digest for that element, and every
//!   kept IssuerSignedItem hashes to its digest;
//! - `mdoc_device_authentication`: the phone's signature over DeviceAuthentication, rebuilt from
//!   the recorded SessionTranscript, document type and DeviceNameSpaces, verifies under the MSO's
//!   device key — so the record shows a phone holding the issuer-bound key took part.
//!
//! The portrait is never in the record; its digest is checked against the MSO like any other.
//! Limitation: the SessionTranscript binds the reader's ephemeral key, not the parcel; the item
//! is bound to the session by the device's signature over the record.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coset::{CborSerializable, CoseSign1};
use sha2::{Digest, Sha256};

use super::RecordCheck;
use super::evidence::Need;
use crate::check::Verifier;
use crate::mdoc::device_auth::verify_device_signature;
use crate::mdoc::issuer_auth::{tdate_of_mso, verify_mso};
use crate::record::{MdocEntry, SignedRecord};
use crate::verify::{CheckResult, CheckState, UnixTime};

/// What a level-M record must carry to be `verified`.
pub(super) const REQUIRED: &[(&str, Need)] = &[
    ("device_signature", Need::Passed),
    ("mdoc_issuer_certificate", Need::Passed),
    ("mdoc_issuer_signature", Need::Passed),
    ("mdoc_doc_type", Need::Passed),
    ("mdoc_validity", Need::Passed),
    ("mdoc_element_digests", Need::Passed),
    ("mdoc_device_authentication", Need::Passed),
];

fn decode(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text.as_bytes()).ok()
}

pub(super) fn level_m_checks(
    record: &SignedRecord,
    verifier: &Verifier,
    checks: &mut Vec<RecordCheck>,
) {
    let body = record.body();
    let Some(entry) = body.mdoc() else {
        checks.push(RecordCheck::new(
            "mdoc_issuer_certificate",
            CheckState::NotPresent,
            "no_mdoc_evidence",
            "the record keeps no phone evidence",
        ));
        return;
    };
    if verifier.mdoc_anchors.is_empty() {
        checks.push(RecordCheck::new(
            "mdoc_issuer_certificate",
            CheckState::NotChecked,
            "no_mdoc_anchors",
            "no mdoc issuer (IACA) anchor is configured for re-verification",
        ));
        return;
    }
    run(entry, verifier, body.time(), checks);
}

fn malformed(id: &str, what: &str, checks: &mut Vec<RecordCheck>) {
    checks.push(RecordCheck::new(
        id,
        CheckState::Failed,
        "malformed",
        format!("{what} is not what the phone sent (not base64 or not CBOR)"),
    ));
}

fn run(entry: &MdocEntry, verifier: &Verifier, at: UnixTime, checks: &mut Vec<RecordCheck>) {
    let Some(issuer_auth) = decode(&entry.issuer_auth) else {
        return malformed("mdoc_issuer_signature", "issuer_auth", checks);
    };
    let mso = verify_mso(&issuer_auth, &verifier.mdoc_anchors, at);
    for result in &mso.results {
        checks.push(RecordCheck::from_result(result));
    }
    let Some(mso) = mso.verified else {
        return;
    };
    checks.push(RecordCheck::from_result(
        &if mso.doc_type == entry.doc_type {
            CheckResult::passed(
                crate::verify::CheckId::MdocDocType,
                crate::verify::Reason::Verified,
            )
        } else {
            CheckResult::failed(
                crate::verify::CheckId::MdocDocType,
                crate::verify::Reason::DocTypeMismatch,
                "the record's document type is not the one the issuer signed",
            )
        },
    ));
    checks.push(RecordCheck::from_result(&tdate_of_mso(&mso, at)));
    // Digests: the recorded ones must be the MSO's, and kept items must hash to theirs.
    let mut digests_ok = Ok(());
    for element in &entry.elements {
        let signed = mso.digest(&element.namespace, element.digest_id);
        let recorded = crate::record::parse_hex::<32>(&element.digest);
        let kept = element.item.as_deref().map(decode);
        let item_ok = match kept {
            None => true,
            Some(Some(item)) => {
                recorded.is_some_and(|d| d == <[u8; 32]>::from(Sha256::digest(&item)))
            }
            Some(None) => false,
        };
        if recorded.is_none() || signed != recorded || !item_ok {
            digests_ok = Err(element.element.clone());
            break;
        }
    }
    checks.push(match digests_ok {
        Ok(()) => RecordCheck::new("mdoc_element_digests", CheckState::Passed, "verified", ""),
        Err(element) => RecordCheck::new(
            "mdoc_element_digests",
            CheckState::Failed,
            "hash_mismatch",
            format!("element {element} differs from what the issuer signed"),
        ),
    });
    let signature = entry
        .device_signature
        .as_deref()
        .and_then(decode)
        .and_then(|b| CoseSign1::from_slice(&b).ok());
    let transcript = decode(&entry.session_transcript)
        .and_then(|b| crate::mdoc::cbor::decode(&b, "SessionTranscript").ok());
    let namespaces = decode(&entry.device_namespaces);
    match (signature, transcript, namespaces) {
        (Some(signature), Some(transcript), Some(namespaces)) => {
            checks.push(RecordCheck::from_result(&verify_device_signature(
                &signature,
                &mso.device_key,
                &transcript,
                &entry.doc_type,
                &namespaces,
            )));
        }
        _ => malformed(
            "mdoc_device_authentication",
            "the device signature, SessionTranscript or DeviceNameSpaces",
            checks,
        ),
    }
}
