//! Known-answer tests: the worked example of ISO/IEC 18013-5:2021 Annex D, read by honnin's own
//! reader code.
//!
//! The software phone shares honnin's encoders, so a test between the two cannot show that both
//! read the standard the same wrong way. The Annex D session was made by someone else: its device
//! engagement, SessionTranscript, session establishment, encrypted DeviceResponse, document
//! signer and IACA certificates (`fixtures/mdoc/iso-18013-5-annex-d.txt`, which says where the
//! hex was transcribed from). Here honnin must decode every one of them, derive the example's
//! session keys from its ephemeral keys (its own encryptions must equal the example's bytes),
//! and verify the example mDL's issuer signature and element digests under the example IACA.

use ciborium::Value;
use p256::{PublicKey, SecretKey};
use sha2::{Digest, Sha256};

use super::anchors::IssuerAnchors;
use super::cbor;
use super::device_auth::verify_device_auth;
use super::engagement::{DeviceEngagement, cose_key_to_public, public_to_cose_key, qr_text};
use super::error::MdocError;
use super::issuer_auth::{verify_issuer_auth, verify_mso};
use super::request::ElementRequest;
use super::response::{DeviceAuth, parse_device_response};
use super::session::{
    ReaderSession, Role, SessionTranscript, derive, parse_establishment, parse_session_data,
};
use crate::verify::{CheckId, CheckState, Reason, UnixTime};

const FIXTURE: &str = include_str!("../../../fixtures/mdoc/iso-18013-5-annex-d.txt");
const MDL: &str = "org.iso.18013.5.1.mDL";
const MDL_NAMESPACE: &str = "org.iso.18013.5.1";
/// What the example reader asks for (D.4.1.1), in its order.
const ASKED: [&str; 6] = [
    "family_name",
    "document_number",
    "driving_privileges",
    "issue_date",
    "expiry_date",
    "portrait",
];

/// One `[name]` section of the fixture, decoded.
fn vector(name: &str) -> Vec<u8> {
    let mut found = None;
    let mut hex_text = String::new();
    for line in FIXTURE.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if found.is_some() {
                break;
            }
            if section == name {
                found = Some(());
            }
            continue;
        }
        if found.is_some() {
            hex_text.push_str(line);
        }
    }
    assert!(found.is_some(), "no [{name}] in the Annex D fixture");
    hex::decode(&hex_text).unwrap_or_else(|e| panic!("[{name}] is not hex: {e}"))
}

fn public(x: &str, y: &str) -> PublicKey {
    let mut point = vec![0x04];
    point.extend(vector(x));
    point.extend(vector(y));
    PublicKey::from_sec1_bytes(&point).expect("the example's keys are P-256 points")
}

fn secret(d: &str) -> SecretKey {
    SecretKey::from_slice(&vector(d)).expect("a P-256 scalar")
}

/// The example's SessionTranscript as honnin keeps it (the array, without the tag 24 wrapper).
fn transcript() -> SessionTranscript {
    let wrapped = cbor::decode(&vector("session_transcript_bytes"), "transcript").expect("CBOR");
    SessionTranscript::from_bytes(
        cbor::embedded(&wrapped, "transcript")
            .expect("tag 24")
            .to_vec(),
    )
}

/// The `data` of the example's SessionEstablishment and SessionData.
fn encrypted_request_and_response() -> (Vec<u8>, Vec<u8>) {
    let (_, _, request) = parse_establishment(&vector("session_establishment")).expect("parses");
    let (response, status) = parse_session_data(&vector("session_data")).expect("parses");
    assert_eq!(status, None);
    (request, response.expect("SessionData with data"))
}

/// 2020-12-01: inside the example MSO's and document signer's validity (2020-10-01 to 2021-10-01).
fn during_the_example() -> UnixTime {
    UnixTime::from_date(2020, 12, 1)
}

fn example_anchors() -> IssuerAnchors {
    IssuerAnchors::from_der(&[vector("iaca_cert")]).expect("the example IACA is an anchor")
}

#[test]
fn the_qr_engagement_gives_the_examples_device_key_and_only_ble() {
    let raw = vector("device_engagement");
    let engagement = DeviceEngagement::from_qr(&qr_text(&raw)).expect("D.3.1 parses");
    let device_key = public("ephemeral_device_key_x", "ephemeral_device_key_y");
    assert_eq!(engagement.e_device_key(), &device_key);
    assert_eq!(secret("ephemeral_device_key_d").public_key(), device_key);
    assert_eq!(engagement.raw(), raw.as_slice());
    // D.3.1 offers BLE central client mode only: honnin, NFC-only, must see no NFC transfer.
    assert_eq!(engagement.nfc(), None);
}

#[test]
fn the_session_transcript_encodes_the_examples_keys_byte_for_byte() {
    let transcript = transcript();
    // Wrapping it again gives the example's SessionTranscriptBytes, whose hash is the HKDF salt.
    let rewrapped = cbor::encode(&cbor::tagged(transcript.as_bytes().to_vec())).expect("encodes");
    assert_eq!(rewrapped, vector("session_transcript_bytes"));
    assert_eq!(
        transcript.salt().expect("salt"),
        <[u8; 32]>::from(Sha256::digest(&rewrapped))
    );
    let Value::Array(parts) = transcript.value().expect("an array") else {
        panic!("the transcript is not an array");
    };
    assert_eq!(parts.len(), 3);
    // EReaderKeyBytes: honnin's COSE_Key encoding of the example reader key is the example's.
    let reader_key = public("ephemeral_reader_key_x", "ephemeral_reader_key_y");
    let ours = cbor::encode(&public_to_cose_key(&reader_key)).expect("encodes");
    assert_eq!(
        cbor::embedded(&parts[1], "EReaderKeyBytes").ok(),
        Some(&ours[..])
    );
    // DeviceEngagementBytes (the NFC engagement of D.3.2) carries the same device key.
    let engagement = cbor::decode(
        cbor::embedded(&parts[0], "engagement").expect("tag 24"),
        "engagement",
    )
    .expect("CBOR");
    let security = cbor::array(
        cbor::get_int(cbor::map(&engagement, "e").expect("map"), 1).expect("security"),
        "s",
    )
    .expect("array");
    let key =
        cbor::decode(cbor::embedded(&security[1], "key").expect("tag 24"), "key").expect("CBOR");
    assert_eq!(
        cose_key_to_public(&key).expect("P-256"),
        public("ephemeral_device_key_x", "ephemeral_device_key_y")
    );
}

#[test]
fn the_session_keys_reproduce_the_examples_ciphertexts() {
    let transcript = transcript();
    let reader_key = secret("ephemeral_reader_key_d");
    let device_key = secret("ephemeral_device_key_d");
    let (encrypted_request, encrypted_response) = encrypted_request_and_response();
    let (sent_key, sent_key_bytes, _) =
        parse_establishment(&vector("session_establishment")).expect("parses");
    assert_eq!(sent_key, reader_key.public_key());
    assert_eq!(
        sent_key_bytes,
        cbor::encode(&public_to_cose_key(&reader_key.public_key())).expect("encodes")
    );

    // The mdoc's side: SKReader opens the request; SKDevice seals the response to the same bytes.
    let mut device = derive(
        &device_key,
        &reader_key.public_key(),
        &transcript,
        Role::Device,
    )
    .expect("derives");
    let request = device
        .open(&encrypted_request)
        .expect("SKReader, counter 1");
    assert_eq!(request.as_slice(), vector("device_request").as_slice());
    assert_eq!(
        device.seal(&vector("device_response")).expect("seals"),
        encrypted_response
    );

    // The reader's side, as honnin runs it.
    let mut reader = derive(
        &reader_key,
        &device_key.public_key(),
        &transcript,
        Role::Reader,
    )
    .expect("derives");
    assert_eq!(
        reader.seal(&vector("device_request")).expect("seals"),
        encrypted_request
    );
    let response = reader
        .open(&encrypted_response)
        .expect("SKDevice, counter 1");
    assert_eq!(response.as_slice(), vector("device_response").as_slice());
    assert_eq!(
        ReaderSession::termination().expect("encodes"),
        vector("session_termination")
    );

    // One bit changed, or the right bytes under another session's keys: rejected.
    let mut altered = encrypted_response.clone();
    altered[10] ^= 0x01;
    let mut reader = derive(
        &reader_key,
        &device_key.public_key(),
        &transcript,
        Role::Reader,
    )
    .expect("derives");
    assert_eq!(
        reader.open(&altered),
        Err(MdocError::SessionMessageRejected)
    );
    let other = SessionTranscript::from_bytes(vec![0x83, 0xF6, 0xF6, 0xF6]);
    let mut stranger =
        derive(&reader_key, &device_key.public_key(), &other, Role::Reader).expect("derives");
    assert_eq!(
        stranger.open(&encrypted_response),
        Err(MdocError::SessionMessageRejected)
    );
}

#[test]
fn the_examples_request_asks_for_six_mdl_elements() {
    let request = ElementRequest::parse_device_request(&vector("device_request")).expect("parses");
    assert_eq!(request.doc_type, MDL);
    assert_eq!(request.namespace, MDL_NAMESPACE);
    assert_eq!(request.elements, ASKED);
}

fn asked() -> ElementRequest {
    ElementRequest {
        doc_type: MDL.into(),
        namespace: MDL_NAMESPACE.into(),
        elements: ASKED.iter().map(|e| (*e).to_owned()).collect(),
    }
}

#[test]
fn the_example_mdl_verifies_under_the_example_iaca() {
    let document = parse_device_response(&vector("device_response")).expect("D.4.1.2 parses");
    assert_eq!(document.doc_type, MDL);
    assert_eq!(document.items.len(), 6);
    let family_name = document.items.iter().find(|i| i.element == "family_name");
    assert_eq!(
        family_name.and_then(|i| i.value.as_text()),
        Some("Doe"),
        "the example holder"
    );

    let mso = verify_mso(
        &document.issuer_auth,
        &example_anchors(),
        during_the_example(),
    );
    assert!(
        mso.results.iter().all(|r| r.state == CheckState::Passed),
        "{:#?}",
        mso.results
    );
    let mso = mso.verified.expect("the example MSO verifies");
    assert_eq!(mso.doc_type, MDL);
    assert_eq!(
        mso.device_key,
        public("static_device_key_x", "static_device_key_y")
    );
    // validFrom 2020-10-01T13:30:02Z.
    assert_eq!(
        mso.valid_from,
        UnixTime::from_date(2020, 10, 1).0 + 13 * 3600 + 30 * 60 + 2
    );
    for item in &document.items {
        assert_eq!(
            mso.digest(&item.namespace, item.digest_id),
            Some(<[u8; 32]>::from(Sha256::digest(&item.tagged_bytes))),
            "{item:?}"
        );
    }

    let outcome = verify_issuer_auth(
        &document,
        &asked(),
        &example_anchors(),
        during_the_example(),
    );
    assert!(outcome.verified.is_some());
    for check in [
        CheckId::MdocIssuerCertificate,
        CheckId::MdocIssuerSignature,
        CheckId::MdocDocType,
        CheckId::MdocValidity,
        CheckId::MdocElementDigests,
        CheckId::MdocElementsComplete,
    ] {
        let result = outcome.results.iter().find(|r| r.check == check);
        assert_eq!(
            result.map(|r| r.state),
            Some(CheckState::Passed),
            "{check:?}: {result:?}"
        );
    }
    // The example authenticates the device with a MAC, which honnin refuses (docs/mdoc.md).
    assert!(matches!(document.device_auth, DeviceAuth::Mac(_)));
    let transcript = transcript().value().expect("array");
    let device = verify_device_auth(
        &document.device_auth,
        &mso.device_key,
        &transcript,
        &document.doc_type,
        &document.device_namespaces,
    );
    assert_eq!(
        (device.state, device.reason),
        (CheckState::Failed, Reason::UnsupportedAlgorithm)
    );
}

#[test]
fn the_example_mdl_fails_each_rule_it_is_made_to_break() {
    let failed = |results: &[crate::verify::CheckResult], check| {
        results
            .iter()
            .find(|r| r.check == check && r.state == CheckState::Failed)
            .map(|r| r.reason)
    };
    let document = parse_device_response(&vector("device_response")).expect("parses");

    // Another issuer's anchors (honnin's test IACA): the example's signer chains to none.
    let stranger =
        IssuerAnchors::from_der(&[
            include_bytes!("../../../fixtures/pki/mdoc/mdoc-iaca.cert.der").to_vec(),
        ])
        .expect("the test IACA is an anchor");
    let outcome = verify_issuer_auth(&document, &asked(), &stranger, during_the_example());
    assert!(outcome.verified.is_none());
    assert_eq!(
        failed(&outcome.results, CheckId::MdocIssuerCertificate),
        Some(Reason::UnknownIssuer)
    );

    // After the document signer's certificate expired (2021-10-01).
    let late = verify_issuer_auth(
        &document,
        &asked(),
        &example_anchors(),
        UnixTime::from_date(2021, 12, 1),
    );
    assert_eq!(
        failed(&late.results, CheckId::MdocIssuerCertificate),
        Some(Reason::Expired)
    );

    // The holder's name changed after the issuer signed it.
    let mut bytes = vector("device_response");
    let at = bytes
        .windows(4)
        .position(|w| w == b"\x63Doe")
        .expect("the family name");
    bytes[at + 1] = b'R';
    let altered = parse_device_response(&bytes).expect("still CBOR");
    let outcome = verify_issuer_auth(&altered, &asked(), &example_anchors(), during_the_example());
    assert_eq!(
        failed(&outcome.results, CheckId::MdocElementDigests),
        Some(Reason::HashMismatch)
    );

    // A reader that asked for more than the example returned.
    let mut more = asked();
    more.elements.push("birth_date".into());
    let outcome = verify_issuer_auth(&document, &more, &example_anchors(), during_the_example());
    assert_eq!(
        failed(&outcome.results, CheckId::MdocElementsComplete),
        Some(Reason::ElementsMissing)
    );
}
